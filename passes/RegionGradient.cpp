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

/// The adjoints of the scalar region being differentiated, keyed by source value.
class AdjointBuilder {
public:
  AdjointBuilder(ImplicitLocOpBuilder &b, IRMapping &primal) : b(b), primal(primal) {}

  /// The adjoint of source value `v`, or null when nothing flows into it.
  Value adjointOf(Value v) const { return adjoints.lookup(v); }
  void seed(Value v, Value adjoint) { adjoints[v] = adjoint; }

  /// Adds the contributions of `op` (whose results' adjoints are known) to the adjoints
  /// of its `active` operands.
  LogicalResult propagate(Operation &op, const llvm::DenseSet<Value> &active) {
    return emitScalarAdjoint(
        b, op, adjointOf(op.getResult(0)), primal,
        [&](Value v) { return active.contains(v); },
        [&](Value x, Value contribution) {
          Value &slot = adjoints[x];
          slot = slot ? arith::AddFOp::create(b, slot, contribution).getResult()
                      : contribution;
        });
  }

private:
  ImplicitLocOpBuilder &b;
  IRMapping &primal;
  llvm::DenseMap<Value, Value> adjoints;
};

} // namespace

LogicalResult mlir::tmix::emitScalarAdjoint(ImplicitLocOpBuilder &b, Operation &op,
                                            Value bar, const IRMapping &primal,
                                            function_ref<bool(Value)> isActive,
                                            function_ref<void(Value, Value)> accumulate) {
  if (op.getNumResults() != 1)
    return op.emitOpError("has no derivative rule (tmix derives gradients of "
                          "single-result scalar ops)");
  auto p = [&](Value source) { return primal.lookup(source); };
  auto constant = [&](Type type, double value) -> Value {
    return arith::ConstantOp::create(b, FloatAttr::get(type, value));
  };
  auto mul = [&](Value x, Value y) -> Value { return arith::MulFOp::create(b, x, y); };
  auto div = [&](Value x, Value y) -> Value { return arith::DivFOp::create(b, x, y); };
  auto neg = [&](Value x) -> Value { return arith::NegFOp::create(b, x); };
  auto select = [&](Value c, Value x, Value y) -> Value {
    return arith::SelectOp::create(b, c, x, y);
  };
  auto compare = [&](arith::CmpFPredicate predicate, Value x, Value y) -> Value {
    return arith::CmpFOp::create(b, predicate, x, y);
  };
  // adjoint(x) += contribution, for an active x.
  // Where the local derivative can be infinite (sqrt, rsqrt, log at 0; a division by
  // a computed 0), a zero adjoint gives a zero contribution, not 0 * inf = NaN: the
  // branch a select did not take (`x > 0 ? sqrt(x) : 0`) stays harmless. A divisor from
  // outside the region (a scalar argument) is the caller's to keep non-zero.
  auto computed = [&](Value v) {
    return v.getParentRegion() == op.getParentRegion() && !v.getDefiningOp<arith::ConstantOp>();
  };
  bool singular =
      isa<math::SqrtOp, math::RsqrtOp, math::LogOp, math::Log2Op, math::Log1pOp>(op) ||
      (isa<arith::DivFOp>(op) && computed(op.getOperand(1)));
  auto add = [&](Value x, Value contribution) {
    if (!isActive(x))
      return;
    if (singular) {
      Value zero = arith::ConstantOp::create(b, FloatAttr::get(bar.getType(), 0.0));
      Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, bar, zero);
      contribution = arith::SelectOp::create(b, none, zero, contribution);
    }
    accumulate(x, contribution);
  };
  Value result = op.getResult(0);
  Type type = result.getType();
  auto operand = [&](unsigned index) { return op.getOperand(index); };
  auto one = [&] { return constant(type, 1.0); };
  auto zero = [&] { return constant(type, 0.0); };
  Value y = p(result);

  if (isa<arith::AddFOp>(op)) {
    add(operand(0), bar);
    add(operand(1), bar);
  } else if (isa<arith::SubFOp>(op)) {
    add(operand(0), bar);
    if (isActive(operand(1)))
      add(operand(1), neg(bar));
  } else if (isa<arith::MulFOp>(op)) {
    if (isActive(operand(0)))
      add(operand(0), mul(bar, p(operand(1))));
    if (isActive(operand(1)))
      add(operand(1), mul(bar, p(operand(0))));
  } else if (isa<arith::DivFOp>(op)) { // y = a / b: da = g / b, db = -g y / b
    Value divisor = p(operand(1));
    if (isActive(operand(0)))
      add(operand(0), div(bar, divisor));
    if (isActive(operand(1)))
      add(operand(1), neg(div(mul(bar, y), divisor)));
  } else if (isa<arith::RemFOp>(op)) { // y = a - b trunc(a / b)
    add(operand(0), bar);
    if (isActive(operand(1))) {
      Value quotient = math::TruncOp::create(b, div(p(operand(0)), p(operand(1))));
      add(operand(1), neg(mul(bar, quotient)));
    }
  } else if (isa<arith::NegFOp>(op)) {
    add(operand(0), neg(bar));
  } else if (isa<arith::MaximumFOp, arith::MinimumFOp>(op)) {
    // Ties go to the first operand, as torch.maximum's subgradient does not: it
    // splits them; a tie has measure zero on random inputs.
    auto predicate = isa<arith::MaximumFOp>(op) ? arith::CmpFPredicate::OGE
                                                : arith::CmpFPredicate::OLE;
    Value first = compare(predicate, p(operand(0)), p(operand(1)));
    if (isActive(operand(0)))
      add(operand(0), select(first, bar, zero()));
    if (isActive(operand(1)))
      add(operand(1), select(first, zero(), bar));
  } else if (auto selectOp = dyn_cast<arith::SelectOp>(op)) {
    Value condition = p(selectOp.getCondition());
    if (isActive(selectOp.getTrueValue()))
      add(selectOp.getTrueValue(), select(condition, bar, zero()));
    if (isActive(selectOp.getFalseValue()))
      add(selectOp.getFalseValue(), select(condition, zero(), bar));
  } else if (isa<arith::ExtFOp>(op)) {
    add(operand(0), arith::TruncFOp::create(b, operand(0).getType(), bar));
  } else if (isa<math::TanhOp>(op)) { // 1 - y^2
    add(operand(0), mul(bar, arith::SubFOp::create(b, one(), mul(y, y))));
  } else if (isa<math::ExpOp>(op)) {
    add(operand(0), mul(bar, y));
  } else if (isa<math::Exp2Op>(op)) {
    add(operand(0), mul(bar, mul(y, constant(type, M_LN2))));
  } else if (isa<math::ExpM1Op>(op)) {
    add(operand(0), mul(bar, arith::AddFOp::create(b, y, one())));
  } else if (isa<math::LogOp>(op)) {
    add(operand(0), div(bar, p(operand(0))));
  } else if (isa<math::Log2Op>(op)) {
    add(operand(0), div(bar, mul(p(operand(0)), constant(type, M_LN2))));
  } else if (isa<math::Log1pOp>(op)) {
    add(operand(0), div(bar, arith::AddFOp::create(b, p(operand(0)), one())));
  } else if (isa<math::SqrtOp>(op)) { // 1 / (2 y)
    add(operand(0), div(bar, mul(constant(type, 2.0), y)));
  } else if (isa<math::RsqrtOp>(op)) { // -y / (2 a)
    add(operand(0), neg(div(mul(bar, y), mul(constant(type, 2.0), p(operand(0))))));
  } else if (isa<math::AbsFOp>(op)) { // sign(a), 0 at 0 (as torch.abs)
    Value a = p(operand(0)), z = zero();
    Value sign = select(compare(arith::CmpFPredicate::OGT, a, z), one(),
                        select(compare(arith::CmpFPredicate::OLT, a, z),
                               constant(type, -1.0), z));
    add(operand(0), mul(bar, sign));
  } else if (isa<math::FloorOp, math::CeilOp, math::TruncOp, math::RoundOp>(op)) {
    // Piecewise constant: no contribution.
  } else {
    return op.emitOpError("has no derivative rule: tmix cannot derive the gradient "
                          "through it");
  }
  return success();
}

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
  // y itself may be a value from above (`scale = tau`, `sink = s0`).
  Value y = from.getTerminator()->getOperand(0);
  if (params && isa<FloatType>(y.getType()) && y.getParentRegion() != &source &&
      !llvm::is_contained(scalars, y)) {
    scalars.push_back(y);
    active.insert(y);
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
