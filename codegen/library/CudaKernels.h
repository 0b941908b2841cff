//===- CudaKernels.h - libtmix's GPU kernels, compiled on first launch -*- C++ -*-===//
//
// A kernel asked for a GPU target ("cuda": the arch of device 0; "sm_80"; "sm_90a") runs
// on CUDA device memory through libtmix_cuda's tmix_cuda_launch. The GPU kernels fix
// their head and state dims at compile time, so a kernel compiles on its first launch
// with each set of them (the sizes of the symbols that are some tensor's last dim),
// in a private MLIR context; its PTX and manifest go to a folder of the process's own,
// removed at exit, from which the CUDA runtime loads them once.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_LIBRARY_CUDAKERNELS_H
#define TMIX_CODEGEN_LIBRARY_CUDAKERNELS_H

#include "codegen/cpu/CpuCompiler.h"
#include "runtime/CApiCall.h"

#include <map>
#include <mutex>
#include <string>

namespace tmix::library {

/// "cuda" resolved to device 0's target (compute capability 9.x: sm_90a, 8.x: sm_80),
/// or `target` itself when it names one; an error for a device tmix does not target or
/// no device.
rt::CallError resolveCudaTarget(const std::string &target, std::string &resolved);

/// One spec for one GPU target, compiled per set of head dims.
class CudaKernel {
public:
  CudaKernel(cpu::SpecText spec, std::string target, rt::SpecSignature signature)
      : spec(std::move(spec)), target(std::move(target)), signature(std::move(signature)) {}

  /// Checks the call (device tensors, contiguous, 16-byte aligned, shapes) and enqueues
  /// the kernel on `stream` (a CUstream; null: the default stream).
  rt::CallError launch(const tmix_arg *args, size_t numArgs, const tmix_tensor *outputs,
                       size_t numOutputs, void *stream);

private:
  /// The manifest path of the kernel compiled for `sizes`' head dims.
  rt::CallError artifactFor(const std::map<std::string, int64_t> &sizes,
                            std::string &manifestPath, std::vector<std::string> &sizeOrder);

  cpu::SpecText spec;
  std::string target;
  rt::SpecSignature signature;
  std::mutex mutex; // guards `artifacts`
  struct Artifact {
    std::string manifestPath;
    std::vector<std::string> sizeSymbols; // the order of tmix_cuda_launch's sizes
  };
  std::map<std::string, Artifact> artifacts; // by head dims ("D=128,K=64")
};

} // namespace tmix::library

#endif // TMIX_CODEGEN_LIBRARY_CUDAKERNELS_H
