//===- RecurrenceGradKernel.h - What the GPU recurrence backward runs -*- C++ -*-===//
//
// The question tmixc asks before it builds a recurrence's backward for a GPU, apart
// from the pass (tmix-lower-recurrence-grad-to-nvgpu, LowerRecurrenceGradToNVGPU.cpp):
// an adjoint the kernel does not run yet is "not implemented" (exit status 2), not an
// error in the spec.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_RECURRENCEGRADKERNEL_H
#define TMIX_CODEGEN_NVIDIA_RECURRENCEGRADKERNEL_H

#include "dialect/TmixOps.h"

#include <string>

namespace mlir::tmix {

/// Why the GPU kernel does not run the adjoint `grad` of `forward` yet (a delta rule,
/// vector states, a gate given by value, ...), as one sentence; empty when it does.
/// Independent of the sizes: the forward kernel's own limits (state dims, shared
/// memory) are errors of the lowering.
std::string gpuRecurrenceGradLimit(RecurrenceOp grad, RecurrenceOp forward);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_RECURRENCEGRADKERNEL_H
