//===- ScheduleBounds.cpp - Checking a tmix.schedule against its ranges ---===//
//
// A lowering reads tile sizes and chunk sizes from the attribute, which a user may have
// written by hand: an out-of-range value is an error on the op, never a buffer size.
//
//===----------------------------------------------------------------------===//

#include "passes/ScheduleBounds.h"

#include "passes/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::tmix;

LogicalResult mlir::tmix::verifySchedule(Operation *op, int64_t defaultBlockM,
                                         int64_t defaultLanes) {
  auto schedule = op->getAttrOfType<DictionaryAttr>(kScheduleAttr);
  if (!schedule && op->hasAttr(kScheduleAttr))
    return op->emitOpError("'") << kScheduleAttr << "' must be a dictionary";
  int64_t blockM = defaultBlockM, lanes = defaultLanes;
  for (NamedAttribute entry :
       schedule ? schedule.getValue() : ArrayRef<NamedAttribute>()) {
    if (entry.getName() == "recurrence_form") {
      auto form = dyn_cast<StringAttr>(entry.getValue());
      if (!form || !llvm::is_contained({"auto", "chunked", "recurrent"}, form.getValue()))
        return op->emitOpError("schedule recurrence_form must be \"auto\", \"chunked\" "
                               "or \"recurrent\"");
      continue;
    }
    std::optional<ScheduleRange> range = scheduleRange(entry.getName());
    if (!range)
      continue;
    auto value = dyn_cast<IntegerAttr>(entry.getValue());
    if (!value || !value.getType().isSignlessInteger(64))
      return op->emitOpError("schedule entry '")
             << range->key << "' must be an i64 integer";
    int64_t size = value.getInt();
    if (std::string error = scheduleRangeError(*range, size); !error.empty())
      return op->emitOpError("schedule ") << range->key << "=" << size << ": " << error;
    if (range->key == "block_m")
      blockM = size;
    else if (range->key == "lanes")
      lanes = size;
  }
  if (blockM > 0 && lanes > 0)
    if (std::string error = rowVectorsError(blockM, lanes); !error.empty())
      return op->emitOpError("schedule ") << error;
  return success();
}
