//===- ReferenceEvaluator.cpp - The float64 numerical oracle --------------===//
//
// The entry point: binds the call's arguments and hands the spec op to the attention
// or recurrence evaluator.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/ReferenceEvaluator.h"

#include "codegen/reference/SpecEvaluators.h"

using namespace tmix::reference;

llvm::Expected<std::vector<tmix::rt::HostTensor>>
tmix::evaluateReference(mlir::Operation *specOp, const rt::Bindings &bindings) {
  auto attention = llvm::dyn_cast_or_null<mlir::tmix::AttentionOp>(specOp);
  auto recurrence = llvm::dyn_cast_or_null<mlir::tmix::RecurrenceOp>(specOp);
  if (!attention && !recurrence)
    return makeError("expects a tmix.attention or tmix.recurrence op");
  if (specOp->getRegion(0).empty())
    return makeError("the spec op has no body");
  RegionInterpreter interpreter(specOp, bindings);
  if (llvm::Error error = interpreter.initialize())
    return std::move(error);
  if (attention)
    return evaluateAttention(attention, interpreter);
  return evaluateRecurrence(recurrence, interpreter);
}
