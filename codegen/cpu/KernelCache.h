//===- KernelCache.h - In-memory cache of JIT-compiled CPU kernels -*- C++ -*-===//
//
// Compiling a spec costs tens of milliseconds; running it again with other sizes or
// scalars must not recompile. Kernels are keyed by a hash of the spec op's IR, the
// target and the schedule: sizes and scalars are not part of the key, since they are
// run-time arguments of the program.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_KERNELCACHE_H
#define TMIX_CODEGEN_CPU_KERNELCACHE_H

#include "codegen/cpu/CpuCompiler.h"

#include "llvm/ADT/StringMap.h"

#include <memory>
#include <mutex>

namespace tmix::cpu {

class KernelCache {
public:
  /// The kernel of `specOp` under `schedule`, compiled on the first request.
  llvm::Expected<const CompiledKernel *> getOrCompile(mlir::Operation *specOp,
                                                      const ScheduleOverride &schedule);

  /// How many kernels were compiled (misses) so far.
  unsigned numCompiled() const { return compiled; }

  /// The cache key: a hash of the IR, the host target and the schedule, in hex.
  static std::string keyOf(mlir::Operation *specOp, const ScheduleOverride &schedule);

private:
  std::mutex mutex;
  llvm::StringMap<std::unique_ptr<CompiledKernel>> kernels;
  unsigned compiled = 0;
};

} // namespace tmix::cpu

#endif // TMIX_CODEGEN_CPU_KERNELCACHE_H
