//===- SpecEvaluators.h - Reference semantics of the spec ops ---*- C++ -*-===//
//
// The two halves of the reference evaluator, one per spec op, each running on an
// interpreter already bound to the call's arguments. Internal to codegen/reference.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_REFERENCE_SPECEVALUATORS_H
#define TMIX_CODEGEN_REFERENCE_SPECEVALUATORS_H

#include "codegen/reference/RegionInterpreter.h"

#include "dialect/TmixOps.h"

namespace tmix::reference {

/// Softmax attention (DSL.md): per (b, h, i), o and lse over the kept keys.
llvm::Expected<std::vector<rt::HostTensor>>
evaluateAttention(mlir::tmix::AttentionOp op, RegionInterpreter &interpreter);

/// The gradients (dq, dk, dv) of sum(o * outputGrad) (+ sum(lse * lseGrad) when
/// given) for softmax attention, by reverse
/// mode written out in double (the score statement's derivative by central
/// differences); logical layouts.
llvm::Expected<std::vector<rt::HostTensor>>
evaluateAttentionGrad(mlir::tmix::AttentionOp op, RegionInterpreter &interpreter,
                      const rt::HostTensor &outputGrad, const rt::HostTensor *lseGrad);

/// A recurrence run step by step at every point of its parallel dims.
llvm::Expected<std::vector<rt::HostTensor>>
evaluateRecurrence(mlir::tmix::RecurrenceOp op, RegionInterpreter &interpreter);

} // namespace tmix::reference

#endif // TMIX_CODEGEN_REFERENCE_SPECEVALUATORS_H
