// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-tile-attention | FileCheck %s

// tmix-tile-attention writes each scheduled attention spec as its tile program, right
// after the spec, which stays: it holds the statements (here mask and sink) that the
// tile ops apply. The schedule goes on the program; the tile types name block_m and
// block_n, not their values.

// CHECK-LABEL: tmix.attention @sinks(
// CHECK: tmix.mask
// CHECK: tmix.sink
// CHECK: tmix_tile.attention @sinks schedule #tmix.attention_schedule<block_m = 16, block_n = 32, lanes = 16, vector_registers = 32> {
// CHECK-NEXT: ^bb0(%batch: index, %head: index, %row: index):
// CHECK-NEXT: %[[Q:.*]] = tmix_tile.load_query %batch, %head, %row : <[block_m, D]>
// CHECK-NEXT: %acc, %max, %sum = tmix_tile.softmax_init : <[block_m, DV]>, <[block_m]>
// CHECK-NEXT: %[[ACC:.*]], %[[MAX:.*]], %[[SUM:.*]] = tmix_tile.kv_loop %batch, %head, %row carry(%acc, %max, %sum)
// CHECK: %keys, %values = tmix_tile.load_kv %batch, %head, %key : <[block_n, D]>, <[block_n, DV]>
// CHECK-NEXT: %[[S:.*]] = tmix_tile.dot %[[Q]], %keys {transpose_rhs} : <[block_m, D]>, <[block_n, D]> -> <[block_m, block_n]>
// CHECK-NEXT: %[[S2:.*]] = tmix_tile.score %[[S]] at(%batch, %head, %row, %key)
// CHECK-NEXT: %probabilities, %new_max, %new_sum, %rescale = tmix_tile.softmax_update %[[S2]]
// CHECK-NEXT: %[[R:.*]] = tmix_tile.rescale %{{.*}}, %rescale
// CHECK-NEXT: %[[O:.*]] = tmix_tile.dot %probabilities, %values acc %[[R]]
// CHECK-NEXT: tmix_tile.yield %[[O]], %new_max, %new_sum
// CHECK: %output, %lse = tmix_tile.finalize %batch, %head, %[[ACC]], %[[MAX]], %[[SUM]]
// CHECK-NEXT: tmix_tile.store %batch, %head, %row, %output, %lse
tmix.attention @sinks(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, M, D], f32>,
                      %v: !tmix.tensor<[B, H, M, DV], f32>, %s: !tmix.tensor<[H], f32>)
    -> (o: !tmix.tensor<[B, H, N, DV], f32>, lse: !tmix.tensor<[B, H, N], f32>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 16, block_n = 32, lanes = 16, vector_registers = 32>} {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %keep = arith.cmpi sle, %j, %i : i64
    tmix.yield %keep : i1
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %x = tmix.read %s[%h] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %x : f32
  }
}

// -----

// Without lse, the store has no lse operand (finalize's lse is unused).
// CHECK-LABEL: tmix_tile.attention @plain schedule
// CHECK: %output, %lse = tmix_tile.finalize
// CHECK-NEXT: tmix_tile.store %batch, %head, %row, %output : <[block_m, 64]>
tmix.attention @plain(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, M, 64], bf16>,
                      %v: !tmix.tensor<[B, H, M, 64], bf16>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>} {
}

// -----

// expected-error @+1 {{'tmix.attention' op has no schedule: run tmix-schedule first}}
tmix.attention @unscheduled(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                            %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}

// -----

// expected-error @+1 {{'tmix.attention' op has a schedule that is not a #tmix.attention_schedule: #tmix.recurrence_schedule<form = "chunked", chunk = 64>}}
tmix.attention @wrong_kind(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                           %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>} {
}
