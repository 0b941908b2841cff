//===- FixedSizes.h - Size symbols fixed at compile time --------*- C++ -*-===//
//
// A spec's sizes are symbols bound at run time, but a GPU kernel needs its head and
// state dims at compile time: `specialize` entries (SYMBOL=VALUE, `tmixc --sizes`) fix
// them. The schedule pass reads them too, since what a target's kernel can run (its
// shared memory, say) depends on those dims.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_FIXEDSIZES_H
#define TMIX_PASSES_FIXEDSIZES_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace mlir::tmix {

/// Size symbols fixed at compile time, by name.
using FixedSizes = llvm::StringMap<int64_t>;

/// Size symbols fixed at compile time, from a pass's `specialize` entries
/// (SYMBOL=POSITIVE_INTEGER); failure after an error on `module`.
FailureOr<FixedSizes> parseSpecializations(ModuleOp module,
                                           ArrayRef<std::string> entries);

/// The value of a dim: a literal, or a size symbol fixed by `specialize`.
std::optional<int64_t> fixedDim(Attribute dim, const FixedSizes &fixed);

} // namespace mlir::tmix

#endif // TMIX_PASSES_FIXEDSIZES_H
