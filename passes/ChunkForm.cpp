//===- ChunkForm.cpp - A decaying state update, term by term --------------===//
//
// Walks the update chain of a matrix state down from the value the step yields:
// each tmix.map on the way is one arith op that adds an independent matrix (a sum of
// scaled outer products), scales by an independent factor, or negates. Scale factors
// met on the way apply to everything below them, so S' = g ⊙ (S + outer(k, v)) gives
// the gate g and the term g ⊙ outer(k, v).
//
//===----------------------------------------------------------------------===//

#include "passes/ChunkForm.h"

#include "passes/RecurrenceClasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::tmix;

bool ChunkForm::hasRowGate() const {
  return llvm::any_of(gate, [](const ChunkFactor &factor) {
    return isa<SpecTensorType>(factor.value.getType());
  });
}

bool ChunkForm::needsSign() const {
  return negatedGate ||
         llvm::any_of(gate, [](const ChunkFactor &factor) { return !factor.isExp; });
}

namespace {

enum class Arith { Add, Sub, Mul, Div, Neg };

/// A map whose body is one arith op on its arguments or on values from above: the op
/// and the values it reads, outside the map.
struct MapArith {
  Arith kind;
  SmallVector<Value, 2> operands;
};

std::optional<MapArith> getMapArith(MapOp map) {
  Block &body = map.getBody().front();
  if (body.getOperations().size() != 2)
    return std::nullopt;
  Operation &inner = body.front();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield->getNumOperands() != 1 ||
      yield->getOperand(0) != inner.getResult(0))
    return std::nullopt;
  MapArith result;
  if (isa<arith::AddFOp>(inner))
    result.kind = Arith::Add;
  else if (isa<arith::SubFOp>(inner))
    result.kind = Arith::Sub;
  else if (isa<arith::MulFOp>(inner))
    result.kind = Arith::Mul;
  else if (isa<arith::DivFOp>(inner))
    result.kind = Arith::Div;
  else if (isa<arith::NegFOp>(inner))
    result.kind = Arith::Neg;
  else
    return std::nullopt;
  for (Value operand : inner.getOperands()) {
    if (auto arg = dyn_cast<BlockArgument>(operand); arg && arg.getOwner() == &body)
      result.operands.push_back(map.getInputs()[arg.getArgNumber()]);
    else if (operand.getParentRegion() != &map.getBody())
      result.operands.push_back(operand);
    else
      return std::nullopt;
  }
  return result;
}

/// The log of exp(x) is x: a decay near 0 keeps its exact log.
Value getExpArgument(Value value) {
  if (auto exp = value.getDefiningOp<math::ExpOp>())
    return exp.getOperand();
  auto map = value.getDefiningOp<MapOp>();
  if (!map || map.getInputs().size() != 1 ||
      map.getInputs()[0].getType() != value.getType())
    return {};
  Block &body = map.getBody().front();
  if (body.getOperations().size() != 2)
    return {};
  auto exp = dyn_cast<math::ExpOp>(body.front());
  if (!exp || exp.getOperand() != body.getArgument(0) ||
      cast<YieldOp>(body.getTerminator())->getOperand(0) != exp.getResult())
    return {};
  return map.getInputs()[0];
}

class ChunkFormBuilder {
public:
  ChunkFormBuilder(RecurrenceOp op, unsigned stateIndex)
      : body(op.getStepOp().getBody().front()), stateIndex(stateIndex) {
    stateArg = body.getArgument(1 + stateIndex);
    stateType = dyn_cast<SpecTensorType>(stateArg.getType());
    form.stateIndex = stateIndex;
    // Values that read some state, directly or inside a region.
    for (BlockArgument arg : body.getArguments().drop_front())
      dependent.insert(arg);
    for (Operation &inner : body.without_terminator()) {
      bool reads = false;
      inner.walk([&](Operation *nested) {
        for (Value operand : nested->getOperands())
          reads |= dependent.contains(operand);
      });
      if (reads)
        dependent.insert(inner.getResults().begin(), inner.getResults().end());
    }
  }

  /// The chunk form, or none and why not (for the user: `tmixc --schedule=chunked`).
  std::optional<ChunkForm> build(std::string &whyNot) {
    if (!stateType || stateType.getRank() != 2) {
      // Vectors and scalars: no matrix product to gain.
      whyNot = "it is a vector or a scalar; the chunked form advances matrix states";
      return std::nullopt;
    }
    Value next = cast<YieldOp>(body.getTerminator()).getValues()[stateIndex];
    if (!linear(next, {}, false)) {
      whyNot = "its update is not a gate times the state plus outer-product terms, nor a "
               "delta rule (a term reads the state, or a gate is not a scalar or a row "
               "vector)";
      return std::nullopt;
    }
    if (!sawState) {
      whyNot = "its update does not read the state";
      return std::nullopt;
    }
    if (form.terms.empty() && !form.delta) {
      whyNot = "its update adds no outer-product term";
      return std::nullopt;
    }
    if (form.delta && form.hasRowGate()) {
      whyNot = "it is a delta rule with a row gate (KDA), which runs step by step";
      return std::nullopt;
    }
    if (!checkUses(next)) {
      whyNot = "the state is used other than by its update and by readouts q @ S of the "
               "updated state";
      return std::nullopt;
    }
    return std::move(form);
  }

private:
  bool independent(Value value) { return !dependent.contains(value); }

  /// A scalar or a [K] row gate that reads no state.
  std::optional<ChunkFactor> factorOf(Value value, bool inverse) {
    if (!independent(value))
      return std::nullopt;
    if (auto vector = dyn_cast<SpecTensorType>(value.getType()))
      if (vector.getRank() != 1 || vector.getDims()[0] != stateType.getDims()[0])
        return std::nullopt;
    if (!isa<SpecTensorType>(value.getType()) && !value.getType().isF32())
      return std::nullopt;
    if (Value log = getExpArgument(value))
      return ChunkFactor{log, inverse, /*isExp=*/true};
    return ChunkFactor{value, inverse, /*isExp=*/false};
  }

  /// `value` = (sign) (product of `scale`) ⊙ (gated state + terms): records them.
  bool linear(Value value, SmallVector<ChunkFactor> scale, bool negated) {
    if (value == stateArg) {
      if (sawState)
        return false; // two gated copies of the state
      sawState = true;
      form.gate = scale;
      form.negatedGate = negated;
      return true;
    }
    auto map = value.getDefiningOp<MapOp>();
    if (!map || value.getType() != stateType || map->getBlock() != &body)
      return false;
    std::optional<MapArith> arith = getMapArith(map);
    if (!arith)
      return false;
    form.chain.insert(map);
    auto &ops = arith->operands;
    switch (arith->kind) {
    case Arith::Neg: return linear(ops[0], scale, !negated);
    case Arith::Add:
    case Arith::Sub: {
      bool lhsDependent = !independent(ops[0]), rhsDependent = !independent(ops[1]);
      if (lhsDependent && rhsDependent && arith->kind == Arith::Add && scale.empty() &&
          !negated && !form.delta)
        return deltaRule(ops[0], ops[1]) || deltaRule(ops[1], ops[0]);
      if (lhsDependent == rhsDependent)
        return false;
      bool sub = arith->kind == Arith::Sub;
      if (lhsDependent)
        return linear(ops[0], scale, negated) && terms(ops[1], scale, negated != sub);
      return terms(ops[0], scale, negated) && linear(ops[1], scale, negated != sub);
    }
    case Arith::Mul:
    case Arith::Div: {
      bool div = arith->kind == Arith::Div;
      unsigned matrix = independent(ops[0]) && !div ? 1 : 0;
      std::optional<ChunkFactor> factor = factorOf(ops[1 - matrix], div);
      if (!factor)
        return false;
      scale.push_back(*factor);
      return linear(ops[matrix], scale, negated);
    }
    }
    return false;
  }

  /// gated + (product of scalars) * outer(k, v - k' @ gated), k' the same vector as k.
  bool deltaRule(Value gated, Value update) {
    SmallVector<ChunkFactor> strength;
    SmallVector<Operation *> ops;
    Value term = update;
    while (auto map = term.getDefiningOp<MapOp>()) {
      std::optional<MapArith> arith = getMapArith(map);
      if (!arith || (arith->kind != Arith::Mul && arith->kind != Arith::Div))
        return false;
      bool div = arith->kind == Arith::Div;
      unsigned matrix = arith->operands[0].getType() == stateType ? 0 : 1;
      Value factor = arith->operands[1 - matrix];
      if ((div && matrix != 0) || isa<SpecTensorType>(factor.getType()))
        return false;
      std::optional<ChunkFactor> scalar = factorOf(factor, div);
      if (!scalar)
        return false;
      strength.push_back(*scalar);
      ops.push_back(map);
      term = arith->operands[matrix];
    }
    auto outer = term.getDefiningOp<OuterOp>();
    auto difference = outer ? outer.getRhs().getDefiningOp<MapOp>() : MapOp();
    std::optional<MapArith> arith = difference ? getMapArith(difference) : std::nullopt;
    if (!outer || outer.getResult().getType() != stateType ||
        !independent(outer.getLhs()) || !arith || arith->kind != Arith::Sub)
      return false;
    auto projection = arith->operands[1].getDefiningOp<VecMatOp>();
    if (!projection || projection.getRhs() != gated || !independent(arith->operands[0]) ||
        !sameVector(projection.getLhs(), outer.getLhs()) ||
        arith->operands[0].getType() != outer.getRhs().getType())
      return false;
    ops.append({outer, difference, projection});
    form.chain.insert(ops.begin(), ops.end());
    form.delta =
        DeltaTerm{outer.getLhs(), arith->operands[0], strength, projection.getLhs()};
    return linear(gated, {}, false);
  }

  /// The same value, or two slices of the same argument at the same step.
  static bool sameVector(Value lhs, Value rhs) {
    if (lhs == rhs)
      return true;
    auto a = lhs.getDefiningOp<SliceOp>(), b = rhs.getDefiningOp<SliceOp>();
    return a && b && a.getSource() == b.getSource() && a.getTime() == b.getTime() &&
           lhs.getType() == rhs.getType();
  }

  /// `value`, independent, = (sign) (product of `scale`) ⊙ (sum of rank-one terms).
  bool terms(Value value, SmallVector<ChunkFactor> scale, bool negated) {
    if (value.getType() != stateType || !independent(value))
      return false;
    if (auto outer = value.getDefiningOp<OuterOp>()) {
      form.terms.push_back({outer.getLhs(), outer.getRhs(), scale, negated});
      return true;
    }
    auto map = value.getDefiningOp<MapOp>();
    std::optional<MapArith> arith = map ? getMapArith(map) : std::nullopt;
    if (!arith)
      return false;
    auto &ops = arith->operands;
    switch (arith->kind) {
    case Arith::Neg: return terms(ops[0], scale, !negated);
    case Arith::Add:
    case Arith::Sub:
      return terms(ops[0], scale, negated) &&
             terms(ops[1], scale, negated != (arith->kind == Arith::Sub));
    case Arith::Mul:
    case Arith::Div: {
      bool div = arith->kind == Arith::Div;
      unsigned matrix = ops[0].getType() == stateType ? 0 : 1;
      if (div && matrix != 0)
        return false;
      std::optional<ChunkFactor> factor = factorOf(ops[1 - matrix], div);
      if (!factor)
        return false;
      scale.push_back(*factor);
      return terms(ops[matrix], scale, negated);
    }
    }
    return false;
  }

  /// The state is read only by the chain, and its new value only by the yield (as
  /// this state) and by readouts q @ S_t with q independent of every state.
  bool checkUses(Value next) {
    DenseSet<Value> fromState{stateArg};
    for (Operation &inner : body.without_terminator()) {
      bool reads = false;
      inner.walk([&](Operation *nested) {
        for (Value operand : nested->getOperands())
          reads |= fromState.contains(operand);
      });
      if (!reads)
        continue;
      if (form.chain.contains(&inner)) {
        fromState.insert(inner.getResults().begin(), inner.getResults().end());
        continue;
      }
      // A readout ends the state's part: what uses it is ordinary step code.
      auto readout = dyn_cast<VecMatOp>(inner);
      if (!readout || readout.getRhs() != next || !independent(readout.getLhs()))
        return false;
      form.readouts.push_back(readout);
    }
    for (Operation *op : form.chain)
      for (Operation *user : op->getUsers())
        if (!form.chain.contains(user) &&
            !(op->getResult(0) == next && (isa<YieldOp>(user) || isa<VecMatOp>(user))))
          return false;
    // The new state leaves the step only as itself.
    auto yield = cast<YieldOp>(body.getTerminator());
    for (auto [position, value] : llvm::enumerate(yield.getValues()))
      if (value == next && position != stateIndex)
        return false;
    return true;
  }

  Block &body;
  unsigned stateIndex;
  BlockArgument stateArg;
  SpecTensorType stateType;
  DenseSet<Value> dependent;
  ChunkForm form;
  bool sawState = false;
};

} // namespace

std::optional<ChunkForm> mlir::tmix::getChunkForm(RecurrenceOp op, unsigned stateIndex,
                                                  std::string *whyNot) {
  std::string reason = "the spec has no step";
  std::optional<ChunkForm> form;
  StepOp step = op.getStepOp();
  if (step && !step.getBody().empty())
    form = ChunkFormBuilder(op, stateIndex).build(reason);
  if (!form && whyNot)
    *whyNot = reason;
  return form;
}

std::string tmix::explainMissingChunkForms(RecurrenceOp op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  RecurrenceClasses classes(op);
  SmallVector<StateOp, 4> states = op.getStateOps();
  for (auto [index, updateClass] : llvm::enumerate(classes.getClasses())) {
    std::string whyNot;
    if (updateClass == UpdateClass::General) {
      std::optional<ChunkForm> form = getChunkForm(op, index, &whyNot);
      if (form)
        whyNot = "its update class is 'general'";
    } else if (getChunkForm(op, index, &whyNot)) {
      continue;
    }
    os << (text.empty() ? "" : "; ") << "state '" << states[index].getSymName()
       << "': " << whyNot;
  }
  return text;
}

SmallVector<ChunkForm, 1> tmix::getChunkForms(RecurrenceOp op) {
  SmallVector<ChunkForm, 1> forms;
  // An adjoint (`forward "X"`) runs step by step: it has no chunk form yet.
  if (op.getForwardAttr())
    return forms;
  RecurrenceClasses classes(op);
  for (auto [index, updateClass] : llvm::enumerate(classes.getClasses())) {
    if (updateClass == UpdateClass::General)
      continue;
    if (std::optional<ChunkForm> form = getChunkForm(op, index))
      forms.push_back(std::move(*form));
  }
  return forms;
}

std::optional<SmallVector<ChunkForm, 1>>
tmix::getChunkedAdjointForms(RecurrenceOp forward, bool vectorStatesBeside) {
  SmallVector<ChunkForm, 1> forms = getChunkForms(forward);
  size_t vectorStates = 0;
  if (vectorStatesBeside)
    vectorStates = llvm::count_if(forward.getStateOps(), [](StateOp state) {
      auto type = dyn_cast<SpecTensorType>(state.getType());
      return type && type.getRank() == 1;
    });
  // A row gate given by value (not exp(x)) would get its gradient as the log's divided
  // by the gate, which loses digits where the gate is small; a scalar one gets it from
  // sums whose every term carries the gate (codegen/cpu/ChunkedAdjoint.cpp), a row one
  // would need them per key column: those run step by step.
  if (forms.empty() || forms.size() + vectorStates != forward.getStateOps().size() ||
      llvm::any_of(forms, [](const ChunkForm &form) {
        return form.needsSign() && form.hasRowGate();
      }))
    return std::nullopt;
  return forms;
}

SmallVector<Value> tmix::getChunkRoots(ArrayRef<ChunkForm> forms) {
  llvm::SetVector<Value> roots;
  for (const ChunkForm &form : forms) {
    for (const ChunkFactor &factor : form.gate)
      roots.insert(factor.value);
    for (const RankOneTerm &term : form.terms) {
      roots.insert(term.key);
      roots.insert(term.value);
      for (const ChunkFactor &factor : term.factors)
        roots.insert(factor.value);
    }
    if (form.delta) {
      roots.insert(form.delta->key);
      roots.insert(form.delta->projectionKey);
      roots.insert(form.delta->value);
      for (const ChunkFactor &factor : form.delta->strength)
        roots.insert(factor.value);
    }
    for (VecMatOp readout : form.readouts)
      roots.insert(readout.getLhs());
  }
  return SmallVector<Value>(roots.begin(), roots.end());
}

void tmix::collectProducers(Block &block, ArrayRef<Value> roots,
                            const DenseSet<Operation *> &stop, DenseSet<Operation *> &ops) {
  SmallVector<Value> worklist(roots.begin(), roots.end());
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val().getDefiningOp();
    if (!op || op->getBlock() != &block || stop.contains(op) || !ops.insert(op).second)
      continue;
    op->walk(
        [&](Operation *nested) { llvm::append_range(worklist, nested->getOperands()); });
  }
}

SmallVector<VecMatOp> tmix::getChunkReadouts(ArrayRef<ChunkForm> forms) {
  SmallVector<VecMatOp> readouts;
  for (const ChunkForm &form : forms)
    llvm::append_range(readouts, form.readouts);
  return readouts;
}
