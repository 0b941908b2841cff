// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-tile-recurrence | FileCheck %s

// tmix-tile-recurrence writes each scheduled recurrence spec as its tile program, right
// after the spec, which stays (its step region is what stage_steps and finish_steps
// evaluate). The tile types name the schedule's chunk and the state's dims.

// GLA: a row gate (gate logs of [chunk, K]), one readout, a final state.
// CHECK-LABEL: tmix.recurrence @gla(
// CHECK: tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64>
// CHECK-NEXT: tmix_tile.chunk_loop
// CHECK-NEXT: ^bb0(%start: index, %length: index):
// CHECK-NEXT: tmix_tile.stage_steps %start, %length
// CHECK-NEXT: %[[LOGS:.*]] = tmix_tile.gate_logs "S" : <[chunk, K]>
// CHECK-NEXT: %[[A:.*]] = tmix_tile.chunk_scores "S" readout 0, %[[LOGS]] : <[chunk, K]> -> <[chunk, chunk]>
// CHECK-NEXT: %[[O:.*]] = tmix_tile.chunk_readout "S" readout 0, %[[A]], %[[LOGS]] : <[chunk, chunk]>, <[chunk, K]> -> <[chunk, V]>
// CHECK-NEXT: tmix_tile.state_update "S", %[[LOGS]] : <[chunk, K]>
// CHECK-NEXT: tmix_tile.finish_steps %start, %length, %[[O]] : !tmix_tile.tile<[chunk, V]>
// CHECK-NEXT: }
// CHECK-NEXT: }
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>, %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>} {
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


// -----

// DeltaNet: a scalar gate of 1 (gate logs of [chunk, 1]) and the WY solve, whose
// pseudo-values the readout and the update read.
// CHECK-LABEL: tmix_tile.recurrence @delta_net
// CHECK: %[[LOGS:.*]] = tmix_tile.gate_logs "S" : <[chunk, 1]>
// CHECK-NEXT: %[[W:.*]] = tmix_tile.delta_solve "S", %[[LOGS]] : <[chunk, 1]> -> <[chunk, 128]>
// CHECK-NEXT: %[[A:.*]] = tmix_tile.chunk_scores "S" readout 0, %[[LOGS]]
// CHECK-NEXT: %[[O:.*]] = tmix_tile.chunk_readout "S" readout 0, %[[A]], %[[LOGS]], %[[W]]
// CHECK-NEXT: tmix_tile.state_update "S", %[[LOGS]], %[[W]]
// CHECK-NEXT: tmix_tile.finish_steps %start, %length, %[[O]]
tmix.recurrence @delta_net(%q: !tmix.tensor<[B, H, T, 128], bf16>, %k: !tmix.tensor<[B, H, T, 128], bf16>, %v: !tmix.tensor<[B, H, T, 128], bf16>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 128], bf16>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 64>} {
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


// -----

// Step by step when the schedule says so; both loops under auto from a minimum T.
// CHECK-LABEL: tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "recurrent", chunk = 64>
// CHECK-NEXT: tmix_tile.step_loop
// CHECK-NEXT: }
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>, %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "recurrent", chunk = 64>} {
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


// -----

// CHECK-LABEL: tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "auto", chunk = 32, chunked_min_steps = 48>
// CHECK-NEXT: tmix_tile.chunk_loop
// CHECK: tmix_tile.finish_steps
// CHECK-NEXT: }
// CHECK-NEXT: tmix_tile.step_loop
// CHECK-NEXT: }
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>, %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 32, chunked_min_steps = 48>} {
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


// -----

// A vector state has no chunk form: step by step whatever the form.
// CHECK-LABEL: tmix_tile.recurrence @ema
// CHECK-NEXT: tmix_tile.step_loop
// CHECK-NEXT: }
tmix.recurrence @ema(%x: !tmix.tensor<[B, T, N], f32>, %a: f32 = 0.9) -> (y: !tmix.tensor<[B, T, N], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 64>} {
  tmix.state "h" : !tmix.tensor<[N], f32>
  tmix.step {
  ^bb0(%t: i64, %h: !tmix.tensor<[N], f32>):
    %x_t = tmix.slice %x[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %h2 = tmix.map %h, %x_t : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%p: f32, %q: f32):
      %m = arith.mulf %a, %p : f32
      %s = arith.addf %m, %q : f32
      tmix.yield %s : f32
    }
    tmix.yield %h2, %h2 : !tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>
  }
}

// -----

// expected-error @+1 {{'tmix.recurrence' op has no schedule: run tmix-schedule first}}
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


// -----

// expected-error @+1 {{'tmix.recurrence' op has a schedule that is not a #tmix.recurrence_schedule: #tmix.attention_schedule<block_m = 64, block_n = 64>}}
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>, %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64>} {
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

