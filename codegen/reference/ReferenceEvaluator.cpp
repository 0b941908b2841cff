//===- ReferenceEvaluator.cpp - The float64 numerical oracle --------------===//
//
// The entry point: binds the call's arguments and hands the spec op to the attention
// or recurrence evaluator.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/ReferenceEvaluator.h"

#include "codegen/reference/SpecEvaluators.h"

#include <cmath>

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

/// The derivative of `loss` with respect to each element of argument `argument` (a
/// float tensor, of its shape, or a float scalar, of shape [1]) by central differences:
/// four evaluations of `loss` per element, each costing about `evaluationCost` multiply-
/// adds; an error when they come to too many (small shapes only).
static llvm::Expected<tmix::rt::HostTensor> centralDifferences(
    const tmix::rt::Bindings &bindings, unsigned argument, double evaluationCost,
    llvm::function_ref<llvm::Expected<double>(const tmix::rt::Bindings &)> loss) {
  using tmix::rt::HostTensor;
  bool scalar = argument >= bindings.tensors.size() || bindings.tensors[argument].rank() == 0;
  int64_t count = scalar ? 1 : bindings.tensors[argument].numElements();
  constexpr double kLargestWork = 2e9;
  if (4.0 * static_cast<double>(count) * evaluationCost > kLargestWork)
    return makeError("the reference differentiates by central differences, four "
                     "evaluations an element: argument " +
                     llvm::Twine(argument) + " has too many elements for these sizes "
                     "(check gradients on small shapes)");
  HostTensor grad(tmix::rt::DType::F64, scalar ? std::vector<int64_t>{1}
                                               : bindings.tensors[argument].shape());
  tmix::rt::Bindings perturbed = bindings;
  if (!scalar)
    perturbed.tensors[argument] = bindings.tensors[argument].convertedTo(tmix::rt::DType::F64);
  auto set = [&](int64_t e, double x) {
    if (scalar)
      perturbed.scalars[argument] = x;
    else
      perturbed.tensors[argument].set(e, x);
  };
  for (int64_t e = 0; e < count; ++e) {
    double value = scalar ? bindings.scalars[argument] : perturbed.tensors[argument].get(e);
    // A step of a power of two, 2^-16 of the value's binade: value +- step is exact
    // even where the interpreter rounds a scalar to its f32 type. Richardson's
    // extrapolation of the steps h and h/2 cancels the O(h^2) error of each; a step
    // this small keeps the O(h) error of a kink (max, min, abs) within reach of few
    // elements, and the loss's rounding (1e-16 of it, over h) far below f32's.
    double step = std::ldexp(1.0, std::ilogb(1.0 + std::fabs(value)) - 16);
    double differences[2];
    for (int halving = 0; halving < 2; ++halving) {
      double h = step / (halving + 1), sides[2];
      for (int side = 0; side < 2; ++side) {
        set(e, value + (side == 0 ? h : -h));
        auto l = loss(perturbed);
        if (!l)
          return l.takeError();
        sides[side] = *l;
      }
      differences[halving] = (sides[0] - sides[1]) / (2.0 * h);
    }
    set(e, value);
    grad.set(e, (4.0 * differences[1] - differences[0]) / 3.0);
  }
  return grad;
}

llvm::Expected<std::vector<tmix::rt::HostTensor>>
tmix::evaluateReferenceGrad(mlir::Operation *specOp, const rt::Bindings &bindings,
                            const rt::HostTensor &outputGrad,
                            const std::vector<unsigned> &params,
                            const rt::HostTensor *lseGrad) {
  auto attention = llvm::dyn_cast_or_null<mlir::tmix::AttentionOp>(specOp);
  if (!attention)
    return makeError("gradients are derived for tmix.attention ops only so far");
  if (lseGrad && attention.getNumSpecResults() != 2)
    return makeError("a gradient of lse for a spec without lse");
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
                                     logicalOf(outputGrad, function.getResult(0)), lseGrad);
  if (!grads)
    return grads.takeError();
  for (unsigned index = 0; index < 3; ++index)
    if (auto tensor = llvm::cast<SpecTensorType>(function.getInput(index));
        tensor.isPermuted())
      (*grads)[index] = relayout((*grads)[index], tensor, false);
  if (params.empty())
    return grads;

  // The params by central differences of sum(o * outputGrad): four forwards an element.
  rt::HostTensor storedGrad = outputGrad.convertedTo(rt::DType::F64);
  auto loss = [&](const rt::Bindings &perturbed) -> llvm::Expected<double> {
    auto outputs = evaluateReference(specOp, perturbed);
    if (!outputs)
      return outputs.takeError();
    double sum = 0.0;
    for (int64_t e = 0; e < storedGrad.numElements(); ++e)
      sum += (*outputs)[0].get(e) * storedGrad.get(e);
    // An empty row's lse is -inf whatever the inputs: a constant, left out.
    for (int64_t e = 0; lseGrad && e < lseGrad->numElements(); ++e)
      if (std::isfinite((*outputs)[1].get(e)))
        sum += (*outputs)[1].get(e) * lseGrad->get(e);
    return sum;
  };
  const rt::HostTensor &q = bindings.tensors[0], &k = bindings.tensors[1];
  // B H N D x HK M (both layouts start with B and end with D): at most HK times the
  // forward's multiply-adds.
  double forwardCost = static_cast<double>(q.numElements()) *
                       static_cast<double>(k.numElements()) /
                       static_cast<double>(k.shape().front() * k.shape().back());
  for (unsigned argument : params) {
    auto grad = centralDifferences(bindings, argument, forwardCost, loss);
    if (!grad)
      return grad.takeError();
    grads->push_back(std::move(*grad));
  }
  return grads;
}

llvm::Expected<std::vector<tmix::rt::HostTensor>> tmix::evaluateReferenceRecurrenceGrad(
    mlir::Operation *specOp, const rt::Bindings &bindings,
    const std::vector<rt::HostTensor> &outputGrads, const std::vector<unsigned> &arguments) {
  auto recurrence = llvm::dyn_cast_or_null<mlir::tmix::RecurrenceOp>(specOp);
  if (!recurrence)
    return makeError("expects a tmix.recurrence op");
  if (outputGrads.size() != recurrence.getNumSpecResults())
    return makeError("one output gradient per output is needed");
  auto loss = [&](const rt::Bindings &perturbed) -> llvm::Expected<double> {
    auto outputs = evaluateReference(specOp, perturbed);
    if (!outputs)
      return outputs.takeError();
    double sum = 0.0;
    for (auto [output, grad] : llvm::zip(*outputs, outputGrads))
      for (int64_t e = 0; e < grad.numElements(); ++e)
        sum += output.get(e) * grad.get(e);
    return sum;
  };
  // A forward costs a few operations per state element and step of each point.
  auto elementsOf = [&](mlir::Type type) {
    auto tensor = llvm::dyn_cast_or_null<SpecTensorType>(type);
    double count = 1.0;
    for (unsigned dim = 0; tensor && dim < tensor.getRank(); ++dim) {
      std::optional<int64_t> size = tensor.getStaticSize(dim);
      auto bound = bindings.sizes.find(tensor.getSymbol(dim).str());
      count *= static_cast<double>(
          size ? *size : bound == bindings.sizes.end() ? 1 : bound->second);
    }
    return count;
  };
  double stateElements = 0.0;
  for (mlir::tmix::StateOp state : recurrence.getStateOps())
    stateElements += elementsOf(state.getType());
  unsigned firstOutput = recurrence.getPerStepResults().front();
  double pointSteps = elementsOf(recurrence.getSpecResultTypes()[firstOutput]) /
                      elementsOf(recurrence.getPerStepType(firstOutput));
  constexpr double kOperationsPerStateElement = 8.0;
  double forwardCost = pointSteps * stateElements * kOperationsPerStateElement;
  std::vector<rt::HostTensor> grads;
  for (unsigned argument : arguments) {
    auto grad = centralDifferences(bindings, argument, forwardCost, loss);
    if (!grad)
      return grad.takeError();
    grads.push_back(std::move(*grad));
  }
  return grads;
}
