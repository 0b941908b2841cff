//===- RuntimeTests.cpp - Unit tests of the CPU runtime -------------------===//
//
// GoogleTest unit tests of runtime/: f16/bf16 conversions, host tensors (.npy files:
// NpyTests.cpp), size binding, the thread pool and the random inputs. Run by lit through
// runtime-tests.test.
//
//===----------------------------------------------------------------------===//

#include "runtime/Bindings.h"
#include "runtime/GradientReduction.h"
#include "runtime/HostTensor.h"
#include "runtime/Random.h"
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace tmix::rt;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int kAllHalfPatterns = 1 << 16;

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

TEST(Conversions, BF16KnownValues) {
  EXPECT_EQ(floatToBF16(0.0f), 0x0000);
  EXPECT_EQ(floatToBF16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBF16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between 0x3f80 and 0x3f81: ties to the even one.
  EXPECT_EQ(floatToBF16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: even is 0x3f82.
  EXPECT_EQ(floatToBF16(1.0f + 3 * 0x1p-8f), 0x3f82);
  // Just above the tie rounds up.
  EXPECT_EQ(floatToBF16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(floatToBF16(kInf), 0x7f80);
  EXPECT_EQ(floatToBF16(-kInf), 0xff80);
  // The largest float rounds past the largest bf16: infinity.
  EXPECT_EQ(floatToBF16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_FLOAT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_FLOAT_EQ(bf16ToFloat(0x4049), 3.140625f);
}

TEST(Conversions, BF16NaNStaysNaN) {
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(kNaN))));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(-kNaN))));
  // A NaN whose payload sits only in the low 16 bits must not truncate to infinity.
  float lowPayloadNaN = floatOf(0x7f800001u);
  ASSERT_TRUE(std::isnan(lowPayloadNaN));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(lowPayloadNaN))));
  EXPECT_EQ(floatToBF16(floatOf(0xff800001u)) & 0x8000, 0x8000); // sign kept
}

TEST(Conversions, BF16RoundTripsEveryPattern) {
  for (int pattern = 0; pattern < kAllHalfPatterns; ++pattern) {
    uint16_t bits = static_cast<uint16_t>(pattern);
    float value = bf16ToFloat(bits);
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(value)))) << pattern;
    else
      EXPECT_EQ(floatToBF16(value), bits) << pattern;
  }
}

TEST(Conversions, F16KnownValues) {
  EXPECT_EQ(floatToF16(0.0f), 0x0000);
  EXPECT_EQ(floatToF16(-0.0f), 0x8000);
  EXPECT_EQ(floatToF16(1.0f), 0x3c00);
  EXPECT_EQ(floatToF16(-2.0f), 0xc000);
  EXPECT_EQ(floatToF16(65504.0f), 0x7bff); // largest f16
  EXPECT_EQ(floatToF16(65519.0f), 0x7bff); // below the tie
  EXPECT_EQ(floatToF16(65520.0f), 0x7c00); // the tie goes to even: infinity
  EXPECT_EQ(floatToF16(1e6f), 0x7c00);
  EXPECT_EQ(floatToF16(-1e6f), 0xfc00);
  EXPECT_EQ(floatToF16(0x1p-14f), 0x0400); // smallest normal
  EXPECT_EQ(floatToF16(0x1p-24f), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToF16(0x1p-25f), 0x0000); // half of it: ties to even, zero
  EXPECT_EQ(floatToF16(-0x1p-25f), 0x8000);
  EXPECT_EQ(floatToF16(0x1.8p-25f), 0x0001);
  EXPECT_EQ(floatToF16(3 * 0x1p-25f), 0x0002);        // 1.5 units: tie to even 2
  EXPECT_EQ(floatToF16(5 * 0x1p-25f), 0x0002);        // 2.5 units: tie to even 2
  EXPECT_EQ(floatToF16(0x1p-14f - 0x1p-26f), 0x0400); // rounds up into the normals
  EXPECT_EQ(floatToF16(1.0f + 0x1p-11f), 0x3c00);     // tie: even
  EXPECT_EQ(floatToF16(1.0f + 3 * 0x1p-11f), 0x3c02); // tie: even
  EXPECT_EQ(floatToF16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(floatToF16(kInf), 0x7c00);
  EXPECT_EQ(floatToF16(-kInf), 0xfc00);
  EXPECT_FLOAT_EQ(f16ToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(f16ToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(f16ToFloat(0x03ff), 0x3ffp-24f);
  EXPECT_EQ(f16ToFloat(0x7c00), kInf);
  EXPECT_EQ(f16ToFloat(0xfc00), -kInf);
}

TEST(Conversions, F16NaNStaysNaN) {
  EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(kNaN))));
  float lowPayloadNaN = floatOf(0x7f800001u);
  EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(lowPayloadNaN))));
  EXPECT_TRUE(std::isnan(f16ToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(f16ToFloat(0x7c01)));
}

TEST(Conversions, F16RoundTripsEveryPattern) {
  for (int pattern = 0; pattern < kAllHalfPatterns; ++pattern) {
    uint16_t bits = static_cast<uint16_t>(pattern);
    float value = f16ToFloat(bits);
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(value)))) << pattern;
    else
      EXPECT_EQ(floatToF16(value), bits) << pattern;
  }
}

/// bf16 by definition: of the two bf16 values around a finite float, the nearer one,
/// the even one on a tie (the compiler's __bf16 needs a runtime library we lack).
uint16_t nearestBF16(float value) {
  uint32_t down = bitsOf(value) & 0xffff0000u;
  uint32_t up = down + 0x10000u; // the next bf16 away from zero (may be infinity)
  double below = std::fabs(static_cast<double>(value) - floatOf(down));
  double above = std::fabs(static_cast<double>(floatOf(up)) - value);
  if ((down & 0x7fffffffu) == 0x7f7f0000u) // past the largest bf16: "up" is infinity,
    above = std::fabs(0x1p128 - std::fabs(static_cast<double>(value))); // at 2^128
  bool takeUp = above < below || (above == below && ((down >> 16) & 1u));
  return static_cast<uint16_t>((takeUp ? up : down) >> 16);
}

// Independent oracles over many random floats of every magnitude: the compiler's
// _Float16 conversion (IEEE round to nearest even) and bf16 by definition.
TEST(Conversions, MatchOraclesOnRandomFloats) {
  Rng rng(7);
  constexpr int kSamples = 200000;
  for (int i = 0; i < kSamples; ++i) {
    float value = floatOf(static_cast<uint32_t>(rng.next()));
    if (!std::isfinite(value))
      continue; // infinities and NaNs have their own tests
#if defined(__FLT16_MAX__)
    _Float16 half = static_cast<_Float16>(value);
    uint16_t halfBits;
    std::memcpy(&halfBits, &half, sizeof(halfBits));
    ASSERT_EQ(floatToF16(value), halfBits) << std::hex << bitsOf(value);
#endif
    ASSERT_EQ(floatToBF16(value), nearestBF16(value)) << std::hex << bitsOf(value);
  }
}

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

TEST(HostTensor, ShapesAndSizes) {
  HostTensor scalar(DType::F32, {});
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.numElements(), 1);
  EXPECT_EQ(scalar.numBytes(), 4u);
  HostTensor empty(DType::I64, {3, 0, 2});
  EXPECT_EQ(empty.numElements(), 0);
  EXPECT_EQ(empty.numBytes(), 0u);
  HostTensor t(DType::BF16, {2, 3});
  EXPECT_EQ(t.numElements(), 6);
  EXPECT_EQ(t.numBytes(), 12u);
  for (int64_t i = 0; i < t.numElements(); ++i)
    EXPECT_EQ(t.get(i), 0.0); // zero-initialised
  EXPECT_EQ(shapeString({2, 3}), "[2, 3]");
  EXPECT_EQ(shapeString({}), "[]");
}

TEST(HostTensor, DTypeTables) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64,
                      DType::Bool, DType::F64})
    EXPECT_GT(dtypeSize(dtype), 0u) << dtypeName(dtype);
  EXPECT_STREQ(dtypeName(DType::BF16), "bf16");
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::Bool), 1u);
  EXPECT_TRUE(isFloat(DType::F64));
  EXPECT_FALSE(isFloat(DType::Bool));
}

TEST(HostTensor, GetSetEveryDType) {
  HostTensor f32(DType::F32, {2});
  f32.set(0, 0.1);
  EXPECT_EQ(f32.get(0), static_cast<double>(0.1f));
  HostTensor f64(DType::F64, {1});
  f64.set(0, 0.1);
  EXPECT_EQ(f64.get(0), 0.1);
  HostTensor f16(DType::F16, {1});
  f16.set(0, 1.0 / 3);
  EXPECT_EQ(f16.get(0), 0.333251953125);
  HostTensor bf16(DType::BF16, {1});
  bf16.set(0, 3.14159);
  EXPECT_EQ(bf16.get(0), 3.140625);

  HostTensor i32(DType::I32, {6});
  i32.set(0, 2.5); // ties to even
  i32.set(1, -3.7);
  i32.set(2, 1e20); // saturates
  i32.set(3, -1e20);
  i32.set(4, std::nan(""));
  i32.set(5, 3.5);
  EXPECT_EQ(i32.get(0), 2);
  EXPECT_EQ(i32.get(1), -4);
  EXPECT_EQ(i32.get(2), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(i32.get(3), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(i32.get(4), 0);
  EXPECT_EQ(i32.get(5), 4);

  HostTensor i64(DType::I64, {2});
  i64.set(0, 0x1p52);
  i64.set(1, 1e30);
  EXPECT_EQ(i64.get(0), 0x1p52);
  int64_t raw;
  std::memcpy(&raw, static_cast<const char *>(i64.data()) + sizeof(int64_t), sizeof(raw));
  EXPECT_EQ(raw, std::numeric_limits<int64_t>::max());

  HostTensor flags(DType::Bool, {3});
  flags.set(0, 0.5);
  flags.set(1, 0.0);
  flags.set(2, -2);
  EXPECT_EQ(flags.get(0), 1.0);
  EXPECT_EQ(flags.get(1), 0.0);
  EXPECT_EQ(flags.get(2), 1.0);
}

TEST(HostTensor, SetRoundsDoublesOnceIntoHalfTypes) {
  // 1 + 2^-8 + 2^-40 rounds to float as exactly the bf16 tie 1 + 2^-8; rounding that
  // again would give 1.0. The double is above the tie, so the answer is 1 + 2^-7.
  HostTensor bf16(DType::BF16, {1});
  bf16.set(0, 1.0 + 0x1p-8 + 0x1p-40);
  EXPECT_EQ(bf16.get(0), 1.0 + 0x1p-7);
  HostTensor f16(DType::F16, {1});
  f16.set(0, 1.0 + 0x1p-11 + 0x1p-40);
  EXPECT_EQ(f16.get(0), 1.0 + 0x1p-10);
  f16.set(0, 1e300);
  EXPECT_EQ(f16.get(0), std::numeric_limits<double>::infinity());
  bf16.set(0, -1e300);
  EXPECT_EQ(bf16.get(0), -std::numeric_limits<double>::infinity());
  bf16.set(0, std::nan(""));
  EXPECT_TRUE(std::isnan(bf16.get(0)));
}

TEST(HostTensor, ConvertedTo) {
  HostTensor t(DType::F32, {2, 2});
  t.set(0, 1.0);
  t.set(1, 1.0 + 0x1p-9); // not representable in bf16
  t.set(2, -7.25);
  t.set(3, 100.6);
  HostTensor bf16 = t.convertedTo(DType::BF16);
  EXPECT_EQ(bf16.dtype(), DType::BF16);
  EXPECT_EQ(bf16.shape(), t.shape());
  EXPECT_EQ(bf16.get(1), 1.0);
  EXPECT_EQ(bf16.get(2), -7.25);
  HostTensor i32 = t.convertedTo(DType::I32);
  EXPECT_EQ(i32.get(2), -7);
  EXPECT_EQ(i32.get(3), 101);
  HostTensor same = t.convertedTo(DType::F32);
  EXPECT_EQ(std::memcmp(same.data(), t.data(), t.numBytes()), 0);
}

//===----------------------------------------------------------------------===//
// Bindings
//===----------------------------------------------------------------------===//

DimDecl sym(const char *name) { return DimDecl{name, 0}; }
DimDecl lit(int64_t size) { return DimDecl{"", size}; }

ParamDecl tensorDecl(const char *name, std::vector<DimDecl> dims) {
  ParamDecl decl;
  decl.name = name;
  decl.isTensor = true;
  decl.dims = std::move(dims);
  return decl;
}

/// attention(q: f32[B, H, N, 64], k: f32[B, HK, M, 64], v: f32[B, HK, M, 64],
///           scale: f32 = 0.125) -> o: f32[B, H, N, 64]
SpecSignature attentionSignature() {
  SpecSignature signature;
  signature.name = "attn";
  signature.args = {tensorDecl("q", {sym("B"), sym("H"), sym("N"), lit(64)}),
                    tensorDecl("k", {sym("B"), sym("HK"), sym("M"), lit(64)}),
                    tensorDecl("v", {sym("B"), sym("HK"), sym("M"), lit(64)})};
  ParamDecl scale;
  scale.name = "scale";
  scale.defaultValue = 0.125;
  signature.args.push_back(scale);
  signature.results = {tensorDecl("o", {sym("B"), sym("H"), sym("N"), lit(64)})};
  return signature;
}

Bindings bindingsFor(std::vector<std::vector<int64_t>> shapes) {
  Bindings bindings;
  for (std::vector<int64_t> &shape : shapes)
    bindings.tensors.emplace_back(DType::F32, std::move(shape));
  bindings.tensors.emplace_back(); // the scalar
  bindings.scalars = {0, 0, 0, 0.125};
  return bindings;
}

TEST(Bindings, BindsEverySymbol) {
  Bindings bindings = bindingsFor({{2, 8, 100, 64}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  ASSERT_EQ(bindSizes(attentionSignature(), bindings), "");
  EXPECT_EQ(bindings.sizes, (std::map<std::string, int64_t>{
                                {"B", 2}, {"H", 8}, {"HK", 2}, {"M", 77}, {"N", 100}}));
  EXPECT_EQ(shapeOf(attentionSignature().results[0], bindings.sizes),
            (std::vector<int64_t>{2, 8, 100, 64}));
  EXPECT_EQ(declaredShapeString(attentionSignature().args[1]), "[B, HK, M, 64]");
}

TEST(Bindings, AcceptsAgreeingSizesFlag) {
  Bindings bindings = bindingsFor({{2, 8, 100, 64}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  bindings.sizes = {{"N", 100}, {"B", 2}, {"Unused", 5}};
  ASSERT_EQ(bindSizes(attentionSignature(), bindings), "");
  EXPECT_EQ(bindings.sizes.at("Unused"), 5);
  EXPECT_EQ(bindings.sizes.at("M"), 77);
}

TEST(Bindings, RankMismatch) {
  Bindings bindings = bindingsFor({{2, 8, 100, 64}, {2, 2, 77}, {2, 2, 77, 64}});
  EXPECT_EQ(bindSizes(attentionSignature(), bindings),
            "argument 'k' has rank 3 but is declared [B, HK, M, 64]");
}

TEST(Bindings, LiteralMismatch) {
  Bindings bindings = bindingsFor({{2, 8, 100, 32}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  EXPECT_EQ(bindSizes(attentionSignature(), bindings),
            "argument 'q' has 32 at dim 3 but is declared [B, H, N, 64]");
}

TEST(Bindings, SymbolConflictNamesBothPlaces) {
  SpecSignature signature;
  signature.name = "self";
  signature.args = {tensorDecl("q", {sym("B"), sym("H"), sym("N"), sym("D")}),
                    tensorDecl("k", {sym("B"), sym("H"), sym("N"), sym("D")})};
  Bindings bindings;
  bindings.tensors = {HostTensor(DType::F32, {1, 2, 1000, 4}),
                      HostTensor(DType::F32, {1, 2, 999, 4})};
  EXPECT_EQ(bindSizes(signature, bindings),
            "size symbol 'N' is 1000 from argument 'q' (dim 2) but 999 from argument 'k' "
            "(dim 2)");
  EXPECT_TRUE(bindings.sizes.empty()); // nothing bound on failure
}

TEST(Bindings, SizesFlagConflict) {
  Bindings bindings = bindingsFor({{2, 8, 999, 64}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  bindings.sizes = {{"N", 1000}};
  EXPECT_EQ(bindSizes(attentionSignature(), bindings),
            "--sizes gives N=1000 but argument 'q' has 999");
}

TEST(Bindings, SizesMustBePositive) {
  Bindings bindings = bindingsFor({{2, 8, 0, 64}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  EXPECT_EQ(bindSizes(attentionSignature(), bindings),
            "argument 'q' has size 0 at dim 2 (declared [B, H, N, 64]); sizes must be "
            "positive");
  Bindings flagged = bindingsFor({{2, 8, 10, 64}, {2, 2, 77, 64}, {2, 2, 77, 64}});
  flagged.sizes = {{"N", 0}};
  EXPECT_EQ(bindSizes(attentionSignature(), flagged),
            "--sizes gives N=0; sizes must be positive");
}

/// recurrence(k: f32[T, H], cu: i64[N + 1], h0: f32[N, H]) packed by cu.
TEST(Bindings, SequenceOffsetsBindOneLessAndSplitT) {
  SpecSignature signature;
  signature.name = "packed";
  signature.isAttention = false;
  signature.args = {tensorDecl("k", {sym("T"), sym("H")}),
                    tensorDecl("cu", {DimDecl{"N", 0, 1}}), tensorDecl("h0", {sym("N"), sym("H")})};
  signature.args[1].dtype = DType::I64;
  signature.sequenceOffsets = 1;
  signature.timeSymbol = "T";
  EXPECT_EQ(declaredShapeString(signature.args[1]), "[N + 1]");
  auto bind = [&](std::vector<double> offsets, int64_t sequences) {
    Bindings bindings;
    bindings.tensors = {HostTensor(DType::F32, {10, 2}),
                        HostTensor(DType::I64, {int64_t(offsets.size())}),
                        HostTensor(DType::F32, {sequences, 2})};
    for (size_t index = 0; index < offsets.size(); ++index)
      bindings.tensors[1].set(int64_t(index), offsets[index]);
    std::string error = bindSizes(signature, bindings);
    if (error.empty())
      EXPECT_EQ(bindings.sizes.at("N"), sequences);
    return error;
  };
  EXPECT_EQ(bind({0, 4, 4, 10}, 3), "");
  EXPECT_EQ(bind({0, 10}, 1), "");
  EXPECT_EQ(shapeOf(signature.args[1], {{"N", 3}}), (std::vector<int64_t>{4}));
  // N + 1 past int64: a size no tensor has, never a wrapped one.
  EXPECT_EQ(shapeOf(signature.args[1], {{"N", std::numeric_limits<int64_t>::max()}}),
            (std::vector<int64_t>{-1}));
  EXPECT_EQ(bind({0, 4, 10}, 3), "size symbol 'N' is 2 from argument 'cu' (dim 0, N + 1 = 3) "
                                 "but 3 from argument 'h0' (dim 0)");
  EXPECT_EQ(bind({0}, 1), "argument 'cu' has 1 at dim 0 (declared [N + 1]), so N = 0; sizes "
                          "must be positive");
  EXPECT_EQ(bind({2, 4, 10}, 2), "the sequence offsets 'cu'[0] = 2: the first offset must be 0");
  EXPECT_EQ(bind({0, 11, 10}, 2), "the sequence offsets 'cu'[1] = 11 is beyond T = 10");
  EXPECT_EQ(bind({0, 6, 5, 10}, 3), "the sequence offsets 'cu'[2] = 5 is less than the offset "
                                    "before it (6); offsets must not decrease");
  EXPECT_EQ(bind({0, 6, 8}, 2), "the sequence offsets 'cu' end at 8 but T = 10: the last "
                                "offset must be T (every step belongs to a sequence)");
}

TEST(Bindings, ResultSymbolsMustBeBound) {
  SpecSignature signature;
  signature.name = "expand";
  signature.args = {tensorDecl("x", {sym("N")})};
  signature.results = {tensorDecl("y", {sym("N"), sym("R")})};
  Bindings bindings;
  bindings.tensors = {HostTensor(DType::F32, {5})};
  EXPECT_EQ(bindSizes(signature, bindings),
            "size symbol 'R' of result 'y' is not bound by any argument; give it with "
            "--sizes");
  bindings.sizes = {{"R", 3}};
  ASSERT_EQ(bindSizes(signature, bindings), "");
  EXPECT_EQ(shapeOf(signature.results[0], bindings.sizes), (std::vector<int64_t>{5, 3}));
}

TEST(Bindings, KVHeadsMustDivideHeads) {
  SpecSignature signature = attentionSignature();
  signature.isAttention = true;
  Bindings bindings = bindingsFor({{2, 6, 100, 64}, {2, 4, 77, 64}, {2, 4, 77, 64}});
  EXPECT_EQ(bindSizes(signature, bindings),
            "the KV head count HK=4 must divide the head count H=6 (grouped-query "
            "attention)");
  Bindings divides = bindingsFor({{2, 6, 100, 64}, {2, 3, 77, 64}, {2, 3, 77, 64}});
  EXPECT_EQ(bindSizes(signature, divides), "");
}

TEST(Bindings, KVHeadCheckWaitsForBothCounts) {
  // A caller binding in stages (tmixc run binds the --inputs tensors first) may know H
  // but not HK yet: no error and no crash; the full binding checks it.
  SpecSignature signature = attentionSignature();
  signature.isAttention = true;
  signature.args[1].isTensor = signature.args[2].isTensor = false;
  Bindings bindings = bindingsFor({{2, 6, 100, 64}, {2, 4, 77, 64}, {2, 4, 77, 64}});
  EXPECT_EQ(bindSizes(signature, bindings), "");
  EXPECT_EQ(bindings.sizes.count("HK"), 0u);
}

TEST(Bindings, ParsesNamePairs) {
  std::vector<std::pair<std::string, std::string>> pairs;
  ASSERT_EQ(parseNamePairs(" B=2,, H = 8 ,window=-1", "--sizes", pairs), "");
  EXPECT_EQ(pairs, (std::vector<std::pair<std::string, std::string>>{
                       {"B", "2"}, {"H", "8"}, {"window", "-1"}}));
  std::vector<std::pair<std::string, std::string>> bad;
  EXPECT_EQ(parseNamePairs("B=2,window", "--set", bad),
            "bad --set entry 'window' (expected NAME=VALUE)");
  EXPECT_EQ(parseNamePairs("=3", "--sizes", bad), "bad --sizes entry '=3' (expected NAME=VALUE)");
  EXPECT_EQ(parseNamePairs("N= ", "--sizes", bad),
            "bad --sizes entry 'N= ' (expected NAME=VALUE)");
}

TEST(Bindings, MissingArguments) {
  Bindings bindings;
  bindings.tensors = {HostTensor(DType::F32, {2, 8, 10, 64})};
  EXPECT_EQ(bindSizes(attentionSignature(), bindings),
            "spec 'attn' has 4 arguments but the call binds 1");
}

//===----------------------------------------------------------------------===//
// ThreadPool
//===----------------------------------------------------------------------===//

/// Runs parallelFor(count) and checks that every index ran exactly once.
void expectEachIndexOnce(ThreadPool &pool, int64_t count) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
  for (auto &hit : hits)
    hit.store(0);
  pool.parallelFor(count, [&](int64_t i) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, count);
    hits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
  });
  for (int64_t i = 0; i < count; ++i)
    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i << " of " << count;
}

TEST(ThreadPool, CountZeroAndOne) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4u);
  int calls = 0;
  pool.parallelFor(0, [&](int64_t) { ++calls; });
  pool.parallelFor(-3, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  pool.parallelFor(1, [&](int64_t i) {
    EXPECT_EQ(i, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, EveryIndexOnceAcrossSizes) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(threads);
    for (int64_t count : {1, 2, 7, 64, 1000, 100003})
      expectEachIndexOnce(pool, count);
  }
}

TEST(ThreadPool, ReusedUnderContention) {
  // More threads than cores, tiny bodies, many back-to-back jobs: the pattern that
  // exposes a straggler of one job running into the next.
  ThreadPool pool(8);
  for (int round = 0; round < 2000; ++round)
    expectEachIndexOnce(pool, 1 + round % 97);
}

TEST(ThreadPool, UnevenBodies) {
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  pool.parallelFor(200, [&](int64_t i) {
    if (i % 50 == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    sum += i;
  });
  EXPECT_EQ(sum.load(), 199 * 200 / 2);
}

TEST(ThreadPool, UsesWorkers) {
  ThreadPool pool(4);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  pool.parallelFor(64, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GT(ids.size(), 1u);
}

TEST(ThreadPool, ConcurrentCallersAndNesting) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int64_t> total{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round)
        pool.parallelFor(10, [&](int64_t) {
          // A nested call runs serially on this thread instead of deadlocking.
          pool.parallelFor(3, [&](int64_t) { total += 1; });
        });
    });
  for (std::thread &caller : callers)
    caller.join();
  EXPECT_EQ(total.load(), 4 * 50 * 10 * 3);
}

TEST(ThreadPool, CreateAndDestroyRepeatedly) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
    if (i % 2)
      expectEachIndexOnce(pool, 10);
  }
  EXPECT_GE(defaultThreadPool().size(), 1u);
  expectEachIndexOnce(defaultThreadPool(), 123);
}

//===----------------------------------------------------------------------===//
// Random
//===----------------------------------------------------------------------===//

TEST(Random, MatchesReferenceGenerators) {
  // splitmix64 from 1234567 and xoshiro256** from state {1, 2, 3, 4}: the published
  // reference outputs, so any platform that passes draws the same numbers.
  uint64_t state = 1234567;
  const uint64_t splitMix[] = {6457827717110365317ull, 3203168211198807973ull,
                               9817491932198370423ull, 4593380528125082431ull,
                               16408922859458223821ull};
  for (uint64_t expected : splitMix)
    EXPECT_EQ(splitMix64(state), expected);
  Rng rng = Rng::fromState({1, 2, 3, 4});
  const uint64_t xoshiro[] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull,
                              1216172134540287360ull};
  for (uint64_t expected : xoshiro)
    EXPECT_EQ(rng.next(), expected);
}

TEST(Random, Deterministic) {
  HostTensor a(DType::F32, {3, 7}), b(DType::F32, {3, 7}), c(DType::F32, {3, 7});
  fillRandom(a, 42, -1, 1);
  fillRandom(b, 42, -1, 1);
  fillRandom(c, 43, -1, 1);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.numBytes()), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.numBytes()), 0);
  // A prefix does not depend on the total size.
  HostTensor small(DType::F32, {5});
  fillRandom(small, 42, -1, 1);
  EXPECT_EQ(std::memcmp(a.data(), small.data(), small.numBytes()), 0);
  EXPECT_NE(deriveSeed(42, 0), deriveSeed(42, 1));
  EXPECT_EQ(deriveSeed(42, 1), deriveSeed(42, 1));
}

TEST(Random, OffsetsSplitTheSteps) {
  for (int64_t steps : {1, 7, 200}) {
    HostTensor offsets(DType::I32, {9});
    fillRandomOffsets(offsets, 5, steps);
    EXPECT_EQ(offsets.get(0), 0);
    EXPECT_EQ(offsets.get(8), double(steps));
    for (int64_t index = 1; index < 9; ++index)
      EXPECT_LE(offsets.get(index - 1), offsets.get(index));
    HostTensor again(DType::I32, {9});
    fillRandomOffsets(again, 5, steps);
    for (int64_t index = 0; index < 9; ++index)
      EXPECT_EQ(offsets.get(index), again.get(index));
  }
  // One sequence: [0, T].
  HostTensor single(DType::I64, {2});
  fillRandomOffsets(single, 1, 50);
  EXPECT_EQ(single.get(0), 0);
  EXPECT_EQ(single.get(1), 50);
}

TEST(Random, FloatsInRange) {
  HostTensor t(DType::F64, {10000});
  fillRandom(t, 5, -2, 3);
  double lo = 1e9, hi = -1e9, sum = 0;
  for (int64_t i = 0; i < t.numElements(); ++i) {
    lo = std::min(lo, t.get(i));
    hi = std::max(hi, t.get(i));
    sum += t.get(i);
  }
  EXPECT_GE(lo, -2.0);
  EXPECT_LT(hi, 3.0);
  EXPECT_LT(lo, -1.9);
  EXPECT_GT(hi, 2.9);
  EXPECT_NEAR(sum / t.numElements(), 0.5, 0.1);
  HostTensor bf16(DType::BF16, {100});
  fillRandom(bf16, 5, -1, 1);
  for (int64_t i = 0; i < bf16.numElements(); ++i)
    EXPECT_LE(std::fabs(bf16.get(i)), 1.0);
}

TEST(Random, IntegersCoverClosedRange) {
  HostTensor t(DType::I32, {5000});
  fillRandom(t, 9, -3, 3);
  std::set<double> seen;
  for (int64_t i = 0; i < t.numElements(); ++i)
    seen.insert(t.get(i));
  EXPECT_EQ(seen, (std::set<double>{-3, -2, -1, 0, 1, 2, 3}));
  HostTensor i64(DType::I64, {100});
  fillRandom(i64, 9, 0.5, 2.5); // integers in [1, 2]
  for (int64_t i = 0; i < i64.numElements(); ++i)
    EXPECT_TRUE(i64.get(i) == 1 || i64.get(i) == 2);
  HostTensor flags(DType::Bool, {1000});
  fillRandom(flags, 9, 0, 1);
  int64_t ones = 0;
  for (int64_t i = 0; i < flags.numElements(); ++i)
    ones += flags.get(i) != 0;
  EXPECT_GT(ones, 400);
  EXPECT_LT(ones, 600);
  HostTensor wide(DType::I64, {10});
  fillRandom(wide, 9, -0x1p62, 0x1p62); // a span near 2^63 must not overflow
  for (int64_t i = 0; i < wide.numElements(); ++i)
    EXPECT_LE(std::fabs(wide.get(i)), 0x1p62);
}

TEST(GradientReduction, SumsGroupsAndMissingDimsInStoredOrder) {
  // Bm: [B, G, N] stored as [B, N, G] (layout), read by head h at group h / (H / G);
  // the adjoint's partial d_Bm is per point, [B, H, N]. A: [H], partial [B, H].
  auto dim = [](const char *symbol) { return DimDecl{symbol, 0, 0}; };
  SpecSignature forward;
  forward.isAttention = false;
  forward.groups = {{"G", "H"}};
  ParamDecl bm{"Bm", DType::F32, true, {dim("B"), dim("N"), dim("G")}, {}, {0, 2, 1}};
  ParamDecl a{"A", DType::F32, true, {dim("H")}, {}, {}};
  forward.args = {bm, a};
  std::map<std::string, int64_t> sizes = {{"B", 2}, {"H", 4}, {"G", 2}, {"N", 3}};
  for (DType dtype : {DType::F32, DType::BF16}) {
    ParamDecl partialBm{"d_Bm", dtype, true, {dim("B"), dim("H"), dim("N")}, {}, {}};
    HostTensor bmPartial(dtype, {2, 4, 3});
    for (int64_t e = 0; e < bmPartial.numElements(); ++e)
      bmPartial.set(e, static_cast<double>(e % 7) - 2.0);
    HostTensor gradient;
    ASSERT_EQ(reduceSharedGradient(forward, 0, partialBm, bmPartial, sizes, gradient),
              "");
    ASSERT_EQ(gradient.shape(), (std::vector<int64_t>{2, 3, 2}));
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t g = 0; g < 2; ++g)
        for (int64_t n = 0; n < 3; ++n) {
          double want = 0;
          for (int64_t h = 2 * g; h < 2 * g + 2; ++h)
            want += bmPartial.get((b * 4 + h) * 3 + n);
          EXPECT_EQ(gradient.get((b * 3 + n) * 2 + g), want) << b << g << n;
        }
    ParamDecl partialA{"d_A", dtype, true, {dim("B"), dim("H")}, {}, {}};
    HostTensor aPartial(dtype, {2, 4});
    for (int64_t e = 0; e < 8; ++e)
      aPartial.set(e, 0.5 * static_cast<double>(e));
    ASSERT_EQ(reduceSharedGradient(forward, 1, partialA, aPartial, sizes, gradient), "");
    ASSERT_EQ(gradient.shape(), (std::vector<int64_t>{4}));
    for (int64_t h = 0; h < 4; ++h)
      EXPECT_EQ(gradient.get(h), aPartial.get(h) + aPartial.get(4 + h)) << h;
    // Nothing shared: the partial itself.
    EXPECT_TRUE(sharesNothing(a, ParamDecl{"d_A", DType::F32, true, {dim("H")}, {}, {}}));
    EXPECT_FALSE(sharesNothing(a, partialA));
    EXPECT_FALSE(sharesNothing(bm, partialBm));
  }
}

TEST(GradientReduction, PlansTheSumsTheGpusRun) {
  // The words tmix_gradient_sum reads (GradientReduction.h): Bm [B, G, N] stored as
  // [B, N, G], from the per-point [B, H, N]; a scalar from [B, H].
  auto dim = [](const char *symbol) { return DimDecl{symbol, 0, 0}; };
  SpecSignature forward;
  forward.isAttention = false;
  forward.groups = {{"G", "H"}};
  forward.args = {
      ParamDecl{"Bm", DType::F32, true, {dim("B"), dim("N"), dim("G")}, {}, {0, 2, 1}},
      ParamDecl{"scale", DType::F32, false, {}, {}, {}}};
  std::map<std::string, int64_t> sizes = {{"B", 2}, {"H", 6}, {"G", 2}, {"N", 5}};
  GradientSum plan;
  ParamDecl partialBm{"d_Bm", DType::F32, true, {dim("B"), dim("H"), dim("N")}, {}, {}};
  ASSERT_EQ(planGradientSum(forward, 0, partialBm, sizes, plan), "");
  // Logical [B, G, N]: stored strides (G innermost) 10, 1, 2; partial strides 30,
  // 3 heads x 5, 1; summed: the 3 heads of a group, 5 apart.
  EXPECT_EQ(plan.encode(),
            (std::vector<int64_t>{3, 1, 2, 2, 5, 10, 1, 2, 30, 15, 1, 3, 5}));
  EXPECT_EQ(plan.count(), 20);
  EXPECT_EQ(plan.terms(), 3);
  ParamDecl partialScale{"d_scale", DType::F32, true, {dim("B"), dim("H")}, {}, {}};
  ASSERT_EQ(planGradientSum(forward, 1, partialScale, sizes, plan), "");
  EXPECT_EQ(plan.encode(), (std::vector<int64_t>{0, 2, 2, 6, 6, 1}));
  EXPECT_EQ(plan.count(), 1);
  // A permuted partial is not summed.
  partialBm.layout = {0, 2, 1};
  EXPECT_NE(planGradientSum(forward, 0, partialBm, sizes, plan), "");
}

TEST(Random, PinnedValues) {
  // Pins fillRandom's mapping from draws to values: a change here changes every
  // seeded input the tests and `tmixc run --seed` have used.
  HostTensor t(DType::F64, {3});
  fillRandom(t, 42, 0, 1);
  Rng rng(42);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(t.get(i), static_cast<double>(rng.next() >> 11) * 0x1p-53);
}

} // namespace
