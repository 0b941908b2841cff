// RUN: tmix-opt %s --tmix-lower-recurrence-to-loops | FileCheck %s --implicit-check-not=tmix.recurrence --implicit-check-not=tmix.step --implicit-check-not=tmix.map

// Gated linear attention with an initial and a final state: one program per (b, h),
// the state initialised from h0, a buffer per vector/matrix value, the diagonal gate
// broadcast over the rows, the output stored per step, the state written back after
// the outputs, and the final state copied out.
// CHECK-LABEL: func.func @gla(
// CHECK-SAME: tmix.grid = {{\[\[}}"B", 1], ["H", 1]]
// CHECK: %[[STATE:.*]] = memref.alloc({{.*}}) : memref<?x?xf32>
// CHECK: memref.load %arg5[{{.*}}] : memref<?x?x?x?xf32>
// CHECK: memref.store {{.*}}, %[[STATE]]
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK: math.exp
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}}, %arg6[{{.*}}, %[[T]], {{.*}}] : memref<?x?x?x?xbf16>
// CHECK: memref.store {{.*}}, %[[STATE]]
// CHECK: memref.store {{.*}}, %arg7
// CHECK: memref.dealloc %[[STATE]]
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>,
                     %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>,
                     %h0: !tmix.tensor<[B, H, K, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %g_t = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %gate = tmix.map %g_t : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = math.exp %x : f32
      tmix.yield %e : f32
    }
    %decayed = tmix.map %gate, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %m = arith.mulf %x, %y : f32
      tmix.yield %m : f32
    }
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %decayed, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %q_t = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %o = tmix.vecmat %q_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}
