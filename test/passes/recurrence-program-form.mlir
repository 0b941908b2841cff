// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-recurrence-to-loops -o /dev/null
// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-recurrence-to-nvgpu -o /dev/null

// passes/RecurrenceProgramForm.h: every target's lowering runs a recurrence program
// only in the form that tmix-tile-recurrence writes for its spec and schedule, and
// refuses any other with one error at the first op that differs (the CPU and the GPU
// kernel alike).

// The readouts never reach the steps that read them.
tmix.recurrence @lin(%q: !tmix.tensor<[B, T, 16], f32>, %k: !tmix.tensor<[B, T, 16], f32>, %v: !tmix.tensor<[B, T, 16], f32>, %g: !tmix.tensor<[B, T, 16], f32>) -> (o: !tmix.tensor<[B, T, 16], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[16, 16], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[16, 16], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[16], f32>) -> !tmix.tensor<[16], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[16], f32>, !tmix.tensor<[16], f32> -> !tmix.tensor<[16, 16], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[16, 16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32> -> !tmix.tensor<[16], f32>
    tmix.yield %6, %8 : !tmix.tensor<[16, 16], f32>, !tmix.tensor<[16], f32>
  }
}
tmix_tile.recurrence @lin schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 16]>
    %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, chunk]>
    %o = tmix_tile.chunk_readout "S" readout 0, %a, %logs : !tmix_tile.tile<[chunk, chunk]>, !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, 16]>
    tmix_tile.state_update "S", %logs : !tmix_tile.tile<[chunk, 16]>
    // expected-error @+1 {{'tmix_tile.finish_steps' op does not take the chunk's readouts, in the order of the states and their readouts: not the recurrence program that}}
    tmix_tile.finish_steps %start, %length
  }
}

// -----

// A scalar gate's logs for a state with a row gate.
tmix.recurrence @lin(%q: !tmix.tensor<[B, T, 16], f32>, %k: !tmix.tensor<[B, T, 16], f32>, %v: !tmix.tensor<[B, T, 16], f32>, %g: !tmix.tensor<[B, T, 16], f32>) -> (o: !tmix.tensor<[B, T, 16], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[16, 16], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[16, 16], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[16], f32>) -> !tmix.tensor<[16], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[16], f32>, !tmix.tensor<[16], f32> -> !tmix.tensor<[16, 16], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[16, 16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32> -> !tmix.tensor<[16], f32>
    tmix.yield %6, %8 : !tmix.tensor<[16, 16], f32>, !tmix.tensor<[16], f32>
  }
}
tmix_tile.recurrence @lin schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    // expected-error @+1 {{'tmix_tile.gate_logs' op has one column, but the state's gate is a row gate: one column per key row: not the recurrence program that}}
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 1]>
  }
}

// -----

// The state advanced before its readout read the chunk's start state.
tmix.recurrence @lin(%q: !tmix.tensor<[B, T, 16], f32>, %k: !tmix.tensor<[B, T, 16], f32>, %v: !tmix.tensor<[B, T, 16], f32>, %g: !tmix.tensor<[B, T, 16], f32>) -> (o: !tmix.tensor<[B, T, 16], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[16, 16], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[16, 16], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[16], f32>) -> !tmix.tensor<[16], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[16], f32>, !tmix.tensor<[16], f32> -> !tmix.tensor<[16, 16], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[16, 16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32> -> !tmix.tensor<[16], f32>
    tmix.yield %6, %8 : !tmix.tensor<[16, 16], f32>, !tmix.tensor<[16], f32>
  }
}
tmix_tile.recurrence @lin schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 16]>
    // expected-error @+1 {{'tmix_tile.state_update' op is where the program's tmix_tile.chunk_scores should be: not the recurrence program that}}
    tmix_tile.state_update "S", %logs : !tmix_tile.tile<[chunk, 16]>
    %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, chunk]>
    %o = tmix_tile.chunk_readout "S" readout 0, %a, %logs : !tmix_tile.tile<[chunk, chunk]>, !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, 16]>
    tmix_tile.finish_steps %start, %length, %o : !tmix_tile.tile<[chunk, 16]>
  }
}

// -----

// A solve for a state that is no delta rule.
tmix.recurrence @lin(%q: !tmix.tensor<[B, T, 16], f32>, %k: !tmix.tensor<[B, T, 16], f32>, %v: !tmix.tensor<[B, T, 16], f32>, %g: !tmix.tensor<[B, T, 16], f32>) -> (o: !tmix.tensor<[B, T, 16], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[16, 16], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[16, 16], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[16], f32>) -> !tmix.tensor<[16], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[16], f32>, !tmix.tensor<[16], f32> -> !tmix.tensor<[16, 16], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[16, 16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32> -> !tmix.tensor<[16], f32>
    tmix.yield %6, %8 : !tmix.tensor<[16, 16], f32>, !tmix.tensor<[16], f32>
  }
}
tmix_tile.recurrence @lin schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    tmix_tile.stage_steps %start, %length
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 16]>
    // expected-error @+1 {{'tmix_tile.delta_solve' op is where the program's tmix_tile.chunk_scores should be: not the recurrence program that}}
    %w = tmix_tile.delta_solve "S", %logs : !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, 16]>
    %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, chunk]>
    %o = tmix_tile.chunk_readout "S" readout 0, %a, %logs : !tmix_tile.tile<[chunk, chunk]>, !tmix_tile.tile<[chunk, 16]> -> !tmix_tile.tile<[chunk, 16]>
    tmix_tile.state_update "S", %logs : !tmix_tile.tile<[chunk, 16]>
    tmix_tile.finish_steps %start, %length, %o : !tmix_tile.tile<[chunk, 16]>
  }
}

// -----

// Step by step only, though the schedule runs the state chunked.
tmix.recurrence @lin(%q: !tmix.tensor<[B, T, 16], f32>, %k: !tmix.tensor<[B, T, 16], f32>, %v: !tmix.tensor<[B, T, 16], f32>, %g: !tmix.tensor<[B, T, 16], f32>) -> (o: !tmix.tensor<[B, T, 16], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[16, 16], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[16, 16], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[16], f32>) -> !tmix.tensor<[16], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[16], f32>, !tmix.tensor<[16], f32> -> !tmix.tensor<[16, 16], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[16, 16], f32>, !tmix.tensor<[16, 16], f32>) -> !tmix.tensor<[16, 16], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 16], f32> -> !tmix.tensor<[16], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[16], f32>, !tmix.tensor<[16, 16], f32> -> !tmix.tensor<[16], f32>
    tmix.yield %6, %8 : !tmix.tensor<[16, 16], f32>, !tmix.tensor<[16], f32>
  }
}
// expected-error @+1 {{'tmix_tile.recurrence' op has no chunk_loop, though states of its spec have a chunk form and its schedule runs them: not the recurrence program that}}
tmix_tile.recurrence @lin schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
  tmix_tile.step_loop
}
