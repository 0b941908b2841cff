//===- Frontend.cpp - .tmix text to spec-level tmix IR --------------------===//
//
// Parse, check every spec, then build the IR of the specs when none had an error.
//
//===----------------------------------------------------------------------===//

#include "frontend/Frontend.h"

#include "dialect/TmixDialect.h"
#include "frontend/IRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/MLIRContext.h"

using namespace tmix;

void tmix::loadFrontendDialects(mlir::MLIRContext &context) {
  context.loadDialect<mlir::tmix::TmixDialect, mlir::arith::ArithDialect,
                      mlir::math::MathDialect>();
}

mlir::OwningOpRef<mlir::ModuleOp> tmix::compileSpecs(llvm::SourceMgr &sourceMgr,
                                                     mlir::MLIRContext &context) {
  SourceDiagnostics diags(sourceMgr);
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  Parser parser(buffer->getBuffer(), diags);
  // Specs are checked as they are parsed, so errors come out in source order.
  Module ast;
  llvm::StringMap<llvm::SMLoc> specNames;
  llvm::SmallVector<const Spec *> checked;
  for (Spec next; parser.parseNextSpec(next);) {
    ast.specs.push_back(std::make_unique<Spec>(std::move(next)));
    Spec &spec = *ast.specs.back();
    auto [it, inserted] = specNames.try_emplace(spec.name, spec.nameLoc);
    if (!inserted) {
      unsigned line = sourceMgr.getLineAndColumn(it->second).first;
      diags.error(spec.nameLoc, "spec '" + spec.name + "' is already defined at line " +
                                    llvm::Twine(line));
      continue;
    }
    if (checkSpec(spec, diags))
      checked.push_back(&spec);
  }
  if (diags.getNumErrors() != 0)
    return nullptr;

  mlir::OpBuilder builder(&context);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(
      mlir::FileLineColLoc::get(&context, buffer->getBufferIdentifier(), 1, 1));
  buildSpecOps(checked, *module, sourceMgr);
  return module;
}
