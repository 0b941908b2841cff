//===- TargetInfo.h - What the schedule knows of a target -------*- C++ -*-===//
//
// The schedule is chosen per target (DESIGN.md, decision 1): the tmix-schedule pass
// asks the target's TargetInfo for the default schedule of each spec, applies the
// user's overrides, and asks it again whether its kernels can run the result. Each
// target (codegen/cpu: the host's vector lanes and registers; codegen/nvidia: sm_80 and
// sm_90a, their mma shapes, warps, shared memory and registers) implements this
// interface and registers itself by name; nothing here knows of any one target.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_TARGETINFO_H
#define TMIX_PASSES_TARGETINFO_H

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"
#include "passes/FixedSizes.h"

#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::tmix {

/// The names of the targets, as `--target`, the pass options and the manifests spell
/// them.
inline constexpr llvm::StringLiteral kCpuTarget = "cpu";
inline constexpr llvm::StringLiteral kSm80Target = "sm_80";
inline constexpr llvm::StringLiteral kSm90aTarget = "sm_90a";

enum class TargetKind { Cpu, NvidiaGpu };

/// One target, as the schedule sees it.
class TargetInfo {
public:
  virtual ~TargetInfo();

  /// The target's name (kCpuTarget, ...).
  virtual llvm::StringRef getName() const = 0;
  virtual TargetKind getKind() const = 0;

  /// The schedule this target's kernel runs `op` with unless told otherwise; `fixed`
  /// holds the size symbols fixed at compile time (head and state dims).
  virtual AttentionScheduleAttr getDefaultSchedule(AttentionOp op,
                                                   const FixedSizes &fixed) const = 0;
  virtual RecurrenceScheduleAttr getDefaultSchedule(RecurrenceOp op,
                                                    const FixedSizes &fixed) const = 0;

  /// Why this target's kernel for `op` cannot run `schedule` (one sentence that names
  /// the value and what fits, "schedule block_m=32 does not fit ..."), or empty. The
  /// schedule's target-independent ranges hold already (the attribute's verifier).
  virtual std::string checkSchedule(AttentionOp op, AttentionScheduleAttr schedule,
                                    const FixedSizes &fixed) const = 0;
  virtual std::string checkSchedule(RecurrenceOp op, RecurrenceScheduleAttr schedule,
                                    const FixedSizes &fixed) const = 0;

  /// The schedule a lowering for this target builds `op` with: its `tmix.schedule`
  /// (which may be hand-written) or, without one, the default; checked. Failure after
  /// an error on `op`.
  FailureOr<AttentionScheduleAttr> getCheckedSchedule(AttentionOp op,
                                                      const FixedSizes &fixed) const;
  FailureOr<RecurrenceScheduleAttr> getCheckedSchedule(RecurrenceOp op,
                                                       const FixedSizes &fixed) const;
};

/// Makes `target` known by its name; registering a name twice keeps the first. The
/// target must outlive every lookup (targets are static objects).
void registerTargetInfo(const TargetInfo &target);

/// The target registered under `name`, or null.
const TargetInfo *lookupTargetInfo(llvm::StringRef name);

/// The registered targets' names, sorted, joined as "cpu, sm_80, sm_90a".
std::string registeredTargetNames();

} // namespace mlir::tmix

#endif // TMIX_PASSES_TARGETINFO_H
