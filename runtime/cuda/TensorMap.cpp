//===- TensorMap.cpp - TMA descriptors of a launch, encoded on the host ---===//

#include "runtime/cuda/TensorMap.h"

using namespace tmix::rt;

namespace {
/// cuTensorMapEncodeTiled's limits: a 16-byte aligned address, strides multiples of 16
/// below 2^40, dims in 1..2^32.
constexpr uint64_t kStrideAlignment = 16;
constexpr uint64_t kMaxStride = uint64_t(1) << 40;
constexpr uint64_t kMaxDim = uint64_t(1) << 32;
} // namespace

std::string tmix::rt::tensorMapArgs(const TensorMapDecl &map, unsigned long long address,
                                    const std::vector<int64_t> &shape, TensorMapArgs &args) {
  StridedView rowMajor{shape, std::vector<int64_t>(shape.size(), 1)};
  for (size_t dim = shape.size(); dim-- > 1;)
    rowMajor.strides[dim - 1] = rowMajor.strides[dim] * shape[dim];
  return tensorMapArgs(map, address, rowMajor, args);
}

std::string tmix::rt::tensorMapArgs(const TensorMapDecl &map, unsigned long long address,
                                    const StridedView &view, TensorMapArgs &args) {
  if (view.sizes.size() != 4 || view.strides.size() != 4)
    return "TMA descriptor of '" + map.arg + "': the tensor is not 4-D";
  args = TensorMapArgs();
  args.dataType = map.dtype == DType::F16   ? tensormap::kDataTypeFloat16
                  : map.dtype == DType::F32 ? tensormap::kDataTypeFloat32
                                            : tensormap::kDataTypeBFloat16;
  args.globalAddress = address;
  if (address % kStrideAlignment != 0)
    return "TMA descriptor of '" + map.arg + "': the tensor is not 16-byte aligned";
  if (view.strides[3] != 1)
    return "TMA descriptor of '" + map.arg + "': the innermost dimension is not contiguous";
  uint64_t elementBytes = dtypeSize(map.dtype);
  for (size_t dim = 0; dim < 4; ++dim) {
    uint64_t size = static_cast<uint64_t>(view.sizes[3 - dim]);
    if (size == 0 || size > kMaxDim)
      return "TMA descriptor of '" + map.arg + "': dimension " + std::to_string(3 - dim) +
             " of size " + std::to_string(size) + " is out of TMA's range";
    args.globalDims[dim] = size;
    if (dim == 0)
      continue;
    // The dims outside the innermost, in the tensor's logical order [B, H, N, D]: their
    // strides are whatever its stored layout makes them (N's is H·D in [B, N, H, D]).
    uint64_t stride = static_cast<uint64_t>(view.strides[3 - dim]);
    if (stride > kMaxStride / elementBytes || (stride * elementBytes) % kStrideAlignment ||
        stride * elementBytes >= kMaxStride)
      return "TMA descriptor of '" + map.arg + "': a row stride of " +
             std::to_string(stride * elementBytes) +
             " bytes is not a multiple of 16 below 2^40";
    args.globalStrides[dim - 1] = stride * elementBytes;
  }
  args.boxDims = {static_cast<uint32_t>(map.boxColumns), static_cast<uint32_t>(map.boxRows),
                  1, 1};
  args.swizzle = map.swizzleBytes == 128  ? tensormap::kSwizzle128B
                 : map.swizzleBytes == 64 ? tensormap::kSwizzle64B
                 : map.swizzleBytes == 32 ? tensormap::kSwizzle32B
                                          : tensormap::kSwizzleNone;
  return {};
}
