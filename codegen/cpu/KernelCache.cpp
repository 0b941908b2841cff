//===- KernelCache.cpp - In-memory cache of JIT-compiled CPU kernels ------===//
//
// The key hashes the printed spec op (without locations, so that a spec moved in its
// file still hits), the host's target triple and CPU, and the schedule override. The
// map's lock is held only to find an entry; the compile runs under the entry's
// once_flag, so that a slow compile never blocks hits on other kernels.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/KernelCache.h"

#include "mlir/IR/Operation.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

using namespace tmix::cpu;

std::string KernelCache::keyOf(const SpecText &spec, const ScheduleOverride &schedule) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << spec.keyText << "\ntarget=" << llvm::sys::getProcessTriple() << "/"
     << llvm::sys::getHostCPUName() << "\nschedule=" << schedule.blockM << ","
     << schedule.blockN << "," << schedule.lanes << "," << schedule.vectorRegisters << ","
     << schedule.warps << "," << schedule.stages << "," << schedule.recurrenceForm << ","
     << schedule.chunk << "," << schedule.chunkedMinSteps;
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(text));
  return llvm::toHex(digest, /*LowerCase=*/true);
}

std::string KernelCache::keyOf(mlir::Operation *specOp,
                               const ScheduleOverride &schedule) {
  return keyOf(printSpec(specOp), schedule);
}

llvm::Expected<const CompiledKernel *>
KernelCache::getOrCompile(mlir::Operation *specOp, const ScheduleOverride &schedule) {
  SpecText spec = printSpec(specOp);
  std::string key = keyOf(spec, schedule);
  Entry *entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<Entry> &slot = kernels[key];
    if (!slot)
      slot = std::make_unique<Entry>();
    entry = slot.get(); // entries are never removed: the pointer stays valid
  }
  std::call_once(entry->once, [&] {
    llvm::Expected<CompiledKernel> kernel = compileForCpu(spec, schedule);
    ++compiled;
    if (!kernel) {
      entry->error = llvm::toString(kernel.takeError());
      return;
    }
    entry->kernel = std::make_unique<CompiledKernel>(std::move(*kernel));
  });
  if (!entry->kernel)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), entry->error);
  return entry->kernel.get();
}
