//===- IRGen.h - Spec-level tmix IR from a checked AST ----------*- C++ -*-===//
//
// Builds one tmix.attention or tmix.recurrence op per spec, with a FileLineColLoc on
// every op. Its input has passed Sema: it does not report errors.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_IRGEN_H
#define TMIX_FRONTEND_IRGEN_H

#include "frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/SourceMgr.h"

namespace tmix {

/// Appends the spec ops of `specs` (all checked by Sema) to `module`.
void buildSpecOps(llvm::ArrayRef<const Spec *> specs, mlir::ModuleOp module,
                  const llvm::SourceMgr &sourceMgr);

} // namespace tmix

#endif // TMIX_FRONTEND_IRGEN_H
