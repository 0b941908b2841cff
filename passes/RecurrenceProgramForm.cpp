//===- RecurrenceProgramForm.cpp - The recurrence program a target runs ----===//
//
// Matches the program against the chunk forms of its spec (passes/ChunkForm.h) and
// its schedule, op by op and operand by operand.
//
//===----------------------------------------------------------------------===//

#include "passes/RecurrenceProgramForm.h"


using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

namespace {

LogicalResult refuse(Operation *op, StringRef target, const Twine &why) {
  return op->emitOpError() << why << ": not the recurrence program that " << target
                           << "'s lowering runs (as tmix-tile-recurrence writes it)";
}

/// The next op of the chunk loop's body, which must be an OpTy naming `state` (when
/// set).
template <typename OpTy>
FailureOr<OpTy> nextOp(Block::iterator &it, Block &block, Operation *anchor,
                       StringRef target, StringRef state = {}) {
  if (it == block.end())
    return refuse(anchor, target, Twine("ends before its ") + OpTy::getOperationName());
  Operation *op = &*it++;
  auto typed = dyn_cast<OpTy>(op);
  if (!typed)
    return refuse(op, target,
                  Twine("is where the program's ") + OpTy::getOperationName() + " should be");
  if constexpr (!std::is_same_v<OpTy, tile::StageStepsOp> &&
                !std::is_same_v<OpTy, tile::FinishStepsOp>)
    if (typed.getState() != state)
      return refuse(op, target, Twine("names state '") + typed.getState() +
                                    "' where the program's state '" + state + "' is");
  return typed;
}

} // namespace

FailureOr<RecurrenceProgramForm>
tmix::matchRecurrenceProgram(tile::RecurrenceProgramOp program, RecurrenceOp spec,
                             StringRef target) {
  RecurrenceProgramForm form;
  RecurrenceScheduleAttr schedule = program.getSchedule();
  if (schedule.getForm() != "recurrent")
    form.forms = getChunkForms(spec);
  bool wantsChunked = !form.forms.empty();
  bool wantsSteps = form.forms.empty() ||
                    (schedule.getForm() == "auto" && schedule.getChunkedMinSteps() > 1);
  form.chunkLoop = program.getChunkLoop();
  form.stepLoop = program.getStepLoop();
  if (bool(form.chunkLoop) != wantsChunked)
    return refuse(program, target,
                  wantsChunked ? "has no chunk_loop, though states of its spec have a "
                                 "chunk form and its schedule runs them"
                               : "has a chunk_loop, though no state of its spec runs "
                                 "chunked under its schedule");
  if (bool(form.stepLoop) != wantsSteps)
    return refuse(program, target,
                  wantsSteps ? "has no step_loop, which its spec and schedule need"
                             : "has a step_loop, which its schedule never takes");
  if (!wantsChunked)
    return form;

  Block &body = form.chunkLoop.getBodyBlock();
  Value start = form.chunkLoop.getStart(), length = form.chunkLoop.getLength();
  Operation *anchor = form.chunkLoop;
  auto sameOperand = [&](Operation *op, Value value, Value expected,
                         StringRef what) -> LogicalResult {
    if (value == expected)
      return success();
    return refuse(op, target, Twine("takes an operand other than ") + what);
  };
  Block::iterator it = body.begin();
  auto stage = nextOp<tile::StageStepsOp>(it, body, anchor, target);
  if (failed(stage) || failed(sameOperand(*stage, stage->getStart(), start, "the chunk's start")) ||
      failed(sameOperand(*stage, stage->getLength(), length, "the chunk's length")))
    return failure();
  form.stage = *stage;
  SmallVector<tmix::StateOp, 4> states = spec.getStateOps();
  SmallVector<Value> readouts;
  for (auto [formIndex, chunkForm] : llvm::enumerate(form.forms)) {
    ChunkedStateOps ops;
    ops.formIndex = formIndex;
    StringRef name = states[chunkForm.stateIndex].getSymName();
    auto logs = nextOp<tile::GateLogsOp>(it, body, anchor, target, name);
    if (failed(logs))
      return failure();
    ops.logs = *logs;
    // One column per key row for a row gate, one for a scalar gate.
    Attribute keyDim = cast<SpecTensorType>(states[chunkForm.stateIndex].getType()).getDims()[0];
    Attribute expectedColumns =
        chunkForm.hasRowGate() ? keyDim
                               : Attribute(IntegerAttr::get(IntegerType::get(spec.getContext(), 64), 1));
    if (logs->getLogs().getType().getDims()[1] != expectedColumns)
      return refuse(*logs, target,
                    chunkForm.hasRowGate() ? "has one column, but the state's gate is a "
                                             "row gate: one column per key row"
                                           : "has a column per key row, but the state's "
                                             "gate is a scalar: one column");
    Value pseudoValues;
    if (chunkForm.delta) {
      auto solve = nextOp<tile::DeltaSolveOp>(it, body, anchor, target, name);
      if (failed(solve) ||
          failed(sameOperand(*solve, solve->getLogs(), *logs, "the state's gate logs")))
        return failure();
      ops.solve = *solve;
      pseudoValues = *solve;
    }
    for (size_t r = 0; r < chunkForm.readouts.size(); ++r) {
      auto scores = nextOp<tile::ChunkScoresOp>(it, body, anchor, target, name);
      if (failed(scores))
        return failure();
      if (scores->getReadout() != static_cast<int64_t>(r))
        return refuse(*scores, target, Twine("is not readout ") + Twine(r) + " of its state");
      if (failed(sameOperand(*scores, scores->getLogs(), *logs, "the state's gate logs")))
        return failure();
      auto readout = nextOp<tile::ChunkReadoutOp>(it, body, anchor, target, name);
      if (failed(readout))
        return failure();
      if (readout->getReadout() != static_cast<int64_t>(r))
        return refuse(*readout, target, Twine("is not readout ") + Twine(r) + " of its state");
      if (failed(sameOperand(*readout, readout->getScores(), *scores, "the readout's scores")) ||
          failed(sameOperand(*readout, readout->getLogs(), *logs, "the state's gate logs")) ||
          failed(sameOperand(*readout, readout->getPseudoValues(), pseudoValues,
                             chunkForm.delta ? "the state's pseudo-values" : "no pseudo-values")))
        return failure();
      ops.scores.push_back(*scores);
      ops.readouts.push_back(*readout);
      readouts.push_back(*readout);
    }
    auto update = nextOp<tile::StateUpdateOp>(it, body, anchor, target, name);
    if (failed(update) ||
        failed(sameOperand(*update, update->getLogs(), *logs, "the state's gate logs")) ||
        failed(sameOperand(*update, update->getPseudoValues(), pseudoValues,
                           chunkForm.delta ? "the state's pseudo-values" : "no pseudo-values")))
      return failure();
    ops.update = *update;
    form.states.push_back(std::move(ops));
  }
  auto finish = nextOp<tile::FinishStepsOp>(it, body, anchor, target);
  if (failed(finish) ||
      failed(sameOperand(*finish, finish->getStart(), start, "the chunk's start")) ||
      failed(sameOperand(*finish, finish->getLength(), length, "the chunk's length")))
    return failure();
  if (finish->getReadouts() != ValueRange(readouts))
    return refuse(*finish, target,
                  "does not take the chunk's readouts, in the order of the states and "
                  "their readouts");
  if (it != body.end())
    return refuse(&*it, target, "follows the end of the chunk loop's form");
  form.finish = *finish;
  return form;
}

FailureOr<RunnableRecurrenceProgram>
tmix::checkRecurrenceProgram(tile::RecurrenceProgramOp program, const TargetInfo &target,
                             const FixedSizes &fixed) {
  return checkProgram(program, target, fixed, "tmix.recurrence", matchRecurrenceProgram);
}

LogicalResult tmix::checkEveryRecurrenceTiled(ModuleOp module) {
  return checkEveryTiled<tile::RecurrenceProgramOp, RecurrenceOp>(module,
                                                                  "tmix-tile-recurrence");
}
