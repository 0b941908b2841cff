//===- Schedule.cpp - Choose the tile sizes of every spec -----------------===//
//
// The schedule is decided here, never in a spec: query rows per attention program and
// keys per KV tile, and the vector shape of the target that the CPU micro-kernels are
// register-blocked for; the form and chunk size of a recurrence. From the pass options
// (a fixed heuristic for now).
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/Passes.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_SCHEDULE
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {
struct Schedule : tmix::impl::ScheduleBase<Schedule> {
  using ScheduleBase::ScheduleBase;

  void runOnOperation() override {
    if (lanes < 1 || vectorRegisters < 4) {
      getOperation().emitError("bad vector shape (lanes=")
          << static_cast<int64_t>(lanes)
          << ", vector-registers=" << static_cast<int64_t>(vectorRegisters) << ")";
      return signalPassFailure();
    }
    if (blockM < 1 || blockN < 1) {
      getOperation().emitError("tile sizes must be positive (block-m=")
          << static_cast<int64_t>(blockM) << ", block-n=" << static_cast<int64_t>(blockN)
          << ")";
      return signalPassFailure();
    }
    if (chunk < 1 || chunkedMinSteps < 1) {
      getOperation().emitError("chunk sizes must be positive (chunk=")
          << static_cast<int64_t>(chunk)
          << ", chunked-min-steps=" << static_cast<int64_t>(chunkedMinSteps) << ")";
      return signalPassFailure();
    }
    if (recurrenceForm != "auto" && recurrenceForm != "chunked" &&
        recurrenceForm != "recurrent") {
      getOperation().emitError("unknown recurrence form '")
          << recurrenceForm << "' (expected auto, chunked or recurrent)";
      return signalPassFailure();
    }
    Builder builder(&getContext());
    getOperation().walk([&](RecurrenceOp op) {
      if (op->hasAttr(kScheduleAttr))
        return;
      op->setAttr(kScheduleAttr,
                  builder.getDictionaryAttr(
                      {builder.getNamedAttr("chunk", builder.getI64IntegerAttr(chunk)),
                       builder.getNamedAttr("chunked_min_steps",
                                            builder.getI64IntegerAttr(chunkedMinSteps)),
                       builder.getNamedAttr("recurrence_form",
                                            builder.getStringAttr(recurrenceForm))}));
    });
    getOperation().walk([&](AttentionOp op) {
      if (op->hasAttr(kScheduleAttr))
        return;
      op->setAttr(
          kScheduleAttr,
          builder.getDictionaryAttr(
              {builder.getNamedAttr("block_m", builder.getI64IntegerAttr(blockM)),
               builder.getNamedAttr("block_n", builder.getI64IntegerAttr(blockN)),
               builder.getNamedAttr("lanes", builder.getI64IntegerAttr(lanes)),
               builder.getNamedAttr("vector_registers",
                                    builder.getI64IntegerAttr(vectorRegisters))}));
    });
  }
};
} // namespace
