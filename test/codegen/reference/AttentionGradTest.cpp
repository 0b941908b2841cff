//===- AttentionGradTest.cpp - The reference gradients, by differences -----===//
//
// The oracle of the backward kernels (evaluateReferenceGrad) against central
// differences of the reference forward: dL/dx for L = sum(o * d_o), element by element,
// on small specs with every statement that the chain rule goes through (mask, score:
// softcap and an index-only term, scale, rope, sink, GQA). The two share nothing but
// the forward's semantics.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestUtils.h"

#include "codegen/reference/ReferenceEvaluator.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tmix;
using namespace tmix::testing;
using rt::DType;

namespace {

/// sum(o * outputGrad) (+ sum(lse * lseGrad)) of the reference forward on `bindings`.
double loss(mlir::Operation *spec, const rt::Bindings &bindings,
            const rt::HostTensor &outputGrad, const rt::HostTensor *lseGrad) {
  auto outputs = evaluateReference(spec, bindings);
  if (!outputs) {
    ADD_FAILURE() << llvm::toString(outputs.takeError());
    return NAN;
  }
  double sum = 0.0;
  for (int64_t e = 0; e < outputGrad.numElements(); ++e)
    sum += (*outputs)[0].get(e) * outputGrad.get(e);
  for (int64_t e = 0; lseGrad && e < lseGrad->numElements(); ++e)
    sum += (*outputs)[1].get(e) * lseGrad->get(e);
  return sum;
}

/// Checks every element of the reference gradients of q, k and v against central
/// differences of the loss.
void expectGradientsMatchDifferences(mlir::Operation *spec, Call &call,
                                     std::vector<int64_t> outputShape,
                                     const rt::HostTensor *lseGrad = nullptr) {
  rt::HostTensor outputGrad(DType::F64, outputShape);
  rt::fillRandom(outputGrad, 99, -1.0, 1.0);
  auto grads = evaluateReferenceGrad(spec, call.bindings(), outputGrad, {}, lseGrad);
  ASSERT_TRUE(static_cast<bool>(grads)) << llvm::toString(grads.takeError());
  ASSERT_EQ(grads->size(), 3u);
  for (unsigned argument = 0; argument < 3; ++argument) {
    rt::Bindings bindings = call.bindings();
    rt::HostTensor &x = bindings.tensors[argument];
    double norm = 0.0;
    for (int64_t e = 0; e < x.numElements(); ++e)
      norm = std::max(norm, std::fabs((*grads)[argument].get(e)));
    ASSERT_GT(norm, 0.0) << "argument " << argument << " has an all-zero gradient";
    for (int64_t e = 0; e < x.numElements(); ++e) {
      double value = x.get(e), h = 1e-6;
      x.set(e, value + h);
      double up = loss(spec, bindings, outputGrad, lseGrad);
      x.set(e, value - h);
      double down = loss(spec, bindings, outputGrad, lseGrad);
      x.set(e, value);
      EXPECT_NEAR((*grads)[argument].get(e), (up - down) / (2 * h), 1e-7 * (1 + norm))
          << "argument " << argument << " element " << e;
    }
  }
}

rt::HostTensor randomTensor(std::vector<int64_t> shape, uint64_t seed) {
  rt::HostTensor tensor(DType::F64, shape);
  rt::fillRandom(tensor, seed, -1.0, 1.0);
  return tensor;
}

TEST(ReferenceAttentionGrad, SoftcapAlibiWindowRopeMatchDifferences) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention g(q: f32[B, H, N, 4], k: f32[B, HK, M, 4], v: f32[B, HK, M, 3])
    -> o: f32[B, H, N, 3] {
  scale = 0.7
  rope  = 100.0
  mask  = j <= i + 1 && i - j < 3
  score = softcap(s, 2.0) - alibi(h, H) * (i - j)
})");
  ASSERT_TRUE(spec);
  Call call;
  call.tensor(randomTensor({1, 4, 5, 4}, 1))
      .tensor(randomTensor({1, 2, 6, 4}, 2))
      .tensor(randomTensor({1, 2, 6, 3}, 3))
      .size("B", 1).size("H", 4).size("HK", 2).size("N", 5).size("M", 6);
  expectGradientsMatchDifferences(spec, call, {1, 4, 5, 3});
}

TEST(ReferenceAttentionGrad, SinksAndEmptyRowsMatchDifferences) {
  SpecFixture fixture;
  // Row 0 keeps no key: the sink alone holds its denominator, and its o is 0.
  mlir::Operation *spec = fixture.compile(R"(
attention g(q: f32[B, H, N, 3], k: f32[B, H, N, 3], v: f32[B, H, N, 2], sinks: f32[H])
    -> (o: f32[B, H, N, 2], lse: f32[B, H, N]) {
  mask = j < i
  sink = sinks[h]
})");
  ASSERT_TRUE(spec);
  Call call;
  call.tensor(randomTensor({2, 2, 4, 3}, 4))
      .tensor(randomTensor({2, 2, 4, 3}, 5))
      .tensor(randomTensor({2, 2, 4, 2}, 6))
      .tensor(makeTensor({2}, {0.3, -1.2}))
      .size("B", 2).size("H", 2).size("N", 4);
  expectGradientsMatchDifferences(spec, call, {2, 2, 4, 2});
}

TEST(ReferenceAttentionGrad, LossReadingLseMatchesDifferences) {
  SpecFixture fixture;
  // Every row keeps a key (causal), so that every lse is finite.
  mlir::Operation *spec = fixture.compile(R"(
attention g(q: f32[B, H, N, 3], k: f32[B, HK, N, 3], v: f32[B, HK, N, 2])
    -> (o: f32[B, H, N, 2], lse: f32[B, H, N]) {
  mask = j <= i
})");
  ASSERT_TRUE(spec);
  Call call;
  call.tensor(randomTensor({1, 2, 5, 3}, 8))
      .tensor(randomTensor({1, 1, 5, 3}, 9))
      .tensor(randomTensor({1, 1, 5, 2}, 10))
      .size("B", 1).size("H", 2).size("HK", 1).size("N", 5);
  rt::HostTensor lseGrad = randomTensor({1, 2, 5}, 11);
  expectGradientsMatchDifferences(spec, call, {1, 2, 5, 2}, &lseGrad);
}

TEST(ReferenceAttentionGrad, RecurrencesHaveNoAttentionGradient) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence r(x: f32[B, T]) -> y: f32[B, T] {
  state h: f32
  h = h + x[t]
  y[t] = h
})");
  ASSERT_TRUE(spec);
  Call call;
  call.tensor(randomTensor({1, 2}, 7)).size("B", 1).size("T", 2);
  rt::HostTensor outputGrad(DType::F64, {1, 2});
  auto grads = evaluateReferenceGrad(spec, call.bindings(), outputGrad);
  ASSERT_FALSE(static_cast<bool>(grads));
  EXPECT_NE(llvm::toString(grads.takeError()).find("tmix.attention ops only"),
            std::string::npos);
}

} // namespace
