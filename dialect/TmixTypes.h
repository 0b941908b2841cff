//===- TmixTypes.h - Types of the tmix dialect ----------------*- C++ -*-===//
//
// Declares mlir::tmix::SpecTensorType, the tensor with literal or symbolic dims.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXTYPES_H
#define TMIX_DIALECT_TMIXTYPES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#include <optional>

#define GET_TYPEDEF_CLASSES
#include "dialect/TmixTypes.h.inc"

namespace mlir::tmix {

/// Whether `type` is a scalar type a spec argument may have (f32 f16 bf16 i32 i64 i1);
/// these are also the element types of !tmix.tensor.
bool isSpecScalarType(Type type);

/// Whether `name` can be a size symbol: an identifier, [A-Za-z_][A-Za-z0-9_]*.
bool isSizeSymbolName(StringRef name);

} // namespace mlir::tmix

#endif // TMIX_DIALECT_TMIXTYPES_H
