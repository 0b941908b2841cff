//===- ReferenceRecurrence.cpp - Reference recurrences --------------------===//
//
// A recurrence run step by step, in double, at every point of its parallel dims:
// states start at their init argument (or 0), the step region maps (t, states) to the
// new states and the per-step outputs, and final-state outputs get the last states.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/SpecEvaluators.h"

using namespace mlir;
using namespace ::tmix::reference;
namespace rt = ::tmix::rt;

namespace {

/// The element count of a per-step or state value (1 for a scalar).
int64_t countElements(const RefValue &value) {
  if (value.kind == RefValue::Kind::Tensor)
    return static_cast<int64_t>(value.tensor->data.size());
  return 1;
}

/// Stores `value`'s elements at `base`, `base + 1`, ... of `out`.
void store(rt::HostTensor &out, int64_t base, const RefValue &value) {
  if (value.kind != RefValue::Kind::Tensor) {
    out.set(base, value.asDouble());
    return;
  }
  for (size_t index = 0; index < value.tensor->data.size(); ++index)
    out.set(base + static_cast<int64_t>(index), value.tensor->data[index]);
}

/// A state's initial value: its init argument at the current point, or zeros.
llvm::Expected<RefValue> initialState(mlir::tmix::StateOp state,
                                      const RegionInterpreter &interpreter) {
  Type type = state.getType();
  if (Value init = state.getInit()) {
    auto argument = llvm::dyn_cast<BlockArgument>(init);
    if (!argument)
      return makeError("the init of state '" + state.getSymName() +
                       "' is not a spec argument");
    return interpreter.sliceArgument(argument, std::nullopt, type);
  }
  auto tensorType = llvm::dyn_cast<mlir::tmix::SpecTensorType>(type);
  if (!tensorType)
    return RefValue::ofFloat(0.0);
  auto shape = interpreter.resolveShape(tensorType);
  if (!shape)
    return shape.takeError();
  RefTensor zeros;
  zeros.shape = *shape;
  int64_t count = 1;
  for (int64_t size : *shape)
    count *= size;
  zeros.data.assign(count, 0.0);
  return RefValue::ofTensor(std::move(zeros));
}

} // namespace

namespace tmix::reference {

llvm::Expected<std::vector<rt::HostTensor>>
evaluateRecurrence(mlir::tmix::RecurrenceOp op, RegionInterpreter &interpreter) {
  mlir::tmix::StepOp step = op.getStepOp();
  if (!step || step.getBody().empty())
    return makeError("the recurrence has no tmix.step");
  Block &stepBlock = step.getBody().front();
  llvm::SmallVector<mlir::tmix::StateOp, 4> states = op.getStateOps();

  // The parallel dims and the number of points; the number of steps.
  llvm::SmallVector<Attribute> parallelDims = op.getParallelDims();
  llvm::SmallVector<int64_t> parallelSizes;
  int64_t numPoints = 1;
  for (Attribute dim : parallelDims) {
    auto size = interpreter.resolveDim(dim);
    if (!size)
      return size.takeError();
    parallelSizes.push_back(*size);
    numPoints *= *size;
  }
  StringRef timeSymbol = op.getTimeSymbol();
  auto numSteps = interpreter.resolveDim(StringAttr::get(op.getContext(), timeSymbol));
  if (!numSteps)
    return numSteps.takeError();

  // Packed sequences: the offsets of each sequence's steps in T (checked by bindSizes).
  std::optional<unsigned> offsetsArgument = op.getOffsetsArgument();
  auto stepsOf = [&](llvm::ArrayRef<int64_t> point) -> std::pair<int64_t, int64_t> {
    if (!offsetsArgument)
      return {0, *numSteps};
    const rt::HostTensor &offsets = interpreter.argumentTensor(*offsetsArgument);
    auto first = static_cast<int64_t>(offsets.get(point[0]));
    return {first, static_cast<int64_t>(offsets.get(point[0] + 1)) - first};
  };

  std::vector<rt::HostTensor> outputs;
  for (Type type : op.getSpecResultTypes()) {
    auto shape = interpreter.resolveShape(llvm::cast<mlir::tmix::SpecTensorType>(type));
    if (!shape)
      return shape.takeError();
    outputs.emplace_back(rt::DType::F64, *shape);
  }
  // Stores `value` as output `result`'s block at the current point (and step).
  auto storeOutput = [&](unsigned result, std::optional<int64_t> time,
                         const RefValue &value) -> llvm::Error {
    auto type = llvm::cast<mlir::tmix::SpecTensorType>(op.getSpecResultTypes()[result]);
    const std::vector<int64_t> &shape = outputs[result].shape();
    size_t blockDims = 0;
    auto base = interpreter.blockOffset(type.getDims(), shape, time, blockDims,
                                        "output '" + op.getResultName(result) + "'");
    if (!base)
      return base.takeError();
    int64_t count = 1;
    for (size_t dim = blockDims; dim < shape.size(); ++dim)
      count *= shape[dim];
    if (countElements(value) != count)
      return makeError("output '" + op.getResultName(result) +
                       "' has the wrong number of elements");
    store(outputs[result], *base, value);
    return llvm::Error::success();
  };
  llvm::SmallVector<unsigned> perStep = op.getPerStepResults();
  // Final results and the index of the state each reads.
  llvm::SmallVector<std::pair<unsigned, unsigned>> finals;
  for (unsigned index = 0; index < outputs.size(); ++index) {
    mlir::tmix::FinalOp final = op.getFinalOp(index);
    if (!final)
      continue;
    auto it = llvm::find_if(states, [&](mlir::tmix::StateOp state) {
      return state.getSymName() == final.getState();
    });
    if (it == states.end())
      return makeError("tmix.final reads an undeclared state '" + final.getState() + "'");
    finals.push_back({index, static_cast<unsigned>(it - states.begin())});
  }

  llvm::SmallVector<int64_t> point(parallelDims.size(), 0);
  for (int64_t flat = 0; flat < numPoints; ++flat) {
    // The point's coordinates, row-major.
    int64_t rest = flat;
    for (size_t dim = parallelSizes.size(); dim-- > 0;) {
      point[dim] = rest % parallelSizes[dim];
      rest /= parallelSizes[dim];
    }
    auto [firstStep, steps] = stepsOf(point);
    interpreter.setRecurrencePoint(parallelDims, point, timeSymbol, firstStep);

    llvm::SmallVector<RefValue, 4> stepArgs(1 + states.size());
    for (auto [index, state] : llvm::enumerate(states)) {
      auto value = initialState(state, interpreter);
      if (!value)
        return value.takeError();
      stepArgs[index + 1] = std::move(*value);
    }

    for (int64_t t = 0; t < steps; ++t) {
      stepArgs[0] = RefValue::ofInt(t);
      auto yielded = interpreter.run(stepBlock, stepArgs);
      if (!yielded)
        return yielded.takeError();
      if (yielded->size() != states.size() + perStep.size())
        return makeError("the step yields " + llvm::Twine(yielded->size()) +
                         " values, expected " +
                         llvm::Twine(states.size() + perStep.size()));
      for (size_t index = 0; index < states.size(); ++index)
        stepArgs[index + 1] = (*yielded)[index];
      for (auto [n, result] : llvm::enumerate(perStep))
        if (llvm::Error error = storeOutput(result, t, (*yielded)[states.size() + n]))
          return std::move(error);
    }

    for (auto [result, stateIndex] : finals)
      if (llvm::Error error = storeOutput(result, std::nullopt, stepArgs[stateIndex + 1]))
        return std::move(error);
  }
  return outputs;
}

} // namespace tmix::reference
