// RUN: tmix-opt %s --split-input-file --verify-diagnostics --tmix-schedule=target=sm_80 --tmix-tile-attention --tmix-lower-attention-to-nvgpu | FileCheck %s --implicit-check-not="tmix.attention @" --implicit-check-not=func.func --implicit-check-not=tmix_tile
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 specialize=D=32" --tmix-tile-attention --tmix-lower-attention-to-nvgpu=specialize=D=32 2>&1 | FileCheck %s --check-prefix=FIXED

// A symbolic head dim fixed by `specialize` is recorded for the runtime to check (the
// run fails on the other error cases below, hence `not`).
// FIXED-LABEL: gpu.func @symbolic(
// FIXED-SAME: threads = 128, shared_bytes = {{[0-9]+}}, specialized = {D = 32}>
// FIXED: memref<64x40xbf16, #gpu.address_space<workgroup>>

// A causal bf16 spec with lse: one kernel in the gpu.module, its launch attributes, the
// program id taken from the block id, Q and two K/V buffers in dynamic shared memory
// (rows padded by 8), the two-stage pipeline (tile 0 prefetched; in the loop, after a
// barrier, the next tile's copies when it is non-empty for the CTA, one commit, a wait
// for all but that group, a barrier, then this tile), S = Q K^T on ldmatrix + bf16
// mma.sync (nvvm: nvgpu has no bf16 form), the mask per element, row statistics over 4
// lanes, ex2.approx, P V on transposed ldmatrix.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @tmix_kernels
// CHECK-LABEL: gpu.func @causal(
// CHECK-SAME: %arg0: memref<?x?x?x?xbf16>, %arg1: memref<?x?x?x?xbf16>, %arg2: memref<?x?x?x?xbf16>,
// CHECK-SAME: %arg3: memref<?x?x?x?xbf16>, %arg4: memref<?x?x?xf32>, %{{.*}}: memref<?xi64>) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:64], threads = 128, shared_bytes = 46080>
// CHECK-SAME: tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>
// CHECK: gpu.block_id x
// CHECK: gpu.dynamic_shared_memory
// CHECK: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// Q is copied with cp.async, 16 bytes per copy, zero-filled past N.
// CHECK: nvgpu.device_async_copy %arg0[{{.*}}], %{{.*}}[{{.*}}], 8, %{{.*}} {bypassL1} : memref<?x?x?x?xbf16> to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// Prologue: tile 0 into buffer 0 if the CTA needs it.
// CHECK: arith.cmpi sle
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy %arg1[{{.*}}], %{{.*}}[%c0{{.*}}], 8, %{{.*}} {bypassL1} : memref<?x?x?x?xbf16> to memref<2x64x72xbf16
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: nvgpu.device_async_create_group{{ *$}}
// CHECK: scf.for {{.*}} iter_args({{.*}}, %[[NONEMPTY:.*]] = %{{.*}}, %{{.*}} = %{{.*}}) -> ({{.*}}, i1, index)
// CHECK: %[[NEXT:.*]] = scf.if {{.*}} -> (i1)
// Barriers only where needed: before copies into the other buffer, before a compute.
// CHECK: scf.if %[[NEXT]] {
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if %[[NEXT]] {
// CHECK: nvgpu.device_async_copy %arg1
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: nvgpu.device_async_create_group{{ *$}}
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// CHECK: scf.if %[[NONEMPTY]] {
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK: arith.select {{.*}}, %cst
// CHECK: gpu.shuffle xor
// CHECK: nvvm.inline_ptx "ex2.approx.ftz.f32 $0, $1;"
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// The epilogue: 1/l (0 for an empty row), lse = (m + log2 l) ln 2 or -inf.
// CHECK: arith.cmpf oeq
// CHECK: nvvm.inline_ptx "lg2.approx.f32 $0, $1;"
// CHECK: gpu.return
tmix.attention @causal(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, HK, M, 64], bf16>,
                       %v: !tmix.tensor<[B, HK, M, 64], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 64], bf16>, lse: !tmix.tensor<[B, H, N], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %keep = arith.cmpi sle, %j, %i : i64
    tmix.yield %keep : i1
  }
}

// -----

// f16 without a mask: nvgpu.mma.sync, no tile classification; D = 128 and DV = 64
// shape the shared tiles (64 x 136 for Q and K, 64 x 72 for V).
// CHECK-LABEL: gpu.func @dense(
// CHECK-SAME: shared_bytes = 70656>
// CHECK: memref<64x136xf16, #gpu.address_space<workgroup>>
// CHECK: memref<2x64x136xf16, #gpu.address_space<workgroup>>
// CHECK: memref<2x64x72xf16, #gpu.address_space<workgroup>>
// CHECK-NOT: arith.cmpi sle
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
tmix.attention @dense(%q: !tmix.tensor<[B, H, N, 128], f16>, %k: !tmix.tensor<[B, H, M, 128], f16>,
                      %v: !tmix.tensor<[B, H, M, 64], f16>)
    -> (o: !tmix.tensor<[B, H, N, 64], f16>) {
}

// -----

// f32 inputs and RoPE: staged element by element (rotated in f32, rounded to bf16), no
// cp.async; V (never rotated) is f32 too, so also element by element; one K/V buffer.
// CHECK-LABEL: gpu.func @rotary(
// CHECK-SAME: stages = 1
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: math.cos
// CHECK: math.sin
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: memref.store {{.*}} : memref<1x64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync
tmix.attention @rotary(%q: !tmix.tensor<[B, H, N, 32], f32>, %k: !tmix.tensor<[B, H, N, 32], f32>,
                       %v: !tmix.tensor<[B, H, N, 32], f32>)
    -> (o: !tmix.tensor<[B, H, N, 32], f32>) {
  tmix.rope {
    %theta = arith.constant 10000.0 : f32
    tmix.yield %theta : f32
  }
}

// -----

// expected-error @+1 {{the GPU code generator needs the head dims (D of q and k, DV of v) fixed at compile time}}
tmix.attention @symbolic(%q: !tmix.tensor<[B, H, N, D], bf16>, %k: !tmix.tensor<[B, H, N, D], bf16>,
                         %v: !tmix.tensor<[B, H, N, D], bf16>)
    -> (o: !tmix.tensor<[B, H, N, D], bf16>) {
}

// -----

// expected-error @+1 {{supports head dims that are multiples of 16 up to 256, not 72}}
tmix.attention @odd(%q: !tmix.tensor<[B, H, N, 72], bf16>, %k: !tmix.tensor<[B, H, N, 72], bf16>,
                    %v: !tmix.tensor<[B, H, N, 72], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 72], bf16>) {
}
