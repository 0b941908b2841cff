//===- Random.h - Deterministic random inputs -------------------*- C++ -*-===//
//
// Random tensor contents for tests and `tmixc run --seed=N`: a fixed generator
// (xoshiro256**, seeded by splitmix64) and fixed arithmetic, so that the same seed
// gives the same inputs on every platform and standard library, which <random>'s
// distributions do not promise.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_RANDOM_H
#define TMIX_RUNTIME_RANDOM_H

#include "runtime/HostTensor.h"

#include <array>
#include <cstdint>

namespace tmix::rt {

/// splitmix64: one step of the stream (also a good 64-bit mixing function).
uint64_t splitMix64(uint64_t &state);

/// A seed for stream `stream` of `seed`, e.g. one per argument, so that each argument
/// gets independent values however many elements the others have.
uint64_t deriveSeed(uint64_t seed, uint64_t stream);

/// xoshiro256**: small, fast and statistically sound for test inputs.
class Rng {
public:
  explicit Rng(uint64_t seed);
  /// A generator in a given raw state (not all zero), to check against the reference.
  static Rng fromState(const std::array<uint64_t, 4> &state);
  uint64_t next();
  /// Uniform in [0, 1), 53 random bits.
  double uniform();
  /// Uniform integer in [0, bound) without modulo bias; bound > 0.
  uint64_t below(uint64_t bound);

private:
  Rng() = default;
  std::array<uint64_t, 4> state_ = {};
};

/// Fills `t` with uniform values in [lo, hi) (rounded to the storage type) for float
/// types, and uniform integers in [ceil(lo), floor(hi)] for integer types (bool: the
/// integer's truth). Element i gets the i-th draw, so a prefix is stable across shapes.
void fillRandom(HostTensor &t, uint64_t seed, double lo, double hi);

/// Fills the [S + 1] offsets `t` of S sequences packed in `steps` steps: 0, then S - 1
/// uniform cut points in [0, steps] in increasing order (so a sequence may be empty),
/// then `steps`.
void fillRandomOffsets(HostTensor &t, uint64_t seed, int64_t steps);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_RANDOM_H
