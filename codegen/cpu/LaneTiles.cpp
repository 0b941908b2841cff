//===- LaneTiles.cpp - Register-blocked products of lane-major tiles ------===//

#include "codegen/cpu/LaneTiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/bit.h"

using namespace mlir;
using namespace mlir::tmix;

int64_t tmix::registerBlock(int64_t groups, int64_t registers) {
  return std::max<int64_t>(1, (registers - 2 - groups) / (groups + 1));
}

LaneTiles::LaneTiles(KernelBuilder &kb, int64_t lanes, int64_t groups,
                     int64_t vectorRegisters)
    : kb(kb), laneCount(lanes), groupCount(groups),
      blockColumns(registerBlock(groups, vectorRegisters)),
      vectorType(VectorType::get({lanes}, kb.builder().getF32Type())) {}

Value LaneTiles::laneOffset(int64_t g) { return kb.index(g * laneCount); }

Value LaneTiles::splat(double value) {
  return arith::ConstantOp::create(kb.builder(),
                                   DenseElementsAttr::get(vectorType, float(value)));
}

Value LaneTiles::load(Value buffer, Value row, int64_t g) {
  ImplicitLocOpBuilder &b = kb.builder();
  if (row)
    return vector::LoadOp::create(b, vectorType, buffer, ValueRange{row, laneOffset(g)});
  return vector::LoadOp::create(b, vectorType, buffer, ValueRange{laneOffset(g)});
}

void LaneTiles::store(Value vector, Value buffer, Value row, int64_t g) {
  ImplicitLocOpBuilder &b = kb.builder();
  if (row)
    vector::StoreOp::create(b, vector, buffer, ValueRange{row, laneOffset(g)});
  else
    vector::StoreOp::create(b, vector, buffer, ValueRange{laneOffset(g)});
}

void LaneTiles::fill(Value buffer, Value end, double value, Value begin) {
  Value lanesValue = splat(value);
  kb.loop(begin ? begin : kb.index(0), end, kb.index(1), {}, [&](Value x, ValueRange) {
    for (int64_t g = 0; g < groupCount; ++g)
      store(lanesValue, buffer, x, g);
    return SmallVector<Value>{};
  });
}

SmallVector<Value>
LaneTiles::outerProducts(Value extent, ValueRange inits, Value rows,
                         function_ref<Value(Value x, int64_t c)> element) {
  ImplicitLocOpBuilder &b = kb.builder();
  int64_t columns = inits.size() / groupCount;
  return kb.loop(kb.index(0), extent, kb.index(1), inits, [&](Value x, ValueRange acc) {
    SmallVector<Value> rowVectors;
    for (int64_t g = 0; g < groupCount; ++g)
      rowVectors.push_back(load(rows, x, g));
    SmallVector<Value> next(acc.begin(), acc.end());
    for (int64_t c = 0; c < columns; ++c) {
      Value broadcast = vector::BroadcastOp::create(b, vectorType, element(x, c));
      for (int64_t g = 0; g < groupCount; ++g)
        next[c * groupCount + g] =
            vector::FMAOp::create(b, rowVectors[g], broadcast, next[c * groupCount + g]);
    }
    return next;
  });
}

void LaneTiles::storeLanes(ValueRange vectors, Value buffer, ArrayRef<Value> rows) {
  for (auto [c, row] : llvm::enumerate(rows))
    for (int64_t g = 0; g < groupCount; ++g)
      store(vectors[c * groupCount + g], buffer, row, g);
}

void LaneTiles::product(Value out, Value count, Value extent, Value rows,
                        function_ref<Value(Value x, Value col)> element,
                        function_ref<Value(Value col, int64_t g)> init) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value first = kb.index(0);
  for (int64_t width = blockColumns; width >= 1;
       width = width == blockColumns ? static_cast<int64_t>(llvm::bit_floor(uint64_t(width - 1)))
                                     : width / 2) {
    Value step = kb.index(width);
    Value end = arith::SubIOp::create(
        b, count, arith::RemUIOp::create(b, arith::SubIOp::create(b, count, first), step));
    kb.loop(first, end, step, {}, [&](Value block, ValueRange) {
      SmallVector<Value> columns, inits;
      for (int64_t c = 0; c < width; ++c) {
        columns.push_back(arith::AddIOp::create(b, block, kb.index(c)));
        for (int64_t g = 0; g < groupCount; ++g)
          inits.push_back(init(columns[c], g));
      }
      SmallVector<Value> sums = outerProducts(
          extent, inits, rows, [&](Value x, int64_t c) { return element(x, columns[c]); });
      storeLanes(sums, out, columns);
      return SmallVector<Value>{};
    });
    first = end;
    if (width == 1)
      break;
  }
}
