//===- CudaLauncher.h - Loading and launching tmix GPU kernels --*- C++ -*-===//
//
// A GPU kernel is a PTX or cubin file plus its manifest (GpuManifest.h). The launcher
// checks sizes, packs the kernel ABI (memref descriptors expanded into words), loads
// the module (cubin when the device takes it, else the PTX, compiled by the driver),
// raises the dynamic shared-memory limit when the kernel needs more than 48 KiB, and
// launches the manifest's grid. No MLIR, no CUDA headers.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_CUDALAUNCHER_H
#define TMIX_RUNTIME_CUDA_CUDALAUNCHER_H

#include "runtime/cuda/GpuManifest.h"

#include <cstdint>
#include <map>
#include <memory>
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

/// The value of every size symbol from `sizes` (manifest order), checked: positive, and
/// for attention the KV heads divide the query heads. Returns an error or empty.
std::string sizesFromList(const GpuManifest &manifest, const std::vector<int64_t> &sizes,
                          std::map<std::string, int64_t> &bound);

/// Packs the kernel ABI: per argument a memref descriptor (tensors, whose shapes must
/// match the declared ones under `bound`) or one f64/i64 word (scalars), per result a
/// descriptor, then the descriptor of the sizes array at `sizesAddress`, then, for a
/// kernel with TMA descriptors, their device address `tensorMapsAddress`. Tensors are
/// contiguous (row-major) and 16-byte aligned. `tensors` holds
/// one entry per argument (ignored for scalars) then one per result; `scalars` one per
/// argument. Returns an error or empty.
std::string packKernelParams(const GpuManifest &manifest,
                             const std::vector<DeviceTensor> &tensors,
                             const std::vector<double> &scalars,
                             const std::map<std::string, int64_t> &bound,
                             unsigned long long sizesAddress, KernelParams &params,
                             unsigned long long tensorMapsAddress = 0);

/// A loaded kernel.
class CudaKernel {
public:
  /// Loads the manifest at `manifestPath` and its cubin or PTX (paths relative to the
  /// manifest's directory). Errors: "no CUDA device (...)", a bad manifest, a load error.
  static std::string load(const std::string &manifestPath,
                          std::unique_ptr<CudaKernel> &kernel);
  ~CudaKernel();

  const GpuManifest &manifest() const { return manifest_; }
  /// Launches on `stream` (null: the default stream) with device tensors (arguments,
  /// then results), scalars per argument and sizes in manifest order.
  std::string launch(const std::vector<DeviceTensor> &tensors,
                     const std::vector<double> &scalars, const std::vector<int64_t> &sizes,
                     void *stream);

private:
  std::string uploadTensorMaps(cuda::Driver &driver, const std::vector<DeviceTensor> &tensors);

  GpuManifest manifest_;
  void *function_ = nullptr;
  unsigned long long sizesBuffer_ = 0;
  std::vector<int64_t> uploadedSizes_;
  /// The TMA descriptors in device memory, uploaded again only when they change.
  unsigned long long tensorMapsBuffer_ = 0;
  std::vector<uint64_t> uploadedTensorMaps_;
};

/// Host-level convenience (tests, tools): binds and checks shapes as the CPU path does
/// (bindSizes), copies the tensors to the device, launches, copies `outputs` back.
std::string launchOnCuda(const std::string &manifestPath, Bindings &bindings,
                         std::vector<HostTensor> &outputs);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_CUDALAUNCHER_H
