//===- RegionGradient.cpp - Reverse mode through a scalar region ----------===//
//
// Three sweeps over the source block:
//   1. activity: which f32 values depend on the argument (the others have no adjoint);
//   2. the primal: every op cloned into the target, in order;
//   3. the adjoints, in reverse: from y's adjoint g, each active op adds its operands'
//      contributions (the rule of the op, on the cloned primal values).
//
//===----------------------------------------------------------------------===//

#include "passes/RegionGradient.h"

#include "dialect/TmixOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tmix;

namespace {

class AdjointBuilder {
public:
  AdjointBuilder(ImplicitLocOpBuilder &b, IRMapping &primal) : b(b), primal(primal) {}

  /// The adjoint of source value `v`, or null when nothing flows into it.
  Value adjointOf(Value v) const { return adjoints.lookup(v); }
  void seed(Value v, Value adjoint) { adjoints[v] = adjoint; }

  /// Adds the contributions of `op` (whose results' adjoints are known) to the adjoints
  /// of its `active` operands.
  LogicalResult propagate(Operation &op, const llvm::DenseSet<Value> &active);

private:
  Value p(Value source) { return primal.lookup(source); }
  Value constant(Type type, double value) {
    return arith::ConstantOp::create(b, FloatAttr::get(type, value));
  }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, x); }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, c, x, y); }
  Value compare(arith::CmpFPredicate predicate, Value x, Value y) {
    return arith::CmpFOp::create(b, predicate, x, y);
  }
  /// adjoint(x) += contribution, for an active x.
  void add(Value x, Value contribution, const llvm::DenseSet<Value> &active) {
    if (!active.contains(x))
      return;
    Value &slot = adjoints[x];
    slot = slot ? arith::AddFOp::create(b, slot, contribution).getResult() : contribution;
  }

  ImplicitLocOpBuilder &b;
  IRMapping &primal;
  llvm::DenseMap<Value, Value> adjoints;
};

LogicalResult AdjointBuilder::propagate(Operation &op,
                                        const llvm::DenseSet<Value> &active) {
  if (op.getNumResults() != 1)
    return op.emitOpError("has no derivative rule (tmix derives gradients of "
                          "single-result scalar ops)");
  Value result = op.getResult(0);
  Value bar = adjointOf(result);
  Type type = result.getType();
  auto operand = [&](unsigned index) { return op.getOperand(index); };
  auto one = [&] { return constant(type, 1.0); };
  auto zero = [&] { return constant(type, 0.0); };
  Value y = p(result);

  if (isa<arith::AddFOp>(op)) {
    add(operand(0), bar, active);
    add(operand(1), bar, active);
  } else if (isa<arith::SubFOp>(op)) {
    add(operand(0), bar, active);
    if (active.contains(operand(1)))
      add(operand(1), neg(bar), active);
  } else if (isa<arith::MulFOp>(op)) {
    if (active.contains(operand(0)))
      add(operand(0), mul(bar, p(operand(1))), active);
    if (active.contains(operand(1)))
      add(operand(1), mul(bar, p(operand(0))), active);
  } else if (isa<arith::DivFOp>(op)) { // y = a / b: da = g / b, db = -g y / b
    Value divisor = p(operand(1));
    if (active.contains(operand(0)))
      add(operand(0), div(bar, divisor), active);
    if (active.contains(operand(1)))
      add(operand(1), neg(div(mul(bar, y), divisor)), active);
  } else if (isa<arith::RemFOp>(op)) { // y = a - b trunc(a / b)
    add(operand(0), bar, active);
    if (active.contains(operand(1))) {
      Value quotient = math::TruncOp::create(b, div(p(operand(0)), p(operand(1))));
      add(operand(1), neg(mul(bar, quotient)), active);
    }
  } else if (isa<arith::NegFOp>(op)) {
    add(operand(0), neg(bar), active);
  } else if (isa<arith::MaximumFOp, arith::MinimumFOp>(op)) {
    // Ties go to the first operand, as torch.maximum's subgradient does not: it
    // splits them; a tie has measure zero on random inputs.
    auto predicate = isa<arith::MaximumFOp>(op) ? arith::CmpFPredicate::OGE
                                                : arith::CmpFPredicate::OLE;
    Value first = compare(predicate, p(operand(0)), p(operand(1)));
    if (active.contains(operand(0)))
      add(operand(0), select(first, bar, zero()), active);
    if (active.contains(operand(1)))
      add(operand(1), select(first, zero(), bar), active);
  } else if (auto selectOp = dyn_cast<arith::SelectOp>(op)) {
    Value condition = p(selectOp.getCondition());
    if (active.contains(selectOp.getTrueValue()))
      add(selectOp.getTrueValue(), select(condition, bar, zero()), active);
    if (active.contains(selectOp.getFalseValue()))
      add(selectOp.getFalseValue(), select(condition, zero(), bar), active);
  } else if (isa<arith::ExtFOp>(op)) {
    add(operand(0), arith::TruncFOp::create(b, operand(0).getType(), bar), active);
  } else if (isa<math::TanhOp>(op)) { // 1 - y^2
    add(operand(0), mul(bar, arith::SubFOp::create(b, one(), mul(y, y))), active);
  } else if (isa<math::ExpOp>(op)) {
    add(operand(0), mul(bar, y), active);
  } else if (isa<math::Exp2Op>(op)) {
    add(operand(0), mul(bar, mul(y, constant(type, M_LN2))), active);
  } else if (isa<math::ExpM1Op>(op)) {
    add(operand(0), mul(bar, arith::AddFOp::create(b, y, one())), active);
  } else if (isa<math::LogOp>(op)) {
    add(operand(0), div(bar, p(operand(0))), active);
  } else if (isa<math::Log2Op>(op)) {
    add(operand(0), div(bar, mul(p(operand(0)), constant(type, M_LN2))), active);
  } else if (isa<math::Log1pOp>(op)) {
    add(operand(0), div(bar, arith::AddFOp::create(b, p(operand(0)), one())), active);
  } else if (isa<math::SqrtOp>(op)) { // 1 / (2 y)
    add(operand(0), div(bar, mul(constant(type, 2.0), y)), active);
  } else if (isa<math::RsqrtOp>(op)) { // -y / (2 a)
    add(operand(0), neg(div(mul(bar, y), mul(constant(type, 2.0), p(operand(0))))),
        active);
  } else if (isa<math::AbsFOp>(op)) { // sign(a), 0 at 0 (as torch.abs)
    Value a = p(operand(0)), z = zero();
    Value sign = select(compare(arith::CmpFPredicate::OGT, a, z), one(),
                        select(compare(arith::CmpFPredicate::OLT, a, z),
                               constant(type, -1.0), z));
    add(operand(0), mul(bar, sign), active);
  } else if (isa<math::FloorOp, math::CeilOp, math::TruncOp, math::RoundOp>(op)) {
    // Piecewise constant: no contribution.
  } else {
    return op.emitOpError("has no derivative rule: tmix cannot derive the gradient "
                          "through it");
  }
  return success();
}

} // namespace

LogicalResult mlir::tmix::buildRegionGradient(Region &source, Region &target,
                                              const IRMapping &outside,
                                              std::optional<unsigned> wrt, bool params) {
  Block &from = source.front();
  Location loc = source.getParentOp()->getLoc();
  SmallVector<Type> argumentTypes(from.getArgumentTypes());
  Type f32 = Float32Type::get(source.getContext());
  argumentTypes.push_back(f32);
  Block *into = new Block();
  target.push_back(into);
  for (Type type : argumentTypes)
    into->addArgument(type, loc);
  Value g = into->getArguments().back();

  // 1. Activity: from the argument, and with params from the float reads and the float
  // values from above (the spec's scalar arguments), in their order of first use.
  llvm::DenseSet<Value> active;
  SmallVector<Value> scalars; // float values from above
  SmallVector<ReadOp> reads;  // float reads
  if (wrt)
    active.insert(from.getArgument(*wrt));
  for (Operation &op : from.without_terminator()) {
    if (params) {
      for (Value operand : op.getOperands())
        if (isa<FloatType>(operand.getType()) && operand.getParentRegion() != &source &&
            !llvm::is_contained(scalars, operand)) {
          scalars.push_back(operand);
          active.insert(operand);
        }
      if (auto read = dyn_cast<ReadOp>(op); read && isa<FloatType>(read.getType())) {
        reads.push_back(read);
        active.insert(read.getResult());
        continue;
      }
    }
    if (llvm::any_of(op.getOperands(), [&](Value v) { return active.contains(v); }))
      for (Value result : op.getResults())
        if (isa<FloatType>(result.getType()))
          active.insert(result);
  }

  // 2. The primal.
  IRMapping primal = outside;
  for (auto [sourceArg, targetArg] : llvm::zip(from.getArguments(), into->getArguments()))
    primal.map(sourceArg, targetArg);
  ImplicitLocOpBuilder b(loc, into, into->end());
  for (Operation &op : from.without_terminator())
    b.clone(op, primal);

  // 3. The adjoints.
  auto yield = cast<YieldOp>(from.getTerminator());
  AdjointBuilder adjoints(b, primal);
  if (active.contains(yield.getOperand(0)))
    adjoints.seed(yield.getOperand(0), g);
  for (Operation &op : llvm::reverse(from.without_terminator())) {
    if (isa<ReadOp>(op) || op.getNumResults() == 0 ||
        llvm::none_of(op.getResults(), [&](Value r) { return adjoints.adjointOf(r); }))
      continue;
    if (failed(adjoints.propagate(op, active)))
      return failure();
  }
  // 4. What the region yields or accumulates.
  for (ReadOp read : reads)
    if (Value adjoint = adjoints.adjointOf(read.getResult())) {
      SmallVector<Value> indices;
      for (Value index : read.getIndices())
        indices.push_back(primal.lookup(index));
      AccumulateOp::create(b, primal.lookup(read.getTensor()), indices, adjoint);
    }
  for (Value scalar : scalars)
    if (Value adjoint = adjoints.adjointOf(scalar)) {
      if (adjoint.getType() != f32)
        adjoint = arith::ExtFOp::create(b, f32, adjoint);
      AccumulateOp::create(b, primal.lookup(scalar), ValueRange{}, adjoint);
    }
  if (wrt) {
    Value result = adjoints.adjointOf(from.getArgument(*wrt));
    if (!result)
      result = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
    YieldOp::create(b, ValueRange{result});
  } else {
    YieldOp::create(b, ValueRange{});
  }
  // The primal values no adjoint reads (y itself, often) are dead.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*into)))
    if (isOpTriviallyDead(&op))
      op.erase();
  return success();
}
