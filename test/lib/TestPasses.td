//===- Passes.td - test-only passes -*- tablegen -*-===//
//
// Passes that exist only for tests: they print analyses' results as remarks.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TEST_LIB_TESTPASSES_TD
#define TMIX_TEST_LIB_TESTPASSES_TD

include "mlir/Pass/PassBase.td"

def TestPrintRecurrenceClasses : Pass<"tmix-test-print-recurrence-classes",
                                      "::mlir::ModuleOp"> {
  let summary = "print the update class of every recurrent state as remarks";
  let description = [{
    Test hook of the recurrence class analysis: one remark per `tmix.state`,
    `state 'S': scalar_decay`.
  }];
}

def TestPrintChunkForms : Pass<"tmix-test-print-chunk-forms", "::mlir::ModuleOp"> {
  let summary = "print the chunk form of every recurrent state as remarks";
  let description = [{
    Test hook of the chunk form analysis (ChunkForm.h): one remark per `tmix.state`,
    the factors of its gate (`exp(row)`, `scalar`, `1/scalar`, ...), its rank-one terms
    with their factors, a delta rule's strength and the number of readouts
    (`state 'S': gate exp(row); term 1; 1 readout`), or `no chunk form`.
  }];
}

#endif // TMIX_TEST_LIB_TESTPASSES_TD
