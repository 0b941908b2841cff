//===- ParamGradKernel.h - Part "params" of the backward on GPUs -*- C++ -*-===//
//
// The GPU kernels of a derived attention backward's part "params" (DeriveAttentionGrad):
// the gradients of the float arguments that the spec's sink reads (gpt-oss's learned
// sink logits), here, and those of pair biases (one element per pair), in part
// "query"'s walk (LowerAttentionGradToNVGPU.cpp). Other arguments read in score, and
// those read in scale, sum terms of many pairs, in an order without atomics that these
// kernels do not have yet: such a part is refused.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
#define TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H

#include "dialect/TmixOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <string>

namespace mlir::tmix {

/// Why the GPUs cannot run part "params" `part`, or "" when they can: when what it
/// differentiates is a sink (lowerSinkGradKernel), or pair biases alone
/// (pairOwnedParams; part "query"'s walk, LowerAttentionGradToNVGPU.cpp).
std::string gpuParamsPartLimit(AttentionGradOp part);

/// When every param of part "params" `part` is read in score, at exactly b, h, i and j
/// of dims [B, H, N, M] (q's batch, head and length, k's length) in some order, so that
/// each pair's terms go to an element of its own: per param (in `params` order), the
/// score's block argument (0..3: b, h, i, j) that indexes each of its dims.
FailureOr<SmallVector<SmallVector<unsigned>>> pairOwnedParams(AttentionGradOp part);

/// Lowers part "params" `part` of a sink (gpuParamsPartLimit) to a kernel of
/// `gpuModule`.
LogicalResult lowerSinkGradKernel(AttentionGradOp part, gpu::GPUModuleOp gpuModule);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
