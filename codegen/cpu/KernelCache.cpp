//===- KernelCache.cpp - In-memory cache of JIT-compiled CPU kernels ------===//
//
// The key hashes the printed spec op (without locations, so that a spec moved in its
// file still hits), the host's target triple and CPU, and the schedule override.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/KernelCache.h"

#include "mlir/IR/Operation.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

using namespace tmix::cpu;

std::string KernelCache::keyOf(mlir::Operation *specOp,
                               const ScheduleOverride &schedule) {
  std::string text;
  llvm::raw_string_ostream os(text);
  specOp->print(os, mlir::OpPrintingFlags().useLocalScope());
  os << "\ntarget=" << llvm::sys::getProcessTriple() << "/" << llvm::sys::getHostCPUName()
     << "\nschedule=" << schedule.blockM << "," << schedule.blockN << ","
     << schedule.lanes << "," << schedule.vectorRegisters << ","
     << schedule.recurrenceForm << "," << schedule.chunk << ","
     << schedule.chunkedMinSteps;
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(text));
  return llvm::toHex(digest, /*LowerCase=*/true);
}

llvm::Expected<const CompiledKernel *>
KernelCache::getOrCompile(mlir::Operation *specOp, const ScheduleOverride &schedule) {
  std::string key = keyOf(specOp, schedule);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = kernels.find(key);
  if (it != kernels.end())
    return it->second.get();
  llvm::Expected<CompiledKernel> kernel = compileForCpu(specOp, schedule);
  if (!kernel)
    return kernel.takeError();
  ++compiled;
  auto owned = std::make_unique<CompiledKernel>(std::move(*kernel));
  const CompiledKernel *result = owned.get();
  kernels[key] = std::move(owned);
  return result;
}
