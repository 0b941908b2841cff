//===- RecurrenceTest.cpp - Reference recurrences against hand loops ------===//
//
// Each test is a small recurrence checked against a loop written out in the test (or
// numbers worked by hand): scalar and diagonal decay, init and final states, the delta
// rule, arguments shared across heads (Mamba2) and channels (Mamba), scalar states.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestUtils.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tmix;
using namespace tmix::testing;

namespace {

constexpr double kTolerance = 1e-12;

TEST(ReferenceRecurrence, ScalarDecayMatchesAHandLoop) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence decay(q: f32[B, H, T, K], k: f32[B, H, T, K], v: f32[B, H, T, V], a: f32[B, H, T])
    -> o: f32[B, H, T, V] {
  state S: f32[K, V]
  S = a[t] * S + outer(k[t], v[t])
  o[t] = q[t] @ S
})");
  const int T = 3, K = 2, V = 2;
  std::vector<double> q = {1, 2, -1, 0.5, 0.25, -2};
  std::vector<double> k = {0.5, 1, 2, -1, 1, 1};
  std::vector<double> v = {3, -1, 0.5, 2, -2, 1};
  std::vector<double> a = {0.9, 0.5, 0.25};
  Call call;
  call.tensor(makeTensor({1, 1, T, K}, q))
      .tensor(makeTensor({1, 1, T, K}, k))
      .tensor(makeTensor({1, 1, T, V}, v))
      .tensor(makeTensor({1, 1, T}, a))
      .size("B", 1)
      .size("H", 1)
      .size("T", T)
      .size("K", K)
      .size("V", V);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{1, 1, T, V}));

  double S[K][V] = {};
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < K; ++r)
      for (int c = 0; c < V; ++c)
        S[r][c] = a[t] * S[r][c] + k[t * K + r] * v[t * V + c];
    for (int c = 0; c < V; ++c) {
      double o = 0;
      for (int r = 0; r < K; ++r)
        o += q[t * K + r] * S[r][c];
      EXPECT_NEAR(at(out[0], {0, 0, t, c}), o, kTolerance) << "t=" << t << " c=" << c;
    }
  }
}

TEST(ReferenceRecurrence, InitialAndFinalStatePerHead) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence carried(k: f32[B, H, T, K], v: f32[B, H, T, V], s0: f32[B, H, K, V])
    -> (o: f32[B, H, T, V], ht: f32[B, H, K, V]) {
  state S: f32[K, V] = s0
  S = S + outer(k[t], v[t])
  o[t] = k[t] @ S
  ht = S
})");
  // H = 2, T = 2, K = 2, V = 1: each head starts from its own slice of s0.
  const int H = 2, T = 2, K = 2;
  std::vector<double> k = {1, 0, 0, 1, /*head 1*/ 2, 1, 1, -1};
  std::vector<double> v = {1, 2, /*head 1*/ -1, 0.5};
  std::vector<double> s0 = {10, 20, /*head 1*/ 30, 40};
  Call call;
  call.tensor(makeTensor({1, H, T, K}, k))
      .tensor(makeTensor({1, H, T, 1}, v))
      .tensor(makeTensor({1, H, K, 1}, s0))
      .size("B", 1)
      .size("H", H)
      .size("T", T)
      .size("K", K)
      .size("V", 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  for (int h = 0; h < H; ++h) {
    double S[K] = {s0[h * K], s0[h * K + 1]};
    for (int t = 0; t < T; ++t) {
      const double *kt = &k[(h * T + t) * K];
      double vt = v[h * T + t];
      for (int r = 0; r < K; ++r)
        S[r] += kt[r] * vt;
      EXPECT_NEAR(at(out[0], {0, h, t, 0}), kt[0] * S[0] + kt[1] * S[1], kTolerance);
    }
    EXPECT_NEAR(at(out[1], {0, h, 0, 0}), S[0], kTolerance) << "h=" << h;
    EXPECT_NEAR(at(out[1], {0, h, 1, 0}), S[1], kTolerance) << "h=" << h;
  }
}

TEST(ReferenceRecurrence, DeltaRuleTwoStepsByHand) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence delta(q: f32[B, H, T, K], k: f32[B, H, T, K], v: f32[B, H, T, V],
                 beta: f32[B, H, T]) -> (o: f32[B, H, T, V], ht: f32[B, H, K, V]) {
  state S: f32[K, V]
  S = S + beta[t] * outer(k[t], v[t] - k[t] @ S)
  o[t] = q[t] @ S
  ht = S
})");
  // Step 0: k @ S = 0, so S = 0.5 * outer((1, 0), 2) = [[1], [0]]; o = (1, 1) @ S = 1.
  // Step 1: k @ S = (1, 1) @ S = 1, v - 1 = 2, so S = [[1], [0]] + outer((1, 1), 2)
  // = [[3], [2]]; o = (2, 1) @ S = 8.
  Call call;
  call.tensor(makeTensor({1, 1, 2, 2}, {1, 1, 2, 1}))
      .tensor(makeTensor({1, 1, 2, 2}, {1, 0, 1, 1}))
      .tensor(makeTensor({1, 1, 2, 1}, {2, 3}))
      .tensor(makeTensor({1, 1, 2}, {0.5, 1.0}))
      .size("B", 1)
      .size("H", 1)
      .size("T", 2)
      .size("K", 2)
      .size("V", 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 1, 0}), 8.0);
  EXPECT_DOUBLE_EQ(at(out[1], {0, 0, 0, 0}), 3.0);
  EXPECT_DOUBLE_EQ(at(out[1], {0, 0, 1, 0}), 2.0);
}

TEST(ReferenceRecurrence, Mamba2SharesBAndCAcrossHeads) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence ssd(x: f32[B, H, T, P], dt: f32[B, H, T], A: f32[H], Bm: f32[B, T, N],
               Cm: f32[B, T, N], Dskip: f32[H]) -> y: f32[B, H, T, P] {
  state S: f32[N, P]
  S = exp(dt[t] * A) * S + outer(Bm[t], dt[t] * x[t])
  y[t] = Cm[t] @ S + Dskip * x[t]
})");
  const int B = 2, H = 2, T = 2, P = 1, N = 2;
  std::vector<double> x = {1, 2, -1, 0.5, 0.25, 3, 2, -2};
  std::vector<double> dt = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
  std::vector<double> A = {-1.0, -0.5};
  std::vector<double> Bm = {1, 2, 3, 4, -1, 0.5, 2, -3};
  std::vector<double> Cm = {0.5, -1, 1, 1, 2, 0.25, -0.5, 1};
  std::vector<double> D = {0.1, -0.2};
  Call call;
  call.tensor(makeTensor({B, H, T, P}, x))
      .tensor(makeTensor({B, H, T}, dt))
      .tensor(makeTensor({H}, A))
      .tensor(makeTensor({B, T, N}, Bm))
      .tensor(makeTensor({B, T, N}, Cm))
      .tensor(makeTensor({H}, D))
      .size("B", B)
      .size("H", H)
      .size("T", T)
      .size("P", P)
      .size("N", N);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      double S[N] = {}; // P = 1
      for (int t = 0; t < T; ++t) {
        double d = dt[(b * H + h) * T + t], xt = x[(b * H + h) * T + t];
        for (int n = 0; n < N; ++n)
          S[n] = std::exp(d * A[h]) * S[n] + Bm[(b * T + t) * N + n] * d * xt;
        double y = D[h] * xt;
        for (int n = 0; n < N; ++n)
          y += Cm[(b * T + t) * N + n] * S[n];
        EXPECT_NEAR(at(out[0], {b, h, t, 0}), y, kTolerance)
            << "b=" << b << " h=" << h << " t=" << t;
      }
    }
  }
}

TEST(ReferenceRecurrence, SelectiveScanPerChannelScalars) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence scan(x: f32[B, C, T], dt: f32[B, C, T], A: f32[C, N], Bm: f32[B, T, N],
                 Cm: f32[B, T, N]) -> y: f32[B, C, T] {
  state h: f32[N]
  h = exp(dt[t] * A) * h + (dt[t] * x[t]) * Bm[t]
  y[t] = dot(Cm[t], h)
})");
  const int C = 2, T = 3, N = 2;
  std::vector<double> x = {1, -1, 2, 0.5, 0.25, -2};
  std::vector<double> dt = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  std::vector<double> A = {-1, -2, -0.5, -0.25};
  std::vector<double> Bm = {1, 0, 0, 1, 1, 1};
  std::vector<double> Cm = {1, 2, -1, 1, 0.5, 0.5};
  Call call;
  call.tensor(makeTensor({1, C, T}, x))
      .tensor(makeTensor({1, C, T}, dt))
      .tensor(makeTensor({C, N}, A))
      .tensor(makeTensor({1, T, N}, Bm))
      .tensor(makeTensor({1, T, N}, Cm))
      .size("B", 1)
      .size("C", C)
      .size("T", T)
      .size("N", N);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{1, C, T}));
  for (int c = 0; c < C; ++c) {
    double h[N] = {};
    for (int t = 0; t < T; ++t) {
      double d = dt[c * T + t], xt = x[c * T + t], y = 0;
      for (int n = 0; n < N; ++n) {
        h[n] = std::exp(d * A[c * N + n]) * h[n] + d * xt * Bm[t * N + n];
        y += Cm[t * N + n] * h[n];
      }
      EXPECT_NEAR(at(out[0], {0, c, t}), y, kTolerance) << "c=" << c << " t=" << t;
    }
  }
}

TEST(ReferenceRecurrence, DiagonalGateScalesRows) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence gla(q: f32[B, H, T, K], k: f32[B, H, T, K], v: f32[B, H, T, V],
               g: f32[B, H, T, K]) -> (o: f32[B, H, T, V], ht: f32[B, H, K, V]) {
  state S: f32[K, V]
  S = exp(g[t]) * S + outer(k[t], v[t])
  o[t] = q[t] @ S
  ht = S
})");
  const int T = 2, K = 2, V = 3;
  std::vector<double> q = {1, -1, 0.5, 2};
  std::vector<double> k = {1, 2, -1, 0.5};
  std::vector<double> v = {1, 2, 3, -1, 0, 1};
  std::vector<double> g = {-0.1, -1.0, -0.5, -2.0};
  Call call;
  call.tensor(makeTensor({1, 1, T, K}, q))
      .tensor(makeTensor({1, 1, T, K}, k))
      .tensor(makeTensor({1, 1, T, V}, v))
      .tensor(makeTensor({1, 1, T, K}, g))
      .size("B", 1)
      .size("H", 1)
      .size("T", T)
      .size("K", K)
      .size("V", V);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  double S[K][V] = {};
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < K; ++r) // row r decays by exp(g[t, r])
      for (int c = 0; c < V; ++c)
        S[r][c] = std::exp(g[t * K + r]) * S[r][c] + k[t * K + r] * v[t * V + c];
    for (int c = 0; c < V; ++c)
      EXPECT_NEAR(at(out[0], {0, 0, t, c}), q[t * K] * S[0][c] + q[t * K + 1] * S[1][c],
                  kTolerance);
  }
  for (int r = 0; r < K; ++r)
    for (int c = 0; c < V; ++c)
      EXPECT_NEAR(at(out[1], {0, 0, r, c}), S[r][c], kTolerance);
}

TEST(ReferenceRecurrence, ScalarStateReadsTheStepIndex) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence weighted(x: f32[B, T]) -> (y: f32[B, T], total: f32[B]) {
  state c: f32
  c = c + x[t] * t
  y[t] = c
  total = c
})");
  // Per batch: c_t = sum_{u <= t} u * x[u].
  Call call;
  call.tensor(makeTensor({2, 3}, {1, 2, 3, -1, 0.5, 4})).size("B", 2).size("T", 3);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 2u);
  const double expected[2][3] = {{0, 2, 8}, {0, 0.5, 8.5}};
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 3; ++t)
      EXPECT_DOUBLE_EQ(at(out[0], {b, t}), expected[b][t]) << "b=" << b << " t=" << t;
    EXPECT_DOUBLE_EQ(at(out[1], {b}), expected[b][2]);
  }
}

TEST(ReferenceRecurrence, TwoStatesAndAScalarDefault) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence normalized(k: f32[B, T, K], v: f32[B, T, V], eps: f32 = 0.5)
    -> o: f32[B, T, V] {
  state S: f32[K, V]
  state z: f32[K]
  S = S + outer(k[t], v[t])
  z = z + k[t]
  o[t] = (k[t] @ S) / (dot(k[t], z) + eps)
})");
  // K = 1, V = 1: S_t = sum k u v u, z_t = sum k u, o_t = k_t S_t / (k_t z_t + 0.5).
  Call call;
  call.tensor(makeTensor({1, 2, 1}, {1, 2}))
      .tensor(makeTensor({1, 2, 1}, {3, 4}))
      .size("B", 1)
      .size("T", 2)
      .size("K", 1)
      .size("V", 1);
  auto out = evaluate(spec, call);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(at(out[0], {0, 0, 0}), 1.0 * 3.0 / (1.0 + 0.5));
  EXPECT_DOUBLE_EQ(at(out[0], {0, 1, 0}), 2.0 * (3.0 + 8.0) / (2.0 * 3.0 + 0.5));
}

TEST(ReferenceRecurrence, ReportsAMissingTimeSize) {
  SpecFixture fixture;
  mlir::Operation *spec = fixture.compile(R"(
recurrence sum(x: f32[B, T]) -> y: f32[B, T] {
  state c: f32
  c = c + x[t]
  y[t] = c
})");
  Call call;
  call.tensor(makeTensor({1, 2}, {1, 2})).size("B", 1);
  EXPECT_EQ(evaluateError(spec, call),
            "reference evaluator: size symbol 'T' is not bound");
}

} // namespace
