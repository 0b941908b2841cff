//===- VectorRows.cpp - Row combinations of f32 buffers as vectors --------===//
//
// One vector accumulator per kRowLanes columns: the sum over s runs inside the
// column loop, so the accumulator lives in a register and each term is one
// broadcast, one load and one FMA. The old row is scaled into the accumulator before
// the sum (combineRows) or handed with the sum to a formula after it (combineRowsInto).
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/VectorRows.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tmix;

/// combineRows (a `scale`, or none) and combineRowsInto (a `finish`) alike, for the
/// block of output rows `dstRows` at once: each row loaded from `rows` feeds every
/// output row's accumulators. The rows summed: first .. first + count - 1 (`first`
/// null: from 0).
static void buildCombination(KernelBuilder &kb, Value dst, ArrayRef<Value> dstRows,
                             Value length, ArrayRef<Value> scales,
                             function_ref<Value(Value old, Value sum)> finish,
                             function_ref<Value(unsigned r, Value s)> weight, Value rows,
                             Value first, Value count) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto vectorType = VectorType::get({kRowLanes}, b.getF32Type());
  auto maskType = VectorType::get({kRowLanes}, b.getI1Type());
  Value zeros = arith::ConstantOp::create(b, DenseElementsAttr::get(vectorType, 0.0f));
  int64_t numRows = static_cast<int64_t>(dstRows.size());
  int64_t width = kRowLanes * kRowVectors;
  kb.loop(kb.index(0), length, kb.index(width), {}, [&](Value start, ValueRange) {
    // kRowVectors accumulators side by side per output row: independent FMA chains.
    SmallVector<Value> columns, masks, inits;
    for (int64_t part = 0; part < kRowVectors; ++part) {
      Value column = arith::AddIOp::create(b, start, kb.index(part * kRowLanes));
      Value left = arith::MaxSIOp::create(
          b, arith::SubIOp::create(b, length, column).getResult(), kb.index(0));
      Value lanes = arith::MinUIOp::create(b, left, kb.index(kRowLanes));
      columns.push_back(column);
      masks.push_back(vector::CreateMaskOp::create(b, maskType, ValueRange{lanes}));
    }
    for (auto [r, dstRow] : llvm::enumerate(dstRows))
      for (int64_t part = 0; part < kRowVectors; ++part) {
        Value init = zeros;
        if (!scales.empty()) {
          Value old = vector::MaskedLoadOp::create(
              b, vectorType, dst, ValueRange{dstRow, columns[part]}, masks[part], zeros);
          Value scale = scales.size() == 1 ? scales[0] : scales[r];
          init = arith::MulFOp::create(b, vector::BroadcastOp::create(b, vectorType, scale),
                                       old);
        }
        inits.push_back(init);
      }
    SmallVector<Value> sums =
        kb.loop(first ? first : kb.index(0),
                first ? arith::AddIOp::create(b, first, count).getResult() : count,
                kb.index(1), inits,
                [&](Value s, ValueRange acc) {
                  SmallVector<Value> loaded;
                  for (int64_t part = 0; part < kRowVectors; ++part)
                    loaded.push_back(vector::MaskedLoadOp::create(
                        b, vectorType, rows, ValueRange{s, columns[part]}, masks[part],
                        zeros));
                  SmallVector<Value> next;
                  for (int64_t r = 0; r < numRows; ++r) {
                    Value splat = vector::BroadcastOp::create(b, vectorType, weight(r, s));
                    for (int64_t part = 0; part < kRowVectors; ++part)
                      next.push_back(vector::FMAOp::create(b, splat, loaded[part],
                                                           acc[r * kRowVectors + part]));
                  }
                  return next;
                });
    for (int64_t r = 0; r < numRows; ++r)
      for (int64_t part = 0; part < kRowVectors; ++part) {
        Value result = sums[r * kRowVectors + part];
        if (finish) {
          Value old = vector::MaskedLoadOp::create(
              b, vectorType, dst, ValueRange{dstRows[r], columns[part]}, masks[part],
              zeros);
          result = finish(old, result);
        }
        vector::MaskedStoreOp::create(b, dst, ValueRange{dstRows[r], columns[part]},
                                      masks[part], result);
      }
    return SmallVector<Value>{};
  });
}

void mlir::tmix::combineRows(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                             Value scale, function_ref<Value(Value)> weight, Value rows,
                             Value count) {
  buildCombination(
      kb, dst, dstRow, length, scale ? ArrayRef<Value>(scale) : ArrayRef<Value>(),
      /*finish=*/nullptr,
      [&](unsigned, Value s) { return weight(s); }, rows, /*first=*/Value(), count);
}

void mlir::tmix::combineRowsInto(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                                 function_ref<Value(Value old, Value sum)> finish,
                                 function_ref<Value(Value)> weight, Value rows,
                                 Value count) {
  buildCombination(
      kb, dst, dstRow, length, /*scales=*/{}, finish,
      [&](unsigned, Value s) { return weight(s); }, rows, /*first=*/Value(), count);
}

void mlir::tmix::combineRowBlock(KernelBuilder &kb, Value dst, ArrayRef<Value> dstRows,
                                 Value length, ArrayRef<Value> scales,
                                 function_ref<Value(unsigned r, Value s)> weight,
                                 Value rows, Value first, Value count) {
  buildCombination(kb, dst, dstRows, length, scales, /*finish=*/nullptr, weight, rows,
                   first, count);
}

void mlir::tmix::forRowBlocks(KernelBuilder &kb, Value begin, Value end,
                              function_ref<void(ArrayRef<Value> rows)> body) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value block = kb.index(kRowBlock);
  Value whole = arith::SubIOp::create(
      b, end, arith::RemUIOp::create(b, arith::SubIOp::create(b, end, begin), block));
  kb.loop(begin, whole, block, {}, [&](Value first, ValueRange) {
    SmallVector<Value> rows;
    for (int64_t r = 0; r < kRowBlock; ++r)
      rows.push_back(arith::AddIOp::create(b, first, kb.index(r)));
    body(rows);
    return SmallVector<Value>{};
  });
  kb.loop(whole, end, kb.index(1), {}, [&](Value row, ValueRange) {
    body(row);
    return SmallVector<Value>{};
  });
}
