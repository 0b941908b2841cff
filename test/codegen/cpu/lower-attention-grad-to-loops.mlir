// RUN: tmix-opt %s --tmix-tile-attention-grad --tmix-lower-attention-grad-to-loops="lanes=16 vector-registers=32" | FileCheck %s --check-prefixes=CHECK,AVX512 --implicit-check-not=tmix.attention_grad --implicit-check-not=tmix.score_grad --implicit-check-not=tmix_tile
// RUN: tmix-opt %s --tmix-tile-attention-grad --tmix-lower-attention-grad-to-loops="lanes=8 vector-registers=16" | FileCheck %s --check-prefixes=CHECK,AVX2 --implicit-check-not=tmix.attention_grad --implicit-check-not=tmix.score_grad --implicit-check-not=tmix_tile
// The GPUs' form (recompute_dq) is refused with one error, not lowered.
// RUN: not tmix-opt %S/Inputs/attention-grad-plain.mlir --tmix-derive-attention-grad=recompute-dq=1 --tmix-tile-attention-grad --tmix-lower-attention-grad-to-loops 2>&1 | FileCheck %s --check-prefix=RECOMPUTE
// RECOMPUTE: error: 'tmix.attention_grad' op has recompute_dq, the GPUs' form: the CPU runs the backward with d_q_partial (tmix-derive-attention-grad without recompute-dq)
// RECOMPUTE-NOT: Stack dump
// RUN: not tmix-opt %S/Inputs/attention-grad-rope-rows.mlir --tmix-lower-attention-grad-to-loops 2>&1 | FileCheck %s --check-prefix=ROPEROWS
// ROPEROWS: error: 'tmix.attention_grad' op has rope_rows, the GPUs' form: the CPU sums rope's theta per key split (tmix-derive-attention-grad without recompute-dq)
// ROPEROWS-NOT: Stack dump

// The two backward programs of a causal GQA spec (what tmix-derive-attention-grad
// writes for it). Part "key_value": a program per (batch, KV head, key split: 4 here,
// d_q_partial's leading dim); per block of W = 4 vectors of keys of its split (64 keys
// in 16 lanes, 32 in 8: [?, W] buffers) the query rows in staged tiles of 64, the
// mask's tile classes (empty tiles skipped, full ones without mask code), the
// probabilities recomputed from lse with exp2, the products as vector FMAs of lane
// vectors (LaneTiles.h), and dq summed into d_q_partial through a [rows, C] view of its
// rows, the head dim in lanes C at a time, from K staged row by row ([W, D padded to
// C]): no transpose. D = 8 here: C is one vector, in place on 8 lanes; on 16 the
// chunk is padded and its 8 lanes go through a [64, 16] buffer. Q and d_o, f32 and not rotated, are read in place (no [64, D] buffers);
// each row's lse and D are computed once per program ([group, N] buffers).
// Part "query": a program per W query rows, which sums the splits' partials in order.
// CHECK-LABEL: func.func @c_grad_q(
// CHECK-SAME: %arg0: i64, %arg1: memref<?x?x?x?xf32>, %arg2: memref<?x?x?x?xf32>, %arg3: memref<?x?x?x?xf32>,
// CHECK-SAME: %arg4: memref<?x?x?x?xf32>, %arg5: memref<?x?x?xf32>, %arg6: memref<?x?x?x?xf32>, %arg7: memref<?x?x?x?x?xf32>,
// CHECK-SAME: %arg8: memref<?x?x?x?xf32>, %arg9: memref<?xi64>)
// AVX512-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:64]>
// AVX2-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:32]>
// AVX512: memref.alloc({{.*}}) : memref<64x?xf32>
// AVX2: memref.alloc({{.*}}) : memref<32x?xf32>
// CHECK-COUNT-4: memref.load %arg7[
// CHECK: memref.dealloc
// The loops LLVM vectorises itself (the pairs' P and dS) get the micro-kernels' width:
// its cost model would take 256 bits on AVX-512.
// CHECK-LABEL: func.func @c_grad_kv(
// CHECK-SAME: %arg7: memref<?x?x?x?xf32>, %arg8: memref<?x?x?x?xf32>, %arg9: memref<?x?x?x?x?xf32>, %arg10: memref<?xi64>)
// AVX512-SAME: passthrough = {{\[}}["prefer-vector-width", "512"]]
// AVX2-SAME: passthrough = {{\[}}["prefer-vector-width", "256"]]
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, HK:1, 4:1]>
// AVX512: memref.alloc({{.*}}) : memref<?x64xf32>
// AVX512: memref.alloc({{.*}}) : memref<64x?xf32>
// AVX2: memref.alloc({{.*}}) : memref<?x32xf32>
// AVX2: memref.alloc({{.*}}) : memref<32x?xf32>
// CHECK: memref.alloc({{.*}}, {{.*}}) : memref<?x?xf32>
// CHECK: memref.alloc({{.*}}, {{.*}}) : memref<?x?xf32>
// CHECK-NOT: memref<64x?xf32>
// AVX512-COUNT-2: memref.alloc() : memref<64x64xf32>
// AVX512-NEXT: memref.alloc() : memref<64x16xf32>
// AVX2-COUNT-2: memref.alloc() : memref<64x32xf32>
// AVX2-NOT: memref<64x8xf32>
// AVX512: vector.fma {{.*}} : vector<16xf32>
// AVX2: vector.fma {{.*}} : vector<8xf32>
// CHECK: math.exp2
// CHECK-NOT: vector.shuffle
// AVX512: memref.subview %arg9[{{.*}}] [1, 1, 1, %{{.*}}, 16] [1, 1, 1, 1, 1] : memref<?x?x?x?x?xf32> to memref<?x16xf32, strided<[?, 1], offset: ?>>
// AVX512: vector.store %{{.*}} : memref<64x16xf32>, vector<16xf32>
// AVX512: memref.load %{{.*}} : memref<64x16xf32>
// AVX2: memref.subview %arg9[{{.*}}] [1, 1, 1, %{{.*}}, 8] [1, 1, 1, 1, 1] : memref<?x?x?x?x?xf32> to memref<?x8xf32, strided<[?, 1], offset: ?>>
// AVX2-NOT: memref<64x8xf32>
// CHECK: tmix.tile_classes = ["partial", "full"]
// CHECK: tmix.tile_classes = ["non-empty", "empty"]
// CHECK: memref.dealloc

tmix.attention_grad @c_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>, %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "c" part "query" {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.cmpi sle, %j, %i : i64
    tmix.yield %0 : i1
  }
}
tmix.attention_grad @c_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>) -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) forward "c" part "key_value" {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.cmpi sle, %j, %i : i64
    tmix.yield %0 : i1
  }
}


// A bias table summed per key split (tmix-derive-attention-grad's split params): part
// "key_value" zeroes its slice of d_bias_partial (split, batch, its group's heads),
// keeps each pair's s and score gradient beside P and dS, then adds the region's
// terms pair by pair into the slice, past a bounds check on the table's index. Part
// "params" starts d_bias at the partials summed over the splits and the batches, in
// that order, and walks no pairs (nothing else to sum).
// CHECK-LABEL: func.func @r_grad_kv(
// CHECK-SAME: %arg10: memref<?x?x?x?x?xf32>, %arg11: memref<?x?x?x?xf32>, %arg12: memref<?xi64>)
// CHECK: memref.store %{{.*}}, %arg11[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<?x?x?x?xf32>
// CHECK: math.exp2
// CHECK: scf.if
// CHECK: memref.load %arg11[
// CHECK: memref.store %{{.*}}, %arg11[
// CHECK: memref.subview %arg10
// CHECK-LABEL: func.func @r_grad_params(
// CHECK-SAME: %arg8: memref<?x?x?x?xf32>, %arg9: memref<?x?xf32>, %arg10: memref<?xi64>)
// CHECK-SAME: grid = [H:1]
// CHECK: scf.for
// CHECK: scf.for
// CHECK: memref.load %arg8[
// CHECK: memref.store %{{.*}}, %arg9[
// CHECK-NOT: math.exp2
// CHECK: return
tmix.attention_grad @r_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>) -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>, d_bias_partial: !tmix.tensor<[4, B, H, R], f32>) forward "r" part "key_value" params [3] owned [-1, 0] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %d = arith.subi %i, %j : i64
    %x = tmix.read %bias[%h, %d] : !tmix.tensor<[H, R], f32> -> f32
    %r = arith.addf %s, %x : f32
    tmix.yield %r : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    %d = arith.subi %i, %j : i64
    tmix.accumulate %bias[%h, %d], %g : !tmix.tensor<[H, R], f32>
    tmix.yield
  }
}
tmix.attention_grad @r_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>, %d_bias_partial: !tmix.tensor<[4, B, H, R], f32>) -> (d_bias: !tmix.tensor<[H, R], f32>) forward "r" part "params" params [3] owned [-1, 0] split [3] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %d = arith.subi %i, %j : i64
    %x = tmix.read %bias[%h, %d] : !tmix.tensor<[H, R], f32> -> f32
    %r = arith.addf %s, %x : f32
    tmix.yield %r : f32
  }
}
