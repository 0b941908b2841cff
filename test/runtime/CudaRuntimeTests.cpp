//===- CudaRuntimeTests.cpp - The CUDA runtime without a GPU ---------------===//
//
// Manifest writing and parsing (good and malformed), size and shape checks, the packing
// of the kernel ABI, and the "no CUDA device" error: everything that runs before a
// device is touched.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaLauncher.h"
#include "runtime/cuda/GpuManifest.h"
#include "runtime/cuda/TensorMap.h"
#include "runtime/cuda/tmix_cuda.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace tmix::rt;

namespace {

const char *const kCausal = R"(tmix-gpu-manifest 1
# written by tmixc build
kernel causal
target sm_80
ptx causal.sm_80.ptx
cubin causal.sm_80.cubin
block_threads 128
shared_bytes 52224
schedule block_m=64 block_n=64 warps=4
sizes B H N HK M
grid B:1 H:1 N:64
arg q tensor bf16 B H N 128
arg k tensor bf16 B HK M 128
arg v tensor bf16 B HK M 128
arg window scalar i32 default=4096
result o tensor bf16 B H N 128
result lse tensor f32 B H N
)";

GpuManifest parsed(const std::string &text) {
  GpuManifest manifest;
  std::string error = parseGpuManifest(text, manifest);
  EXPECT_EQ(error, "");
  return manifest;
}

/// The error of `text`, with the line `from` replaced by `to`.
std::string errorWith(const std::string &from, const std::string &to) {
  std::string text = kCausal;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  GpuManifest manifest;
  return parseGpuManifest(text, manifest);
}

TEST(GpuManifest, ParsesEveryField) {
  GpuManifest manifest = parsed(kCausal);
  EXPECT_EQ(manifest.kernel.signature.name, "causal");
  EXPECT_EQ(manifest.target, "sm_80");
  EXPECT_EQ(manifest.ptxFile, "causal.sm_80.ptx");
  EXPECT_EQ(manifest.cubinFile, "causal.sm_80.cubin");
  EXPECT_EQ(manifest.blockThreads, 128);
  EXPECT_EQ(manifest.sharedBytes, 52224);
  ASSERT_EQ(manifest.schedule.size(), 3u);
  EXPECT_EQ(manifest.schedule[1].first, "block_n");
  EXPECT_EQ(manifest.schedule[1].second, 64);
  EXPECT_EQ(manifest.kernel.sizeSymbols,
            (std::vector<std::string>{"B", "H", "N", "HK", "M"}));
  ASSERT_EQ(manifest.kernel.grid.size(), 3u);
  EXPECT_EQ(manifest.kernel.grid[2].dim.symbol, "N");
  EXPECT_EQ(manifest.kernel.grid[2].tile, 64);
  ASSERT_EQ(manifest.kernel.signature.args.size(), 4u);
  const ParamDecl &k = manifest.kernel.signature.args[1];
  EXPECT_TRUE(k.isTensor);
  EXPECT_EQ(k.dtype, DType::BF16);
  EXPECT_EQ(k.dims[1].symbol, "HK");
  EXPECT_EQ(k.dims[3].size, 128);
  const ParamDecl &window = manifest.kernel.signature.args[3];
  EXPECT_FALSE(window.isTensor);
  EXPECT_EQ(window.dtype, DType::I32);
  ASSERT_TRUE(window.defaultValue.has_value());
  EXPECT_EQ(*window.defaultValue, 4096.0);
  ASSERT_EQ(manifest.kernel.signature.results.size(), 2u);
  EXPECT_EQ(manifest.kernel.signature.results[1].dtype, DType::F32);
}

TEST(GpuManifest, WriteThenParseIsIdentity) {
  GpuManifest manifest = parsed(kCausal);
  std::string text = writeGpuManifest(manifest);
  GpuManifest again = parsed(text);
  EXPECT_EQ(writeGpuManifest(again), text);
}

TEST(GpuManifest, MalformedInputsSayWhatAndWhere) {
  GpuManifest manifest;
  EXPECT_EQ(parseGpuManifest("", manifest), "empty manifest");
  EXPECT_EQ(parseGpuManifest("kernel x\n", manifest),
            "line 1: not a tmix GPU manifest (expected 'tmix-gpu-manifest 1')");
  EXPECT_EQ(errorWith("target sm_80", "target sm_70"),
            "line 4: unknown target 'sm_70' (expected sm_80 or sm_90a)");
  EXPECT_EQ(errorWith("block_threads 128", "block_threads many"),
            "line 7: 'block_threads' takes one non-negative integer");
  EXPECT_EQ(errorWith("grid B:1 H:1 N:64", "grid B:1 H N:64"),
            "line 11: bad grid dimension 'H' (expected DIM:TILE)");
  EXPECT_EQ(errorWith("grid B:1 H:1 N:64", "grid B:1 H:1 N:0"),
            "line 11: bad grid dimension 'N:0' (expected DIM:TILE)");
  EXPECT_EQ(errorWith("arg q tensor bf16", "arg q tensor f8"), "line 12: unknown dtype 'f8'");
  EXPECT_EQ(errorWith("arg q tensor bf16", "arg q matrix bf16"),
            "line 12: expected 'tensor' or 'scalar', found 'matrix'");
  EXPECT_EQ(errorWith("default=4096", "default=lots"), "line 15: bad default value 'lots'");
  EXPECT_EQ(errorWith("schedule block_m=64", "schedule block_m"),
            "line 9: bad schedule entry 'block_m' (expected NAME=INT)");
  EXPECT_EQ(errorWith("shared_bytes 52224", "stages 2"), "line 8: unknown record 'stages'");
  EXPECT_EQ(errorWith("sizes B H N HK M", "sizes B H N M"),
            "symbol 'HK' of 'k' is not in 'sizes'");
  EXPECT_EQ(errorWith("block_threads 128", "block_threads 4096"),
            "'block_threads' must be in 1..1024");
  EXPECT_EQ(errorWith("kernel causal\n", ""), "missing 'kernel'");
}

TEST(CudaLauncher, SizesAreCheckedBeforeLaunch) {
  GpuManifest manifest = parsed(kCausal);
  std::map<std::string, int64_t> bound;
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100}, bound),
            "kernel 'causal' takes 5 sizes but got 3");
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100, 0, 100}, bound),
            "size HK=0 must be positive");
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100, 3, 100}, bound),
            "the KV heads (3) must divide the query heads (8)");
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90}, bound), "");
  EXPECT_EQ(bound["M"], 90);
}

TEST(CudaLauncher, SpecializedSymbolsMustMatch) {
  std::string text = kCausal;
  text.replace(text.find("sizes B H N HK M"), 16, "specialize D=64\nsizes B H N HK M D");
  GpuManifest manifest = parsed(text);
  ASSERT_EQ(manifest.specialized.size(), 1u);
  EXPECT_NE(writeGpuManifest(manifest).find("\nspecialize D=64\n"), std::string::npos);
  std::map<std::string, int64_t> bound;
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90, 64}, bound), "");
  EXPECT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90, 128}, bound),
            "kernel 'causal' was compiled for D=64, not D=128 (rebuild it with tmixc "
            "--sizes=D=128)");
  text.replace(text.find("sizes B H N HK M D"), 18, "sizes B H N HK M");
  GpuManifest bad;
  EXPECT_EQ(parseGpuManifest(text, bad), "specialized symbol 'D' is not in 'sizes'");
}

TEST(CudaLauncher, PacksMemRefDescriptorsScalarsAndSizes) {
  GpuManifest manifest = parsed(kCausal);
  std::map<std::string, int64_t> bound;
  ASSERT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90}, bound), "");
  std::vector<DeviceTensor> tensors{{0x1000, {2, 8, 100, 128}}, {0x2000, {2, 2, 90, 128}},
                                    {0x3000, {2, 2, 90, 128}}, {0, {}},
                                    {0x4000, {2, 8, 100, 128}}, {0x5000, {2, 8, 100}}};
  KernelParams params;
  ASSERT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params), "");
  // Five rank-4 descriptors (3 + 2 * 4 words), one scalar, one rank-3 descriptor (9), the
  // sizes descriptor (5).
  ASSERT_EQ(params.words.size(), 3u * 11 + 1 + 11 + 9 + 5);
  ASSERT_EQ(params.pointers.size(), params.words.size());
  // k: pointers, offset 0, sizes, row-major strides.
  std::vector<uint64_t> k(params.words.begin() + 11, params.words.begin() + 22);
  EXPECT_EQ(k, (std::vector<uint64_t>{0x2000, 0x2000, 0, 2, 2, 90, 128, 2 * 90 * 128,
                                      90 * 128, 128, 1}));
  EXPECT_EQ(params.words[33], 256u); // the i32 scalar as an i64 word
  EXPECT_EQ(*static_cast<uint64_t *>(params.pointers[33]), 256u);
  std::vector<uint64_t> sizes(params.words.end() - 5, params.words.end());
  EXPECT_EQ(sizes, (std::vector<uint64_t>{0x6000, 0x6000, 0, 5, 1}));

  tensors[2].address = 0x3008;
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params),
            "tensor 'v' is not 16-byte aligned (pass contiguous tensors that start at an "
            "aligned address)");
  tensors[2].address = 0x3000;
  tensors[1].shape = {2, 2, 91, 128};
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params),
            "tensor 'k' does not have its declared shape [B, HK, M, 128]");
  tensors.pop_back();
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params),
            "kernel 'causal' takes 6 tensor slots (arguments, then results) but got 5");
}

/// kCausal as an sm_90a kernel with TMA descriptors of q, k and v.
std::string hopperManifest() {
  std::string text = kCausal;
  text.replace(text.find("target sm_80"), 12, "target sm_90a");
  return text + "tma q bf16 box=64x128 swizzle=128\n"
                "tma k bf16 box=64x64 swizzle=128\n"
                "tma v bf16 box=64x64 swizzle=none\n";
}

TEST(GpuManifest, ParsesAndWritesTensorMaps) {
  GpuManifest manifest = parsed(hopperManifest());
  ASSERT_EQ(manifest.tensorMaps.size(), 3u);
  EXPECT_EQ(manifest.tensorMaps[0].arg, "q");
  EXPECT_EQ(manifest.tensorMaps[0].dtype, DType::BF16);
  EXPECT_EQ(manifest.tensorMaps[0].boxColumns, 64);
  EXPECT_EQ(manifest.tensorMaps[0].boxRows, 128);
  EXPECT_EQ(manifest.tensorMaps[0].swizzleBytes, 128);
  EXPECT_EQ(manifest.tensorMaps[1].boxRows, 64);
  EXPECT_EQ(manifest.tensorMaps[2].swizzleBytes, 0);
  std::string written = writeGpuManifest(manifest);
  EXPECT_NE(written.find("\ntma q bf16 box=64x128 swizzle=128\ntma k bf16 box=64x64 "
                         "swizzle=128\ntma v bf16 box=64x64 swizzle=none\n"),
            std::string::npos)
      << written;
  GpuManifest again = parsed(written);
  EXPECT_EQ(again.tensorMaps.size(), 3u);
}

TEST(GpuManifest, RejectsBadTensorMaps) {
  auto errorOf = [](const std::string &record) {
    GpuManifest manifest;
    return parseGpuManifest(std::string(kCausal) + record + "\n", manifest);
  };
  EXPECT_EQ(errorOf("tma q bf16 box=64x128"),
            "line 18: expected 'tma ARG DTYPE box=COLUMNSxROWS swizzle=BYTES'");
  EXPECT_EQ(errorOf("tma q i32 box=64x128 swizzle=128"),
            "line 18: a TMA descriptor's dtype must be bf16, f16 or f32, not 'i32'");
  EXPECT_EQ(errorOf("tma q f32 box=64x128 swizzle=128"),
            "line 18: a TMA box row of 256 bytes is wider than its 128-byte swizzle");
  EXPECT_EQ(errorOf("tma q bf16 box=64x512 swizzle=128"),
            "line 18: bad TMA box 'box=64x512' (expected box=COLUMNSxROWS, each 1..256)");
  EXPECT_EQ(errorOf("tma q bf16 box=64 swizzle=128"),
            "line 18: bad TMA box 'box=64' (expected box=COLUMNSxROWS, each 1..256)");
  EXPECT_EQ(errorOf("tma q bf16 box=64x128 swizzle=256"),
            "line 18: bad TMA swizzle 'swizzle=256' (expected swizzle=32|64|128|none)");
  EXPECT_EQ(errorOf("tma q bf16 box=128x128 swizzle=128"),
            "line 18: a TMA box row of 256 bytes is wider than its 128-byte swizzle");
  EXPECT_EQ(errorOf("tma window bf16 box=64x128 swizzle=128"),
            "TMA descriptor of 'window', which is not a tensor argument");
  EXPECT_EQ(errorOf("tma lse bf16 box=64x128 swizzle=128"),
            "TMA descriptor of 'lse', which is not a tensor argument");
  EXPECT_EQ(errorOf("tma k f16 box=64x128 swizzle=128"),
            "TMA descriptor of 'k' as f16, but it is bf16");
}

TEST(TensorMap, EncodeArgumentsOfA4DTensor) {
  GpuManifest manifest = parsed(hopperManifest());
  TensorMapArgs args;
  // k: [B=2, HK=2, M=90, 128] bf16 at 0x2000.
  ASSERT_EQ(tensorMapArgs(manifest.tensorMaps[1], 0x2000, {2, 2, 90, 128}, args), "");
  EXPECT_EQ(args.dataType, 9); // CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
  EXPECT_EQ(args.rank, 4u);
  EXPECT_EQ(args.globalAddress, 0x2000u);
  EXPECT_EQ(args.globalDims, (std::array<uint64_t, 4>{128, 90, 2, 2}));
  EXPECT_EQ(args.globalStrides,
            (std::array<uint64_t, 3>{128 * 2, 90 * 128 * 2, 2 * 90 * 128 * 2}));
  EXPECT_EQ(args.boxDims, (std::array<uint32_t, 4>{64, 64, 1, 1}));
  EXPECT_EQ(args.elementStrides, (std::array<uint32_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(args.interleave, 0);
  EXPECT_EQ(args.swizzle, 3);     // CU_TENSOR_MAP_SWIZZLE_128B
  EXPECT_EQ(args.l2Promotion, 2); // CU_TENSOR_MAP_L2_PROMOTION_L2_128B
  EXPECT_EQ(args.oobFill, 0);     // zeros past the edges
  ASSERT_EQ(tensorMapArgs(manifest.tensorMaps[2], 0x3000, {2, 2, 90, 128}, args), "");
  EXPECT_EQ(args.swizzle, 0);

  GpuManifest f16 = manifest;
  f16.tensorMaps[0].dtype = DType::F16;
  ASSERT_EQ(tensorMapArgs(f16.tensorMaps[0], 0x1000, {1, 1, 1, 64}, args), "");
  EXPECT_EQ(args.dataType, 6); // CU_TENSOR_MAP_DATA_TYPE_FLOAT16
  // A raw f32 tile for staging: 4-byte elements, no swizzle.
  TensorMapDecl raw{"q", DType::F32, 64, 128, 0};
  ASSERT_EQ(tensorMapArgs(raw, 0x1000, {2, 8, 100, 64}, args), "");
  EXPECT_EQ(args.dataType, 7); // CU_TENSOR_MAP_DATA_TYPE_FLOAT32
  EXPECT_EQ(args.globalStrides,
            (std::array<uint64_t, 3>{64 * 4, 100 * 64 * 4, 8 * 100 * 64 * 4}));
  EXPECT_EQ(args.swizzle, 0);

  EXPECT_EQ(tensorMapArgs(manifest.tensorMaps[0], 0x1008, {2, 8, 100, 128}, args),
            "TMA descriptor of 'q': the tensor is not 16-byte aligned");
  EXPECT_EQ(tensorMapArgs(manifest.tensorMaps[0], 0x1000, {2, 8, 100, 4}, args),
            "TMA descriptor of 'q': a row stride of 8 bytes is not a multiple of 16 below "
            "2^40");
  EXPECT_EQ(tensorMapArgs(manifest.tensorMaps[0], 0x1000, {8, 100, 128}, args),
            "TMA descriptor of 'q': the tensor is not 4-D");
}

TEST(CudaLauncher, PacksTheTensorMapAddressLast) {
  GpuManifest manifest = parsed(hopperManifest());
  std::map<std::string, int64_t> bound;
  ASSERT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90}, bound), "");
  std::vector<DeviceTensor> tensors{{0x1000, {2, 8, 100, 128}}, {0x2000, {2, 2, 90, 128}},
                                    {0x3000, {2, 2, 90, 128}}, {0, {}},
                                    {0x4000, {2, 8, 100, 128}}, {0x5000, {2, 8, 100}}};
  KernelParams params;
  ASSERT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params,
                             0x7000),
            "");
  // As for sm_80, then one word: the descriptors' device address.
  ASSERT_EQ(params.words.size(), 3u * 11 + 1 + 11 + 9 + 5 + 1);
  ASSERT_EQ(params.pointers.size(), params.words.size());
  EXPECT_EQ(params.words.back(), 0x7000u);
  EXPECT_EQ(*static_cast<uint64_t *>(params.pointers.back()), 0x7000u);
  std::vector<uint64_t> sizes(params.words.end() - 6, params.words.end() - 1);
  EXPECT_EQ(sizes, (std::vector<uint64_t>{0x6000, 0x6000, 0, 5, 1}));
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params),
            "kernel 'causal' reads TMA descriptors, but none were given");
}

class CudaWithoutDevice : public ::testing::Test {
protected:
  void SetUp() override {
    // Whatever this machine has, the driver library is one that does not exist.
    setenv("TMIX_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    char pattern[] = "/tmp/tmix-cuda-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
    manifestPath = dir + "/causal.manifest";
    std::ofstream(manifestPath) << kCausal;
    std::ofstream(dir + "/causal.sm_80.ptx") << "// not loaded\n";
  }
  void TearDown() override {
    std::remove((dir + "/causal.sm_80.ptx").c_str());
    std::remove(manifestPath.c_str());
    rmdir(dir.c_str());
  }
  std::string dir, manifestPath;
};

TEST_F(CudaWithoutDevice, LoadSaysNoCudaDevice) {
  std::unique_ptr<CudaKernel> kernel;
  std::string error = CudaKernel::load(manifestPath, kernel);
  EXPECT_EQ(error.rfind("no CUDA device (cannot open the CUDA driver library "
                        "'/nonexistent/libcuda.so.1'",
                        0),
            0u)
      << error;
  EXPECT_EQ(kernel, nullptr);
}

TEST_F(CudaWithoutDevice, TheCApiReportsIt) {
  char message[256] = {};
  uint64_t tensors[6] = {};
  double scalars[4] = {};
  int64_t sizes[5] = {1, 1, 1, 1, 1};
  EXPECT_EQ(tmix_cuda_launch(manifestPath.c_str(), tensors, scalars, sizes, nullptr,
                             message, sizeof(message)),
            1);
  EXPECT_EQ(std::strncmp(message, "no CUDA device", 14), 0) << message;
}

TEST_F(CudaWithoutDevice, AHopperKernelSaysNoCudaDeviceToo) {
  std::ofstream(manifestPath) << hopperManifest();
  char message[256] = {};
  uint64_t tensors[6] = {0x1000, 0x2000, 0x3000, 0, 0x4000, 0x5000};
  double scalars[4] = {};
  int64_t sizes[5] = {1, 1, 1, 1, 1};
  EXPECT_EQ(tmix_cuda_launch(manifestPath.c_str(), tensors, scalars, sizes, nullptr,
                             message, sizeof(message)),
            1);
  EXPECT_EQ(std::strncmp(message, "no CUDA device", 14), 0) << message;
}

TEST_F(CudaWithoutDevice, DeviceQuerySaysNoCudaDevice) {
  char name[256] = {};
  int major = -1, minor = -1;
  EXPECT_EQ(tmix_cuda_device(name, sizeof(name), &major, &minor), 1);
  EXPECT_EQ(std::strncmp(name, "no CUDA device", 14), 0) << name;
}

TEST_F(CudaWithoutDevice, ShapeErrorsComeFirst) {
  Bindings bindings;
  bindings.tensors = {HostTensor(DType::F32, {2, 8, 100, 128}),
                      HostTensor(DType::F32, {2, 2, 90, 64}),
                      HostTensor(DType::F32, {2, 2, 90, 128}), HostTensor()};
  bindings.scalars = {0, 0, 0, 4096};
  std::vector<HostTensor> outputs;
  std::string error = launchOnCuda(manifestPath, bindings, outputs);
  EXPECT_NE(error.find("'k'"), std::string::npos) << error;
  EXPECT_EQ(error.find("CUDA"), std::string::npos) << error;

  bindings.tensors[1] = HostTensor(DType::F32, {2, 2, 90, 128});
  error = launchOnCuda(manifestPath, bindings, outputs);
  EXPECT_EQ(error.rfind("no CUDA device", 0), 0u) << error;
}

TEST(CudaLauncher, MissingManifest) {
  std::unique_ptr<CudaKernel> kernel;
  EXPECT_EQ(CudaKernel::load("/nonexistent/x.manifest", kernel),
            "cannot read the manifest '/nonexistent/x.manifest'");
}

} // namespace
