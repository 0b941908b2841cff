//===- Random.cpp - Deterministic random inputs ---------------------------===//
//
// The generators of Random.h, written out with only integer operations and one exact
// scaling to double, so that results do not depend on the platform.
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"

#include <algorithm>
#include <vector>

#include <cmath>

using namespace tmix::rt;

namespace {

// splitmix64 constants (Steele, Lea, Flood 2014).
constexpr uint64_t kSplitMixIncrement = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kSplitMixMul1 = 0xbf58476d1ce4e5b9ull;
constexpr uint64_t kSplitMixMul2 = 0x94d049bb133111ebull;
constexpr int kSplitMixShift1 = 30;
constexpr int kSplitMixShift2 = 27;
constexpr int kSplitMixShift3 = 31;

// xoshiro256** constants (Blackman, Vigna 2018).
constexpr uint64_t kXoshiroMul1 = 5;
constexpr uint64_t kXoshiroMul2 = 9;
constexpr int kXoshiroRot1 = 7;
constexpr int kXoshiroShift = 17;
constexpr int kXoshiroRot2 = 45;

/// A double has 53 significant bits: the top 53 of a draw scaled by 2^-53.
constexpr int kDoubleBits = 53;
constexpr int kDrawBits = 64;

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (kDrawBits - k)); }

} // namespace

uint64_t tmix::rt::splitMix64(uint64_t &state) {
  uint64_t z = (state += kSplitMixIncrement);
  z = (z ^ (z >> kSplitMixShift1)) * kSplitMixMul1;
  z = (z ^ (z >> kSplitMixShift2)) * kSplitMixMul2;
  return z ^ (z >> kSplitMixShift3);
}

uint64_t tmix::rt::deriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t state = seed;
  uint64_t mixed = splitMix64(state);
  state = mixed ^ stream;
  splitMix64(state);
  return splitMix64(state);
}

Rng::Rng(uint64_t seed) {
  // splitmix64 never yields an all-zero xoshiro state from consecutive outputs.
  for (uint64_t &word : state_)
    word = splitMix64(seed);
}

Rng Rng::fromState(const std::array<uint64_t, 4> &state) {
  Rng rng;
  rng.state_ = state;
  return rng;
}

uint64_t Rng::next() {
  uint64_t result = rotl(state_[1] * kXoshiroMul1, kXoshiroRot1) * kXoshiroMul2;
  uint64_t t = state_[1] << kXoshiroShift;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], kXoshiroRot2);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next() >> (kDrawBits - kDoubleBits)) *
         std::ldexp(1.0, -kDoubleBits);
}

uint64_t Rng::below(uint64_t bound) {
  // Rejection: draws at or above the largest multiple of bound would favour small
  // values; (2^64 - bound) % bound is 2^64 mod bound.
  uint64_t threshold = (0 - bound) % bound;
  while (true) {
    uint64_t draw = next();
    if (draw >= threshold)
      return draw % bound;
  }
}

void tmix::rt::fillRandom(HostTensor &t, uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  int64_t count = t.numElements();
  if (isFloat(t.dtype())) {
    double width = hi - lo;
    for (int64_t i = 0; i < count; ++i)
      t.set(i, lo + width * rng.uniform());
    return;
  }
  double first = std::ceil(lo);
  double last = std::floor(hi);
  if (!(first <= last)) {
    // An empty integer range: every element is the one value closest to it.
    for (int64_t i = 0; i < count; ++i)
      t.set(i, first);
    return;
  }
  // span == 0 stands for all 2^64 values (a range wider than any i64 needs).
  double spanMinusOne = last - first;
  uint64_t span = spanMinusOne >= std::ldexp(1.0, kDrawBits)
                      ? 0
                      : static_cast<uint64_t>(spanMinusOne) + 1;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t offset = span == 0 ? rng.next() : rng.below(span);
    t.set(i, first + static_cast<double>(offset));
  }
}

void tmix::rt::fillRandomOffsets(HostTensor &t, uint64_t seed, int64_t steps) {
  Rng rng(seed);
  int64_t count = t.numElements();
  std::vector<int64_t> cuts;
  for (int64_t i = 1; i + 1 < count; ++i)
    cuts.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(steps) + 1)));
  std::sort(cuts.begin(), cuts.end());
  for (int64_t i = 0; i < count; ++i)
    t.set(i, i == 0 ? 0.0 : i + 1 == count ? double(steps) : double(cuts[i - 1]));
}
