//===- CudaLauncher.cpp - Loading and launching tmix GPU kernels ----------===//

#include "runtime/cuda/CudaLauncher.h"

#include "runtime/cuda/CudaDriver.h"
#include "runtime/cuda/TensorMap.h"
#include "runtime/cuda/tmix_cuda.h"

#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

using namespace tmix::rt;
using namespace tmix::rt::cuda;

namespace {
constexpr int64_t kStaticSharedLimit = 48 * 1024;
constexpr int64_t kMaxGridX = (int64_t(1) << 31) - 1;
constexpr unsigned long long kTensorAlignment = 16;

bool readFile(const std::string &path, std::string &contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  contents = buffer.str();
  return true;
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

void pushDescriptor(KernelParams &params, unsigned long long address,
                    const std::vector<int64_t> &shape) {
  params.words.push_back(address); // allocated pointer
  params.words.push_back(address); // aligned pointer
  params.words.push_back(0);       // offset
  for (int64_t size : shape)
    params.words.push_back(static_cast<uint64_t>(size));
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t dim = shape.size(); dim-- > 1;)
    strides[dim - 1] = strides[dim] * shape[dim];
  for (int64_t stride : strides)
    params.words.push_back(static_cast<uint64_t>(stride));
}
} // namespace

std::string tmix::rt::sizesFromList(const GpuManifest &manifest,
                                    const std::vector<int64_t> &sizes,
                                    std::map<std::string, int64_t> &bound) {
  const std::vector<std::string> &symbols = manifest.kernel.sizeSymbols;
  if (sizes.size() != symbols.size())
    return "kernel '" + manifest.kernel.signature.name + "' takes " +
           std::to_string(symbols.size()) + " sizes but got " +
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
  const SpecSignature &signature = manifest.kernel.signature;
  if (signature.isAttention && signature.args.size() >= 2 &&
      signature.args[0].dims.size() == 4 && signature.args[1].dims.size() == 4) {
    auto value = [&](const DimDecl &dim) {
      return dim.symbol.empty() ? dim.size : bound[dim.symbol];
    };
    int64_t heads = value(signature.args[0].dims[1]);
    int64_t kvHeads = value(signature.args[1].dims[1]);
    if (heads % kvHeads != 0)
      return "the KV heads (" + std::to_string(kvHeads) + ") must divide the query heads (" +
             std::to_string(heads) + ")";
  }
  return {};
}

std::string tmix::rt::packKernelParams(const GpuManifest &manifest,
                                       const std::vector<DeviceTensor> &tensors,
                                       const std::vector<double> &scalars,
                                       const std::map<std::string, int64_t> &bound,
                                       unsigned long long sizesAddress,
                                       KernelParams &params,
                                       unsigned long long tensorMapsAddress) {
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
    pushDescriptor(params, tensor.address, tensor.shape);
    return {};
  };
  for (size_t index = 0; index < numArgs; ++index) {
    const ParamDecl &decl = signature.args[index];
    if (decl.isTensor) {
      if (std::string error = tensorParam(decl, tensors[index]); !error.empty())
        return error;
      continue;
    }
    uint64_t word = 0;
    if (isFloat(decl.dtype)) {
      double value = scalars[index];
      std::memcpy(&word, &value, sizeof(word));
    } else {
      word = static_cast<uint64_t>(static_cast<int64_t>(scalars[index]));
    }
    params.words.push_back(word);
  }
  for (size_t index = 0; index < signature.results.size(); ++index)
    if (std::string error =
            tensorParam(signature.results[index], tensors[numArgs + index]);
        !error.empty())
      return error;
  pushDescriptor(params, sizesAddress,
                 {static_cast<int64_t>(manifest.kernel.sizeSymbols.size())});
  if (!manifest.tensorMaps.empty()) {
    if (tensorMapsAddress == 0)
      return "kernel '" + signature.name + "' reads TMA descriptors, but none were given";
    params.words.push_back(tensorMapsAddress);
  }
  for (uint64_t &word : params.words)
    params.pointers.push_back(&word);
  return {};
}

std::string CudaKernel::load(const std::string &manifestPath,
                             std::unique_ptr<CudaKernel> &kernel) {
  std::string text;
  if (!readFile(manifestPath, text))
    return "cannot read the manifest '" + manifestPath + "'";
  auto loaded = std::unique_ptr<CudaKernel>(new CudaKernel());
  if (std::string error = parseGpuManifest(text, loaded->manifest_); !error.empty())
    return manifestPath + ": " + error;
  std::string error;
  Driver *driver = openDriver(error);
  if (!driver)
    return error;
  const GpuManifest &manifest = loaded->manifest_;
  std::string dir = directoryOf(manifestPath);
  CUmodule module = nullptr;
  std::string loadErrors;
  // The cubin when the device runs it (same architecture); else the PTX, which the
  // driver compiles for whatever device this is.
  for (const std::string *file : {&manifest.cubinFile, &manifest.ptxFile}) {
    if (file->empty())
      continue;
    std::string image;
    if (!readFile(dir + "/" + *file, image)) {
      loadErrors += " cannot read '" + dir + "/" + *file + "';";
      continue;
    }
    image.push_back('\0'); // PTX is loaded as a C string
    CUresult result = driver->cuModuleLoadData(&module, image.data());
    if (result == kCudaSuccess)
      break;
    module = nullptr;
    loadErrors += " " + *file + ": " + driver->error(result, "cuModuleLoadData") + ";";
  }
  if (!module)
    return "cannot load kernel '" + manifest.kernel.signature.name + "':" + loadErrors;
  CUfunction function = nullptr;
  if (CUresult result = driver->cuModuleGetFunction(
          &function, module, manifest.kernel.signature.name.c_str());
      result != kCudaSuccess)
    return driver->error(result, "cuModuleGetFunction");
  if (manifest.sharedBytes > kStaticSharedLimit) {
    int limit = 0;
    driver->cuDeviceGetAttribute(&limit, kDeviceAttrMaxSharedOptin, driver->device);
    if (limit > 0 && manifest.sharedBytes > limit)
      return "kernel '" + manifest.kernel.signature.name + "' needs " +
             std::to_string(manifest.sharedBytes) +
             " bytes of shared memory; this device allows " + std::to_string(limit);
    if (CUresult result = driver->cuFuncSetAttribute(
            function, kAttrMaxDynamicSharedBytes, static_cast<int>(manifest.sharedBytes));
        result != kCudaSuccess)
      return driver->error(result, "cuFuncSetAttribute");
  }
  loaded->function_ = function;
  kernel = std::move(loaded);
  return {};
}

CudaKernel::~CudaKernel() {
  std::string error;
  for (unsigned long long buffer : {sizesBuffer_, tensorMapsBuffer_})
    if (buffer)
      if (Driver *driver = openDriver(error))
        driver->cuMemFree(buffer);
}

/// Encodes the manifest's TMA descriptors over this launch's tensors (checked) and
/// uploads them into tensorMapsBuffer_ (once per change: like the sizes array, a later launch with the same tensors reuses
/// them). The copy is synchronous, so a kernel still running with the previous
/// descriptors on the legacy default stream finishes first.
std::string CudaKernel::uploadTensorMaps(Driver &driver,
                                         const std::vector<DeviceTensor> &tensors) {
  const std::vector<TensorMapDecl> &maps = manifest_.tensorMaps;
  if (maps.empty())
    return {};
  if (!driver.cuTensorMapEncodeTiled)
    return "kernel '" + manifest_.kernel.signature.name +
           "' needs cuTensorMapEncodeTiled, which this CUDA driver lacks (CUDA 12 or later)";
  constexpr size_t kWords = tensormap::kBytes / sizeof(uint64_t);
  std::vector<uint64_t> encoded(maps.size() * kWords, 0);
  const std::vector<ParamDecl> &args = manifest_.kernel.signature.args;
  for (size_t index = 0; index < maps.size(); ++index) {
    size_t arg = 0;
    while (arg < args.size() && args[arg].name != maps[index].arg)
      ++arg;
    if (arg == args.size() || arg >= tensors.size())
      return "TMA descriptor of '" + maps[index].arg + "', which is not an argument";
    TensorMapArgs call;
    if (std::string error = tensorMapArgs(maps[index], tensors[arg].address,
                                          tensors[arg].shape, call);
        !error.empty())
      return error;
    if (CUresult result = driver.cuTensorMapEncodeTiled(
            &encoded[index * kWords], call.dataType, call.rank,
            reinterpret_cast<void *>(static_cast<uintptr_t>(call.globalAddress)),
            call.globalDims.data(), call.globalStrides.data(), call.boxDims.data(),
            call.elementStrides.data(), call.interleave, call.swizzle, call.l2Promotion,
            call.oobFill);
        result != kCudaSuccess)
      return driver.error(result, ("cuTensorMapEncodeTiled of '" + maps[index].arg + "'").c_str());
  }
  if (tensorMapsBuffer_ % tensormap::kAlignment != 0)
    return "the TMA descriptors' buffer is not 64-byte aligned";
  if (encoded != uploadedTensorMaps_) {
    if (CUresult result = driver.cuMemcpyHtoD(tensorMapsBuffer_, encoded.data(),
                                              encoded.size() * sizeof(uint64_t));
        result != kCudaSuccess)
      return driver.error(result, "cuMemcpyHtoD");
    uploadedTensorMaps_ = std::move(encoded);
  }
  return {};
}

std::string CudaKernel::launch(const std::vector<DeviceTensor> &tensors,
                               const std::vector<double> &scalars,
                               const std::vector<int64_t> &sizes, void *stream) {
  std::map<std::string, int64_t> bound;
  if (std::string error = sizesFromList(manifest_, sizes, bound); !error.empty())
    return error;
  std::optional<int64_t> programs = gridSize(manifest_.kernel, bound);
  if (!programs)
    return "the grid has more than 2^63 blocks";
  int64_t blocks = *programs;
  if (blocks > kMaxGridX)
    return "the grid of " + std::to_string(blocks) + " blocks is too large for one launch";
  std::string error;
  Driver *driver = openDriver(error);
  if (!driver)
    return error;
  // The sizes array lives on the device; uploaded again only when it changes.
  size_t bytes = std::max<size_t>(sizes.size(), 1) * sizeof(int64_t);
  if (!sizesBuffer_)
    if (CUresult result = driver->cuMemAlloc(&sizesBuffer_, bytes); result != kCudaSuccess)
      return driver->error(result, "cuMemAlloc");
  if (sizes != uploadedSizes_) {
    if (CUresult result = driver->cuMemcpyHtoD(sizesBuffer_, sizes.data(),
                                               sizes.size() * sizeof(int64_t));
        result != kCudaSuccess)
      return driver->error(result, "cuMemcpyHtoD");
    uploadedSizes_ = sizes;
  }
  size_t mapBytes = manifest_.tensorMaps.size() * tensormap::kBytes;
  if (mapBytes && !tensorMapsBuffer_)
    if (CUresult result = driver->cuMemAlloc(&tensorMapsBuffer_, mapBytes);
        result != kCudaSuccess)
      return driver->error(result, "cuMemAlloc");
  KernelParams params;
  if (std::string packError = packKernelParams(manifest_, tensors, scalars, bound,
                                               sizesBuffer_, params, tensorMapsBuffer_);
      !packError.empty())
    return packError;
  // After packKernelParams: the shapes are checked.
  if (std::string mapError = uploadTensorMaps(*driver, tensors); !mapError.empty())
    return mapError;
  if (blocks == 0)
    return {};
  if (CUresult result = driver->cuLaunchKernel(
          static_cast<CUfunction>(function_), static_cast<unsigned>(blocks), 1, 1,
          static_cast<unsigned>(manifest_.blockThreads), 1, 1,
          static_cast<unsigned>(manifest_.sharedBytes), static_cast<CUstream>(stream),
          params.pointers.data(), nullptr);
      result != kCudaSuccess)
    return driver->error(result, "cuLaunchKernel");
  return {};
}

std::string tmix::rt::launchOnCuda(const std::string &manifestPath, Bindings &bindings,
                                   std::vector<HostTensor> &outputs) {
  // Shapes first: a wrong call is reported the same with or without a GPU.
  std::string text;
  if (!readFile(manifestPath, text))
    return "cannot read the manifest '" + manifestPath + "'";
  GpuManifest manifest;
  if (std::string error = parseGpuManifest(text, manifest); !error.empty())
    return manifestPath + ": " + error;
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
  outputs.clear();
  for (const ParamDecl &result : signature.results)
    outputs.emplace_back(result.dtype, shapeOf(result, bindings.sizes));

  std::unique_ptr<CudaKernel> kernel;
  if (std::string error = CudaKernel::load(manifestPath, kernel); !error.empty())
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
    tensor.shape = shapeOf(decl, bindings.sizes);
    size_t bytes = dtypeSize(decl.dtype);
    for (int64_t size : tensor.shape)
      bytes *= static_cast<size_t>(size);
    if (CUresult result = driver->cuMemAlloc(&tensor.address, std::max<size_t>(bytes, 1));
        result != kCudaSuccess)
      return driver->error(result, "cuMemAlloc");
    allocations.push_back(tensor.address);
    CUresult result = kCudaSuccess;
    if (host) {
      HostTensor converted = host->convertedTo(decl.dtype);
      result = driver->cuMemcpyHtoD(tensor.address, converted.data(), bytes);
    } else {
      result = driver->cuMemsetD8(tensor.address, 0, bytes);
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
  for (const ParamDecl &result : signature.results)
    if (std::string uploadError = upload(nullptr, result); !uploadError.empty())
      return release(), uploadError;
  if (std::string launchError = kernel->launch(tensors, scalars, sizes, nullptr);
      !launchError.empty())
    return release(), launchError;
  if (CUresult result = driver->cuCtxSynchronize(); result != kCudaSuccess)
    return release(), driver->error(result, "cuCtxSynchronize");
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
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<CudaKernel> &kernel = kernels[manifest_path];
  if (!kernel)
    if (std::string message = CudaKernel::load(manifest_path, kernel); !message.empty())
      return report(message);
  const GpuManifest &manifest = kernel->manifest();
  const SpecSignature &signature = manifest.kernel.signature;
  std::vector<int64_t> sizeList(sizes, sizes + manifest.kernel.sizeSymbols.size());
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
  return report(kernel->launch(deviceTensors, scalarList, sizeList, stream));
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
