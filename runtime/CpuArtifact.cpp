//===- CpuArtifact.cpp - Running kernels built ahead of time for the CPU --===//
//
// libtmix_runtime's side of `tmixc build --target=cpu`: the typed functions of a
// built library hand their kernel's manifest text and program here. The manifest is
// parsed (and checked, as every manifest is) on the kernel's first call and kept; the
// call is then checked and run as libtmix runs the kernels it compiles (CApiCall.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/CApiCall.h"
#include "runtime/GradientReduction.h"
#include "runtime/cuda/GpuManifest.h"

#include <map>
#include <memory>
#include <mutex>

using namespace tmix::rt;

namespace {

thread_local std::string lastError;

tmix_status failWith(tmix_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// The parsed manifest of each kernel, by its manifest text's address (a constant of
/// the built library); an error string for a manifest that does not parse.
struct ParsedKernel {
  GpuManifest manifest;
  std::string error;
  SpecSignature reducedSignature; // what callers of a recurrence's adjoint see
};

const ParsedKernel &parsedKernel(const char *text) {
  static std::mutex mutex;
  static auto *kernels = new std::map<const char *, std::unique_ptr<ParsedKernel>>();
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ParsedKernel> &slot = (*kernels)[text];
  if (!slot) {
    slot = std::make_unique<ParsedKernel>();
    slot->error = parseGpuManifest(text, slot->manifest);
    if (slot->error.empty() && slot->manifest.target != "cpu")
      slot->error = "a manifest for " + slot->manifest.target + ", not the CPU";
    if (slot->manifest.kernel.sumsGradients)
      slot->reducedSignature = reducedGradientSignature(slot->manifest.kernel.signature);
  }
  return *slot;
}

} // namespace

extern "C" {

const char *tmix_runtime_last_error(void) { return lastError.c_str(); }

tmix_status tmix_cpu_kernel_launch(const tmix_cpu_kernel *kernel, const tmix_arg *args,
                                   size_t numArgs, const tmix_tensor *outputs,
                                   size_t numOutputs) {
  if (!kernel || !kernel->manifest || !kernel->program)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_cpu_kernel_launch: a null kernel");
  const ParsedKernel &parsed = parsedKernel(kernel->manifest);
  if (!parsed.error.empty())
    return failWith(TMIX_ERROR_RUNTIME, "the kernel's manifest is damaged: " + parsed.error);
  const KernelManifest &manifest = parsed.manifest.kernel;
  BoundCall call;
  if (CallError error = bindCall(manifest.signature, args, numArgs, call))
    return failWith(error.status, error.message);
  if (manifest.sumsGradients) {
    if (CallError error = launchReducedGradientCall(
            kernel->program, manifest, parsed.reducedSignature, call, outputs, numOutputs))
      return failWith(error.status, error.message);
    return TMIX_OK;
  }
  if (CallError error = launchCall(kernel->program, manifest, call, outputs, numOutputs))
    return failWith(error.status, error.message);
  return TMIX_OK;
}

} // extern "C"
