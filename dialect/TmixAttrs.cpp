//===- TmixAttrs.cpp - Attributes of the tmix dialect ---------------------===//
//
// Registers, parses, prints and verifies the schedule and kernel-ABI attributes.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixAttrs.h"

#include "dialect/TmixDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tmix;

#define GET_ATTRDEF_CLASSES
#include "dialect/TmixAttrs.cpp.inc"

void TmixDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/TmixAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

LogicalResult
AttentionScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t blockM,
                              int64_t blockN, int64_t lanes, int64_t vectorRegisters,
                              int64_t warps, int64_t stages) {
  if (blockM < 1 || blockN < 1)
    return emitError() << "block_m and block_n must be positive";
  if (lanes < 0 || vectorRegisters < 0 || warps < 0 || stages < 0)
    return emitError() << "lanes, vector_registers, warps and stages must not be negative";
  return success();
}

LogicalResult RecurrenceScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                             StringRef form, int64_t chunk,
                                             int64_t chunkedMinSteps) {
  if (form != "auto" && form != "chunked" && form != "recurrent")
    return emitError() << "unknown recurrence form '" << form
                       << "' (expected auto, chunked or recurrent)";
  if (chunk < 1 || chunkedMinSteps < 1)
    return emitError() << "chunk and chunked_min_steps must be positive";
  return success();
}
