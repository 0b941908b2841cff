//===- CpuCompiler.h - Specs to JIT-compiled CPU programs -------*- C++ -*-===//
//
// The CPU pipeline of one spec: schedule, lower to a loop program, lower to the LLVM
// dialect, compile for the host with the ExecutionEngine. The result is a program
// function and its manifest, which the runtime launches.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_CPUCOMPILER_H
#define TMIX_CODEGEN_CPU_CPUCOMPILER_H

#include "passes/Passes.h"
#include "runtime/CpuLauncher.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace tmix::cpu {

/// The schedule values a caller sets (passes/Passes.h); the rest are the CPU target's.
using ScheduleOverride = mlir::tmix::ScheduleOverride;

struct CompiledKernel {
  /// Owns the code: the engine that compiled it, or the JIT that loaded its object.
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::unique_ptr<llvm::orc::LLJIT> objectJit;
  rt::ProgramFn program = nullptr;
  rt::KernelManifest manifest;
};

/// Lowers the spec ops of `module` to loop programs (the schedule, then the tmix
/// lowerings), and loop programs to the LLVM dialect.
mlir::LogicalResult lowerToLoops(mlir::ModuleOp module, const ScheduleOverride &schedule);
mlir::LogicalResult lowerLoopsToLLVMDialect(mlir::ModuleOp module);

/// A spec op as text, taken from its context once: the key text (no locations) that the
/// kernel cache hashes, and the text that compileForCpu parses (with locations).
struct SpecText {
  std::string keyText;
  std::string sourceText;
};

/// Prints `specOp` (verified; only read, never changed) for the cache and the compiler.
SpecText printSpec(mlir::Operation *specOp);

/// Symbols that the JIT resolves before the process's own: tests replace `malloc`
/// with one that fails, to see the programs handle it (KernelBuilder's status word).
using JitSymbols = llvm::function_ref<llvm::orc::SymbolMap(llvm::orc::MangleAndInterner)>;

/// Compiles one spec for the host CPU in a private MLIRContext, so that any number of
/// threads may compile at once, from one shared context or from many: the spec's own
/// context is only read (printSpec), never changed. A failure is one line that holds
/// the compiler's errors, located in the spec's source.
/// With `object`, also returns the program's relocatable, position-independent object
/// file (the disk cache's entry).
llvm::Expected<CompiledKernel> compileForCpu(const SpecText &spec,
                                             const ScheduleOverride &schedule,
                                             JitSymbols symbols = {},
                                             std::string *object = nullptr);
/// The kernel of `spec` from `object`, an object file compileForCpu returned for the
/// same spec and schedule (in this process or another): the loop program is rebuilt for
/// the manifest, LLVM's code generation is skipped.
llvm::Expected<CompiledKernel> loadForCpu(const SpecText &spec,
                                          const ScheduleOverride &schedule,
                                          llvm::StringRef object);

/// A program compiled ahead of time (`tmixc build --target=cpu`): its object file,
/// whose packed entry point is `entry` (void entry(void **), the ABI that
/// rt::launchOnCpu calls), and its manifest.
struct CpuObject {
  std::string object;
  std::string entry;
  rt::KernelManifest manifest;
  /// The vector shape the program was register-blocked for (the CPU's or the
  /// schedule's): lanes and vector_registers.
  std::vector<std::pair<std::string, int64_t>> schedule;
};

/// Compiles `spec` into an object for `cpu`: "native" (the host, its features) or a CPU
/// LLVM knows (x86-64-v3, x86-64-v4, znver4, ...); the schedule's vector shape is that
/// CPU's unless `schedule` sets it. An unknown CPU is an error that says so.
llvm::Expected<CpuObject> compileObjectForCpu(const SpecText &spec,
                                              ScheduleOverride schedule,
                                              const std::string &cpu);

llvm::Expected<CompiledKernel> compileForCpu(mlir::Operation *specOp,
                                             const ScheduleOverride &schedule,
                                             JitSymbols symbols = {});

} // namespace tmix::cpu

#endif // TMIX_CODEGEN_CPU_CPUCOMPILER_H
