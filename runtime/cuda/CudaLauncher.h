//===- CudaLauncher.h - Loading and launching tmix GPU kernels --*- C++ -*-===//
//
// A GPU kernel is a PTX or cubin file plus its manifest (GpuManifest.h), read and
// checked by GpuArtifact.h before the driver is opened. The launcher checks sizes
// (tensor bytes and the grid with overflow checks), scalars (range before any cast),
// packs the kernel ABI (memref descriptors expanded into words), loads the module
// (cubin when the device takes it, else the PTX, compiled by the driver), raises the
// dynamic shared-memory limit when the kernel needs more than 48 KiB, and launches the
// manifest's grid. Each launch gets its own device buffer for the sizes array, the
// TMA descriptors and the workspace (its per-CTA words zeroed by the same copy),
// written in stream order, so launches on several streams never share one. No MLIR,
// no CUDA headers.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_CUDALAUNCHER_H
#define TMIX_RUNTIME_CUDA_CUDALAUNCHER_H

#include "runtime/cuda/GpuArtifact.h"
#include "runtime/cuda/GpuManifest.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tmix::rt {

namespace cuda {
struct Driver;
} // namespace cuda

/// A row-major tensor in device memory.
struct DeviceTensor {
  unsigned long long address = 0;
  std::vector<int64_t> shape;
};

/// The kernel's parameter words and the pointers to them that cuLaunchKernel takes.
struct KernelParams {
  std::vector<uint64_t> words;
  std::vector<void *> pointers;
};

/// The value of every size symbol from `sizes` (manifest order), checked: positive,
/// the specialized values, every tensor's bytes below 2^63, and for attention the KV
/// heads divide the query heads. Returns an error or empty.
std::string sizesFromList(const GpuManifest &manifest, const std::vector<int64_t> &sizes,
                          std::map<std::string, int64_t> &bound);

/// CUDA's grid limits (blocks per launch along x, and along y and z).
constexpr int64_t kMaxCudaGridX = (int64_t(1) << 31) - 1;
constexpr int64_t kMaxCudaGridYZ = 65535;

/// The CUDA grid of a launch.
struct CudaGrid {
  unsigned x = 1, y = 1, z = 1;
};

/// The manifest's grid of programs under `bound` sizes as a CUDA grid: the product of
/// ceil(dim / tile) over its dimensions, linearised into x (the kernels read only
/// %ctaid.x), computed with overflow checks and checked against kMaxCudaGrid*.
/// Returns an error naming the sizes, or empty.
std::string cudaGridOf(const GpuManifest &manifest, const std::map<std::string, int64_t> &bound,
                       CudaGrid &grid);

/// Packs the kernel ABI: per argument a memref descriptor (tensors, whose shapes must
/// match the declared ones under `bound`) or one f64/i64 word (scalars, range-checked
/// by checkScalarValue), per result a descriptor, then the descriptor of the sizes
/// array at `sizesAddress`, then, for a kernel with TMA descriptors, their device
/// address `tensorMapsAddress`, then, for a kernel with a workspace, the descriptor of
/// its `workspaceWords` words at `workspaceAddress`. Tensors are contiguous (row-major)
/// and 16-byte aligned.
/// `tensors` holds one entry per argument (ignored for scalars) then one per result;
/// `scalars` one per argument. Pure: no driver call. Returns an error or empty.
std::string packKernelParams(const GpuManifest &manifest,
                             const std::vector<DeviceTensor> &tensors,
                             const std::vector<double> &scalars,
                             const std::map<std::string, int64_t> &bound,
                             unsigned long long sizesAddress, KernelParams &params,
                             unsigned long long tensorMapsAddress = 0,
                             unsigned long long workspaceAddress = 0,
                             int64_t workspaceWords = 0);

/// A kernel with `gradients summed` (GpuManifest.h): how one of its results that is not
/// already its argument's gradient is summed into the caller's tensor. The kernel
/// writes the per-point partial into words of the launch's own (after its workspace);
/// kGradientSumKernel then reads it with the plan (words after the sizes).
struct GradientSumLaunch {
  size_t result = 0;                 // the result's index
  std::vector<int64_t> partialShape; // its declared, per-point, shape (F32)
  int64_t partialElements = 0;       // the product of partialShape
  int64_t partialWord = 0;           // its first word, from the partials' start
  std::vector<int64_t> plan;         // GradientSum::encode (GradientReduction.h)
  int64_t planWord = 0;              // the plan's first word, from the plans' start
  int64_t count = 0;                 // the gradient's elements: one thread each
};

/// The sums of a `gradients summed` kernel under `bound` sizes, and the words their
/// partials and plans take (partials 16-byte aligned); nothing for another kernel.
/// Checks each sum's grid against kMaxCudaGridX. Pure. Returns an error or empty.
std::string gradientSumLaunches(const GpuManifest &manifest,
                                const std::map<std::string, int64_t> &bound,
                                std::vector<GradientSumLaunch> &sums,
                                int64_t &partialWords, int64_t &planWords);

/// The signature a kernel's callers see: a `gradients summed` kernel's results in
/// their arguments' shapes (reducedGradientSignature), else the manifest's.
SpecSignature callerSignature(const GpuManifest &manifest);

/// Launches in flight at once per kernel, each holding one of its launch buffers; a
/// launch beyond waits for the oldest to finish.
constexpr size_t kMaxLaunchesInFlight = 64;

/// A loaded kernel. launch() may be called from several threads.
class CudaKernel {
public:
  /// Reads and checks the manifest at `manifestPath` and its cubin and PTX (inside the
  /// manifest's directory; GpuArtifact.h), then loads the module. Errors: a bad file or
  /// manifest (before the driver is opened), "no CUDA device (...)", a load error.
  static std::string load(const std::string &manifestPath,
                          std::unique_ptr<CudaKernel> &kernel);
  /// The same from an artifact already read and checked.
  static std::string load(const GpuArtifact &artifact, std::unique_ptr<CudaKernel> &kernel);
  ~CudaKernel();

  const GpuManifest &manifest() const { return manifest_; }
  /// The signature of launch()'s tensors (callerSignature).
  const SpecSignature &signature() const { return signature_; }
  /// Launches on `stream` (null: the default stream) with device tensors (arguments,
  /// then results, as signature() declares them), scalars per argument and sizes in
  /// manifest order. Every check runs before the first driver call of the launch. A
  /// `gradients summed` kernel's shared gradients are summed on `stream` after it.
  std::string launch(const std::vector<DeviceTensor> &tensors,
                     const std::vector<double> &scalars, const std::vector<int64_t> &sizes,
                     void *stream);

private:
  struct LaunchBuffer;
  CudaKernel();
  std::string encodeTensorMaps(cuda::Driver &driver, const std::vector<DeviceTensor> &tensors,
                               std::vector<uint64_t> &encoded);
  std::string acquireBuffer(cuda::Driver &driver, LaunchBuffer *&buffer);
  std::string checkDeviceOffsets(cuda::Driver &driver, const std::vector<DeviceTensor> &tensors,
                                 const std::map<std::string, int64_t> &bound, void *stream);

  GpuManifest manifest_;
  SpecSignature signature_;
  void *function_ = nullptr;
  void *sumFunction_ = nullptr; // kGradientSumKernel, for `gradients summed`
  /// Launch buffers: TMA descriptors then the sizes array, in device memory, with a
  /// host copy that stays untouched until the event recorded after the launch fires.
  std::mutex mutex_;
  std::vector<std::unique_ptr<LaunchBuffer>> buffers_;
  size_t nextBuffer_ = 0;
  uint64_t launches_ = 0;
};

/// Host-level convenience (tests, tools): binds and checks shapes as the CPU path does
/// (bindSizes), checks sizes, grid and scalars, all before the driver is opened; then
/// copies the tensors to the device, launches, copies `outputs` back.
std::string launchOnCuda(const std::string &manifestPath, Bindings &bindings,
                         std::vector<HostTensor> &outputs);
std::string launchOnCuda(const GpuArtifact &artifact, Bindings &bindings,
                         std::vector<HostTensor> &outputs);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_CUDALAUNCHER_H
