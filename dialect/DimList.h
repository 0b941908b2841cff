//===- DimList.h - `[B, H, N, 128]` in types ------------------*- C++ -*-===//
//
// The dimension lists of !tmix.tensor and of the tile types: each dimension an i64
// literal (IntegerAttr) or an identifier (StringAttr, a size symbol), written once.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_DIMLIST_H
#define TMIX_DIALECT_DIMLIST_H

#include "mlir/IR/DialectImplementation.h"

namespace mlir::tmix {

/// dim-list ::= `[` dim (`,` dim)* `]`, dim ::= integer-literal | bare-identifier
ParseResult parseDimList(AsmParser &parser, SmallVectorImpl<Attribute> &dims,
                         StringRef context);
/// Prints `[B, H, 128]`: in a type, and in diagnostics that name a shape.
void printDimList(raw_ostream &os, ArrayRef<Attribute> dims);

/// Checks each dimension: a positive i64 or an identifier; errors name `#index`.
LogicalResult verifyDimList(function_ref<InFlightDiagnostic()> emitError,
                            ArrayRef<Attribute> dims);

} // namespace mlir::tmix

#endif // TMIX_DIALECT_DIMLIST_H
