//===- HostTensor.cpp - Tensors in host memory ----------------------------===//
//
// Element access through double for every storage type, and the f16/bf16 conversions
// (round to nearest even, infinities and NaNs preserved) that the runtime, the .npy
// reader and the reference evaluator share.
//
//===----------------------------------------------------------------------===//

#include "runtime/HostTensor.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

using namespace tmix::rt;

namespace {

// IEEE binary32 fields.
constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32AbsMask = 0x7fffffffu;
constexpr uint32_t kF32ExpMask = 0x7f800000u; // also +inf
constexpr int kF32MantBits = 23;
constexpr int kF32Bias = 127;

// IEEE binary16 fields.
constexpr uint16_t kF16SignMask = 0x8000u;
constexpr uint16_t kF16ExpMask = 0x7c00u; // also +inf
constexpr uint16_t kF16MantMask = 0x03ffu;
constexpr uint16_t kF16QuietBit = 0x0200u;
constexpr int kF16MantBits = 10;
constexpr int kF16Bias = 15;
constexpr int kF16MaxExp = 31;
/// Bits dropped when narrowing a binary32 mantissa to binary16.
constexpr int kF32ToF16Shift = kF32MantBits - kF16MantBits;
/// Smallest |x| (as binary32 bits) that rounds to f16 infinity: 65520, halfway between
/// the largest f16 (65504) and 2^16, which ties to the even neighbour, infinity.
constexpr uint32_t kF16OverflowBits = 0x477ff000u;
/// The smallest normal f16, 2^-14, as binary32 bits.
constexpr uint32_t kF16MinNormalBits = uint32_t(kF32Bias - kF16Bias + 1) << kF32MantBits;
/// 2^-25, half the smallest f16 subnormal: at or below it everything rounds to zero.
constexpr uint32_t kF16HalfMinSubnormalBits = uint32_t(kF32Bias - 25) << kF32MantBits;
/// The f16 subnormal unit is 2^-24.
constexpr int kF16SubnormalExp = -24;

// bfloat16 is the upper half of binary32.
constexpr int kBF16Shift = 16;
constexpr uint32_t kBF16HalfUlpMinusOne = 0x7fffu;
constexpr uint16_t kBF16QuietBit = 0x0040u;

uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// Rounds a double to float with round-to-odd: truncate, then set the last mantissa
/// bit when anything was dropped. Rounding that result once more to a format at least
/// two bits narrower (bf16, f16) gives exactly the round-to-nearest-even of the
/// double, which a plain double -> float -> bf16 chain would not (double rounding).
float roundToOddFloat(double value) {
  if (!std::isfinite(value))
    return static_cast<float>(value);
  float rounded = static_cast<float>(value);
  if (static_cast<double>(rounded) == value)
    return rounded;
  if (std::fabs(static_cast<double>(rounded)) > std::fabs(value))
    rounded = std::nextafter(rounded, 0.0f); // also turns an overflow into FLT_MAX
  return bitsToFloat(floatBits(rounded) | 1u);
}

template <typename T> T loadAs(const unsigned char *bytes, int64_t index) {
  T value;
  std::memcpy(&value, bytes + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T> void storeAs(unsigned char *bytes, int64_t index, T value) {
  std::memcpy(bytes + index * sizeof(T), &value, sizeof(T));
}

/// Rounds to the nearest integer (ties to even) and saturates to T; NaN becomes 0 so
/// that a bad value never turns into undefined behaviour.
template <typename T> T toInteger(double value) {
  if (std::isnan(value))
    return 0;
  double rounded = std::nearbyint(value);
  // The bounds as doubles: max() of int64 is not representable, 2^63 is.
  const double lowest = static_cast<double>(std::numeric_limits<T>::lowest());
  const double limit = -lowest; // 2^(bits-1): the first value out of range
  if (rounded <= lowest)
    return std::numeric_limits<T>::lowest();
  if (rounded >= limit)
    return std::numeric_limits<T>::max();
  return static_cast<T>(rounded);
}

} // namespace

const char *tmix::rt::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "f32";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  case DType::I32: return "i32";
  case DType::I64: return "i64";
  case DType::Bool: return "bool";
  case DType::F64: return "f64";
  }
  return "?";
}

size_t tmix::rt::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32: return sizeof(float);
  case DType::F16: return sizeof(uint16_t);
  case DType::BF16: return sizeof(uint16_t);
  case DType::I32: return sizeof(int32_t);
  case DType::I64: return sizeof(int64_t);
  case DType::Bool: return sizeof(uint8_t);
  case DType::F64: return sizeof(double);
  }
  return 0;
}

double tmix::rt::largestFinite(DType dtype) {
  switch (dtype) {
  case DType::F32: return std::numeric_limits<float>::max();
  case DType::F16: return 65504.0;
  case DType::BF16: return 3.38953138925153547590e38; // (2 - 2^-7) * 2^127
  case DType::I32: return std::numeric_limits<int32_t>::max();
  case DType::I64: return 9223372036854775807.0;
  case DType::Bool: return 1;
  case DType::F64: return std::numeric_limits<double>::max();
  }
  return 0;
}

bool tmix::rt::isFloat(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::F16:
  case DType::BF16:
  case DType::F64: return true;
  case DType::I32:
  case DType::I64:
  case DType::Bool: return false;
  }
  return false;
}

uint16_t tmix::rt::floatToBF16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & kF32AbsMask) > kF32ExpMask) {
    // NaN: truncating could clear every mantissa bit left and make an infinity, so
    // keep the sign and the top of the payload and force the quiet bit.
    return static_cast<uint16_t>((bits >> kBF16Shift) | kBF16QuietBit);
  }
  // Round to nearest even: add just under half an ulp, plus one when the kept part is
  // odd. Infinities pass unchanged; a carry into the exponent is the correct rounding
  // (up to infinity past the largest bf16).
  uint32_t lsb = (bits >> kBF16Shift) & 1u;
  bits += kBF16HalfUlpMinusOne + lsb;
  return static_cast<uint16_t>(bits >> kBF16Shift);
}

float tmix::rt::bf16ToFloat(uint16_t bits) {
  return bitsToFloat(static_cast<uint32_t>(bits) << kBF16Shift);
}

uint16_t tmix::rt::floatToF16(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits & kF32SignMask) >> 16);
  uint32_t abs = bits & kF32AbsMask;

  if (abs >= kF32ExpMask) {
    if (abs == kF32ExpMask)
      return sign | kF16ExpMask;
    // NaN: keep the top of the payload, force the quiet bit so it stays a NaN.
    uint16_t payload = static_cast<uint16_t>((abs >> kF32ToF16Shift) & kF16MantMask);
    return sign | kF16ExpMask | kF16QuietBit | payload;
  }
  if (abs >= kF16OverflowBits)
    return sign | kF16ExpMask;

  if (abs < kF16MinNormalBits) {
    // Subnormal (or zero) result: the value in units of 2^-24, rounded to even.
    if (abs <= kF16HalfMinSubnormalBits)
      return sign;
    int exponent = static_cast<int>(abs >> kF32MantBits); // biased; >= 1 here
    uint32_t mantissa = (abs & ((1u << kF32MantBits) - 1)) | (1u << kF32MantBits);
    // value = mantissa * 2^(exponent - bias - 23); units = value / 2^-24.
    int shift = kF32Bias + kF32MantBits + kF16SubnormalExp - exponent;
    uint32_t kept = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (kept & 1u)))
      ++kept; // may carry into the smallest normal: that encoding is right too
    return sign | static_cast<uint16_t>(kept);
  }

  // Normal: rebias the exponent, then drop 13 mantissa bits rounding to even. A carry
  // out of the mantissa bumps the exponent, which is the correct result.
  uint32_t rebiased = abs - (uint32_t(kF32Bias - kF16Bias) << kF32MantBits);
  uint32_t lsb = (rebiased >> kF32ToF16Shift) & 1u;
  rebiased += ((1u << (kF32ToF16Shift - 1)) - 1) + lsb;
  return sign | static_cast<uint16_t>(rebiased >> kF32ToF16Shift);
}

float tmix::rt::f16ToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & kF16SignMask) << 16;
  int exponent = (bits & kF16ExpMask) >> kF16MantBits;
  uint32_t mantissa = bits & kF16MantMask;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in binary32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), kF16SubnormalExp);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == kF16MaxExp)
    return bitsToFloat(sign | kF32ExpMask | (mantissa << kF32ToF16Shift));
  uint32_t f32Exp = static_cast<uint32_t>(exponent - kF16Bias + kF32Bias);
  return bitsToFloat(sign | (f32Exp << kF32MantBits) | (mantissa << kF32ToF16Shift));
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  for ([[maybe_unused]] int64_t dim : shape_)
    assert(dim >= 0 && "negative dimension");
  bytes_.assign(static_cast<size_t>(numElements()) * dtypeSize(dtype_), 0);
}

int64_t HostTensor::numElements() const {
  int64_t count = 1; // rank 0: one element
  for (int64_t dim : shape_)
    count *= dim;
  return count;
}

double HostTensor::get(int64_t index) const {
  assert(index >= 0 && index < numElements() && "element index out of range");
  const unsigned char *bytes = bytes_.data();
  switch (dtype_) {
  case DType::F32: return loadAs<float>(bytes, index);
  case DType::F16: return f16ToFloat(loadAs<uint16_t>(bytes, index));
  case DType::BF16: return bf16ToFloat(loadAs<uint16_t>(bytes, index));
  case DType::I32: return loadAs<int32_t>(bytes, index);
  case DType::I64: return static_cast<double>(loadAs<int64_t>(bytes, index));
  case DType::Bool: return loadAs<uint8_t>(bytes, index) ? 1.0 : 0.0;
  case DType::F64: return loadAs<double>(bytes, index);
  }
  return 0.0;
}

void HostTensor::set(int64_t index, double value) {
  assert(index >= 0 && index < numElements() && "element index out of range");
  unsigned char *bytes = bytes_.data();
  switch (dtype_) {
  case DType::F32: storeAs<float>(bytes, index, static_cast<float>(value)); return;
  case DType::F16:
    storeAs<uint16_t>(bytes, index, floatToF16(roundToOddFloat(value)));
    return;
  case DType::BF16:
    storeAs<uint16_t>(bytes, index, floatToBF16(roundToOddFloat(value)));
    return;
  case DType::I32: storeAs<int32_t>(bytes, index, toInteger<int32_t>(value)); return;
  case DType::I64: storeAs<int64_t>(bytes, index, toInteger<int64_t>(value)); return;
  case DType::Bool:
    // NaN counts as true, as in C and NumPy.
    storeAs<uint8_t>(bytes, index, value != 0.0 ? 1 : 0);
    return;
  case DType::F64: storeAs<double>(bytes, index, value); return;
  }
}

HostTensor HostTensor::convertedTo(DType dtype) const {
  if (dtype == dtype_)
    return *this;
  HostTensor result(dtype, shape_);
  int64_t count = numElements();
  for (int64_t i = 0; i < count; ++i)
    result.set(i, get(i));
  return result;
}

std::string tmix::rt::shapeString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}
