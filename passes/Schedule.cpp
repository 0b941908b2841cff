//===- Schedule.cpp - Choose the schedule of every spec for a target ------===//
//
// The schedule is decided here, never in a spec: per spec, the target's default
// (TargetInfo.h), the options given explicitly on top, each in its range
// (dialect/ScheduleBounds.h), and the target's check of the result. A schedule already
// on a spec is checked, not replaced.
//
//===----------------------------------------------------------------------===//

#include "dialect/ScheduleBounds.h"
#include "dialect/TmixOps.h"
#include "passes/Passes.h"
#include "passes/TargetInfo.h"

#include "llvm/ADT/TypeSwitch.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_SCHEDULE
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {
struct Schedule : tmix::impl::ScheduleBase<Schedule> {
  using ScheduleBase::ScheduleBase;

  /// Sets the values `overrides` holds as if given on the command line (hasValue()).
  void setOverrides(StringRef target, const ScheduleOverride &overrides,
                    ArrayRef<std::string> sizes) {
    targetName = target.str();
    std::pair<int64_t, Option<int64_t> *> values[] = {
        {overrides.blockM, &blockM}, {overrides.blockN, &blockN},
        {overrides.lanes, &lanes},   {overrides.vectorRegisters, &vectorRegisters},
        {overrides.warps, &warps},   {overrides.stages, &stages},
        {overrides.chunk, &chunk},   {overrides.chunkedMinSteps, &chunkedMinSteps}};
    for (auto [value, option] : values)
      if (value != 0)
        *option = value;
    if (!overrides.recurrenceForm.empty())
      recurrenceForm = overrides.recurrenceForm;
    if (!sizes.empty())
      specialize = sizes;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const TargetInfo *target = lookupTargetInfo(targetName);
    if (!target) {
      module.emitError("unknown target '")
          << targetName << "' (expected one of " << registeredTargetNames() << ")";
      return signalPassFailure();
    }
    if (failed(checkOptions()))
      return signalPassFailure();
    FailureOr<FixedSizes> fixed = parseSpecializations(module, specialize);
    if (failed(fixed))
      return signalPassFailure();

    bool failed = false;
    module.walk([&](Operation *op) {
      LogicalResult result =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](AttentionOp spec) { return schedule(*target, spec, *fixed); })
              .Case([&](RecurrenceOp spec) { return schedule(*target, spec, *fixed); })
              .Default([](Operation *) { return success(); });
      failed |= mlir::failed(result);
    });
    if (failed)
      signalPassFailure();
  }

private:
  /// Every option given explicitly in its range, and a known recurrence form.
  LogicalResult checkOptions() {
    std::pair<StringRef, Option<int64_t> *> options[] = {
        {"block_m", &blockM}, {"block_n", &blockN},
        {"lanes", &lanes},    {"vector_registers", &vectorRegisters},
        {"warps", &warps},    {"stages", &stages},
        {"chunk", &chunk},    {"chunked_min_steps", &chunkedMinSteps}};
    for (auto [key, option] : options) {
      if (!option->hasValue())
        continue;
      int64_t value = *option;
      std::string error = scheduleRangeError(*scheduleRange(key), value);
      if (error.empty())
        continue;
      return getOperation().emitError("bad schedule option ")
             << option->getArgStr() << "=" << value << ": " << error;
    }
    std::string form = recurrenceForm;
    if (recurrenceForm.hasValue() && !llvm::is_contained(kRecurrenceForms, form))
      return getOperation().emitError("unknown recurrence form '")
             << form << "' (expected auto, chunked or recurrent)";
    return success();
  }

  /// `value` when its option was given, else `fallback`.
  template <typename T> static T chosen(const Option<T> &option, T fallback) {
    return option.hasValue() ? T(option) : fallback;
  }

  /// Sets the `tmix.schedule` of `op`: one it has already is checked; else the
  /// target's default with the options given on top (`overridden`), checked.
  template <typename SpecOp, typename Overridden>
  LogicalResult scheduleSpec(const TargetInfo &target, SpecOp op, const FixedSizes &fixed,
                             Overridden overridden) {
    if (op->hasAttr(kScheduleAttr))
      return target.getCheckedSchedule(op, fixed);
    auto emitError = [&] { return op.emitError(); };
    auto schedule = overridden(target.getDefaultSchedule(op, fixed), emitError);
    if (!schedule)
      return failure();
    if (std::string error = target.checkSchedule(op, schedule, fixed); !error.empty())
      return op.emitError(error);
    op->setAttr(kScheduleAttr, schedule);
    return success();
  }

  LogicalResult schedule(const TargetInfo &target, AttentionOp op,
                         const FixedSizes &fixed) {
    return scheduleSpec(target, op, fixed, [&](AttentionScheduleAttr base, auto emitError) {
      return AttentionScheduleAttr::getChecked(
          emitError, op.getContext(), chosen(blockM, base.getBlockM()),
          chosen(blockN, base.getBlockN()), chosen(lanes, base.getLanes()),
          chosen(vectorRegisters, base.getVectorRegisters()),
          chosen(warps, base.getWarps()), chosen(stages, base.getStages()));
    });
  }

  LogicalResult schedule(const TargetInfo &target, RecurrenceOp op,
                         const FixedSizes &fixed) {
    return scheduleSpec(target, op, fixed, [&](RecurrenceScheduleAttr base, auto emitError) {
      return RecurrenceScheduleAttr::getChecked(
          emitError, op.getContext(),
          recurrenceForm.hasValue() ? StringRef(recurrenceForm.getValue()) : base.getForm(),
          chosen(chunk, base.getChunk()), chosen(chunkedMinSteps, base.getChunkedMinSteps()));
    });
  }
};
} // namespace

std::unique_ptr<Pass> mlir::tmix::createSchedule(StringRef target,
                                                 const ScheduleOverride &overrides,
                                                 ArrayRef<std::string> specialize) {
  auto pass = std::make_unique<Schedule>();
  pass->setOverrides(target, overrides, specialize);
  return pass;
}
