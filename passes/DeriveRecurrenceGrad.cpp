//===- DeriveRecurrenceGrad.cpp - The adjoint of recurrence specs ---------===//
//
// For `tmix.recurrence @X`, adds `@X_grad`: reverse mode through X's steps, itself a
// recurrence, whose steps run t = T-1 .. 0 (`forward "X"`):
//
//   arguments  X's, then d_<r> for each result r of X (r's type)
//   states     d_<S> for each state S of X: the gradient of the loss with respect to
//              S_{t+1} before the step, S_t after it; it starts at d_<r> when r = S is
//              a final result, else at 0. Then one accumulator d_<c> per float argument
//              c that X reads without a time index (a per-head constant, a scalar)
//   step       X's step, recomputed from tmix.forward_state (S_t), then the adjoint of
//              each of its ops in reverse: the new d_<S>, the accumulators plus this
//              step's contributions, and the gradient of each float argument read at t
//   results    d_<x> for each float argument x read at t (per step), then d_<init> for
//              each state's initial value (the last d_<S>), then the accumulators
//
// When every state of X but vectors has a chunk form that a chunked adjoint runs (a
// decay or a delta rule: getChunkedAdjointForms, passes/ChunkForm.h), the adjoint's
// ops come in three groups, marked for a target that runs the middle one chunk by
// chunk (ChunkForm.h's marks): first the adjoint of the step ops after the readouts
// (which gives each readout's gradient) and of the vector states' ops (linear
// attention's normaliser: the GPU kernel runs them step by step beside the chunks; the
// CPU runs such an adjoint step by step), then that of the update chains and readouts
// (chunk-parallel on the CPU), whose gradients of the chains' roots (keys, values,
// queries, gate factors, delta strengths) are the seeds of the last group, the adjoint
// of the ops that compute those roots. Any order in which an op's adjoint follows its
// users' is reverse mode; this one is.
//
// A gradient is f32. One that several parallel points add to (a per-head constant under
// the batch, Mamba2's B and C under their group's heads, a scalar) is returned per point,
// in the logical order [parallel dims..., (T), own dims], and the caller sums it
// (docs/training.md): the program of a point writes only its own values, so the sums
// are deterministic and need no atomics.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/TmixOps.h"
#include "passes/ChunkForm.h"
#include "passes/RegionGradient.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_DERIVERECURRENCEGRAD
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

bool isFloatValue(Type type) {
  if (auto tensor = dyn_cast<SpecTensorType>(type))
    return tensor.getElementType().isF32();
  return isa<FloatType>(type);
}

/// What X's step reads of one argument, and the gradient it gets.
struct ArgumentUse {
  enum Kind { PerStep, Constant, Initial };
  unsigned argument;
  Kind kind;
  Type stepType;   // per step and constant: the value the step reads (f32 or a tensor)
  Type resultType; // the gradient's type in X_grad's results
};

/// The ops of X's step a chunked adjoint runs chunk by chunk, and those that compute
/// what they read.
struct ChunkGroups {
  SmallVector<ChunkForm, 1> forms;
  /// The update chains, the rank-one terms and gate factors between them and their
  /// roots (getChunkRoots), the readouts.
  llvm::DenseSet<Operation *> chains;
  /// The ops the roots need.
  llvm::DenseSet<Operation *> producers;
};

/// The groups of `forward`'s step when its adjoint can run chunk by chunk: every state
/// but vectors has a chunked adjoint form and nothing but the chains reads what the
/// chains compute (a readout aside). A vector state's ops are in the first group.
std::optional<ChunkGroups> getChunkGroups(RecurrenceOp forward) {
  std::optional<SmallVector<ChunkForm, 1>> forms =
      getChunkedAdjointForms(forward, /*vectorStatesBeside=*/true);
  if (!forms)
    return std::nullopt;
  ChunkGroups groups{std::move(*forms), {}, {}};
  Block &from = forward.getStepOp().getBody().front();
  SmallVector<Value> roots = getChunkRoots(groups.forms);
  // The chains reach down to the roots, not into what computes them.
  llvm::DenseSet<Operation *> rootOps;
  for (Value root : roots)
    if (Operation *op = root.getDefiningOp())
      rootOps.insert(op);
  SmallVector<Value> chainValues;
  for (const ChunkForm &form : groups.forms) {
    for (Operation *op : form.chain)
      llvm::append_range(chainValues, op->getResults());
    for (VecMatOp readout : form.readouts) {
      groups.chains.insert(readout);
      chainValues.push_back(readout.getRhs());
    }
  }
  collectProducers(from, chainValues, rootOps, groups.chains);
  collectProducers(from, roots, {}, groups.producers);
  for (Operation *op : groups.chains) {
    if (isa<VecMatOp>(op) && llvm::any_of(groups.forms, [&](const ChunkForm &form) {
          return llvm::is_contained(form.readouts, op);
        }))
      continue;
    if (groups.producers.contains(op))
      return std::nullopt;
    for (Operation *user : op->getUsers())
      if (!groups.chains.contains(user) && !isa<YieldOp>(user))
        return std::nullopt;
  }
  return groups;
}

/// The adjoint step: X's step recomputed, then reverse mode through its ops.
class StepAdjoint {
public:
  StepAdjoint(RecurrenceOp forward, RecurrenceOp grad, ImplicitLocOpBuilder &b)
      : forward(forward), grad(grad), b(b) {}

  LogicalResult build(ArrayRef<ArgumentUse> uses, unsigned numForwardStates);

private:
  Value zerosOf(Type type);
  Value sum(Value x, Value y);
  Value map(ValueRange inputs, Type resultType,
            function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> body);
  void accumulate(Value source, Value contribution);
  bool isActive(Value source) const { return active.contains(source); }
  Value p(Value source) const { return primal.lookup(source); }
  LogicalResult propagate(Operation &op);
  LogicalResult propagateMap(MapOp op, Value bar);

  /// Reverse mode through the ops of X's step for which `include` holds, last first.
  LogicalResult propagateAll(Block &from, function_ref<bool(Operation *)> include);
  /// Reverse mode in the three groups of a chunked adjoint (the file comment).
  LogicalResult propagateChunked(Block &from, const struct ChunkGroups &groups);

  RecurrenceOp forward, grad;
  ImplicitLocOpBuilder &b;
  IRMapping primal;
  llvm::DenseSet<Value> active;
  llvm::DenseMap<Value, Value> adjoints;
  /// While the chains' adjoint is built: the chunk roots, and their gradients from the
  /// chains alone.
  llvm::DenseSet<Value> chunkRoots;
  llvm::DenseMap<Value, Value> chainAdjoints;
  bool inChains = false;
};

Value StepAdjoint::map(ValueRange inputs, Type resultType,
                       function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> body) {
  auto op = MapOp::create(b, resultType, inputs);
  Block *block = new Block();
  op.getBody().push_back(block);
  for (Value input : inputs) {
    auto tensor = dyn_cast<SpecTensorType>(input.getType());
    block->addArgument(tensor ? tensor.getElementType() : input.getType(), b.getLoc());
  }
  ImplicitLocOpBuilder inner(b.getLoc(), block, block->end());
  YieldOp::create(inner, ValueRange{body(inner, block->getArguments())});
  return op.getResult();
}

Value StepAdjoint::zerosOf(Type type) {
  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  if (!isa<SpecTensorType>(type))
    return zero;
  return map(zero, type, [](ImplicitLocOpBuilder &, ValueRange args) { return args[0]; });
}

Value StepAdjoint::sum(Value x, Value y) {
  if (!isa<SpecTensorType>(x.getType()))
    return arith::AddFOp::create(b, x, y);
  return map({x, y}, x.getType(), [](ImplicitLocOpBuilder &inner, ValueRange args) {
    return Value(arith::AddFOp::create(inner, args[0], args[1]));
  });
}

void StepAdjoint::accumulate(Value source, Value contribution) {
  if (!isActive(source))
    return;
  Value &slot = inChains && chunkRoots.contains(source) ? chainAdjoints[source]
                                                         : adjoints[source];
  slot = slot ? sum(slot, contribution) : contribution;
}

/// r = f(x0, x1, ...) element-wise: dxi = g * df/dxi, element-wise (the derivative of
/// f's region, passes/RegionGradient.h), summed over what xi was broadcast along.
LogicalResult StepAdjoint::propagateMap(MapOp op, Value bar) {
  Block &body = op.getBody().front();
  for (Operation &inner : body)
    for (Value operand : inner.getOperands())
      if (operand.getParentBlock() != &body && isFloatValue(operand.getType()))
        return op.emitOpError("reads a float value from outside its region; tmix derives "
                              "gradients of maps through their operands only");
  auto resultType = cast<SpecTensorType>(op.getResult().getType());
  for (auto [index, input] : llvm::enumerate(op.getInputs())) {
    if (!isActive(input))
      continue;
    SmallVector<Value> inputs;
    for (Value x : op.getInputs())
      inputs.push_back(p(x));
    inputs.push_back(bar);
    auto derivative = MapOp::create(b, resultType, inputs);
    if (failed(buildRegionGradient(op.getBody(), derivative.getBody(), primal,
                                   static_cast<unsigned>(index), /*params=*/false)))
      return failure();
    Value contribution = derivative.getResult();
    // dxi = g (an addend): no map.
    Block &rule = derivative.getBody().front();
    if (rule.getTerminator()->getOperand(0) == rule.getArguments().back()) {
      derivative.erase();
      contribution = bar;
    }
    auto inputType = dyn_cast<SpecTensorType>(input.getType());
    if (!inputType) {
      contribution = SumOp::create(b, b.getF32Type(), contribution);
    } else if (inputType.getRank() != resultType.getRank()) {
      // A [K] gate over the rows of [K, V]: the sums of the rows.
      Value one = arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f));
      Type columns = SpecTensorType::get(b.getContext(), resultType.getDims().take_back(),
                                         b.getF32Type());
      Value ones =
          map(one, columns, [](ImplicitLocOpBuilder &, ValueRange args) { return args[0]; });
      contribution = MatVecOp::create(b, inputType, contribution, ones);
    }
    accumulate(input, contribution);
  }
  return success();
}

LogicalResult StepAdjoint::propagate(Operation &op) {
  Value result = op.getNumResults() == 1 ? op.getResult(0) : Value();
  Value bar = result ? adjoints.lookup(result) : Value();
  if (!bar)
    return success();
  if (isa<SliceOp, ForwardStateOp>(op))
    return success(); // a leaf: collected by the caller
  if (auto map = dyn_cast<MapOp>(op))
    return propagateMap(map, bar);
  if (auto outer = dyn_cast<OuterOp>(op)) { // r = a b^T: da = r_bar b, db = a r_bar
    if (isActive(outer.getLhs()))
      accumulate(outer.getLhs(), MatVecOp::create(b, outer.getLhs().getType(), bar,
                                                  p(outer.getRhs())));
    if (isActive(outer.getRhs()))
      accumulate(outer.getRhs(), VecMatOp::create(b, outer.getRhs().getType(),
                                                  p(outer.getLhs()), bar));
    return success();
  }
  if (auto vecmat = dyn_cast<VecMatOp>(op)) { // r = a S: da = S r_bar, dS = a r_bar^T
    if (isActive(vecmat.getLhs()))
      accumulate(vecmat.getLhs(), MatVecOp::create(b, vecmat.getLhs().getType(),
                                                   p(vecmat.getRhs()), bar));
    if (isActive(vecmat.getRhs()))
      accumulate(vecmat.getRhs(), OuterOp::create(b, vecmat.getRhs().getType(),
                                                  p(vecmat.getLhs()), bar));
    return success();
  }
  if (auto matvec = dyn_cast<MatVecOp>(op)) { // r = S a: dS = r_bar a^T, da = r_bar S
    if (isActive(matvec.getLhs()))
      accumulate(matvec.getLhs(), OuterOp::create(b, matvec.getLhs().getType(), bar,
                                                  p(matvec.getRhs())));
    if (isActive(matvec.getRhs()))
      accumulate(matvec.getRhs(), VecMatOp::create(b, matvec.getRhs().getType(), bar,
                                                   p(matvec.getLhs())));
    return success();
  }
  auto times = [&](Value scalar, Value tensor) {
    return map({scalar, tensor}, tensor.getType(),
               [](ImplicitLocOpBuilder &inner, ValueRange args) {
                 return Value(arith::MulFOp::create(inner, args[0], args[1]));
               });
  };
  if (auto dot = dyn_cast<DotOp>(op)) { // r = a . b: da = r_bar b, db = r_bar a
    if (isActive(dot.getLhs()))
      accumulate(dot.getLhs(), times(bar, p(dot.getRhs())));
    if (isActive(dot.getRhs()))
      accumulate(dot.getRhs(), times(bar, p(dot.getLhs())));
    return success();
  }
  if (auto sumOp = dyn_cast<SumOp>(op)) { // da = r_bar everywhere
    accumulate(sumOp.getInput(),
               map(bar, sumOp.getInput().getType(),
                   [](ImplicitLocOpBuilder &, ValueRange args) { return args[0]; }));
    return success();
  }
  return emitScalarAdjoint(
      b, op, bar, primal, [&](Value v) { return isActive(v); },
      [&](Value x, Value contribution) { accumulate(x, contribution); });
}

LogicalResult StepAdjoint::propagateAll(Block &from,
                                        function_ref<bool(Operation *)> include) {
  for (Operation &op : llvm::reverse(from.without_terminator()))
    if (include(&op) && failed(propagate(op)))
      return failure();
  return success();
}

/// Appends `index` to the i64 array attribute `name` of `op`.
static void appendIndex(Operation *op, StringRef name, int64_t index) {
  SmallVector<int64_t> indices;
  if (auto existing = op->getAttrOfType<DenseI64ArrayAttr>(name))
    llvm::append_range(indices, existing.asArrayRef());
  indices.push_back(index);
  op->setAttr(name, DenseI64ArrayAttr::get(op->getContext(), indices));
}

LogicalResult StepAdjoint::propagateChunked(Block &from, const ChunkGroups &groups) {
  const llvm::DenseSet<Operation *> &chains = groups.chains, &producers = groups.producers;
  SmallVector<Value> roots = getChunkRoots(groups.forms);
  if (failed(propagateAll(from, [&](Operation *op) {
        return !chains.contains(op) && !producers.contains(op);
      })))
    return failure();
  for (auto [index, readout] : llvm::enumerate(getChunkReadouts(groups.forms)))
    if (Value bar = adjoints.lookup(readout.getResult()))
      if (Operation *def = bar.getDefiningOp())
        appendIndex(def, kChunkReadoutGradsAttr, index);

  // The chains: their ops marked, their roots' gradients kept apart.
  Block &into = *b.getInsertionBlock();
  Operation *last = into.empty() ? nullptr : &into.back();
  chunkRoots.insert(roots.begin(), roots.end());
  inChains = true;
  if (failed(propagateAll(from, [&](Operation *op) { return chains.contains(op); })))
    return failure();
  inChains = false;
  for (Operation &op : llvm::make_range(
           last ? std::next(Block::iterator(last)) : into.begin(), into.end()))
    op.setAttr(kChunkAdjointAttr, b.getUnitAttr());
  for (auto [index, root] : llvm::enumerate(roots)) {
    Value seed = chainAdjoints.lookup(root);
    if (!seed)
      continue;
    Operation *def = seed.getDefiningOp();
    if (!def || !def->hasAttr(kChunkAdjointAttr))
      return forward.emitOpError("has an update whose gradient tmix cannot seed chunk by "
                                 "chunk");
    appendIndex(def, kChunkSeedsAttr, index);
    accumulate(root, seed);
  }
  return propagateAll(from, [&](Operation *op) { return producers.contains(op); });
}

LogicalResult StepAdjoint::build(ArrayRef<ArgumentUse> uses, unsigned numForwardStates) {
  Block &from = forward.getStepOp().getBody().front();
  Block &specArgs = forward.getBodyBlock();
  Block &gradSpecArgs = grad.getBodyBlock();
  Block &into = grad.getStepOp().getBody().front();
  SmallVector<StateOp> states = forward.getStateOps();

  // The primal: X's arguments are X_grad's first ones; the states are S_t.
  for (unsigned index = 0; index < specArgs.getNumArguments(); ++index)
    primal.map(specArgs.getArgument(index), gradSpecArgs.getArgument(index));
  primal.map(from.getArgument(0), into.getArgument(0));
  std::optional<ChunkGroups> chunkGroups = getChunkGroups(forward);
  llvm::DenseMap<Operation *, int64_t> chunkPrimal; // op -> readout index, or -1
  if (chunkGroups) {
    for (Operation *op : chunkGroups->chains)
      chunkPrimal[op] = -1;
    for (auto [index, readout] : llvm::enumerate(getChunkReadouts(chunkGroups->forms)))
      chunkPrimal[readout] = index;
  }
  for (auto [index, state] : llvm::enumerate(states)) {
    Value value = ForwardStateOp::create(b, state.getType(), state.getSymName());
    // (A vector state beside the chunks runs step by step: its value is read.)
    if (chunkGroups && llvm::any_of(chunkGroups->forms, [&](const ChunkForm &form) {
          return form.stateIndex == index;
        }))
      value.getDefiningOp()->setAttr(kChunkPrimalAttr, b.getUnitAttr());
    primal.map(from.getArgument(index + 1), value);
    active.insert(from.getArgument(index + 1));
  }
  for (const ArgumentUse &use : uses)
    if (use.kind == ArgumentUse::Constant && !isa<SpecTensorType>(use.stepType))
      active.insert(specArgs.getArgument(use.argument)); // a float scalar argument

  // Activity, forward; the primal, cloned.
  for (Operation &op : from.without_terminator()) {
    bool leaf = false;
    if (auto slice = dyn_cast<SliceOp>(op))
      leaf = isFloatValue(slice.getType());
    bool reads = llvm::any_of(op.getOperands(), [&](Value v) { return isActive(v); });
    if (leaf || reads)
      for (Value r : op.getResults())
        if (isFloatValue(r.getType()))
          active.insert(r);
    Operation *clone = b.clone(op, primal);
    if (auto it = chunkPrimal.find(&op); it != chunkPrimal.end()) {
      clone->setAttr(kChunkPrimalAttr, b.getUnitAttr());
      if (it->second >= 0)
        clone->setAttr(kChunkReadoutAttr, b.getI64IntegerAttr(it->second));
    }
  }

  // Seeds: the new states get d_S (the step's block arguments), the outputs d_out[t].
  auto yield = cast<YieldOp>(from.getTerminator());
  for (unsigned index = 0; index < numForwardStates; ++index)
    accumulate(yield.getValues()[index], into.getArgument(index + 1));
  SmallVector<unsigned> perStepResults = forward.getPerStepResults();
  unsigned firstOutputGrad = specArgs.getNumArguments();
  for (auto [position, result] : llvm::enumerate(perStepResults)) {
    Value outputGrad = gradSpecArgs.getArgument(firstOutputGrad + result);
    Value slice = SliceOp::create(b, forward.getPerStepType(result), outputGrad,
                                  into.getArgument(0));
    accumulate(yield.getValues()[numForwardStates + position], slice);
  }

  // Reverse mode.
  if (failed(chunkGroups ? propagateChunked(from, *chunkGroups)
                         : propagateAll(from, [](Operation *) { return true; })))
    return failure();

  // What the step yields: the states' adjoints at t, the accumulators, the gradients
  // of what was read at t.
  SmallVector<Value> values;
  for (unsigned index = 0; index < numForwardStates; ++index) {
    Value adjoint = adjoints.lookup(from.getArgument(index + 1));
    values.push_back(adjoint ? adjoint : zerosOf(states[index].getType()));
  }
  auto gradientOf = [&](unsigned argument, bool timed) {
    Value total;
    Value arg = specArgs.getArgument(argument);
    if (!timed && !isa<SpecTensorType>(arg.getType()))
      total = adjoints.lookup(arg);
    for (Operation &op : from.without_terminator())
      if (auto slice = dyn_cast<SliceOp>(op);
          slice && slice.getSource() == arg && bool(slice.getTime()) == timed)
        if (Value adjoint = adjoints.lookup(slice.getResult()))
          total = total ? sum(total, adjoint) : adjoint;
    return total;
  };
  unsigned accumulator = numForwardStates;
  for (const ArgumentUse &use : uses) {
    if (use.kind != ArgumentUse::Constant)
      continue;
    Value previous = into.getArgument(1 + accumulator++);
    Value step = gradientOf(use.argument, /*timed=*/false);
    values.push_back(step ? sum(previous, step) : previous);
  }
  for (const ArgumentUse &use : uses) {
    if (use.kind != ArgumentUse::PerStep)
      continue;
    Value step = gradientOf(use.argument, /*timed=*/true);
    values.push_back(step ? step : zerosOf(use.stepType));
  }
  YieldOp::create(b, values);
  // The primal values no adjoint reads (often the outputs) are dead.
  SmallVector<Operation *> ops;
  for (Operation &op : into.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  return success();
}

/// The gradients X_grad returns: per step, for each float argument X slices at t; the
/// initial values of the states; the sums over the steps of what X reads without t.
FailureOr<SmallVector<ArgumentUse>> collectUses(RecurrenceOp forward) {
  MLIRContext *context = forward.getContext();
  Builder b(context);
  Block &specArgs = forward.getBodyBlock();
  Block &step = forward.getStepOp().getBody().front();
  StringRef time = forward.getTimeSymbol();
  SmallVector<Attribute> parallel = forward.getParallelDims();
  StringAttr sequence = forward.getSequenceDim();
  SmallVector<Attribute> pointDims; // the parallel dims a tensor read at t has
  for (Attribute dim : parallel)
    if (dim != sequence)
      pointDims.push_back(dim);

  llvm::DenseMap<unsigned, ArgumentUse> found;
  for (StateOp state : forward.getStateOps())
    if (Value init = state.getInit()) {
      unsigned argument = cast<BlockArgument>(init).getArgNumber();
      auto type = cast<SpecTensorType>(init.getType());
      found[argument] = {argument, ArgumentUse::Initial, Type(),
                         SpecTensorType::get(context, type.getDims(), b.getF32Type(),
                                             type.getLayout())};
    }
  auto add = [&](unsigned argument, ArgumentUse use, Operation *at) -> LogicalResult {
    auto [it, inserted] = found.try_emplace(argument, use);
    if (!inserted && it->second.kind != use.kind)
      return at->emitOpError() << "reads argument '" << forward.getArgName(argument)
                               << "' both at each step and otherwise (or as an initial "
                                  "state); tmix does not derive that gradient yet";
    return success();
  };
  WalkResult walk = step.walk([&](Operation *op) {
    if (auto read = dyn_cast<ReadOp>(op); read && isFloatValue(read.getType())) {
      read.emitOpError("reads a float tensor element in a recurrence step; tmix does not "
                       "derive gradients through such reads yet");
      return WalkResult::interrupt();
    }
    for (Value operand : op->getOperands())
      if (auto arg = dyn_cast<BlockArgument>(operand);
          arg && arg.getOwner() == &specArgs && isFloatValue(arg.getType()) &&
          !isa<SpecTensorType>(arg.getType())) {
        if (!isa<arith::ArithDialect>(op->getDialect()) &&
            !isa<math::MathDialect>(op->getDialect()) && !isa<MapOp>(op)) {
          op->emitOpError("uses a float scalar argument where tmix cannot derive its "
                          "gradient");
          return WalkResult::interrupt();
        }
        if (!arg.getType().isF32()) {
          op->emitOpError("reads the float scalar argument '")
              << forward.getArgName(arg.getArgNumber()) << "' of type " << arg.getType()
              << "; tmix derives the gradients of f32 scalars";
          return WalkResult::interrupt();
        }
        if (op->getParentOp() != forward.getStepOp()) {
          op->emitOpError("reads the float scalar argument '")
              << forward.getArgName(arg.getArgNumber())
              << "' inside a map region; tmix derives gradients of maps through their "
                 "operands only";
          return WalkResult::interrupt();
        }
        SmallVector<Attribute> dims(parallel);
        if (failed(add(arg.getArgNumber(),
                       {arg.getArgNumber(), ArgumentUse::Constant, arg.getType(),
                        SpecTensorType::get(context, dims, b.getF32Type())},
                       op)))
          return WalkResult::interrupt();
      }
    auto slice = dyn_cast<SliceOp>(op);
    if (!slice || !isFloatValue(slice.getType()))
      return WalkResult::advance();
    unsigned argument = cast<BlockArgument>(slice.getSource()).getArgNumber();
    auto source = cast<SpecTensorType>(slice.getSource().getType());
    auto stepType = dyn_cast<SpecTensorType>(slice.getType());
    ArrayRef<Attribute> stepDims = stepType ? stepType.getDims() : ArrayRef<Attribute>();
    ArgumentUse use{argument, ArgumentUse::PerStep, slice.getType(), Type()};
    if (!slice.getTime()) {
      use.kind = ArgumentUse::Constant;
      SmallVector<Attribute> dims(parallel);
      llvm::append_range(dims, stepDims);
      use.resultType = SpecTensorType::get(context, dims, b.getF32Type());
    } else {
      unsigned timeDim = *forward.getTimeDim(source);
      ArrayRef<Attribute> before = source.getDims().take_front(timeDim);
      bool grouped = llvm::any_of(
          before, [&](Attribute dim) { return forward.resolveGroup(dim) != dim; });
      if (!grouped && before == ArrayRef<Attribute>(pointDims)) {
        use.resultType =
            SpecTensorType::get(context, source.getDims(), b.getF32Type(), source.getLayout());
      } else {
        // Shared by several points: per point, summed by the caller.
        SmallVector<Attribute> dims(pointDims);
        dims.push_back(b.getStringAttr(time));
        llvm::append_range(dims, stepDims);
        use.resultType = SpecTensorType::get(context, dims, b.getF32Type());
      }
    }
    if (failed(add(argument, use, op)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  SmallVector<ArgumentUse> uses;
  for (unsigned argument = 0; argument < specArgs.getNumArguments(); ++argument)
    if (auto it = found.find(argument); it != found.end())
      uses.push_back(it->second);
  return uses;
}

FailureOr<RecurrenceOp> buildGrad(OpBuilder &builder, RecurrenceOp forward,
                                  StringRef name) {
  MLIRContext *context = forward.getContext();
  FailureOr<SmallVector<ArgumentUse>> collected = collectUses(forward);
  if (failed(collected))
    return failure();
  SmallVector<ArgumentUse> uses = std::move(*collected);
  StringRef time = forward.getTimeSymbol();

  // The results: per step first, one with the parallel dims of X's first per-step
  // output leading (it decides X_grad's parallel dims), then the finals.
  SmallVector<unsigned> perStepResults = forward.getPerStepResults();
  if (perStepResults.empty())
    return forward.emitOpError("has no per-step output; tmix derives the backward of "
                               "recurrences with one");
  auto leading = [&](Type type) {
    auto tensor = cast<SpecTensorType>(type);
    return tensor.getDims().take_front(*forward.getTimeDim(type));
  };
  ArrayRef<Attribute> parallel = leading(forward.getSpecResultTypes()[perStepResults[0]]);
  auto first = llvm::find_if(uses, [&](const ArgumentUse &use) {
    return use.kind == ArgumentUse::PerStep && leading(use.resultType) == parallel;
  });
  if (first == uses.end())
    return forward.emitOpError("reads no float argument at each step with the parallel "
                               "dims of its output; tmix cannot derive its backward");
  std::rotate(uses.begin(), first, first + 1);
  std::stable_partition(uses.begin(), uses.end(), [](const ArgumentUse &use) {
    return use.kind == ArgumentUse::PerStep;
  });

  SmallVector<StringRef> argNames;
  SmallVector<std::string> storage;
  SmallVector<Type> argTypes(forward.getSpecArgTypes());
  SmallVector<Attribute> defaults(forward.getArgDefaults().getValue());
  for (unsigned index = 0; index < argTypes.size(); ++index)
    argNames.push_back(forward.getArgName(index));
  storage.reserve(forward.getNumSpecResults() + uses.size());
  for (unsigned result = 0; result < forward.getNumSpecResults(); ++result) {
    storage.push_back("d_" + forward.getResultName(result).str());
    argNames.push_back(storage.back());
    argTypes.push_back(forward.getSpecResultTypes()[result]);
  }
  SmallVector<StringRef> resultNames;
  SmallVector<Type> resultTypes;
  for (const ArgumentUse &use : uses) {
    storage.push_back("d_" + forward.getArgName(use.argument).str());
    resultNames.push_back(storage.back());
    resultTypes.push_back(use.resultType);
  }
  // Every name once: an argument d_o beside an output o, or an output d_x beside an
  // argument x, would make two of one name.
  llvm::StringSet<> names;
  for (StringRef taken : llvm::concat<StringRef>(argNames, resultNames))
    if (!names.insert(taken).second)
      return forward.emitOpError() << "derives its backward, whose argument or result '"
                                   << taken << "' would have a name that is taken";

  auto grad = RecurrenceOp::create(builder, forward.getLoc(), name, argNames, argTypes,
                                   defaults, resultNames, resultTypes, time);
  if (DictionaryAttr groups = forward.getGroupsAttr())
    grad.setGroupsAttr(groups);
  if (StringAttr offsets = forward.getOffsetsAttr())
    grad.setOffsetsAttr(offsets);
  grad.setForwardAttr(forward.getSymNameAttr());

  // The states: d_S for each of X's, then the accumulators.
  Block &body = grad.getBodyBlock();
  ImplicitLocOpBuilder b(forward.getLoc(), &body, body.end());
  SmallVector<StateOp> states = forward.getStateOps();
  unsigned firstOutputGrad = forward.getSpecArgTypes().size();
  SmallVector<Type> stateTypes;
  for (StateOp state : states) {
    Value init;
    for (unsigned result = 0; result < forward.getNumSpecResults(); ++result)
      if (FinalOp final = forward.getFinalOp(result);
          final && final.getState() == state.getSymName()) {
        if (init)
          return forward.emitOpError() << "returns state '" << state.getSymName()
                                       << "' twice; tmix cannot derive its backward";
        init = body.getArgument(firstOutputGrad + result);
      }
    StateOp::create(b, "d_" + state.getSymName().str(), state.getType(), init);
    stateTypes.push_back(state.getType());
  }
  for (const ArgumentUse &use : uses)
    if (use.kind == ArgumentUse::Constant) {
      StateOp::create(b, "d_" + forward.getArgName(use.argument).str(), use.stepType,
                      Value());
      stateTypes.push_back(use.stepType);
    }
  auto step = StepOp::create(b);
  Block *stepBlock = new Block();
  step.getBody().push_back(stepBlock);
  stepBlock->addArgument(b.getI64Type(), forward.getLoc());
  for (Type type : stateTypes)
    stepBlock->addArgument(type, forward.getLoc());
  for (const ArgumentUse &use : uses) {
    std::string gradName = "d_" + forward.getArgName(use.argument).str();
    if (use.kind == ArgumentUse::Initial) {
      StateOp state = *llvm::find_if(states, [&](StateOp s) {
        return s.getInit() &&
               cast<BlockArgument>(s.getInit()).getArgNumber() == use.argument;
      });
      FinalOp::create(b, gradName, "d_" + state.getSymName().str());
    } else if (use.kind == ArgumentUse::Constant) {
      FinalOp::create(b, gradName, gradName);
    }
  }

  ImplicitLocOpBuilder stepBuilder(forward.getLoc(), stepBlock, stepBlock->end());
  StepAdjoint adjoint(forward, grad, stepBuilder);
  if (failed(adjoint.build(uses, states.size()))) {
    grad.erase();
    return failure();
  }
  return grad;
}

struct DeriveRecurrenceGrad
    : tmix::impl::DeriveRecurrenceGradBase<DeriveRecurrenceGrad> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<RecurrenceOp> specs;
    for (RecurrenceOp spec : module.getOps<RecurrenceOp>())
      if (!spec.getForwardAttr())
        specs.push_back(spec);
    for (RecurrenceOp spec : specs) {
      std::string name = spec.getSymName().str() + "_grad";
      if (symbols.lookup(name)) {
        spec.emitOpError() << "derives its backward kernel '" << name
                           << "', but that name is taken";
        return signalPassFailure();
      }
      OpBuilder b(spec.getContext());
      b.setInsertionPointAfter(spec);
      FailureOr<RecurrenceOp> grad = buildGrad(b, spec, name);
      if (failed(grad))
        return signalPassFailure();
      symbols.insert(*grad);
      ++numDerived;
    }
  }
};

} // namespace
