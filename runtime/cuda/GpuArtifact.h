//===- GpuArtifact.h - A GPU kernel's files, read without trusting them -*- C++ -*-===//
//
// A kernel artifact is a manifest and the cubin and PTX it names, files that may come
// from anywhere. Before the CUDA driver sees any of them, each is checked: a regular
// file (a FIFO never blocks a read, /dev/zero never fills memory) of bounded size, a
// kernel image inside the manifest's directory once symlinks are resolved, a cubin
// that is a complete CUDA ELF (the driver parses it with no length), a PTX that is text
// with the kernel's entry. Nothing here calls the driver.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_GPUARTIFACT_H
#define TMIX_RUNTIME_CUDA_GPUARTIFACT_H

#include "runtime/cuda/GpuManifest.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace tmix::rt {

/// Bytes of a cubin or PTX file (tmix's are under 1 MiB; ptxas's largest a few MiB).
constexpr size_t kMaxKernelImageBytes = size_t(64) << 20;

/// A manifest and its kernel images, read and checked.
struct GpuArtifact {
  std::string manifestPath;
  GpuManifest manifest;
  std::string cubin; // empty when the manifest names none
  std::string ptx;   // empty when the manifest names none
};

/// Reads `path` into `contents` if it is a regular file of at most `limit` bytes,
/// without ever blocking on a FIFO or a device. `what` names the file in messages
/// ("the manifest"). Returns an error, or empty.
std::string readRegularFile(const std::string &path, size_t limit, const std::string &what,
                            std::string &contents);

/// Why `image` is not a complete 64-bit little-endian CUDA ELF file (header, program
/// and section tables and every section's bytes inside it), or empty.
std::string checkCubinImage(std::string_view image);

/// Why `text` is not PTX text holding `.entry <kernel>` ("has no '.entry causal'") whose
/// parameters are `paramWords` 8-byte values (the manifest's ABI, kernelParamWords), or
/// empty.
std::string checkPtxImage(std::string_view text, std::string_view kernel,
                          size_t paramWords);

/// checkPtxImage for the entry points `manifest` launches: its kernel, and for
/// `gradients summed` kGradientSumKernel (kGradientSumParamWords).
std::string checkPtxEntries(std::string_view text, const GpuManifest &manifest);

/// Reads and parses (validates) the manifest at `path`. Errors: "cannot read the
/// manifest ...", "PATH: line N: ...".
std::string readGpuManifest(const std::string &path, GpuManifest &manifest);

/// Reads the manifest at `manifestPath` and the kernel images it names, each resolved
/// inside the manifest's directory and checked as above. Returns an error, or empty.
std::string readGpuArtifact(const std::string &manifestPath, GpuArtifact &artifact);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_GPUARTIFACT_H
