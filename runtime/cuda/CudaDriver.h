//===- CudaDriver.h - The CUDA driver API, opened at run time ---*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen on first use (TMIX_LIBCUDA names another file,
// for tests), so that nothing links against it: binaries run on machines without a GPU
// and report "no CUDA device". Only the handful of entry points tmix needs, declared
// here with their C types (no CUDA headers needed to build).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_CUDADRIVER_H
#define TMIX_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace tmix::rt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult kCudaSuccess = 0;
constexpr CUresult kCudaErrorNotReady = 600;    // CUDA_ERROR_NOT_READY
constexpr unsigned kEventDisableTiming = 2;     // CU_EVENT_DISABLE_TIMING
constexpr int kAttrMaxDynamicSharedBytes = 8;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
constexpr int kDeviceAttrComputeMajor = 75;     // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kDeviceAttrComputeMinor = 76;     // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kDeviceAttrMaxSharedOptin = 97;   // ..._MAX_SHARED_MEMORY_PER_BLOCK_OPTIN

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventQuery)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  /// CUDA 12.0 and later; null with an older driver (only sm_90a kernels need it).
  /// Enum arguments as int (values in TensorMap.h), the map as 16 64-bit words.
  CUresult (*cuTensorMapEncodeTiled)(void *tensorMap, int dataType, unsigned rank,
                                     void *globalAddress, const uint64_t *globalDims,
                                     const uint64_t *globalStrides,
                                     const uint32_t *boxDims, const uint32_t *elementStrides,
                                     int interleave, int swizzle, int l2Promotion,
                                     int oobFill) = nullptr;

  CUdevice device = 0;
  CUcontext context = nullptr;

  /// "cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE".
  std::string error(CUresult result, const char *call) const;
};

/// The process's driver (device 0, its primary context current on this thread), or
/// null with `error` set: "no CUDA device (...)" when libcuda or a device is missing.
Driver *openDriver(std::string &error);

/// Tests only: openDriver returns `driver` (a table of fakes) until called again with
/// null, so that the launcher's device-side logic runs without a GPU.
void overrideDriverForTesting(Driver *driver);

} // namespace tmix::rt::cuda

#endif // TMIX_RUNTIME_CUDA_CUDADRIVER_H
