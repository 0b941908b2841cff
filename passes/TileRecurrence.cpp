//===- TileRecurrence.cpp - tmix.recurrence to a program of tile ops ------===//
//
// Writes one program of a scheduled recurrence spec's grid in tile ops
// (dialect/TileOps.td). The chunked form, per chunk of the schedule's steps:
//
//   stage_steps(start, length)                  gates, keys, values, queries
//   for each state S with a chunk form:
//     logs = gate_logs(S)                       cumulative, [chunk, K] or [chunk, 1]
//     w    = delta_solve(S, logs)               the delta rule's pseudo-values
//     for each readout r of S:
//       A  = chunk_scores(S, r, logs)           [chunk, chunk], lower triangular
//       o  = chunk_readout(S, r, A, logs, w)    [chunk, V]
//     state_update(S, logs, w)
//   finish_steps(start, length, o...)           the rest of each step
//
// The tile types name the schedule's chunk and the state's dims, so the program reads
// the same for every target.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/TileOps.h"
#include "dialect/TmixOps.h"
#include "passes/ChunkForm.h"
#include "passes/TileProgram.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_TILERECURRENCE
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

namespace {

/// Whether the schedule runs the chunked form at all, and whether it keeps the step
/// by step form beside it (auto, below chunked_min_steps).
bool runsChunked(RecurrenceScheduleAttr schedule) {
  return schedule.getForm() != "recurrent";
}
bool keepsRecurrent(RecurrenceScheduleAttr schedule) {
  return schedule.getForm() == "auto" && schedule.getChunkedMinSteps() > 1;
}

/// The chunk loop of `forms` at `b`'s insertion point.
void buildChunkLoop(OpBuilder &b, Location loc, RecurrenceOp spec,
                    ArrayRef<ChunkForm> forms) {
  MLIRContext *context = b.getContext();
  Attribute chunk = b.getStringAttr(tile::kChunk);
  auto tileOf = [&](Attribute rows, Attribute columns) -> Type {
    return tile::TileType::get(context, {rows, columns});
  };
  auto loop = tile::ChunkLoopOp::create(b, loc);
  OpBuilder::InsertionGuard guard(b);
  Type index = b.getIndexType();
  Block *body = b.createBlock(&loop.getBody(), {}, {index, index}, {loc, loc});
  Value start = body->getArgument(0), length = body->getArgument(1);
  tile::StageStepsOp::create(b, loc, start, length);
  SmallVector<tmix::StateOp, 4> states = spec.getStateOps();
  SmallVector<Value> readouts;
  for (const ChunkForm &form : forms) {
    tmix::StateOp state = states[form.stateIndex];
    StringAttr name = state.getSymNameAttr();
    ArrayRef<Attribute> dims = cast<SpecTensorType>(state.getType()).getDims();
    Attribute keyDim = dims[0], valueDim = dims[1];
    Attribute gateColumns =
        form.hasRowGate() ? keyDim : Attribute(b.getI64IntegerAttr(1));
    Value logs = tile::GateLogsOp::create(b, loc, tileOf(chunk, gateColumns), name);
    Value pseudoValues;
    if (form.delta)
      pseudoValues = tile::DeltaSolveOp::create(b, loc, tileOf(chunk, valueDim), name, logs);
    for (int64_t r = 0, e = form.readouts.size(); r < e; ++r) {
      Value scores = tile::ChunkScoresOp::create(b, loc, tileOf(chunk, chunk), name,
                                                 b.getI64IntegerAttr(r), logs);
      readouts.push_back(tile::ChunkReadoutOp::create(b, loc, tileOf(chunk, valueDim),
                                                      name, b.getI64IntegerAttr(r),
                                                      scores, logs, pseudoValues));
    }
    tile::StateUpdateOp::create(b, loc, name, logs, pseudoValues);
  }
  tile::FinishStepsOp::create(b, loc, start, length, readouts);
}

/// Builds the program of `spec`, run by `schedule`, right after the spec.
void buildRecurrenceProgram(RecurrenceOp spec, RecurrenceScheduleAttr schedule) {
  OpBuilder b(spec.getContext());
  b.setInsertionPointAfter(spec);
  Location loc = spec.getLoc();
  auto program = tile::RecurrenceProgramOp::create(
      b, loc, FlatSymbolRefAttr::get(spec.getSymNameAttr()), schedule);
  b.createBlock(&program.getBody());
  SmallVector<ChunkForm, 1> forms;
  if (runsChunked(schedule))
    forms = getChunkForms(spec);
  if (!forms.empty())
    buildChunkLoop(b, loc, spec, forms);
  if (forms.empty() || keepsRecurrent(schedule))
    tile::StepLoopOp::create(b, loc);
}

struct TileRecurrence : tmix::impl::TileRecurrenceBase<TileRecurrence> {
  void runOnOperation() override {
    for (RecurrenceOp spec : getOperation().getOps<RecurrenceOp>()) {
      FailureOr<RecurrenceScheduleAttr> schedule =
          getScheduleOf<RecurrenceScheduleAttr>(spec, "recurrence_schedule");
      if (failed(schedule))
        return signalPassFailure();
      buildRecurrenceProgram(spec, *schedule);
      ++numTiled;
    }
  }
};

} // namespace
