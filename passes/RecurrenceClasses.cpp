//===- RecurrenceClasses.cpp - The update class of each recurrent state ---===//
//
// Each value of the step region gets a symbolic form in the state S under analysis:
// independent of every state, linear (a sum of gated copies g ⊙ S, of rank-one
// projections c * outer(k, k @ (d ⊙ S)) and of an independent part), the vector
// c * k @ (d ⊙ S) on its way to such a projection, or opaque. Signs are dropped: they
// change a decay's or a delta strength's value, never the class.
//
//===----------------------------------------------------------------------===//

#include "passes/RecurrenceClasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace mlir::tmix;

StringRef mlir::tmix::stringifyUpdateClass(UpdateClass updateClass) {
  switch (updateClass) {
  case UpdateClass::ScalarDecay: return "scalar_decay";
  case UpdateClass::DiagonalDecay: return "diagonal_decay";
  case UpdateClass::Delta: return "delta";
  case UpdateClass::GatedDelta: return "gated_delta";
  case UpdateClass::General: return "general";
  }
  llvm_unreachable("unknown update class");
}

namespace {

/// Deeper chains of equal-looking ops are not worth proving equal.
constexpr unsigned kMaxEquivalenceDepth = 16;

/// An independent multiplier: `value`, or 1 / `value`.
struct Factor {
  Value value;
  bool inverse = false;
};

/// A gate: the product of scalar factors and of shaped ones ([K] row gates or
/// matrices of the state's shape, element-wise).
struct Gate {
  SmallVector<Factor> scalars, shaped;
  bool hasMatrix = false; // a shaped factor of the state's own shape
};

/// coef * outer(outerLhs, vecLhs @ (inner ⊙ S)); inner has no scalar factors (they
/// are moved to coef, scalars commute).
struct Projection {
  Value outerLhs, vecLhs;
  Gate inner;
  SmallVector<Factor> coef;
};

struct Form {
  enum Kind { Independent, Linear, Vector, Opaque } kind = Opaque;
  // Linear: sum of gates[i] ⊙ S + sum of projections + U, where U is a sum of
  // outer(updateLhs[j], ...) (a null entry: some other independent matrix).
  SmallVector<Gate, 1> gates;
  SmallVector<Projection, 1> projections;
  SmallVector<Value, 1> updateLhs;
  // Vector: coef * vecLhs @ (inner ⊙ S) (+ an independent vector).
  Value vecLhs;
  Gate inner;
  SmallVector<Factor> coef;

  static Form independent() { return {Independent}; }
  static Form opaque() { return {Opaque}; }
  bool isIndependent() const { return kind == Independent; }
};

/// Structural equality of independent values: the same value, or pure ops with the
/// same attributes on equal operands (two `tmix.slice %k[%t]` are equal).
class Equivalence {
public:
  bool values(Value lhs, Value rhs, unsigned depth = 0) {
    if (lhs == rhs || blockArgs.lookup(lhs) == rhs)
      return true;
    Operation *lhsOp = lhs.getDefiningOp(), *rhsOp = rhs.getDefiningOp();
    if (!lhsOp || !rhsOp || depth > kMaxEquivalenceDepth ||
        llvm::cast<OpResult>(lhs).getResultNumber() !=
            llvm::cast<OpResult>(rhs).getResultNumber() ||
        !isMemoryEffectFree(lhsOp) || !isMemoryEffectFree(rhsOp))
      return false;
    return OperationEquivalence::isEquivalentTo(
        lhsOp, rhsOp, [&](Value a, Value b) { return success(values(a, b, depth + 1)); },
        [&](Value a, Value b) { blockArgs[a] = b; },
        OperationEquivalence::IgnoreLocations);
  }

  bool factors(const Factor &lhs, const Factor &rhs) {
    return lhs.inverse == rhs.inverse && values(lhs.value, rhs.value);
  }

  /// Whether every factor of `sub` matches a distinct factor of `super`.
  bool subset(ArrayRef<Factor> sub, ArrayRef<Factor> super) {
    SmallVector<bool> used(super.size(), false);
    for (const Factor &factor : sub) {
      bool found = false;
      for (auto [index, candidate] : llvm::enumerate(super)) {
        if (used[index] || !factors(factor, candidate))
          continue;
        used[index] = found = true;
        break;
      }
      if (!found)
        return false;
    }
    return true;
  }

  bool sameFactors(ArrayRef<Factor> lhs, ArrayRef<Factor> rhs) {
    return lhs.size() == rhs.size() && subset(lhs, rhs);
  }

private:
  /// Block arguments of equal regions (map bodies) matched so far.
  DenseMap<Value, Value> blockArgs;
};

enum class Arith { Add, Sub, Mul, Div, Neg };

/// The arith op of a scalar body: addf, subf, mulf, divf or negf.
std::optional<Arith> getArith(Operation *op) {
  if (isa<arith::AddFOp>(op))
    return Arith::Add;
  if (isa<arith::SubFOp>(op))
    return Arith::Sub;
  if (isa<arith::MulFOp>(op))
    return Arith::Mul;
  if (isa<arith::DivFOp>(op))
    return Arith::Div;
  if (isa<arith::NegFOp>(op))
    return Arith::Neg;
  return std::nullopt;
}

/// The forms of the values of one step region, for one state.
class StateForms {
public:
  StateForms(Block &step, unsigned stateIndex)
      : stateType(step.getArgument(1 + stateIndex).getType()) {
    for (auto [index, arg] : llvm::enumerate(step.getArguments().drop_front())) {
      Form form;
      if (index == stateIndex) {
        form.kind = Form::Linear;
        form.gates.emplace_back(); // 1 ⊙ S
      }
      forms[arg] = form; // another state: opaque (coupled states are general)
    }
    for (Operation &op : step.without_terminator())
      for (Value result : op.getResults())
        forms[result] = compute(op);
  }

  /// The class of the state whose new value is `next`.
  UpdateClass classify(Value next) {
    const Form &form = get(next);
    if (form.isIndependent())
      return UpdateClass::ScalarDecay; // a_t = 0: the old state is dropped
    if (form.kind != Form::Linear)
      return UpdateClass::General;
    if (form.projections.empty()) {
      bool diagonal =
          llvm::any_of(form.gates, [](const Gate &g) { return !g.shaped.empty(); });
      return diagonal ? UpdateClass::DiagonalDecay : UpdateClass::ScalarDecay;
    }
    // (I - b k k^T)(g ⊙ S) + k u^T = g ⊙ S - b g * outer(k, k @ (d ⊙ S)) + outer(k, u)
    // with g = (scalars of g) ⊙ d: one gated copy, one projection along the same k, and
    // every independent term an outer product along k.
    if (form.gates.size() != 1 || form.projections.size() != 1)
      return UpdateClass::General;
    const Gate &gate = form.gates.front();
    const Projection &projection = form.projections.front();
    if (gate.hasMatrix || projection.inner.hasMatrix ||
        !equivalence.values(projection.outerLhs, projection.vecLhs) ||
        !equivalence.sameFactors(gate.shaped, projection.inner.shaped) ||
        !equivalence.subset(gate.scalars, projection.coef))
      return UpdateClass::General;
    for (Value lhs : form.updateLhs)
      if (!lhs || !equivalence.values(lhs, projection.outerLhs))
        return UpdateClass::General;
    return gate.scalars.empty() && gate.shaped.empty() ? UpdateClass::Delta
                                                       : UpdateClass::GatedDelta;
  }

private:
  const Form &get(Value value) {
    auto it = forms.find(value);
    if (it != forms.end())
      return it->second;
    return independentForm; // defined above the step (arguments, constants) or t
  }

  Form compute(Operation &op) {
    // An op that reads no state (directly or inside its regions) is independent.
    bool independent =
        llvm::all_of(op.getOperands(), [&](Value v) { return get(v).isIndependent(); });
    op.walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (!get(operand).isIndependent())
          independent = false;
    });
    if (independent)
      return Form::independent();

    if (auto map = dyn_cast<MapOp>(op))
      return computeMap(map);
    if (auto vecmat = dyn_cast<VecMatOp>(op))
      return computeVecMat(vecmat);
    if (auto outer = dyn_cast<OuterOp>(op))
      return computeOuter(outer);
    // Scalar states: plain arith on f32.
    if (std::optional<Arith> kind = getArith(&op)) {
      if (*kind == Arith::Neg)
        return get(op.getOperand(0));
      return combine(*kind, op.getOperand(0), op.getOperand(1),
                     op.getResult(0).getType());
    }
    return Form::opaque();
  }

  /// A map whose body is one addf/subf/mulf/divf/negf on its arguments or on values
  /// from above.
  Form computeMap(MapOp map) {
    Block &body = map.getBody().front();
    if (body.getOperations().size() != 2)
      return Form::opaque();
    Operation &inner = body.front();
    auto yield = dyn_cast<YieldOp>(body.getTerminator());
    std::optional<Arith> kind = getArith(&inner);
    if (!kind || !yield || yield->getNumOperands() != 1 ||
        yield->getOperand(0) != inner.getResult(0))
      return Form::opaque();
    // The map operand (or value from above) behind each scalar operand.
    SmallVector<Value, 2> operands;
    for (Value operand : inner.getOperands()) {
      if (auto arg = dyn_cast<BlockArgument>(operand); arg && arg.getOwner() == &body)
        operands.push_back(map.getInputs()[arg.getArgNumber()]);
      else if (operand.getParentRegion() != &map.getBody())
        operands.push_back(operand);
      else
        return Form::opaque();
    }
    // An operand that reads a state but is not used by the body would be harmless;
    // one that is used is in `operands`.
    Type resultType = map.getResult().getType();
    if (*kind == Arith::Neg) {
      const Form &form = get(operands[0]);
      return operands[0].getType() == resultType ? form : Form::opaque();
    }
    return combine(*kind, operands[0], operands[1], resultType);
  }

  /// lhs (op) rhs, element-wise with broadcasting to `resultType`.
  Form combine(Arith kind, Value lhs, Value rhs, Type resultType) {
    const Form &a = get(lhs), &b = get(rhs);
    switch (kind) {
    case Arith::Add:
    case Arith::Sub: return add(lhs, a, rhs, b, resultType);
    case Arith::Mul:
      if (b.isIndependent())
        return scale(lhs, a, rhs, /*inverse=*/false, resultType);
      if (a.isIndependent())
        return scale(rhs, b, lhs, /*inverse=*/false, resultType);
      return Form::opaque(); // S * S
    case Arith::Div:
      if (b.isIndependent())
        return scale(lhs, a, rhs, /*inverse=*/true, resultType);
      return Form::opaque(); // x / S
    case Arith::Neg: break;
    }
    return Form::opaque();
  }

  Form add(Value lhs, const Form &a, Value rhs, const Form &b, Type resultType) {
    if (a.kind == Form::Linear && b.kind == Form::Linear && lhs.getType() == resultType &&
        rhs.getType() == resultType) {
      Form sum = a;
      llvm::append_range(sum.gates, b.gates);
      llvm::append_range(sum.projections, b.projections);
      llvm::append_range(sum.updateLhs, b.updateLhs);
      return sum;
    }
    if (a.isIndependent())
      return add(rhs, b, lhs, a, resultType);
    if (!b.isIndependent() || lhs.getType() != resultType)
      return Form::opaque();
    if (a.kind == Form::Vector)
      return a;
    if (a.kind != Form::Linear)
      return Form::opaque();
    Form sum = a;
    collectOuterLhs(rhs, resultType, sum.updateLhs);
    return sum;
  }

  /// form ⊙ factor (or form / factor), `factor` independent.
  Form scale(Value value, const Form &form, Value factor, bool inverse, Type resultType) {
    if (value.getType() != resultType)
      return Form::opaque(); // the state broadcast into something larger
    Type factorType = factor.getType();
    bool scalar = !isa<SpecTensorType>(factorType);
    bool matrix = factorType == resultType;
    if (!scalar && !matrix) {
      // A [K] row gate over a [K, V] result.
      auto result = dyn_cast<SpecTensorType>(resultType);
      auto vector = cast<SpecTensorType>(factorType);
      if (!result || result.getRank() != 2 || vector.getRank() != 1)
        return Form::opaque();
    }
    Factor f{factor, inverse};
    Form scaled = form;
    switch (form.kind) {
    case Form::Linear:
      for (Gate &gate : scaled.gates) {
        if (scalar) {
          gate.scalars.push_back(f);
        } else {
          gate.shaped.push_back(f);
          gate.hasMatrix |= matrix;
        }
      }
      if (scalar) {
        for (Projection &projection : scaled.projections)
          projection.coef.push_back(f);
        return scaled;
      }
      // d ⊙ outer(k, x) = outer(d ⊙ k, x): no longer along k.
      if (!scaled.projections.empty())
        return Form::opaque();
      for (Value &lhs : scaled.updateLhs)
        lhs = Value();
      return scaled;
    case Form::Vector:
      if (!scalar)
        return Form::opaque();
      scaled.coef.push_back(f);
      return scaled;
    default: return Form::opaque();
    }
  }

  /// k @ (g ⊙ S): a single gated copy of a matrix state.
  Form computeVecMat(VecMatOp op) {
    const Form &k = get(op.getLhs()), &s = get(op.getRhs());
    if (!k.isIndependent() || s.kind != Form::Linear || s.gates.size() != 1 ||
        !s.projections.empty() || op.getRhs().getType() != stateType)
      return Form::opaque();
    Form vector;
    vector.kind = Form::Vector;
    vector.vecLhs = op.getLhs();
    const Gate &gate = s.gates.front();
    vector.inner.shaped = gate.shaped;
    vector.inner.hasMatrix = gate.hasMatrix;
    vector.coef = gate.scalars;
    return vector;
  }

  /// outer(k, c * k' @ (d ⊙ S) + u): a projection, plus the update outer(k, u).
  Form computeOuter(OuterOp op) {
    const Form &k = get(op.getLhs()), &x = get(op.getRhs());
    if (!k.isIndependent() || x.kind != Form::Vector ||
        op.getResult().getType() != stateType)
      return Form::opaque();
    Form linear;
    linear.kind = Form::Linear;
    linear.projections.push_back({op.getLhs(), x.vecLhs, x.inner, x.coef});
    linear.updateLhs.push_back(op.getLhs());
    return linear;
  }

  /// The left factors of the outer products an independent update `u` sums (a null
  /// entry for a term that is not one).
  void collectOuterLhs(Value u, Type resultType, SmallVectorImpl<Value> &lhs) {
    if (u.getType() != resultType) {
      lhs.push_back(Value());
      return;
    }
    if (auto outer = u.getDefiningOp<OuterOp>()) {
      lhs.push_back(outer.getLhs());
      return;
    }
    auto map = u.getDefiningOp<MapOp>();
    if (map && map.getBody().front().getOperations().size() == 2 &&
        map.getInputs().size() <= 2) {
      std::optional<Arith> kind = getArith(&map.getBody().front().front());
      auto inputs = map.getInputs();
      bool direct = llvm::all_of(map.getBody().front().front().getOperands(),
                                 [&](Value v) { return isa<BlockArgument>(v); });
      if (kind && direct && inputs.size() == 2 &&
          (*kind == Arith::Add || *kind == Arith::Sub)) {
        collectOuterLhs(inputs[0], resultType, lhs);
        collectOuterLhs(inputs[1], resultType, lhs);
        return;
      }
      // A scalar times an outer product stays along the same k.
      if (kind && direct && inputs.size() == 2 &&
          (*kind == Arith::Mul || *kind == Arith::Div)) {
        bool lhsScalar = !isa<SpecTensorType>(inputs[0].getType());
        bool rhsScalar = !isa<SpecTensorType>(inputs[1].getType());
        if (rhsScalar && !lhsScalar) {
          collectOuterLhs(inputs[0], resultType, lhs);
          return;
        }
        if (lhsScalar && !rhsScalar && *kind == Arith::Mul) {
          collectOuterLhs(inputs[1], resultType, lhs);
          return;
        }
      }
      if (kind && direct && inputs.size() == 1 && *kind == Arith::Neg) {
        collectOuterLhs(inputs[0], resultType, lhs);
        return;
      }
    }
    lhs.push_back(Value());
  }

  Type stateType;
  DenseMap<Value, Form> forms;
  Form independentForm = Form::independent();
  Equivalence equivalence;
};

} // namespace

RecurrenceClasses::RecurrenceClasses(RecurrenceOp op) {
  SmallVector<StateOp, 4> states = op.getStateOps();
  StepOp step = op.getStepOp();
  if (!step || step.getBody().empty()) {
    classes.assign(states.size(), UpdateClass::General);
    return;
  }
  Block &block = step.getBody().front();
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  for (unsigned index = 0; index < states.size(); ++index) {
    if (!yield || yield->getNumOperands() <= index ||
        block.getNumArguments() <= 1 + index) {
      classes.push_back(UpdateClass::General);
      continue;
    }
    StateForms forms(block, index);
    classes.push_back(forms.classify(yield->getOperand(index)));
  }
}
