//===- LauncherTests.cpp - The CPU launcher's checks of sizes and scalars ----===//
//
// Numbers that reach the grid or the kernel ABI are range-checked (issue 11): a grid
// whose program count overflows int64 is refused (B = H = 2^32 once wrapped to 0
// programs and "succeeded"), and a scalar must be one its dtype can take
// (checkScalarValue) before the double -> int64 cast, which is undefined beyond int64.
//
//===----------------------------------------------------------------------===//

#include "runtime/CpuLauncher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

using namespace tmix::rt;

namespace {

/// A grid of (B, H, ceil(N / 64)) programs, as attention's.
KernelManifest attentionGrid() {
  KernelManifest manifest;
  manifest.signature.name = "grid";
  for (auto [symbol, tile] : {std::pair<const char *, int64_t>{"B", 1}, {"H", 1}, {"N", 64}}) {
    GridDimDecl dim;
    dim.dim.symbol = symbol;
    dim.tile = tile;
    manifest.grid.push_back(dim);
  }
  return manifest;
}

TEST(GridSize, CountsPartialTiles) {
  KernelManifest manifest = attentionGrid();
  EXPECT_EQ(gridSize(manifest, {{"B", 2}, {"H", 3}, {"N", 65}}), 2 * 3 * 2);
  EXPECT_EQ(gridSize(manifest, {{"B", 1}, {"H", 1}, {"N", 1}}), 1);
  EXPECT_EQ(gridSize(manifest, {{"B", 1}, {"H", 1}, {"N", 64}}), 1);
}

TEST(GridSize, RefusesOverflowInsteadOfWrapping) {
  KernelManifest manifest = attentionGrid();
  const int64_t twoTo32 = int64_t(1) << 32;
  // 2^32 * 2^32 = 2^64 programs: once 0.
  EXPECT_EQ(gridSize(manifest, {{"B", twoTo32}, {"H", twoTo32}, {"N", 1}}), std::nullopt);
  // N near INT64_MAX: N + 63 overflowed the ceiling division.
  EXPECT_EQ(gridSize(manifest, {{"B", 1}, {"H", 1}, {"N", INT64_MAX}}),
            INT64_MAX / 64 + 1);
  EXPECT_EQ(gridSize(manifest, {{"B", 2}, {"H", 64}, {"N", INT64_MAX}}), std::nullopt);
}

TEST(GridSize, RefusesUnboundAndNonPositive) {
  KernelManifest manifest = attentionGrid();
  EXPECT_EQ(gridSize(manifest, {{"B", 1}, {"H", 1}}), std::nullopt);
  EXPECT_EQ(gridSize(manifest, {{"B", 0}, {"H", 1}, {"N", 5}}), std::nullopt);
  manifest.grid[2].tile = 0;
  EXPECT_EQ(gridSize(manifest, {{"B", 1}, {"H", 1}, {"N", 5}}), std::nullopt);
}

/// A program that counts its calls: a launch refused for a bad scalar never calls it.
std::atomic<int> programCalls{0};
void countingProgram(void **) { ++programCalls; }

/// One launch of a scalar-only kernel whose grid is one program, with `value` for its
/// scalar of `dtype`. Returns launchOnCpu's error.
std::string launchWithScalar(DType dtype, double value) {
  KernelManifest manifest;
  manifest.signature.name = "scalar";
  ParamDecl scalar;
  scalar.name = "limit";
  scalar.dtype = dtype;
  manifest.signature.args.push_back(scalar);
  Bindings bindings;
  bindings.tensors.resize(1);
  bindings.scalars = {value};
  std::vector<HostTensor> outputs;
  ThreadPool pool(1);
  return launchOnCpu(countingProgram, manifest, bindings, outputs, pool);
}

TEST(CpuLaunch, ChecksScalarsBeforeTheInt64Cast) {
  programCalls = 0;
  EXPECT_EQ(launchWithScalar(DType::I64, -9223372036854775808.0), "");
  EXPECT_EQ(launchWithScalar(DType::I32, 2147483647.0), "");
  EXPECT_EQ(launchWithScalar(DType::F32, INFINITY), "");
  EXPECT_EQ(programCalls, 3);
  // 2^63 - 1 as a double is 2^63: out of int64's range, an undefined cast.
  EXPECT_EQ(launchWithScalar(DType::I64, 9223372036854775807.0),
            "scalar 'limit' = 9223372036854775808 is out of range for i64");
  EXPECT_EQ(launchWithScalar(DType::I64, NAN), "scalar 'limit' is NaN");
  EXPECT_EQ(launchWithScalar(DType::I64, 1e300),
            "scalar 'limit' = 1e+300 is out of range for i64");
  EXPECT_EQ(launchWithScalar(DType::I64, 2.5), "scalar 'limit' = 2.5 is not an integer (i64)");
  EXPECT_EQ(launchWithScalar(DType::I32, 2147483648.0),
            "scalar 'limit' = 2147483648 is out of range for i32");
  EXPECT_EQ(launchWithScalar(DType::Bool, 2), "scalar 'limit' = 2 is not a bool (0 or 1)");
  EXPECT_EQ(launchWithScalar(DType::F32, 1e39), "scalar 'limit' = 1e+39 is out of range for f32");
  EXPECT_EQ(launchWithScalar(DType::F32, NAN), "scalar 'limit' is NaN");
  EXPECT_EQ(programCalls, 3);
}

/// The program ids of a launch, in the order a one-thread pool runs them.
std::vector<int64_t> programOrder;
void recordingProgram(void **args) { programOrder.push_back(*static_cast<int64_t *>(args[0])); }

TEST(CpuLaunch, PackedSequencesRunLongestFirst) {
  // Lengths 3, 10, 0, 10, 5: the two of 10 in grid order, then 5, 3 and the empty one.
  EXPECT_EQ(longestSequencesFirst({3, 10, 0, 10, 5}), (std::vector<int64_t>{1, 3, 4, 0, 2}));
  EXPECT_EQ(longestSequencesFirst({7}), (std::vector<int64_t>{0}));
  EXPECT_TRUE(longestSequencesFirst({}).empty());

  // A launch over N = 3 sequences of lengths 2, 5, 3 and H = 2 heads (grid [N, H]):
  // sequence 1's programs, then 2's, then 0's.
  KernelManifest manifest;
  manifest.signature.name = "packed";
  manifest.signature.isAttention = false;
  ParamDecl offsets;
  offsets.name = "cu";
  offsets.isTensor = true;
  offsets.dtype = DType::I32;
  offsets.dims = {DimDecl{"N", 0, 1}};
  manifest.signature.args = {offsets};
  manifest.signature.sequenceOffsets = 0;
  manifest.signature.timeSymbol = "T";
  manifest.sizeSymbols = {"N", "H", "T"};
  for (const char *symbol : {"N", "H"}) {
    GridDimDecl dim;
    dim.dim.symbol = symbol;
    manifest.grid.push_back(dim);
  }
  Bindings bindings;
  bindings.tensors = {HostTensor(DType::I32, {4})};
  for (int64_t index = 0; index < 4; ++index)
    bindings.tensors[0].set(index, std::vector<double>{0, 2, 7, 10}[index]);
  bindings.scalars = {0};
  bindings.sizes = {{"N", 3}, {"H", 2}, {"T", 10}};
  std::vector<HostTensor> outputs;
  ThreadPool pool(1);
  programOrder.clear();
  ASSERT_EQ(launchOnCpu(recordingProgram, manifest, bindings, outputs, pool), "");
  EXPECT_EQ(programOrder, (std::vector<int64_t>{2, 3, 4, 5, 0, 1}));
}

} // namespace
