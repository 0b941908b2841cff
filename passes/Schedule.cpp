//===- Schedule.cpp - Choose the tile sizes of every spec -----------------===//
//
// The schedule is decided here, never in a spec: query rows per attention program and
// keys per KV tile, from the pass options (a fixed heuristic for now), and the vector
// shape of the target that the CPU micro-kernels are register-blocked for.
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
    Builder builder(&getContext());
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
