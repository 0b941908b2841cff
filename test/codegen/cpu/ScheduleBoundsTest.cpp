//===- ScheduleBoundsTest.cpp - The compiler API checks the schedule ------===//
//
// A ScheduleOverride reaches the tmix-schedule pass unchecked by any command line: an
// out-of-range value is an error that names the bound, never a tile size (before,
// block_n = 2^63 - 1 overflowed into all-zero outputs and block_m = 2^63 - 1 aborted).
//
//===----------------------------------------------------------------------===//

#include "../reference/ReferenceTestUtils.h"

#include "codegen/cpu/CpuCompiler.h"

#include <gtest/gtest.h>

#include <limits>

using namespace tmix;
using namespace tmix::testing;

namespace {

constexpr char kSpec[] = R"(
attention plain(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D])
    -> o: f32[B, H, N, D] {
  mask = j <= i
})";

/// The error of compiling `spec` with `schedule`, or "" when it compiled.
std::string compileError(mlir::Operation *spec, const cpu::ScheduleOverride &schedule) {
  auto kernel = cpu::compileForCpu(spec, schedule);
  return kernel ? "" : llvm::toString(kernel.takeError());
}

/// Whether `error` is the lowering's failure with `message` (after the spec's location).
bool failsWith(const std::string &error, const std::string &message) {
  llvm::StringRef text(error);
  return text.starts_with("lowering 'plain' to loops failed: ") &&
         text.ends_with(message);
}

TEST(ScheduleBounds, CompilerRejectsOutOfRangeOverrides) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kSpec);
  ASSERT_NE(spec, nullptr);
  constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();

  cpu::ScheduleOverride blockN;
  blockN.blockN = kHuge;
  EXPECT_TRUE(failsWith(compileError(spec, blockN),
                        "bad schedule option block-n=" + std::to_string(kHuge) +
                            ": at most 4096"))
      << compileError(spec, blockN);

  cpu::ScheduleOverride blockM;
  blockM.blockM = kHuge;
  EXPECT_TRUE(failsWith(compileError(spec, blockM),
                        "bad schedule option block-m=" + std::to_string(kHuge) +
                            ": at most 4096"))
      << compileError(spec, blockM);

  cpu::ScheduleOverride chunk;
  chunk.chunk = kHuge;
  EXPECT_TRUE(
      failsWith(compileError(spec, chunk),
                "bad schedule option chunk=" + std::to_string(kHuge) + ": at most 1024"))
      << compileError(spec, chunk);

  // A GPU value in range: the CPU target's check refuses it (it was not a value of the
  // CPU's schedule before).
  cpu::ScheduleOverride stages;
  stages.stages = 2;
  EXPECT_TRUE(failsWith(compileError(spec, stages),
                        "schedule stages=2 does not fit the CPU's attention program: "
                        "stages is a GPU value (0 on the CPU)"))
      << compileError(spec, stages);

  // In range each, too large together: the scratch buffers' bound, on the spec.
  cpu::ScheduleOverride tiles{/*blockM=*/4096, /*blockN=*/4096, /*lanes=*/16};
  std::string error = compileError(spec, tiles);
  EXPECT_NE(error.find("'tmix.attention' op needs "), std::string::npos) << error;
  EXPECT_NE(error.find("bytes of scratch buffers per program"), std::string::npos)
      << error;
}

} // namespace
