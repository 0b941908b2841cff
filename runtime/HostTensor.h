//===- HostTensor.h - Tensors in host memory --------------------*- C++ -*-===//
//
// A dense, row-major tensor in host memory with its element type: what the CPU runtime
// binds to kernel arguments, what .npy files load into and what the reference
// evaluator reads. No MLIR here: the runtime builds alone.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_HOSTTENSOR_H
#define TMIX_RUNTIME_HOSTTENSOR_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tmix::rt {

/// Element types of tensor arguments (DSL.md): storage types, computed in f32.
/// F64 is internal: the reference evaluator's outputs.
enum class DType { F32, F16, BF16, I32, I64, Bool, F64 };

/// "f32", "bf16", ... as written in specs.
const char *dtypeName(DType dtype);
/// Bytes per element (bool: 1).
size_t dtypeSize(DType dtype);
bool isFloat(DType dtype);
/// The largest finite value of `dtype` (f16: 65504, bf16: about 3.39e38, ...).
double largestFinite(DType dtype);
/// "[2, 8, 1000, 64]" (rank 0: "[]"), for messages.
std::string shapeString(const std::vector<int64_t> &shape);

/// Conversions between storage and f32 (round to nearest even for f16 and bf16).
uint16_t floatToBF16(float value);
float bf16ToFloat(uint16_t bits);
uint16_t floatToF16(float value);
float f16ToFloat(uint16_t bits);

class HostTensor {
public:
  HostTensor() = default;
  HostTensor(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numElements() const;
  size_t numBytes() const { return bytes_.size(); }
  void *data() { return bytes_.data(); }
  const void *data() const { return bytes_.data(); }

  /// Element `index` (row-major linear index) as double, whatever the storage type.
  double get(int64_t index) const;
  /// Stores `value` at `index`, rounded to the storage type.
  void set(int64_t index, double value);

  /// A copy converted to another element type (through double).
  HostTensor convertedTo(DType dtype) const;

private:
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  std::vector<unsigned char> bytes_;
};

} // namespace tmix::rt

#endif // TMIX_RUNTIME_HOSTTENSOR_H
