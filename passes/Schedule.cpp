//===- Schedule.cpp - Choose the tile sizes of every spec -----------------===//
//
// The schedule is decided here, never in a spec: query rows per attention program and
// keys per KV tile, and the vector shape of the target that the CPU micro-kernels are
// register-blocked for; the form and chunk size of a recurrence. From the pass options
// (a fixed heuristic for now), each checked against its range (ScheduleBounds.h).
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/Passes.h"
#include "passes/ScheduleBounds.h"

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
    // Every integer option in its range (ScheduleBounds.h), then the lane vectors of a
    // query tile.
    std::pair<StringRef, Option<int64_t> *> options[] = {
        {"block_m", &blockM}, {"block_n", &blockN},
        {"lanes", &lanes},    {"vector_registers", &vectorRegisters},
        {"chunk", &chunk},    {"chunked_min_steps", &chunkedMinSteps}};
    for (auto [key, option] : options) {
      int64_t value = *option;
      std::string error = scheduleRangeError(*scheduleRange(key), value);
      if (error.empty())
        continue;
      getOperation().emitError("bad schedule option ")
          << option->getArgStr() << "=" << value << ": " << error;
      return signalPassFailure();
    }
    if (std::string error = rowVectorsError(blockM, lanes); !error.empty()) {
      getOperation().emitError("bad schedule options: ") << error;
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
