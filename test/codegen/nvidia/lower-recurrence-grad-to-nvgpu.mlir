// RUN: tmix-opt %s --split-input-file --verify-diagnostics --tmix-schedule=target=sm_80 --tmix-tile-recurrence --tmix-lower-recurrence-grad-to-nvgpu | FileCheck %s --implicit-check-not="tmix.recurrence @gla_grad" --implicit-check-not="tmix.recurrence @sgla_grad" --implicit-check-not="tmix.recurrence @delta_grad" --implicit-check-not="tmix.recurrence @byvalue_grad" --implicit-check-not="tmix.recurrence @gated_grad" --implicit-check-not="tmix.recurrence @normaliser_grad"

// GLA's adjoint (a row gate exp(g), an initial and a final state) at K = V = 64: one
// kernel, the forward's grid (B, H, one block of 64 value columns), the workspace
// after the sizes (320 words per (b, h, t): the dQ, dK and dLG shares, dV, the start
// states), shared f32 buffers (LG, q, k, v, dO, S, dS, the pairs; the end terms, the
// running sums, the accumulators' rows and totals, the flag); the forward's chunks
// with each start state after the first into the workspace (f32 in the low half of
// an i64); the chunks from the last, each phase between barriers; the count (a fence,
// the point's atomic add, the flag) and the last CTA's sums. f32 loops only: no
// tensor cores, no float atomics.
// CHECK-LABEL: gpu.func @gla_grad(
// CHECK-SAME: %{{.*}}: memref<?xi64>, %[[WS:.*]]: memref<?xi64>) kernel
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 64:64], threads = 128, shared_bytes = 131848, workspace = 320 per [B, H, T]>
// CHECK-SAME: tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>
// CHECK: gpu.grid_dim x
// CHECK-COUNT-8: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.view
// The forward: the start state from h0, then per chunk its checkpoint, the gate logs
// (f64 sums), the decayed keys and values, the update.
// CHECK: memref.load %arg4
// CHECK: scf.for
// CHECK: arith.bitcast {{.*}} : f32 to i32
// CHECK: arith.extui {{.*}} : i32 to i64
// CHECK: memref.store {{.*}}, %[[WS]]
// CHECK: gpu.barrier
// CHECK: arith.addf {{.*}} : f64
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// The backward: the chunks from the last, a checkpoint read back.
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: memref.load %[[WS]]
// CHECK: arith.trunci {{.*}} : i64 to i32
// CHECK: arith.bitcast {{.*}} : i32 to f32
// CHECK-COUNT-6: gpu.barrier
// d_h0 from dS, this block's columns; then the count.
// CHECK: memref.store {{.*}}, %arg11
// CHECK: nvvm.memory.barrier <gpu>
// CHECK-NEXT: gpu.barrier
// CHECK: memref.atomic_rmw addi {{.*}}, %[[WS]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// The per-step gradients d_q, d_k, d_v, d_g, from the workspace.
// CHECK: memref.store {{.*}}, %arg7
// CHECK: memref.store {{.*}}, %arg8
// CHECK: memref.store {{.*}}, %arg9
// CHECK: memref.store {{.*}}, %arg10
// CHECK: gpu.return
// CHECK-NOT: nvvm.mma.sync
// CHECK-NOT: atomic_rmw addf
// The module's sum of shared gradients (a thread per element of the gradient, its
// terms in double), once.
// CHECK-LABEL: gpu.func @tmix_gradient_sum(
// CHECK-SAME: %[[PARTIAL:.*]]: memref<?xf32>, %[[GRADIENT:.*]]: memref<?xf32>, %[[PLAN:.*]]: memref<?xi64>) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: scf.for
// CHECK: arith.remui
// CHECK: scf.if
// CHECK: scf.for
// CHECK: memref.load %[[PARTIAL]]
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK: arith.addf {{.*}} : f64
// CHECK: arith.truncf {{.*}} : f64 to f32
// CHECK: memref.store {{.*}}, %[[GRADIENT]]
// CHECK-NOT: gpu.func @tmix_gradient_sum

module {
  tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T, 64], f32>, %h0: !tmix.tensor<[B, H, 64, 64], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>, ht: !tmix.tensor<[B, H, 64, 64], f32>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> init %h0 : !tmix.tensor<[B, H, 64, 64], f32> {tmix.update_class = "diagonal_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %1 = tmix.map %0 : (!tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        %9 = math.exp %arg0 : f32
        tmix.yield %9 : f32
      }
      %2 = tmix.map %1, %S : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %9 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %9 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.outer %3, %4 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %6 = tmix.map %2, %5 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %9 = arith.addf %arg0, %arg1 : f32
        tmix.yield %9 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %8 = tmix.vecmat %7, %6 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      tmix.yield %6, %8 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
    }
    tmix.final "ht" = "S"
  }
  tmix.recurrence @gla_grad(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T, 64], f32>, %h0: !tmix.tensor<[B, H, 64, 64], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>, %d_ht: !tmix.tensor<[B, H, 64, 64], f32>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_g: !tmix.tensor<[B, H, T, 64], f32>, d_h0: !tmix.tensor<[B, H, 64, 64], f32>) time "T" forward "gla" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32> init %d_ht : !tmix.tensor<[B, H, 64, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[64, 64], f32>
      %1 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %2 = tmix.map %1 {tmix.chunk_primal} : (!tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        %20 = math.exp %arg0 : f32
        tmix.yield %20 : f32
      }
      %3 = tmix.map %2, %0 {tmix.chunk_primal} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %20 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %20 : f32
      }
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %20 = arith.addf %arg0, %arg1 : f32
        tmix.yield %20 : f32
      }
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %20 = arith.addf %arg0, %arg1 : f32
        tmix.yield %20 : f32
      }
      %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %20 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %20 : f32
      }
      %cst = arith.constant {tmix.chunk_adjoint} 1.000000e+00 : f32
      %16 = tmix.map %cst {tmix.chunk_adjoint} : (f32) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        tmix.yield %arg0 : f32
      }
      %17 = tmix.matvec %15, %16 {tmix.chunk_adjoint} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %18 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %20 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %20 : f32
      }
      %19 = tmix.map %1, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %20 = math.exp %arg0 : f32
        %21 = arith.mulf %arg1, %20 : f32
        tmix.yield %21 : f32
      }
      tmix.yield %18, %10, %13, %14, %19 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
    }
    tmix.final "d_h0" = "d_S"
  }
}

// -----

// A scalar gate exp(g[t]) and a learnable scale at K = 128, V = 96: blocks of 32 value
// columns (3 CTAs per point), LG [64, 1], and d_scale, a scalar summed over the steps
// (an accumulator), written per (b, h) by the last CTA's thread 0.
// CHECK-LABEL: gpu.func @sgla_grad(
// CHECK-SAME: %arg4: f64
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 96:32], threads = 128, shared_bytes = {{[0-9]+}}, workspace = 1440 per [B, H, T]>
// CHECK: memref.view {{.*}} to memref<64x1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.atomic_rmw addi
// CHECK: arith.cmpi eq, %{{.*}}, %c2_i64 : i64
// CHECK: memref.store {{.*}}, %arg10
// CHECK: gpu.return

module {
  tmix.recurrence @sgla(%q: !tmix.tensor<[B, H, T, 128], bf16>, %k: !tmix.tensor<[B, H, T, 128], bf16>, %v: !tmix.tensor<[B, H, T, 96], bf16>, %g: !tmix.tensor<[B, H, T], f32>, %scale: f32) -> (o: !tmix.tensor<[B, H, T, 96], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[128, 96], f32> {tmix.update_class = "scalar_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[128, 96], f32>):
      %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %1 = math.exp %0 : f32
      %2 = tmix.map %1, %S : (f32, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %10 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %10 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 96], bf16> -> !tmix.tensor<[96], f32>
      %5 = tmix.outer %3, %4 : !tmix.tensor<[128], f32>, !tmix.tensor<[96], f32> -> !tmix.tensor<[128, 96], f32>
      %6 = tmix.map %2, %5 : (!tmix.tensor<[128, 96], f32>, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %10 = arith.addf %arg0, %arg1 : f32
        tmix.yield %10 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
      %8 = tmix.map %scale, %7 : (f32, !tmix.tensor<[128], f32>) -> !tmix.tensor<[128], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %10 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %10 : f32
      }
      %9 = tmix.vecmat %8, %6 : !tmix.tensor<[128], f32>, !tmix.tensor<[128, 96], f32> -> !tmix.tensor<[96], f32>
      tmix.yield %6, %9 : !tmix.tensor<[128, 96], f32>, !tmix.tensor<[96], f32>
    }
  }
  tmix.recurrence @sgla_grad(%q: !tmix.tensor<[B, H, T, 128], bf16>, %k: !tmix.tensor<[B, H, T, 128], bf16>, %v: !tmix.tensor<[B, H, T, 96], bf16>, %g: !tmix.tensor<[B, H, T], f32>, %scale: f32, %d_o: !tmix.tensor<[B, H, T, 96], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 128], f32>, d_k: !tmix.tensor<[B, H, T, 128], f32>, d_v: !tmix.tensor<[B, H, T, 96], f32>, d_g: !tmix.tensor<[B, H, T], f32>, d_scale: !tmix.tensor<[B, H], f32>) time "T" forward "sgla" {
    tmix.state "d_S" : !tmix.tensor<[128, 96], f32>
    tmix.state "d_scale" : f32
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[128, 96], f32>, %d_scale: f32):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[128, 96], f32>
      %1 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %2 = math.exp %1 {tmix.chunk_primal} : f32
      %3 = tmix.map %2, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %24 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %24 : f32
      }
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
      %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 96], bf16> -> !tmix.tensor<[96], f32>
      %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[128], f32>, !tmix.tensor<[96], f32> -> !tmix.tensor<[128, 96], f32>
      %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[128, 96], f32>, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %24 = arith.addf %arg0, %arg1 : f32
        tmix.yield %24 : f32
      }
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 128], bf16> -> !tmix.tensor<[128], f32>
      %9 = tmix.map %scale, %8 : (f32, !tmix.tensor<[128], f32>) -> !tmix.tensor<[128], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %24 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %24 : f32
      }
      %10 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, H, T, 96], bf16> -> !tmix.tensor<[96], f32>
      %11 = tmix.matvec %7, %10 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[128, 96], f32>, !tmix.tensor<[96], f32> -> !tmix.tensor<[128], f32>
      %12 = tmix.outer %9, %10 {tmix.chunk_adjoint} : !tmix.tensor<[128], f32>, !tmix.tensor<[96], f32> -> !tmix.tensor<[128, 96], f32>
      %13 = tmix.map %d_S, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[128, 96], f32>, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %24 = arith.addf %arg0, %arg1 : f32
        tmix.yield %24 : f32
      }
      %14 = tmix.matvec %13, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[128, 96], f32>, !tmix.tensor<[96], f32> -> !tmix.tensor<[128], f32>
      %15 = tmix.vecmat %4, %13 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[128], f32>, !tmix.tensor<[128, 96], f32> -> !tmix.tensor<[96], f32>
      %16 = tmix.map %2, %0, %13 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[128, 96], f32>, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %24 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %24 : f32
      }
      %17 = tmix.sum %16 {tmix.chunk_adjoint} : !tmix.tensor<[128, 96], f32> -> f32
      %18 = tmix.map %2, %0, %13 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[128, 96], f32>, !tmix.tensor<[128, 96], f32>) -> !tmix.tensor<[128, 96], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %24 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %24 : f32
      }
      %19 = arith.mulf %17, %2 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : f32
      %20 = tmix.map %scale, %8, %11 : (f32, !tmix.tensor<[128], f32>, !tmix.tensor<[128], f32>) -> !tmix.tensor<[128], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %24 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %24 : f32
      }
      %21 = tmix.sum %20 : !tmix.tensor<[128], f32> -> f32
      %22 = tmix.map %scale, %8, %11 : (f32, !tmix.tensor<[128], f32>, !tmix.tensor<[128], f32>) -> !tmix.tensor<[128], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %24 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %24 : f32
      }
      %23 = arith.addf %d_scale, %21 : f32
      tmix.yield %18, %23, %22, %14, %15, %19 : !tmix.tensor<[128, 96], f32>, f32, !tmix.tensor<[128], f32>, !tmix.tensor<[128], f32>, !tmix.tensor<[96], f32>, f32
    }
    tmix.final "d_scale" = "d_scale"
  }
}

// -----

// A delta rule (no gate) at K = V = 64: blocks of 32 value columns, five more shared
// buffers (b [64], W, P and dW / dR [64, 32], the WY system and its gradient E
// [64, 64]), a db share per (block, step) in the workspace (514 words per (b, h, t)).
// The forward substitution and, backwards, the back substitution: a thread per value
// column walking the 64 rows.
// CHECK-LABEL: gpu.func @delta_grad(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 64:32], threads = 128, shared_bytes = 140300, workspace = 514 per [B, H, T]>
// CHECK: memref.view {{.*}} to memref<64x1xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-4: memref.view {{.*}} to memref<64x32xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-3: memref.view {{.*}} to memref<64x32xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.view
// CHECK: scf.for %{{.*}} = %thread_id_x to %c32{{.*}} step %c128
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c1
// CHECK: memref.atomic_rmw addi
// CHECK: gpu.return
module {
  tmix.recurrence @delta(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "delta"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.vecmat %3, %S : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %5 = tmix.map %2, %4 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.subf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      %6 = tmix.outer %1, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %7 = tmix.map %0, %6 : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      %8 = tmix.map %S, %7 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.addf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      %9 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %10 = tmix.vecmat %9, %8 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      tmix.yield %8, %10 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
    }
  }
  tmix.recurrence @delta_grad(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %beta: !tmix.tensor<[B, H, T], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_beta: !tmix.tensor<[B, H, T], f32>) time "T" forward "delta" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[64, 64], f32>
      %1 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.vecmat %4, %0 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %6 = tmix.map %3, %5 {tmix.chunk_primal} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.subf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %7 = tmix.outer %2, %6 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %8 = tmix.map %1, %7 {tmix.chunk_primal} : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %9 = tmix.map %0, %8 {tmix.chunk_primal} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %10 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %11 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %12 = tmix.matvec %9, %11 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 4>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %13 = tmix.outer %10, %11 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %14 = tmix.map %d_S, %13 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %15 = tmix.map %1, %7, %14 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %25 : f32
      }
      %16 = tmix.sum %15 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[64, 64], f32> -> f32
      %17 = tmix.map %1, %7, %14 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %25 : f32
      }
      %18 = tmix.matvec %17, %6 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %19 = tmix.vecmat %2, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %20 = tmix.map %3, %5, %19 {tmix.chunk_adjoint} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.negf %arg2 : f32
        tmix.yield %25 : f32
      }
      %21 = tmix.matvec %0, %20 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %22 = tmix.outer %4, %20 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %23 = tmix.map %14, %22 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %24 = tmix.map %18, %21 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      tmix.yield %23, %12, %24, %19, %16 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, f32
    }
  }
}

// -----

// An output that reads the readout (r * sigmoid(r)): each block recomputes its columns
// of r per chunk, after the scores (r = A v + exp(LG) q S0), for dO, and keeps them in
// the workspace (64 more words per (b, h, t)) for the last CTA's gradients.
// CHECK-LABEL: gpu.func @gated_grad(
// CHECK-SAME: workspace = 384 per [B, H, T]>
// CHECK: gpu.return
module {
  tmix.recurrence @gated(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %1 = math.exp %0 : f32
      %2 = tmix.map %1, %S : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.outer %3, %4 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %6 = tmix.map %2, %5 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.addf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %8 = tmix.vecmat %7, %6 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %9 = tmix.map %8 : (!tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        %cst = arith.constant 1.000000e+00 : f32
        %11 = arith.negf %arg0 : f32
        %12 = math.exp %11 : f32
        %13 = arith.addf %cst, %12 : f32
        %14 = arith.divf %cst, %13 : f32
        tmix.yield %14 : f32
      }
      %10 = tmix.map %8, %9 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %11 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %11 : f32
      }
      tmix.yield %6, %10 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
    }
  }
  tmix.recurrence @gated_grad(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_g: !tmix.tensor<[B, H, T], f32>) time "T" forward "gated" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[64, 64], f32>
      %1 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %2 = math.exp %1 {tmix.chunk_primal} : f32
      %3 = tmix.map %2, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %9 = tmix.vecmat %8, %7 {tmix.chunk_primal, tmix.chunk_readout = 0 : i64} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %10 = tmix.map %9 : (!tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        %cst = arith.constant 1.000000e+00 : f32
        %25 = arith.negf %arg0 : f32
        %26 = math.exp %25 : f32
        %27 = arith.addf %cst, %26 : f32
        %28 = arith.divf %cst, %27 : f32
        tmix.yield %28 : f32
      }
      %11 = tmix.slice %d_o[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %12 = tmix.map %9, %10, %11 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %25 : f32
      }
      %13 = tmix.map %9, %10, %11 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %25 : f32
      }
      %14 = tmix.map %9, %13 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %cst = arith.constant 1.000000e+00 : f32
        %25 = arith.negf %arg0 : f32
        %26 = math.exp %25 : f32
        %27 = arith.addf %cst, %26 : f32
        %28 = arith.divf %cst, %27 : f32
        %29 = arith.mulf %arg1, %28 : f32
        %30 = arith.divf %29, %27 : f32
        %31 = arith.negf %30 : f32
        %cst_0 = arith.constant 0.000000e+00 : f32
        %32 = arith.cmpf oeq, %arg1, %cst_0 : f32
        %33 = arith.select %32, %cst_0, %31 : f32
        %34 = arith.mulf %33, %26 : f32
        %35 = arith.negf %34 : f32
        tmix.yield %35 : f32
      }
      %15 = tmix.map %12, %14 {tmix.chunk_readout_grads = array<i64: 0>} : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %16 = tmix.matvec %7, %15 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %17 = tmix.outer %8, %15 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %18 = tmix.map %d_S, %17 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %25 = arith.addf %arg0, %arg1 : f32
        tmix.yield %25 : f32
      }
      %19 = tmix.matvec %18, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %20 = tmix.vecmat %4, %18 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %21 = tmix.map %2, %0, %18 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %25 : f32
      }
      %22 = tmix.sum %21 {tmix.chunk_adjoint} : !tmix.tensor<[64, 64], f32> -> f32
      %23 = tmix.map %2, %0, %18 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %25 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %25 : f32
      }
      %24 = arith.mulf %22, %2 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : f32
      tmix.yield %23, %16, %19, %20, %24 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, f32
    }
  }
}

// -----

// K = 256: the backward's f32 buffers exceed sm_80's shared memory.
module {
  tmix.recurrence @big(%q: !tmix.tensor<[B, H, T, 256], bf16>, %k: !tmix.tensor<[B, H, T, 256], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[256, 64], f32> {tmix.update_class = "scalar_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[256, 64], f32>):
      %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %1 = math.exp %0 : f32
      %2 = tmix.map %1, %S : (f32, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %9 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %9 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 256], bf16> -> !tmix.tensor<[256], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.outer %3, %4 : !tmix.tensor<[256], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[256, 64], f32>
      %6 = tmix.map %2, %5 : (!tmix.tensor<[256, 64], f32>, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %9 = arith.addf %arg0, %arg1 : f32
        tmix.yield %9 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 256], bf16> -> !tmix.tensor<[256], f32>
      %8 = tmix.vecmat %7, %6 : !tmix.tensor<[256], f32>, !tmix.tensor<[256, 64], f32> -> !tmix.tensor<[64], f32>
      tmix.yield %6, %8 : !tmix.tensor<[256, 64], f32>, !tmix.tensor<[64], f32>
    }
  }
  // expected-error @below {{the GPU backward needs 189964 bytes of shared memory for a state [256, 64] (value blocks of 16), more than sm_80's 166912}}
  tmix.recurrence @big_grad(%q: !tmix.tensor<[B, H, T, 256], bf16>, %k: !tmix.tensor<[B, H, T, 256], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %g: !tmix.tensor<[B, H, T], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 256], f32>, d_k: !tmix.tensor<[B, H, T, 256], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_g: !tmix.tensor<[B, H, T], f32>) time "T" forward "big" {
    tmix.state "d_S" : !tmix.tensor<[256, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[256, 64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[256, 64], f32>
      %1 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %2 = math.exp %1 {tmix.chunk_primal} : f32
      %3 = tmix.map %2, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %19 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %19 : f32
      }
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 256], bf16> -> !tmix.tensor<[256], f32>
      %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[256], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[256, 64], f32>
      %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[256, 64], f32>, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %19 = arith.addf %arg0, %arg1 : f32
        tmix.yield %19 : f32
      }
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 256], bf16> -> !tmix.tensor<[256], f32>
      %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[256, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[256], f32>
      %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[256], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[256, 64], f32>
      %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[256, 64], f32>, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %19 = arith.addf %arg0, %arg1 : f32
        tmix.yield %19 : f32
      }
      %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[256, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[256], f32>
      %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[256], f32>, !tmix.tensor<[256, 64], f32> -> !tmix.tensor<[64], f32>
      %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[256, 64], f32>, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %19 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %19 : f32
      }
      %16 = tmix.sum %15 {tmix.chunk_adjoint} : !tmix.tensor<[256, 64], f32> -> f32
      %17 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[256, 64], f32>, !tmix.tensor<[256, 64], f32>) -> !tmix.tensor<[256, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %19 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %19 : f32
      }
      %18 = arith.mulf %16, %2 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : f32
      tmix.yield %17, %10, %13, %14, %18 : !tmix.tensor<[256, 64], f32>, !tmix.tensor<[256], f32>, !tmix.tensor<[256], f32>, !tmix.tensor<[64], f32>, f32
    }
  }
}

// -----

// A gate given by value (gamma[t] * S, of either sign): the signs of Γ [64, 1] beside
// LG, and for each step's gate log gradient g_t (from terms that carry G_t) the scores'
// dot products [64, 64], the rows' and the states' terms [64] and the end's [1].
// CHECK-LABEL: gpu.func @byvalue_grad(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 64:64], threads = 128, shared_bytes = 132624, workspace = 320 per [B, H, T]>
// CHECK: memref.view {{.*}} to memref<64x1xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-7: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<1xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.view
// CHECK: gpu.return
module {
  tmix.recurrence @byvalue(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %gamma: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.slice %gamma[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %1 = tmix.map %0, %S : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %8 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %8 : f32
      }
      %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.outer %2, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %5 = tmix.map %1, %4 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %8 = arith.addf %arg0, %arg1 : f32
        tmix.yield %8 : f32
      }
      %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %7 = tmix.vecmat %6, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      tmix.yield %5, %7 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
    }
  }
  tmix.recurrence @byvalue_grad(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %gamma: !tmix.tensor<[B, H, T], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_gamma: !tmix.tensor<[B, H, T], f32>) time "T" forward "byvalue" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[64, 64], f32>
      %1 = tmix.slice %gamma[%t] : !tmix.tensor<[B, H, T], f32> -> f32
      %2 = tmix.map %1, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %17 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %17 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.outer %3, %4 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %6 = tmix.map %2, %5 {tmix.chunk_primal} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %17 = arith.addf %arg0, %arg1 : f32
        tmix.yield %17 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %8 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %9 = tmix.matvec %6, %8 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %10 = tmix.outer %7, %8 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %11 = tmix.map %d_S, %10 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %17 = arith.addf %arg0, %arg1 : f32
        tmix.yield %17 : f32
      }
      %12 = tmix.matvec %11, %4 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %13 = tmix.vecmat %3, %11 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %14 = tmix.map %1, %0, %11 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %17 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %17 : f32
      }
      %15 = tmix.sum %14 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : !tmix.tensor<[64, 64], f32> -> f32
      %16 = tmix.map %1, %0, %11 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %17 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %17 : f32
      }
      tmix.yield %16, %9, %12, %13, %15 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, f32
    }
  }
}

// -----

// A row gate given by value: not yet (g_t per key column).
module {
  tmix.recurrence @rowvalue(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %a: !tmix.tensor<[B, H, T, 64], f32>) -> (o: !tmix.tensor<[B, H, T, 64], bf16>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "diagonal_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %1 = tmix.map %0, %S : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %8 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %8 : f32
      }
      %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.outer %2, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %5 = tmix.map %1, %4 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %8 = arith.addf %arg0, %arg1 : f32
        tmix.yield %8 : f32
      }
      %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %7 = tmix.vecmat %6, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      tmix.yield %5, %7 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
    }
  }
  // expected-error @below {{with a row gate given by value, it runs on the CPU only so far}}
  tmix.recurrence @rowvalue_grad(%q: !tmix.tensor<[B, H, T, 64], bf16>, %k: !tmix.tensor<[B, H, T, 64], bf16>, %v: !tmix.tensor<[B, H, T, 64], bf16>, %a: !tmix.tensor<[B, H, T, 64], f32>, %d_o: !tmix.tensor<[B, H, T, 64], bf16>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>, d_a: !tmix.tensor<[B, H, T, 64], f32>) time "T" forward "rowvalue" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>):
      %0 = tmix.forward_state "S" : !tmix.tensor<[64, 64], f32>
      %1 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %2 = tmix.map %1, %0 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %18 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %18 : f32
      }
      %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %5 = tmix.outer %3, %4 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %6 = tmix.map %2, %5 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %18 = arith.addf %arg0, %arg1 : f32
        tmix.yield %18 : f32
      }
      %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %8 = tmix.slice %d_o[%t] : !tmix.tensor<[B, H, T, 64], bf16> -> !tmix.tensor<[64], f32>
      %9 = tmix.matvec %6, %8 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %10 = tmix.outer %7, %8 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %11 = tmix.map %d_S, %10 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %18 = arith.addf %arg0, %arg1 : f32
        tmix.yield %18 : f32
      }
      %12 = tmix.matvec %11, %4 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %13 = tmix.vecmat %3, %11 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %14 = tmix.map %1, %0, %11 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %18 = arith.mulf %arg2, %arg1 : f32
        tmix.yield %18 : f32
      }
      %cst = arith.constant 1.000000e+00 : f32
      %15 = tmix.map %cst : (f32) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32):
        tmix.yield %arg0 : f32
      }
      %16 = tmix.matvec %14, %15 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %17 = tmix.map %1, %0, %11 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %18 = arith.mulf %arg2, %arg0 : f32
        tmix.yield %18 : f32
      }
      tmix.yield %17, %9, %12, %13, %16 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
    }
  }
}

// -----

// A vector state beside the matrix state (linear attention's normaliser z, read by the
// output through a dot; the derivation's marks as tmix-derive-recurrence-grad writes
// them): the workspace adds this block's checkpoint of z per chunk (385 = 384 + 64 / 64
// words per step); shared memory adds z's history [C + 1, 64] and the dots [1, C]
// after the other views, and the last CTA's history of d_z lies over the buffers only
// the chunks' products read (v, dO, S, dS, the pairs: from byte 33024, after LG, q and
// k). Each phase scans z over the chunk from its checkpoint (f32 words in the low
// half), then the dots; the last CTA scans d_z from the last row.
// CHECK-LABEL: gpu.func @normaliser_grad(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 64:64], threads = 128, shared_bytes = 132364, workspace = 385 per [B, H, T]>
// CHECK: %[[SHARED:.*]] = gpu.dynamic_shared_memory
// CHECK-COUNT-8: memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64x{{1|64}}xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view %[[SHARED]][%c115468][] : {{.*}} to memref<65x64xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: arith.constant 132108
// CHECK-NEXT: memref.view %[[SHARED]][%c132108][] : {{.*}} to memref<1x64xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: arith.constant 33024
// CHECK-NEXT: memref.view %[[SHARED]][%c33024{{.*}}][] : {{.*}} to memref<65x64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.view
// CHECK: gpu.return
module {
  tmix.recurrence @normaliser(%q: !tmix.tensor<[B, H, T, 64], f32>, %k: !tmix.tensor<[B, H, T, 64], f32>, %v: !tmix.tensor<[B, H, T, 64], f32>) -> (o: !tmix.tensor<[B, H, T, 64], f32>) time "T" {
    tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
    tmix.state "z" : !tmix.tensor<[64], f32> {tmix.update_class = "scalar_decay"}
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %z: !tmix.tensor<[64], f32>):
      %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %12 = arith.addf %arg0, %arg1 : f32
        tmix.yield %12 : f32
      }
      %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %5 = tmix.map %z, %4 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %12 = arith.addf %arg0, %arg1 : f32
        tmix.yield %12 : f32
      }
      %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %7 = tmix.vecmat %6, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %9 = tmix.dot %8, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> f32
      %cst = arith.constant 1.000000e+00 : f32
      %10 = arith.addf %9, %cst : f32
      %11 = tmix.map %7, %10 : (!tmix.tensor<[64], f32>, f32) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %12 = arith.divf %arg0, %arg1 : f32
        tmix.yield %12 : f32
      }
      tmix.yield %3, %5, %11 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
    }
  }
  tmix.recurrence @normaliser_grad(%q: !tmix.tensor<[B, H, T, 64], f32>, %k: !tmix.tensor<[B, H, T, 64], f32>, %v: !tmix.tensor<[B, H, T, 64], f32>, %d_o: !tmix.tensor<[B, H, T, 64], f32>) -> (d_q: !tmix.tensor<[B, H, T, 64], f32>, d_k: !tmix.tensor<[B, H, T, 64], f32>, d_v: !tmix.tensor<[B, H, T, 64], f32>) time "T" forward "normaliser" {
    tmix.state "d_S" : !tmix.tensor<[64, 64], f32>
    tmix.state "d_z" : !tmix.tensor<[64], f32>
    tmix.step {
    ^bb0(%t: i64, %d_S: !tmix.tensor<[64, 64], f32>, %d_z: !tmix.tensor<[64], f32>):
      %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[64, 64], f32>
      %1 = tmix.forward_state "z" : !tmix.tensor<[64], f32>
      %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %4 = tmix.outer %2, %3 {tmix.chunk_primal} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %5 = tmix.map %0, %4 {tmix.chunk_primal} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %6 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %7 = tmix.map %1, %6 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %9 = tmix.vecmat %8, %5 {tmix.chunk_primal, tmix.chunk_readout = 0 : i64} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %10 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %11 = tmix.dot %10, %7 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> f32
      %cst = arith.constant 1.000000e+00 : f32
      %12 = arith.addf %11, %cst : f32
      %13 = tmix.slice %d_o[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
      %14 = tmix.map %9, %12, %13 {tmix.chunk_readout_grads = array<i64: 0>} : (!tmix.tensor<[64], f32>, f32, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %27 = arith.divf %arg2, %arg1 : f32
        %cst_0 = arith.constant 0.000000e+00 : f32
        %28 = arith.cmpf oeq, %arg2, %cst_0 : f32
        %29 = arith.select %28, %cst_0, %27 : f32
        tmix.yield %29 : f32
      }
      %15 = tmix.map %9, %12, %13 : (!tmix.tensor<[64], f32>, f32, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
        %27 = arith.divf %arg0, %arg1 : f32
        %28 = arith.mulf %arg2, %27 : f32
        %29 = arith.divf %28, %arg1 : f32
        %30 = arith.negf %29 : f32
        %cst_0 = arith.constant 0.000000e+00 : f32
        %31 = arith.cmpf oeq, %arg2, %cst_0 : f32
        %32 = arith.select %31, %cst_0, %30 : f32
        tmix.yield %32 : f32
      }
      %16 = tmix.sum %15 : !tmix.tensor<[64], f32> -> f32
      %17 = tmix.map %16, %7 : (f32, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %18 = tmix.map %16, %10 : (f32, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.mulf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %19 = tmix.map %d_z, %18 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %20 = tmix.matvec %5, %14 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %21 = tmix.outer %8, %14 {tmix.chunk_adjoint} : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
      %22 = tmix.map %d_S, %21 {tmix.chunk_adjoint} : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %23 = tmix.matvec %22, %3 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64], f32>
      %24 = tmix.vecmat %2, %22 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
      %25 = tmix.map %20, %17 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      %26 = tmix.map %23, %19 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
      ^bb0(%arg0: f32, %arg1: f32):
        %27 = arith.addf %arg0, %arg1 : f32
        tmix.yield %27 : f32
      }
      tmix.yield %22, %19, %25, %26, %24 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
    }
  }
}

