//===- ReferenceEvaluator.cpp - The float64 numerical oracle --------------===//
//
// The entry point: binds the call's arguments and hands the spec op to the attention
// or recurrence evaluator.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/ReferenceEvaluator.h"

#include "codegen/reference/SpecEvaluators.h"

using namespace tmix::reference;
using mlir::tmix::SpecTensorType;

namespace {

/// `tensor`, stored in the layout of `type`, copied into (toLogical) or out of its
/// logical order. The oracle evaluates in the logical order, where the spec's semantics
/// are written; the kernels read the stored tensor in place, through the same strides
/// (rt::logicalView) that this copy walks.
tmix::rt::HostTensor relayout(const tmix::rt::HostTensor &tensor, SpecTensorType type,
                              bool toLogical) {
  tmix::rt::ParamDecl stored;
  stored.layout.assign(type.getLayout().begin(), type.getLayout().end());
  size_t rank = stored.layout.size();
  std::vector<int64_t> storedShape = tensor.shape();
  if (!toLogical) // `tensor` is logical: stored position p holds logical dim layout[p]
    for (size_t p = 0; p < rank; ++p)
      storedShape[p] = tensor.shape()[stored.layout[p]];
  tmix::rt::StridedView view = tmix::rt::logicalView(stored, storedShape);
  tmix::rt::HostTensor out(tensor.dtype(), toLogical ? view.sizes : storedShape);
  std::vector<int64_t> index(rank, 0); // logical, row-major
  for (int64_t logical = 0; logical < (toLogical ? out : tensor).numElements(); ++logical) {
    int64_t offset = 0; // into the stored tensor
    for (size_t dim = 0; dim < rank; ++dim)
      offset += index[dim] * view.strides[dim];
    if (toLogical)
      out.set(logical, tensor.get(offset));
    else
      out.set(offset, tensor.get(logical));
    for (size_t dim = rank; dim-- > 0;) {
      if (++index[dim] < view.sizes[dim])
        break;
      index[dim] = 0;
    }
  }
  return out;
}

} // namespace

static llvm::Expected<std::vector<tmix::rt::HostTensor>>
evaluateInLogicalOrder(mlir::Operation *specOp, const tmix::rt::Bindings &bindings) {
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

llvm::Expected<std::vector<tmix::rt::HostTensor>>
tmix::evaluateReference(mlir::Operation *specOp, const rt::Bindings &bindings) {
  mlir::FunctionType function;
  if (auto attention = llvm::dyn_cast_or_null<mlir::tmix::AttentionOp>(specOp))
    function = attention.getFunctionType();
  else if (auto recurrence = llvm::dyn_cast_or_null<mlir::tmix::RecurrenceOp>(specOp))
    function = recurrence.getFunctionType();
  else
    return evaluateInLogicalOrder(specOp, bindings); // says what it expects
  auto permuted = [](mlir::Type type) {
    auto tensor = llvm::dyn_cast<SpecTensorType>(type);
    return tensor && tensor.isPermuted();
  };
  if (llvm::none_of(function.getInputs(), permuted) &&
      llvm::none_of(function.getResults(), permuted))
    return evaluateInLogicalOrder(specOp, bindings);

  rt::Bindings logical = bindings;
  for (auto [index, type] : llvm::enumerate(function.getInputs()))
    if (permuted(type) && index < logical.tensors.size() &&
        logical.tensors[index].rank() == llvm::cast<SpecTensorType>(type).getRank())
      logical.tensors[index] =
          relayout(bindings.tensors[index], llvm::cast<SpecTensorType>(type), true);
  auto outputs = evaluateInLogicalOrder(specOp, logical);
  if (!outputs)
    return outputs.takeError();
  for (auto [index, type] : llvm::enumerate(function.getResults()))
    if (permuted(type) && index < outputs->size())
      (*outputs)[index] = relayout((*outputs)[index], llvm::cast<SpecTensorType>(type), false);
  return outputs;
}

llvm::Expected<std::vector<tmix::rt::HostTensor>>
tmix::evaluateReferenceGrad(mlir::Operation *specOp, const rt::Bindings &bindings,
                            const rt::HostTensor &outputGrad) {
  auto attention = llvm::dyn_cast_or_null<mlir::tmix::AttentionOp>(specOp);
  if (!attention)
    return makeError("gradients are derived for tmix.attention ops only so far");
  mlir::FunctionType function = attention.getFunctionType();
  // Evaluated in the logical order, as the forward (relayout above).
  auto logicalOf = [](const rt::HostTensor &tensor, mlir::Type type) {
    auto spec = llvm::cast<SpecTensorType>(type);
    return spec.isPermuted() ? relayout(tensor, spec, true) : tensor;
  };
  rt::Bindings logical = bindings;
  for (auto [index, type] : llvm::enumerate(function.getInputs()))
    if (auto tensor = llvm::dyn_cast<SpecTensorType>(type);
        tensor && tensor.isPermuted() && index < logical.tensors.size())
      logical.tensors[index] = logicalOf(bindings.tensors[index], type);
  RegionInterpreter interpreter(specOp, logical);
  if (llvm::Error error = interpreter.initialize())
    return std::move(error);
  auto grads = evaluateAttentionGrad(attention, interpreter,
                                     logicalOf(outputGrad, function.getResult(0)));
  if (!grads)
    return grads.takeError();
  for (unsigned index = 0; index < 3; ++index)
    if (auto tensor = llvm::cast<SpecTensorType>(function.getInput(index));
        tensor.isPermuted())
      (*grads)[index] = relayout((*grads)[index], tensor, false);
  return grads;
}
