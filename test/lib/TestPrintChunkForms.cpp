//===- TestPrintChunkForms.cpp - Print the chunk form of each state -------===//
//
// The test hook of ChunkForm.h: one remark per tmix.state, its gate, terms and
// readouts (`state 'S': gate exp(row); 1 term; 1 readout`) or `no chunk form`,
// checked with -verify-diagnostics.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/ChunkForm.h"
#include "test/lib/TestPasses.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_TESTPRINTCHUNKFORMS
#include "test/lib/TestPasses.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// `exp(row)`, `1/scalar`, ...: what the lowering does with each factor.
void printFactors(InFlightDiagnostic &remark, ArrayRef<ChunkFactor> factors) {
  if (factors.empty())
    remark << "1";
  for (auto [index, factor] : llvm::enumerate(factors)) {
    const char *shape = isa<SpecTensorType>(factor.value.getType()) ? "row" : "scalar";
    remark << (index ? " * " : "") << (factor.inverse ? "1/" : "");
    if (factor.isExp)
      remark << "exp(" << shape << ")";
    else
      remark << shape;
  }
}

struct TestPrintChunkForms : tmix::impl::TestPrintChunkFormsBase<TestPrintChunkForms> {
  void runOnOperation() override {
    getOperation().walk([&](RecurrenceOp op) {
      for (auto [index, state] : llvm::enumerate(op.getStateOps())) {
        InFlightDiagnostic remark = state.emitRemark();
        remark << "state '" << state.getSymName() << "': ";
        std::optional<ChunkForm> form = getChunkForm(op, index);
        if (!form) {
          remark << "no chunk form";
          continue;
        }
        remark << "gate " << (form->negatedGate ? "-" : "");
        printFactors(remark, form->gate);
        for (const RankOneTerm &term : form->terms) {
          remark << "; " << (term.negated ? "-" : "") << "term ";
          printFactors(remark, term.factors);
        }
        if (form->delta) {
          remark << "; delta ";
          printFactors(remark, form->delta->strength);
        }
        remark << "; " << form->readouts.size() << " readout"
               << (form->readouts.size() == 1 ? "" : "s");
      }
    });
  }
};

} // namespace
