//===- CApiCall.h - A call through tmix.h, checked and run on the CPU -*- C++ -*-===//
//
// What the C API's doors share: libtmix (kernels it compiles) and libtmix_runtime
// (kernels `tmixc build --target=cpu` compiled ahead of time) take their arguments as
// tmix_arg and tmix_tensor, check them against a kernel's signature and run the grid on
// the thread pool. No MLIR here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CAPICALL_H
#define TMIX_RUNTIME_CAPICALL_H

#include "runtime/CpuLauncher.h"
#include "runtime/TensorView.h"

#include "tmix/tmix.h"

namespace tmix::rt {

/// A failed call: the status tmix.h returns and its message.
struct CallError {
  tmix_status status = TMIX_OK;
  std::string message;

  explicit operator bool() const { return status != TMIX_OK; }
};

/// A call's arguments checked and bound: views, scalars and every size symbol.
struct BoundCall {
  std::vector<TensorView> tensors;
  std::vector<double> scalars;
  std::map<std::string, int64_t> sizes;
};

/// Checks `args` (one per argument of `signature`: views of the declared dtype on
/// `device`, scalars in range or defaulted) and binds every size symbol. CUDA tensors
/// must be contiguous and 16-byte aligned (what the GPU kernels read); their sequence
/// offsets are checked by the CUDA launcher, on the device.
CallError bindCall(const SpecSignature &signature, const tmix_arg *args, size_t numArgs,
                   BoundCall &call, DeviceKind device = DeviceKind::Cpu);

/// Checks `outputs` against the bound call (device, dtype, shape, writable layout) and
/// returns their views.
CallError checkOutputs(const SpecSignature &signature, const BoundCall &call,
                       const tmix_tensor *outputs, size_t numOutputs, DeviceKind device,
                       std::vector<TensorView> &views);

/// Checks `outputs` (checkOutputs) and runs `program` over its grid on the default
/// thread pool.
CallError launchCall(ProgramFn program, const KernelManifest &manifest,
                     const BoundCall &call, const tmix_tensor *outputs, size_t numOutputs);

/// launchCall for a recurrence's adjoint, whose callers see `reduced`
/// (reducedGradientSignature): the program writes its per-point gradients into host
/// buffers, which are summed (reduceSharedGradient) into `outputs`.
CallError launchReducedGradientCall(ProgramFn program, const KernelManifest &manifest,
                                    const SpecSignature &reduced, const BoundCall &call,
                                    const tmix_tensor *outputs, size_t numOutputs);

/// tmix.h's dtype codes as the runtime's, and back.
DType dtypeOf(tmix_dtype dtype);
tmix_dtype publicDtype(DType dtype);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CAPICALL_H
