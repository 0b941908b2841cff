//===- BuildCommand.h - `tmixc build`: ahead-of-time GPU artifacts -*- C++ -*-===//
//
// For every attention spec of a file and one GPU target: the PTX, the cubin (when ptxas
// is found), the manifest the runtime launches from, and a C header with a typed
// launch function (runtime/cuda/tmix_cuda.h).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TOOLS_TMIXC_BUILDCOMMAND_H
#define TMIX_TOOLS_TMIXC_BUILDCOMMAND_H

#include "passes/Passes.h"
#include "runtime/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace tmix {

/// What both build commands share: an error line (returns exit status 1), a path in a
/// folder, and the C type a generated header gives a scalar argument of `dtype`.
int failBuild(const llvm::Twine &message);
std::string pathIn(llvm::StringRef dir, llvm::StringRef name);
const char *cScalarType(rt::DType dtype);

/// Writes DIR/<spec>.<target>.{ptx,cubin,manifest,h}; returns the exit status (errors
/// are printed): 1 for bad input, 2 for what is not supported yet (recurrences).
/// `specialize` fixes size symbols ("D=128") used as head dims; `schedule` holds the
/// values of `--schedule` (the rest are the target's).
int buildGpuArtifacts(mlir::ModuleOp module, const std::string &file,
                      const std::string &target, const std::string &dir,
                      const std::vector<std::string> &specialize,
                      const mlir::tmix::ScheduleOverride &schedule);

} // namespace tmix

#endif // TMIX_TOOLS_TMIXC_BUILDCOMMAND_H
