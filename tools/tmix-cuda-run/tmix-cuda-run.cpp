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
// for the sm_90a emulator of the tests (test/codegen/nvidia/Inputs/hopper.py). Runtime
// only (no MLIR), so it builds with -DTMIX_RUNTIME_ONLY=ON on a GPU machine. Errors: one
// line, exit status 1; the manifest, its kernel images and every option are checked
// before an input is read or the device is looked for.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"
#include "runtime/cuda/CudaLauncher.h"
#include "runtime/cuda/GpuArtifact.h"
#include "runtime/cuda/TensorMap.h"
#include "runtime/cuda/tmix_cuda.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

using namespace tmix::rt;

namespace {

/// --tensor-maps: tensor argument i sits at BASE + i * 2^kTensorSpacingLog2.
constexpr unsigned kTensorSpacingLog2 = 26;
constexpr double kTwoTo63 = 9223372036854775808.0;

int fail(const std::string &message) {
  std::fprintf(stderr, "tmix-cuda-run: error: %s\n", message.c_str());
  return 1;
}

std::string joined(const std::vector<std::string> &names) {
  std::string text;
  for (const std::string &name : names)
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

/// A whole decimal integer (optional sign, digits only), without overflow.
bool parseInteger(const std::string &text, long long &value) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-'))
    return false;
  char *end = nullptr;
  errno = 0;
  value = std::strtoll(text.c_str(), &end, 10);
  return errno == 0 && *end == '\0' && end != text.c_str();
}

/// A device address: decimal digits, or 0x and hex digits; below 2^64.
bool parseAddress(const std::string &text, unsigned long long &value) {
  bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  std::string digits = hex ? text.substr(2) : text;
  if (digits.empty())
    return false;
  for (char c : digits)
    if (!(hex ? std::isxdigit(static_cast<unsigned char>(c))
              : std::isdigit(static_cast<unsigned char>(c))))
      return false;
  char *end = nullptr;
  errno = 0;
  value = std::strtoull(digits.c_str(), &end, hex ? 16 : 10);
  return errno == 0 && *end == '\0';
}

/// The value of `--set NAME=TEXT` for the scalar `decl`: bool as true/false/0/1,
/// integers as whole decimal numbers, floats as numbers (inf and -inf included); then
/// range-checked (checkScalarValue). Returns an error or empty.
std::string scalarValue(const ParamDecl &decl, const std::string &text, double &value) {
  std::string option = "--set " + decl.name + "=" + text + ": ";
  std::string dtype = dtypeName(decl.dtype);
  if (decl.dtype == DType::Bool) {
    if (text != "true" && text != "false" && text != "0" && text != "1")
      return option + "'" + decl.name + "' is bool (true or false)";
    value = text == "true" || text == "1";
  } else if (!isFloat(decl.dtype)) {
    long long integer = 0;
    if (!parseInteger(text, integer))
      return option + "'" + decl.name + "' is " + dtype + " and needs an integer";
    value = static_cast<double>(integer);
    // Scalars cross the runtime as doubles: an i64 beyond 2^53 may round, and is
    // refused rather than passed as another number (2^63 itself is out of range).
    if (value >= kTwoTo63 || static_cast<long long>(value) != integer)
      return option + "'" + decl.name + "' is " + dtype + " and " + text +
             " is not exact as a double (the runtime passes scalars as doubles)";
  } else {
    char *end = nullptr;
    value = text.empty() || std::isspace(static_cast<unsigned char>(text[0]))
                ? 0.0
                : std::strtod(text.c_str(), &end);
    if (!end || *end != '\0')
      return option + "'" + decl.name + "' needs a number";
  }
  if (std::string error = checkScalarValue(decl, value); !error.empty())
    return option + error;
  return {};
}

} // namespace

int main(int argc, char **argv) {
  std::string manifestPath, inputs, outputs, sizesText, tensorMapsBase;
  std::vector<std::string> sets;
  bool probe = false, tensorMaps = false;
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
      tensorMapsBase = v, tensorMaps = true;
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
  if (manifestPath.empty() || inputs.empty() || (outputs.empty() && !tensorMaps))
    return fail("usage: tmix-cuda-run MANIFEST --inputs=DIR --outputs=DIR|--tensor-maps=BASE "
                "[--sizes=N=..] [--set=NAME=VALUE] | tmix-cuda-run --probe");
  unsigned long long base = 0;
  if (tensorMaps && !parseAddress(tensorMapsBase, base))
    return fail("--tensor-maps=" + tensorMapsBase +
                ": expected a device address (decimal, or 0x and hex digits)");

  // The manifest and its kernel images, checked before anything else is read.
  GpuArtifact artifact;
  if (std::string error = readGpuArtifact(manifestPath, artifact); !error.empty())
    return fail(error);
  const GpuManifest &manifest = artifact.manifest;
  const SpecSignature &signature = manifest.kernel.signature;

  Bindings bindings;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (std::string error = parseNamePairs(sizesText, "--sizes", pairs); !error.empty())
    return fail(error);
  const std::vector<std::string> &symbols = manifest.kernel.sizeSymbols;
  for (const auto &[name, value] : pairs) {
    if (std::find(symbols.begin(), symbols.end(), name) == symbols.end())
      return fail("--sizes names '" + name + "', which is not a size symbol of kernel '" +
                  signature.name + "' (its symbols: " + joined(symbols) + ")");
    long long size = 0;
    if (!parseInteger(value, size) || size <= 0)
      return fail("--sizes gives " + name + "=" + value + ": sizes are positive integers");
    if (!bindings.sizes.emplace(name, size).second)
      return fail("--sizes gives " + name + " twice");
  }
  std::vector<std::string> scalarNames;
  for (const ParamDecl &decl : signature.args)
    if (!decl.isTensor)
      scalarNames.push_back(decl.name);
  std::map<std::string, std::string> scalars;
  for (const std::string &set : sets) {
    std::vector<std::pair<std::string, std::string>> setPairs;
    if (std::string error = parseNamePairs(set, "--set", setPairs); !error.empty())
      return fail(error);
    for (auto &[name, value] : setPairs) {
      if (std::find(scalarNames.begin(), scalarNames.end(), name) == scalarNames.end())
        return fail("--set names '" + name + "', which is not a scalar argument of kernel '" +
                    signature.name + "' (" +
                    (scalarNames.empty() ? std::string("it has none")
                                         : "its scalars: " + joined(scalarNames)) +
                    ")");
      if (!scalars.emplace(name, value).second)
        return fail("--set gives '" + name + "' twice");
    }
  }
  // Scalars before tensors: a bad --set is reported before any input is read.
  bindings.tensors.resize(signature.args.size());
  bindings.scalars.assign(signature.args.size(), 0.0);
  for (size_t index = 0; index < signature.args.size(); ++index) {
    const ParamDecl &decl = signature.args[index];
    if (decl.isTensor)
      continue;
    auto found = scalars.find(decl.name);
    if (found != scalars.end()) {
      if (std::string error = scalarValue(decl, found->second, bindings.scalars[index]);
          !error.empty())
        return fail(error);
    } else if (decl.defaultValue) {
      bindings.scalars[index] = *decl.defaultValue; // checked with the manifest
    } else {
      return fail("scalar '" + decl.name + "' has no default: give it with --set");
    }
  }
  for (size_t index = 0; index < signature.args.size(); ++index) {
    const ParamDecl &decl = signature.args[index];
    if (!decl.isTensor)
      continue;
    HostTensor tensor;
    if (std::string error = readNpy(inputs + "/" + decl.name + ".npy", tensor); !error.empty())
      return fail(error);
    bindings.tensors[index] = tensor.convertedTo(decl.dtype);
  }

  if (tensorMaps) {
    // The encode arguments of every TMA record, as a launch computes them, for tensors
    // whose shapes were checked as a launch checks them.
    if (std::string error = bindSizes(signature, bindings); !error.empty())
      return fail(error);
    for (const TensorMapDecl &map : manifest.tensorMaps) {
      size_t arg = 0;
      while (signature.args[arg].name != map.arg)
        ++arg; // the manifest's TMA records name tensor arguments
      unsigned long long offset = static_cast<unsigned long long>(arg) << kTensorSpacingLog2;
      unsigned long long address = 0;
      if (__builtin_add_overflow(base, offset, &address))
        return fail("--tensor-maps=" + tensorMapsBase + ": the address of '" + map.arg +
                    "' (BASE + " + std::to_string(arg) + " * 2^" +
                    std::to_string(kTensorSpacingLog2) + ") is past 2^64");
      TensorMapArgs call;
      if (std::string error =
              tensorMapArgs(map, address,
                            logicalView(signature.args[arg], bindings.tensors[arg].shape()),
                            call);
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
  if (std::string error = launchOnCuda(artifact, bindings, results); !error.empty())
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
