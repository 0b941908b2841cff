//===- TargetInfo.cpp - The registry of targets and the checked schedule --===//
//
// Targets register once at start-up (tmixc, tmix-opt, the compilers' entry points) and
// are looked up by name from any thread.
//
//===----------------------------------------------------------------------===//

#include "passes/TargetInfo.h"

#include "passes/Passes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"

#include <mutex>

using namespace mlir;
using namespace mlir::tmix;

TargetInfo::~TargetInfo() = default;

namespace {
struct Registry {
  std::mutex mutex;
  llvm::StringMap<const TargetInfo *> targets;
};

Registry &registry() {
  static Registry instance;
  return instance;
}

/// The op's schedule when it is of the kind `ScheduleAttr`, or the default; failure
/// after an error on `op` (a schedule of the wrong kind, or one the target refuses).
template <typename ScheduleAttr, typename SpecOp>
FailureOr<ScheduleAttr> checkedSchedule(const TargetInfo &target, SpecOp op,
                                        const FixedSizes &fixed) {
  ScheduleAttr schedule;
  if (Attribute attr = op->getAttr(kScheduleAttr)) {
    schedule = dyn_cast<ScheduleAttr>(attr);
    if (!schedule)
      return op.emitOpError("'")
             << kScheduleAttr << "' must be a #tmix."
             << (std::is_same_v<SpecOp, AttentionOp> ? "attention_schedule"
                                                     : "recurrence_schedule")
             << ", not " << attr;
  } else {
    schedule = target.getDefaultSchedule(op, fixed);
  }
  if (std::string error = target.checkSchedule(op, schedule, fixed); !error.empty())
    return op.emitError(error);
  return schedule;
}
} // namespace

FailureOr<AttentionScheduleAttr>
TargetInfo::getCheckedSchedule(AttentionOp op, const FixedSizes &fixed) const {
  return checkedSchedule<AttentionScheduleAttr>(*this, op, fixed);
}

FailureOr<RecurrenceScheduleAttr>
TargetInfo::getCheckedSchedule(RecurrenceOp op, const FixedSizes &fixed) const {
  return checkedSchedule<RecurrenceScheduleAttr>(*this, op, fixed);
}

void tmix::registerTargetInfo(const TargetInfo &target) {
  Registry &instance = registry();
  std::lock_guard<std::mutex> lock(instance.mutex);
  instance.targets.try_emplace(target.getName(), &target);
}

const TargetInfo *tmix::lookupTargetInfo(StringRef name) {
  Registry &instance = registry();
  std::lock_guard<std::mutex> lock(instance.mutex);
  return instance.targets.lookup(name);
}

std::string tmix::registeredTargetNames() {
  Registry &instance = registry();
  std::lock_guard<std::mutex> lock(instance.mutex);
  SmallVector<StringRef> names;
  for (const auto &entry : instance.targets)
    names.push_back(entry.getKey());
  llvm::sort(names);
  return llvm::join(names, ", ");
}
