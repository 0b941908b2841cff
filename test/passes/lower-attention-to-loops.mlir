// RUN: tmix-opt %s --tmix-schedule="block-m=4 block-n=8" --tmix-lower-attention-to-loops | FileCheck %s --implicit-check-not=tmix.attention --implicit-check-not=tmix.mask

// The program of a causal GQA spec with lse: the ABI signature, the grid, the mask
// inlined in the score loop, exp2-based online softmax, fully masked rows handled.
// CHECK-LABEL: func.func @causal(
// CHECK-SAME: %arg0: i64, %arg1: memref<?x?x?x?xbf16>, %arg2: memref<?x?x?x?xbf16>, %arg3: memref<?x?x?x?xbf16>,
// CHECK-SAME: %arg4: memref<?x?x?x?xbf16>, %arg5: memref<?x?x?xf32>, %[[SIZES:arg6]]: memref<?xi64>)
// CHECK-SAME: llvm.emit_c_interface
// CHECK-SAME: tmix.grid = {{\[\[}}"B", 1], ["H", 1], ["N", 4]]
// CHECK-SAME: tmix.size_symbols = ["B", "H", "N", "HK", "M"]
// CHECK: memref.load %[[SIZES]]
// The default scale 1/sqrt(D) with log2(e) folded in.
// CHECK: math.sqrt
// CHECK: arith.constant 1.44269502 : f32
// The query rows, the K^T tile, a row of scores, and per row m, l and acc.
// CHECK: memref.alloca({{.*}}) : memref<4x?xf32>
// CHECK: memref.alloca({{.*}}) : memref<?x8xf32>
// CHECK: memref.alloca() : memref<8xf32>
// CHECK: memref.alloca() : memref<4xf32>
// CHECK: memref.alloca() : memref<4xf32>
// CHECK: memref.alloca({{.*}}) : memref<4x?xf32>
// The query rows are loaded (bf16 widened) once; then the KV tile loop.
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: scf.for %{{.*}} step %c8
// CHECK: arith.cmpi sle
// CHECK: scf.if
// S = q K^T as one vector FMA per head-dim element.
// CHECK: vector.load {{.*}} : memref<?x8xf32>, vector<8xf32>
// CHECK: vector.fma
// CHECK: arith.maximumf
// CHECK: math.exp2
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK: arith.cmpf oeq
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: math.log2
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

// Block sparsity: the mask is bounded over a KV tile's key range [j0, j1 - 1] by
// interval arithmetic (the run-time window scalar included), first for all the rows of
// the program, then for each row; a tile is skipped where the mask cannot be true, and
// runs without the mask where it cannot be false.
// CHECK-LABEL: func.func @window(
// CHECK: scf.for %{{.*}} step %c8
// The whole query tile against the tile's keys: skipped, K^T not even staged, when the
// mask cannot be true anywhere on it.
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.subi
// CHECK: arith.subi
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sge
// CHECK: arith.ori
// CHECK-NEXT: %[[TILE_TRUE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[TILE_TRUE]] {
// CHECK: memref.store {{.*}} : memref<?x8xf32>
// Then each row: skipped, run without the mask, or with it.
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.cmpi slt
// CHECK: arith.cmpi sge
// CHECK: %[[CAN_FALSE:.*]] = arith.ori
// CHECK-NEXT: %[[CAN_TRUE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[CAN_TRUE]] {
// CHECK-NEXT: scf.if %[[CAN_FALSE]] {
// The partial row evaluates the mask per key, the full one does not.
// CHECK: vector.fma
// CHECK: arith.cmpi sle
// CHECK: } else {
// CHECK: vector.fma
// CHECK-NOT: arith.cmpi sle
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
