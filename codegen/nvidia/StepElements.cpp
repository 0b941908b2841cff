//===- StepElements.cpp - A recurrence step's values, element by element --===//

#include "codegen/nvidia/StepElements.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::tmix;

StepElements::StepElements(RecurrenceOp op, KernelBuilder &kb)
    : kb(kb), point(ParallelPoint::of(op, kb)),
      timeSymbol(StringAttr::get(op.getContext(), op.getTimeSymbol())),
      scalarArgs(kb.scalarMapping()) {}

SmallVector<Value> StepElements::outerIndices(ArrayRef<Attribute> dims, Value time,
                                              ValueRange inner) {
  return recurrenceIndices(dims, point, timeSymbol, time, inner);
}

Value StepElements::at(Value value, ValueRange indices) {
  if (Value bound = bindings.lookupOrNull(value))
    return bound;
  if (Value scalar = scalarArgs.lookupOrNull(value))
    return scalar; // a scalar argument of the spec
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    assert(arg.getArgNumber() == 0 && "only the step index is read here");
    return kb.toI64(stepTime);
  }
  Operation *def = value.getDefiningOp();
  if (auto slice = dyn_cast<SliceOp>(def)) {
    auto source = cast<BlockArgument>(slice.getSource());
    ArrayRef<Attribute> sourceDims = cast<SpecTensorType>(source.getType()).getDims();
    return kb.loadF32(
        kb.argMemRef(source.getArgNumber()),
        outerIndices(sourceDims, slice.getTime() ? stepTime : Value(), indices));
  }
  if (auto map = dyn_cast<MapOp>(def)) {
    IRMapping mapping = scalarArgs;
    Block &mapBody = map.getBody().front();
    for (auto [arg, input] : llvm::zip(mapBody.getArguments(), map.getInputs())) {
      auto type = dyn_cast<SpecTensorType>(input.getType());
      // A vector input of a matrix map is indexed by the row.
      ValueRange inputIndices = !type ? ValueRange{} : indices.take_front(type.getRank());
      mapping.map(arg, at(input, inputIndices));
    }
    for (Operation &inner : mapBody) {
      // Scalars of the step that the body reads from above.
      for (Value operand : inner.getOperands())
        if (!mapping.contains(operand) && operand.getParentRegion() != &map.getBody())
          mapping.map(operand, at(operand, {}));
      if (auto yield = dyn_cast<YieldOp>(inner))
        return mapping.lookup(yield.getValues()[0]);
      kb.cloneScalarOp(inner, mapping);
    }
    llvm_unreachable("a map body ends in tmix.yield");
  }
  // A scalar op of the step: its scalar operands first.
  IRMapping mapping = scalarArgs;
  for (Value operand : def->getOperands())
    if (!mapping.contains(operand))
      mapping.map(operand, at(operand, {}));
  kb.cloneScalarOp(*def, mapping);
  return mapping.lookup(value);
}

Value StepElements::factorProduct(ArrayRef<ChunkFactor> factors, Value k, Value init) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value product = init;
  for (const ChunkFactor &factor : factors) {
    bool vector = isa<SpecTensorType>(factor.value.getType());
    Value value = at(factor.value, vector ? ValueRange{k} : ValueRange{});
    if (factor.isExp)
      value = math::ExpOp::create(b, value);
    product = factor.inverse ? Value(arith::DivFOp::create(b, product, value))
                             : Value(arith::MulFOp::create(b, product, value));
  }
  return product;
}

Operation *StepElements::firstNonElementwise(Block &body, ArrayRef<Value> roots,
                                             function_ref<bool(Operation *)> isLeaf) {
  SmallVector<Value> worklist(roots.begin(), roots.end());
  DenseSet<Operation *> seen;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val().getDefiningOp();
    if (!op || op->getBlock() != &body || isLeaf(op) || !seen.insert(op).second)
      continue;
    if (isa<OuterOp, VecMatOp, MatVecOp, DotOp, SumOp>(op))
      return op;
    if (auto map = dyn_cast<MapOp>(op)) {
      if (map.getResult().getType().getRank() > 1)
        return op;
    } else if (!isa<SliceOp>(op) &&
               llvm::any_of(op->getResultTypes(), llvm::IsaPred<SpecTensorType>)) {
      return op;
    }
    llvm::append_range(worklist, op->getOperands());
  }
  return nullptr;
}
