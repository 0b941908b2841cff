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
#include "llvm/Config/llvm-config.h"
#include "llvm/TargetParser/Host.h"

#include <dlfcn.h>
#include <sys/stat.h>

using namespace tmix::cpu;

namespace {

/// The compiler that makes the kernels: tmix's and LLVM's versions, and the file and
/// build (size, modification time) of the binary this code is linked into, so that a
/// rebuilt tmix never loads objects an older build left on disk.
const std::string &compilerIdentity() {
  static const std::string identity = [] {
    std::string text = "tmix " TMIX_VERSION ", LLVM " LLVM_VERSION_STRING;
    Dl_info info;
    struct stat status;
    if (dladdr(reinterpret_cast<void *>(&compilerIdentity), &info) && info.dli_fname &&
        stat(info.dli_fname, &status) == 0)
      text += std::string(", ") + info.dli_fname + " " + std::to_string(status.st_size) +
              " " + std::to_string(status.st_mtim.tv_sec) + "." +
              std::to_string(status.st_mtim.tv_nsec);
    return text;
  }();
  return identity;
}

} // namespace

std::string KernelCache::keyOf(const SpecText &spec, const ScheduleOverride &schedule) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << spec.keyText << "\ncompiler=" << compilerIdentity() << "\ntarget=" << llvm::sys::getProcessTriple() << "/"
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
    if (disk)
      if (std::optional<std::string> object = disk->load(key)) {
        llvm::Expected<CompiledKernel> kernel = loadForCpu(spec, schedule, *object);
        if (kernel) {
          entry->kernel = std::make_unique<CompiledKernel>(std::move(*kernel));
          return;
        }
        // An object that does not load (another LLVM's) is compiled again.
        llvm::consumeError(kernel.takeError());
      }
    std::string object;
    llvm::Expected<CompiledKernel> kernel =
        compileForCpu(spec, schedule, /*symbols=*/{}, disk ? &object : nullptr);
    ++compiled;
    if (kernel && disk && !object.empty())
      disk->store(key, object);
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
