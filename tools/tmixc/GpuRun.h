//===- GpuRun.h - `tmixc run --target=sm_80|sm_90a` -------------*- C++ -*-===//
//
// Runs one attention spec on GPU 0: compiled to PTX in process, loaded by the CUDA
// runtime from a temporary directory (the driver compiles the PTX for the device), fed
// the same bound tensors as the CPU path, so that --check and --outputs work unchanged.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TOOLS_TMIXC_GPURUN_H
#define TMIX_TOOLS_TMIXC_GPURUN_H

#include "passes/Passes.h"
#include "runtime/Bindings.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace tmix {

/// Compiles `spec` for `target` (bound head dims fixed) and launches it with `bindings`
/// (sizes already bound) and the values of `--schedule`; `outputs` receive the results
/// as the kernel's callers see them (a recurrence's adjoint: each gradient in its
/// argument's shape, summed on the device).
/// Returns an error or empty.
std::string runOnGpu(mlir::Operation *spec, llvm::StringRef target,
                     rt::Bindings &bindings, const mlir::tmix::ScheduleOverride &schedule,
                     std::vector<rt::HostTensor> &outputs);

} // namespace tmix

#endif // TMIX_TOOLS_TMIXC_GPURUN_H
