//===- RunCommand.h - `tmixc run`: compile, run and check a spec -*- C++ -*-===//
//
// Binds sizes, scalars and tensors (from .npy files or random), JIT-compiles the spec
// for the CPU, runs its grid on all cores, and optionally checks the outputs against the
// float64 reference, writes them as .npy, and times the kernel.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TOOLS_TMIXC_RUNCOMMAND_H
#define TMIX_TOOLS_TMIXC_RUNCOMMAND_H

#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace tmix {

/// tmixc's exit status for what is not implemented yet (1 is an error).
constexpr int kExitNotImplemented = 2;

struct RunOptions {
  std::string file;
  std::optional<std::string> kernel, sizes, target, seed, inputs, outputs, schedule,
      threads; // --threads=N: the CPU programs' threads (default: every core)
  std::vector<std::string> sets;
  bool check = false;
  bool bench = false;
  bool grad = false; // run the forward and the derived backward (--check: its gradients)
};

/// Parses `--schedule=block_m=32,block_n=64,...` (each value in its range; what fits a
/// target is the schedule pass's to check); returns an error message or empty.
std::string parseSchedule(llvm::StringRef text, mlir::tmix::ScheduleOverride &schedule);

/// Runs `tmixc run`; returns the exit status (errors are printed).
int runSpec(mlir::ModuleOp module, const RunOptions &options);

} // namespace tmix

#endif // TMIX_TOOLS_TMIXC_RUNCOMMAND_H
