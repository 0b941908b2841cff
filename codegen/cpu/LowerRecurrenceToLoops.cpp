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
// An adjoint (`forward "X"`, tmix-derive-recurrence-grad) runs its steps in reverse and
// reads X's state before each step: X runs forward once, keeping its states every
// kCheckpointSteps steps; then for each span between checkpoints, last first, X runs
// again from the checkpoint keeping each state of the span, and the adjoint's steps
// run over the span backwards. Memory: O(T / kCheckpointSteps + kCheckpointSteps)
// states per program, for two forward passes. An adjoint that
// tmix-derive-recurrence-grad marked for it (log-space decays) runs chunk by chunk
// instead (ChunkedAdjoint.h), unless its schedule's form is "recurrent".
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "codegen/cpu/ChunkedAdjoint.h"
#include "codegen/cpu/ChunkedLowering.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/Passes.h"
#include "dialect/ScheduleBounds.h"
#include "passes/RecurrenceProgramForm.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/StringMap.h"

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
  // Only a program without a chunk loop may fuse: the chunked lowering reads the
  // step's buffers.
  StepLowering steps(op, /*fuseElementwise=*/!program.chunkLoop);
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

/// The steps between two checkpoints of the forward states in an adjoint's program.
constexpr int64_t kCheckpointSteps = 64;

/// Emits the program of the adjoint `op` of `forward` (see the file comment).
void lowerAdjoint(RecurrenceOp op, RecurrenceOp forward) {
  StepLowering adjoint(op, /*fuseElementwise=*/true);
  KernelBuilder &kb = adjoint.kernel();
  ImplicitLocOpBuilder &b = kb.builder();
  StepLowering primal(forward, adjoint);
  Value steps = adjoint.numSteps(), span = kb.index(kCheckpointSteps);
  Value zero = kb.index(0), one = kb.index(1);
  Value numSpans = arith::CeilDivUIOp::create(b, steps, span);

  // [spans, state...] checkpoints and [span, state...] states of one span, per state.
  SmallVector<Value> checkpoints, window;
  for (unsigned index = 0; index < primal.numStates(); ++index) {
    ArrayRef<Attribute> dims = primal.stateDimsOf(index);
    SmallVector<int64_t> shape(dims.size() + 1, ShapedType::kDynamic);
    SmallVector<Value> sizes{numSpans};
    for (Attribute dim : dims)
      sizes.push_back(kb.dimValue(dim));
    auto type = MemRefType::get(shape, b.getF32Type());
    checkpoints.push_back(kb.allocateScratch(type, sizes));
    sizes.front() = span;
    window.push_back(kb.allocateScratch(type, sizes));
  }
  kb.guardScratch();
  primal.initStates();
  for (unsigned index = 0; index < primal.numStates(); ++index)
    adjoint.bindForwardState(primal.stateName(index), primal.stateBuffer(index));

  // Copies every state between the primal's buffers and row `row` of `rows`.
  auto copyStates = [&](ArrayRef<Value> rows, Value row, bool intoRows) {
    for (unsigned index = 0; index < primal.numStates(); ++index)
      primal.forEach(primal.stateDimsOf(index), [&](ValueRange at) {
        SmallVector<Value> rowAt{row};
        llvm::append_range(rowAt, at);
        Value state = primal.stateBuffer(index);
        if (intoRows)
          memref::StoreOp::create(b, memref::LoadOp::create(b, state, at), rows[index],
                                  rowAt);
        else
          memref::StoreOp::create(b, memref::LoadOp::create(b, rows[index], rowAt), state,
                                  at);
      });
  };
  llvm::DenseSet<Operation *> stateOps = primal.opsOfStates();
  auto forwardStep = [&](Value t) {
    primal.beginStep(t);
    primal.lowerOps([&](Operation *inner) { return stateOps.contains(inner); });
    primal.writeBackStates([](unsigned) { return true; });
  };

  // Forward: a checkpoint before every span.
  kb.loop(zero, steps, one, {}, [&](Value t, ValueRange) {
    Value remainder = arith::RemUIOp::create(b, t, span);
    Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, remainder, zero);
    kb.ifElse(first, {}, [&] {
      copyStates(checkpoints, arith::DivUIOp::create(b, t, span), /*intoRows=*/true);
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
    forwardStep(t);
    return SmallVector<Value>{};
  });
  // Backward, span by span from the last.
  kb.loop(zero, numSpans, one, {}, [&](Value reversed, ValueRange) {
    Value spanIndex =
        arith::SubIOp::create(b, arith::SubIOp::create(b, numSpans, one), reversed);
    Value start = arith::MulIOp::create(b, spanIndex, span);
    Value length = arith::MinUIOp::create(b, span, arith::SubIOp::create(b, steps, start));
    copyStates(checkpoints, spanIndex, /*intoRows=*/false);
    kb.loop(zero, length, one, {}, [&](Value s, ValueRange) {
      copyStates(window, s, /*intoRows=*/true);
      forwardStep(arith::AddIOp::create(b, start, s));
      return SmallVector<Value>{};
    });
    kb.loop(zero, length, one, {}, [&](Value s, ValueRange) {
      Value row = arith::SubIOp::create(b, arith::SubIOp::create(b, length, one), s);
      copyStates(window, row, /*intoRows=*/false);
      adjoint.lowerStep(arith::AddIOp::create(b, start, row));
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  primal.release();
  adjoint.finish();
}

struct LowerRecurrenceToLoops
    : tmix::impl::LowerRecurrenceToLoopsBase<LowerRecurrenceToLoops> {
  void runOnOperation() override {
    if (failed(checkEveryRecurrenceTiled(getOperation())))
      return signalPassFailure();
    SmallVector<tile::RecurrenceProgramOp> programs(
        getOperation().getOps<tile::RecurrenceProgramOp>());
    // The specs go once all are lowered: an adjoint's program runs its forward's steps.
    // Found by name before any program takes a spec's name.
    llvm::StringMap<RecurrenceOp> specs;
    for (RecurrenceOp spec : getOperation().getOps<RecurrenceOp>())
      specs[spec.getSymName()] = spec;
    SmallVector<RecurrenceOp> lowered;
    for (tile::RecurrenceProgramOp program : programs) {
      FailureOr<RunnableRecurrenceProgram> runnable =
          checkRecurrenceProgram(program, getCpuTargetInfo(), /*fixed=*/{});
      if (failed(runnable))
        return signalPassFailure();
      RecurrenceOp spec = runnable->spec;
      if (StringAttr forwardName = spec.getForwardAttr()) {
        RecurrenceOp forward = specs.lookup(forwardName.getValue());
        if (!forward || forward.getForwardAttr()) {
          spec.emitOpError() << "is the adjoint of '" << forwardName.getValue()
                             << "', which is not a recurrence of this module";
          return signalPassFailure();
        }
        // Chunk by chunk where the derivation marked the adjoint for it, unless the
        // schedule asks for the step-by-step form.
        if (runsChunkedAdjointOnCpu(spec) &&
            runnable->schedule.getForm() != "recurrent") {
          if (failed(lowerChunkedAdjoint(spec, forward, runnable->schedule.getChunk())))
            return signalPassFailure();
        } else {
          lowerAdjoint(spec, forward);
        }
      } else if (failed(lowerRecurrence(spec, runnable->schedule, runnable->form))) {
        return signalPassFailure();
      }
      program.erase();
      lowered.push_back(spec);
      ++numLowered;
    }
    for (RecurrenceOp spec : lowered)
      spec.erase();
  }
};

} // namespace
