//===- ChunkedAdjoint.h - A recurrence's backward, chunk by chunk -*- C++ -*-===//
//
// The CPU program of the adjoint `op` of `forward` when every state of forward is a
// decay or a delta rule with a chunk form in log space (getChunkedAdjointForms,
// passes/ChunkForm.h) and tmix-derive-recurrence-grad marked op's step for it: the
// gradients of the chains' keys, values, queries, gate logs and delta strengths are
// computed a chunk at a time, as matrix products, in place of the adjoint's per-step
// outer products over the state.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_CHUNKEDADJOINT_H
#define TMIX_CODEGEN_CPU_CHUNKEDADJOINT_H

#include "dialect/TmixOps.h"

namespace mlir::tmix {

/// Whether tmix-derive-recurrence-grad marked the step of the adjoint `op` for a
/// chunked adjoint (ChunkForm.h's marks).
bool hasChunkedAdjointMarks(RecurrenceOp op);

/// Whether the CPU lowers the adjoint `op` chunk by chunk (lowerChunkedAdjoint, which
/// checks the marks against the forward): marked, unless its forward has vector states
/// beside the chunked ones (an unmarked tmix.forward_state), which only the GPU kernel
/// runs beside the chunks so far: the CPU runs that adjoint step by step.
bool runsChunkedAdjointOnCpu(RecurrenceOp op);

/// Emits the program of the adjoint `op` of `forward`, chunk by chunk (chunks of
/// `chunkSize` steps). Requires hasChunkedAdjointMarks(op). Failure after an error on
/// `op` when its marks do not fit `forward`'s chunk forms, or when its fixed-size
/// scratch buffers exceed a program's bound.
LogicalResult lowerChunkedAdjoint(RecurrenceOp op, RecurrenceOp forward,
                                  int64_t chunkSize);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_CHUNKEDADJOINT_H
