// RUN: tmix-opt %s --split-input-file --verify-diagnostics --tmix-derive-attention-grad=recompute-dq=1 --tmix-tile-attention-grad --tmix-lower-attention-grad-to-nvgpu --canonicalize --cse | FileCheck %s --implicit-check-not=tmix.attention_grad --implicit-check-not=tmix_tile --implicit-check-not="atomic_rmw addf"
// RUN: not tmix-opt %s --split-input-file --tmix-derive-attention-grad --tmix-tile-attention-grad --tmix-lower-attention-grad-to-nvgpu 2>&1 | FileCheck %s --check-prefix=SPLITS
// RUN: not tmix-opt %s --split-input-file --tmix-derive-attention-grad=recompute-dq=1 --tmix-tile-attention-grad --tmix-lower-attention-grad-to-nvgpu=specialize=D=32 2>&1 | FileCheck %s --check-prefix=FIXED

// Without recompute-dq the parts pass dq in d_q_partial, which the GPU kernels do not
// sum: an error that says how to derive them.
// SPLITS: error: 'tmix.attention_grad' op the GPU kernels sum dq by recomputing it in part "query": derive the backward with recompute-dq

// A causal bf16 spec, D = DV = 64. Part "query": one CTA of 128 threads per 64 query
// rows, registers up to 255 (.maxnreg), Q, d_o, K, V [64, 64 + 8] and the rows' lse
// and D in dynamic shared memory; Q and d_o copied with cp.async and the rows' lse
// (log2 domain) and D = d_o . o staged once; then the KV tiles the mask keeps for the
// CTA, each staged between two barriers, classified per warp; dq stored at the end.
// No atomics anywhere (the implicit check).
// CHECK-LABEL: gpu.func @causal_grad_q(
// CHECK-SAME: %arg0: memref<?x?x?x?xbf16>, %arg1: memref<?x?x?x?xbf16>, %arg2: memref<?x?x?x?xbf16>, %arg3: memref<?x?x?x?xbf16>, %arg4: memref<?x?x?xf32>, %arg5: memref<?x?x?x?xbf16>, %arg6: memref<?x?x?x?xbf16>, %arg7: memref<?xi64>) kernel
// CHECK-SAME: nvvm.maxnreg = 255 : i32
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:64], threads = 128, shared_bytes = 37376>
// CHECK-COUNT-4: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: memref.view {{.*}} to memref<64xf32, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy %arg0
// CHECK: nvgpu.device_async_copy %arg5
// CHECK: scf.for %{{.*}} = %thread_id_x to %c64 step %c128
// CHECK: arith.mulf {{.*}} : f32
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for {{.*}} step %c64 iter_args({{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// CHECK: scf.if
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy %arg1
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvvm.mma.sync
// CHECK: ex2.approx.ftz.f32
// dq += dS K: K read transposed.
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// The warp's tile classes: partial tiles with the mask, full ones without, empty ones
// skipped.
// CHECK: tmix.tile_classes = ["partial", "full"]
// CHECK: tmix.tile_classes = ["non-empty", "empty"]
// CHECK: memref.store {{.*}}, %arg6[
// CHECK: gpu.return

// Part "key_value": one CTA per 64 keys of a KV head; K and V staged once, then the
// query heads of the group and their tiles of 64 rows (one walk summing dk and dv at
// D + DV = 128), dk and dv stored at the end.
// CHECK-LABEL: gpu.func @causal_grad_kv(
// CHECK-SAME: %arg6: memref<?x?x?x?xbf16>, %arg7: memref<?x?x?x?xbf16>, %arg8: memref<?xi64>) kernel
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, HK:1, M:64], threads = 128, shared_bytes = 37376>
// CHECK: nvgpu.device_async_copy %arg1
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: %{{.*}}:16 = scf.for {{.*}} step %c1 iter_args
// CHECK: scf.for {{.*}} step %c64 iter_args
// CHECK: gpu.barrier
// CHECK: nvgpu.device_async_copy %arg0
// CHECK: nvgpu.device_async_copy %arg5
// CHECK: gpu.barrier
// CHECK: ex2.approx.ftz.f32
// dv += P^T d_o and dk += dS^T Q: d_o and Q read transposed.
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: tmix.tile_classes = ["non-empty", "empty"]
// CHECK: memref.store {{.*}}, %arg6[
// CHECK: memref.store {{.*}}, %arg7[
// CHECK: gpu.return

tmix.attention @causal(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, HK, M, 64], bf16>, %v: !tmix.tensor<[B, HK, M, 64], bf16>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.cmpi sle, %j, %i : i64
    tmix.yield %0 : i1
  }
}

// -----

// D = DV = 128 in f16, the forward with lse among its outputs (so d_lse joins D): part
// "key_value" walks the rows twice, dv first (8 x 4 accumulators) and stored, then dk.
// CHECK-LABEL: gpu.func @wide_grad_q(
// CHECK-SAME: %arg6: memref<?x?x?xf32>, %arg7: memref<?x?x?x?xf16>
// CHECK: arith.subf
// CHECK-LABEL: gpu.func @wide_grad_kv(
// CHECK: %{{.*}}:16 = scf.for
// CHECK: memref.store {{.*}}, %arg8[
// CHECK: %{{.*}}:16 = scf.for
// CHECK: memref.store {{.*}}, %arg7[

tmix.attention @wide(%q: !tmix.tensor<[B, H, N, 128], f16>, %k: !tmix.tensor<[B, HK, M, 128], f16>, %v: !tmix.tensor<[B, HK, M, 128], f16>) -> (o: !tmix.tensor<[B, H, N, 128], f16>, lse: !tmix.tensor<[B, H, N], f32>) {
}

// -----

// A symbolic head dim fixed by `specialize`, recorded for the runtime to check (that
// run fails on the other error cases, hence `not`).
// FIXED-LABEL: gpu.func @symbolic_grad_q(
// FIXED-SAME: specialized = {D = 32}>
// FIXED: memref<64x40xbf16, #gpu.address_space<workgroup>>

// expected-error@+1 {{the GPU code generator needs the head dims}}
tmix.attention @symbolic(%q: !tmix.tensor<[B, H, N, D], bf16>, %k: !tmix.tensor<[B, H, N, D], bf16>, %v: !tmix.tensor<[B, H, N, D], bf16>) -> (o: !tmix.tensor<[B, H, N, D], bf16>) {
}

// -----

// expected-error@+1 {{the GPU code generator supports head dims that are multiples of 16 up to 256 in the backward, not 288}}
tmix.attention @too_wide(%q: !tmix.tensor<[B, H, N, 288], bf16>, %k: !tmix.tensor<[B, H, N, 288], bf16>, %v: !tmix.tensor<[B, H, N, 288], bf16>) -> (o: !tmix.tensor<[B, H, N, 288], bf16>) {
}

// -----

// Rope at D = 144: above 128 columns dq and dk are summed in blocks that hold both
// columns of each rotated pair, whole 16-column groups of each half (72 is not).
// expected-error@+1 {{has rope and D = 144: the GPU backward needs D a multiple of 32 above D = 128}}
tmix.attention @rope_odd_groups(%q: !tmix.tensor<[B, H, N, 144], bf16>, %k: !tmix.tensor<[B, H, N, 144], bf16>, %v: !tmix.tensor<[B, H, N, 144], bf16>) -> (o: !tmix.tensor<[B, H, N, 144], bf16>) {
  tmix.rope {
    %cst = arith.constant 1.000000e+04 : f32
    tmix.yield %cst : f32
  }
}

// -----

// RoPE: q and k rotated as they are staged (through registers: no cp.async of them),
// d_o and v copied with cp.async; dq (and dk) rotated back by the opposite angle as
// they are stored, column p with column p + 32 (fragments nt and nt + 4 of a thread).
// CHECK-LABEL: gpu.func @rotary_grad_q(
// CHECK-NOT: nvgpu.device_async_copy %arg0
// CHECK: math.cos
// CHECK: nvgpu.device_async_copy %arg5
// CHECK-NOT: nvgpu.device_async_copy %arg1
// CHECK: math.cos
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: arith.negf
// CHECK-NEXT: math.cos
// CHECK: memref.store %{{.*}}, %arg6[%{{.*}}, %{{.*}}, %[[ROW:.*]], %[[LOW:.*]]] : memref<?x?x?x?xf16>
// CHECK: memref.store %{{.*}}, %arg6[%{{.*}}, %{{.*}}, %[[ROW]], %{{.*}}] : memref<?x?x?x?xf16>
// CHECK-LABEL: gpu.func @rotary_grad_kv(
// CHECK-NOT: nvgpu.device_async_copy %arg1
// CHECK: nvgpu.device_async_copy %arg2
// CHECK: arith.negf
// CHECK-NEXT: math.cos
// CHECK: memref.store %{{.*}}, %arg6[
tmix.attention @rotary(%q: !tmix.tensor<[B, H, N, 64], f16>, %k: !tmix.tensor<[B, H, N, 64], f16>, %v: !tmix.tensor<[B, H, N, 64], f16>) -> (o: !tmix.tensor<[B, H, N, 64], f16>) {
  tmix.rope {
    %cst = arith.constant 1.000000e+04 : f32
    tmix.yield %cst : f32
  }
}

// -----

// A per-head bias (the element its terms go to depends on h alone): part "params" runs
// 64 CTAs per head (bias[h] owns the head dim), each walking one of 64 pieces of the
// head's (batch, tile of 64 rows) in one flat loop: the sum restarts at 0 where a
// batch or the piece starts; a barrier, then each tile walked as part "query" does,
// each thread summing its pairs' terms in f64; where a batch or the piece ends the CTA
// adds the threads' sums in a fixed tree in shared memory and thread 0 stores the
// total in the workspace, after a counter per CTA, at ((head, batch) x 64 + piece).
// Then thread 0 counts the CTA in (fences around a relaxed integer add: the only
// atomic), and the head's last CTA zeroes bias's gradient and adds, batch by batch,
// the sum of the pieces that meet the batch's tiles, in piece order.
// CHECK-LABEL: gpu.func @biased_grad_params(
// CHECK-SAME: %[[OUT:arg7]]: memref<?xf32>, %{{.*}}: memref<?xi64>, %[[WORK:arg9]]: memref<?xi64>)
// CHECK-SAME: grid = [H:1, 64:1], threads = 128, shared_bytes = {{[0-9]+}}, workspace = 64 per [B, H]>
// CHECK: %[[PIECE:.*]] = arith.remui %block_id_x, %c64
// CHECK: %[[PROGRAM:.*]] = arith.divui %block_id_x, %c64
// CHECK: %[[HEAD:.*]] = arith.remui %[[PROGRAM]]
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK: %[[ALL:.*]] = arith.muli %{{.*}}, %[[TILES]]
// CHECK: %[[BEGIN:.*]] = arith.divui %{{.*}}, %c64
// CHECK: %[[END:.*]] = arith.divui %{{.*}}, %c64
// CHECK: %[[BLOCKS:.*]] = gpu.grid_dim x
// CHECK: scf.for %[[AT:.*]] = %[[BEGIN]] to %[[END]] step %c1 iter_args(%[[SUM:.*]] = %cst{{.*}}) -> (f64) {
// CHECK: %[[BATCH:.*]] = arith.divui %[[AT]], %[[TILES]]
// CHECK: %[[TILE:.*]] = arith.remui %[[AT]], %[[TILES]]
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TILE]], %c0
// CHECK: %[[LAST:.*]] = arith.cmpi eq, %[[TILE]]
// CHECK: %[[PIECE_FIRST:.*]] = arith.cmpi eq, %[[AT]], %[[BEGIN]]
// CHECK: %[[STARTS:.*]] = arith.ori %[[FIRST]], %[[PIECE_FIRST]]
// CHECK: %[[ENDS:.*]] = arith.ori %[[LAST]], %{{.*}} : i1
// CHECK: arith.select %[[STARTS]], %cst{{.*}}, %[[SUM]] : f64
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.mma.sync
// CHECK: %[[TERM:.*]] = arith.extf %{{.*}} : f32 to f64
// CHECK-NEXT: arith.addf %{{.*}}, %[[TERM]] : f64
// CHECK: scf.if %[[ENDS]] {
// CHECK: arith.cmpi ult, %thread_id_x, %c64
// CHECK: %[[TOTAL:.*]] = memref.load %{{.*}}[%c0] : memref<128xf64, #gpu.address_space<workgroup>>
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[LEADER:.*]] = arith.cmpi eq, %thread_id_x, %c0
// CHECK-NEXT: scf.if %[[LEADER]] {
// CHECK-NEXT: %[[BITS:.*]] = arith.bitcast %[[TOTAL]] : f64 to i64
// CHECK-NEXT: %[[ROW:.*]] = arith.muli %[[PROGRAM]]
// CHECK-NEXT: %[[GROUP:.*]] = arith.addi %[[ROW]], %[[BATCH]]
// CHECK-NEXT: %[[SLOT:.*]] = arith.muli %[[GROUP]], %c64
// CHECK-NEXT: %[[OWN:.*]] = arith.addi %[[SLOT]], %[[PIECE]]
// CHECK-NEXT: %[[WORD:.*]] = arith.addi %[[BLOCKS]], %[[OWN]]
// CHECK-NEXT: memref.store %[[BITS]], %[[WORK]][%[[WORD]]] : memref<?xi64>
// CHECK: scf.if %[[LEADER2:.*]] {
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: %[[COUNTED:.*]] = memref.atomic_rmw addi %c1_i64, %[[WORK]][%[[PROGRAM]]]
// CHECK-NEXT: %[[LAST_CTA:.*]] = arith.cmpi eq, %[[COUNTED]], %c63_i64
// CHECK-NEXT: scf.if %[[LAST_CTA]] {
// CHECK-NEXT: nvvm.memory.barrier <gpu>
// CHECK-NEXT: scf.if %[[LEADER2]] {
// CHECK-NEXT: memref.store %{{.*}}, %[[OUT]][%[[HEAD]]]
// CHECK: scf.for %[[GROUP2:.*]] = %c0 to
// CHECK: %[[FROM:.*]] = arith.divui %{{.*}}, %[[ALL]]
// CHECK: %[[TO:.*]] = arith.divui %{{.*}}, %[[ALL]]
// CHECK-NEXT: %[[PAST:.*]] = arith.addi %[[TO]], %c1
// CHECK-NEXT: %[[PIECES:.*]] = scf.for %[[P:.*]] = %[[FROM]] to %[[PAST]] step %c1 iter_args(%[[ACC:.*]] = %cst{{.*}}) -> (f64) {
// CHECK: %[[STORED:.*]] = memref.load %[[WORK]][%{{.*}}] : memref<?xi64>
// CHECK-NEXT: %[[PART:.*]] = arith.bitcast %[[STORED]] : i64 to f64
// CHECK-NEXT: arith.addf %[[ACC]], %[[PART]] : f64
// CHECK: %[[TOTAL32:.*]] = arith.truncf %[[PIECES]] : f64 to f32
// CHECK: %[[OLD:.*]] = memref.load %[[OUT]][%[[HEAD]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[TOTAL32]]
// CHECK-NEXT: memref.store %[[NEW]], %[[OUT]][%[[HEAD]]]
tmix.attention @biased(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %bias: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = tmix.read %bias[%h] : !tmix.tensor<[H], f32> -> f32
    %1 = arith.addf %s, %0 : f32
    tmix.yield %1 : f32
  }
}

// -----

// A learned sink per head: part "params" is a kernel of a CTA per head (sinks[h] owns
// the head dim) that zeroes its element, then per batch sums the rows' terms
// exp2(sink - lse_i log2 e) D_i, thread by thread and then in a fixed tree in shared
// memory, and thread 0 adds their negated total.
// CHECK-LABEL: gpu.func @sinks_grad_params(
// CHECK-SAME: %[[SINKS:arg3]]: memref<?xf32>
// CHECK-SAME: %[[OUT:arg7]]: memref<?xf32>
// CHECK-SAME: grid = [H:1], threads = 128, shared_bytes = 512
// CHECK: %[[HEAD:.*]] = arith.remui %block_id_x
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[LEADER:.*]] = arith.cmpi eq, %[[TID]], %c0
// CHECK: scf.if %[[LEADER]] {
// CHECK-NEXT: memref.store %{{.*}}, %[[OUT]][%[[HEAD]]]
// CHECK: scf.for %[[BATCH:.*]] = %c0 to
// CHECK: memref.load %[[SINKS]]
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %c128
// CHECK: ex2.approx
// CHECK: gpu.barrier
// CHECK: arith.cmpi ult, %[[TID]], %c64
// CHECK: gpu.barrier
// CHECK: arith.cmpi ult, %[[TID]], %c1 :
// CHECK: gpu.barrier
// CHECK-NEXT: memref.load %{{.*}}[%c0]
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: scf.if %[[LEADER]] {
// CHECK: arith.negf
// CHECK: memref.store %{{.*}}, %[[OUT]][
tmix.attention @sinks(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %sinks: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %0 = tmix.read %sinks[%h] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %0 : f32
  }
}

// -----

// D = 256 with rope (Gemma): 128 columns of an accumulator per walk, the walks a loop
// over the blocks. dq and dk (rope) take 64 columns of each half per block (block base
// 0 then 64: columns [0, 64) and [128, 192), then [64, 128) and [192, 256)), dv 128
// contiguous columns (base 0 then 128). Four 64 x 264 bf16 tiles: 135168 bytes.
// CHECK-LABEL: gpu.func @gemma_grad_q(
// CHECK-SAME: shared_bytes = 135680
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c64 {
// CHECK-LABEL: gpu.func @gemma_grad_kv(
// CHECK-SAME: shared_bytes = 135680
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c128 {
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c64 {
tmix.attention @gemma(%q: !tmix.tensor<[B, H, N, 256], bf16>, %k: !tmix.tensor<[B, H, N, 256], bf16>, %v: !tmix.tensor<[B, H, N, 256], bf16>) -> (o: !tmix.tensor<[B, H, N, 256], bf16>) {
  tmix.rope {
    %cst = arith.constant 1.000000e+04 : f32
    tmix.yield %cst : f32
  }
}

// -----

// A pair bias [B, H, N, M] read at exactly (b, h, i, j): part "params" walks the keys
// of its 64 rows as part "query" does (grid B x H x N/64), after zeroing its rows'
// elements, and adds each pair's term (dS itself, here) to its own element: no sums
// across pairs, no atomics.
// CHECK-LABEL: gpu.func @pair_grad_params(
// CHECK-SAME: %[[PAIR:arg7]]: memref<?x?x?x?xf32>
// CHECK-SAME: grid = [B:1, H:1, N:64]
// CHECK: scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128 {
// CHECK: memref.store %cst{{.*}}, %[[PAIR]]
// CHECK: gpu.barrier
// CHECK: nvvm.mma.sync
// CHECK: %[[OLD:.*]] = memref.load %[[PAIR]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]]
// CHECK-NEXT: memref.store %[[NEW]], %[[PAIR]]
tmix.attention @pair(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, M, 64], bf16>, %v: !tmix.tensor<[B, H, M, 64], bf16>, %pair: !tmix.tensor<[B, H, N, M], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = tmix.read %pair[%b, %h, %i, %j] : !tmix.tensor<[B, H, N, M], f32> -> f32
    %1 = arith.addf %s, %0 : f32
    tmix.yield %1 : f32
  }
}

// -----

// A relative-position table (its elements' index i - j + N: one pair per row): each
// tile's terms in shared memory [64, 65] (a store per pair, after each thread zeroed
// its own), then, after a barrier, each element of the band the tile touches summed by
// the thread that owns it over the rows that hold one of its pairs, in order, and added
// to the table; a barrier after.
// CHECK-LABEL: gpu.func @relative_grad_params(
// CHECK-SAME: %[[TABLE:arg7]]: memref<?x?xf32>
// CHECK-SAME: grid = [H:1]
// CHECK: %[[TERMS:.*]] = memref.view {{.*}} to memref<64x65xf32, #gpu.address_space<workgroup>>
// CHECK: memref.store %cst{{.*}}, %[[TERMS]]
// CHECK: nvvm.mma.sync
// CHECK: memref.store %{{.*}}, %[[TERMS]]
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128 {
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step %c1 iter_args(%{{.*}} = %cst{{.*}}) -> (f32) {
// CHECK: memref.load %[[TERMS]][%[[ROW]], %{{.*}}]
// CHECK: %[[OLD:.*]] = memref.load %[[TABLE]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]]
// CHECK-NEXT: memref.store %[[NEW]], %[[TABLE]]
// CHECK: gpu.barrier
tmix.attention @relative(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %bias: !tmix.tensor<[H, R], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = arith.subi %i, %j : i64
    %1 = tmix.size "N" : i64
    %2 = arith.addi %0, %1 : i64
    %3 = tmix.read %bias[%h, %2] : !tmix.tensor<[H, R], f32> -> f32
    %4 = arith.addf %s, %3 : f32
    tmix.yield %4 : f32
  }
}

// -----

// Buckets of distances (not a i + b j + c: many pairs per row for each element,
// TermClass::Gathered): a CTA per head; each pair's term and element go to shared
// tiles (kNoElement, the largest i64, where no pair was walked or the element is
// outside the table, so that a tile's elements span at most it); after the key tile,
// the CTA's lowest and highest elements (min and max trees); then window by window of
// 32 elements from the lowest, each thread adds its entries (t + 128 m, m in order)
// that fall in the window (an unsigned compare: below it is past it) into its row of
// sums, and after a barrier thread t < 32 sums column t over the 128 rows in order and
// adds it to element lowest + 32 w + t.
// CHECK-LABEL: gpu.func @bucketed_grad_params(
// CHECK-SAME: %[[TABLE:arg7]]: memref<?x?xf32>
// CHECK-SAME: grid = [H:1], threads = 128
// CHECK-NOT: workspace
// CHECK: %[[NONE:.*]] = arith.constant 9223372036854775807 : i64
// CHECK: %[[TERMS:.*]] = memref.view {{.*}} to memref<64x65xf32, #gpu.address_space<workgroup>>
// CHECK: %[[ELEMENTS:.*]] = memref.view {{.*}} to memref<64x64xi64, #gpu.address_space<workgroup>>
// CHECK: %[[ROWS:.*]] = memref.view {{.*}} to memref<128x33xf32, #gpu.address_space<workgroup>>
// CHECK: %[[BOUNDS:.*]] = memref.view {{.*}} to memref<128xi64, #gpu.address_space<workgroup>>
// CHECK: memref.dim %[[TABLE]], %c1
// CHECK: memref.store %[[NONE]], %[[ELEMENTS]]
// CHECK: %[[BUCKET:.*]] = arith.divsi %{{.*}}, %c4_i64
// CHECK: %[[ELEMENT:.*]] = arith.addi %[[BUCKET]]
// CHECK: memref.store %{{.*}}, %[[TERMS]][%[[R:.*]], %[[C:.*]]] :
// CHECK: %[[KEPT:.*]] = arith.select %{{.*}}, %[[ELEMENT]], %[[NONE]] : i64
// CHECK-NEXT: memref.store %[[KEPT]], %[[ELEMENTS]][%[[R]], %[[C]]] :
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args(%[[LOW:.*]] = %[[NONE]], %[[HIGH:.*]] = %c-9223372036854775808_i64)
// CHECK: %[[E:.*]] = memref.load %[[ELEMENTS]]
// CHECK-NEXT: %[[WALKED:.*]] = arith.cmpi ne, %[[E]], %[[NONE]]
// CHECK-NEXT: arith.minsi %[[LOW]], %[[E]]
// CHECK-NEXT: %[[MAX:.*]] = arith.maxsi %[[HIGH]], %[[E]]
// CHECK-NEXT: arith.select %[[WALKED]], %[[MAX]], %[[HIGH]]
// CHECK: arith.minsi
// CHECK: %[[LOWEST:.*]] = memref.load %[[BOUNDS]][%c0]
// CHECK: arith.maxsi
// CHECK: %[[HIGHEST:.*]] = memref.load %[[BOUNDS]][%c0]
// CHECK: %[[ANY:.*]] = arith.cmpi sle, %[[LOWEST]], %[[HIGHEST]]
// CHECK-NEXT: %[[SPREAD:.*]] = arith.subi %[[HIGHEST]], %[[LOWEST]]
// CHECK-NEXT: %[[FULL:.*]] = arith.divui %[[SPREAD]], %c32_i64
// CHECK-NEXT: %[[COUNT:.*]] = arith.addi %[[FULL]], %c1_i64
// CHECK-NEXT: %[[WINDOWS:.*]] = arith.select %[[ANY]], %[[COUNT]], %c0_i64
// CHECK: scf.for %[[W:.*]] = %c0 to
// CHECK: %[[BASE:.*]] = arith.addi %[[LOWEST]]
// CHECK: memref.store %{{.*}}, %[[ROWS]][%thread_id_x, %c31]
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c1 {
// CHECK: %[[OFFSET:.*]] = arith.subi %{{.*}}, %[[BASE]] : i64
// CHECK-NEXT: %[[IN:.*]] = arith.cmpi ult, %[[OFFSET]], %c32_i64 : i64
// CHECK-NEXT: scf.if %[[IN]] {
// CHECK: memref.load %[[ROWS]][%thread_id_x,
// CHECK: gpu.barrier
// CHECK: %[[OWNED:.*]] = arith.addi %[[BASE]]
// CHECK-NEXT: %[[REAL:.*]] = arith.cmpi sle, %[[OWNED]], %[[HIGHEST]]
// CHECK: scf.for %[[T:.*]] = %c0 to %c128 step %c1 iter_args(
// CHECK-NEXT: memref.load %[[ROWS]][%[[T]], %thread_id_x]
// CHECK: %[[OLD:.*]] = memref.load %[[TABLE]]
// CHECK-NEXT: arith.addf %[[OLD]]
// CHECK-NEXT: memref.store %{{.*}}, %[[TABLE]]
// CHECK: gpu.barrier
tmix.attention @bucketed(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %bias: !tmix.tensor<[H, R], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = arith.subi %i, %j : i64
    %c4 = arith.constant 4 : i64
    %1 = arith.divsi %0, %c4 : i64
    %2 = tmix.size "N" : i64
    %3 = arith.addi %1, %2 : i64
    %4 = tmix.read %bias[%h, %3] : !tmix.tensor<[H, R], f32> -> f32
    %5 = arith.addf %s, %4 : f32
    tmix.yield %5 : f32
  }
}

// -----

// Five reads at elements a i + b j + c: a tile of terms in shared memory each is more
// than the kernel keeps (4).
// expected-error@+1 {{the gradients of float arguments read in score (part "params") at more than 4 elements that depend on i or j, or at more than 2 that are not a i + b j + c with b = 1 or -1 (or a = 1 or -1 and b = 0), run on the CPU only so far (the GPU kernel keeps a tile of terms per read in shared memory)}}
tmix.attention @five_reads(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %bias: !tmix.tensor<[H, R], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %c1 = arith.constant 1 : i64
    %j1 = arith.addi %j, %c1 : i64
    %j2 = arith.addi %j1, %c1 : i64
    %j3 = arith.addi %j2, %c1 : i64
    %j4 = arith.addi %j3, %c1 : i64
    %0 = tmix.read %bias[%h, %j] : !tmix.tensor<[H, R], f32> -> f32
    %1 = tmix.read %bias[%h, %j1] : !tmix.tensor<[H, R], f32> -> f32
    %2 = tmix.read %bias[%h, %j2] : !tmix.tensor<[H, R], f32> -> f32
    %3 = tmix.read %bias[%h, %j3] : !tmix.tensor<[H, R], f32> -> f32
    %4 = tmix.read %bias[%h, %j4] : !tmix.tensor<[H, R], f32> -> f32
    %5 = arith.addf %s, %0 : f32
    %6 = arith.addf %5, %1 : f32
    %7 = arith.addf %6, %2 : f32
    %8 = arith.addf %7, %3 : f32
    %9 = arith.addf %8, %4 : f32
    tmix.yield %9 : f32
  }
}

// -----

// Pair biases beside a sink's params stay on the CPU (rope's theta beside them runs:
// emulated-attention-grad.test).
// expected-error@+1 {{the gradients of pair biases together with those of what the sink or the scale reads (part "params") run on the CPU only so far}}
tmix.attention @pair_and_sink(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %pair: !tmix.tensor<[B, H, N, N], f32>, %sinks: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = tmix.read %pair[%b, %h, %i, %j] : !tmix.tensor<[B, H, N, N], f32> -> f32
    %1 = arith.addf %s, %0 : f32
    tmix.yield %1 : f32
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %0 = tmix.read %sinks[%h] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %0 : f32
  }
}

// -----

// rope's theta (rope_rows): parts "query" and "key_value" sum each row's term of its
// gradient over the thread's pairs in f64 as they rotate dq and dk back, then over the
// quad's four lanes (two xor shuffles, every lane, before the branch on the row), and
// lane 4g stores it to their last result, d_rope_q [B, H, N] or d_rope_k; part
// "params", one CTA, sums d_rope_k's rows then d_rope_q's, thread t rows t, t + 128,
// ... of each (b, h) in f64, then the CTA's tree, and thread 0 hands the total to the
// rope_grad region.
// CHECK-LABEL: gpu.func @learned_theta_grad_q(
// CHECK-SAME: %[[QROWS:[a-z0-9]+]]: memref<?x?x?xf32>, %{{[a-z0-9]+}}: memref<?xi64>)
// CHECK: %[[TERM:[0-9]+]] = arith.truncf %{{[0-9]+}} : f64 to f32
// CHECK-NEXT: gpu.shuffle  xor %[[TERM]], %c1_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32
// CHECK: %[[ROW:.*]] = arith.addf
// CHECK: scf.if
// CHECK: arith.cmpi eq, %{{.*}}, %c0 : index
// CHECK-NEXT: scf.if
// CHECK-NEXT: memref.store %[[ROW]], %[[QROWS]]
// CHECK-LABEL: gpu.func @learned_theta_grad_kv(
// CHECK-SAME: %[[KROWS:[a-z0-9]+]]: memref<?x?x?xf32>, %{{[a-z0-9]+}}: memref<?xi64>)
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %[[KROWS]]
// CHECK-LABEL: gpu.func @learned_theta_grad_params(
// CHECK-SAME: %[[THETA:[a-z0-9]+]]: f64,
// CHECK-SAME: %[[KIN:[a-z0-9]+]]: memref<?x?x?xf32>, %[[QIN:[a-z0-9]+]]: memref<?x?x?xf32>, %[[DTHETA:[a-z0-9]+]]: memref<?xf32>
// CHECK: scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128
// CHECK: memref.load %[[KIN]]
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128
// CHECK: memref.load %[[QIN]]
// CHECK: gpu.barrier
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: memref.store %{{.*}}, %[[DTHETA]]
tmix.attention @learned_theta(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %theta: f32) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.rope {
    tmix.yield %theta : f32
  }
}

// -----

// rope's theta beside per-head slopes that the score reads: part "params" walks every
// pair on one CTA (no row splits, no workspace), then sums the rows' terms of theta.
// CHECK-LABEL: gpu.func @theta_and_slopes_grad_params(
// CHECK-SAME: %[[KIN:[a-z0-9]+]]: memref<?x?x?xf32>, %[[QIN:[a-z0-9]+]]: memref<?x?x?xf32>, %{{[a-z0-9]+}}: memref<?xf32>, %{{[a-z0-9]+}}: memref<?xf32>, %{{[a-z0-9]+}}: memref<?xi64>)
// CHECK-SAME: grid = [1:1]
// CHECK: nvvm.mma.sync
// CHECK: memref.load %[[KIN]]
// CHECK: memref.load %[[QIN]]
// CHECK: gpu.barrier
// CHECK: gpu.return
tmix.attention @theta_and_slopes(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %theta: f32, %slopes: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.rope {
    tmix.yield %theta : f32
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = tmix.read %slopes[%h] : !tmix.tensor<[H], f32> -> f32
    %1 = arith.addf %s, %0 : f32
    tmix.yield %1 : f32
  }
}

// -----

// A pair bias pooled 2 x 2: two indices of its element depend on the pair.
// expected-error@+1 {{elements with two or more indices that depend on the pair run on the CPU only so far}}
tmix.attention @pooled(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %pair: !tmix.tensor<[B, H, P, P], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %c2 = arith.constant 2 : i64
    %0 = arith.divsi %i, %c2 : i64
    %1 = arith.divsi %j, %c2 : i64
    %2 = tmix.read %pair[%b, %h, %0, %1] : !tmix.tensor<[B, H, P, P], f32> -> f32
    %3 = arith.addf %s, %2 : f32
    tmix.yield %3 : f32
  }
}

// -----

// Three reads through buckets: a tile of elements (32 KiB) each is more than the
// kernel keeps (2).
// expected-error@+1 {{or at more than 2 that are not a i + b j + c}}
tmix.attention @three_buckets(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>, %v: !tmix.tensor<[B, H, N, 64], bf16>, %bias: !tmix.tensor<[H, R], f32>) -> (o: !tmix.tensor<[B, H, N, 64], bf16>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = arith.subi %i, %j : i64
    %c2 = arith.constant 2 : i64
    %c3 = arith.constant 3 : i64
    %c4 = arith.constant 4 : i64
    %n = tmix.size "N" : i64
    %1 = arith.divsi %0, %c2 : i64
    %2 = arith.addi %1, %n : i64
    %3 = arith.divsi %0, %c3 : i64
    %4 = arith.addi %3, %n : i64
    %5 = arith.divsi %0, %c4 : i64
    %6 = arith.addi %5, %n : i64
    %7 = tmix.read %bias[%h, %2] : !tmix.tensor<[H, R], f32> -> f32
    %8 = tmix.read %bias[%h, %4] : !tmix.tensor<[H, R], f32> -> f32
    %9 = tmix.read %bias[%h, %6] : !tmix.tensor<[H, R], f32> -> f32
    %10 = arith.addf %s, %7 : f32
    %11 = arith.addf %10, %8 : f32
    %12 = arith.addf %11, %9 : f32
    tmix.yield %12 : f32
  }
}

// -----

// A hand-written part "params" that claims rope's theta per batch: the rows' sum is one
// program's, over every (b, h).
// expected-error@+1 {{sums rope's rows in a grid over b or h: theta reads neither (owned must be -1 for what rope reads)}}
tmix.attention_grad @claimed_grad_params(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, N, 64], bf16>,
                                         %v: !tmix.tensor<[B, H, N, 64], bf16>, %t: !tmix.tensor<[B], f32>,
                                         %o: !tmix.tensor<[B, H, N, 64], bf16>, %lse: !tmix.tensor<[B, H, N], f32>,
                                         %d_o: !tmix.tensor<[B, H, N, 64], bf16>,
                                         %d_rope_k: !tmix.tensor<[B, H, N], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>)
    -> (d_t: !tmix.tensor<[B], f32>)
    forward "claimed" part "params" rope_rows params [3] owned [0, -1] {
  tmix.rope {
    %c0 = arith.constant 0 : i64
    %0 = tmix.read %t[%c0] : !tmix.tensor<[B], f32> -> f32
    tmix.yield %0 : f32
  }
  tmix.rope_grad {
  ^bb0(%g: f32):
    %c0 = arith.constant 0 : i64
    tmix.accumulate %t[%c0], %g : !tmix.tensor<[B], f32>
    tmix.yield
  }
}
