//===- DimList.h - `[B, H, N, 128]` in types ------------------*- C++ -*-===//
//
// The dimension lists of !tmix.tensor and of the tile types: each dimension an i64
// literal (IntegerAttr) or an identifier (StringAttr, a size symbol), written once.
// A symbol may carry a positive offset, `S + 1` (StringAttr "S + 1"): the S + 1
// offsets of S packed sequences (docs/language.md, "Variable-length sequences").
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_DIMLIST_H
#define TMIX_DIALECT_DIMLIST_H

#include "mlir/IR/DialectImplementation.h"

namespace mlir::tmix {

/// A symbolic dimension split into its size symbol and offset: "S" is (S, 0), "S + 1"
/// is (S, 1). None for a spelling that is neither.
struct SymbolicDim {
  StringRef symbol;
  int64_t offset = 0;
};
std::optional<SymbolicDim> splitSymbolicDim(StringRef spelling);
/// The spelling of `symbol + offset`: "S", or "S + 1".
std::string symbolicDimSpelling(StringRef symbol, int64_t offset);

/// dim-list ::= `[` dim (`,` dim)* `]`
/// dim ::= integer-literal | bare-identifier (`+` integer-literal)?
ParseResult parseDimList(AsmParser &parser, SmallVectorImpl<Attribute> &dims,
                         StringRef context);
/// Prints `[B, H, 128]`: in a type, and in diagnostics that name a shape.
void printDimList(raw_ostream &os, ArrayRef<Attribute> dims);

/// Checks each dimension: a positive i64 or an identifier; errors name `#index`.
LogicalResult verifyDimList(function_ref<InFlightDiagnostic()> emitError,
                            ArrayRef<Attribute> dims);

} // namespace mlir::tmix

#endif // TMIX_DIALECT_DIMLIST_H
