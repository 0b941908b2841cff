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
  if (shape.size() != 4)
    return "TMA descriptor of '" + map.arg + "': the tensor is not 4-D";
  args = TensorMapArgs();
  args.dataType = map.dtype == DType::F16   ? tensormap::kDataTypeFloat16
                  : map.dtype == DType::F32 ? tensormap::kDataTypeFloat32
                                            : tensormap::kDataTypeBFloat16;
  args.globalAddress = address;
  if (address % kStrideAlignment != 0)
    return "TMA descriptor of '" + map.arg + "': the tensor is not 16-byte aligned";
  uint64_t elementBytes = dtypeSize(map.dtype);
  uint64_t stride = elementBytes;
  for (size_t dim = 0; dim < 4; ++dim) {
    uint64_t size = static_cast<uint64_t>(shape[3 - dim]);
    if (size == 0 || size > kMaxDim)
      return "TMA descriptor of '" + map.arg + "': dimension " + std::to_string(3 - dim) +
             " of size " + std::to_string(size) + " is out of TMA's range";
    args.globalDims[dim] = size;
    stride *= size;
    if (dim < 3) {
      if (stride % kStrideAlignment != 0 || stride >= kMaxStride)
        return "TMA descriptor of '" + map.arg + "': a row stride of " +
               std::to_string(stride) + " bytes is not a multiple of 16 below 2^40";
      args.globalStrides[dim] = stride;
    }
  }
  args.boxDims = {static_cast<uint32_t>(map.boxColumns), static_cast<uint32_t>(map.boxRows),
                  1, 1};
  args.swizzle = map.swizzleBytes == 128  ? tensormap::kSwizzle128B
                 : map.swizzleBytes == 64 ? tensormap::kSwizzle64B
                 : map.swizzleBytes == 32 ? tensormap::kSwizzle32B
                                          : tensormap::kSwizzleNone;
  return {};
}
