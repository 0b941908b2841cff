// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-schedule --tmix-tile-recurrence --tmix-lower-recurrence-to-loops

// The chunked adjoint's marks (tmix-derive-recurrence-grad, ChunkForm.h) must fit the
// forward's chunk forms: IR written by hand that says otherwise is refused, not run.

// The forward's row gate is given by value (-g, not exp(g)): no chunked adjoint form.
tmix.recurrence @gla_like(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = arith.negf %x : f32
      tmix.yield %e : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %p = arith.mulf %x, %y : f32
      tmix.yield %p : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      tmix.yield %s : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
// expected-error @+1 {{is marked for a chunked adjoint, but its forward 'gla_like' has no chunked adjoint form}}
tmix.recurrence @gla_like_grad(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T, K], f32>) time "T" forward "gla_like" {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.map %1 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %20 : f32
    }
    %cst = arith.constant {tmix.chunk_adjoint} 1.000000e+00 : f32
    %16 = tmix.map %cst {tmix.chunk_adjoint} : (f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32):
      tmix.yield %arg0 : f32
    }
    %17 = tmix.matvec %15, %16 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %18 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %20 : f32
    }
    %19 = tmix.map %1, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = math.exp %arg0 : f32
      %21 = arith.mulf %arg1, %20 : f32
      tmix.yield %21 : f32
    }
    tmix.yield %18, %10, %13, %14, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[K], f32>
  }
}

// -----

// A seed names root 9 of the forward's 4.
tmix.recurrence @gla_like(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = math.exp %x : f32
      tmix.yield %e : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %p = arith.mulf %x, %y : f32
      tmix.yield %p : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      tmix.yield %s : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
tmix.recurrence @gla_like_grad(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T, K], f32>) time "T" forward "gla_like" {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.map %1 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    // expected-error @+1 {{names a chunk root or readout that the forward 'gla_like' does not have (4 roots, 1 readouts)}}
    %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 9>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %20 : f32
    }
    %cst = arith.constant {tmix.chunk_adjoint} 1.000000e+00 : f32
    %16 = tmix.map %cst {tmix.chunk_adjoint} : (f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32):
      tmix.yield %arg0 : f32
    }
    %17 = tmix.matvec %15, %16 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %18 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %20 : f32
    }
    %19 = tmix.map %1, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = math.exp %arg0 : f32
      %21 = arith.mulf %arg1, %20 : f32
      tmix.yield %21 : f32
    }
    tmix.yield %18, %10, %13, %14, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[K], f32>
  }
}
