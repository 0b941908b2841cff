//===- ManifestFuzzer.cpp - libFuzzer entry point for GPU kernel manifests -===//
//
// Feeds arbitrary bytes to what the CUDA runtime does with an artifact before the
// device: the manifest parser and validator (runtime/cuda/GpuManifest.h), the cubin and
// PTX checks (GpuArtifact.h), and, for a manifest the parser accepts, the launch
// arithmetic (sizes, grid, kernel parameters, TMA arguments) at hostile sizes and
// scalars. Bad input must give an error, never a crash, a sanitizer report or a hang.
// An accepted manifest must also be one the validator accepts and that writes and
// parses back to itself: anything else aborts, as a finding.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaLauncher.h"
#include "runtime/cuda/GpuArtifact.h"
#include "runtime/cuda/GpuManifest.h"
#include "runtime/cuda/TensorMap.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

using namespace tmix::rt;

namespace {

/// Sizes a launch may be called with: tile edges, CUDA's grid limits, and values whose
/// products overflow.
constexpr int64_t kSizes[] = {1,
                              2,
                              3,
                              63,
                              64,
                              65,
                              128,
                              65535,
                              65536,
                              (int64_t(1) << 31) - 1,
                              int64_t(1) << 31,
                              int64_t(1) << 32,
                              int64_t(1) << 62,
                              std::numeric_limits<int64_t>::max()};
constexpr size_t kNumSizes = sizeof(kSizes) / sizeof(kSizes[0]);

/// Scalars a launch may be called with, beside the manifest's defaults.
const double kScalars[] = {0.0, -1.0, 2.5, 1e300, -1e300, 2147483648.0, 9223372036854775808.0,
                           std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()};
constexpr size_t kNumScalars = sizeof(kScalars) / sizeof(kScalars[0]);

/// Where the fuzzed launch's tensors sit: 16-byte aligned, apart.
constexpr unsigned long long kTensorBase = 0x10000000;
constexpr unsigned long long kTensorSpacing = 0x1000000;
constexpr unsigned long long kSizesAddress = 0x100;
constexpr unsigned long long kTensorMapsAddress = 0x200;

/// FNV-1a of the input: the seed of the sizes and scalars it is launched with, so that
/// the fuzzer's mutations reach every choice.
uint64_t hashOf(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : text)
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return hash;
}

[[noreturn]] void finding(const std::string &what, std::string_view input,
                          const std::string &detail) {
  std::fprintf(stderr, "manifest fuzzer: %s\n%s\n---- input ----\n%.*s\n", what.c_str(),
               detail.c_str(), static_cast<int>(input.size()), input.data());
  std::abort();
}

/// The launch-time checks and arithmetic of `manifest`, pure (no driver): each either
/// accepts or gives an error.
void launchArithmetic(const GpuManifest &manifest, uint64_t seed) {
  const SpecSignature &signature = manifest.kernel.signature;
  std::vector<int64_t> sizes;
  for (size_t index = 0; index < manifest.kernel.sizeSymbols.size(); ++index) {
    sizes.push_back(kSizes[seed % kNumSizes]);
    seed = seed / kNumSizes + index * 0x9e3779b97f4a7c15ull;
  }
  std::map<std::string, int64_t> bound;
  if (!sizesFromList(manifest, sizes, bound).empty())
    return;
  CudaGrid grid;
  (void)cudaGridOf(manifest, bound, grid);
  // A recurrence adjoint's sums (`gradients summed`) read inside their partials only
  // and write inside the caller's gradients only.
  std::vector<GradientSumLaunch> sums;
  int64_t partialWords = 0, planWords = 0;
  if (gradientSumLaunches(manifest, bound, sums, partialWords, planWords).empty())
    for (const GradientSumLaunch &sum : sums) {
      const std::vector<int64_t> &plan = sum.plan;
      size_t rank = static_cast<size_t>(plan[0]), summed = static_cast<size_t>(plan[1]);
      if (plan.size() != 2 + 3 * rank + 2 * summed)
        finding("a gradient sum's plan has the wrong number of words", "", "");
      __int128 lastRead = 0, lastWrite = 0, elements = 1;
      for (size_t dim = 0; dim < rank; ++dim) {
        lastWrite += __int128(plan[2 + dim] - 1) * plan[2 + rank + dim];
        lastRead += __int128(plan[2 + dim] - 1) * plan[2 + 2 * rank + dim];
      }
      for (size_t dim = 0; dim < summed; ++dim)
        lastRead +=
            __int128(plan[2 + 3 * rank + dim] - 1) * plan[2 + 3 * rank + summed + dim];
      for (int64_t size : sum.partialShape)
        elements *= size;
      if (lastRead >= elements || lastWrite >= sum.count)
        finding("a gradient sum reads or writes out of bounds", "",
                "result " + std::to_string(sum.result));
    }
  std::vector<DeviceTensor> tensors;
  std::vector<double> scalars;
  for (const auto *params : {&signature.args, &signature.results})
    for (const ParamDecl &param : *params) {
      DeviceTensor tensor;
      if (param.isTensor) {
        tensor.address = kTensorBase + tensors.size() * kTensorSpacing;
        tensor.shape = shapeOf(param, bound);
      }
      tensors.push_back(tensor);
    }
  for (const ParamDecl &param : signature.args) {
    bool useDefault = param.defaultValue && seed % 2 == 0;
    scalars.push_back(useDefault ? *param.defaultValue : kScalars[seed % kNumScalars]);
    seed /= kNumScalars;
  }
  KernelParams params;
  if (packKernelParams(manifest, tensors, scalars, bound, kSizesAddress, params,
                       kTensorMapsAddress)
          .empty() &&
      params.words.size() != kernelParamWords(manifest))
    finding("the packed ABI differs from kernelParamWords", "", "");
  for (const TensorMapDecl &map : manifest.tensorMaps)
    for (size_t arg = 0; arg < signature.args.size(); ++arg)
      if (signature.args[arg].name == map.arg) {
        TensorMapArgs call;
        (void)tensorMapArgs(map, tensors[arg].address, tensors[arg].shape, call);
      }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  // The kernel-image checks take any bytes (the corpus holds a minimal cubin).
  (void)checkCubinImage(input);
  (void)checkPtxImage(input, "causal", /*paramWords=*/49);

  GpuManifest manifest;
  if (!parseGpuManifest(input, manifest).empty())
    return 0;
  if (std::string error = validateGpuManifest(manifest); !error.empty())
    finding("the parser accepted a manifest the validator refuses", input, error);
  std::string written = writeGpuManifest(manifest);
  GpuManifest again;
  if (std::string error = parseGpuManifest(written, again); !error.empty())
    finding("a written manifest does not parse", input, error + "\n" + written);
  if (std::string rewritten = writeGpuManifest(again); rewritten != written)
    finding("a manifest does not round-trip", input, written + "\n----\n" + rewritten);
  launchArithmetic(manifest, hashOf(input));
  return 0;
}
