//===- ErrorCollector.h - A pipeline's errors as one line -------*- C++ -*-===//
//
// The compiler's doors (tmixc, the JIT, the GPU pipeline) report a failed lowering as
// one error line: the errors the passes emitted, located as the CLI writes them.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_ERRORCOLLECTOR_H
#define TMIX_CODEGEN_ERRORCOLLECTOR_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <string>

namespace tmix {

/// Collects the errors reported on a context while it lives, as "file:line:col:
/// message" joined by "; ", so that a pass's error (an out-of-range hand-written
/// schedule, scratch buffers too large, a head dim the GPU kernel cannot run) reaches
/// the user in one error line.
class ErrorCollector {
public:
  explicit ErrorCollector(mlir::MLIRContext *context);
  /// The errors so far, or empty.
  const std::string &str() const { return errors; }

private:
  std::string errors;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace tmix

#endif // TMIX_CODEGEN_ERRORCOLLECTOR_H
