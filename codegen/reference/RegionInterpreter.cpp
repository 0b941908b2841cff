//===- RegionInterpreter.cpp - Walks the regions of a spec op -------------===//
//
// Binds the spec's arguments (checking shapes and sizes), slices them at a
// recurrence's point and step, and runs blocks op by op, handing each op to the scalar
// or the tmix expression evaluator.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/RegionInterpreter.h"

#include "dialect/DimList.h"
#include "dialect/TmixOps.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace ::tmix::reference;
using mlir::tmix::SpecTensorType;

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

RefValue RefValue::ofFloat(double value) {
  RefValue result;
  result.kind = Kind::Float;
  result.f = value;
  return result;
}

RefValue RefValue::ofInt(int64_t value) {
  RefValue result;
  result.kind = Kind::Int;
  result.i = value;
  return result;
}

RefValue RefValue::ofBool(bool value) {
  RefValue result;
  result.kind = Kind::Bool;
  result.b = value;
  return result;
}

RefValue RefValue::ofTensor(RefTensor value) {
  RefValue result;
  result.kind = Kind::Tensor;
  result.tensor = std::make_shared<const RefTensor>(std::move(value));
  return result;
}

RefValue RefValue::ofScalar(Type type, double value) {
  if (type.isInteger(1))
    return ofBool(value != 0.0);
  if (type.isIntOrIndex())
    return ofInt(static_cast<int64_t>(value));
  return ofFloat(value);
}

double RefValue::asDouble() const {
  switch (kind) {
  case Kind::Float: return f;
  case Kind::Int: return static_cast<double>(i);
  case Kind::Bool: return b ? 1.0 : 0.0;
  case Kind::Tensor: break;
  }
  return 0.0;
}

namespace tmix::reference {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "reference evaluator: " + message);
}
} // namespace tmix::reference

/// "[2, 3]" for error messages.
static std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "[";
  llvm::interleaveComma(shape, os);
  os << "]";
  return text;
}

namespace tmix::reference {
int64_t numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}
} // namespace tmix::reference

/// A scalar argument's value as the kernel receives it: rounded to its declared
/// storage type (f16 / bf16 / f32, or an integer of its width).
static RefValue scalarArgument(Type type, double value) {
  if (auto floatType = llvm::dyn_cast<FloatType>(type)) {
    llvm::APFloat rounded(value);
    bool losesInfo = false;
    rounded.convert(floatType.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
                    &losesInfo);
    rounded.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
                    &losesInfo);
    return RefValue::ofFloat(rounded.convertToDouble());
  }
  if (type.isInteger(32))
    return RefValue::ofInt(static_cast<int32_t>(static_cast<int64_t>(value)));
  return RefValue::ofScalar(type, value);
}

//===----------------------------------------------------------------------===//
// Bindings
//===----------------------------------------------------------------------===//

static llvm::ArrayRef<Type> getArgTypes(Operation *specOp) {
  if (auto attention = llvm::dyn_cast<mlir::tmix::AttentionOp>(specOp))
    return attention.getSpecArgTypes();
  return llvm::cast<mlir::tmix::RecurrenceOp>(specOp).getSpecArgTypes();
}

static StringRef getArgName(Operation *specOp, unsigned index) {
  if (auto attention = llvm::dyn_cast<mlir::tmix::AttentionOp>(specOp))
    return attention.getArgName(index);
  return llvm::cast<mlir::tmix::RecurrenceOp>(specOp).getArgName(index);
}

static ArrayAttr getArgDefaults(Operation *specOp) {
  if (auto attention = llvm::dyn_cast<mlir::tmix::AttentionOp>(specOp))
    return attention.getArgDefaults();
  return llvm::cast<mlir::tmix::RecurrenceOp>(specOp).getArgDefaults();
}

RegionInterpreter::RegionInterpreter(Operation *specOp, const rt::Bindings &bindings)
    : specOp(specOp), specBody(specOp->getRegion(0).front()), bindings(bindings) {}

llvm::Error RegionInterpreter::initialize() {
  llvm::ArrayRef<Type> argTypes = getArgTypes(specOp);
  ArrayAttr defaults = getArgDefaults(specOp);
  for (auto [index, type] : llvm::enumerate(argTypes)) {
    StringRef name = getArgName(specOp, index);
    if (auto tensorType = llvm::dyn_cast<SpecTensorType>(type)) {
      auto expected = resolveShape(tensorType);
      if (!expected)
        return expected.takeError();
      if (index >= bindings.tensors.size())
        return makeError("no tensor bound to argument '" + name + "'");
      const rt::HostTensor &tensor = bindings.tensors[index];
      if (tensor.shape() != *expected)
        return makeError("argument '" + name + "' has shape " +
                         formatShape(tensor.shape()) + ", expected " +
                         formatShape(*expected));
      continue;
    }
    // Scalars: the bound value, else the declared default.
    double value;
    if (index < bindings.scalars.size()) {
      value = bindings.scalars[index];
    } else if (auto typed = llvm::dyn_cast_or_null<TypedAttr>(
                   defaults && index < defaults.size() ? defaults[index] : Attribute())) {
      if (auto floatAttr = llvm::dyn_cast<FloatAttr>(typed))
        value = floatAttr.getValueAsDouble();
      else
        value =
            static_cast<double>(llvm::cast<IntegerAttr>(typed).getValue().getSExtValue());
    } else {
      return makeError("no value bound to scalar argument '" + name + "'");
    }
    // An integer scalar must hold an integer that fits its 64-bit value.
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (type.isInteger() && !type.isInteger(1) &&
        !(std::trunc(value) == value && value >= -kTwoTo63 && value < kTwoTo63))
      return makeError("scalar argument '" + name + "' must be an integer, got " +
                       std::to_string(value));
    env[specBody.getArgument(index)] = scalarArgument(type, value);
  }
  return llvm::Error::success();
}

llvm::Expected<int64_t> RegionInterpreter::resolveDim(Attribute dim) const {
  if (auto literal = llvm::dyn_cast<IntegerAttr>(dim))
    return literal.getInt();
  StringRef spelling = llvm::cast<StringAttr>(dim).getValue();
  std::optional<mlir::tmix::SymbolicDim> split = mlir::tmix::splitSymbolicDim(spelling);
  StringRef symbol = split ? split->symbol : spelling;
  auto it = bindings.sizes.find(symbol.str());
  if (it == bindings.sizes.end())
    return makeError("size symbol '" + symbol + "' is not bound");
  return it->second + (split ? split->offset : 0);
}

llvm::Expected<std::vector<int64_t>>
RegionInterpreter::resolveShape(SpecTensorType type) const {
  std::vector<int64_t> shape;
  for (Attribute dim : type.getDims()) {
    auto size = resolveDim(dim);
    if (!size)
      return size.takeError();
    shape.push_back(*size);
  }
  return shape;
}

void RegionInterpreter::setRecurrencePoint(llvm::ArrayRef<Attribute> dims,
                                           llvm::ArrayRef<int64_t> point,
                                           StringRef time, int64_t first) {
  parallelDims.assign(dims.begin(), dims.end());
  parallelPoint.assign(point.begin(), point.end());
  timeSymbol = time.str();
  firstStep = first;
}

llvm::Expected<int64_t> RegionInterpreter::blockOffset(llvm::ArrayRef<Attribute> dims,
                                                       llvm::ArrayRef<int64_t> shape,
                                                       std::optional<int64_t> time,
                                                       size_t &blockDims,
                                                       const llvm::Twine &what) const {
  // The leading dims that are parallel dims, in order, matched greedily (as the
  // verifier matches them), take the current point's coordinates...
  llvm::SmallVector<int64_t> coords;
  unsigned next = 0;
  size_t pos = 0;
  auto recurrence = llvm::cast<mlir::tmix::RecurrenceOp>(specOp);
  for (; pos < dims.size(); ++pos) {
    Attribute standsFor = recurrence.resolveGroup(dims[pos]);
    auto *found = std::find(parallelDims.begin() + next, parallelDims.end(), standsFor);
    if (found == parallelDims.end())
      break;
    next = found - parallelDims.begin() + 1;
    int64_t coordinate = parallelPoint[found - parallelDims.begin()];
    if (standsFor != dims[pos]) {
      // A group symbol G read in place of P: point p reads group p / (P / G).
      auto groups = resolveDim(dims[pos]), points = resolveDim(standsFor);
      if (!groups || !points)
        return groups ? points.takeError() : groups.takeError();
      if (*groups <= 0 || *points % *groups != 0)
        return makeError("a group count must divide the parallel dimension it groups");
      coordinate /= *points / *groups;
    }
    coords.push_back(coordinate);
  }
  // ...then the time dim takes the step, counted from the point's first step...
  if (time) {
    auto symbol =
        pos < dims.size() ? llvm::dyn_cast<StringAttr>(dims[pos]) : StringAttr();
    if (!symbol || symbol.getValue() != timeSymbol)
      return makeError(what + " has no time dimension '" + timeSymbol +
                       "' after its parallel dims");
    coords.push_back(firstStep + *time);
    ++pos;
  }
  // ...and the rest is the block.
  blockDims = pos;
  int64_t base = 0;
  for (size_t dim = 0; dim < shape.size(); ++dim)
    base = base * shape[dim] + (dim < coords.size() ? coords[dim] : 0);
  return base;
}

llvm::Expected<RefValue> RegionInterpreter::sliceArgument(BlockArgument argument,
                                                          std::optional<int64_t> time,
                                                          Type resultType) const {
  auto type = llvm::cast<SpecTensorType>(argument.getType());
  const rt::HostTensor &tensor = bindings.tensors[argument.getArgNumber()];
  llvm::ArrayRef<int64_t> shape = tensor.shape();
  std::string name = ("argument '" + getArgName(specOp, argument.getArgNumber()) + "'").str();
  size_t pos = 0;
  auto base = blockOffset(type.getDims(), shape, time, pos, name);
  if (!base)
    return base.takeError();
  std::vector<int64_t> stepShape(shape.begin() + pos, shape.end());
  auto resultTensor = llvm::dyn_cast<SpecTensorType>(resultType);
  size_t resultRank = resultTensor ? resultTensor.getRank() : 0;
  if (stepShape.size() != resultRank)
    return makeError("slice of " + name + " leaves " + llvm::Twine(stepShape.size()) +
                     " dims, expected " + llvm::Twine(resultRank));
  if (!resultTensor)
    return RefValue::ofScalar(resultType, tensor.get(*base));
  RefTensor value;
  value.shape = std::move(stepShape);
  int64_t count = numElements(value.shape);
  value.data.resize(count);
  for (int64_t index = 0; index < count; ++index)
    value.data[index] = tensor.get(*base + index);
  return RefValue::ofTensor(std::move(value));
}

//===----------------------------------------------------------------------===//
// Running blocks
//===----------------------------------------------------------------------===//

llvm::Expected<RefValue> RegionInterpreter::lookup(Value value) const {
  auto it = env.find(value);
  if (it == env.end())
    return makeError("a value is used before it is defined");
  return it->second;
}

llvm::Expected<llvm::SmallVector<RefValue, 4>>
RegionInterpreter::run(Block &block, llvm::ArrayRef<RefValue> arguments) {
  if (arguments.size() != block.getNumArguments())
    return makeError("a region expects " + llvm::Twine(block.getNumArguments()) +
                     " arguments, got " + llvm::Twine(arguments.size()));
  for (auto [argument, value] : llvm::zip(block.getArguments(), arguments))
    env[argument] = value;
  for (Operation &op : block) {
    if (auto yield = llvm::dyn_cast<mlir::tmix::YieldOp>(op)) {
      llvm::SmallVector<RefValue, 4> results;
      for (Value operand : yield->getOperands()) {
        auto value = lookup(operand);
        if (!value)
          return value.takeError();
        results.push_back(std::move(*value));
      }
      return results;
    }
    if (llvm::Error error = evaluate(op))
      return std::move(error);
  }
  return makeError("a region has no tmix.yield");
}

llvm::Expected<RefValue>
RegionInterpreter::runScalar(Region &region, llvm::ArrayRef<RefValue> arguments) {
  if (region.empty())
    return makeError("a statement has an empty region");
  auto results = run(region.front(), arguments);
  if (!results)
    return results.takeError();
  if (results->size() != 1 || (*results)[0].kind == RefValue::Kind::Tensor)
    return makeError("a statement region must yield one scalar");
  return (*results)[0];
}

llvm::Error RegionInterpreter::evaluate(Operation &op) {
  llvm::SmallVector<RefValue, 4> operands;
  for (Value operand : op.getOperands()) {
    // Tensor arguments have no value of their own: tmix.read and tmix.slice read the
    // bindings through the block argument.
    if (llvm::isa<SpecTensorType>(operand.getType()) &&
        llvm::isa<BlockArgument>(operand) &&
        llvm::cast<BlockArgument>(operand).getOwner() == &specBody) {
      operands.emplace_back();
      continue;
    }
    auto value = lookup(operand);
    if (!value)
      return value.takeError();
    operands.push_back(std::move(*value));
  }
  llvm::Expected<RefValue> result = RefValue();
  if (llvm::isa<mlir::tmix::TmixDialect>(op.getDialect())) {
    result = evaluateTmixOp(op, operands);
  } else if (auto scalar = evaluateScalarOp(op, operands)) {
    result = std::move(*scalar);
  } else {
    return makeError("unsupported op '" + op.getName().getStringRef() + "'");
  }
  if (!result)
    return result.takeError();
  if (op.getNumResults() != 1)
    return makeError("unsupported op '" + op.getName().getStringRef() + "'");
  env[op.getResult(0)] = std::move(*result);
  return llvm::Error::success();
}
