//===- TensorMap.h - TMA descriptors of a launch, encoded on the host -*- C++ -*-===//
//
// An sm_90a kernel reads its q, k and v tiles through TMA descriptors (CUtensorMap).
// They depend on the tensors' addresses and sizes, so the launcher encodes them at
// every launch with the driver's cuTensorMapEncodeTiled and hands the kernel their
// device address. The arguments of that call are computed here, apart from the call,
// so that tests can check them without a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_TENSORMAP_H
#define TMIX_RUNTIME_CUDA_TENSORMAP_H

#include "runtime/Bindings.h"
#include "runtime/cuda/GpuManifest.h"

#include <array>
#include <cstdint>
#include <string>

namespace tmix::rt {

/// Values of the CUDA driver API's tensor-map enums (cuda.h of CUDA 12.0 to 13.0, where
/// they have not changed).
namespace tensormap {
constexpr int kDataTypeFloat16 = 6;   // CU_TENSOR_MAP_DATA_TYPE_FLOAT16
constexpr int kDataTypeFloat32 = 7;   // CU_TENSOR_MAP_DATA_TYPE_FLOAT32
constexpr int kDataTypeBFloat16 = 9;  // CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
constexpr int kInterleaveNone = 0;    // CU_TENSOR_MAP_INTERLEAVE_NONE
constexpr int kSwizzleNone = 0;       // CU_TENSOR_MAP_SWIZZLE_NONE
constexpr int kSwizzle32B = 1;        // CU_TENSOR_MAP_SWIZZLE_32B
constexpr int kSwizzle64B = 2;        // CU_TENSOR_MAP_SWIZZLE_64B
constexpr int kSwizzle128B = 3;       // CU_TENSOR_MAP_SWIZZLE_128B
constexpr int kL2Promotion128B = 2;   // CU_TENSOR_MAP_L2_PROMOTION_L2_128B
constexpr int kOobFillZeros = 0;      // CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE: zeros
/// sizeof(CUtensorMap): 16 64-bit words (CU_TENSOR_MAP_NUM_QWORDS), 64-byte aligned.
constexpr size_t kBytes = 128;
constexpr size_t kAlignment = 64;
} // namespace tensormap

/// The arguments of one cuTensorMapEncodeTiled call for a 4-D tensor [B, H, N, D] (in
/// its logical order): dims innermost first (D, N, H, B), byte strides of dims 1..3.
struct TensorMapArgs {
  int dataType = 0;
  uint32_t rank = 4;
  unsigned long long globalAddress = 0;
  std::array<uint64_t, 4> globalDims{};
  std::array<uint64_t, 3> globalStrides{};
  std::array<uint32_t, 4> boxDims{};
  std::array<uint32_t, 4> elementStrides{1, 1, 1, 1};
  int interleave = tensormap::kInterleaveNone;
  int swizzle = tensormap::kSwizzleNone;
  int l2Promotion = tensormap::kL2Promotion128B;
  int oobFill = tensormap::kOobFillZeros;
};

/// The encode arguments of `map` over a row-major tensor at `address` with `shape`;
/// returns an error (a shape TMA cannot describe) or empty.
std::string tensorMapArgs(const TensorMapDecl &map, unsigned long long address,
                          const std::vector<int64_t> &shape, TensorMapArgs &args);
/// The same over a tensor's logical view [B, H, N, D] (a layout permutes its strides).
std::string tensorMapArgs(const TensorMapDecl &map, unsigned long long address,
                          const StridedView &view, TensorMapArgs &args);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_TENSORMAP_H
