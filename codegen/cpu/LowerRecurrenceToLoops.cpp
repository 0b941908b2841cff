//===- LowerRecurrenceToLoops.cpp - tmix.recurrence to loop programs ------===//
//
// One program per point of the parallel dimensions, in one of two forms: step by step
// (StepLowering.h), or chunk-parallel for the matrix states with a chunk form
// (ChunkedLowering.h). The schedule's `form` chooses: `recurrent`,
// `chunked`, or `auto`, a run-time branch on the number of steps T: chunked when
// T >= `chunked_min_steps`, else step by step (decode and short prompts). With
// chunked_min_steps = 1 (the CPU default: chunked measured faster at every T, T = 1
// included) there is no branch.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "codegen/cpu/ChunkedLowering.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/Passes.h"
#include "dialect/ScheduleBounds.h"
#include "passes/RecurrenceClasses.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERRECURRENCETOLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// Emits the program of `op`; failure after an error on it (scratch buffers too large).
LogicalResult lowerRecurrence(RecurrenceOp op, RecurrenceScheduleAttr schedule) {
  StepLowering steps(op);
  KernelBuilder &kb = steps.kernel();
  StringRef form = schedule.getForm();
  int64_t chunkSize = schedule.getChunk();
  SmallVector<ChunkForm, 1> forms;
  if (form != "recurrent")
    forms = getChunkForms(op);
  auto recurrent = [&] {
    kb.loop(kb.index(0), steps.numSteps(), kb.index(1), {}, [&](Value t, ValueRange) {
      steps.lowerStep(t);
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  };
  auto chunked = [&] {
    lowerChunked(steps, forms, chunkSize);
    return SmallVector<Value>{};
  };
  int64_t minSteps = schedule.getChunkedMinSteps();
  if (forms.empty()) {
    recurrent();
  } else if (form == "chunked" || minSteps <= 1) {
    chunked();
  } else {
    Value longEnough = arith::CmpIOp::create(kb.builder(), arith::CmpIPredicate::uge,
                                             steps.numSteps(), kb.index(minSteps));
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
    SmallVector<RecurrenceOp> specs(getOperation().getOps<RecurrenceOp>());
    for (RecurrenceOp op : specs) {
      // The schedule may be hand-written: checked before any size is derived from it
      // (without one: the CPU target's default).
      FailureOr<RecurrenceScheduleAttr> schedule =
          getCpuTargetInfo().getCheckedSchedule(op, /*fixed=*/{});
      if (failed(schedule) || failed(lowerRecurrence(op, *schedule)))
        return signalPassFailure();
      op.erase();
      ++numLowered;
    }
  }
};

} // namespace
