//===- FakeCudaDriver.h - A CUDA driver table of fakes, for tests ---------===//
//
// The launcher's device-side logic (module loading, the shared-memory opt-in, the
// per-launch buffers, the grid it launches) runs against this table instead of
// libcuda (CudaDriver.h: overrideDriverForTesting), so that it is tested on machines
// without a GPU. Device memory is host memory; copies happen at once; an event stays
// pending until the test completes it, which is how tests hold a launch "in flight".
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TEST_RUNTIME_FAKECUDADRIVER_H
#define TMIX_TEST_RUNTIME_FAKECUDADRIVER_H

#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tmix::rt::cuda {


class FakeCuda {
public:
  /// One cuLaunchKernel: its configuration, its parameter words (paramWords of them,
  /// which the test sets: a real driver knows the count from the kernel), and the
  /// device words at the address of the last parameter pointer the test names.
  struct Launch {
    unsigned grid[3];
    unsigned block[3];
    unsigned sharedBytes;
    CUstream stream;
    std::vector<uint64_t> words;
    std::string function; // the entry point's name
  };
  /// One host-to-device copy.
  struct Copy {
    CUdeviceptr destination;
    std::vector<uint8_t> bytes;
    CUstream stream;
    bool async;
  };

  FakeCuda() {
    current() = this;
    table.cuInit = [](unsigned) { return count(), kCudaSuccess; };
    table.cuDeviceGetCount = [](int *n) { return count(), *n = 1, kCudaSuccess; };
    table.cuDeviceGet = [](CUdevice *d, int) { return count(), *d = 0, kCudaSuccess; };
    table.cuDeviceGetAttribute = [](int *value, int attribute, CUdevice) {
      count();
      auto found = current()->attributes.find(attribute);
      *value = found == current()->attributes.end() ? 0 : found->second;
      return kCudaSuccess;
    };
    table.cuDeviceGetName = [](char *name, int size, CUdevice) {
      count();
      std::strncpy(name, "Fake GPU", static_cast<size_t>(size));
      return kCudaSuccess;
    };
    table.cuDevicePrimaryCtxRetain = [](CUcontext *c, CUdevice) {
      return count(), *c = nullptr, kCudaSuccess;
    };
    table.cuCtxSetCurrent = [](CUcontext) { return count(), kCudaSuccess; };
    table.cuCtxSynchronize = [] { return count(), kCudaSuccess; };
    table.cuModuleLoadData = [](CUmodule *module, const void *image) {
      count();
      const char *bytes = static_cast<const char *>(image);
      current()->moduleLoads.emplace_back(bytes, strnlen(bytes, 4));
      *module = reinterpret_cast<CUmodule>(uintptr_t(0x100));
      return kCudaSuccess;
    };
    table.cuModuleGetFunction = [](CUfunction *function, CUmodule, const char *name) {
      count();
      // A handle per entry point's name: 0x200, 0x201, ... in the order asked for.
      std::vector<std::string> &names = current()->functionNames;
      auto found = std::find(names.begin(), names.end(), name);
      if (found == names.end())
        found = names.insert(names.end(), name);
      *function =
          reinterpret_cast<CUfunction>(uintptr_t(0x200 + (found - names.begin())));
      return kCudaSuccess;
    };
    table.cuFuncSetAttribute = [](CUfunction, int, int) { return count(), kCudaSuccess; };
    table.cuLaunchKernel = [](CUfunction function, unsigned gx, unsigned gy, unsigned gz,
                              unsigned bx, unsigned by, unsigned bz, unsigned shared,
                              CUstream stream, void **params, void **) {
      count();
      const std::string &name =
          current()->functionNames.at(reinterpret_cast<uintptr_t>(function) - 0x200);
      Launch launch{{gx, gy, gz}, {bx, by, bz}, shared, stream, {}, name};
      auto words = current()->paramWordsOf.find(name);
      size_t paramWords =
          words == current()->paramWordsOf.end() ? current()->paramWords : words->second;
      for (size_t index = 0; index < paramWords; ++index)
        launch.words.push_back(*static_cast<uint64_t *>(params[index]));
      current()->launches.push_back(launch);
      return kCudaSuccess;
    };
    table.cuMemAlloc = [](CUdeviceptr *address, size_t bytes) {
      count();
      // Aligned like cuMemAlloc's addresses.
      auto &block = current()->memory.emplace_back(
          std::make_unique<uint64_t[]>((bytes + kAlignment) / sizeof(uint64_t) + 1));
      *address = (reinterpret_cast<uintptr_t>(block.get()) + kAlignment - 1) &
                 ~uintptr_t(kAlignment - 1);
      return kCudaSuccess;
    };
    table.cuMemFree = [](CUdeviceptr) { return count(), kCudaSuccess; };
    table.cuMemcpyHtoD = [](CUdeviceptr to, const void *from, size_t bytes) {
      return copy(to, from, bytes, nullptr, false);
    };
    table.cuMemcpyHtoDAsync = [](CUdeviceptr to, const void *from, size_t bytes,
                                 CUstream stream) { return copy(to, from, bytes, stream, true); };
    table.cuMemcpyDtoH = [](void *to, CUdeviceptr from, size_t bytes) {
      count();
      std::memcpy(to, reinterpret_cast<const void *>(from), bytes);
      return kCudaSuccess;
    };
    table.cuMemsetD8 = [](CUdeviceptr to, unsigned char value, size_t bytes) {
      count();
      std::memset(reinterpret_cast<void *>(to), value, bytes);
      return kCudaSuccess;
    };
    table.cuGetErrorName = [](CUresult, const char **name) {
      *name = "CUDA_ERROR_FAKE";
      return kCudaSuccess;
    };
    table.cuEventCreate = [](CUevent *event, unsigned) {
      count();
      current()->events.push_back(std::make_unique<Event>());
      *event = reinterpret_cast<CUevent>(current()->events.back().get());
      return kCudaSuccess;
    };
    table.cuEventRecord = [](CUevent event, CUstream stream) {
      count();
      auto *fake = reinterpret_cast<Event *>(event);
      fake->pending = true;
      fake->stream = stream;
      return kCudaSuccess;
    };
    table.cuEventQuery = [](CUevent event) {
      count();
      return reinterpret_cast<Event *>(event)->pending ? kCudaErrorNotReady : kCudaSuccess;
    };
    table.cuEventSynchronize = [](CUevent event) {
      count();
      ++current()->waits;
      reinterpret_cast<Event *>(event)->pending = false; // as if the stream got there
      return kCudaSuccess;
    };
    table.cuEventDestroy = [](CUevent) { return count(), kCudaSuccess; };
    table.cuTensorMapEncodeTiled = [](void *map, int, unsigned, void *address,
                                      const uint64_t *, const uint64_t *, const uint32_t *,
                                      const uint32_t *, int, int, int, int) {
      count();
      // A recognisable descriptor: its first word is the tensor's address.
      std::memset(map, 0, 128);
      std::memcpy(map, &address, sizeof(address));
      return kCudaSuccess;
    };
    overrideDriverForTesting(&table);
  }
  ~FakeCuda() {
    overrideDriverForTesting(nullptr);
    current() = nullptr;
  }
  FakeCuda(const FakeCuda &) = delete;
  FakeCuda &operator=(const FakeCuda &) = delete;

  /// Every launch so far has finished.
  void finishAll() {
    for (const std::unique_ptr<Event> &event : events)
      event->pending = false;
  }

  /// The int64 words at a device address.
  static std::vector<int64_t> deviceWords(uint64_t address, size_t count) {
    std::vector<int64_t> words(count);
    std::memcpy(words.data(), reinterpret_cast<const void *>(address), count * 8);
    return words;
  }

  Driver table{};
  std::map<int, int> attributes{{kDeviceAttrMaxSharedOptin, 232448},
                                {kDeviceAttrComputeMajor, 9},
                                {kDeviceAttrComputeMinor, 0}};
  size_t paramWords = 0;
  std::map<std::string, size_t> paramWordsOf; // by entry point, where not paramWords
  std::vector<std::string> functionNames;     // cuModuleGetFunction's, by handle
  int calls = 0; // every entry point but cuGetErrorName
  std::vector<std::string> moduleLoads; // the first 4 bytes of each image
  std::vector<Launch> launches;
  std::vector<Copy> copies;
  int waits = 0; // cuEventSynchronize calls

private:
  static constexpr size_t kAlignment = 256;
  struct Event {
    bool pending = false;
    CUstream stream = nullptr;
  };
  static FakeCuda *&current() {
    static FakeCuda *fake = nullptr;
    return fake;
  }
  static void count() { ++current()->calls; }
  static CUresult copy(CUdeviceptr to, const void *from, size_t bytes, CUstream stream,
                       bool async) {
    count();
    std::memcpy(reinterpret_cast<void *>(to), from, bytes);
    const auto *begin = static_cast<const uint8_t *>(from);
    current()->copies.push_back({to, std::vector<uint8_t>(begin, begin + bytes), stream, async});
    return kCudaSuccess;
  }
  std::vector<std::unique_ptr<uint64_t[]>> memory;
  std::vector<std::unique_ptr<Event>> events;
};

} // namespace tmix::rt::cuda

#endif // TMIX_TEST_RUNTIME_FAKECUDADRIVER_H
