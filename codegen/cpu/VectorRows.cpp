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

/// combineRows (a `scale`, or none) and combineRowsInto (a `finish`) alike.
static void buildCombination(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                             Value scale,
                             function_ref<Value(Value old, Value sum)> finish,
                             function_ref<Value(Value)> weight, Value rows, Value count) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto vectorType = VectorType::get({kRowLanes}, b.getF32Type());
  auto maskType = VectorType::get({kRowLanes}, b.getI1Type());
  Value zeros = arith::ConstantOp::create(b, DenseElementsAttr::get(vectorType, 0.0f));
  int64_t width = kRowLanes * kRowVectors;
  kb.loop(kb.index(0), length, kb.index(width), {}, [&](Value start, ValueRange) {
    // kRowVectors accumulators side by side: independent FMA chains.
    SmallVector<Value> columns, masks, inits;
    for (int64_t part = 0; part < kRowVectors; ++part) {
      Value column = arith::AddIOp::create(b, start, kb.index(part * kRowLanes));
      Value left = arith::MaxSIOp::create(
          b, arith::SubIOp::create(b, length, column).getResult(), kb.index(0));
      Value lanes = arith::MinUIOp::create(b, left, kb.index(kRowLanes));
      Value mask = vector::CreateMaskOp::create(b, maskType, ValueRange{lanes});
      Value init = zeros;
      if (scale) {
        Value old = vector::MaskedLoadOp::create(b, vectorType, dst,
                                                 ValueRange{dstRow, column}, mask, zeros);
        init = arith::MulFOp::create(b, vector::BroadcastOp::create(b, vectorType, scale),
                                     old);
      }
      columns.push_back(column);
      masks.push_back(mask);
      inits.push_back(init);
    }
    SmallVector<Value> sums =
        kb.loop(kb.index(0), count, kb.index(1), inits, [&](Value s, ValueRange acc) {
          Value splat = vector::BroadcastOp::create(b, vectorType, weight(s));
          SmallVector<Value> next;
          for (int64_t part = 0; part < kRowVectors; ++part) {
            Value row = vector::MaskedLoadOp::create(
                b, vectorType, rows, ValueRange{s, columns[part]}, masks[part], zeros);
            next.push_back(vector::FMAOp::create(b, splat, row, acc[part]));
          }
          return next;
        });
    for (int64_t part = 0; part < kRowVectors; ++part) {
      Value result = sums[part];
      if (finish) {
        Value old = vector::MaskedLoadOp::create(
            b, vectorType, dst, ValueRange{dstRow, columns[part]}, masks[part], zeros);
        result = finish(old, result);
      }
      vector::MaskedStoreOp::create(b, dst, ValueRange{dstRow, columns[part]},
                                    masks[part], result);
    }
    return SmallVector<Value>{};
  });
}

void mlir::tmix::combineRows(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                             Value scale, function_ref<Value(Value)> weight, Value rows,
                             Value count) {
  buildCombination(kb, dst, dstRow, length, scale, /*finish=*/nullptr, weight, rows,
                   count);
}

void mlir::tmix::combineRowsInto(KernelBuilder &kb, Value dst, Value dstRow, Value length,
                                 function_ref<Value(Value old, Value sum)> finish,
                                 function_ref<Value(Value)> weight, Value rows,
                                 Value count) {
  buildCombination(kb, dst, dstRow, length, /*scale=*/Value(), finish, weight, rows,
                   count);
}
