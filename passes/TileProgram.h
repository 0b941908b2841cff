//===- TileProgram.h - What every kind of tile program shares ---*- C++ -*-===//
//
// A tile program (tmix_tile.attention, tmix_tile.recurrence) implements one spec,
// named by symbol, under the schedule that tmix-schedule chose for it. The tiling
// passes and the target lowerings check the same things of every kind of program,
// written here once: the spec's schedule before tiling; after it, that every spec has
// its program, and that a program names its spec, has the form its kind's matcher
// (AttentionProgramForm.h, RecurrenceProgramForm.h) expects and a schedule the target
// can run.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_TILEPROGRAM_H
#define TMIX_PASSES_TILEPROGRAM_H

#include "passes/FixedSizes.h"
#include "passes/Passes.h"
#include "passes/TargetInfo.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::tmix {

/// A tile program that a target's lowering can run: its spec, its matched form, and
/// its schedule, which the target has checked.
template <typename SpecOp, typename Form, typename ScheduleAttr>
struct RunnableProgram {
  SpecOp spec;
  Form form;
  ScheduleAttr schedule;
};

/// The schedule that tmix-schedule attached to `spec`; failure after an error when it
/// has none, or one of another kind (`kind`: "attention_schedule", ...).
template <typename ScheduleAttr>
FailureOr<ScheduleAttr> getScheduleOf(Operation *spec, StringRef kind) {
  Attribute attr = spec->getAttr(kScheduleAttr);
  if (!attr)
    return spec->emitOpError("has no schedule: run tmix-schedule first");
  auto schedule = dyn_cast<ScheduleAttr>(attr);
  if (!schedule)
    return spec->emitOpError() << "has a schedule that is not a #tmix." << kind << ": "
                               << attr;
  return schedule;
}

/// Fails after an error on the first spec of kind SpecOp in `module` without a tile
/// program of kind ProgramOp (never tiled: `pass` did not run).
template <typename ProgramOp, typename SpecOp>
LogicalResult checkEveryTiled(ModuleOp module, StringRef pass) {
  llvm::StringSet<> tiled;
  for (ProgramOp program : module.getOps<ProgramOp>())
    tiled.insert(program.getSpec());
  for (SpecOp spec : module.getOps<SpecOp>())
    if (!tiled.contains(spec.getSymName()))
      return spec.emitOpError() << "has no tile program: run " << pass << " first";
  return success();
}

/// Walks a tile program's blocks op by op, failing with one error at the first op that
/// is not the one `form` (what the program is: "the online-softmax program") has there,
/// as `pass` writes it, so that `target`'s lowering may rely on every op and operand.
class FormMatcher {
public:
  FormMatcher(Operation *anchor, StringRef target, StringRef form, StringRef pass)
      : anchor(anchor), target(target), form(form), pass(pass) {}

  /// The next op of `block`, which must be an OpTy.
  template <typename OpTy> FailureOr<OpTy> next(Block::iterator &it, Block &block) {
    if (it == block.end())
      return fail(anchor, Twine("ends before its ") + OpTy::getOperationName());
    Operation *op = &*it++;
    if (auto typed = dyn_cast<OpTy>(op))
      return typed;
    return fail(op, Twine("is where the program's ") + OpTy::getOperationName() +
                        " should be");
  }
  /// Checks that `block` has no op after `it`.
  LogicalResult end(Block::iterator it, Block &block) {
    if (it != block.end())
      return fail(&*it, "follows the end of the program's form");
    return success();
  }
  /// Checks that operand `value` of `user` is `expected`.
  LogicalResult same(Operation *user, Value value, Value expected, StringRef what) {
    if (value == expected)
      return success();
    return fail(user, Twine("takes an operand other than ") + what);
  }

  LogicalResult fail(Operation *op, const Twine &why) {
    return op->emitOpError() << why << ": not " << form << " that " << target
                             << "'s lowering runs (as " << pass << " writes it)";
  }

private:
  Operation *anchor;
  StringRef target, form, pass;
};

/// What every target's lowering checks of `program` before it emits anything: that it
/// names a spec of its kind (`specKind`: "tmix.attention", ...), that `match(program,
/// spec, target name)` finds its form, and that `target` can run its schedule with
/// the size symbols `fixed` fixes (the schedule may be hand-written). Failure after
/// one error.
template <typename ProgramOp, typename Match>
auto checkProgram(ProgramOp program, const TargetInfo &target, const FixedSizes &fixed,
                  StringRef specKind, Match match)
    -> FailureOr<RunnableProgram<decltype(program.getSpecOp()),
                                 typename decltype(match(program, program.getSpecOp(),
                                                         StringRef()))::value_type,
                                 decltype(program.getSchedule())>> {
  auto spec = program.getSpecOp();
  if (!spec)
    return program.emitOpError() << "names " << program.getSpecAttr() << ", which is not a "
                                 << specKind << " spec";
  auto form = match(program, spec, target.getName());
  if (failed(form))
    return failure();
  auto schedule = program.getSchedule();
  if (std::string error = target.checkSchedule(spec, schedule, fixed); !error.empty())
    return program.emitError(error);
  return {{spec, std::move(*form), schedule}};
}

} // namespace mlir::tmix

#endif // TMIX_PASSES_TILEPROGRAM_H
