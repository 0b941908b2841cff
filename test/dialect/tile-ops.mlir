// RUN: tmix-opt %s | tmix-opt | FileCheck %s
// RUN: tmix-opt %s --mlir-print-op-generic | tmix-opt | FileCheck %s

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
