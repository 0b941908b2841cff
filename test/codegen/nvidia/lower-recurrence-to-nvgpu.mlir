// RUN: tmix-opt %s --split-input-file --verify-diagnostics --tmix-schedule=target=sm_80 --tmix-tile-recurrence --tmix-lower-recurrence-to-nvgpu | FileCheck %s --implicit-check-not="tmix.recurrence @" --implicit-check-not=func.func --implicit-check-not=tmix_tile
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 specialize=K=128,V=128" --tmix-tile-recurrence --tmix-lower-recurrence-to-nvgpu=specialize=K=128,V=128 2>&1 | FileCheck %s --check-prefix=FIXED

// GLA with literal 64 x 64 state (a row gate exp(g), an initial and a final state): one
// kernel, the grid (B, H, V blocks of 64), shared memory for v and the bf16 state copy
// (ldmatrix tiles, rows padded by 8), q, k, the outputs and the log gates (f32); the
// initial state loaded into 8 accumulator fragments carried through the chunk loop;
// per chunk a barrier, the log-gate scan (f64 sum), the staged rows, the scores (per
// n-tile: tensor cores for earlier sub-chunks, a loop over K for the warp's own), A v
// and q S on transposed ldmatrix + bf16 mma.sync, the state update, a barrier, the
// state copy and the outputs; the final state stored after the loop.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @tmix_kernels
// CHECK-LABEL: gpu.func @gla(
// CHECK-SAME: %arg0: memref<?x?x?x?xbf16>, %arg1: memref<?x?x?x?xbf16>, %arg2: memref<?x?x?x?xbf16>, %arg3: memref<?x?x?x?xf32>, %arg4: memref<?x?x?x?xf32>,
// CHECK-SAME: %[[O:.*]]: memref<?x?x?x?xbf16>, %[[HT:.*]]: memref<?x?x?x?xf32>, %{{.*}}: memref<?xi64>) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T], grid = [B:1, H:1, 64:64], threads = 128, shared_bytes = 83968>
// CHECK-SAME: tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>
// CHECK: gpu.block_id x
// CHECK: gpu.dynamic_shared_memory
// CHECK: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-4: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.view
// CHECK: memref.load %arg4
// CHECK: scf.for {{.*}} step %c64{{.*}} iter_args({{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %thread_id_x to %c64{{.*}} step %c128
// CHECK: arith.addf {{.*}} : f64
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %thread_id_x to %c4096{{.*}} step %c128
// CHECK: gpu.barrier
// CHECK: scf.if {{.*}} -> (vector<2x2xf32>)
// CHECK: nvvm.mma.sync
// CHECK: } else {
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32)
// CHECK: ex2.approx.ftz.f32
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK: memref.store {{.*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.store {{.*}}, %[[O]]
// CHECK: scf.yield {{.*}} : vector<2x2xf32>
// CHECK: memref.store {{.*}}, %[[HT]]
// CHECK: gpu.return

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
}


// -----

// RetNet: a scalar gate that may be negative (signs tracked), f16 operands. Symbolic
// K and V must be fixed; `specialize` records them for the runtime to check, and picks
// Vb = 32 for K = 128.
// FIXED-LABEL: gpu.func @retnet(
// FIXED-SAME: grid = [B:1, H:1, V:32], threads = 128, shared_bytes = {{[0-9]+}}, specialized = {K = 128, V = 128}>
// FIXED-SAME: tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>
// FIXED: memref<64x40xf16, #gpu.address_space<workgroup>>
// FIXED: memref<128x40xf16, #gpu.address_space<workgroup>>
// FIXED: memref<64x1xf32, #gpu.address_space<workgroup>>
// FIXED: memref<64x1xf32, #gpu.address_space<workgroup>>
// FIXED: math.log
// FIXED: nvgpu.mma.sync
// expected-error @+1 {{the GPU code generator needs the state dims (K and V of S: [K, V]) fixed at compile time}}
tmix.recurrence @retnet(%q: !tmix.tensor<[B, H, T, K], f16>, %k: !tmix.tensor<[B, H, T, K], f16>, %v: !tmix.tensor<[B, H, T, V], f16>, %gamma: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, T, V], f16>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %gamma : !tmix.tensor<[H], f32> -> f32
    %1 = tmix.map %0, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f16> -> !tmix.tensor<[K], f32>
    %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f16> -> !tmix.tensor<[V], f32>
    %4 = tmix.outer %2, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f16> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}


// -----

// expected-error @+1 {{the GPU code generator needs a matrix state to chunk; state 'h' is a vector}}
tmix.recurrence @selective_scan(%x: !tmix.tensor<[B, C, T], f32>, %dt: !tmix.tensor<[B, C, T], f32>, %A: !tmix.tensor<[C, N], f32>, %Bm: !tmix.tensor<[B, T, N], f32>, %Cm: !tmix.tensor<[B, T, N], f32>) -> (y: !tmix.tensor<[B, C, T], f32>) time "T" {
  tmix.state "h" : !tmix.tensor<[N], f32> {tmix.update_class = "diagonal_decay"}
  tmix.step {
  ^bb0(%t: i64, %h: !tmix.tensor<[N], f32>):
    %0 = tmix.slice %dt[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %1 = tmix.slice %A : !tmix.tensor<[C, N], f32> -> !tmix.tensor<[N], f32>
    %2 = tmix.map %0, %1 : (f32, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %3 = tmix.map %2 : (!tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32):
      %13 = math.exp %arg0 : f32
      tmix.yield %13 : f32
    }
    %4 = tmix.map %3, %h : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %5 = tmix.slice %dt[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %6 = tmix.slice %x[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %7 = arith.mulf %5, %6 : f32
    %8 = tmix.slice %Bm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %9 = tmix.map %7, %8 : (f32, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %10 = tmix.map %4, %9 : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %11 = tmix.slice %Cm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %12 = tmix.dot %11, %10 : !tmix.tensor<[N], f32>, !tmix.tensor<[N], f32> -> f32
    tmix.yield %10, %12 : !tmix.tensor<[N], f32>, f32
  }
}


// -----

// DeltaNet (128 x 128, Vb = 32): b, the system and the pseudo-values in shared memory
// too; per chunk, after staging, the system and the right-hand side on the tensor cores,
// a barrier, the forward substitution by the threads of the value columns (a loop over
// the earlier rows in a loop over the rows), a barrier, then the scores.
// CHECK-LABEL: gpu.func @delta_net(
// CHECK-SAME: grid = [B:1, H:1, 128:32]
// CHECK-SAME: tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>
// CHECK: memref.view {{.*}} to memref<64x1xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<64x32xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: scf.for
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: gpu.barrier
// CHECK: nvvm.mma.sync
tmix.recurrence @delta_net(%q: !tmix.tensor<[B, H, T, 128], bf16>, %k: !tmix.tensor<[B, H, T, 128], bf16>, %v: !tmix.tensor<[B, H, T, 128], bf16>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, 128], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[128, 128], f32> {tmix.update_class = "delta"}
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

// expected-error @+1 {{state 'S' has update class 'general': no chunk-parallel form for the GPU}}
tmix.recurrence @general(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "general"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
    %0 = tmix.map %S, %S : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %7 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %7 : f32
    }
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %3 = tmix.outer %1, %2 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %4 = tmix.map %0, %3 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %7 = arith.addf %arg0, %arg1 : f32
      tmix.yield %7 : f32
    }
    %5 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %6 = tmix.vecmat %5, %4 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    tmix.yield %4, %6 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
  }
}


// -----

// A key scaled by a dot of step values (k / (k . k)): the reduction is a loop inside
// the element-wise evaluation of the key (StepElements), once per element.
// CHECK-LABEL: gpu.func @normed(
// CHECK: scf.for
// CHECK: arith.divf
tmix.recurrence @normed(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %3 = tmix.dot %1, %2 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> f32
    %4 = tmix.map %0, %3 : (!tmix.tensor<[64], f32>, f32) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %10 = arith.divf %arg0, %arg1 : f32
      tmix.yield %10 : f32
    }
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %6 = tmix.outer %4, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %7 = tmix.map %S, %6 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %10 = arith.addf %arg0, %arg1 : f32
      tmix.yield %10 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %9 = tmix.vecmat %8, %7 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    tmix.yield %7, %9 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{the GPU code generator chunks one matrix state, not 'S' and 'R'}}
tmix.recurrence @two(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "R" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %R: !tmix.tensor<[64, 64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %6 = tmix.outer %4, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %7 = tmix.map %R, %6 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %9 = tmix.vecmat %8, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %10 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %11 = tmix.vecmat %10, %7 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %12 = tmix.map %9, %11 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    tmix.yield %3, %7, %12 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{vector state 'z' reads state 'y': not supported by the GPU code generator}}
tmix.recurrence @coupled(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "y" : !tmix.tensor<[64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "z" : !tmix.tensor<[64], f32> {tmix.update_class = "general"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %y: !tmix.tensor<[64], f32>, %z: !tmix.tensor<[64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %5 = tmix.map %y, %4 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %6 = tmix.map %z, %5 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %8 = tmix.vecmat %7, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %9 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %10 = tmix.dot %9, %6 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> f32
    %cst = arith.constant 1.000000e+00 : f32
    %11 = arith.addf %10, %cst : f32
    %12 = tmix.map %8, %11 : (!tmix.tensor<[64], f32>, f32) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.divf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    tmix.yield %3, %5, %6, %12 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{a per-step output reads vector state 'z' other than through dot()}}
tmix.recurrence @direct(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "z" : !tmix.tensor<[64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %z: !tmix.tensor<[64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %5 = tmix.map %z, %4 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %7 = tmix.vecmat %6, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %8 = tmix.map %7, %5 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    tmix.yield %3, %5, %8 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{state 'n' is a scalar: the GPU code generator runs one matrix state chunked and vector states step by step}}
tmix.recurrence @counted(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "n" : f32 {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %n: f32):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %cst = arith.constant 1.000000e+00 : f32
    %4 = arith.addf %n, %cst : f32
    %5 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %6 = tmix.vecmat %5, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %7 = tmix.map %6, %4 : (!tmix.tensor<[64], f32>, f32) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.divf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    tmix.yield %3, %4, %7 : !tmix.tensor<[64, 64], f32>, f32, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{the GPU code generator needs one query q in the readouts q @ S of state 'S'}}
tmix.recurrence @two_queries(%q: !tmix.tensor<[B, T, 64], bf16>, %k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %4 = tmix.slice %q[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %5 = tmix.vecmat %4, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %7 = tmix.vecmat %6, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %8 = tmix.map %5, %7 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    tmix.yield %3, %8 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
  }
}

// -----

// expected-error @+1 {{the GPU code generator needs a readout q @ S of state 'S' in the per-step outputs}}
tmix.recurrence @no_readout(%k: !tmix.tensor<[B, T, 64], bf16>, %v: !tmix.tensor<[B, T, 64], bf16>) -> (o: !tmix.tensor<[B, T, 64], bf16>, ht: !tmix.tensor<[B, 64, 64], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %5 = arith.addf %arg0, %arg1 : f32
      tmix.yield %5 : f32
    }
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, 64], bf16> -> !tmix.tensor<[64], f32>
    tmix.yield %3, %4 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>
  }
  tmix.final "ht" = "S"
}

// -----

// Linear attention: the normaliser z, a vector state, runs step by step (thread k scans
// element k of the chunk into a [65, K] history: before the chunk, then after each
// step), and dot(phi_q, z) is computed per step into a [1, 64] buffer before the
// outputs read it. Its size must be fixed like the matrix state's.
// FIXED-LABEL: gpu.func @linear_attention(
// FIXED-SAME: specialized = {K = 128, V = 128}>
// FIXED: memref.view {{.*}} to memref<65x128xf32, #gpu.address_space<workgroup>>
// FIXED: memref.view {{.*}} to memref<1x64xf32, #gpu.address_space<workgroup>>
// FIXED: scf.for
// FIXED: memref.store {{.*}} : memref<65x128xf32, #gpu.address_space<workgroup>>
// FIXED: gpu.barrier
// FIXED: scf.for {{.*}} -> (f32)
// FIXED: memref.store {{.*}} : memref<1x64xf32, #gpu.address_space<workgroup>>
// FIXED: memref.load {{.*}} : memref<1x64xf32, #gpu.address_space<workgroup>>
// FIXED: arith.divf
// expected-error @+1 {{vector state 'z' needs its size fixed at compile time}}
tmix.recurrence @linear_attention(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %eps: f32 = 9.99999997E-7) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "z" : !tmix.tensor<[K], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>, %z: !tmix.tensor<[K], f32>):
    %0 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst = arith.constant 0.000000e+00 : f32
    %1 = tmix.map %0, %cst : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.maximumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %2 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %3 = tmix.map %2, %cst_0 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.minimumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.map %3 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_1 = arith.constant 0.000000e+00 : f32
    %7 = tmix.map %6, %cst_1 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.maximumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_2 = arith.constant 0.000000e+00 : f32
    %9 = tmix.map %8, %cst_2 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.minimumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %10 = tmix.map %9 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %11 = tmix.map %7, %10 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %12 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %13 = tmix.outer %11, %12 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %14 = tmix.map %S, %13 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %15 = tmix.map %z, %11 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %16 = tmix.vecmat %5, %14 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %17 = tmix.dot %5, %15 : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32> -> f32
    %18 = arith.addf %17, %eps : f32
    %19 = tmix.map %16, %18 : (!tmix.tensor<[V], f32>, f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.divf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    tmix.yield %14, %15, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>
  }
}
