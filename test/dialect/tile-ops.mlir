// RUN: tmix-opt %s -split-input-file | tmix-opt -split-input-file | FileCheck %s
// RUN: tmix-opt %s -split-input-file --mlir-print-op-generic | tmix-opt -split-input-file | FileCheck %s

// Round trip of every tmix_tile op and type: the program tmix-tile-attention writes
// for a GQA spec with a symbolic head dim and an lse output.

tmix.attention @gqa(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>,
                    %v: !tmix.tensor<[B, HK, M, 32], f32>)
    -> (o: !tmix.tensor<[B, H, N, 32], f32>, lse: !tmix.tensor<[B, H, N], f32>) {
}

// CHECK-LABEL: tmix_tile.attention @gqa schedule #tmix.attention_schedule<block_m = 64, block_n = 32, warps = 4, stages = 1> {
// CHECK-NEXT: ^bb0(%batch: index, %head: index, %row: index):
// CHECK-NEXT: %[[Q:.*]] = tmix_tile.load_query %batch, %head, %row : <[block_m, D]>
// CHECK-NEXT: %acc, %max, %sum = tmix_tile.softmax_init : <[block_m, 32]>, <[block_m]>
// CHECK-NEXT: %[[ACC:.*]], %[[MAX:.*]], %[[SUM:.*]] = tmix_tile.kv_loop %batch, %head, %row carry(%acc, %max, %sum) : <[block_m, 32]>, <[block_m]> {
// CHECK-NEXT: ^bb0(%key: index, %[[A:.*]]: !tmix_tile.tile<[block_m, 32]>, %[[M:.*]]: !tmix_tile.rows<[block_m]>, %[[L:.*]]: !tmix_tile.rows<[block_m]>):
// CHECK-NEXT: %keys, %values = tmix_tile.load_kv %batch, %head, %key : <[block_n, D]>, <[block_n, 32]>
// CHECK-NEXT: %[[S:.*]] = tmix_tile.dot %[[Q]], %keys {transpose_rhs} : <[block_m, D]>, <[block_n, D]> -> <[block_m, block_n]>
// CHECK-NEXT: %[[S2:.*]] = tmix_tile.score %[[S]] at(%batch, %head, %row, %key) : <[block_m, block_n]>
// CHECK-NEXT: %probabilities, %new_max, %new_sum, %rescale = tmix_tile.softmax_update %[[S2]], %[[M]], %[[L]] : <[block_m, block_n]>, <[block_m]>
// CHECK-NEXT: %[[R:.*]] = tmix_tile.rescale %[[A]], %rescale : <[block_m, 32]>, <[block_m]>
// CHECK-NEXT: %[[O:.*]] = tmix_tile.dot %probabilities, %values acc %[[R]] : <[block_m, block_n]>, <[block_n, 32]>, !tmix_tile.tile<[block_m, 32]> -> <[block_m, 32]>
// CHECK-NEXT: tmix_tile.yield %[[O]], %new_max, %new_sum : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
// CHECK-NEXT: }
// CHECK-NEXT: %output, %lse = tmix_tile.finalize %batch, %head, %[[ACC]], %[[MAX]], %[[SUM]] : <[block_m, 32]>, <[block_m]>
// CHECK-NEXT: tmix_tile.store %batch, %head, %row, %output, %lse : <[block_m, 32]>, !tmix_tile.rows<[block_m]>
tmix_tile.attention @gqa schedule #tmix.attention_schedule<block_m = 64, block_n = 32, warps = 4, stages = 1> {
^bb0(%batch: index, %head: index, %row: index):
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, D]>
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 32]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    %k, %v = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, D]>, !tmix_tile.tile<[block_n, 32]>
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, D]>, !tmix_tile.tile<[block_n, D]> -> !tmix_tile.tile<[block_m, block_n]>
    %s2 = tmix_tile.score %s at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>
    %p, %m2, %l2, %r = tmix_tile.softmax_update %s2, %m, %l : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %a1 = tmix_tile.rescale %a, %r : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>
    %a2 = tmix_tile.dot %p, %v acc %a1 : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 32]>, !tmix_tile.tile<[block_m, 32]> -> !tmix_tile.tile<[block_m, 32]>
    tmix_tile.yield %a2, %m2, %l2 : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>
  tmix_tile.store %batch, %head, %row, %o, %lse : !tmix_tile.tile<[block_m, 32]>, !tmix_tile.rows<[block_m]>
}

// The merge of two partial results (split-KV, ring attention).
// CHECK-LABEL: func.func @merge(
// CHECK: tmix_tile.merge %arg0, %arg1 with %arg2, %arg3 : <[block_m, 64]>, <[block_m]>
func.func @merge(%o1: !tmix_tile.tile<[block_m, 64]>, %l1: !tmix_tile.rows<[block_m]>,
                 %o2: !tmix_tile.tile<[block_m, 64]>, %l2: !tmix_tile.rows<[block_m]>) {
  %o, %lse = tmix_tile.merge %o1, %l1 with %o2, %l2 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  return
}

// -----

// A recurrence program: GLA's chunk loop (a row gate), then the step loop it takes
// below chunked_min_steps.
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>, %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}

// CHECK-LABEL: tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "auto", chunk = 32, chunked_min_steps = 48>
// CHECK-NEXT: tmix_tile.chunk_loop
// CHECK-NEXT: ^bb0(%start: index, %length: index):
// CHECK-NEXT: tmix_tile.stage_steps %start, %length
// CHECK-NEXT: %[[LOGS:.*]] = tmix_tile.gate_logs "S" : <[chunk, K]>
// CHECK-NEXT: %[[A:.*]] = tmix_tile.chunk_scores "S" readout 0, %[[LOGS]] : <[chunk, K]> -> <[chunk, chunk]>
// CHECK-NEXT: %[[O:.*]] = tmix_tile.chunk_readout "S" readout 0, %[[A]], %[[LOGS]] : <[chunk, chunk]>, <[chunk, K]> -> <[chunk, V]>
// CHECK-NEXT: tmix_tile.state_update "S", %[[LOGS]] : <[chunk, K]>
// CHECK-NEXT: tmix_tile.finish_steps %start, %length, %[[O]] : !tmix_tile.tile<[chunk, V]>
// CHECK-NEXT: }
// CHECK-NEXT: tmix_tile.step_loop
tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "auto", chunk = 32, chunked_min_steps = 48> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, K]>
    %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, K]> -> !tmix_tile.tile<[chunk, chunk]>
    %o = tmix_tile.chunk_readout "S" readout 0, %a, %logs : !tmix_tile.tile<[chunk, chunk]>, !tmix_tile.tile<[chunk, K]> -> !tmix_tile.tile<[chunk, V]>
    tmix_tile.state_update "S", %logs : !tmix_tile.tile<[chunk, K]>
    tmix_tile.finish_steps %start, %length, %o : !tmix_tile.tile<[chunk, V]>
  }
  tmix_tile.step_loop
}

// -----

// The delta rule's solve, whose pseudo-values the readout and the update read.
tmix.recurrence @delta_net(%q: !tmix.tensor<[B, H, T, 128], bf16>, %k: !tmix.tensor<[B, H, T, 128], bf16>, %v: !tmix.tensor<[B, H, T, 128], bf16>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 128], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[128, 128], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[128, 128], f32>):
    %0 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
    %4 = tmix.vecmat %3, %S : !tmix.tensor<[128], f32>, !tmix.tensor<[128, 128], f32> -> !tmix.tensor<[128], f32>
    %5 = tmix.map %2, %4 : (!tmix.tensor<[128], f32>, !tmix.tensor<[128], f32>) -> !tmix.tensor<[128], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.subf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %6 = tmix.outer %1, %5 : !tmix.tensor<[128], f32>, !tmix.tensor<[128], f32> -> !tmix.tensor<[128, 128], f32>
    %7 = tmix.map %0, %6 : (f32, !tmix.tensor<[128, 128], f32>) -> !tmix.tensor<[128, 128], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %8 = tmix.map %S, %7 : (!tmix.tensor<[128, 128], f32>, !tmix.tensor<[128, 128], f32>) -> !tmix.tensor<[128, 128], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.addf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %9 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
    %10 = tmix.vecmat %9, %8 : !tmix.tensor<[128], f32>, !tmix.tensor<[128, 128], f32> -> !tmix.tensor<[128], f32>
    tmix.yield %8, %10 : !tmix.tensor<[128, 128], f32>, !tmix.tensor<[128], f32>
  }
}

// CHECK-LABEL: tmix_tile.recurrence @delta_net
// CHECK: %[[W:.*]] = tmix_tile.delta_solve "S", %[[LOGS:.*]] : <[chunk, 1]> -> <[chunk, 128]>
// CHECK: tmix_tile.chunk_readout "S" readout 0, %{{.*}}, %[[LOGS]], %[[W]] : <[chunk, chunk]>, <[chunk, 1]>, !tmix_tile.tile<[chunk, 128]> -> <[chunk, 128]>
// CHECK: tmix_tile.state_update "S", %[[LOGS]], %[[W]] : <[chunk, 1]>, !tmix_tile.tile<[chunk, 128]>
tmix_tile.recurrence @delta_net schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 1]>
    %w = tmix_tile.delta_solve "S", %logs : !tmix_tile.tile<[chunk, 1]> -> !tmix_tile.tile<[chunk, 128]>
    %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, 1]> -> !tmix_tile.tile<[chunk, chunk]>
    %o = tmix_tile.chunk_readout "S" readout 0, %a, %logs, %w : !tmix_tile.tile<[chunk, chunk]>, !tmix_tile.tile<[chunk, 1]>, !tmix_tile.tile<[chunk, 128]> -> !tmix_tile.tile<[chunk, 128]>
    tmix_tile.state_update "S", %logs, %w : !tmix_tile.tile<[chunk, 1]>, !tmix_tile.tile<[chunk, 128]>
    tmix_tile.finish_steps %start, %length, %o : !tmix_tile.tile<[chunk, 128]>
  }
}
