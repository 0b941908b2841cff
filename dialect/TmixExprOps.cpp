//===- TmixExprOps.cpp - Expression ops of the tmix dialect ---------------===//
//
// Verifiers of the expression ops: size symbols, tensor reads and slices, the
// vector/matrix algebra of recurrences and element-wise maps.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"

#include "dialect/TmixOpsSupport.h"

using namespace mlir;
using namespace mlir::tmix;

/// The signature of a spec op (tmix.attention, tmix.attention_grad, tmix.recurrence).
static FunctionType getSpecFunctionType(Operation *spec) {
  return llvm::cast<FunctionType>(
      llvm::cast<TypeAttr>(spec->getAttr("function_type")).getValue());
}

/// Whether `value` is an argument of the spec op's body.
static bool isSpecArgument(Value value) {
  auto arg = llvm::dyn_cast<BlockArgument>(value);
  return arg && llvm::isa_and_nonnull<AttentionOp, AttentionGradOp, RecurrenceOp>(
                    arg.getOwner()->getParentOp());
}

static LogicalResult checkResultType(Operation *op, Type actual, Type expected) {
  if (actual == expected)
    return success();
  return op->emitOpError() << "result type must be " << expected << ", got " << actual;
}

//===----------------------------------------------------------------------===//
// tmix.size, tmix.read, tmix.slice
//===----------------------------------------------------------------------===//

LogicalResult SizeOp::verify() {
  Operation *spec = getEnclosingSpec(*this);
  if (!spec)
    return emitOpError("must be inside a tmix.attention or tmix.recurrence");
  FunctionType type = getSpecFunctionType(spec);
  for (Type each : llvm::concat<const Type>(type.getInputs(), type.getResults()))
    if (auto tensor = llvm::dyn_cast<SpecTensorType>(each))
      for (unsigned dim = 0; dim < tensor.getRank(); ++dim)
        if (tensor.getSymbol(dim) == getSymbol()) // S of `S + 1` too
          return success();
  return emitOpError() << "'" << getSymbol() << "' is not a size symbol of the enclosing spec";
}

LogicalResult ParallelIndexOp::verify() {
  auto recurrence = llvm::dyn_cast_or_null<RecurrenceOp>(getEnclosingSpec(*this));
  if (!recurrence)
    return emitOpError("must be inside a tmix.recurrence");
  int64_t parallel = recurrence.getParallelDims().size();
  if (getDim() < 0 || getDim() >= parallel)
    return emitOpError() << "dimension " << getDim() << " is not one of the recurrence's "
                         << parallel << " parallel dimensions";
  return success();
}

LogicalResult ReadOp::verify() {
  if (!isSpecArgument(getTensor()))
    return emitOpError("tensor must be an argument of the enclosing spec");
  SpecTensorType type = getTensor().getType();
  if (getIndices().size() != type.getRank())
    return emitOpError() << "expects " << type.getRank() << " indices for a rank-"
                         << type.getRank() << " tensor, got " << getIndices().size();
  Type expected = type.isFloat() ? Float32Type::get(getContext()) : type.getElementType();
  return checkResultType(*this, getResult().getType(), expected);
}

LogicalResult AccumulateOp::verify() {
  if (!isSpecArgument(getTarget()))
    return emitOpError("target must be an argument of the enclosing spec");
  Type type = getTarget().getType();
  if (auto tensor = llvm::dyn_cast<SpecTensorType>(type)) {
    if (!tensor.isFloat())
      return emitOpError() << "target must be a float tensor or scalar, got " << type;
    if (getIndices().size() != tensor.getRank())
      return emitOpError() << "expects " << tensor.getRank() << " indices for a rank-"
                           << tensor.getRank() << " tensor, got " << getIndices().size();
    return success();
  }
  if (!llvm::isa<FloatType>(type))
    return emitOpError() << "target must be a float tensor or scalar, got " << type;
  if (!getIndices().empty())
    return emitOpError("a scalar target takes no indices");
  return success();
}

/// The number of leading `dims` that are parallel dims, in order (greedy).
/// How many leading `dims` are parallel dims (or groups read in their place), in order.
static unsigned countParallelPrefix(ArrayRef<Attribute> dims, ArrayRef<Attribute> parallel,
                                    RecurrenceOp recurrence) {
  unsigned count = 0;
  const Attribute *next = parallel.begin();
  for (Attribute dim : dims) {
    const Attribute *found = std::find(next, parallel.end(), recurrence.resolveGroup(dim));
    if (found == parallel.end())
      break;
    next = found + 1;
    ++count;
  }
  return count;
}

LogicalResult SliceOp::verify() {
  auto recurrence = llvm::dyn_cast_or_null<RecurrenceOp>(getEnclosingSpec(*this));
  if (!recurrence)
    return emitOpError("must be inside a tmix.recurrence");
  if (!isSpecArgument(getSource()))
    return emitOpError("source must be an argument of the enclosing spec");
  // Without valid per-step outputs there are no parallel dims: the recurrence says so.
  SmallVector<unsigned> perStep = recurrence.getPerStepResults();
  if (perStep.empty() || !recurrence.getPerStepType(perStep.front()))
    return success();
  SpecTensorType type = getSource().getType();
  ArrayRef<Attribute> dims = type.getDims();
  SmallVector<Attribute> parallel = recurrence.getParallelDims();
  StringRef time = recurrence.getTimeSymbol();
  auto timeDim = llvm::find_if(
      dims, [&](Attribute dim) { return formatDim(dim) == time && llvm::isa<StringAttr>(dim); });

  unsigned firstStepDim;
  if (getTime()) {
    if (timeDim == dims.end())
      return emitOpError() << "source has no time dimension '" << time
                           << "' to slice at a step";
    firstStepDim = timeDim - dims.begin();
    if (countParallelPrefix(dims.take_front(firstStepDim), parallel, recurrence) != firstStepDim)
      return emitOpError() << "source dims " << formatDims(dims.take_front(firstStepDim))
                           << " before the time dimension must be parallel dims "
                           << formatDims(parallel) << ", in order";
    ++firstStepDim;
  } else {
    if (timeDim != dims.end())
      return emitOpError() << "source has the time dimension '" << time
                           << "'; slice it at a step index";
    firstStepDim = countParallelPrefix(dims, parallel, recurrence);
  }

  ArrayRef<Attribute> stepDims = dims.drop_front(firstStepDim);
  Type element = type.isFloat() ? Float32Type::get(getContext()) : type.getElementType();
  Type expected = stepDims.empty()
                      ? element
                      : Type(SpecTensorType::get(getContext(), stepDims, element));
  return checkResultType(*this, getResult().getType(), expected);
}

//===----------------------------------------------------------------------===//
// Vector and matrix algebra
//===----------------------------------------------------------------------===//

/// Checks that operand `what` is an f32 !tmix.tensor of `rank` (a vector or a matrix).
static LogicalResult checkF32Operand(Operation *op, SpecTensorType type, unsigned rank,
                                     StringRef what) {
  if (type.getRank() == rank && type.getElementType().isF32())
    return success();
  return op->emitOpError() << what << " must be an f32 " << (rank == 1 ? "vector" : "matrix")
                           << ", got " << type;
}

LogicalResult OuterOp::verify() {
  SpecTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  if (failed(checkF32Operand(*this, lhs, 1, "lhs")) ||
      failed(checkF32Operand(*this, rhs, 1, "rhs")))
    return failure();
  Type expected = getF32Value(getContext(), {lhs.getDims()[0], rhs.getDims()[0]});
  return checkResultType(*this, getResult().getType(), expected);
}

LogicalResult VecMatOp::verify() {
  SpecTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  if (failed(checkF32Operand(*this, lhs, 1, "lhs")) ||
      failed(checkF32Operand(*this, rhs, 2, "rhs")))
    return failure();
  if (lhs.getDims()[0] != rhs.getDims()[0])
    return emitOpError() << "vector length " << formatDim(lhs.getDims()[0])
                         << " does not match matrix rows " << formatDim(rhs.getDims()[0]);
  return checkResultType(*this, getResult().getType(),
                         getF32Value(getContext(), rhs.getDims()[1]));
}

LogicalResult MatVecOp::verify() {
  SpecTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  if (failed(checkF32Operand(*this, lhs, 2, "lhs")) ||
      failed(checkF32Operand(*this, rhs, 1, "rhs")))
    return failure();
  if (rhs.getDims()[0] != lhs.getDims()[1])
    return emitOpError() << "vector length " << formatDim(rhs.getDims()[0])
                         << " does not match matrix columns " << formatDim(lhs.getDims()[1]);
  return checkResultType(*this, getResult().getType(),
                         getF32Value(getContext(), lhs.getDims()[0]));
}

LogicalResult DotOp::verify() {
  SpecTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  if (failed(checkF32Operand(*this, lhs, 1, "lhs")) ||
      failed(checkF32Operand(*this, rhs, 1, "rhs")))
    return failure();
  if (lhs.getDims()[0] != rhs.getDims()[0])
    return emitOpError() << "vector lengths " << formatDim(lhs.getDims()[0]) << " and "
                         << formatDim(rhs.getDims()[0]) << " do not match";
  return success();
}

LogicalResult SumOp::verify() {
  SpecTensorType type = getInput().getType();
  if (!type.getElementType().isF32())
    return emitOpError() << "input must be an f32 !tmix.tensor, got " << type;
  return success();
}

//===----------------------------------------------------------------------===//
// tmix.map
//===----------------------------------------------------------------------===//

LogicalResult MapOp::verify() {
  SpecTensorType result = getResult().getType();
  SmallVector<Type> elements;
  for (auto [index, input] : llvm::enumerate(getInputs())) {
    auto tensor = llvm::dyn_cast<SpecTensorType>(input.getType());
    if (!tensor) {
      elements.push_back(input.getType());
      continue;
    }
    // Same shape, or a vector over the rows of a matrix (a diagonal gate).
    bool sameShape = tensor.getDims() == result.getDims();
    bool rowGate = result.getRank() == 2 && tensor.getRank() == 1 &&
                   tensor.getDims()[0] == result.getDims()[0];
    if (!sameShape && !rowGate)
      return emitOpError() << "operand #" << index << " of type " << tensor
                           << " does not broadcast to the result type " << result;
    elements.push_back(tensor.getElementType());
  }
  return verifyRegionSignature(*this, getBody(), elements, {result.getElementType()});
}
