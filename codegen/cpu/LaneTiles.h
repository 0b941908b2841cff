//===- LaneTiles.h - Register-blocked products of lane-major tiles -*- C++ -*-===//
//
// The CPU's attention programs, forward and backward, keep one side of every tile in
// vector lanes: a buffer [extent, G*L] whose row x holds G vectors of L f32 lanes (the
// program's query rows, or its keys). A product with such a tile is a sum of outer
// products
//   out[c, g-th lane vector] = init(c, g) + sum_{x < extent} rows[x, g] * element(x, c)
// register-blocked over R columns c: the G*R accumulators, the G row vectors and the R
// broadcasts of element(x, c) stay in the target's vector registers, and no product
// needs a horizontal reduction.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_LANETILES_H
#define TMIX_CODEGEN_CPU_LANETILES_H

#include "passes/KernelBuilder.h"

#include "mlir/IR/BuiltinTypes.h"

namespace mlir::tmix {

/// The register block of a micro-kernel with `groups` lane vectors of rows: the most
/// columns R such that the G*R accumulators, the G row vectors and the R broadcasts
/// fit in `registers` vector registers, with two to spare for LLVM.
int64_t registerBlock(int64_t groups, int64_t registers);

/// Lane-major tiles of `groups` vectors of `lanes` f32 lanes a row, and their products.
class LaneTiles {
public:
  LaneTiles(KernelBuilder &kb, int64_t lanes, int64_t groups, int64_t vectorRegisters);

  int64_t lanes() const { return laneCount; }
  int64_t groups() const { return groupCount; }
  /// Lanes a row: G * L.
  int64_t width() const { return laneCount * groupCount; }
  /// R, the columns of one register block.
  int64_t columnsPerBlock() const { return blockColumns; }
  VectorType laneType() const { return vectorType; }

  /// The first lane of the g-th vector of a row.
  Value laneOffset(int64_t g);
  Value splat(double value);
  /// The g-th lane vector of buffer[row, :] (of buffer[:] without a row).
  Value load(Value buffer, Value row, int64_t g);
  void store(Value vector, Value buffer, Value row, int64_t g);
  /// buffer[x, :] = value in every lane, for x in [begin, end) (begin: 0 when null).
  void fill(Value buffer, Value end, double value, Value begin = Value());

  /// The register-blocked outer products: for x in [0, extent),
  /// acc[c * G + g] += rows[x, g-th lane vector] * broadcast(element(x, c)) for the
  /// inits.size() / G columns c; acc starts at `inits`.
  SmallVector<Value> outerProducts(Value extent, ValueRange inits, Value rows,
                                   function_ref<Value(Value x, int64_t c)> element);
  /// Stores vectors[c * G + g] at buffer[rows[c], g-th lane vector].
  void storeLanes(ValueRange vectors, Value buffer, ArrayRef<Value> rows);

  /// out[col, :] = init(col, g) + sum_{x < extent} rows[x, :] * element(x, col) for the
  /// columns col in [0, count): blocks of R columns, then the rest in blocks of halving
  /// widths (count may be known only at run time: a remainder of 2 columns runs as one
  /// block of 2, not as two single columns that each reload `rows`). `init` gives the
  /// starting lane vector of a column (a splat, or out's own row to accumulate).
  void product(Value out, Value count, Value extent, Value rows,
               function_ref<Value(Value x, Value col)> element,
               function_ref<Value(Value col, int64_t g)> init);

private:
  KernelBuilder &kb;
  int64_t laneCount, groupCount, blockColumns;
  VectorType vectorType;
};

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_LANETILES_H
