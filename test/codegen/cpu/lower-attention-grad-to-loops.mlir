// RUN: tmix-opt %s --tmix-lower-attention-grad-to-loops="lanes=16 vector-registers=32" | FileCheck %s --check-prefixes=CHECK,AVX512 --implicit-check-not=tmix.attention_grad --implicit-check-not=tmix.score_grad
// RUN: tmix-opt %s --tmix-lower-attention-grad-to-loops="lanes=8 vector-registers=16" | FileCheck %s --check-prefixes=CHECK,AVX2 --implicit-check-not=tmix.attention_grad --implicit-check-not=tmix.score_grad

// The two backward programs of a causal GQA spec (what tmix-derive-attention-grad
// writes for it). Part "key_value": a program per (batch, KV head, key split: 4 here,
// d_q_partial's leading dim); per block of 32 keys of its split (2 vectors of 16
// lanes, or 4 of 8: [?, 32] buffers) the query rows in staged tiles of 64, the mask's
// tile classes (empty tiles skipped, full ones without mask code), the probabilities
// recomputed from lse with exp2, the products as vector FMAs of lane vectors
// (LaneTiles.h), and dq^T summed into d_q_partial through a [D, 64] view of it (the
// tile's rows in lanes). Part "query": a program per 32 query rows, which sums the
// splits' partials in order.
// CHECK-LABEL: func.func @c_grad_q(
// CHECK-SAME: %arg0: i64, %arg1: memref<?x?x?x?xf32>, %arg2: memref<?x?x?x?xf32>, %arg3: memref<?x?x?x?xf32>,
// CHECK-SAME: %arg4: memref<?x?x?x?xf32>, %arg5: memref<?x?x?xf32>, %arg6: memref<?x?x?x?xf32>, %arg7: memref<?x?x?x?x?xf32>,
// CHECK-SAME: %arg8: memref<?x?x?x?xf32>, %arg9: memref<?xi64>)
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:32]>
// CHECK: memref.alloc({{.*}}) : memref<?x32xf32>
// CHECK-COUNT-4: memref.load %arg7[
// CHECK: memref.dealloc
// CHECK-LABEL: func.func @c_grad_kv(
// CHECK-SAME: %arg7: memref<?x?x?x?xf32>, %arg8: memref<?x?x?x?xf32>, %arg9: memref<?x?x?x?x?xf32>, %arg10: memref<?xi64>)
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, HK:1, 4:1]>
// CHECK: memref.alloc({{.*}}) : memref<?x32xf32>
// CHECK: memref.alloc({{.*}}) : memref<64x?xf32>
// CHECK: memref.alloc() : memref<32x64xf32>
// AVX512: vector.fma {{.*}} : vector<16xf32>
// AVX2: vector.fma {{.*}} : vector<8xf32>
// CHECK: math.exp2
// CHECK: memref.subview %arg9
// CHECK: tmix.tile_classes = ["partial", "full"]
// CHECK: tmix.tile_classes = ["non-empty", "empty"]
// CHECK: memref.dealloc

tmix.attention_grad @c_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>, %d_q_partial: !tmix.tensor<[4, B, H, 8, N], f32>) -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "c" part "query" {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.cmpi sle, %j, %i : i64
    tmix.yield %0 : i1
  }
}
tmix.attention_grad @c_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>, %v: !tmix.tensor<[B, HK, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>) -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, 8, N], f32>) forward "c" part "key_value" {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.cmpi sle, %j, %i : i64
    tmix.yield %0 : i1
  }
}

