// RUN: tmix-opt %s --tmix-schedule="block-m=4 block-n=8 lanes=16 vector-registers=32" --tmix-tile-attention --tmix-lower-attention-to-loops | FileCheck %s --implicit-check-not=tmix.attention --implicit-check-not=tmix.mask --implicit-check-not=tmix_tile

// The program of a causal GQA spec with lse: the ABI signature, the grid, rows in
// vector lanes, register-blocked micro-kernels, the mask inlined in the partial tiles,
// exp2-based online softmax, fully masked rows handled. With block_m = 4 the query
// rows fill one 16-lane vector; with block_n = 8 the K tile is one panel of 8 keys
// (the register block of one row vector on 32 registers is 14, capped by block_n).
// CHECK-LABEL: func.func @causal(
// CHECK-SAME: %arg0: i64, %arg1: memref<?x?x?x?xbf16>, %arg2: memref<?x?x?x?xbf16>, %arg3: memref<?x?x?x?xbf16>,
// CHECK-SAME: %arg4: memref<?x?x?x?xbf16>, %arg5: memref<?x?x?xf32>, %[[SIZES:arg6]]: memref<?xi64>)
// CHECK-SAME: llvm.emit_c_interface
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:4]>
// CHECK: memref.load %[[SIZES]]
// The default scale 1/sqrt(D) with log2(e) folded in.
// CHECK: math.sqrt
// CHECK: arith.constant 1.44269502 : f32
// Q^T [D, lanes], the (bf16, so staged) K and V tiles, S^T, O^T, m and l, on the heap
// (their sizes grow with the head dims and tiles; no stack bounds them).
// CHECK: %[[QT:.*]] = memref.alloc({{.*}}) : memref<?x16xf32>
// CHECK: %[[KT:.*]] = memref.alloc({{.*}}) : memref<8x?xf32>
// CHECK: %[[VT:.*]] = memref.alloc({{.*}}) : memref<8x?xf32>
// CHECK: %[[ST:.*]] = memref.alloc() : memref<8x16xf32>
// CHECK: %[[OT:.*]] = memref.alloc({{.*}}) : memref<?x16xf32>
// CHECK: %[[M:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[L:.*]] = memref.alloc() : memref<16xf32>
// The query rows are loaded (bf16 widened) once, transposed into Q^T.
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: memref.store {{.*}}, %[[QT]]
// Ranges of 8 KV tiles, then the tiles; each classified before it is staged.
// CHECK: scf.for %{{.*}} step %c64
// CHECK: scf.if
// CHECK: scf.for %{{.*}} step %c8
// CHECK: scf.if
// CHECK: scf.if
// K and V rows into their tiles.
// CHECK: memref.store {{.*}}, %[[KT]]
// CHECK: memref.store {{.*}}, %[[VT]]
// S^T = K Q^T: 8 accumulators carried over the head dim, one broadcast key each.
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %[[QT]]
// CHECK: memref.load %[[KT]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.store {{.*}}, %[[ST]]
// The partial tile evaluates the mask per (key, row).
// CHECK: arith.cmpi sle
// CHECK: arith.select
// The lane-wise online softmax.
// CHECK: arith.maximumf {{.*}} : vector<16xf32>
// CHECK: math.exp2 {{.*}} : vector<16xf32>
// CHECK: arith.select {{.*}} : vector<16xi1>, vector<16xf32>
// CHECK: vector.store {{.*}}, %[[M]]
// CHECK: vector.store {{.*}}, %[[L]]
// O^T = O^T * alpha + V^T P^T, 14 value columns per block, then the remaining columns
// in blocks of 8, 4, 2 and 1 (D = 64: 4 blocks of 14 and one of 8).
// CHECK: scf.for %{{.*}} step %c14
// CHECK: vector.load %[[OT]]
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: scf.for {{.*}} iter_args
// CHECK: vector.load %[[ST]]
// CHECK: memref.load %[[VT]]
// CHECK: vector.fma
// CHECK: vector.store {{.*}}, %[[OT]]
// CHECK: scf.for %{{.*}} step %c8
// CHECK: scf.for %{{.*}} step %c4
// CHECK: scf.for %{{.*}} step %c2
// CHECK: scf.for %{{.*}} step %c1
// The full tile: the same without the mask.
// CHECK: } else {
// CHECK-NOT: arith.cmpi sle
// CHECK: vector.fma
// CHECK: } {tmix.tile_classes = ["partial", "full"]}
// CHECK: } {tmix.tile_classes = ["non-empty", "empty"]}
// CHECK: } {tmix.tile_classes = ["non-empty", "empty"]}
// Per row: o = acc / l (0 for a fully masked row), narrowed to bf16, and lse.
// CHECK: arith.cmpf oeq
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: math.log2
// CHECK: memref.dealloc %[[QT]]
// CHECK: memref.dealloc %[[KT]]
// CHECK: memref.dealloc %[[VT]]
// CHECK: memref.dealloc %[[ST]]
// CHECK: memref.dealloc %[[OT]]
// CHECK: memref.dealloc %[[M]]
// CHECK: memref.dealloc %[[L]]
// CHECK-NEXT: return
tmix.attention @causal(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, HK, M, 64], bf16>,
                       %v: !tmix.tensor<[B, HK, M, 64], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 64], bf16>, lse: !tmix.tensor<[B, H, N], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %keep = arith.cmpi sle, %j, %i : i64
    tmix.yield %keep : i1
  }
}



// Scalars cross the ABI as f64/i64 and are narrowed to their declared type; a score
// statement keeps the plain scale and converts to the log2 domain after it; a tensor
// read is bounds-checked; the sink is added after the KV loop; rope rotates with
// cos/sin.
// CHECK-LABEL: func.func @extras(
// CHECK-SAME: %arg4: memref<?xf32>, %[[CAP:arg5]]: f64,
// CHECK: arith.truncf %[[CAP]] : f64 to f32
// CHECK: math.cos
// CHECK: math.sin
// CHECK: math.tanh
// CHECK: arith.constant 1.44269502 : f32
// CHECK: arith.cmpi slt
// CHECK: scf.if
// CHECK: memref.load
tmix.attention @extras(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>,
                       %v: !tmix.tensor<[B, H, N, D], f32>, %sinks: !tmix.tensor<[H], f32>, %cap: f32 = 30.0)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.rope {
    %theta = arith.constant 10000.0 : f32
    tmix.yield %theta : f32
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %x = arith.divf %s, %cap : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %t, %cap : f32
    tmix.yield %y : f32
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %x = tmix.read %sinks[%h] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %x : f32
  }
}

// Block sparsity: the mask is bounded over a key range [j0, j1 - 1] by interval
// arithmetic (the run-time window scalar included), for all the rows of the program:
// first over a range of 8 tiles (64 keys), then over each tile. A range or tile is
// skipped where the mask cannot be true anywhere on it, and a tile runs without the
// mask where the mask cannot be false. K and V are f32, so the micro-kernels read them
// in place: no staging buffers.
// CHECK-LABEL: func.func @window(
// CHECK-NOT: memref<8x?xf32>
// CHECK: scf.for %{{.*}} step %c64
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sge
// CHECK: arith.ori
// CHECK-NEXT: %[[RANGE_TRUE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[RANGE_TRUE]] {
// CHECK: scf.for %{{.*}} step %c8
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sge
// CHECK: %[[CAN_FALSE:.*]] = arith.ori
// CHECK-NEXT: %[[CAN_TRUE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[CAN_TRUE]] {
// CHECK-NEXT: scf.if %[[CAN_FALSE]] {
// The partial tile evaluates the mask per (key, row), the full one does not.
// CHECK: vector.fma
// CHECK: arith.cmpi sle
// CHECK: } else {
// CHECK: vector.fma
// CHECK-NOT: arith.cmpi sle
// CHECK: } {tmix.tile_classes = ["partial", "full"]}
// CHECK: arith.cmpf oeq
tmix.attention @window(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                       %v: !tmix.tensor<[B, H, N, 8], f32>, %w: i32 = 4)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.cmpi sle, %j, %i : i64
    %d = arith.subi %i, %j : i64
    %w64 = arith.extsi %w : i32 to i64
    %n = arith.cmpi slt, %d, %w64 : i64
    %keep = arith.andi %c, %n : i1
    tmix.yield %keep : i1
  }
}
