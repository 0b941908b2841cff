//===- tmix-cuda-run.cpp - Run one tmix GPU kernel on .npy inputs ----------===//
//
// `tmix-cuda-run MANIFEST --inputs=DIR --outputs=DIR [--sizes=N=..,..] [--set=x=1]`
// loads the kernel a manifest describes (written by `tmixc build`), reads every tensor
// argument from DIR/<arg>.npy (converted to the declared dtype), launches it on GPU 0
// and writes DIR/<result>.npy as float32 (or the declared integer type), like
// `tmixc run --outputs`. `tmix-cuda-run --probe` prints the device or the reason there
// is none. `tmix-cuda-run MANIFEST --inputs=DIR --tensor-maps=BASE` launches nothing: it
// prints, one line per TMA record, the cuTensorMapEncodeTiled arguments that a launch
// would pass (runtime/cuda/TensorMap.h) with tensor argument i at address BASE + i * 2^26,
// for the sm_90a emulator of the tests (test/codegen/nvidia/Inputs/hopper.py). Runtime only (no MLIR), so it builds with -DTMIX_RUNTIME_ONLY=ON on a GPU
// machine. Errors: one line, exit status 1.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"
#include "runtime/cuda/CudaLauncher.h"
#include "runtime/cuda/TensorMap.h"
#include "runtime/cuda/tmix_cuda.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <fstream>
#include <sstream>
#include <string>

using namespace tmix::rt;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "tmix-cuda-run: error: %s\n", message.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  std::string manifestPath, inputs, outputs, sizesText, tensorMapsBase;
  std::vector<std::string> sets;
  bool probe = false;
  for (int index = 1; index < argc; ++index) {
    std::string arg = argv[index];
    auto value = [&](const char *prefix) -> const char * {
      size_t length = std::strlen(prefix);
      return arg.compare(0, length, prefix) == 0 ? argv[index] + length : nullptr;
    };
    if (arg == "--probe")
      probe = true;
    else if (const char *v = value("--inputs="))
      inputs = v;
    else if (const char *v = value("--outputs="))
      outputs = v;
    else if (const char *v = value("--sizes="))
      sizesText = v;
    else if (const char *v = value("--set="))
      sets.push_back(v);
    else if (const char *v = value("--tensor-maps="))
      tensorMapsBase = v;
    else if (arg.rfind("-", 0) == 0)
      return fail("unknown option '" + arg + "'");
    else if (manifestPath.empty())
      manifestPath = arg;
    else
      return fail("more than one manifest");
  }
  if (probe) {
    char name[512] = {};
    int major = 0, minor = 0;
    if (tmix_cuda_device(name, sizeof(name), &major, &minor) != 0) {
      std::printf("%s\n", name);
      return 1;
    }
    std::printf("%s (sm_%d%d)\n", name, major, minor);
    return 0;
  }
  if (manifestPath.empty() || inputs.empty() || (outputs.empty() && tensorMapsBase.empty()))
    return fail("usage: tmix-cuda-run MANIFEST --inputs=DIR --outputs=DIR|--tensor-maps=BASE "
                "[--sizes=N=..] [--set=NAME=VALUE] | tmix-cuda-run --probe");

  std::ifstream file(manifestPath);
  if (!file)
    return fail("cannot read the manifest '" + manifestPath + "'");
  std::stringstream text;
  text << file.rdbuf();
  GpuManifest manifest;
  if (std::string error = parseGpuManifest(text.str(), manifest); !error.empty())
    return fail(manifestPath + ": " + error);
  const SpecSignature &signature = manifest.kernel.signature;

  Bindings bindings;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (std::string error = parseNamePairs(sizesText, "--sizes", pairs); !error.empty())
    return fail(error);
  for (const auto &[name, value] : pairs) {
    char *end = nullptr;
    long long size = std::strtoll(value.c_str(), &end, 10);
    if (*end != '\0' || size <= 0)
      return fail("--sizes gives " + name + "=" + value + ": sizes are positive integers");
    bindings.sizes[name] = size;
  }
  std::map<std::string, std::string> scalars;
  for (const std::string &set : sets) {
    std::vector<std::pair<std::string, std::string>> setPairs;
    if (std::string error = parseNamePairs(set, "--set", setPairs); !error.empty())
      return fail(error);
    for (auto &[name, value] : setPairs)
      scalars[name] = value;
  }
  bindings.tensors.resize(signature.args.size());
  bindings.scalars.assign(signature.args.size(), 0.0);
  for (size_t index = 0; index < signature.args.size(); ++index) {
    const ParamDecl &decl = signature.args[index];
    if (decl.isTensor) {
      HostTensor tensor;
      if (std::string error = readNpy(inputs + "/" + decl.name + ".npy", tensor);
          !error.empty())
        return fail(error);
      bindings.tensors[index] = tensor.convertedTo(decl.dtype);
      continue;
    }
    auto found = scalars.find(decl.name);
    if (found != scalars.end()) {
      char *end = nullptr;
      bindings.scalars[index] = std::strtod(found->second.c_str(), &end);
      if (*end != '\0')
        return fail("--set gives " + decl.name + "=" + found->second + ": not a number");
    } else if (decl.defaultValue) {
      bindings.scalars[index] = *decl.defaultValue;
    } else {
      return fail("scalar '" + decl.name + "' has no default: give it with --set");
    }
  }

  if (!tensorMapsBase.empty()) {
    // The encode arguments of every TMA record, as a launch computes them.
    unsigned long long base = std::strtoull(tensorMapsBase.c_str(), nullptr, 0);
    for (const TensorMapDecl &map : manifest.tensorMaps) {
      size_t arg = 0;
      while (arg < signature.args.size() && signature.args[arg].name != map.arg)
        ++arg;
      if (arg == signature.args.size())
        return fail("TMA record of '" + map.arg + "', which is not an argument");
      TensorMapArgs call;
      if (std::string error = tensorMapArgs(map, base + (static_cast<unsigned long long>(arg) << 26),
                                            bindings.tensors[arg].shape(), call);
          !error.empty())
        return fail(error);
      auto list = [](const auto &values, size_t count) {
        std::string text;
        for (size_t index = 0; index < count; ++index)
          text += (index ? "," : "") + std::to_string(values[index]);
        return text;
      };
      std::printf("tma %s dataType=%d rank=%u globalAddress=%llu globalDims=%s "
                  "globalStrides=%s boxDims=%s elementStrides=%s interleave=%d swizzle=%d "
                  "l2Promotion=%d oobFill=%d\n",
                  map.arg.c_str(), call.dataType, call.rank, call.globalAddress,
                  list(call.globalDims, call.rank).c_str(),
                  list(call.globalStrides, call.rank - 1).c_str(),
                  list(call.boxDims, call.rank).c_str(),
                  list(call.elementStrides, call.rank).c_str(), call.interleave, call.swizzle,
                  call.l2Promotion, call.oobFill);
    }
    return 0;
  }

  std::vector<HostTensor> results;
  if (std::string error = launchOnCuda(manifestPath, bindings, results); !error.empty())
    return fail(error);
  for (size_t index = 0; index < results.size(); ++index) {
    const ParamDecl &decl = signature.results[index];
    HostTensor out =
        isFloat(decl.dtype) ? results[index].convertedTo(DType::F32) : results[index];
    if (std::string error = writeNpy(outputs + "/" + decl.name + ".npy", out);
        !error.empty())
      return fail(error);
  }
  return 0;
}
