//===- KernelCacheTest.cpp - One compile per spec and schedule ------------===//
//
// The JIT cache compiles a spec once; new sizes and scalar values reuse the kernel and
// still give the reference's numbers; another schedule is another kernel.
//
//===----------------------------------------------------------------------===//

#include "../reference/ReferenceTestUtils.h"

#include "codegen/cpu/KernelCache.h"
#include "codegen/reference/ReferenceEvaluator.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tmix;
using namespace tmix::testing;

namespace {

constexpr char kWindowSpec[] = R"(
attention windowed(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D],
                   window: i32 = 2) -> o: f32[B, H, N, D] {
  mask = j <= i && i - j < window
})";

/// Runs `kernel` on random inputs of length `n` with `window` and returns the largest
/// |out - ref| over the output.
double runAndCompare(mlir::Operation *spec, const cpu::CompiledKernel &kernel, int64_t n,
                     double window) {
  Call call;
  for (int arg = 0; arg < 3; ++arg) {
    rt::HostTensor tensor(rt::DType::F32, {1, 2, n, 8});
    rt::fillRandom(tensor, /*seed=*/arg + 7 * n, -1.0, 1.0);
    call.tensor(std::move(tensor));
  }
  call.scalar(window).size("B", 1).size("H", 2).size("N", n).size("D", 8);
  rt::Bindings bindings = call.bindings();
  std::vector<rt::HostTensor> outputs;
  outputs.emplace_back(rt::DType::F32, std::vector<int64_t>{1, 2, n, 8});
  rt::ThreadPool pool(2);
  EXPECT_EQ(rt::launchOnCpu(kernel.program, kernel.manifest, bindings, outputs, pool),
            "");
  std::vector<rt::HostTensor> reference = evaluate(spec, call);
  double worst = 0;
  for (int64_t e = 0; e < outputs[0].numElements(); ++e)
    worst = std::max(worst, std::abs(outputs[0].get(e) - reference[0].get(e)));
  return worst;
}

TEST(KernelCache, CompilesOncePerSpecAndSchedule) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kWindowSpec);
  ASSERT_NE(spec, nullptr);
  cpu::KernelCache cache;
  auto first = cache.getOrCompile(spec, {});
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  auto second = cache.getOrCompile(spec, {});
  ASSERT_TRUE(static_cast<bool>(second));
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(cache.numCompiled(), 1u);

  // Other sizes and scalars: the same kernel, right answers each time.
  EXPECT_LT(runAndCompare(spec, **first, 5, 1), 1e-5);
  EXPECT_LT(runAndCompare(spec, **first, 37, 4), 1e-5);
  EXPECT_LT(runAndCompare(spec, **first, 100, 1000), 1e-5);
  EXPECT_EQ(cache.numCompiled(), 1u);

  // Another schedule is another kernel, with the same numbers.
  auto tiled = cache.getOrCompile(spec, {/*blockM=*/3, /*blockN=*/5});
  ASSERT_TRUE(static_cast<bool>(tiled));
  EXPECT_NE(*tiled, *first);
  EXPECT_EQ(cache.numCompiled(), 2u);
  EXPECT_LT(runAndCompare(spec, **tiled, 37, 4), 1e-5);
}

TEST(KernelCache, KeyIgnoresLocationsButNotTheSpec) {
  SpecFixture a, b, c;
  mlir::Operation *spec = a.compile(kWindowSpec);
  mlir::Operation *moved = b.compile(std::string("\n\n# moved down\n") + kWindowSpec);
  std::string other(kWindowSpec);
  other.replace(other.find("window: i32 = 2"), 15, "window: i32 = 3");
  mlir::Operation *changed = c.compile(other);
  ASSERT_TRUE(spec && moved && changed);
  EXPECT_EQ(cpu::KernelCache::keyOf(spec, {}), cpu::KernelCache::keyOf(moved, {}));
  EXPECT_NE(cpu::KernelCache::keyOf(spec, {}), cpu::KernelCache::keyOf(changed, {}));
  EXPECT_NE(cpu::KernelCache::keyOf(spec, {}), cpu::KernelCache::keyOf(spec, {16, 32}));
}

} // namespace
