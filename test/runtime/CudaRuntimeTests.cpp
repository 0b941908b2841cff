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
#include "test/runtime/FakeCudaDriver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::rt;
using ::testing::HasSubstr;

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

/// The error of manifest `base` (kCausal by default), with the line `from` replaced by
/// `to`.
std::string errorWith(const std::string &from, const std::string &to,
                      std::string text = kCausal) {
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

/// The same format for CPU kernels built ahead of time: an object, no CUDA records.
const char *const kCpuCausal = R"(tmix-gpu-manifest 1
kernel causal
target cpu
object causal.cpu.o
schedule lanes=8 vector_registers=16
sizes B H N
grid B:1 H:1 N:32
arg q tensor f32 B H N 64
arg k tensor f32 B H N 64
arg v tensor f32 B H N 64
result o tensor f32 B H N 64
)";

TEST(GpuManifest, CpuKernelsHaveAnObjectAndNoCudaRecords) {
  GpuManifest manifest = parsed(kCpuCausal);
  EXPECT_EQ(manifest.target, "cpu");
  EXPECT_EQ(manifest.objectFile, "causal.cpu.o");
  EXPECT_EQ(writeGpuManifest(manifest), kCpuCausal);
  auto with = [](const std::string &from, const std::string &to) {
    return errorWith(from, to, kCpuCausal);
  };
  EXPECT_EQ(with("object causal.cpu.o\n", ""), "missing 'object'");
  EXPECT_EQ(with("object causal.cpu.o", "object ../causal.cpu.o"),
            "line 4: 'object' must be a file name in the manifest's directory, not "
            "'../causal.cpu.o'");
  EXPECT_EQ(
      with("object causal.cpu.o", "object causal.cpu.o\nptx causal.ptx"),
      "a cpu kernel has no 'ptx', 'cubin', 'block_threads', 'shared_bytes', 'tma' or "
      "'workspace'");
  EXPECT_EQ(
      with("object causal.cpu.o", "object causal.cpu.o\nblock_threads 128"),
      "a cpu kernel has no 'ptx', 'cubin', 'block_threads', 'shared_bytes', 'tma' or "
      "'workspace'");
  EXPECT_EQ(errorWith("target sm_80", "target sm_80\nobject causal.o"),
            "'object' is for cpu kernels, not sm_80");
}

TEST(GpuManifest, MalformedInputsSayWhatAndWhere) {
  GpuManifest manifest;
  EXPECT_EQ(parseGpuManifest("", manifest), "empty manifest");
  EXPECT_EQ(parseGpuManifest("kernel x\n", manifest),
            "line 1: not a tmix GPU manifest (expected 'tmix-gpu-manifest 1')");
  EXPECT_EQ(errorWith("target sm_80", "target sm_70"),
            "line 4: unknown target 'sm_70' (expected cpu, sm_80 or sm_90a)");
  EXPECT_EQ(errorWith("block_threads 128", "block_threads many"),
            "line 7: 'block_threads' takes one non-negative integer");
  EXPECT_EQ(errorWith("grid B:1 H:1 N:64", "grid B:1 H N:64"),
            "line 11: bad grid dimension 'H' (expected DIM:TILE, TILE in 1..2147483647)");
  EXPECT_EQ(errorWith("grid B:1 H:1 N:64", "grid B:1 H:1 N:0"),
            "line 11: bad grid dimension 'N:0' (expected DIM:TILE, TILE in 1..2147483647)");
  EXPECT_EQ(errorWith("arg q tensor bf16", "arg q tensor f8"), "line 12: unknown dtype 'f8'");
  EXPECT_EQ(errorWith("arg q tensor bf16", "arg q matrix bf16"),
            "line 12: expected 'tensor' or 'scalar', found 'matrix'");
  EXPECT_EQ(errorWith("default=4096", "default=lots"), "line 15: bad default value 'lots'");
  EXPECT_EQ(errorWith("schedule block_m=64", "schedule block_m"),
            "line 9: bad schedule entry 'block_m' (expected NAME=INT, INT in 0..2147483647)");
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
            "kernel 'causal' takes 5 sizes (B, H, N, HK, M) but got 3");
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
/// A PTX kernel `name` with `params` 8-byte parameters and an empty body.
std::string ptxWithParams(const std::string &name, size_t params) {
  std::string text = "//\n.version 8.0\n.target sm_80\n.address_size 64\n"
                     ".visible .entry " + name + "(\n";
  for (size_t index = 0; index < params; ++index)
    text += "\t.param .u64 " + name + "_param_" + std::to_string(index) +
            (index + 1 < params ? ",\n" : "\n");
  return text + ")\n{\nret;\n}\n";
}

/// kCausal's ABI: q, k, v and o (rank 4: 3 + 2 * 4 words each), window, lse (rank 3)
/// and the sizes array (rank 1).
constexpr size_t kCausalParamWords = 4 * (3 + 2 * 4) + 1 + (3 + 2 * 3) + (3 + 2 * 1);
const std::string kCausalPtx = ptxWithParams("causal", kCausalParamWords);

std::string hopperManifest() {
  std::string text = kCausal;
  text.replace(text.find("target sm_80"), 12, "target sm_90a");
  return text + "tma q bf16 box=64x128 swizzle=128\n"
                "tma k bf16 box=64x64 swizzle=128\n"
                "tma v bf16 box=64x64 swizzle=none\n";
}

/// hopperManifest()'s kernel: kCausal's parameters and the TMA descriptors' address.
const std::string kHopperPtx = ptxWithParams("causal", kCausalParamWords + 1);

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
    std::string text = kCausal;
    text.replace(text.find("target sm_80"), 12, "target sm_90a");
    GpuManifest manifest;
    return parseGpuManifest(text + record + "\n", manifest);
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

/// kCausal with q, k, v and o stored as [B, N, H, D] (`seq = N`, FlashAttention's
/// layout): their dims as stored, and the layout back to [B, H, N, D].
std::string bshdManifest() {
  std::string text = kCausal;
  auto replace = [&](const std::string &from, const std::string &to) {
    text.replace(text.find(from), from.size(), to);
  };
  replace("arg q tensor bf16 B H N 128", "arg q tensor bf16 B N H 128 layout=0,2,1,3");
  replace("arg k tensor bf16 B HK M 128", "arg k tensor bf16 B M HK 128 layout=0,2,1,3");
  replace("arg v tensor bf16 B HK M 128", "arg v tensor bf16 B M HK 128 layout=0,2,1,3");
  replace("result o tensor bf16 B H N 128", "result o tensor bf16 B N H 128 layout=0,2,1,3");
  return text;
}

TEST(Layouts, ManifestsKeepThem) {
  GpuManifest manifest = parsed(bshdManifest());
  EXPECT_EQ(manifest.kernel.signature.args[1].layout, (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_EQ(manifest.kernel.signature.args[1].logicalDim(1).symbol, "HK");
  EXPECT_EQ(manifest.kernel.signature.results[1].layout, std::vector<int64_t>{});
  EXPECT_EQ(writeGpuManifest(parsed(writeGpuManifest(manifest))), writeGpuManifest(manifest));
  GpuManifest bad;
  std::string text = bshdManifest();
  text.replace(text.find("layout=0,2,1,3"), 14, "layout=0,2,2,3");
  EXPECT_EQ(parseGpuManifest(text, bad),
            "line 12: the layout of 'q' is not a permutation of its dims");
  text = bshdManifest();
  text.replace(text.find("layout=0,2,1,3"), 14, "layout=0,x");
  EXPECT_EQ(parseGpuManifest(text, bad), "line 12: bad layout '0,x'");
}

TEST(Layouts, DescriptorsPermuteTheStrides) {
  GpuManifest manifest = parsed(bshdManifest());
  std::map<std::string, int64_t> bound;
  ASSERT_EQ(sizesFromList(manifest, {2, 8, 100, 2, 90}, bound), "");
  // Tensors as stored: q [B=2, N=100, H=8, 128], k and v [B=2, M=90, HK=2, 128].
  std::vector<DeviceTensor> tensors{{0x1000, {2, 100, 8, 128}}, {0x2000, {2, 90, 2, 128}},
                                    {0x3000, {2, 90, 2, 128}}, {0, {}},
                                    {0x4000, {2, 100, 8, 128}}, {0x5000, {2, 8, 100}}};
  KernelParams params;
  ASSERT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params), "");
  // k as the kernel reads it, [B, HK, M, D]: HK's stride is D, M's is HK * D.
  std::vector<uint64_t> k(params.words.begin() + 11, params.words.begin() + 22);
  EXPECT_EQ(k, (std::vector<uint64_t>{0x2000, 0x2000, 0, 2, 2, 90, 128, 90 * 2 * 128, 128,
                                      2 * 128, 1}));
  // The stored shape is the one checked.
  tensors[0].shape = {2, 8, 100, 128};
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 256}, bound, 0x6000, params),
            "tensor 'q' does not have its declared shape [B, N, H, 128]");
  // The head counts are read at their logical position: HK = 3 does not divide H = 8.
  std::map<std::string, int64_t> odd;
  EXPECT_THAT(sizesFromList(manifest, {2, 8, 100, 3, 90}, odd),
              HasSubstr("must divide the query heads"));

  // TMA over the logical view: N's stride is H * D elements.
  TensorMapArgs args;
  TensorMapDecl q{"q", DType::BF16, 64, 128, 128};
  ASSERT_EQ(tensorMapArgs(q, 0x1000, logicalView(manifest.kernel.signature.args[0],
                                                 {2, 100, 8, 128}),
                          args),
            "");
  EXPECT_EQ(args.globalDims, (std::array<uint64_t, 4>{128, 100, 8, 2}));
  EXPECT_EQ(args.globalStrides,
            (std::array<uint64_t, 3>{8 * 128 * 2, 128 * 2, 100 * 8 * 128 * 2}));
  // A view whose innermost dim is not contiguous has no TMA descriptor.
  EXPECT_EQ(tensorMapArgs(q, 0x1000, StridedView{{2, 8, 100, 128}, {1, 2, 16, 1600}}, args),
            "TMA descriptor of 'q': the innermost dimension is not contiguous");
}

TEST(Groups, ManifestsKeepThemAndLaunchesCheckThem) {
  // A recurrence whose q has H heads under HV value heads: `groups H:HV`.
  const std::string text = R"(tmix-gpu-manifest 1
kernel gva
target sm_80
spec recurrence
ptx gva.sm_80.ptx
block_threads 128
shared_bytes 1024
sizes B T H HV
grid B:1 HV:1
groups H:HV
arg q tensor bf16 B T H 64 layout=0,2,1,3
arg v tensor bf16 B T HV 64 layout=0,2,1,3
result o tensor bf16 B T HV 64 layout=0,2,1,3
)";
  GpuManifest manifest = parsed(text);
  ASSERT_EQ(manifest.kernel.signature.groups.size(), 1u);
  EXPECT_EQ(manifest.kernel.signature.groups[0],
            (std::pair<std::string, std::string>{"H", "HV"}));
  EXPECT_EQ(writeGpuManifest(parsed(writeGpuManifest(manifest))), writeGpuManifest(manifest));
  std::map<std::string, int64_t> bound;
  EXPECT_EQ(sizesFromList(manifest, {2, 100, 2, 6}, bound), "");
  EXPECT_EQ(sizesFromList(manifest, {2, 100, 4, 6}, bound),
            "the group count H=4 must divide HV=6 (HV index p reads H index p / (HV / H))");
  GpuManifest bad;
  std::string broken = text;
  broken.replace(broken.find("groups H:HV"), 11, "groups H:Q");
  EXPECT_EQ(parseGpuManifest(broken, bad), "group 'H:Q' names a symbol not in 'sizes'");
  broken = text;
  broken.replace(broken.find("groups H:HV"), 11, "groups H");
  EXPECT_EQ(parseGpuManifest(broken, bad),
            "line 10: bad group 'H' (expected G:P, two size symbols)");
  // Without `spec recurrence` the manifest is attention's, whose q and k head counts
  // (here H under HV) are checked as HK under H.
  std::string attention = text;
  attention.erase(attention.find("spec recurrence\n"), 16);
  EXPECT_THAT(sizesFromList(parsed(attention), {2, 100, 2, 6}, bound),
              HasSubstr("must divide the query heads"));
}

/// A recurrence over packed sequences: k [T, H, 64] with offsets cu [N + 1].
const char *const kPacked = R"(tmix-gpu-manifest 1
kernel packed
target sm_80
spec recurrence
ptx packed.sm_80.ptx
block_threads 128
shared_bytes 1024
sizes T H N
grid N:1 H:1
arg k tensor bf16 T H 64 layout=1,0,2
arg cu tensor i32 N+1
result o tensor bf16 T H 64 layout=1,0,2
sequences cu T
)";

TEST(Sequences, ManifestsKeepThem) {
  GpuManifest manifest = parsed(kPacked);
  const SpecSignature &signature = manifest.kernel.signature;
  ASSERT_EQ(signature.sequenceOffsets, std::optional<size_t>(1));
  EXPECT_EQ(signature.timeSymbol, "T");
  EXPECT_EQ(signature.args[1].dims[0].symbol, "N");
  EXPECT_EQ(signature.args[1].dims[0].offset, 1);
  EXPECT_EQ(writeGpuManifest(parsed(writeGpuManifest(manifest))), writeGpuManifest(manifest));
  auto errorOf = [](const std::string &from, const std::string &to) {
    return errorWith(from, to, kPacked);
  };
  EXPECT_EQ(errorOf("sequences cu T", "sequences lengths T"),
            "line 13: 'sequences' names 'lengths', which is not an argument before it");
  EXPECT_EQ(errorOf("arg cu tensor i32 N+1", "arg cu tensor f32 N+1"),
            "'sequences' needs a recurrence, an i32 or i64 [N+1] offsets tensor and a time "
            "symbol in 'sizes'");
  EXPECT_EQ(errorOf("arg k tensor bf16 T H 64", "arg k tensor bf16 T H+1 64"),
            "'k' has the dim H+1; a dim with an offset is only that of the sequence offsets");
  EXPECT_EQ(errorOf("grid N:1", "grid N+1:1"),
            "line 9: bad grid dimension 'N+1:1' (expected DIM:TILE, TILE in 1..2147483647)");
}

/// The launch reads the offsets back from the device and checks them first.
TEST(Sequences, DeviceLaunchesCheckTheOffsets) {
  char pattern[] = "/tmp/tmix-packed-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  std::string dir = pattern;
  std::ofstream(dir + "/packed.manifest") << kPacked;
  // k and o: a descriptor of rank 3 each; cu: rank 1; the sizes.
  std::ofstream(dir + "/packed.sm_80.ptx") << ptxWithParams("packed", 9 + 5 + 9 + 5);
  cuda::FakeCuda fake;
  fake.paramWords = 9 + 5 + 9 + 5;
  std::unique_ptr<CudaKernel> kernel;
  ASSERT_EQ(CudaKernel::load(dir + "/packed.manifest", kernel), "");
  // Device memory is host memory in the fake driver.
  std::vector<int32_t> offsets{0, 3, 3, 10};
  auto launch = [&] {
    std::vector<DeviceTensor> tensors{
        {0x1000, {10, 2, 64}},
        {reinterpret_cast<uintptr_t>(offsets.data()), {4}},
        {0x2000, {10, 2, 64}}};
    return kernel->launch(tensors, {0, 0}, {10, 2, 3}, nullptr);
  };
  EXPECT_EQ(launch(), "");
  EXPECT_EQ(fake.launches.size(), 1u);
  EXPECT_GE(fake.waits, 1); // the offsets were read once the stream's work was done
  offsets = {0, 5, 3, 10};
  EXPECT_EQ(launch(), "the sequence offsets 'cu'[2] = 3 is less than the offset before it "
                      "(5); offsets must not decrease");
  offsets = {0, 3, 3, 9};
  EXPECT_EQ(launch(), "the sequence offsets 'cu' end at 9 but T = 10: the last offset must "
                      "be T (every step belongs to a sequence)");
  EXPECT_EQ(fake.launches.size(), 1u); // nothing launched
  std::system(("rm -rf '" + dir + "'").c_str());
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

/// A minimal 64-bit little-endian CUDA ELF: header, a null section and a section-name
/// table, as ptxas writes (with many more sections).
std::string minimalCubin() {
  std::string image(202, '\0');
  auto put = [&](size_t at, uint64_t value, size_t bytes) {
    std::memcpy(&image[at], &value, bytes);
  };
  image.replace(0, 4, "\x7f" "ELF");
  image[4] = 2;      // ELFCLASS64
  image[5] = 1;      // little-endian
  image[6] = 1;      // EV_CURRENT
  image[7] = 0x41;   // the CUDA OS ABI
  put(16, 2, 2);     // ET_EXEC
  put(18, 190, 2);   // EM_CUDA
  put(20, 1, 4);     // version
  put(40, 64, 8);    // e_shoff
  put(52, 64, 2);    // e_ehsize
  put(54, 56, 2);    // e_phentsize
  put(58, 64, 2);    // e_shentsize
  put(60, 2, 2);     // e_shnum
  put(62, 1, 2);     // e_shstrndx
  size_t names = 64 + 64; // section 1: SHT_STRTAB at 192, 10 bytes
  put(names + 4, 3, 4);
  put(names + 24, 192, 8);
  put(names + 32, 10, 8);
  image.replace(192, 10, std::string("\0.shstrtab", 10));
  return image;
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
    std::ofstream(dir + "/causal.sm_80.ptx") << kCausalPtx;
    std::ofstream(dir + "/causal.sm_80.cubin", std::ios::binary) << minimalCubin();
  }
  void TearDown() override {
    std::remove((dir + "/causal.sm_80.ptx").c_str());
    std::remove((dir + "/causal.sm_80.cubin").c_str());
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
  std::ofstream(dir + "/causal.sm_80.ptx") << kHopperPtx;
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
            "cannot read the manifest '/nonexistent/x.manifest' (No such file or directory)");
}

//===----------------------------------------------------------------------===//
// Hostile artifacts: manifests, kernel images and calls that must be refused with one
// clear error before any device call (issue 11). Each names the input it stands for.
//===----------------------------------------------------------------------===//

/// The error of kCausal with `from` replaced by `to` (every occurrence of `from` must
/// exist), or of kCausal plus `to` when `from` is empty.
std::string hostileError(const std::string &from, const std::string &to) {
  std::string text = kCausal;
  if (from.empty()) {
    text += to;
  } else {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      text.replace(at, from.size(), to);
  }
  GpuManifest manifest;
  return parseGpuManifest(text, manifest);
}

TEST(HostileManifest, FilesMustBePlainNamesInTheManifestsDirectory) {
  EXPECT_THAT(hostileError("ptx causal.sm_80.ptx", "ptx ../../../../etc/passwd"),
              HasSubstr("'ptx' must be a file name in the manifest's directory"));
  EXPECT_THAT(hostileError("ptx causal.sm_80.ptx", "ptx /etc/passwd"),
              HasSubstr("'ptx' must be a file name in the manifest's directory"));
  EXPECT_THAT(hostileError("cubin causal.sm_80.cubin", "cubin sub/../causal.sm_80.cubin"),
              HasSubstr("'cubin' must be a file name in the manifest's directory"));
  EXPECT_THAT(hostileError("cubin causal.sm_80.cubin", "cubin .."),
              HasSubstr("'cubin' must be a file name in the manifest's directory"));
}

TEST(HostileManifest, RecordsGivenTwiceOrMissing) {
  EXPECT_THAT(hostileError("target sm_80\n", "target sm_80\nkernel other\n"),
              HasSubstr("'kernel' given twice"));
  EXPECT_THAT(hostileError("grid B:1 H:1 N:64\n", "grid B:1 H:1 N:64\ngrid B:1\n"),
              HasSubstr("'grid' given twice"));
  EXPECT_THAT(hostileError("arg window", "arg q tensor bf16 B H N 128\narg window"),
              HasSubstr("'q' declared twice"));
  EXPECT_THAT(hostileError("result lse tensor f32 B H N", "result q tensor f32 B H N"),
              HasSubstr("'q' declared twice"));
  EXPECT_THAT(hostileError("sizes B H N HK M", "sizes B H N HK M N"),
              HasSubstr("size symbol 'N' given twice"));
  EXPECT_THAT(hostileError("block_threads 128\n", ""), HasSubstr("missing 'block_threads'"));
  EXPECT_THAT(hostileError("shared_bytes 52224\n", ""), HasSubstr("missing 'shared_bytes'"));
  EXPECT_THAT(hostileError("sizes B H N HK M\n", ""), HasSubstr("missing 'sizes'"));
  std::string noArgs = kCausal;
  for (const char *line : {"arg q tensor bf16 B H N 128\n", "arg k tensor bf16 B HK M 128\n",
                           "arg v tensor bf16 B HK M 128\n", "arg window scalar i32 default=4096\n"})
    noArgs.erase(noArgs.find(line), std::strlen(line));
  GpuManifest manifest;
  EXPECT_THAT(parseGpuManifest(noArgs, manifest), HasSubstr("missing 'arg'"));
}

TEST(HostileManifest, FieldsOutOfRange) {
  EXPECT_THAT(hostileError("shared_bytes 52224", "shared_bytes 4294967296"),
              HasSubstr("'shared_bytes' of 4294967296 is more than sm_80 allows (166912)"));
  EXPECT_THAT(hostileError("shared_bytes 52224", "shared_bytes 200000"),
              HasSubstr("'shared_bytes' of 200000 is more than sm_80 allows (166912)"));
  EXPECT_THAT(hostileError("grid B:1 H:1 N:64", "grid B:1 H:1 N:9223372036854775807"),
              HasSubstr("bad grid dimension 'N:9223372036854775807'"));
  EXPECT_THAT(hostileError("grid B:1 H:1 N:64", "grid B:1 H:1 N:-64"),
              HasSubstr("bad grid dimension 'N:-64'"));
  EXPECT_THAT(hostileError("arg q tensor bf16 B H N 128", "arg q tensor bf16 B H N 1099511627776"),
              HasSubstr("bad dimension '1099511627776'"));
  EXPECT_THAT(hostileError("arg q tensor bf16 B H N 128", "arg q tensor bf16 B H N 128 1 1 1 1 1"),
              HasSubstr("'q' has rank 9; at most 8"));
  EXPECT_THAT(hostileError("kernel causal", "kernel ca/usal"), HasSubstr("bad kernel name 'ca/usal'"));
  EXPECT_THAT(hostileError("arg q tensor", "arg q-1 tensor"), HasSubstr("bad name 'q-1'"));
  EXPECT_THAT(hostileError("default=4096", "default=1e300"),
              HasSubstr("'window' = 1e+300 is out of range for i32"));
  EXPECT_THAT(hostileError("default=4096", "default=nan"), HasSubstr("'window' is NaN"));
  EXPECT_THAT(hostileError("default=4096", "default=2.5"),
              HasSubstr("'window' = 2.5 is not an integer"));
  EXPECT_THAT(hostileError("default=4096", "default=1 default=2"),
              HasSubstr("default given twice"));
  EXPECT_THAT(hostileError("result lse tensor f32 B H N", "result lse scalar f32"),
              HasSubstr("result 'lse' is not a tensor"));
  EXPECT_THAT(hostileError("schedule block_m=64", "schedule block_m=64 block_m=32"),
              HasSubstr("'block_m' given twice"));
  EXPECT_THAT(hostileError("", "tma q bf16 box=64x128 swizzle=128\n"),
              HasSubstr("'tma' records are for sm_90a"));
  // An ABI beyond cuLaunchKernel's 4 KiB of parameters.
  std::string many;
  for (int index = 0; index < 30; ++index)
    many += "arg t" + std::to_string(index) + " tensor f32 B H N 1 1 1 1 1\n";
  EXPECT_THAT(hostileError("arg window", many + "arg window"),
              HasSubstr("bytes of kernel parameters; CUDA takes at most 4096"));
}

/// A manifest directory (kCausal, its PTX and a minimal cubin) and a fake driver.
class HostileFiles : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/tmix-hostile-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir = pattern;
    manifestPath = dir + "/causal.manifest";
    write("causal.manifest", kCausal);
    write("causal.sm_80.ptx", kCausalPtx);
    write("causal.sm_80.cubin", minimalCubin());
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }
  void write(const std::string &name, const std::string &contents) {
    std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << contents;
  }
  std::string load(const std::string &path) {
    std::unique_ptr<CudaKernel> kernel;
    return CudaKernel::load(path, kernel);
  }
  /// The kernel of `manifest` and `ptx` (of `paramWords` parameters) in place of
  /// kCausal's, loaded against the fake driver; null after a failed assertion.
  std::unique_ptr<CudaKernel> loadedWith(const std::string &manifest,
                                         const std::string &ptx, size_t paramWords) {
    write("causal.manifest", manifest);
    write("causal.sm_80.ptx", ptx);
    std::unique_ptr<CudaKernel> kernel;
    EXPECT_EQ(CudaKernel::load(manifestPath, kernel), "");
    fake.paramWords = paramWords;
    return kernel;
  }
  std::string dir, manifestPath;
  cuda::FakeCuda fake;
};

TEST_F(HostileFiles, AGoodArtifactLoads) {
  EXPECT_EQ(load(manifestPath), "");
  ASSERT_EQ(fake.moduleLoads.size(), 1u);
  EXPECT_EQ(fake.moduleLoads[0], "\x7f" "ELF"); // the cubin first
}

TEST_F(HostileFiles, ATruncatedCubinNeverReachesTheDriver) {
  write("causal.sm_80.cubin", minimalCubin().substr(0, 100));
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.cubin' is not a complete ELF"));
  EXPECT_TRUE(fake.moduleLoads.empty());
  write("causal.sm_80.cubin", minimalCubin().substr(0, 40));
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.cubin' is not a complete ELF"));
  write("causal.sm_80.cubin", "not an elf at all, but long enough to hold a header........");
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.cubin' is not a complete ELF"));
  EXPECT_TRUE(fake.moduleLoads.empty());
}

TEST_F(HostileFiles, AMissingCubinIsAnError) {
  std::remove((dir + "/causal.sm_80.cubin").c_str());
  EXPECT_THAT(load(manifestPath), HasSubstr("cannot read the cubin '" + dir +
                                            "/causal.sm_80.cubin' (No such file or directory)"));
  EXPECT_TRUE(fake.moduleLoads.empty());
}

TEST_F(HostileFiles, APtxWithoutTheEntryIsAnError) {
  write("causal.sm_80.ptx", ".version 8.0\n.target sm_80\n.visible .entry causal2(\n)\n");
  EXPECT_THAT(load(manifestPath),
              HasSubstr("causal.sm_80.ptx' has no '.entry causal'"));
  write("causal.sm_80.ptx", std::string(".visible .entry causal(\0", 24));
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.ptx' is not text"));
  EXPECT_TRUE(fake.moduleLoads.empty());
}

TEST_F(HostileFiles, ASymlinkOutOfTheDirectoryIsRefused) {
  std::string outside = dir + "-outside.ptx";
  std::ofstream(outside) << kCausalPtx;
  std::remove((dir + "/causal.sm_80.ptx").c_str());
  ASSERT_EQ(symlink(outside.c_str(), (dir + "/causal.sm_80.ptx").c_str()), 0);
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.ptx' resolves to '" + outside +
                                            "', outside the manifest's directory"));
  std::remove(outside.c_str());
  EXPECT_TRUE(fake.moduleLoads.empty());
  // A link inside the directory is fine.
  std::remove((dir + "/causal.sm_80.ptx").c_str());
  write("real.ptx", kCausalPtx);
  ASSERT_EQ(symlink("real.ptx", (dir + "/causal.sm_80.ptx").c_str()), 0);
  EXPECT_EQ(load(manifestPath), "");
}

TEST_F(HostileFiles, AFifoOrADeviceIsNotAManifest) {
  std::string fifo = dir + "/fifo.manifest";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(load(fifo), HasSubstr("'" + fifo + "' is not a regular file"));
  EXPECT_THAT(load("/dev/zero"), HasSubstr("'/dev/zero' is not a regular file"));
  std::remove((dir + "/causal.sm_80.cubin").c_str());
  ASSERT_EQ(mkfifo((dir + "/causal.sm_80.cubin").c_str(), 0600), 0);
  EXPECT_THAT(load(manifestPath), HasSubstr("causal.sm_80.cubin' is not a regular file"));
  EXPECT_EQ(fake.calls, 0);
}

TEST_F(HostileFiles, AnOversizedManifestIsRefused) {
  write("big.manifest", std::string(kCausal) + std::string(1 << 20, '#'));
  EXPECT_THAT(load(dir + "/big.manifest"), HasSubstr("is larger than 1048576 bytes"));
}

/// kCausal loaded against the fake driver, and the tensors of one call.
class HostileLaunches : public HostileFiles {
protected:
  void SetUp() override {
    HostileFiles::SetUp();
    ASSERT_EQ(CudaKernel::load(manifestPath, kernel), "");
    fake.paramWords = kWords;
  }
  std::vector<DeviceTensor> tensorsFor(int64_t b, int64_t h, int64_t n, int64_t hk,
                                       int64_t m) {
    return {{0x1000, {b, h, n, 128}}, {0x2000, {b, hk, m, 128}}, {0x3000, {b, hk, m, 128}},
            {0, {}},                  {0x4000, {b, h, n, 128}},  {0x5000, {b, h, n}}};
  }
  std::string launch(std::vector<int64_t> sizes, double window = 256,
                     void *stream = nullptr) {
    return kernel->launch(tensorsFor(sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]),
                          {0, 0, 0, window}, sizes, stream);
  }
  /// Five rank-4 descriptors, a scalar, a rank-3 descriptor, the sizes descriptor.
  static constexpr size_t kWords = 3 * 11 + 1 + 11 + 9 + 5;
  static constexpr size_t kSizesPointer = kWords - 4; // its aligned pointer
  std::unique_ptr<CudaKernel> kernel;
};

TEST_F(HostileLaunches, AGoodLaunch) {
  ASSERT_EQ(launch({2, 8, 100, 2, 90}), "");
  ASSERT_EQ(fake.launches.size(), 1u);
  EXPECT_EQ(fake.launches[0].grid[0], 2u * 8 * 2);
  EXPECT_EQ(fake.launches[0].block[0], 128u);
  EXPECT_EQ(fake.launches[0].sharedBytes, 52224u);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(fake.launches[0].words[kSizesPointer], 5),
            (std::vector<int64_t>{2, 8, 100, 2, 90}));
}

TEST_F(HostileLaunches, AGridThatWrapsIsAnError) {
  constexpr int64_t k2To32 = int64_t(1) << 32;
  EXPECT_THAT(launch({k2To32, k2To32, 1, k2To32, 1}), HasSubstr("too large"));
  EXPECT_THAT(launch({65536, 65536, 1, 65536, 1}),
              HasSubstr("kernel 'causal' needs a grid of 4294967296 blocks (B=65536 x "
                        "H=65536 x N=1/64); CUDA launches at most 2147483647 along x"));
  EXPECT_TRUE(fake.launches.empty());
}

TEST_F(HostileLaunches, IntegerScalarsAreRangeChecked) {
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, NAN), HasSubstr("scalar 'window' is NaN"));
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, 1e300),
              HasSubstr("scalar 'window' = 1e+300 is out of range for i32"));
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, INFINITY),
              HasSubstr("scalar 'window' = inf is out of range for i32"));
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, 2147483648.0),
              HasSubstr("scalar 'window' = 2147483648 is out of range for i32"));
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, 0.5), HasSubstr("scalar 'window' = 0.5 is not an integer"));
  EXPECT_TRUE(fake.launches.empty());
  EXPECT_EQ(launch({1, 1, 1, 1, 1}, -2147483648.0), "");
}

TEST_F(HostileLaunches, TwoStreamsGetTheirOwnSizes) {
  auto *first = reinterpret_cast<void *>(uintptr_t(0x51));
  auto *second = reinterpret_cast<void *>(uintptr_t(0x52));
  ASSERT_EQ(launch({2, 8, 100, 2, 90}, 256, first), "");
  ASSERT_EQ(launch({1, 4, 64, 4, 32}, 256, second), "");
  ASSERT_EQ(fake.launches.size(), 2u);
  uint64_t a = fake.launches[0].words[kSizesPointer];
  uint64_t b = fake.launches[1].words[kSizesPointer];
  // Both launches are still in flight: each must still see its own sizes.
  EXPECT_NE(a, b);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(a, 5), (std::vector<int64_t>{2, 8, 100, 2, 90}));
  EXPECT_EQ(cuda::FakeCuda::deviceWords(b, 5), (std::vector<int64_t>{1, 4, 64, 4, 32}));
  // And each copy is ordered on its launch's stream.
  for (const cuda::FakeCuda::Copy &copy : fake.copies)
    EXPECT_TRUE(copy.async && (copy.stream == first || copy.stream == second));
}

TEST_F(HostileFiles, TheCApiRefusesNullArrays) {
  char message[256] = {};
  int64_t sizes[5] = {1, 1, 1, 1, 1};
  EXPECT_EQ(tmix_cuda_launch(manifestPath.c_str(), nullptr, nullptr, sizes, nullptr, message,
                             sizeof(message)),
            1);
  EXPECT_THAT(message, HasSubstr("null"));
  EXPECT_EQ(tmix_cuda_launch(nullptr, nullptr, nullptr, sizes, nullptr, message,
                             sizeof(message)),
            1);
  EXPECT_TRUE(fake.launches.empty());
}

TEST_F(HostileLaunches, ABufferIsReusedOnlyOnceItsLaunchFinished) {
  ASSERT_EQ(launch({2, 8, 100, 2, 90}), "");
  ASSERT_EQ(launch({2, 8, 100, 2, 90}), "");
  EXPECT_NE(fake.launches[0].words[kSizesPointer], fake.launches[1].words[kSizesPointer]);
  fake.finishAll();
  ASSERT_EQ(launch({1, 4, 64, 4, 32}), "");
  // The first buffer again (its launch finished), holding the new sizes.
  EXPECT_EQ(fake.launches[2].words[kSizesPointer], fake.launches[0].words[kSizesPointer]);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(fake.launches[2].words[kSizesPointer], 5),
            (std::vector<int64_t>{1, 4, 64, 4, 32}));
  // With every buffer in flight, a launch waits for the oldest rather than share one.
  fake.finishAll();
  fake.launches.clear();
  for (size_t index = 0; index < kMaxLaunchesInFlight; ++index)
    ASSERT_EQ(launch({2, 8, 100, 2, 90}), "");
  EXPECT_EQ(fake.waits, 0);
  ASSERT_EQ(launch({2, 8, 100, 2, 90}), "");
  EXPECT_EQ(fake.waits, 1);
  EXPECT_EQ(fake.launches.back().words[kSizesPointer], fake.launches[0].words[kSizesPointer]);
}

TEST_F(HostileLaunches, CallErrorsComeBeforeAnyDriverCall) {
  int before = fake.calls;
  EXPECT_THAT(launch({1, 1, 1, 1, 1}, NAN), HasSubstr("NaN"));
  EXPECT_THAT(launch({1, 1, 1, 1, 0}), HasSubstr("must be positive"));
  std::vector<DeviceTensor> tensors = tensorsFor(1, 1, 1, 1, 1);
  tensors[1].address = 0x2008;
  EXPECT_THAT(kernel->launch(tensors, {0, 0, 0, 1}, {1, 1, 1, 1, 1}, nullptr),
              HasSubstr("'k' is not 16-byte aligned"));
  EXPECT_EQ(fake.calls, before);
}

TEST_F(HostileFiles, TheDevicesSharedMemoryLimitIsChecked) {
  fake.attributes[cuda::kDeviceAttrMaxSharedOptin] = 50000;
  EXPECT_EQ(load(manifestPath),
            "kernel 'causal' needs 52224 bytes of shared memory; this device allows 50000");
}

TEST_F(HostileFiles, HopperLaunchesGetTheirOwnDescriptors) {
  std::unique_ptr<CudaKernel> kernel =
      loadedWith(hopperManifest(), kHopperPtx, 3 * 11 + 1 + 11 + 9 + 5 + 1);
  ASSERT_NE(kernel, nullptr);
  auto tensors = [](uint64_t base) {
    return std::vector<DeviceTensor>{{base, {1, 2, 64, 128}},      {base + 0x100000, {1, 2, 64, 128}},
                                     {base + 0x200000, {1, 2, 64, 128}}, {0, {}},
                                     {base + 0x300000, {1, 2, 64, 128}}, {base + 0x400000, {1, 2, 64}}};
  };
  std::vector<int64_t> sizes{1, 2, 64, 2, 64};
  ASSERT_EQ(kernel->launch(tensors(0x10000000), {0, 0, 0, 1}, sizes, nullptr), "");
  ASSERT_EQ(kernel->launch(tensors(0x20000000), {0, 0, 0, 1}, sizes, nullptr), "");
  uint64_t first = fake.launches[0].words.back(), second = fake.launches[1].words.back();
  EXPECT_NE(first, second);
  EXPECT_EQ(first % 64, 0u);
  // The fake encodes a descriptor as its tensor's address: q's, k's, v's.
  EXPECT_EQ(cuda::FakeCuda::deviceWords(first, 1)[0], 0x10000000);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(first + 128, 1)[0], 0x10100000);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(second, 1)[0], 0x20000000);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(second + 256, 1)[0], 0x20200000);
  // The sizes follow the three descriptors in the same buffer.
  EXPECT_EQ(fake.launches[1].words[fake.paramWords - 5], second + 3 * 128);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(second + 3 * 128, 5), sizes);
}

/// kCausal with a workspace of 3 words per unit of B x H after a word per CTA; its
/// kernel takes the workspace's descriptor last.
std::string workspaceManifest() { return std::string(kCausal) + "workspace 3 B H\n"; }
const std::string kWorkspacePtx = ptxWithParams("causal", kCausalParamWords + 5);

TEST(GpuManifest, ParsesAndWritesAWorkspace) {
  GpuManifest manifest = parsed(workspaceManifest());
  EXPECT_EQ(manifest.workspaceWords, 3);
  EXPECT_EQ(manifest.workspacePer, (std::vector<std::string>{"B", "H"}));
  EXPECT_EQ(parsed(writeGpuManifest(manifest)).workspacePer, manifest.workspacePer);
  EXPECT_NE(writeGpuManifest(manifest).find("\nworkspace 3 B H\n"), std::string::npos);
  EXPECT_EQ(kernelParamWords(manifest), kCausalParamWords + 5);
  GpuManifest fixed = parsed(std::string(kCausal) + "workspace 8\n");
  EXPECT_TRUE(fixed.workspacePer.empty());
  auto with = [](const std::string &record) {
    GpuManifest manifest;
    return parseGpuManifest(std::string(kCausal) + record, manifest);
  };
  EXPECT_THAT(with("workspace\n"), HasSubstr("'workspace' takes a number of words in "
                                             "1..2147483647, then size symbols"));
  EXPECT_THAT(with("workspace 0 B\n"), HasSubstr("'workspace' takes a number of words"));
  EXPECT_THAT(with("workspace 2147483648\n"), HasSubstr("'workspace' takes a number"));
  EXPECT_THAT(with("workspace 8 B B\n"), HasSubstr("workspace symbol 'B' given twice"));
  EXPECT_EQ(with("workspace 8 T\n"), "workspace symbol 'T' is not in 'sizes'");
  EXPECT_THAT(with("workspace 8\nworkspace 8\n"), HasSubstr("'workspace' given twice"));
  EXPECT_EQ(
      errorWith("object causal.cpu.o", "object causal.cpu.o\nworkspace 8", kCpuCausal),
      "a cpu kernel has no 'ptx', 'cubin', 'block_threads', 'shared_bytes', 'tma' or "
      "'workspace'");
}

TEST(CudaLauncher, WorkspaceWordsAreCountedWithOverflowChecks) {
  GpuManifest manifest = parsed(workspaceManifest());
  std::map<std::string, int64_t> bound{{"B", 2}, {"H", 8}};
  int64_t words = 0;
  ASSERT_EQ(workspaceWordsOf(manifest, bound, 40, words), "");
  EXPECT_EQ(words, 40 + 3 * 2 * 8);
  bound["H"] = int64_t(1) << 62;
  EXPECT_EQ(workspaceWordsOf(manifest, bound, 40, words),
            "kernel 'causal' needs a workspace of 3 x B=2 x H=4611686018427387904 words "
            "after 40 (one per CTA): more than 1073741824");
  bound["H"] = int64_t(1) << 28;
  EXPECT_THAT(workspaceWordsOf(manifest, bound, 40, words),
              HasSubstr("more than 1073741824"));
  // The descriptor comes last, and a kernel that takes one must be given one.
  bound = {{"B", 1}, {"H", 2}, {"N", 64}, {"HK", 2}, {"M", 64}};
  std::vector<DeviceTensor> tensors{{0x1000, {1, 2, 64, 128}}, {0x2000, {1, 2, 64, 128}},
                                    {0x3000, {1, 2, 64, 128}}, {0, {}},
                                    {0x4000, {1, 2, 64, 128}}, {0x5000, {1, 2, 64}}};
  KernelParams params;
  ASSERT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 1}, bound, 0x6000, params, 0,
                             0x7000, 12),
            "");
  ASSERT_EQ(params.words.size(), kCausalParamWords + 5);
  std::vector<uint64_t> descriptor(params.words.end() - 5, params.words.end());
  EXPECT_EQ(descriptor, (std::vector<uint64_t>{0x7000, 0x7000, 0, 12, 1}));
  EXPECT_EQ(packKernelParams(manifest, tensors, {0, 0, 0, 1}, bound, 0x6000, params),
            "kernel 'causal' takes a workspace, but none was given");
}

TEST_F(HostileFiles, WorkspacesArePerLaunchWithTheirCountersZeroed) {
  std::unique_ptr<CudaKernel> kernel =
      loadedWith(workspaceManifest(), kWorkspacePtx, kCausalParamWords + 5);
  ASSERT_NE(kernel, nullptr);
  auto tensors = [](int64_t b, int64_t h) {
    return std::vector<DeviceTensor>{{0x1000, {b, h, 64, 128}}, {0x2000, {b, h, 64, 128}},
                                     {0x3000, {b, h, 64, 128}}, {0, {}},
                                     {0x4000, {b, h, 64, 128}}, {0x5000, {b, h, 64}}};
  };
  auto workspaceOf = [&](size_t launch) {
    const std::vector<uint64_t> &words = fake.launches[launch].words;
    return std::make_pair(words[words.size() - 4],
                          words[words.size() - 2]); // aligned, size
  };
  ASSERT_EQ(kernel->launch(tensors(1, 2), {0, 0, 0, 1}, {1, 2, 64, 2, 64}, nullptr), "");
  // 2 CTAs (B x H x N / 64), then 3 x 1 x 2 words.
  auto [first, firstWords] = workspaceOf(0);
  EXPECT_EQ(firstWords, 2u + 6);
  // After the sizes, in the same buffer; its counters zeroed by the launch's copy.
  EXPECT_EQ(first, fake.launches[0].words[kCausalParamWords - 4] + 5 * 8);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(first, 2), (std::vector<int64_t>{0, 0}));
  // As a kernel would: its counters counted, its slots written.
  std::vector<int64_t> written{2, 2, 7, 7, 7, 7, 7, 7};
  std::memcpy(reinterpret_cast<void *>(first), written.data(), 8 * written.size());
  fake.finishAll();
  // The buffer again, grown for a larger launch: new memory, counters zero again.
  ASSERT_EQ(kernel->launch(tensors(4, 8), {0, 0, 0, 1}, {4, 8, 64, 8, 64}, nullptr), "");
  auto [grown, grownWords] = workspaceOf(1);
  EXPECT_EQ(grownWords, 32u + 3 * 32);
  EXPECT_NE(grown, first);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(grown, 32), std::vector<int64_t>(32, 0));
  fake.finishAll();
  // A smaller launch reuses it: counters zeroed, the other words as the kernel left them.
  std::memcpy(reinterpret_cast<void *>(grown), written.data(), 8 * written.size());
  ASSERT_EQ(kernel->launch(tensors(1, 2), {0, 0, 0, 1}, {1, 2, 64, 2, 64}, nullptr), "");
  auto [again, againWords] = workspaceOf(2);
  EXPECT_EQ(again, grown);
  EXPECT_EQ(againWords, 8u);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(again, 8),
            (std::vector<int64_t>{0, 0, 7, 7, 7, 7, 7, 7}));
  // A launch in flight keeps its workspace: the next one gets another buffer.
  ASSERT_EQ(kernel->launch(tensors(1, 2), {0, 0, 0, 1}, {1, 2, 64, 2, 64}, nullptr), "");
  EXPECT_NE(workspaceOf(3).first, again);
}

/// A recurrence's adjoint: d_x is x's gradient as it is, d_A [B, H] sums into A's [H].
const char *const kSummedGradients = R"(tmix-gpu-manifest 1
kernel ssd_grad
target sm_80
spec recurrence
gradients summed
ptx causal.sm_80.ptx
block_threads 128
shared_bytes 1024
sizes B H T P
grid B:1 H:1
arg x tensor f32 B H T P
arg A tensor f32 H
arg d_y tensor f32 B H T P
result d_x tensor f32 B H T P
result d_A tensor f32 B H
workspace 4 B H T
)";

TEST(GpuManifest, SummedGradientsNameTheirArgumentsInF32) {
  GpuManifest manifest = parsed(kSummedGradients);
  EXPECT_TRUE(manifest.kernel.sumsGradients);
  EXPECT_NE(writeGpuManifest(manifest).find("\ngradients summed\n"), std::string::npos);
  // Callers see A's gradient in A's shape.
  EXPECT_EQ(callerSignature(manifest).results[1].dims.size(), 1u);
  EXPECT_EQ(callerSignature(parsed(kCausal)).results[0].dims.size(), 4u);
  EXPECT_EQ(errorWith("result d_A tensor f32", "result d_B tensor f32", kSummedGradients),
            "'gradients summed', but result 'd_B' is the gradient of no argument");
  EXPECT_EQ(
      errorWith("result d_A tensor f32", "result d_A tensor bf16", kSummedGradients),
      "'gradients summed' on a GPU takes f32 results, not 'd_A'");
  // One sum (d_x is x's gradient as it is): A's h from d_A's [b, h], its 6 partials in
  // 4 words (two a word, 16-byte aligned), a 7-word plan.
  std::vector<GradientSumLaunch> sums;
  int64_t partialWords = 0, planWords = 0;
  std::map<std::string, int64_t> bound = {{"B", 2}, {"H", 3}, {"T", 5}, {"P", 4}};
  ASSERT_EQ(gradientSumLaunches(manifest, bound, sums, partialWords, planWords), "");
  ASSERT_EQ(sums.size(), 1u);
  EXPECT_EQ(sums[0].result, 1u);
  EXPECT_EQ(sums[0].partialShape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(sums[0].count, 3);
  EXPECT_EQ(partialWords, 4);
  EXPECT_EQ(planWords, 7);
  // More elements than a grid of 2^31 - 1 CTAs sums.
  bound["H"] = int64_t(1) << 39;
  EXPECT_THAT(gradientSumLaunches(manifest, bound, sums, partialWords, planWords),
              HasSubstr("'d_A' of kernel 'ssd_grad' has 549755813888 elements: more than "
                        "a CUDA grid of 2147483647 blocks"));
  // No sums for other kernels.
  ASSERT_EQ(
      gradientSumLaunches(parsed(kCausal), {{"B", 1}}, sums, partialWords, planWords),
      "");
  EXPECT_TRUE(sums.empty());
}

TEST_F(HostileFiles, SummedGradientsGetPartialsOfTheLaunchThenASumEach) {
  GpuManifest manifest = parsed(kSummedGradients);
  std::string adjoint = ptxWithParams("ssd_grad", kernelParamWords(manifest));
  // The module must hold the sum's entry point too.
  write("causal.manifest", kSummedGradients);
  write("causal.sm_80.ptx", adjoint);
  EXPECT_THAT(load(manifestPath), HasSubstr("has no '.entry tmix_gradient_sum'"));
  fake.paramWordsOf[kGradientSumKernel] = kGradientSumParamWords;
  std::unique_ptr<CudaKernel> kernel = loadedWith(
      kSummedGradients,
      adjoint +
          ptxWithParams(kGradientSumKernel, kGradientSumParamWords)
              .substr(std::string("//\n.version 8.0\n.target sm_80\n.address_size 64\n")
                          .size()),
      kernelParamWords(manifest));
  ASSERT_NE(kernel, nullptr);
  std::vector<DeviceTensor> tensors{{0x1000, {2, 3, 5, 4}},
                                    {0x2000, {3}},
                                    {0x3000, {2, 3, 5, 4}},
                                    {0x4000, {2, 3, 5, 4}},
                                    {0x5000, {3}}};
  std::vector<int64_t> sizes{2, 3, 5, 4};
  ASSERT_EQ(kernel->launch(tensors, {0, 0, 0}, sizes, nullptr), "");
  ASSERT_EQ(fake.launches.size(), 2u);
  const std::vector<uint64_t> &main = fake.launches[0].words;
  // x, A, d_y, then d_x in the caller's tensor and d_A [B, H] in the launch's words.
  EXPECT_EQ(main[27], 0x4000u);
  uint64_t partial = main[38];
  EXPECT_EQ(std::vector<uint64_t>(main.begin() + 40, main.begin() + 45),
            (std::vector<uint64_t>{0, 2, 3, 3, 1}));
  EXPECT_EQ(partial % 16, 0u);
  // After the workspace (6 CTAs, then 4 x 2 x 3 x 5 words).
  uint64_t workspace = main[main.size() - 4];
  EXPECT_GE(partial, workspace + (6 + 120) * 8);
  const cuda::FakeCuda::Launch &sum = fake.launches[1];
  EXPECT_EQ(sum.function, kGradientSumKernel);
  EXPECT_EQ((std::vector<unsigned>{sum.grid[0], sum.block[0], sum.sharedBytes}),
            (std::vector<unsigned>{1, 128, 0}));
  EXPECT_EQ(std::vector<uint64_t>(sum.words.begin(), sum.words.begin() + 10),
            (std::vector<uint64_t>{partial, partial, 0, 6, 1, 0x5000, 0x5000, 0, 3, 1}));
  // The plan (GradientSum::encode), copied with the sizes: A's h from d_A's [b, h].
  EXPECT_EQ(sum.words[13], 7u);
  EXPECT_EQ(cuda::FakeCuda::deviceWords(sum.words[10], 7),
            (std::vector<int64_t>{1, 1, 3, 1, 1, 2, 3}));
  // The caller gives A's gradient in A's shape.
  tensors[4].shape = {2, 3};
  EXPECT_EQ(kernel->launch(tensors, {0, 0, 0}, sizes, nullptr),
            "tensor 'd_A' does not have its declared shape [H]");
}

TEST(HostileScalars, FloatScalars) {
  ParamDecl eps{"eps", DType::F32, false, {}, std::nullopt};
  EXPECT_EQ(checkScalarValue(eps, NAN), "scalar 'eps' is NaN");
  EXPECT_EQ(checkScalarValue(eps, INFINITY), "");
  EXPECT_EQ(checkScalarValue(eps, -INFINITY), "");
  EXPECT_EQ(checkScalarValue(eps, 1e-6), "");
  EXPECT_EQ(checkScalarValue(eps, 1e300), "scalar 'eps' = 1e+300 is out of range for f32");
  eps.dtype = DType::F16;
  EXPECT_EQ(checkScalarValue(eps, 65504), "");
  EXPECT_EQ(checkScalarValue(eps, 70000), "scalar 'eps' = 70000 is out of range for f16");
  eps.dtype = DType::F64;
  EXPECT_EQ(checkScalarValue(eps, 1e300), "");
  ParamDecl flag{"flag", DType::Bool, false, {}, std::nullopt};
  EXPECT_EQ(checkScalarValue(flag, 1), "");
  EXPECT_EQ(checkScalarValue(flag, 2), "scalar 'flag' = 2 is not a bool (0 or 1)");
  ParamDecl offset{"offset", DType::I64, false, {}, std::nullopt};
  EXPECT_EQ(checkScalarValue(offset, -9223372036854775808.0), "");
  EXPECT_EQ(checkScalarValue(offset, 9223372036854775808.0),
            "scalar 'offset' = 9223372036854775808 is out of range for i64");
}

TEST(HostileImages, CubinStructure) {
  std::string good = minimalCubin();
  EXPECT_EQ(checkCubinImage(good), "");
  auto with = [&](size_t at, uint64_t value, size_t bytes) {
    std::string image = good;
    std::memcpy(&image[at], &value, bytes);
    return checkCubinImage(image);
  };
  EXPECT_EQ(checkCubinImage(""), "shorter than an ELF header");
  EXPECT_EQ(with(0, 0x464c457e, 4), "no ELF magic");
  EXPECT_EQ(with(4, 1, 1), "not a 64-bit little-endian ELF");
  EXPECT_EQ(with(18, 62, 2), "machine 62, not CUDA (190)");
  EXPECT_EQ(with(60, 0, 2), "no sections");
  EXPECT_EQ(with(60, 3, 2), "the section table ends past the end of the file");
  EXPECT_EQ(with(40, ~uint64_t(0), 8), "the section table ends past the end of the file");
  EXPECT_EQ(with(58, 40, 2), "section headers of 40 bytes");
  EXPECT_EQ(with(62, 2, 2), "the section-name index is out of range");
  EXPECT_EQ(with(128 + 32, 11, 8), "section 1 ends past the end of the file");
  EXPECT_EQ(with(128 + 24, ~uint64_t(0) - 4, 8), "section 1 ends past the end of the file");
  // A program header table appended to the file: one segment.
  std::string segmented = good + std::string(56, '\0');
  auto put = [&](std::string &image, size_t at, uint64_t value, size_t bytes) {
    std::memcpy(&image[at], &value, bytes);
  };
  put(segmented, 32, good.size(), 8); // e_phoff
  put(segmented, 56, 1, 2);           // e_phnum
  put(segmented, good.size() + 32, 64, 8);
  EXPECT_EQ(checkCubinImage(segmented), "");
  std::string longSegment = segmented;
  put(longSegment, good.size() + 32, 1000, 8); // p_filesz
  EXPECT_EQ(checkCubinImage(longSegment), "segment 0 ends past the end of the file");
  std::string farTable = segmented;
  put(farTable, 32, 4096, 8);
  EXPECT_EQ(checkCubinImage(farTable), "the program header table ends past the end of the file");
  std::string oddEntries = segmented;
  put(oddEntries, 54, 40, 2);
  EXPECT_EQ(checkCubinImage(oddEntries), "program headers of 40 bytes");
}

TEST(HostileImages, PtxEntry) {
  EXPECT_EQ(checkPtxImage(kCausalPtx, "causal", kCausalParamWords), "");
  EXPECT_EQ(checkPtxImage(".entry\tcausal\n(.param .u64 a)", "causal", 1), "");
  EXPECT_EQ(checkPtxImage(".entry causal_2(", "causal", 1), "has no '.entry causal'");
  EXPECT_EQ(checkPtxImage(".entrycausal(", "causal", 1), "has no '.entry causal'");
  EXPECT_EQ(checkPtxImage(".entry causa", "causal", 1), "has no '.entry causal'");
  EXPECT_EQ(checkPtxImage("", "causal", 1), "has no '.entry causal'");
  EXPECT_EQ(checkPtxImage(std::string(".entry causal(\0)", 16), "causal", 1),
            "is not text (it holds a NUL byte)");
}

// The manifest's ABI against the kernel's: a manifest that drops or adds an argument
// (or a PTX that does) would launch with the wrong parameters.
TEST(HostileImages, PtxParametersMatchTheManifest) {
  GpuManifest manifest = parsed(kCausal);
  EXPECT_EQ(kernelParamWords(manifest), kCausalParamWords);
  EXPECT_EQ(checkPtxImage(kCausalPtx, "causal", kCausalParamWords - 11),
            "declares 59 parameters, but the manifest's arguments make 48");
  EXPECT_EQ(checkPtxImage(ptxWithParams("causal", 60), "causal", kCausalParamWords),
            "declares 60 parameters, but the manifest's arguments make 59");
  EXPECT_EQ(checkPtxImage(".entry causal(.param .u32 a)", "causal", 1),
            "declares a parameter that is not 8 bytes ('.u32')");
  EXPECT_EQ(checkPtxImage(".entry causal(.param .u64 a", "causal", 1),
            "has an unterminated parameter list");
  EXPECT_EQ(checkPtxImage(".entry causal;", "causal", 1),
            "has no parameter list after '.entry causal'");
}

TEST(HostileManifest, RoundTripsWithoutPtxAndRefusesHugeText) {
  std::string text = kCausal;
  text.erase(text.find("ptx causal.sm_80.ptx\n"), 21);
  GpuManifest manifest = parsed(text);
  EXPECT_EQ(manifest.ptxFile, "");
  EXPECT_EQ(writeGpuManifest(parsed(writeGpuManifest(manifest))), writeGpuManifest(manifest));
  GpuManifest huge;
  EXPECT_EQ(parseGpuManifest(std::string(kCausal) + std::string(1 << 20, '#'), huge),
            "the manifest is larger than 1048576 bytes");
}

TEST_F(HostileFiles, ReadsAtMostTheLimit) {
  write("four", "1234");
  std::string contents;
  EXPECT_EQ(readRegularFile(dir + "/four", 4, "the file", contents), "");
  EXPECT_EQ(contents, "1234");
  EXPECT_EQ(readRegularFile(dir + "/four", 3, "the file", contents),
            "the file '" + dir + "/four' is larger than 3 bytes");
  EXPECT_EQ(contents, "");
  EXPECT_EQ(readRegularFile(dir, 3, "the file", contents),
            "the file '" + dir + "' is not a regular file");
}

} // namespace
