//===- TmixAttrs.h - Attributes of the tmix dialect -----------*- C++ -*-===//
//
// Declares the schedule and kernel-ABI attributes (TmixAttrs.td).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXATTRS_H
#define TMIX_DIALECT_TMIXATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Operation.h"

#include <optional>

#define GET_ATTRDEF_CLASSES
#include "dialect/TmixAttrs.h.inc"

//===----------------------------------------------------------------------===//
// Kernel ABI
//===----------------------------------------------------------------------===//

namespace mlir::tmix {

/// The name under which a program function (func.func) or GPU kernel (gpu.func)
/// carries its KernelAttr.
inline constexpr llvm::StringLiteral kKernelAttrName = "tmix.kernel";

/// The kernel ABI of `op`, or null when it has none.
KernelAttr getKernelAbi(Operation *op);
/// Attaches `abi` to `op` (replacing an earlier one).
void setKernelAbi(Operation *op, KernelAttr abi);

/// What a kernel ABI may hold: the limits of the runtime's manifest
/// (runtime/cuda/GpuManifest.h, which codegen/KernelAbi.cpp checks them against).
namespace kernel_abi_limits {
/// A literal dim, grid tile or specialised size: below 2^31.
constexpr int64_t kMaxLiteral = (int64_t(1) << 31) - 1;
/// Grid dimensions.
constexpr size_t kMaxGridRank = 8;
/// Threads per CTA.
constexpr int64_t kMaxThreads = 1024;
/// Dynamic shared memory per CTA: the opt-in limit of the largest target (sm_90a).
constexpr int64_t kMaxSharedBytes = 227 * 1024;
/// Elements of a TMA box along one dimension.
constexpr int64_t kMaxBoxDim = 256;
} // namespace kernel_abi_limits

} // namespace mlir::tmix

#endif // TMIX_DIALECT_TMIXATTRS_H
