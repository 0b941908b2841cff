//===- ConcurrentJitTest.cpp - Many threads compiling and launching at once ------===//
//
// An embedder (the C++ API, the Python package) compiles and launches from many
// threads: through one MLIRContext and one kernel cache, through one context and a
// cache each, or with a context each. Every thread's outputs must match the float64
// reference. Before the JIT compiled in a private context, 20-60% of such runs crashed
// (one thread printed a spec while another loaded dialects into the same context).
// CI runs this test under ThreadSanitizer too (tools/test.sh, build-tsan/).
//
//===----------------------------------------------------------------------===//

#include "../reference/ReferenceTestUtils.h"

#include "codegen/cpu/KernelCache.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

using namespace tmix;
using namespace tmix::testing;

namespace {

constexpr int kThreads = 16;
constexpr int kHeadDim = 8;

constexpr char kWindowSpec[] = R"(
attention windowed(q: f32[B, H, N, 8], k: f32[B, HK, N, 8], v: f32[B, HK, N, 8],
                   window: i32 = 5) -> (o: f32[B, H, N, 8], lse: f32[B, H, N]) {
  mask = j <= i && i - j < window
  score = s - 0.25 * (i - j)
})";

constexpr char kGatedSpec[] = R"(
recurrence gated(q: f32[B, H, T, 8], k: f32[B, H, T, 8], v: f32[B, H, T, 8],
                 g: f32[B, H, T, 8]) -> o: f32[B, H, T, 8] {
  state S: f32[8, 8]
  S = exp(g[t]) * S + outer(k[t], v[t])
  o[t] = q[t] @ S
})";

enum class SpecKind { Window, Gated };

const char *sourceOf(SpecKind kind) {
  return kind == SpecKind::Window ? kWindowSpec : kGatedSpec;
}

/// One thread's problem: random inputs at an awkward length (different per thread),
/// the outputs to fill and the float64 reference's answer.
struct Problem {
  Call call;
  std::vector<std::vector<int64_t>> outputShapes;
  std::vector<rt::HostTensor> reference;
};

rt::HostTensor randomTensor(std::vector<int64_t> shape, uint64_t seed, double lo,
                            double hi) {
  rt::HostTensor tensor(rt::DType::F32, std::move(shape));
  rt::fillRandom(tensor, seed, lo, hi);
  return tensor;
}

Problem makeProblem(SpecKind kind, int thread) {
  Problem problem;
  int64_t length = 19 + 7 * thread; // 19 .. 124: partial tiles and chunks everywhere
  uint64_t seed = 1000 * (thread + 1);
  if (kind == SpecKind::Window) {
    int64_t heads = 4, kvHeads = 2;
    problem.call.tensor(randomTensor({1, heads, length, kHeadDim}, seed, -1, 1))
        .tensor(randomTensor({1, kvHeads, length, kHeadDim}, seed + 1, -1, 1))
        .tensor(randomTensor({1, kvHeads, length, kHeadDim}, seed + 2, -1, 1))
        .scalar(3 + thread % 5)
        .size("B", 1).size("H", heads).size("HK", kvHeads).size("N", length);
    problem.outputShapes = {{1, heads, length, kHeadDim}, {1, heads, length}};
  } else {
    int64_t heads = 2;
    std::vector<int64_t> shape = {1, heads, length, kHeadDim};
    problem.call.tensor(randomTensor(shape, seed, -1, 1))
        .tensor(randomTensor(shape, seed + 1, -1, 1))
        .tensor(randomTensor(shape, seed + 2, -1, 1))
        .tensor(randomTensor(shape, seed + 3, -1, 0)) // decays exp(g) in (1/e, 1]
        .size("B", 1).size("H", heads).size("T", length);
    problem.outputShapes = {shape};
  }
  return problem;
}

/// Largest |out - ref| / (1 + |ref|) over all outputs (infinities must match).
double worstError(const std::vector<rt::HostTensor> &outputs,
                  const std::vector<rt::HostTensor> &reference) {
  double worst = 0;
  for (size_t index = 0; index < outputs.size(); ++index)
    for (int64_t e = 0; e < outputs[index].numElements(); ++e) {
      double got = outputs[index].get(e), want = reference[index].get(e);
      if (std::isinf(want) && got == want)
        continue;
      double error = std::fabs(got - want) / (1 + std::fabs(want));
      worst = std::isnan(error) ? INFINITY : std::max(worst, error);
    }
  return worst;
}

/// Lets every thread through at once, so that the first compiles really overlap.
class StartLine {
public:
  explicit StartLine(int count) : waiting(count) {}
  void arriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex);
    if (--waiting == 0)
      opened.notify_all();
    opened.wait(lock, [&] { return waiting == 0; });
  }

private:
  std::mutex mutex;
  std::condition_variable opened;
  int waiting;
};

/// How a thread reaches the compiler.
enum class Sharing { ContextAndCache, ContextOnly, Nothing };

struct ThreadResult {
  std::string error;
  double worst = INFINITY;
};

/// 16 threads: a third share one context and one cache, a third share the context with
/// a cache each, a third have their own context; each compiles both specs (under two
/// schedules when it owns its cache), launches them and checks the outputs.
void runStress(rt::ThreadPool &sharedPool) {
  // Both specs in one module of the shared context.
  SpecFixture shared;
  mlir::Operation *window = shared.compile(std::string(kWindowSpec) + kGatedSpec);
  ASSERT_TRUE(window && window->getNextNode());
  mlir::Operation *sharedSpecs[] = {window, window->getNextNode()};
  // The reference runs before the threads start: it is not what this test is about.
  std::vector<Problem> problems[2];
  for (SpecKind kind : {SpecKind::Window, SpecKind::Gated})
    for (int thread = 0; thread < kThreads; ++thread) {
      Problem problem = makeProblem(kind, thread);
      problem.reference = evaluate(sharedSpecs[int(kind)], problem.call);
      ASSERT_FALSE(problem.reference.empty());
      problems[int(kind)].push_back(std::move(problem));
    }

  cpu::KernelCache sharedCache;
  StartLine start(kThreads);
  std::vector<ThreadResult> results[2] = {std::vector<ThreadResult>(kThreads),
                                          std::vector<ThreadResult>(kThreads)};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread)
    threads.emplace_back([&, thread] {
      auto sharing = static_cast<Sharing>(thread % 3);
      std::unique_ptr<SpecFixture> own[2];
      cpu::KernelCache ownCache;
      cpu::KernelCache &cache = sharing == Sharing::ContextAndCache ? sharedCache : ownCache;
      // Threads with a cache each also try a second schedule: another kernel.
      cpu::ScheduleOverride schedule;
      if (sharing != Sharing::ContextAndCache && thread % 2)
        schedule = {/*blockM=*/16, /*blockN=*/32};
      if (thread % 4 == 1)
        schedule.recurrenceForm = "recurrent";
      start.arriveAndWait();
      for (SpecKind kind : {SpecKind::Window, SpecKind::Gated}) {
        mlir::Operation *spec = sharedSpecs[int(kind)];
        if (sharing == Sharing::Nothing) {
          own[int(kind)] = std::make_unique<SpecFixture>();
          spec = own[int(kind)]->compile(sourceOf(kind));
        }
        ThreadResult &result = results[int(kind)][thread];
        if (!spec) {
          result.error = "the spec did not compile";
          continue;
        }
        auto kernel = cache.getOrCompile(spec, schedule);
        if (!kernel) {
          result.error = llvm::toString(kernel.takeError());
          continue;
        }
        Problem &problem = problems[int(kind)][thread];
        rt::Bindings bindings = problem.call.bindings();
        std::vector<rt::HostTensor> outputs;
        for (const std::vector<int64_t> &shape : problem.outputShapes)
          outputs.emplace_back(rt::DType::F32, shape);
        // Half the threads launch on one pool (parallelFor serialises them), half on
        // their own.
        std::unique_ptr<rt::ThreadPool> ownPool;
        if (thread % 2)
          ownPool = std::make_unique<rt::ThreadPool>(2);
        result.error = rt::launchOnCpu((*kernel)->program, (*kernel)->manifest, bindings,
                                       outputs, ownPool ? *ownPool : sharedPool);
        if (result.error.empty())
          result.worst = worstError(outputs, problem.reference);
      }
    });
  for (std::thread &thread : threads)
    thread.join();

  for (SpecKind kind : {SpecKind::Window, SpecKind::Gated})
    for (int thread = 0; thread < kThreads; ++thread) {
      const ThreadResult &result = results[int(kind)][thread];
      EXPECT_EQ(result.error, "") << "thread " << thread << ", spec " << int(kind);
      EXPECT_LT(result.worst, 1e-4) << "thread " << thread << ", spec " << int(kind);
    }
  // The shared cache compiled each spec once per schedule, however many threads asked
  // at once: its threads (0, 3, ..., 15) take the default schedule, and those with
  // thread % 4 == 1 (9) the recurrent form.
  EXPECT_EQ(sharedCache.numCompiled(), 2u * 2u);
}

TEST(ConcurrentJit, SixteenThreadsCompileAndLaunch) {
  rt::ThreadPool pool(2);
  runStress(pool);
}

TEST(KernelCache, RemembersAFailedCompile) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(kWindowSpec);
  ASSERT_NE(spec, nullptr);
  cpu::KernelCache cache;
  cpu::ScheduleOverride bad;
  bad.recurrenceForm = "sideways"; // the schedule pass rejects it
  auto first = cache.getOrCompile(spec, bad);
  ASSERT_FALSE(static_cast<bool>(first));
  std::string message = llvm::toString(first.takeError());
  EXPECT_NE(message.find("unknown recurrence form 'sideways'"), std::string::npos)
      << message;
  auto second = cache.getOrCompile(spec, bad);
  ASSERT_FALSE(static_cast<bool>(second));
  EXPECT_EQ(llvm::toString(second.takeError()), message);
  EXPECT_EQ(cache.numCompiled(), 1u);
}

} // namespace
