//===- RecurrenceProgramForm.h - The recurrence program a target runs -*- C++ -*-===//
//
// An analysis of a tmix_tile.recurrence program: whether it is the program that
// tmix-tile-recurrence writes for its spec and schedule, and if so which op is which.
// Every target's lowering asks it before emitting anything, so that a program it
// cannot run is refused with one error rather than lowered into a wrong kernel:
//
//   chunk_loop (unless the form is recurrent and while some state has a chunk form) {
//   ^(start, length):
//     stage_steps(start, length)
//     for each state S with a chunk form, in declaration order:
//       logs = gate_logs(S)
//       w = delta_solve(S, logs)                    a delta rule only
//       for each readout r: A = chunk_scores(S, r, logs); o = chunk_readout(S, r, A, logs, w)
//       state_update(S, logs, w)
//     finish_steps(start, length, o...)
//   }
//   step_loop (when no state has a chunk form, the form is recurrent, or under auto
//              below chunked_min_steps)
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_RECURRENCEPROGRAMFORM_H
#define TMIX_PASSES_RECURRENCEPROGRAMFORM_H

#include "dialect/TileOps.h"
#include "passes/ChunkForm.h"
#include "passes/TileProgram.h"

namespace mlir::tmix {

/// The chunk loop's ops of one state with a chunk form.
struct ChunkedStateOps {
  unsigned formIndex = 0; // into RecurrenceProgramForm::forms
  tile::GateLogsOp logs;
  tile::DeltaSolveOp solve; // null unless a delta rule
  SmallVector<tile::ChunkScoresOp> scores;
  SmallVector<tile::ChunkReadoutOp> readouts;
  tile::StateUpdateOp update;
};

/// The ops of a recurrence program, and the chunk forms they advance.
struct RecurrenceProgramForm {
  SmallVector<ChunkForm, 1> forms;
  tile::ChunkLoopOp chunkLoop; // null: step by step only
  tile::StepLoopOp stepLoop;   // null: chunked only
  tile::StageStepsOp stage;
  SmallVector<ChunkedStateOps, 1> states;
  tile::FinishStepsOp finish;
};

/// Matches `program` against what tmix-tile-recurrence writes for its spec `spec` and
/// its schedule; failure after one error on the first op that differs, saying that
/// `target`'s lowering does not run it.
FailureOr<RecurrenceProgramForm> matchRecurrenceProgram(tile::RecurrenceProgramOp program,
                                                        RecurrenceOp spec, StringRef target);

using RunnableRecurrenceProgram =
    RunnableProgram<RecurrenceOp, RecurrenceProgramForm, RecurrenceScheduleAttr>;

/// checkProgram (TileProgram.h) of a recurrence program: its spec, the form above, a
/// schedule `target` runs. Failure after one error.
FailureOr<RunnableRecurrenceProgram> checkRecurrenceProgram(tile::RecurrenceProgramOp program,
                                                            const TargetInfo &target,
                                                            const FixedSizes &fixed);

/// Fails after an error on the first recurrence spec of `module` without a tile
/// program (tmix-tile-recurrence did not run).
LogicalResult checkEveryRecurrenceTiled(ModuleOp module);

} // namespace mlir::tmix

#endif // TMIX_PASSES_RECURRENCEPROGRAMFORM_H
