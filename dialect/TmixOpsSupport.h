//===- TmixOpsSupport.h - Helpers shared by the tmix op files --*- C++ -*-===//
//
// Formatting and checking helpers used by the verifiers in TmixOps.cpp and
// TmixExprOps.cpp; internal to the dialect library.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXOPSSUPPORT_H
#define TMIX_DIALECT_TMIXOPSSUPPORT_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/TypeRange.h"

#include <string>

namespace mlir::tmix {

/// "(i64, f32)".
std::string formatTypes(TypeRange types);
/// "B" or "128".
std::string formatDim(Attribute dim);
/// "[B, H]".
std::string formatDims(ArrayRef<Attribute> dims);

/// The f32 value type with `dims`: an f32 !tmix.tensor, or f32 when `dims` is empty.
Type getF32Value(MLIRContext *context, ArrayRef<Attribute> dims);

/// Checks that `region`'s block has `arguments` and ends with a tmix.yield of `yields`.
LogicalResult verifyRegionSignature(Operation *op, Region &region, TypeRange arguments,
                                    TypeRange yields);

/// The tmix.attention or tmix.recurrence around `op`, or null.
Operation *getEnclosingSpec(Operation *op);

} // namespace mlir::tmix

#endif // TMIX_DIALECT_TMIXOPSSUPPORT_H
