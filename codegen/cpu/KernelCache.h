//===- KernelCache.h - In-memory cache of JIT-compiled CPU kernels -*- C++ -*-===//
//
// Compiling a spec costs tens of milliseconds; running it again with other sizes or
// scalars must not recompile. Kernels are keyed by a hash of the spec op's IR, the
// target and the schedule: sizes and scalars are not part of the key, since they are
// run-time arguments of the program.
//
// Thread-safe: any number of threads may ask at once, with specs from one shared
// MLIRContext or from their own. Each kernel is compiled once (a second thread asking
// for it waits for the first), different kernels compile in parallel, and compiling
// only reads the spec's context (CpuCompiler.h).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_KERNELCACHE_H
#define TMIX_CODEGEN_CPU_KERNELCACHE_H

#include "codegen/cpu/CpuCompiler.h"
#include "codegen/cpu/DiskCache.h"

#include "llvm/ADT/StringMap.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace tmix::cpu {

class KernelCache {
public:
  KernelCache() = default;
  /// A cache that also keeps its kernels' objects in `disk`, and looks there before
  /// compiling: a second process gets them without running LLVM.
  explicit KernelCache(std::unique_ptr<DiskCache> disk) : disk(std::move(disk)) {}

  /// The disk layer, or null.
  DiskCache *diskCache() const { return disk.get(); }

  /// The kernel of `specOp` under `schedule`, compiled on the first request. A failed
  /// compile is remembered too: asking again gives the same error without recompiling.
  llvm::Expected<const CompiledKernel *> getOrCompile(mlir::Operation *specOp,
                                                      const ScheduleOverride &schedule);

  /// How many kernels were compiled (misses) so far.
  unsigned numCompiled() const { return compiled.load(); }

  /// The cache key: a hash of the IR, the host target, the schedule and the compiler
  /// (its version and the build of the library that holds it), in hex.
  static std::string keyOf(mlir::Operation *specOp, const ScheduleOverride &schedule);

private:
  /// One kernel, compiled by the first thread that asks for it.
  struct Entry {
    std::once_flag once;
    std::unique_ptr<CompiledKernel> kernel;
    std::string error; // set when the compile failed
  };

  static std::string keyOf(const SpecText &spec, const ScheduleOverride &schedule);

  std::unique_ptr<DiskCache> disk;
  std::mutex mutex; // guards `kernels` (the map, not the entries' contents)
  llvm::StringMap<std::unique_ptr<Entry>> kernels;
  std::atomic<unsigned> compiled{0};
};

} // namespace tmix::cpu

#endif // TMIX_CODEGEN_CPU_KERNELCACHE_H
