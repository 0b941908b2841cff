//===- AttentionTest.cpp - Reference attention against hand values -------===//
//
// Each test is a tiny attention whose o and lse follow from DSL.md by hand: a single
// key, a two-key softmax, masked rows, sinks, GQA, rope, integer division and
// out-of-bounds reads in statements, and the evaluator's errors.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestUtils.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>

using namespace tmix;
using namespace tmix::testing;
using rt::DType;

namespace {

constexpr double kTolerance = 1e-12;
const double kNegInf = -std::numeric_limits<double>::infinity();

/// Sizes of a single-batch, single-head attention with N queries, M keys, head dim D.
Call &bindAttentionSizes(Call &call, int64_t n, int64_t m, int64_t d) {
  return call.size("B", 1).size("H", 1).size("N", n).size("M", m).size("D", d);
}

TEST(ReferenceAttention, SingleKeyGivesItsValue) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention one(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, 3])
    -> (o: f32[B, H, N, 3], lse: f32[B, H, N]) {
})");
  Call call;
  call.tensor(makeTensor({1, 1, 1, 2}, {1.0, 2.0}))
      .tensor(makeTensor({1, 1, 1, 2}, {3.0, -0.5}))
      .tensor(makeTensor({1, 1, 1, 3}, {7.0, -8.0, 0.25}));
  bindAttentionSizes(call, 1, 1, 2);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 0}), 7.0);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 1}), -8.0);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 2}), 0.25);
  // One key: lse is its score, dot(q, k) / sqrt(D) = (3 - 1) / sqrt(2).
  EXPECT_NEAR(at(out[1], {0, 0, 0}), 2.0 / std::sqrt(2.0), kTolerance);
}

TEST(ReferenceAttention, TwoKeySoftmaxByHand) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention two(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, 1])
    -> (o: f32[B, H, N, 1], lse: f32[B, H, N]) {
})");
  // D = 1, scale 1: scores 0 and ln 3, so the weights are 1/4 and 3/4.
  Call call;
  call.tensor(makeTensor({1, 1, 1, 1}, {1.0}))
      .tensor(makeTensor({1, 1, 2, 1}, {0.0, std::log(3.0)}))
      .tensor(makeTensor({1, 1, 2, 1}, {4.0, 8.0}));
  bindAttentionSizes(call, 1, 2, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(at(out[0], {0, 0, 0, 0}), 0.25 * 4.0 + 0.75 * 8.0, kTolerance);
  EXPECT_NEAR(at(out[1], {0, 0, 0}), std::log(4.0), kTolerance);
}

TEST(ReferenceAttention, ScaleAndScoreStatements) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention scored(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, 1])
    -> (o: f32[B, H, N, 1], lse: f32[B, H, N]) {
  scale = 0.5
  score = s * 2.0 + j
})");
  // s = 0.5 * q.k = 0.5 * 2 * k = k; score = 2 s + j: key 0 -> 2, key 1 -> 2 + 1 = 3.
  Call call;
  call.tensor(makeTensor({1, 1, 1, 1}, {2.0}))
      .tensor(makeTensor({1, 1, 2, 1}, {1.0, 1.0}))
      .tensor(makeTensor({1, 1, 2, 1}, {1.0, -1.0}));
  bindAttentionSizes(call, 1, 2, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  double e2 = std::exp(2.0), e3 = std::exp(3.0);
  EXPECT_NEAR(at(out[0], {0, 0, 0, 0}), (e2 - e3) / (e2 + e3), kTolerance);
  EXPECT_NEAR(at(out[1], {0, 0, 0}), std::log(e2 + e3), kTolerance);
}

TEST(ReferenceAttention, FullyMaskedRowIsZeroWithMinusInfLse) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention future(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, 2])
    -> (o: f32[B, H, N, 2], lse: f32[B, H, N]) {
  mask = j > i
})");
  Call call;
  call.tensor(makeTensor({1, 1, 2, 1}, {1.0, 1.0}))
      .tensor(makeTensor({1, 1, 2, 1}, {1.0, 1.0}))
      .tensor(makeTensor({1, 1, 2, 2}, {1.0, 2.0, 3.0, 4.0}));
  bindAttentionSizes(call, 2, 2, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  // Row 0 keeps key 1 only; row 1 keeps nothing.
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 0}), 3.0);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 1}), 4.0);
  EXPECT_NEAR(at(out[1], {0, 0, 0}), 1.0, kTolerance);
  EXPECT_EQ(at(out[0], {0, 0, 1, 0}), 0.0);
  EXPECT_EQ(at(out[0], {0, 0, 1, 1}), 0.0);
  EXPECT_EQ(at(out[1], {0, 0, 1}), kNegInf);
}

TEST(ReferenceAttention, SinkJoinsTheDenominatorOnly) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention sunk(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, 1], sinks: f32[H])
    -> (o: f32[B, H, N, 1], lse: f32[B, H, N]) {
  mask = j <= i && j >= 1
  sink = sinks[h]
})");
  // q = 0: every score is 0. Row 0 keeps nothing: o = 0, lse = sink. Row 1 keeps key 1:
  // o = v1 / (1 + e^sink), lse = log(1 + e^sink). Row 2 keeps keys 1 and 2.
  const double sink = 0.75;
  Call call;
  call.tensor(makeTensor({1, 1, 3, 1}, {0.0, 0.0, 0.0}))
      .tensor(makeTensor({1, 1, 3, 1}, {1.0, 2.0, 3.0}))
      .tensor(makeTensor({1, 1, 3, 1}, {100.0, 6.0, 10.0}))
      .tensor(makeTensor({1}, {sink}));
  bindAttentionSizes(call, 3, 3, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  double es = std::exp(sink);
  EXPECT_EQ(at(out[0], {0, 0, 0, 0}), 0.0);
  EXPECT_NEAR(at(out[1], {0, 0, 0}), sink, kTolerance);
  EXPECT_NEAR(at(out[0], {0, 0, 1, 0}), 6.0 / (1.0 + es), kTolerance);
  EXPECT_NEAR(at(out[1], {0, 0, 1}), std::log(1.0 + es), kTolerance);
  EXPECT_NEAR(at(out[0], {0, 0, 2, 0}), (6.0 + 10.0) / (2.0 + es), kTolerance);
  EXPECT_NEAR(at(out[1], {0, 0, 2}), std::log(2.0 + es), kTolerance);
}

TEST(ReferenceAttention, GroupedQueryHeadMapping) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention gqa(q: f32[B, H, N, D], k: f32[B, HK, M, D], v: f32[B, HK, M, 1])
    -> o: f32[B, H, N, 1] {
})");
  // H = 4, HK = 2: heads 0, 1 read kv head 0 and heads 2, 3 read kv head 1. With one
  // key o is that head's value; two batches check the batch index too.
  Call call;
  call.tensor(makeTensor({2, 4, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8}))
      .tensor(makeTensor({2, 2, 1, 1}, {1, 1, 1, 1}))
      .tensor(makeTensor({2, 2, 1, 1}, {10.0, 20.0, 30.0, 40.0}))
      .size("B", 2)
      .size("H", 4)
      .size("HK", 2)
      .size("N", 1)
      .size("M", 1)
      .size("D", 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  const double expected[2][4] = {{10, 10, 20, 20}, {30, 30, 40, 40}};
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h)
      EXPECT_EQ(at(out[0], {b, h, 0, 0}), expected[b][h]) << "b=" << b << " h=" << h;
}

/// Rotary embedding as a complex rotation of the pairs (x[p], x[p + D/2]): an
/// independent statement of DSL.md's half-split convention.
std::vector<double> rotateComplex(const std::vector<double> &x, int64_t pos,
                                  double theta) {
  size_t half = x.size() / 2;
  std::vector<double> out(x.size());
  for (size_t p = 0; p < half; ++p) {
    double frequency = std::pow(theta, -2.0 * p / static_cast<double>(x.size()));
    std::complex<double> pair(x[p], x[p + half]);
    std::complex<double> rotated = pair * std::polar(1.0, pos * frequency);
    out[p] = rotated.real();
    out[p + half] = rotated.imag();
  }
  return out;
}

TEST(ReferenceAttention, RopeMatchesADirectRotation) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention rotary(q: f32[B, H, N, 4], k: f32[B, H, N, 4], v: f32[B, H, N, 1])
    -> (o: f32[B, H, N, 1], lse: f32[B, H, N]) {
  rope = 100.0
  scale = 1.0
})");
  const int64_t n = 3, d = 4;
  const double theta = 100.0;
  std::vector<double> q = {0.5,   -1.0, 0.25, 2.0, 1.5, 0.5,
                           -0.75, 1.0,  -1.0, 0.3, 0.8, -0.2};
  std::vector<double> k = {1.0, 0.2,  -0.5, 0.7,  -0.3, 1.1,
                           0.6, -0.9, 0.4,  -0.8, 1.2,  0.1};
  std::vector<double> v = {1.0, -2.0, 3.0};
  Call call;
  call.tensor(makeTensor({1, 1, n, d}, q))
      .tensor(makeTensor({1, 1, n, d}, k))
      .tensor(makeTensor({1, 1, n, 1}, v))
      .size("B", 1)
      .size("H", 1)
      .size("N", n);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  auto rowOf = [&](const std::vector<double> &x, int64_t i) {
    return std::vector<double>(x.begin() + i * d, x.begin() + (i + 1) * d);
  };
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> qi = rotateComplex(rowOf(q, i), i, theta);
    double sum = 0.0, weighted = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      std::vector<double> kj = rotateComplex(rowOf(k, j), j, theta);
      double s = 0.0;
      for (int64_t p = 0; p < d; ++p)
        s += qi[p] * kj[p];
      sum += std::exp(s);
      weighted += std::exp(s) * v[j];
    }
    EXPECT_NEAR(at(out[1], {0, 0, i}), std::log(sum), 1e-12) << "row " << i;
    EXPECT_NEAR(at(out[0], {0, 0, i, 0}), weighted / sum, 1e-12) << "row " << i;
  }
}

/// A spec whose mask is `maskExpr` over N = M = 4 keys with equal scores, so that o is
/// the mean of the kept values v[j] = j (and 0 when none is kept).
std::vector<double> meanOfKept(const std::string &maskExpr) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(
      "attention masked(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, 1])\n"
      "    -> o: f32[B, H, N, 1] {\n  mask = " +
      maskExpr + "\n}\n");
  Call call;
  call.tensor(makeTensor({1, 1, 4, 1}, {0, 0, 0, 0}))
      .tensor(makeTensor({1, 1, 4, 1}, {0, 0, 0, 0}))
      .tensor(makeTensor({1, 1, 4, 1}, {0, 1, 2, 3}));
  bindAttentionSizes(call, 4, 4, 1);
  auto out = evaluate(spec, call);
  if (out.size() != 1)
    return {};
  std::vector<double> rows;
  for (int64_t i = 0; i < 4; ++i)
    rows.push_back(at(out[0], {0, 0, i, 0}));
  return rows;
}

TEST(ReferenceAttention, IntegerDivisionIsFloorInMasks) {
  // (j - i) / 2 == -1 keeps j - i in {-2, -1} (floor: -1 / 2 = -1, not 0).
  EXPECT_EQ(meanOfKept("(j - i) / 2 == -1"), (std::vector<double>{0.0, 0.0, 0.5, 1.5}));
}

TEST(ReferenceAttention, IntegerRemainderHasTheDividendsSign) {
  // (j - i) % 3 == -1 keeps j - i = -1 only (C remainder: -1 % 3 = -1 where a floor
  // modulo gives 2, and -2 % 3 = -2).
  EXPECT_EQ(meanOfKept("(j - i) % 3 == -1"), (std::vector<double>{0.0, 0.0, 1.0, 2.0}));
}

TEST(ReferenceAttention, OutOfBoundsReadsGiveZero) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention biased(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, 1],
                 bias: f32[H, 3], keep: bool[N])
    -> (o: f32[B, H, N, 1], lse: f32[B, H, N]) {
  mask = keep[j + 1] || j == 2
  score = s + bias[h, j - i + 1]
})");
  // q = 0, so score = bias[h, j - i + 1], 0 outside [0, 3). keep[j + 1] is false past
  // the end, so key 2 is kept only through `j == 2`; key 0 is dropped (keep[1] false).
  const double b0 = 0.5, b1 = -1.0, b2 = 2.0;
  Call call;
  call.tensor(makeTensor({1, 1, 3, 1}, {0, 0, 0}))
      .tensor(makeTensor({1, 1, 3, 1}, {0, 0, 0}))
      .tensor(makeTensor({1, 1, 3, 1}, {5.0, 7.0, 11.0}))
      .tensor(makeTensor({1, 3}, {b0, b1, b2}))
      .tensor(makeTensor({3}, {1, 0, 1}, DType::Bool));
  bindAttentionSizes(call, 3, 3, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  // Row 0: key 1 -> bias[0, 2] = b2, key 2 -> bias[0, 3] out of bounds = 0.
  double w1 = std::exp(b2), w2 = std::exp(0.0);
  EXPECT_NEAR(at(out[0], {0, 0, 0, 0}), (w1 * 7.0 + w2 * 11.0) / (w1 + w2), kTolerance);
  EXPECT_NEAR(at(out[1], {0, 0, 0}), std::log(w1 + w2), kTolerance);
  // Row 2: key 1 -> bias[0, 0] = b0, key 2 -> bias[0, 1] = b1.
  double u1 = std::exp(b0), u2 = std::exp(b1);
  EXPECT_NEAR(at(out[0], {0, 0, 2, 0}), (u1 * 7.0 + u2 * 11.0) / (u1 + u2), kTolerance);
}

TEST(ReferenceAttention, ScalarDefaultsAndBf16Inputs) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention window(q: bf16[B, H, N, D], k: bf16[B, H, N, D], v: bf16[B, H, N, 1],
                 width: i32 = 1) -> o: bf16[B, H, N, 1] {
  mask = j <= i && i - j < width
})");
  // No value for `width`: its default 1 keeps only the diagonal, so o = v (1.5 and
  // 0.1 rounded to bf16, read exactly).
  rt::HostTensor v = makeTensor({1, 1, 2, 1}, {1.5, 0.1}, DType::BF16);
  Call call;
  call.tensor(makeTensor({1, 1, 2, 1}, {1, 1}, DType::BF16))
      .tensor(makeTensor({1, 1, 2, 1}, {1, 1}, DType::BF16))
      .tensor(v);
  bindAttentionSizes(call, 2, 2, 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at(out[0], {0, 0, 0, 0}), 1.5);
  EXPECT_EQ(at(out[0], {0, 0, 1, 0}), v.get(1));
  EXPECT_NE(v.get(1), 0.1);

  // A bound value replaces the default: width 2 averages rows with equal scores.
  Call wide = call;
  wide.scalar(2);
  out = evaluate(spec, wide);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(at(out[0], {0, 0, 1, 0}), (1.5 + v.get(1)) / 2.0, kTolerance);
}

TEST(ReferenceAttention, ReportsBadBindings) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention plain(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D])
    -> o: f32[B, H, N, D] {
})");
  Call call;
  call.tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 2, 1}, {1, 2}));
  bindAttentionSizes(call, 1, 1, 1);
  EXPECT_EQ(
      evaluateError(spec, call),
      "reference evaluator: argument 'v' has shape [1, 1, 2, 1], expected [1, 1, 1, 1]");

  Call unbound;
  unbound.tensor(makeTensor({1, 1, 1, 1}, {1}));
  EXPECT_EQ(evaluateError(spec, unbound),
            "reference evaluator: size symbol 'B' is not bound");
}

// x / 0 = x % 0 = 0 (docs/language.md): with chunk = 0 every key is in the one chunk.
TEST(ReferenceAttention, IntegerDivisionByZeroIsZero) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
attention chunks(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D],
                 chunk: i64) -> o: f32[B, H, N, D] {
  mask = i / chunk == j / chunk
})");
  Call call;
  call.tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 1, 1}, {5}))
      .scalar(0);
  bindAttentionSizes(call, 1, 1, 1);
  auto out = evaluate(spec, call);
  EXPECT_DOUBLE_EQ(out[0].get(0), 5.0);
}

TEST(ReferenceAttention, ReportsUnsupportedOps) {
  SpecFixture fixture;
  // arith.shli is valid IR that the frontend never emits.
  mlir::Operation *spec = fixture.parseIR(R"(
tmix.attention @shifted(%q: !tmix.tensor<[1, 1, 1, 1], f32>,
                        %k: !tmix.tensor<[1, 1, 1, 1], f32>,
                        %v: !tmix.tensor<[1, 1, 1, 1], f32>)
    -> (o: !tmix.tensor<[1, 1, 1, 1], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %0 = arith.shli %i, %j : i64
    %1 = arith.cmpi sle, %j, %0 : i64
    tmix.yield %1 : i1
  }
})");
  Call call;
  call.tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 1, 1}, {1}))
      .tensor(makeTensor({1, 1, 1, 1}, {1}));
  EXPECT_EQ(evaluateError(spec, call),
            "reference evaluator: unsupported op 'arith.shli'");
}

} // namespace
