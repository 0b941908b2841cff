//===- VectorRows.h - Row combinations of f32 buffers as vectors -*- C++ -*-===//
//
// The inner loops of the chunked recurrences are combinations of buffer rows,
// dst[r, :] = scale * dst[r, :] + sum_s w[s] * rows[s, :], over a contiguous row of
// run-time length. Written with vector<kRowLanes x f32> accumulators, masked loads
// and stores for the tail, so that each accumulator stays in a register across the
// sum instead of being loaded and stored per term.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_VECTORROWS_H
#define TMIX_CODEGEN_CPU_VECTORROWS_H

#include "passes/KernelBuilder.h"

namespace mlir::tmix {

/// f32 lanes per vector: one AVX-512 register (two AVX2 ones).
inline constexpr int64_t kRowLanes = 16;
/// Vectors per pass over a row: 4 x 16 columns (a head dim of 64 in one pass), four
/// independent FMA chains to hide the FMA latency.
inline constexpr int64_t kRowVectors = 4;

/// dst[dstRow, 0:length] = (scale ? scale * dst[dstRow, :] : 0)
///                         + sum_{s < count} weight(s) * rows[s, 0:length].
/// `dst` and `rows` are [?, ?] f32 buffers; `weight` emits the f32 weight of row s (a
/// load: it runs once per kRowLanes columns); `scale` is an f32 value or null (start
/// from 0).
void combineRows(KernelBuilder &kb, Value dst, Value dstRow, Value length, Value scale,
                 function_ref<Value(Value)> weight, Value rows, Value count);

/// Output rows per block of combineRowBlock: with kRowVectors accumulators each, 16
/// accumulators, 4 rows and a broadcast in AVX-512's 32 registers.
inline constexpr int64_t kRowBlock = 4;

/// combineRows for the output rows `dstRows` at once, over rows first .. first +
/// count - 1 of `rows`: each row of `rows` is loaded once for all of them; `weight(r,
/// s)` is the weight of row s in output row r. `scales`: none (start from 0), one for
/// every row, or one per row.
void combineRowBlock(KernelBuilder &kb, Value dst, ArrayRef<Value> dstRows, Value length,
                     ArrayRef<Value> scales,
                     function_ref<Value(unsigned r, Value s)> weight, Value rows,
                     Value first, Value count);

/// Calls `body` with rows begin .. end - 1 in blocks of kRowBlock, then the rest one
/// at a time.
void forRowBlocks(KernelBuilder &kb, Value begin, Value end,
                  function_ref<void(ArrayRef<Value> rows)> body);

/// dst[dstRow, 0:length] = finish(dst[dstRow, :], sum), where
/// sum = sum_{s < count} weight(s) * rows[s, 0:length], accumulated from 0; `finish` is
/// applied to each vector<kRowLanes x f32> of the row (the old lanes, the sum's), as the
/// formulas of passes/ChunkMath.h take them.
void combineRowsInto(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                     function_ref<Value(Value old, Value sum)> finish,
                     function_ref<Value(Value)> weight, Value rows, Value count);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_VECTORROWS_H
