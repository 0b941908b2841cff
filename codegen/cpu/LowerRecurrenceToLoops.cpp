//===- LowerRecurrenceToLoops.cpp - tmix.recurrence to loop programs ------===//
//
// The CPU program of a tmix_tile.recurrence program (RecurrenceProgramForm.h): one
// program per point of the parallel dimensions, running the program's step loop (step
// by step, StepLowering.h), its chunk loop (chunk-parallel for the matrix states with
// a chunk form, ChunkedLowering.h), or both behind a run-time branch on the number of
// steps T: chunked when T >= the schedule's `chunked_min_steps`, else step by step
// (decode and short prompts). With chunked_min_steps = 1 (the CPU default: chunked
// measured faster at every T, T = 1 included) there is no branch.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "codegen/cpu/ChunkedLowering.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/Passes.h"
#include "dialect/ScheduleBounds.h"
#include "passes/RecurrenceProgramForm.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERRECURRENCETOLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// Emits the program of `op` from its tile program's form; failure after an error on
/// it (scratch buffers too large).
LogicalResult lowerRecurrence(RecurrenceOp op, RecurrenceScheduleAttr schedule,
                              const RecurrenceProgramForm &program) {
  StepLowering steps(op);
  KernelBuilder &kb = steps.kernel();
  int64_t chunkSize = schedule.getChunk();
  auto recurrent = [&] {
    kb.loop(kb.index(0), steps.numSteps(), kb.index(1), {}, [&](Value t, ValueRange) {
      steps.lowerStep(t);
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  };
  auto chunked = [&] {
    lowerChunked(steps, program, chunkSize);
    return SmallVector<Value>{};
  };
  // The chunk loop, the step loop, or both: the chunk loop from chunked_min_steps on.
  if (!program.chunkLoop) {
    recurrent();
  } else if (!program.stepLoop) {
    chunked();
  } else {
    Value longEnough =
        arith::CmpIOp::create(kb.builder(), arith::CmpIPredicate::uge, steps.numSteps(),
                              kb.index(schedule.getChunkedMinSteps()));
    kb.ifElse(longEnough, {}, chunked, recurrent);
  }
  steps.finish();
  // Counted over both forms of `auto`, though a program runs one: a bound, not a sum.
  if (kb.knownScratchBytes() > static_cast<uint64_t>(kMaxProgramScratchBytes))
    return op.emitOpError("needs ")
           << kb.knownScratchBytes()
           << " bytes of scratch buffers per program (chunk=" << chunkSize
           << " and the fixed state and step dims), more than " << kMaxProgramScratchBytes
           << ": choose a smaller chunk";
  return success();
}

struct LowerRecurrenceToLoops
    : tmix::impl::LowerRecurrenceToLoopsBase<LowerRecurrenceToLoops> {
  void runOnOperation() override {
    if (failed(checkEveryRecurrenceTiled(getOperation())))
      return signalPassFailure();
    SmallVector<tile::RecurrenceProgramOp> programs(
        getOperation().getOps<tile::RecurrenceProgramOp>());
    for (tile::RecurrenceProgramOp program : programs) {
      FailureOr<RunnableRecurrenceProgram> runnable =
          checkRecurrenceProgram(program, getCpuTargetInfo(), /*fixed=*/{});
      if (failed(runnable) ||
          failed(lowerRecurrence(runnable->spec, runnable->schedule, runnable->form)))
        return signalPassFailure();
      program.erase();
      runnable->spec.erase();
      ++numLowered;
    }
  }
};

} // namespace
