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
/// are written; the kernels read the stored tensor in place.
tmix::rt::HostTensor relayout(const tmix::rt::HostTensor &tensor, SpecTensorType type,
                              bool toLogical) {
  llvm::ArrayRef<int64_t> layout = type.getLayout();
  size_t rank = layout.size();
  const std::vector<int64_t> &shape = tensor.shape();
  // Stored position p holds logical dim layout[p].
  std::vector<int64_t> storedShape(rank), logicalShape(rank);
  for (size_t p = 0; p < rank; ++p) {
    storedShape[p] = toLogical ? shape[p] : shape[layout[p]];
    logicalShape[layout[p]] = storedShape[p];
  }
  tmix::rt::HostTensor out(tensor.dtype(), toLogical ? logicalShape : storedShape);
  std::vector<int64_t> logicalStrides(rank, 1);
  for (size_t dim = rank; dim-- > 1;)
    logicalStrides[dim - 1] = logicalStrides[dim] * logicalShape[dim];
  std::vector<int64_t> index(rank, 0); // stored multi-index, row-major order
  for (int64_t stored = 0; stored < tensor.numElements(); ++stored) {
    int64_t logical = 0;
    for (size_t p = 0; p < rank; ++p)
      logical += index[p] * logicalStrides[layout[p]];
    if (toLogical)
      out.set(logical, tensor.get(stored));
    else
      out.set(stored, tensor.get(logical));
    for (size_t p = rank; p-- > 0;) {
      if (++index[p] < storedShape[p])
        break;
      index[p] = 0;
    }
  }
  return out;
}

mlir::FunctionType functionTypeOf(mlir::Operation *specOp) {
  return llvm::cast<mlir::FunctionType>(
      llvm::cast<mlir::TypeAttr>(specOp->getAttr("function_type")).getValue());
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
  if (!llvm::isa_and_nonnull<mlir::tmix::AttentionOp, mlir::tmix::RecurrenceOp>(specOp))
    return evaluateInLogicalOrder(specOp, bindings);
  mlir::FunctionType function = functionTypeOf(specOp);
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
