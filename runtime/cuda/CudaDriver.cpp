//===- CudaDriver.cpp - The CUDA driver API, opened at run time -----------===//

#include "runtime/cuda/CudaDriver.h"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace tmix::rt::cuda;

std::string Driver::error(CUresult result, const char *call) const {
  const char *name = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != kCudaSuccess || !name)
    return std::string(call) + " failed: CUDA error " + std::to_string(result);
  return std::string(call) + " failed: " + name;
}

namespace {
/// Resolves `name` (or its `_v2` version, the one the headers map to) into `slot`.
template <typename Fn> bool resolve(void *library, const char *name, Fn &slot) {
  std::string v2 = std::string(name) + "_v2";
  void *symbol = dlsym(library, v2.c_str());
  if (!symbol)
    symbol = dlsym(library, name);
  slot = reinterpret_cast<Fn>(symbol);
  return symbol != nullptr;
}

Driver *load(std::string &error) {
  const char *path = std::getenv("TMIX_LIBCUDA");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    error = std::string("no CUDA device (cannot open the CUDA driver library '") + path +
            "': " + (why ? why : "unknown error") + ")";
    return nullptr;
  }
  static Driver driver;
  bool ok = true;
#define TMIX_RESOLVE(name) ok = resolve(library, #name, driver.name) && ok
  TMIX_RESOLVE(cuInit);
  TMIX_RESOLVE(cuDeviceGetCount);
  TMIX_RESOLVE(cuDeviceGet);
  TMIX_RESOLVE(cuDeviceGetAttribute);
  TMIX_RESOLVE(cuDeviceGetName);
  TMIX_RESOLVE(cuDevicePrimaryCtxRetain);
  TMIX_RESOLVE(cuCtxSetCurrent);
  TMIX_RESOLVE(cuCtxSynchronize);
  TMIX_RESOLVE(cuModuleLoadData);
  TMIX_RESOLVE(cuModuleGetFunction);
  TMIX_RESOLVE(cuFuncSetAttribute);
  TMIX_RESOLVE(cuLaunchKernel);
  TMIX_RESOLVE(cuMemAlloc);
  TMIX_RESOLVE(cuMemFree);
  TMIX_RESOLVE(cuMemcpyHtoD);
  TMIX_RESOLVE(cuMemcpyHtoDAsync);
  TMIX_RESOLVE(cuMemcpyDtoH);
  TMIX_RESOLVE(cuMemsetD8);
  TMIX_RESOLVE(cuGetErrorName);
  TMIX_RESOLVE(cuEventCreate);
  TMIX_RESOLVE(cuEventRecord);
  TMIX_RESOLVE(cuEventQuery);
  TMIX_RESOLVE(cuEventSynchronize);
  TMIX_RESOLVE(cuEventDestroy);
#undef TMIX_RESOLVE
  resolve(library, "cuTensorMapEncodeTiled", driver.cuTensorMapEncodeTiled); // optional
  if (!ok) {
    error = std::string("no CUDA device ('") + path +
            "' lacks a driver API entry point tmix needs)";
    return nullptr;
  }
  if (CUresult result = driver.cuInit(0); result != kCudaSuccess) {
    error = "no CUDA device (" + driver.error(result, "cuInit") + ")";
    return nullptr;
  }
  int count = 0;
  if (driver.cuDeviceGetCount(&count) != kCudaSuccess || count == 0) {
    error = "no CUDA device (the driver reports none)";
    return nullptr;
  }
  if (CUresult result = driver.cuDeviceGet(&driver.device, 0); result != kCudaSuccess) {
    error = driver.error(result, "cuDeviceGet");
    return nullptr;
  }
  if (CUresult result = driver.cuDevicePrimaryCtxRetain(&driver.context, driver.device);
      result != kCudaSuccess) {
    error = driver.error(result, "cuDevicePrimaryCtxRetain");
    return nullptr;
  }
  return &driver;
}
} // namespace

namespace {
std::atomic<Driver *> testDriver{nullptr};
} // namespace

void tmix::rt::cuda::overrideDriverForTesting(Driver *driver) { testDriver = driver; }

Driver *tmix::rt::cuda::openDriver(std::string &error) {
  if (Driver *fake = testDriver.load())
    return fake;
  static std::once_flag once;
  static Driver *driver = nullptr;
  static std::string loadError;
  std::call_once(once, [] { driver = load(loadError); });
  if (!driver) {
    error = loadError;
    return nullptr;
  }
  if (CUresult result = driver->cuCtxSetCurrent(driver->context); result != kCudaSuccess) {
    error = driver->error(result, "cuCtxSetCurrent");
    return nullptr;
  }
  return driver;
}
