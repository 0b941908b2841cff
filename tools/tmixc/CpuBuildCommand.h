//===- CpuBuildCommand.h - `tmixc build --target=cpu` -----------*- C++ -*-===//
//
// Ahead-of-time CPU kernels: a shared library with a typed C function per spec, which
// runs without the compiler (it links libtmix_runtime only).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TOOLS_TMIXC_CPUBUILDCOMMAND_H
#define TMIX_TOOLS_TMIXC_CPUBUILDCOMMAND_H

#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace tmix {

/// Writes into `dir`, for the specs of `module` (read from `file`) compiled for `cpu`
/// ("native" or a CPU LLVM knows): <spec>.cpu.o and <spec>.cpu.manifest per spec, and
/// <stem>.h, lib<stem>.so, tmix.h and libtmix_runtime.so. Returns the exit status
/// (errors are printed).
int buildCpuArtifacts(mlir::ModuleOp module, const std::string &file, const std::string &dir,
                      const std::string &cpu, const mlir::tmix::ScheduleOverride &schedule);

} // namespace tmix

#endif // TMIX_TOOLS_TMIXC_CPUBUILDCOMMAND_H
