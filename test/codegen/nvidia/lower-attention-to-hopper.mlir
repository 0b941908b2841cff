// RUN: tmix-opt %s --split-input-file --verify-diagnostics --tmix-schedule=target=sm_90a --tmix-tile-attention --tmix-lower-attention-to-hopper | FileCheck %s --implicit-check-not="tmix.attention @" --implicit-check-not=func.func --implicit-check-not=tmix_tile
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_90a specialize=D=128" --tmix-tile-attention --tmix-lower-attention-to-hopper=specialize=D=128 2>&1 | FileCheck %s --check-prefix=FIXED

// A symbolic head dim fixed by `specialize` is recorded for the runtime to check (the
// run fails on the other error cases below, hence `not`).
// FIXED-LABEL: gpu.func @symbolic(
// FIXED-SAME: threads = 384, shared_bytes = {{[0-9]+}}, specialized = {D = 128}

// A causal bf16 spec with lse, D = DV = 64: 384 threads (producer + 2 consumer
// warpgroups), 128 query rows per CTA, 64-key tiles, two stages; the tensor-map
// pointer after the loop program's ABI; the register cap for setmaxnreg. Shared bytes:
// 1024 (mbarriers) + Q 128x64x2 + 2 x (K 64x64x2 + V 64x64x2) + 1024 (alignment).
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: gpu.func @causal(
// CHECK-SAME: %arg3: memref<?x?x?x?xbf16>, %arg4: memref<?x?x?xf32>, %arg5: memref<?xi64>, %[[MAPS:.*]]: !llvm.ptr) kernel
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK-SAME: nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:128], threads = 384, shared_bytes = 51200,
// CHECK-SAME: tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>, #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 128>, #tmix.tensor_map<arg = 2, box = [64, 64], swizzle = 128>]>
// CHECK-SAME: tmix.schedule = #tmix.attention_schedule<block_m = 128, block_n = 64, warps = 12, stages = 2>
// The base of dynamic shared memory rounded up to 1024 bytes.
// CHECK: gpu.dynamic_shared_memory
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: arith.constant -1024 : i64
// One thread initialises Q full (1 arrival), full[0], empty[0] (256), full[1], empty[1].
// CHECK: nvvm.mbarrier.init %{{.*}}, %c1_i32
// CHECK: nvvm.mbarrier.init %{{.*}}, %c1_i32
// CHECK: nvvm.mbarrier.init %{{.*}}, %c256_i32
// CHECK: nvvm.mbarrier.init %{{.*}}, %c1_i32
// CHECK: nvvm.mbarrier.init %{{.*}}, %c256_i32
// CHECK: nvvm.fence.mbarrier.init
// CHECK: gpu.barrier
// Producer: fewer registers; one thread: Q (16384 bytes, one 64-column box at row
// 128 * tile, head h, batch b), then per non-empty tile: wait on "empty", expect K + V
// bytes on "full", two boxes.
// CHECK: nvvm.setmaxregister  decrease 24
// CHECK: nvvm.mbarrier.arrive.expect_tx %[[QFULL:.*]], %c16384_i32
// CHECK: %[[QMAP:.*]] = llvm.getelementptr %[[MAPS]][0] : (!llvm.ptr) -> !llvm.ptr, i8
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[QMAP]], %[[QFULL]], box[%c0_i32{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// CHECK: scf.for
// CHECK: arith.cmpi sle
// CHECK: scf.if
// CHECK: arith.xori
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.mbarrier.arrive.expect_tx %[[FULL:.*]], %c16384_i32
// CHECK: llvm.getelementptr %[[MAPS]][128]
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %{{.*}}, %[[FULL]], box
// CHECK: llvm.getelementptr %[[MAPS]][256]
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %{{.*}}, %[[FULL]], box
// Consumers: more registers, wait for Q (parity 0), then per non-empty tile wait on
// "full", S = Q K^T (4 x m64n64k16, K-major operands, the first with scale-d 0),
// the mask, row statistics, P V (4 x m64n64k16, A from registers, B transposed),
// arrive on "empty".
// CHECK: nvvm.setmaxregister  increase 240
// CHECK: nvvm.mbarrier.try_wait.parity %{{.*}}, %c0_i32
// CHECK: scf.for
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 0, 0;{{.*}}"=f,{{.*}},l,l,r,0,1,{{.*}}" {{.*}}, %c0_i32
// CHECK-COUNT-3: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 0, 0;{{.*}}, %c1_i32
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: arith.cmpi ult
// CHECK: gpu.shuffle xor
// CHECK: nvvm.inline_ptx "ex2.approx.ftz.f32 $0, $1;"
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, {$32, $33, $34, $35}, $36, p, 1, 1, 1;
// CHECK-NOT: wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.mbarrier.arrive
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

// f16, D = DV = 256, no mask: Q in four 64-column boxes (65536 bytes), S by m64n64k16 f16, O by m64n256k16; no
// tile classification. Shared bytes: 1024 + 65536 + 2 x (32768 + 32768) + 1024.
// CHECK-LABEL: gpu.func @wide(
// CHECK-SAME: shared_bytes = 198656, tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>, #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 128>, #tmix.tensor_map<arg = 2, box = [64, 64], swizzle = 128>]>
// CHECK-SAME: tmix.schedule = #tmix.attention_schedule<block_m = 128, block_n = 64, warps = 12, stages = 2>
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c65536_i32
// CHECK-COUNT-4: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK-NOT: arith.cmpi sle
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c65536_i32
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK: wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16
tmix.attention @wide(%q: !tmix.tensor<[B, H, N, 256], f16>, %k: !tmix.tensor<[B, H, M, 256], f16>,
                     %v: !tmix.tensor<[B, H, M, 256], f16>)
    -> (o: !tmix.tensor<[B, H, N, 256], f16>) {
}

// -----

// expected-error @+1 {{the GPU code generator needs the head dims (D of q and k, DV of v) fixed at compile time}}
tmix.attention @symbolic(%q: !tmix.tensor<[B, H, N, D], bf16>, %k: !tmix.tensor<[B, H, N, D], bf16>,
                         %v: !tmix.tensor<[B, H, N, D], bf16>)
    -> (o: !tmix.tensor<[B, H, N, D], bf16>) {
}

// -----

// D = 32, DV = 48: whole 64-column boxes (TMA fills the columns past the head dim with
// zeros), so S = Q K^T still runs 4 k16 steps and O is 64 wide; the epilogue stores
// only the 48 real columns (6 tiles of 8 x 2 elements per row half).
// CHECK-LABEL: gpu.func @narrow(
// CHECK-SAME: shared_bytes = 51200, tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>, #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 128>, #tmix.tensor_map<arg = 2, box = [64, 64], swizzle = 128>]>
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c16384_i32
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 0, 0;
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 1;
// CHECK: arith.divf
// CHECK-COUNT-24: memref.store {{.*}} : memref<?x?x?x?xbf16>
// CHECK-NOT: memref.store
// CHECK: gpu.return
tmix.attention @narrow(%q: !tmix.tensor<[B, H, N, 32], bf16>, %k: !tmix.tensor<[B, H, N, 32], bf16>,
                       %v: !tmix.tensor<[B, H, N, 48], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 48], bf16>) {
}

// -----

// expected-error @+1 {{the GPU code generator supports head dims that are multiples of 16 up to 256, not 72}}
tmix.attention @odd(%q: !tmix.tensor<[B, H, N, 72], bf16>, %k: !tmix.tensor<[B, H, N, 72], bf16>,
                    %v: !tmix.tensor<[B, H, N, 72], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 72], bf16>) {
}

// -----

// f32 inputs and RoPE: q and k rotated, v converted. Each is copied raw by TMA
// (f32, no swizzle: the records' last field is 0) into a staging buffer; the consumers
// load it, rotate (cos, sin), round to bf16 and store it 128B-swizzled, then fence the
// async proxy and meet at the consumers' named barrier (id 1, 256 threads) before the
// wgmmas. Shared bytes: 1024 + 16384 (Q) + 2 x 8192 (K) + 2 x 8192 (V) + 32768 (raw Q)
// + 2 x 16384 (raw K) + 2 x 16384 (raw V) + 1024. Q's TMA brings 32768 bytes, K and V's
// 32768 together.
// CHECK-LABEL: gpu.func @staged(
// CHECK-SAME: shared_bytes = 149504, tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 0>, #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 0>, #tmix.tensor_map<arg = 2, box = [64, 64], swizzle = 0>]>
// CHECK-DAG: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// CHECK-DAG: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// CHECK: nvvm.setmaxregister  increase 240
// CHECK: nvvm.mbarrier.try_wait.parity %{{.*}}, %c0_i32
// CHECK: scf.for
// CHECK: llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK: math.cos
// CHECK: math.sin
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: llvm.store {{.*}} : bf16, !llvm.ptr<3>
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.barrier id = %c1_i32{{.*}} number_of_threads = %c256_i32
// CHECK: scf.for
// CHECK: nvvm.mbarrier.try_wait.parity
// K rotated, then V converted only, then the fence and the barrier.
// CHECK: math.cos
// CHECK: llvm.store {{.*}} : bf16, !llvm.ptr<3>
// CHECK: scf.for
// CHECK-NOT: math.cos
// CHECK: llvm.store {{.*}} : bf16, !llvm.ptr<3>
// CHECK: nvvm.fence.proxy
// CHECK: nvvm.barrier id = %c1_i32{{.*}} number_of_threads = %c256_i32
// CHECK: nvvm.wgmma.fence.aligned
tmix.attention @staged(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, N, 64], f32>,
                       %v: !tmix.tensor<[B, H, N, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
  tmix.rope {
    %theta = arith.constant 10000.0 : f32
    tmix.yield %theta : f32
  }
}

// -----

// f32 at D = DV = 256: the staging buffers do not fit next to the operand tiles.
// expected-error @+1 {{the sm_90a kernel needs 591872 bytes of shared memory (f32 and rotated operands are staged twice), more than the 227 KiB of a CTA; use --target=sm_80}}
tmix.attention @too_big(%q: !tmix.tensor<[B, H, N, 256], f32>, %k: !tmix.tensor<[B, H, N, 256], f32>,
                        %v: !tmix.tensor<[B, H, N, 256], f32>)
    -> (o: !tmix.tensor<[B, H, N, 256], f32>) {
}

