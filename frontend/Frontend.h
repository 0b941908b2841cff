//===- Frontend.h - .tmix text to spec-level tmix IR ------------*- C++ -*-===//
//
// The one entry point of the frontend: lex, parse, check and build the spec-level
// module for a .tmix buffer. Diagnostics are printed through the SourceMgr as
// `file:line:col: error: message` with the source line and a caret.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_FRONTEND_H
#define TMIX_FRONTEND_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace tmix {

/// Compiles the main buffer of `sourceMgr` into a module of spec ops, one per spec in
/// source order. Every error found is reported through `sourceMgr` (several per file
/// where the parser can recover); returns null when there was any. The context must have
/// the tmix, arith and math dialects loaded (see loadFrontendDialects). The module is
/// not verified here: a module that Sema accepted and the dialect's verifier rejects is
/// a frontend bug, and callers report it as such (tmixc) or abort on it (the fuzzer).
mlir::OwningOpRef<mlir::ModuleOp> compileSpecs(llvm::SourceMgr &sourceMgr,
                                               mlir::MLIRContext &context);

/// Loads the dialects that the frontend builds ops of.
void loadFrontendDialects(mlir::MLIRContext &context);

} // namespace tmix

#endif // TMIX_FRONTEND_FRONTEND_H
