//===- TmixAttrs.cpp - Attributes of the tmix dialect ---------------------===//
//
// Registers, parses, prints and verifies the schedule and kernel-ABI attributes.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixAttrs.h"

#include "dialect/ScheduleBounds.h"
#include "dialect/TmixDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
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

/// Checks `value` of the parameter `key` against its range (ScheduleBounds.h); 0 is
/// allowed where `unused` (a parameter the target does not use).
static LogicalResult verifyRange(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef key, int64_t value, bool unused = false) {
  if (unused && value == 0)
    return success();
  std::string error = scheduleRangeError(*scheduleRange(key), value);
  if (error.empty())
    return success();
  return emitError() << "schedule " << key << "=" << value << ": " << error;
}

LogicalResult
AttentionScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t blockM,
                              int64_t blockN, int64_t lanes, int64_t vectorRegisters,
                              int64_t warps, int64_t stages) {
  if (failed(verifyRange(emitError, "block_m", blockM)) ||
      failed(verifyRange(emitError, "block_n", blockN)) ||
      failed(verifyRange(emitError, "lanes", lanes, /*unused=*/true)) ||
      failed(verifyRange(emitError, "vector_registers", vectorRegisters, true)) ||
      failed(verifyRange(emitError, "warps", warps, true)) ||
      failed(verifyRange(emitError, "stages", stages, true)))
    return failure();
  // The lane vectors of a query tile are unrolled in every micro-kernel step.
  if (lanes > 0)
    if (std::string error = rowVectorsError(blockM, lanes); !error.empty())
      return emitError() << "schedule " << error;
  return success();
}

LogicalResult RecurrenceScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                             StringRef form, int64_t chunk,
                                             int64_t chunkedMinSteps) {
  if (!llvm::is_contained(kRecurrenceForms, form))
    return emitError() << "unknown recurrence form '" << form
                       << "' (expected auto, chunked or recurrent)";
  if (failed(verifyRange(emitError, "chunk", chunk)) ||
      failed(verifyRange(emitError, "chunked_min_steps", chunkedMinSteps)))
    return failure();
  return success();
}
