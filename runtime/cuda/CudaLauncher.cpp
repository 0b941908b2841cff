//===- CudaLauncher.cpp - Loading and launching tmix GPU kernels ----------===//

#include "runtime/cuda/CudaLauncher.h"

#include "runtime/GradientReduction.h"
#include "runtime/cuda/CudaDriver.h"
#include "runtime/cuda/TensorMap.h"
#include "runtime/cuda/tmix_cuda.h"

#include <algorithm>
#include <cstring>

using namespace tmix::rt;
using namespace tmix::rt::cuda;

namespace {
/// Dynamic shared memory a kernel gets without the opt-in attribute.
constexpr int64_t kStaticSharedLimit = 48 * 1024;
constexpr unsigned long long kTensorAlignment = 16;
/// A stand-in for a launch buffer's addresses while a call is checked (non-zero and
/// aligned like the real ones, which only exist once the call is known to be good).
constexpr unsigned long long kPlaceholderAddress = tensormap::kAlignment;
constexpr size_t kTensorMapWords = tensormap::kBytes / sizeof(uint64_t);

std::string joined(const std::vector<std::string> &names) {
  std::string text;
  for (const std::string &name : names)
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

/// Row-major strides of `shape`, or false if one overflows int64.
bool rowMajorStrides(const std::vector<int64_t> &shape, std::vector<int64_t> &strides) {
  strides.assign(shape.size(), 1);
  for (size_t dim = shape.size(); dim-- > 1;)
    if (__builtin_mul_overflow(strides[dim], shape[dim], &strides[dim - 1]))
      return false;
  return true;
}

/// The bytes of `decl` under `bound`, or false if they overflow int64.
bool tensorBytes(const ParamDecl &decl, const std::map<std::string, int64_t> &bound,
                 int64_t &bytes) {
  bytes = static_cast<int64_t>(dtypeSize(decl.dtype));
  for (int64_t size : shapeOf(decl, bound))
    if (size <= 0 || __builtin_mul_overflow(bytes, size, &bytes))
      return false;
  return true;
}

/// The memref descriptor of `decl`'s tensor at `address`: its logical view (a layout
/// permutes the row-major strides of the stored shape).
std::string pushDescriptor(KernelParams &params, const ParamDecl &decl,
                           unsigned long long address, const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides;
  if (!rowMajorStrides(shape, strides))
    return "tensor '" + decl.name + "' of shape " + shapeString(shape) + " is too large";
  StridedView view = logicalView(decl, shape);
  params.words.push_back(address); // allocated pointer
  params.words.push_back(address); // aligned pointer
  params.words.push_back(0);       // offset
  for (int64_t size : view.sizes)
    params.words.push_back(static_cast<uint64_t>(size));
  for (int64_t stride : view.strides)
    params.words.push_back(static_cast<uint64_t>(stride));
  return {};
}

/// The one word of a scalar argument: its value as f64 (floats) or i64 (integers and
/// bool), after checkScalarValue, so that the cast to int64 is always defined.
std::string scalarWord(const ParamDecl &decl, double value, uint64_t &word) {
  if (std::string error = checkScalarValue(decl, value); !error.empty())
    return error;
  if (isFloat(decl.dtype))
    std::memcpy(&word, &value, sizeof(word));
  else
    word = static_cast<uint64_t>(static_cast<int64_t>(value));
  return {};
}
} // namespace

std::string tmix::rt::sizesFromList(const GpuManifest &manifest,
                                    const std::vector<int64_t> &sizes,
                                    std::map<std::string, int64_t> &bound) {
  const std::vector<std::string> &symbols = manifest.kernel.sizeSymbols;
  if (sizes.size() != symbols.size())
    return "kernel '" + manifest.kernel.signature.name + "' takes " +
           std::to_string(symbols.size()) + " sizes (" + joined(symbols) + ") but got " +
           std::to_string(sizes.size());
  bound.clear();
  for (size_t index = 0; index < sizes.size(); ++index) {
    if (sizes[index] <= 0)
      return "size " + symbols[index] + "=" + std::to_string(sizes[index]) +
             " must be positive";
    bound[symbols[index]] = sizes[index];
  }
  for (const auto &[symbol, value] : manifest.specialized)
    if (bound[symbol] != value)
      return "kernel '" + manifest.kernel.signature.name + "' was compiled for " + symbol +
             "=" + std::to_string(value) + ", not " + symbol + "=" +
             std::to_string(bound[symbol]) + " (rebuild it with tmixc --sizes=" + symbol +
             "=" + std::to_string(bound[symbol]) + ")";
  // Every tensor's bytes fit in int64, so that sizes, strides and byte counts derived
  // from them never wrap.
  const SpecSignature &signature = manifest.kernel.signature;
  for (const auto *params : {&signature.args, &signature.results})
    for (const ParamDecl &param : *params) {
      int64_t bytes = 0;
      if (param.isTensor && !tensorBytes(param, bound, bytes))
        return "tensor '" + param.name + "' of shape " + shapeString(shapeOf(param, bound)) +
               " is too large (2^63 bytes or more)";
    }
  if (signature.isAttention && signature.args.size() >= 2 &&
      signature.args[0].dims.size() == 4 && signature.args[1].dims.size() == 4) {
    auto value = [&](const DimDecl &dim) {
      return dim.symbol.empty() ? dim.size : bound[dim.symbol];
    };
    int64_t heads = value(signature.args[0].logicalDim(1));
    int64_t kvHeads = value(signature.args[1].logicalDim(1));
    if (heads % kvHeads != 0)
      return "the KV heads (" + std::to_string(kvHeads) + ") must divide the query heads (" +
             std::to_string(heads) + ")";
  }
  // A recurrence's group counts divide the dims they group.
  return checkGroupCounts(signature, bound);
}

std::string tmix::rt::cudaGridOf(const GpuManifest &manifest,
                                 const std::map<std::string, int64_t> &bound,
                                 CudaGrid &grid) {
  // Blocks = prod ceil(dim / tile). The ceiling as a quotient plus a carry, so that
  // dim + tile - 1 never overflows; the product with an overflow check.
  int64_t blocks = 1;
  std::string factors;
  bool overflow = false;
  for (const GridDimDecl &dim : manifest.kernel.grid) {
    int64_t extent = dim.dim.size;
    if (!dim.dim.symbol.empty()) {
      auto found = bound.find(dim.dim.symbol);
      if (found == bound.end())
        return "grid symbol '" + dim.dim.symbol + "' is not bound";
      extent = found->second;
    }
    if (extent <= 0 || dim.tile <= 0)
      return "a grid dimension of " + std::to_string(extent) + " / " +
             std::to_string(dim.tile) + " is not positive";
    int64_t count = extent / dim.tile + (extent % dim.tile != 0);
    factors += (factors.empty() ? "" : " x ") +
               (dim.dim.symbol.empty() ? std::to_string(extent)
                                       : dim.dim.symbol + "=" + std::to_string(extent)) +
               (dim.tile == 1 ? "" : "/" + std::to_string(dim.tile));
    overflow = overflow || __builtin_mul_overflow(blocks, count, &blocks);
  }
  const std::string &name = manifest.kernel.signature.name;
  if (overflow)
    return "kernel '" + name + "' needs a grid of more than 2^63 blocks (" + factors +
           "); CUDA launches at most " + std::to_string(kMaxCudaGridX);
  // The kernels take their program id from %ctaid.x alone: the grid is (blocks, 1, 1).
  int64_t extents[3] = {blocks, 1, 1};
  int64_t limits[3] = {kMaxCudaGridX, kMaxCudaGridYZ, kMaxCudaGridYZ};
  for (int axis = 0; axis < 3; ++axis)
    if (extents[axis] < 1 || extents[axis] > limits[axis])
      return "kernel '" + name + "' needs a grid of " + std::to_string(extents[axis]) +
             " blocks (" + factors + "); CUDA launches at most " +
             std::to_string(limits[axis]) + " along " + "xyz"[axis];
  grid = CudaGrid{static_cast<unsigned>(extents[0]), static_cast<unsigned>(extents[1]),
                  static_cast<unsigned>(extents[2])};
  return {};
}

std::string tmix::rt::packKernelParams(
    const GpuManifest &manifest, const std::vector<DeviceTensor> &tensors,
    const std::vector<double> &scalars, const std::map<std::string, int64_t> &bound,
    unsigned long long sizesAddress, KernelParams &params,
    unsigned long long tensorMapsAddress, unsigned long long workspaceAddress,
    int64_t workspaceWords) {
  const SpecSignature &signature = manifest.kernel.signature;
  size_t numArgs = signature.args.size();
  if (tensors.size() != numArgs + signature.results.size())
    return "kernel '" + signature.name + "' takes " +
           std::to_string(numArgs + signature.results.size()) +
           " tensor slots (arguments, then results) but got " +
           std::to_string(tensors.size());
  if (scalars.size() != numArgs)
    return "kernel '" + signature.name + "' takes " + std::to_string(numArgs) +
           " scalar slots but got " + std::to_string(scalars.size());
  params = KernelParams();
  auto tensorParam = [&](const ParamDecl &decl, const DeviceTensor &tensor) -> std::string {
    std::vector<int64_t> expected = shapeOf(decl, bound);
    if (tensor.shape != expected)
      return "tensor '" + decl.name + "' does not have its declared shape " +
             declaredShapeString(decl);
    if (tensor.address == 0)
      return "tensor '" + decl.name + "' has a null device address";
    // The kernels copy 16-byte vectors (cp.async) from contiguous, aligned tensors.
    if (tensor.address % kTensorAlignment != 0)
      return "tensor '" + decl.name + "' is not " + std::to_string(kTensorAlignment) +
             "-byte aligned (pass contiguous tensors that start at an aligned address)";
    return pushDescriptor(params, decl, tensor.address, tensor.shape);
  };
  for (size_t index = 0; index < numArgs; ++index) {
    const ParamDecl &decl = signature.args[index];
    if (decl.isTensor) {
      if (std::string error = tensorParam(decl, tensors[index]); !error.empty())
        return error;
      continue;
    }
    uint64_t word = 0;
    if (std::string error = scalarWord(decl, scalars[index], word); !error.empty())
      return error;
    params.words.push_back(word);
  }
  for (size_t index = 0; index < signature.results.size(); ++index)
    if (std::string error =
            tensorParam(signature.results[index], tensors[numArgs + index]);
        !error.empty())
      return error;
  if (std::string error =
          pushDescriptor(params, ParamDecl{"sizes"}, sizesAddress,
                         {static_cast<int64_t>(manifest.kernel.sizeSymbols.size())});
      !error.empty())
    return error;
  if (!manifest.tensorMaps.empty()) {
    if (tensorMapsAddress == 0)
      return "kernel '" + signature.name + "' reads TMA descriptors, but none were given";
    params.words.push_back(tensorMapsAddress);
  }
  if (manifest.workspaceWords != 0) {
    if (workspaceAddress == 0 || workspaceWords <= 0)
      return "kernel '" + signature.name + "' takes a workspace, but none was given";
    if (std::string error = pushDescriptor(params, ParamDecl{"workspace"},
                                           workspaceAddress, {workspaceWords});
        !error.empty())
      return error;
  }
  for (uint64_t &word : params.words)
    params.pointers.push_back(&word);
  return {};
}

SpecSignature tmix::rt::callerSignature(const GpuManifest &manifest) {
  return manifest.kernel.sumsGradients
             ? reducedGradientSignature(manifest.kernel.signature)
             : manifest.kernel.signature;
}

std::string tmix::rt::gradientSumLaunches(const GpuManifest &manifest,
                                          const std::map<std::string, int64_t> &bound,
                                          std::vector<GradientSumLaunch> &sums,
                                          int64_t &partialWords, int64_t &planWords) {
  sums.clear();
  partialWords = planWords = 0;
  if (!manifest.kernel.sumsGradients)
    return {};
  const SpecSignature &signature = manifest.kernel.signature;
  for (size_t index = 0; index < signature.results.size(); ++index) {
    const ParamDecl &result = signature.results[index];
    size_t argument = gradientArgument(signature, result);
    if (argument == signature.args.size())
      return "result '" + result.name + "' of kernel '" + signature.name +
             "' is the gradient of no argument";
    if (sharesNothing(signature.args[argument], result))
      continue; // written by the kernel into the caller's tensor
    GradientSumLaunch sum;
    sum.result = index;
    sum.partialShape = shapeOf(result, bound);
    GradientSum plan;
    if (std::string error = planGradientSum(signature, argument, result, bound, plan);
        !error.empty())
      return error;
    sum.plan = plan.encode();
    sum.count = plan.count();
    if ((sum.count + kGradientSumThreads - 1) / kGradientSumThreads > kMaxCudaGridX)
      return "the gradient '" + result.name + "' of kernel '" + signature.name +
             "' has " + std::to_string(sum.count) +
             " elements: more than a CUDA grid of " + std::to_string(kMaxCudaGridX) +
             " blocks of " + std::to_string(kGradientSumThreads) + " sums at once";
    sum.partialElements = 1; // below 2^61: sizesFromList checked its bytes
    for (int64_t size : sum.partialShape)
      sum.partialElements *= size;
    // Two f32 a word, each partial from a 16-byte boundary.
    int64_t words = (sum.partialElements + 3) / 4 * 2;
    sum.partialWord = partialWords;
    sum.planWord = planWords;
    if (__builtin_add_overflow(partialWords, words, &partialWords) ||
        __builtin_add_overflow(planWords, static_cast<int64_t>(sum.plan.size()),
                               &planWords))
      return "the gradients of kernel '" + signature.name + "' need more than 2^63 words";
    sums.push_back(std::move(sum));
  }
  return {};
}

/// One launch's buffer: the TMA descriptors (64-byte aligned, at offset 0), the sizes
/// array, then the workspace (its per-CTA words, then the rest), in device memory, and
/// the host words they are copied from (up to the per-CTA words, zeros). The copy, the
/// launch and `done` are enqueued on the launch's stream in that order, so the buffer
/// (host and device side) is free again once `done` has fired.
struct CudaKernel::LaunchBuffer {
  CUdeviceptr device = 0;
  /// The words allocated at `device` (grown for a larger workspace).
  size_t deviceWords = 0;
  std::vector<uint64_t> host;
  CUevent done = nullptr;
  /// Set when recording `done` failed: the buffer may still be in use, forever.
  bool retired = false;
  /// The number of the launch that used it last (CudaKernel::launches_).
  uint64_t sequence = 0;
};

/// `words` 64-bit words of device memory for a launch buffer, aligned for the TMA
/// descriptors at its start.
static std::string allocateLaunchWords(Driver &driver, size_t words,
                                       CUdeviceptr &device) {
  if (CUresult result = driver.cuMemAlloc(&device, words * sizeof(uint64_t));
      result != kCudaSuccess)
    return driver.error(result, "cuMemAlloc");
  if (device % tensormap::kAlignment != 0) {
    driver.cuMemFree(device);
    return "cuMemAlloc gave an address that is not " +
           std::to_string(tensormap::kAlignment) + "-byte aligned";
  }
  return {};
}

CudaKernel::CudaKernel() = default;

std::string CudaKernel::load(const std::string &manifestPath,
                             std::unique_ptr<CudaKernel> &kernel) {
  GpuArtifact artifact;
  if (std::string error = readGpuArtifact(manifestPath, artifact); !error.empty())
    return error;
  return load(artifact, kernel);
}

std::string CudaKernel::load(const GpuArtifact &artifact,
                             std::unique_ptr<CudaKernel> &kernel) {
  // readGpuArtifact checked all this; an artifact built in memory gets the same checks.
  const std::string &path = artifact.manifestPath;
  if (std::string error = validateGpuManifest(artifact.manifest); !error.empty())
    return path + ": " + error;
  if (artifact.cubin.empty() && artifact.ptx.empty())
    return path + ": no cubin or PTX to load";
  if (!artifact.cubin.empty())
    if (std::string reason = checkCubinImage(artifact.cubin); !reason.empty())
      return path + ": the cubin is not a complete ELF file (" + reason + ")";
  if (!artifact.ptx.empty())
    if (std::string reason = checkPtxEntries(artifact.ptx, artifact.manifest);
        !reason.empty())
      return path + ": the PTX " + reason;
  std::string error;
  Driver *driver = openDriver(error);
  if (!driver)
    return error;
  auto loaded = std::unique_ptr<CudaKernel>(new CudaKernel());
  loaded->manifest_ = artifact.manifest;
  const GpuManifest &manifest = loaded->manifest_;
  const std::string &name = manifest.kernel.signature.name;
  CUmodule module = nullptr;
  std::string loadErrors;
  // The cubin when the device runs it (same architecture); else the PTX, which the
  // driver compiles for whatever device this is. Both were checked (GpuArtifact.h).
  for (const std::string *image : {&artifact.cubin, &artifact.ptx}) {
    if (image->empty())
      continue;
    std::string terminated = *image + '\0'; // PTX is loaded as a C string
    CUresult result = driver->cuModuleLoadData(&module, terminated.data());
    if (result == kCudaSuccess)
      break;
    module = nullptr;
    loadErrors += std::string(" ") + (image == &artifact.cubin ? "the cubin" : "the PTX") +
                  ": " + driver->error(result, "cuModuleLoadData") + ";";
  }
  if (!module)
    return "cannot load kernel '" + name + "':" + loadErrors;
  CUfunction function = nullptr;
  if (CUresult result = driver->cuModuleGetFunction(&function, module, name.c_str());
      result != kCudaSuccess)
    return driver->error(result, "cuModuleGetFunction");
  if (manifest.sharedBytes > kStaticSharedLimit) {
    // The manifest was checked against its target's limit; the device may have less.
    int limit = 0;
    if (CUresult result =
            driver->cuDeviceGetAttribute(&limit, kDeviceAttrMaxSharedOptin, driver->device);
        result != kCudaSuccess)
      return driver->error(result, "cuDeviceGetAttribute");
    if (manifest.sharedBytes > limit)
      return "kernel '" + name + "' needs " + std::to_string(manifest.sharedBytes) +
             " bytes of shared memory; this device allows " + std::to_string(limit);
    if (CUresult result = driver->cuFuncSetAttribute(
            function, kAttrMaxDynamicSharedBytes, static_cast<int>(manifest.sharedBytes));
        result != kCudaSuccess)
      return driver->error(result, "cuFuncSetAttribute");
  }
  loaded->function_ = function;
  loaded->signature_ = callerSignature(manifest);
  if (manifest.kernel.sumsGradients) {
    CUfunction sum = nullptr;
    if (CUresult result = driver->cuModuleGetFunction(&sum, module, kGradientSumKernel);
        result != kCudaSuccess)
      return driver->error(result, "cuModuleGetFunction");
    loaded->sumFunction_ = sum;
  }
  kernel = std::move(loaded);
  return {};
}

CudaKernel::~CudaKernel() {
  std::string error;
  Driver *driver = buffers_.empty() ? nullptr : openDriver(error);
  if (!driver)
    return;
  for (const std::unique_ptr<LaunchBuffer> &buffer : buffers_) {
    if (buffer->retired)
      continue; // never known to be free: leaked rather than freed under a kernel
    driver->cuEventSynchronize(buffer->done);
    driver->cuEventDestroy(buffer->done);
    driver->cuMemFree(buffer->device);
  }
}

/// The encoded TMA descriptors of this launch's tensors (their shapes already checked).
std::string CudaKernel::encodeTensorMaps(Driver &driver,
                                         const std::vector<DeviceTensor> &tensors,
                                         std::vector<uint64_t> &encoded) {
  const std::vector<TensorMapDecl> &maps = manifest_.tensorMaps;
  encoded.assign(maps.size() * kTensorMapWords, 0);
  if (maps.empty())
    return {};
  if (!driver.cuTensorMapEncodeTiled)
    return "kernel '" + manifest_.kernel.signature.name +
           "' needs cuTensorMapEncodeTiled, which this CUDA driver lacks (CUDA 12 or later)";
  const std::vector<ParamDecl> &args = manifest_.kernel.signature.args;
  for (size_t index = 0; index < maps.size(); ++index) {
    size_t arg = 0;
    while (arg < args.size() && args[arg].name != maps[index].arg)
      ++arg;
    if (arg == args.size() || arg >= tensors.size())
      return "TMA descriptor of '" + maps[index].arg + "', which is not an argument";
    TensorMapArgs call;
    if (std::string error =
            tensorMapArgs(maps[index], tensors[arg].address,
                          logicalView(args[arg], tensors[arg].shape), call);
        !error.empty())
      return error;
    if (CUresult result = driver.cuTensorMapEncodeTiled(
            &encoded[index * kTensorMapWords], call.dataType, call.rank,
            reinterpret_cast<void *>(static_cast<uintptr_t>(call.globalAddress)),
            call.globalDims.data(), call.globalStrides.data(), call.boxDims.data(),
            call.elementStrides.data(), call.interleave, call.swizzle, call.l2Promotion,
            call.oobFill);
        result != kCudaSuccess)
      return driver.error(result, ("cuTensorMapEncodeTiled of '" + maps[index].arg + "'").c_str());
  }
  return {};
}

/// A launch buffer no launch in flight uses: the first whose event has fired (looking
/// from the one after the last taken, the likeliest); else a new one, up to
/// kMaxLaunchesInFlight; else the one of the oldest launch, once it has finished.
std::string CudaKernel::acquireBuffer(Driver &driver, LaunchBuffer *&buffer) {
  size_t count = buffers_.size();
  for (size_t step = 0; step < count; ++step) {
    size_t index = (nextBuffer_ + step) % count;
    if (buffers_[index]->retired)
      continue;
    CUresult result = driver.cuEventQuery(buffers_[index]->done);
    if (result == kCudaErrorNotReady)
      continue;
    if (result != kCudaSuccess)
      return driver.error(result, "cuEventQuery");
    buffer = buffers_[index].get();
    nextBuffer_ = index + 1;
    return {};
  }
  if (count < kMaxLaunchesInFlight) {
    auto fresh = std::make_unique<LaunchBuffer>();
    fresh->host.assign(manifest_.tensorMaps.size() * kTensorMapWords +
                           std::max<size_t>(manifest_.kernel.sizeSymbols.size(), 1),
                       0);
    fresh->deviceWords = fresh->host.size();
    if (std::string error =
            allocateLaunchWords(driver, fresh->deviceWords, fresh->device);
        !error.empty())
      return error;
    if (CUresult result = driver.cuEventCreate(&fresh->done, kEventDisableTiming);
        result != kCudaSuccess) {
      driver.cuMemFree(fresh->device);
      return driver.error(result, "cuEventCreate");
    }
    buffers_.push_back(std::move(fresh));
    buffer = buffers_.back().get();
    nextBuffer_ = 0; // the oldest is the first again
    return {};
  }
  // Every buffer is in flight: wait for the one of the oldest launch.
  LaunchBuffer *oldest = nullptr;
  for (const std::unique_ptr<LaunchBuffer> &candidate : buffers_)
    if (!candidate->retired && (!oldest || candidate->sequence < oldest->sequence))
      oldest = candidate.get();
  if (oldest) {
    if (CUresult result = driver.cuEventSynchronize(oldest->done); result != kCudaSuccess)
      return driver.error(result, "cuEventSynchronize");
    buffer = oldest;
    return {};
  }
  return "every launch buffer of kernel '" + manifest_.kernel.signature.name +
         "' was lost to earlier CUDA errors";
}

/// Packed sequences: the offsets live on the device, so a host copy of them (N + 1
/// words) is checked as the host launchers check theirs (checkSequenceOffsets), once
/// the work queued on `stream` before the launch, which may write them, is done. This
/// waits for that work: a caller that keeps the offsets on the host as well may check
/// them there and launch without the wait in a later version of this API.
std::string CudaKernel::checkDeviceOffsets(Driver &driver,
                                           const std::vector<DeviceTensor> &tensors,
                                           const std::map<std::string, int64_t> &bound,
                                           void *stream) {
  const SpecSignature &signature = manifest_.kernel.signature;
  if (!signature.sequenceOffsets)
    return {};
  size_t index = *signature.sequenceOffsets;
  HostTensor offsets(signature.args[index].dtype, tensors[index].shape);
  CUevent event = nullptr;
  if (CUresult result = driver.cuEventCreate(&event, 0); result != kCudaSuccess)
    return driver.error(result, "cuEventCreate");
  CUresult result = driver.cuEventRecord(event, static_cast<CUstream>(stream));
  const char *call = "cuEventRecord";
  if (result == kCudaSuccess) {
    result = driver.cuEventSynchronize(event);
    call = "cuEventSynchronize";
  }
  if (result == kCudaSuccess) {
    result = driver.cuMemcpyDtoH(offsets.data(), tensors[index].address,
                                 offsets.numBytes());
    call = "cuMemcpyDtoH";
  }
  driver.cuEventDestroy(event);
  if (result != kCudaSuccess)
    return driver.error(result, call);
  return checkSequenceOffsets(signature, offsets, bound);
}

std::string CudaKernel::launch(const std::vector<DeviceTensor> &tensors,
                               const std::vector<double> &scalars,
                               const std::vector<int64_t> &sizes, void *stream) {
  // ---- checks: no driver call until the call is known to be good ----
  std::map<std::string, int64_t> bound;
  if (std::string error = sizesFromList(manifest_, sizes, bound); !error.empty())
    return error;
  CudaGrid grid;
  if (std::string error = cudaGridOf(manifest_, bound, grid); !error.empty())
    return error;
  int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
  int64_t workspaceWords = 0;
  if (std::string error = workspaceWordsOf(manifest_, bound, blocks, workspaceWords);
      !error.empty())
    return error;
  // A `gradients summed` kernel writes its shared gradients per point into words of
  // the launch's own, summed into the caller's tensors after it.
  std::vector<GradientSumLaunch> sums;
  int64_t partialWords = 0, planWords = 0;
  if (std::string error =
          gradientSumLaunches(manifest_, bound, sums, partialWords, planWords);
      !error.empty())
    return error;
  std::vector<DeviceTensor> kernelTensors = tensors;
  size_t numArgs = signature_.args.size();
  for (const GradientSumLaunch &sum : sums) {
    const ParamDecl &gradient = signature_.results[sum.result];
    if (numArgs + sum.result >= tensors.size())
      break; // packKernelParams reports the count
    const DeviceTensor &given = tensors[numArgs + sum.result];
    if (given.shape != shapeOf(gradient, bound))
      return "tensor '" + gradient.name + "' does not have its declared shape " +
             declaredShapeString(gradient);
    if (given.address == 0 || given.address % kTensorAlignment != 0)
      return "tensor '" + gradient.name + "' has a null or unaligned device address";
    kernelTensors[numArgs + sum.result] =
        DeviceTensor{kPlaceholderAddress, sum.partialShape};
  }
  KernelParams params;
  if (std::string error = packKernelParams(
          manifest_, kernelTensors, scalars, bound, kPlaceholderAddress, params,
          kPlaceholderAddress, kPlaceholderAddress, workspaceWords);
      !error.empty())
    return error;
  for (const TensorMapDecl &map : manifest_.tensorMaps) {
    size_t arg = 0;
    while (manifest_.kernel.signature.args[arg].name != map.arg)
      ++arg; // the manifest's TMA records name arguments
    TensorMapArgs call;
    if (std::string error =
            tensorMapArgs(map, tensors[arg].address,
                          logicalView(manifest_.kernel.signature.args[arg], tensors[arg].shape),
                          call);
        !error.empty())
      return error;
  }

  // ---- the launch ----
  std::string error;
  Driver *driver = openDriver(error);
  if (!driver)
    return error;
  if (std::string offsetsError = checkDeviceOffsets(*driver, tensors, bound, stream);
      !offsetsError.empty())
    return offsetsError;
  std::vector<uint64_t> tensorMaps;
  if (std::string mapError = encodeTensorMaps(*driver, tensors, tensorMaps); !mapError.empty())
    return mapError;
  std::lock_guard<std::mutex> lock(mutex_);
  LaunchBuffer *buffer = nullptr;
  if (std::string bufferError = acquireBuffer(*driver, buffer); !bufferError.empty())
    return bufferError;
  buffer->sequence = ++launches_;
  // The buffer's host words: descriptors, sizes, the sums' plans, then the workspace's
  // per-CTA words (zeros); after them the rest of the workspace and the sums' partials.
  // Untouched until `done` fires, so the asynchronous copy reads them whenever the
  // stream gets to it.
  size_t sizesOffset = tensorMaps.size();
  size_t plansOffset = sizesOffset + std::max<size_t>(sizes.size(), 1);
  size_t workspaceOffset = plansOffset + static_cast<size_t>(planWords);
  size_t zeroed = workspaceWords == 0 ? 0 : static_cast<size_t>(blocks);
  buffer->host.assign(workspaceOffset + zeroed, 0);
  std::copy(tensorMaps.begin(), tensorMaps.end(), buffer->host.begin());
  for (size_t index = 0; index < sizes.size(); ++index)
    buffer->host[sizesOffset + index] = static_cast<uint64_t>(sizes[index]);
  for (const GradientSumLaunch &sum : sums)
    std::copy(sum.plan.begin(), sum.plan.end(),
              buffer->host.begin() + static_cast<ptrdiff_t>(plansOffset + sum.planWord));
  // Even: the partials start 16-byte aligned.
  size_t partialsOffset =
      (workspaceOffset + static_cast<size_t>(workspaceWords) + 1) / 2 * 2;
  size_t neededWords = partialsOffset + static_cast<size_t>(partialWords);
  if (neededWords > buffer->deviceWords) {
    // A larger workspace than this buffer's launches had: the buffer is free (its last
    // launch finished), so its memory is replaced.
    CUdeviceptr grown = 0;
    if (std::string error = allocateLaunchWords(*driver, neededWords, grown);
        !error.empty())
      return error;
    driver->cuMemFree(buffer->device);
    buffer->device = grown;
    buffer->deviceWords = neededWords;
  }
  auto wordAddress = [&](size_t word) {
    return buffer->device + word * sizeof(uint64_t);
  };
  for (const GradientSumLaunch &sum : sums)
    kernelTensors[numArgs + sum.result].address =
        wordAddress(partialsOffset + static_cast<size_t>(sum.partialWord));
  CUdeviceptr sizesAddress = buffer->device + sizesOffset * sizeof(uint64_t);
  CUdeviceptr workspaceAddress =
      workspaceWords == 0 ? 0 : buffer->device + workspaceOffset * sizeof(uint64_t);
  if (std::string packError = packKernelParams(
          manifest_, kernelTensors, scalars, bound, sizesAddress, params,
          tensorMaps.empty() ? 0 : buffer->device, workspaceAddress, workspaceWords);
      !packError.empty())
    return packError;
  auto cudaStream = static_cast<CUstream>(stream);
  if (CUresult result =
          driver->cuMemcpyHtoDAsync(buffer->device, buffer->host.data(),
                                    buffer->host.size() * sizeof(uint64_t), cudaStream);
      result != kCudaSuccess)
    return driver->error(result, "cuMemcpyHtoDAsync");
  CUresult launched = driver->cuLaunchKernel(
      static_cast<CUfunction>(function_), grid.x, grid.y, grid.z,
      static_cast<unsigned>(manifest_.blockThreads), 1, 1,
      static_cast<unsigned>(manifest_.sharedBytes), cudaStream, params.pointers.data(),
      nullptr);
  // Then each shared gradient's sum, in stream order after the kernel.
  for (size_t index = 0; index < sums.size() && launched == kCudaSuccess; ++index) {
    const GradientSumLaunch &sum = sums[index];
    KernelParams sumParams;
    auto push = [&](unsigned long long address, int64_t count) {
      // Rank-1 descriptors, within the sizes checked above: no error to report.
      (void)pushDescriptor(sumParams, ParamDecl{"sum"}, address, {count});
    };
    push(kernelTensors[numArgs + sum.result].address, sum.partialElements);
    push(tensors[numArgs + sum.result].address, sum.count);
    push(wordAddress(plansOffset + static_cast<size_t>(sum.planWord)),
         static_cast<int64_t>(sum.plan.size()));
    for (uint64_t &word : sumParams.words)
      sumParams.pointers.push_back(&word);
    auto sumBlocks = static_cast<unsigned>((sum.count + kGradientSumThreads - 1) /
                                           kGradientSumThreads);
    launched = driver->cuLaunchKernel(static_cast<CUfunction>(sumFunction_), sumBlocks, 1,
                                      1, static_cast<unsigned>(kGradientSumThreads), 1, 1,
                                      0, cudaStream, sumParams.pointers.data(), nullptr);
  }
  // Recorded even when the launch failed: the copy was enqueued and reads the buffer.
  if (CUresult result = driver->cuEventRecord(buffer->done, cudaStream);
      result != kCudaSuccess) {
    buffer->retired = true;
    return driver->error(result, "cuEventRecord");
  }
  if (launched != kCudaSuccess)
    return driver->error(launched, "cuLaunchKernel");
  return {};
}

std::string tmix::rt::launchOnCuda(const std::string &manifestPath, Bindings &bindings,
                                   std::vector<HostTensor> &outputs) {
  GpuArtifact artifact;
  if (std::string error = readGpuArtifact(manifestPath, artifact); !error.empty())
    return error;
  return launchOnCuda(artifact, bindings, outputs);
}

std::string tmix::rt::launchOnCuda(const GpuArtifact &artifact, Bindings &bindings,
                                   std::vector<HostTensor> &outputs) {
  // Shapes, sizes, grid and scalars first: a wrong call is reported the same with or
  // without a GPU.
  const GpuManifest &manifest = artifact.manifest;
  const SpecSignature &signature = manifest.kernel.signature;
  if (std::string error = bindSizes(signature, bindings); !error.empty())
    return error;
  std::vector<int64_t> sizes;
  for (const std::string &symbol : manifest.kernel.sizeSymbols) {
    auto found = bindings.sizes.find(symbol);
    if (found == bindings.sizes.end())
      return "size symbol '" + symbol + "' is not bound";
    sizes.push_back(found->second);
  }
  std::map<std::string, int64_t> bound;
  if (std::string error = sizesFromList(manifest, sizes, bound); !error.empty())
    return error;
  CudaGrid grid;
  if (std::string error = cudaGridOf(manifest, bound, grid); !error.empty())
    return error;
  if (bindings.scalars.size() < signature.args.size() ||
      bindings.tensors.size() < signature.args.size())
    return "kernel '" + signature.name + "' takes " + std::to_string(signature.args.size()) +
           " arguments";
  for (size_t index = 0; index < signature.args.size(); ++index)
    if (!signature.args[index].isTensor)
      if (std::string error = checkScalarValue(signature.args[index], bindings.scalars[index]);
          !error.empty())
        return error;

  std::unique_ptr<CudaKernel> kernel;
  if (std::string error = CudaKernel::load(artifact, kernel); !error.empty())
    return error;
  std::string error;
  Driver *driver = openDriver(error);
  if (!driver)
    return error;
  std::vector<DeviceTensor> tensors;
  std::vector<unsigned long long> allocations;
  auto release = [&] {
    for (unsigned long long address : allocations)
      driver->cuMemFree(address);
  };
  auto upload = [&](const HostTensor *host, const ParamDecl &decl) -> std::string {
    DeviceTensor tensor;
    tensor.shape = shapeOf(decl, bound);
    int64_t bytes = 0;
    tensorBytes(decl, bound, bytes); // checked by sizesFromList
    if (CUresult result = driver->cuMemAlloc(&tensor.address,
                                             std::max<size_t>(static_cast<size_t>(bytes), 1));
        result != kCudaSuccess)
      return driver->error(result, ("allocating '" + decl.name + "' on the device").c_str());
    allocations.push_back(tensor.address);
    CUresult result = kCudaSuccess;
    if (host) {
      HostTensor converted = host->convertedTo(decl.dtype);
      result = driver->cuMemcpyHtoD(tensor.address, converted.data(),
                                    static_cast<size_t>(bytes));
    } else {
      result = driver->cuMemsetD8(tensor.address, 0, static_cast<size_t>(bytes));
    }
    if (result != kCudaSuccess)
      return driver->error(result, ("copying '" + decl.name + "' to the device").c_str());
    tensors.push_back(tensor);
    return {};
  };
  std::vector<double> scalars(signature.args.size(), 0.0);
  for (size_t index = 0; index < signature.args.size(); ++index) {
    const ParamDecl &decl = signature.args[index];
    std::string uploadError;
    if (decl.isTensor) {
      uploadError = upload(&bindings.tensors[index], decl);
    } else {
      scalars[index] = bindings.scalars[index];
      tensors.push_back(DeviceTensor());
    }
    if (!uploadError.empty())
      return release(), uploadError;
  }
  // The results as the kernel's callers see them (a recurrence adjoint's gradients in
  // their arguments' shapes).
  const SpecSignature &caller = kernel->signature();
  for (const ParamDecl &result : caller.results)
    if (std::string uploadError = upload(nullptr, result); !uploadError.empty())
      return release(), uploadError;
  if (std::string launchError = kernel->launch(tensors, scalars, sizes, nullptr);
      !launchError.empty())
    return release(), launchError;
  if (CUresult result = driver->cuCtxSynchronize(); result != kCudaSuccess)
    return release(), driver->error(result, "cuCtxSynchronize");
  // The host outputs only now: the device held them, so their size is a real one.
  outputs.clear();
  for (const ParamDecl &result : caller.results)
    outputs.emplace_back(result.dtype, shapeOf(result, bound));
  for (size_t index = 0; index < outputs.size(); ++index) {
    const DeviceTensor &tensor = tensors[signature.args.size() + index];
    if (CUresult result = driver->cuMemcpyDtoH(outputs[index].data(), tensor.address,
                                               outputs[index].numBytes());
        result != kCudaSuccess)
      return release(), driver->error(result, "cuMemcpyDtoH");
  }
  release();
  return {};
}

extern "C" int tmix_cuda_launch(const char *manifest_path, const uint64_t *tensors,
                                const double *scalars, const int64_t *sizes, void *stream,
                                char *error, size_t error_size) {
  // Kernels are loaded once per manifest path.
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CudaKernel>> kernels;
  auto report = [&](const std::string &message) {
    if (error && error_size > 0) {
      std::strncpy(error, message.c_str(), error_size - 1);
      error[error_size - 1] = '\0';
    }
    return message.empty() ? 0 : 1;
  };
  if (!manifest_path)
    return report("tmix_cuda_launch: the manifest path is null");
  std::unique_ptr<CudaKernel> *kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    kernel = &kernels[manifest_path];
    if (!*kernel)
      if (std::string message = CudaKernel::load(manifest_path, *kernel); !message.empty())
        return report(message);
  }
  const GpuManifest &manifest = (*kernel)->manifest();
  const SpecSignature &signature = (*kernel)->signature();
  size_t numSizes = manifest.kernel.sizeSymbols.size();
  if (!tensors || !scalars || (numSizes > 0 && !sizes))
    return report("tmix_cuda_launch: null tensors, scalars or sizes for kernel '" +
                  signature.name + "'");
  std::vector<int64_t> sizeList(sizes, sizes + numSizes);
  std::map<std::string, int64_t> bound;
  if (std::string message = sizesFromList(manifest, sizeList, bound); !message.empty())
    return report(message);
  std::vector<DeviceTensor> deviceTensors;
  auto add = [&](const ParamDecl &decl, uint64_t address) {
    DeviceTensor tensor;
    tensor.address = address;
    if (decl.isTensor)
      tensor.shape = shapeOf(decl, bound);
    deviceTensors.push_back(tensor);
  };
  size_t slot = 0;
  for (const ParamDecl &decl : signature.args)
    add(decl, tensors[slot++]);
  for (const ParamDecl &decl : signature.results)
    add(decl, tensors[slot++]);
  std::vector<double> scalarList(scalars, scalars + signature.args.size());
  // CudaKernel::launch is thread-safe: launches of different kernels (or streams) from
  // several threads do not wait on each other here.
  return report((*kernel)->launch(deviceTensors, scalarList, sizeList, stream));
}

extern "C" int tmix_cuda_device(char *name, size_t name_size, int *major, int *minor) {
  std::string error;
  Driver *driver = openDriver(error);
  auto copy = [&](const std::string &text) {
    if (name && name_size > 0) {
      std::strncpy(name, text.c_str(), name_size - 1);
      name[name_size - 1] = '\0';
    }
  };
  if (!driver)
    return copy(error), 1;
  char buffer[256] = {};
  if (CUresult result = driver->cuDeviceGetName(buffer, sizeof(buffer), driver->device);
      result != kCudaSuccess)
    return copy(driver->error(result, "cuDeviceGetName")), 1;
  if (major)
    driver->cuDeviceGetAttribute(major, kDeviceAttrComputeMajor, driver->device);
  if (minor)
    driver->cuDeviceGetAttribute(minor, kDeviceAttrComputeMinor, driver->device);
  copy(buffer);
  return 0;
}
