//===- ExpressionOps.cpp - tmix expression ops of the reference evaluator -===//
//
// Size symbols, bounds-checked tensor reads, recurrence slices and the vector/matrix
// algebra of recurrence steps (outer, vecmat, matvec, dot, sum, map), on doubles.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/RegionInterpreter.h"

#include "dialect/TmixOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ::tmix::reference;
using mlir::tmix::SpecTensorType;

//===----------------------------------------------------------------------===//
// tmix expression ops
//===----------------------------------------------------------------------===//

/// The tensor operand of a vector/matrix op, with its rank checked.
static llvm::Expected<const RefTensor *> tensorOperand(const RefValue &value, size_t rank,
                                                       StringRef opName) {
  if (value.kind != RefValue::Kind::Tensor || value.tensor->shape.size() != rank)
    return makeError("'" + opName + "' expects a rank-" + llvm::Twine(rank) + " operand");
  return value.tensor.get();
}

static llvm::Error shapeMismatch(StringRef opName) {
  return makeError("'" + opName + "' has operands of mismatched sizes");
}

llvm::Expected<RefValue>
RegionInterpreter::evaluateRead(Operation &op, llvm::ArrayRef<RefValue> operands) const {
  auto read = llvm::cast<mlir::tmix::ReadOp>(op);
  auto argument = llvm::dyn_cast<BlockArgument>(read.getTensor());
  if (!argument || argument.getOwner() != &specBody)
    return makeError("'tmix.read' of a value that is not a spec argument");
  const rt::HostTensor &tensor = bindings.tensors[argument.getArgNumber()];
  Type resultType = read.getResult().getType();
  if (operands.size() != static_cast<size_t>(tensor.rank()) + 1)
    return makeError("'tmix.read' index count does not match the tensor's rank");
  int64_t linear = 0;
  for (int64_t dim = 0; dim < tensor.rank(); ++dim) {
    int64_t index = operands[dim + 1].i;
    // Out-of-bounds reads give 0 (false): DSL.md.
    if (index < 0 || index >= tensor.shape()[dim])
      return RefValue::ofScalar(resultType, 0.0);
    linear = linear * tensor.shape()[dim] + index;
  }
  return RefValue::ofScalar(resultType, tensor.get(linear));
}

llvm::Expected<RefValue>
RegionInterpreter::evaluateMap(Operation &op, llvm::ArrayRef<RefValue> operands) {
  auto map = llvm::cast<mlir::tmix::MapOp>(op);
  auto shape = resolveShape(map.getResult().getType());
  if (!shape)
    return shape.takeError();
  Block &body = map.getBody().front();
  int64_t count = numElements(*shape);
  int64_t columns = shape->size() == 2 ? (*shape)[1] : 1;

  // Each operand is a broadcast scalar, a tensor of the result's shape, or a vector
  // over the rows of a matrix result (a diagonal gate).
  enum class Broadcast { Scalar, Elementwise, Rows };
  llvm::SmallVector<Broadcast> modes;
  for (const RefValue &operand : operands) {
    if (operand.kind != RefValue::Kind::Tensor)
      modes.push_back(Broadcast::Scalar);
    else if (operand.tensor->shape == *shape)
      modes.push_back(Broadcast::Elementwise);
    else if (shape->size() == 2 && operand.tensor->shape.size() == 1 &&
             operand.tensor->shape[0] == (*shape)[0])
      modes.push_back(Broadcast::Rows);
    else
      return shapeMismatch("tmix.map");
  }

  RefTensor result;
  result.shape = *shape;
  result.data.resize(count);
  llvm::SmallVector<RefValue, 4> elements(operands.size());
  for (int64_t index = 0; index < count; ++index) {
    for (auto [k, operand] : llvm::enumerate(operands)) {
      Type elementType = body.getArgument(k).getType();
      switch (modes[k]) {
      case Broadcast::Scalar: elements[k] = operand; break;
      case Broadcast::Elementwise:
        elements[k] = RefValue::ofScalar(elementType, operand.tensor->data[index]);
        break;
      case Broadcast::Rows:
        elements[k] =
            RefValue::ofScalar(elementType, operand.tensor->data[index / columns]);
        break;
      }
    }
    auto yielded = run(body, elements);
    if (!yielded)
      return yielded.takeError();
    if (yielded->size() != 1 || (*yielded)[0].kind == RefValue::Kind::Tensor)
      return makeError("'tmix.map' body must yield one scalar");
    result.data[index] = (*yielded)[0].asDouble();
  }
  return RefValue::ofTensor(std::move(result));
}

llvm::Expected<RefValue> RegionInterpreter::evaluateTmixOp(Operation &op,
                                                           llvm::ArrayRef<RefValue> x) {
  using Result = llvm::Expected<RefValue>;
  StringRef name = op.getName().getStringRef();
  return llvm::TypeSwitch<Operation *, Result>(&op)
      .Case([&](mlir::tmix::SizeOp size) -> Result {
        auto it = bindings.sizes.find(size.getSymbol().str());
        if (it == bindings.sizes.end())
          return makeError("size symbol '" + size.getSymbol() + "' is not bound");
        return RefValue::ofInt(it->second);
      })
      .Case([&](mlir::tmix::ReadOp) { return evaluateRead(op, x); })
      .Case([&](mlir::tmix::ParallelIndexOp index) -> Result {
        if (index.getDim() < 0 || static_cast<size_t>(index.getDim()) >= parallelPoint.size())
          return makeError("'tmix.parallel_index' outside a recurrence's parallel point");
        return RefValue::ofInt(parallelPoint[index.getDim()]);
      })
      .Case([&](mlir::tmix::SliceOp slice) -> Result {
        auto argument = llvm::dyn_cast<BlockArgument>(slice.getSource());
        if (!argument || argument.getOwner() != &specBody ||
            !llvm::isa<mlir::tmix::RecurrenceOp>(specOp))
          return makeError("'tmix.slice' of a value that is not a recurrence argument");
        std::optional<int64_t> time;
        if (slice.getTime())
          time = x[1].i;
        return sliceArgument(argument, time, slice.getResult().getType());
      })
      .Case([&](mlir::tmix::OuterOp) -> Result {
        auto a = tensorOperand(x[0], 1, name);
        if (!a)
          return a.takeError();
        auto b = tensorOperand(x[1], 1, name);
        if (!b)
          return b.takeError();
        RefTensor result;
        int64_t rows = (*a)->shape[0], columns = (*b)->shape[0];
        result.shape = {rows, columns};
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < columns; ++c)
            result.data.push_back((*a)->data[r] * (*b)->data[c]);
        return RefValue::ofTensor(std::move(result));
      })
      .Case([&](mlir::tmix::VecMatOp) -> Result {
        // a @ S: out[c] = sum_r a[r] S[r, c].
        auto a = tensorOperand(x[0], 1, name);
        if (!a)
          return a.takeError();
        auto s = tensorOperand(x[1], 2, name);
        if (!s)
          return s.takeError();
        int64_t rows = (*s)->shape[0], columns = (*s)->shape[1];
        if ((*a)->shape[0] != rows)
          return shapeMismatch(name);
        RefTensor result;
        result.shape = {columns};
        result.data.assign(columns, 0.0);
        for (int64_t c = 0; c < columns; ++c)
          for (int64_t r = 0; r < rows; ++r)
            result.data[c] += (*a)->data[r] * (*s)->data[r * columns + c];
        return RefValue::ofTensor(std::move(result));
      })
      .Case([&](mlir::tmix::MatVecOp) -> Result {
        // S @ a: out[r] = sum_c S[r, c] a[c].
        auto s = tensorOperand(x[0], 2, name);
        if (!s)
          return s.takeError();
        auto a = tensorOperand(x[1], 1, name);
        if (!a)
          return a.takeError();
        int64_t rows = (*s)->shape[0], columns = (*s)->shape[1];
        if ((*a)->shape[0] != columns)
          return shapeMismatch(name);
        RefTensor result;
        result.shape = {rows};
        result.data.assign(rows, 0.0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < columns; ++c)
            result.data[r] += (*s)->data[r * columns + c] * (*a)->data[c];
        return RefValue::ofTensor(std::move(result));
      })
      .Case([&](mlir::tmix::DotOp) -> Result {
        auto a = tensorOperand(x[0], 1, name);
        if (!a)
          return a.takeError();
        auto b = tensorOperand(x[1], 1, name);
        if (!b)
          return b.takeError();
        if ((*a)->shape != (*b)->shape)
          return shapeMismatch(name);
        double sum = 0.0;
        for (size_t index = 0; index < (*a)->data.size(); ++index)
          sum += (*a)->data[index] * (*b)->data[index];
        return RefValue::ofFloat(sum);
      })
      .Case([&](mlir::tmix::SumOp) -> Result {
        if (x[0].kind != RefValue::Kind::Tensor)
          return makeError("'tmix.sum' expects a vector or matrix");
        double sum = 0.0;
        for (double element : x[0].tensor->data)
          sum += element;
        return RefValue::ofFloat(sum);
      })
      .Case([&](mlir::tmix::MapOp) { return evaluateMap(op, x); })
      .Default([&](Operation *) -> Result {
        return makeError("unsupported op '" + name + "'");
      });
}
