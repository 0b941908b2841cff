//===- TestPrintRecurrenceClasses.cpp - Print the update class of each state ===//
//
// The test hook of RecurrenceClasses.h: one remark per tmix.state,
// `state 'S': scalar_decay`, checked with -verify-diagnostics.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "test/lib/TestPasses.h"
#include "passes/RecurrenceClasses.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_TESTPRINTRECURRENCECLASSES
#include "test/lib/TestPasses.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {
struct TestPrintRecurrenceClasses
    : tmix::impl::TestPrintRecurrenceClassesBase<TestPrintRecurrenceClasses> {
  void runOnOperation() override {
    getOperation().walk([&](RecurrenceOp op) {
      RecurrenceClasses classes(op);
      for (auto [state, updateClass] : llvm::zip(op.getStateOps(), classes.getClasses()))
        state.emitRemark() << "state '" << state.getSymName()
                           << "': " << stringifyUpdateClass(updateClass);
    });
  }
};
} // namespace
