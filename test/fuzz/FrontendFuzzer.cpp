//===- FrontendFuzzer.cpp - libFuzzer entry point for the .tmix frontend --===//
//
// Feeds arbitrary bytes to the frontend as a file named "fuzz.tmix". Bad input must
// give diagnostics, never a crash (ASan and libFuzzer catch those); and a module that
// the frontend does return must pass the verifier: a frontend that builds invalid IR
// is a bug, so that aborts too.
//
//===----------------------------------------------------------------------===//

#include "frontend/Frontend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

/// One context for the whole run (creating one per input would dominate the time), with
/// the frontend's dialects loaded and every diagnostic dropped: diagnostics are the
/// expected answer to bad input, not a finding.
mlir::MLIRContext &fuzzContext() {
  static mlir::MLIRContext *context = [] {
    auto *ctx = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    tmix::loadFrontendDialects(*ctx);
    ctx->getDiagEngine().registerHandler(
        [](mlir::Diagnostic &) { return mlir::success(); });
    return ctx;
  }();
  return *context;
}

} // namespace

/// LLVM's BumpPtrAllocator poisons a new slab and unpoisons each allocation, but only
/// where it is compiled with ASan: slabs that our instrumented (inlined) code started and
/// the uninstrumented libMLIR.so then allocates from stay poisoned, and reading such an
/// object (a uniqued type, say) is a false "use-after-poison". Manual poisoning is off.
extern "C" const char *__asan_default_options() { return "allow_user_poisoning=0"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext &context = fuzzContext();

  llvm::SourceMgr sourceMgr;
  sourceMgr.setDiagHandler([](const llvm::SMDiagnostic &, void *) {});
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.tmix"),
                               llvm::SMLoc());

  mlir::OwningOpRef<mlir::ModuleOp> module = tmix::compileSpecs(sourceMgr, context);
  if (!module)
    return 0;

  // From here on a diagnostic is a finding: show it, and the IR, before aborting.
  mlir::ScopedDiagnosticHandler showDiagnostics(&context, [](mlir::Diagnostic &diag) {
    llvm::errs() << "verifier: " << diag.str() << "\n";
    return mlir::success();
  });
  if (mlir::failed(mlir::verify(*module))) {
    llvm::errs() << "the frontend built IR that does not verify, from:\n"
                 << text << "\n----\n";
    module->print(llvm::errs(), mlir::OpPrintingFlags().printGenericOpForm());
    llvm::errs() << "\n";
    abort();
  }
  return 0;
}
