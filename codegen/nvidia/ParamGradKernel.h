//===- ParamGradKernel.h - Part "params" of the backward on GPUs -*- C++ -*-===//
//
// The GPU kernel of a derived attention backward's part "params" (DeriveAttentionGrad):
// the gradients of the float arguments that the spec's sink reads (gpt-oss's learned
// sink logits). Those of arguments read in score or scale sum a term per pair, in an
// order without atomics that these kernels do not have yet: such a part is refused.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
#define TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H

#include "dialect/TmixOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <string>

namespace mlir::tmix {

/// Why the GPUs cannot run part "params" `part` (the float arguments that its score or
/// scale reads), or "" when they can.
std::string gpuParamsPartLimit(AttentionGradOp part);

/// Lowers part "params" `part` to a kernel of `gpuModule`; failure after an error on
/// `part` (gpuParamsPartLimit's).
LogicalResult lowerParamGradKernel(AttentionGradOp part, gpu::GPUModuleOp gpuModule);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
