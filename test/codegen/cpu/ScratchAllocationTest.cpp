//===- ScratchAllocationTest.cpp - Programs whose scratch malloc fails ----===//
//
// The JIT's `malloc` is replaced by one that fails for requests from a threshold up,
// so that each kind of program meets a failed allocation: attention, a recurrence
// step by step, and a chunked recurrence whose chunk buffers alone fail (the guard
// nested in the step buffers' one). Each launch must report out of memory, touch no
// null buffer, and free what it did allocate; with malloc working again the same
// kernel gives the reference's numbers.
//
//===----------------------------------------------------------------------===//

#include "../reference/ReferenceTestUtils.h"

#include "codegen/cpu/CpuCompiler.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>

using namespace tmix;
using namespace tmix::testing;

namespace {

/// Requests of this many bytes or more fail.
std::atomic<size_t> failFrom{std::numeric_limits<size_t>::max()};
/// Failed requests, and blocks handed out but not freed yet.
std::atomic<int64_t> numFailed{0}, numLive{0};

void *limitedMalloc(size_t bytes) {
  if (bytes >= failFrom) {
    ++numFailed;
    return nullptr;
  }
  void *block = std::malloc(bytes);
  numLive += block != nullptr;
  return block;
}

void countingFree(void *block) {
  numLive -= block != nullptr;
  std::free(block);
}

llvm::orc::SymbolMap limitedAllocator(llvm::orc::MangleAndInterner interner) {
  llvm::orc::SymbolMap symbols;
  symbols[interner("malloc")] = {llvm::orc::ExecutorAddr::fromPtr(&limitedMalloc),
                                 llvm::JITSymbolFlags::Exported};
  symbols[interner("free")] = {llvm::orc::ExecutorAddr::fromPtr(&countingFree),
                               llvm::JITSymbolFlags::Exported};
  return symbols;
}

constexpr size_t kOneMiB = size_t{1} << 20;

/// A fixed schedule, so that the buffer sizes below do not depend on the host.
constexpr int64_t kBlockM = 32, kBlockN = 64, kLanes = 16, kRegisters = 32;

constexpr char kAttentionSpec[] = R"(
attention wide(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, D])
    -> o: f32[B, H, N, D] {
  mask = j <= i
})";

constexpr char kRecurrenceSpec[] = R"(
recurrence decay(q: f32[B, H, T, K], k: f32[B, H, T, K], v: f32[B, H, T, V],
                 g: f32[B, H, T, K]) -> o: f32[B, H, T, V] {
  state S: f32[K, V]
  S = exp(g[t]) * S + outer(k[t], v[t])
  o[t] = q[t] @ S
})";

/// Random f32 tensors of `shapes`, in the spec's argument order.
Call randomCall(const std::vector<std::vector<int64_t>> &shapes) {
  Call call;
  for (size_t arg = 0; arg < shapes.size(); ++arg) {
    rt::HostTensor tensor(rt::DType::F32, shapes[arg]);
    rt::fillRandom(tensor, /*seed=*/arg + 1, -1.0, 1.0);
    call.tensor(std::move(tensor));
  }
  return call;
}

/// Random q, k, v and log gates g in [-1, 0] (decays in (0, 1]) for kRecurrenceSpec.
Call recurrenceCall(int64_t steps, int64_t k, int64_t v) {
  Call call = randomCall({{1, 1, steps, k}, {1, 1, steps, k}, {1, 1, steps, v}});
  rt::HostTensor gates(rt::DType::F32, {1, 1, steps, k});
  rt::fillRandom(gates, /*seed=*/4, -1.0, 0.0);
  call.tensor(std::move(gates));
  call.size("B", 1).size("H", 1).size("T", steps).size("K", k).size("V", v);
  return call;
}

/// Launches `kernel` on `call`'s bindings with the limit `limit`; returns the launch's
/// error and, in `outputs`, its outputs.
std::string launch(const cpu::CompiledKernel &kernel, const Call &call,
                   const std::vector<int64_t> &outputShape, size_t limit,
                   std::vector<rt::HostTensor> &outputs) {
  rt::Bindings bindings = call.bindings();
  outputs.clear();
  outputs.emplace_back(rt::DType::F32, outputShape);
  rt::ThreadPool pool(2);
  failFrom = limit;
  numFailed = 0;
  std::string error =
      rt::launchOnCpu(kernel.program, kernel.manifest, bindings, outputs, pool);
  failFrom = std::numeric_limits<size_t>::max();
  return error;
}

double largestDifference(const rt::HostTensor &a, const rt::HostTensor &b) {
  double worst = 0;
  for (int64_t e = 0; e < a.numElements(); ++e)
    worst = std::max(worst, std::abs(a.get(e) - b.get(e)));
  return worst;
}

TEST(ScratchAllocation, AttentionReportsOutOfMemory) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kAttentionSpec);
  ASSERT_NE(spec, nullptr);
  auto kernel =
      cpu::compileForCpu(spec, {kBlockM, kBlockN, kLanes, kRegisters}, limitedAllocator);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());

  // D = 8192: Q^T and O^T (D x 32 f32) are 1 MiB each and fail; S^T (64 x 32), m and
  // l do not, and are freed. Two programs (N = 40 rows), each reporting its buffers.
  const int64_t n = 40, d = 8192, width = kBlockM;
  Call call = randomCall({{1, 1, n, d}, {1, 1, n, d}, {1, 1, n, d}});
  call.size("B", 1).size("H", 1).size("N", n).size("M", n).size("D", d);
  int64_t bytes = 4 * (d * width + kBlockN * width + d * width + 2 * width);
  std::vector<rt::HostTensor> outputs;
  EXPECT_EQ(launch(*kernel, call, {1, 1, n, d}, kOneMiB, outputs),
            "a program of 'wide' could not allocate its " + std::to_string(bytes) +
                "-byte scratch buffers (out of memory)");
  EXPECT_EQ(numFailed, 2 * 2); // two buffers in each of the two programs
  EXPECT_EQ(numLive, 0);

  // The same kernel with malloc working: the reference's numbers.
  EXPECT_EQ(
      launch(*kernel, call, {1, 1, n, d}, std::numeric_limits<size_t>::max(), outputs),
      "");
  EXPECT_EQ(numLive, 0);
  std::vector<rt::HostTensor> reference = evaluate(spec, call);
  ASSERT_EQ(reference.size(), 1u);
  EXPECT_LT(largestDifference(outputs[0], reference[0]), 1e-5);
}

TEST(ScratchAllocation, RecurrenceReportsOutOfMemory) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kRecurrenceSpec);
  ASSERT_NE(spec, nullptr);
  const int64_t steps = 5, v = 8;
  for (const char *form : {"recurrent", "chunked"}) {
    SCOPED_TRACE(form);
    cpu::ScheduleOverride schedule;
    schedule.recurrenceForm = form;
    auto kernel = cpu::compileForCpu(spec, schedule, limitedAllocator);
    ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());

    // K = 32768: the state S and the outer product (K x V f32) are 1 MiB and fail;
    // step by step, their program reports them with the step's other buffers.
    Call call = recurrenceCall(steps, /*k=*/32768, v);
    std::vector<rt::HostTensor> outputs;
    std::string error = launch(*kernel, call, {1, 1, steps, v}, kOneMiB, outputs);
    EXPECT_TRUE(llvm::StringRef(error).starts_with(
        "a program of 'decay' could not allocate its "))
        << error;
    EXPECT_TRUE(llvm::StringRef(error).ends_with("-byte scratch buffers (out of memory)"))
        << error;
    EXPECT_GT(numFailed, 0);
    EXPECT_EQ(numLive, 0);
  }
}

TEST(ScratchAllocation, ChunkBuffersReportOutOfMemory) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kRecurrenceSpec);
  ASSERT_NE(spec, nullptr);
  cpu::ScheduleOverride schedule;
  schedule.recurrenceForm = "chunked";
  schedule.chunk = 1024;
  auto kernel = cpu::compileForCpu(spec, schedule, limitedAllocator);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());

  // K = 256, V = 8: the step's buffers (at most K x V f32, 8 KiB) are allocated, the
  // chunk buffers of 1024 rows of K f32 (1 MiB) are not: the chunks' guard, nested in
  // the step's, reports them, and both levels free what they hold.
  const int64_t steps = 5, k = 256, v = 8;
  Call call = recurrenceCall(steps, k, v);
  std::vector<rt::HostTensor> outputs;
  std::string error = launch(*kernel, call, {1, 1, steps, v}, kOneMiB, outputs);
  EXPECT_TRUE(
      llvm::StringRef(error).starts_with("a program of 'decay' could not allocate"))
      << error;
  EXPECT_GT(numFailed, 0);
  EXPECT_EQ(numLive, 0);

  // With malloc working: the reference's numbers.
  EXPECT_EQ(launch(*kernel, call, {1, 1, steps, v}, std::numeric_limits<size_t>::max(),
                   outputs),
            "");
  EXPECT_EQ(numLive, 0);
  std::vector<rt::HostTensor> reference = evaluate(spec, call);
  ASSERT_EQ(reference.size(), 1u);
  EXPECT_LT(largestDifference(outputs[0], reference[0]), 1e-3);
}

} // namespace
