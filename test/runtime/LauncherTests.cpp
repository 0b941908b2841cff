//===- LauncherTests.cpp - The CPU launcher's checks of sizes and scalars ----===//
//
// Numbers that reach the grid or the kernel ABI are range-checked (issue 11): a grid
// whose program count overflows int64 is refused (B = H = 2^32 once wrapped to 0
// programs and "succeeded"), and an integer scalar must be a finite integer in its
// dtype's range before the double -> int64 cast, which is undefined beyond it.
//
//===----------------------------------------------------------------------===//

#include "runtime/CpuLauncher.h"

#include <gtest/gtest.h>

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

TEST(IntegerScalar, AcceptsIntegersInRange) {
  int64_t out = 0;
  EXPECT_EQ(integerScalar("n", DType::I64, -9007199254740992.0, out), "");
  EXPECT_EQ(out, -9007199254740992);
  EXPECT_EQ(integerScalar("n", DType::I64, -9223372036854775808.0, out), "");
  EXPECT_EQ(out, INT64_MIN);
  EXPECT_EQ(integerScalar("n", DType::I32, 2147483647.0, out), "");
  EXPECT_EQ(out, 2147483647);
  EXPECT_EQ(integerScalar("b", DType::Bool, 1.0, out), "");
  EXPECT_EQ(out, 1);
}

TEST(IntegerScalar, RefusesWhatTheCastCannotTake) {
  int64_t out = 0;
  // 2^63 - 1 as a double is 2^63: out of int64's range.
  EXPECT_EQ(integerScalar("limit", DType::I64, 9223372036854775807.0, out),
            "scalar 'limit' = 9.2233720368547758e+18 is not a i64 value");
  EXPECT_NE(integerScalar("limit", DType::I64, 1e300, out), "");
  EXPECT_NE(integerScalar("limit", DType::I64, NAN, out), "");
  EXPECT_NE(integerScalar("limit", DType::I64, -INFINITY, out), "");
  EXPECT_NE(integerScalar("limit", DType::I64, 2.5, out), "");
  EXPECT_NE(integerScalar("window", DType::I32, 2147483648.0, out), "");
  EXPECT_NE(integerScalar("causal", DType::Bool, 2.0, out), "");
}

} // namespace
