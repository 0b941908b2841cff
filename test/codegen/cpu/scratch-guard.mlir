// RUN: tmix-opt %s --tmix-tile-attention --tmix-tile-recurrence --tmix-lower-attention-to-loops --tmix-lower-recurrence-to-loops | FileCheck %s

// The per-program scratch buffers of the CPU programs come from malloc, which may
// fail: the program tests every buffer's pointer, does its work only when all are
// there, and otherwise raises the status word after the sizes (KernelBuilder.h) to
// their byte count, for the launcher to report; the buffers are freed either way.

// Five size symbols (B, H, N, D, M): the status word is %sizes[5].
// CHECK-LABEL: func.func @attention(
// CHECK-SAME: %[[SIZES:arg5]]: memref<?xi64>
// CHECK: %[[QT:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: %[[ST:.*]] = memref.alloc() : memref<8x16xf32>
// CHECK: %[[OT:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: %[[M:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[L:.*]] = memref.alloc() : memref<16xf32>
// CHECK: memref.extract_aligned_pointer_as_index %[[QT]]
// CHECK: memref.extract_aligned_pointer_as_index %[[L]]
// CHECK: %[[ALLOCATED:.*]] = arith.andi
// CHECK: scf.if %[[ALLOCATED]] {
// CHECK: vector.fma
// CHECK: } else {
// CHECK: %[[BYTES:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK: %[[STATUS:.*]] = arith.constant 5 : index
// CHECK: memref.atomic_rmw maxs %[[BYTES]], %[[SIZES]][%[[STATUS]]]
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[QT]]
// CHECK-NEXT: memref.dealloc %[[ST]]
// CHECK-NEXT: memref.dealloc %[[OT]]
// CHECK-NEXT: memref.dealloc %[[M]]
// CHECK-NEXT: memref.dealloc %[[L]]
// CHECK-NEXT: return
tmix.attention @attention(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, M, D], f32>,
                          %v: !tmix.tensor<[B, H, M, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 16, block_n = 8, lanes = 16, vector_registers = 32>} {
}

// A chunked recurrence: the step's buffers are checked first, then, inside, the chunk
// buffers (nested guards); each level frees its own. Five size symbols (B, H, T, K,
// V): the status word is %sizes[5].
// CHECK-LABEL: func.func @decay(
// CHECK-SAME: %[[RSIZES:arg4]]: memref<?xi64>
// CHECK: %[[STATE:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: memref.extract_aligned_pointer_as_index %[[STATE]]
// CHECK: scf.if %{{[0-9]+}} {
// CHECK: %[[LOGGATE:.*]] = memref.alloc(%c16{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: memref.extract_aligned_pointer_as_index %[[LOGGATE]]
// CHECK: scf.if %{{[0-9]+}} {
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16
// CHECK: } else {
// CHECK: memref.atomic_rmw maxs %{{.*}}, %[[RSIZES]][%c5{{.*}}]
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[LOGGATE]]
// CHECK: } else {
// CHECK: memref.atomic_rmw maxs %{{.*}}, %[[RSIZES]][%c5{{.*}}]
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[STATE]]
// CHECK: return
tmix.recurrence @decay(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 16>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %S, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %o = tmix.vecmat %k_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
