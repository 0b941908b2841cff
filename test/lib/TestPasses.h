//===- Passes.h - test-only passes -*- C++ -*-===//
//
// Declarations of the test-only passes (generated from TestPasses.td) and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TEST_LIB_TESTPASSES_H
#define TMIX_TEST_LIB_TESTPASSES_H

#include "passes/Passes.h"

namespace mlir::tmix {

#define GEN_PASS_DECL
#include "test/lib/TestPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "test/lib/TestPasses.h.inc"

} // namespace mlir::tmix

#endif // TMIX_TEST_LIB_TESTPASSES_H
