//===- GpuRun.cpp - `tmixc run --target=sm_80|sm_90a` ---------------------===//

#include "tools/tmixc/GpuRun.h"

#include "codegen/ErrorCollector.h"
#include "codegen/cpu/CpuCompiler.h"
#include "codegen/nvidia/NvidiaCompiler.h"
#include "runtime/cuda/CudaLauncher.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

// (`mlir::tmix` is visible too: the return type trails so that `::tmix` names this one.)
auto ::tmix::runOnGpu(Operation *spec, llvm::StringRef target, rt::Bindings &bindings,
                      const mlir::tmix::ScheduleOverride &schedule,
                      std::vector<rt::HostTensor> &outputs) -> std::string {
  // Every bound size may fix a head dim; only head dims are used as such.
  std::vector<std::string> specialize;
  for (const auto &[symbol, value] : bindings.sizes)
    specialize.push_back(symbol + "=" + std::to_string(value));
  // A pass's error (a schedule the kernel cannot run) is the user's: one line.
  ErrorCollector errors(spec->getContext());
  FailureOr<nvidia::GpuKernels> kernels =
      nvidia::compileSpecToPtx(spec, target, specialize, schedule);
  if (failed(kernels))
    return "cannot generate PTX" +
           (errors.str().empty() ? std::string(" (internal error)") : ": " + errors.str());

  llvm::SmallString<128> dir;
  if (std::error_code error = llvm::sys::fs::createUniqueDirectory("tmix-run", dir))
    return "cannot create a temporary directory: " + error.message();
  std::string manifestPath;
  std::string error = nvidia::writePtxArtifact(*kernels, dir.str().str(), "kernel", manifestPath);
  if (error.empty())
    error = rt::launchOnCuda(manifestPath, bindings, outputs);
  llvm::sys::fs::remove_directories(dir);
  return error;
}
