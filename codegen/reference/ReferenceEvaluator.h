//===- ReferenceEvaluator.h - The float64 numerical oracle ------*- C++ -*-===//
//
// Evaluates a spec-level tmix.attention or tmix.recurrence directly from the
// language's semantics, in double precision with plain loops. It shares no code with
// the compiled path, so that the two can check each other: obviously correct, not fast.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_REFERENCE_REFERENCEEVALUATOR_H
#define TMIX_CODEGEN_REFERENCE_REFERENCEEVALUATOR_H

#include "runtime/Bindings.h"
#include "runtime/HostTensor.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace mlir {
class Operation;
} // namespace mlir

namespace tmix {

/// Evaluates a tmix.attention or tmix.recurrence op on `bindings` (one tensor or scalar
/// per argument, every size symbol bound) in float64; returns one F64 HostTensor per
/// output (shape from the output's declared dims under bindings.sizes), or an error
/// message.
llvm::Expected<std::vector<rt::HostTensor>>
evaluateReference(mlir::Operation *specOp, const rt::Bindings &bindings);

/// The gradients of the loss sum(o * outputGrad) (+ sum(lse * lseGrad), lse's finite
/// entries, when given) of a tmix.attention op with respect
/// to q, k and v (F64 HostTensors of their stored shapes), in float64 from the
/// language's semantics: the oracle of the derived backward kernels. `outputGrad` has
/// o's stored shape. Then one gradient per argument index in `params` (float extra
/// tensors, of their shapes, and float scalars, of shape [1]), by central differences
/// of the forward: small shapes only (an error says when they are too large).
llvm::Expected<std::vector<rt::HostTensor>>
evaluateReferenceGrad(mlir::Operation *specOp, const rt::Bindings &bindings,
                      const rt::HostTensor &outputGrad,
                      const std::vector<unsigned> &params = {},
                      const rt::HostTensor *lseGrad = nullptr);

/// The gradients of the loss sum_r sum(r * outputGrads[r]) over the outputs r of a
/// tmix.recurrence op with respect to each argument index in `arguments` (float
/// tensors, of their stored shapes, and float scalars, of shape [1]), in float64 by
/// central differences of the reference forward: independent of the derived adjoint,
/// and for small shapes only (an error says when they are too large).
llvm::Expected<std::vector<rt::HostTensor>>
evaluateReferenceRecurrenceGrad(mlir::Operation *specOp, const rt::Bindings &bindings,
                                const std::vector<rt::HostTensor> &outputGrads,
                                const std::vector<unsigned> &arguments);

} // namespace tmix

#endif // TMIX_CODEGEN_REFERENCE_REFERENCEEVALUATOR_H
