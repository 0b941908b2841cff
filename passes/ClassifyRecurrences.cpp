//===- ClassifyRecurrences.cpp - Record the update class of every state ---===//
//
// Attaches `tmix.update_class` (RecurrenceClasses.h) to each tmix.state, so that the
// choice of a chunk-parallel algorithm is visible in the IR and testable. The
// lowerings read the attribute or ignore it; it never changes what a spec computes.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/Passes.h"
#include "passes/RecurrenceClasses.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_CLASSIFYRECURRENCES
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {
struct ClassifyRecurrences : tmix::impl::ClassifyRecurrencesBase<ClassifyRecurrences> {
  void runOnOperation() override {
    Builder builder(&getContext());
    getOperation().walk([&](RecurrenceOp op) {
      if (op.getForwardAttr())
        return; // an adjoint runs step by step (getChunkForms)
      RecurrenceClasses classes(op);
      for (auto [state, updateClass] : llvm::zip(op.getStateOps(), classes.getClasses()))
        state->setAttr(kUpdateClassAttr,
                       builder.getStringAttr(stringifyUpdateClass(updateClass)));
    });
  }
};
} // namespace
