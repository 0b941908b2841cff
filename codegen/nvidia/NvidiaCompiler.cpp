//===- NvidiaCompiler.cpp - Attention and recurrence specs to PTX ---------===//
//
// The kernels' launch parameters are read from the kernel ABI (#tmix.kernel) and the
// schedule that the tmix-lower-*-to-nvgpu / -to-hopper passes set on each gpu.func,
// before the GPU-to-NVVM pipeline serialises the gpu.module into a gpu.binary whose
// object is the PTX text.
//
// sm_80 gets tmix-lower-attention-to-nvgpu (mma.sync, ldmatrix, cp.async); sm_90a gets
// tmix-lower-attention-to-hopper (wgmma, TMA, mbarrier, warp specialisation), whose
// tensor maps (in the kernel's #tmix.kernel) become the manifest's `tma` records.
//
//===----------------------------------------------------------------------===//

#include "codegen/nvidia/NvidiaCompiler.h"

#include "codegen/KernelAbi.h"
#include "codegen/Signature.h"
#include "dialect/TmixOps.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/Passes.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <map>
#include <set>

using namespace mlir;
namespace rt = ::tmix::rt;
namespace nvidia = ::tmix::nvidia;

namespace {
/// The PTX ISA version given with every chip: sm_90a needs 8.0 or later, and CUDA 13's
/// ptxas accepts it for both targets.
constexpr const char *kPtxFeatures = "+ptx80";
constexpr int kOptLevel = 3;

/// The manifest's `schedule` line: the integer values the kernel was built for (those
/// a target uses; a GPU recurrence kernel is always chunked, so only its chunk).
std::vector<std::pair<std::string, int64_t>> scheduleEntries(Attribute schedule) {
  std::vector<std::pair<std::string, int64_t>> entries;
  if (auto attention = dyn_cast<mlir::tmix::AttentionScheduleAttr>(schedule)) {
    std::pair<const char *, int64_t> values[] = {
        {"block_m", attention.getBlockM()},
        {"block_n", attention.getBlockN()},
        {"lanes", attention.getLanes()},
        {"vector_registers", attention.getVectorRegisters()},
        {"warps", attention.getWarps()},
        {"stages", attention.getStages()}};
    for (auto [name, value] : values)
      if (value != 0)
        entries.emplace_back(name, value);
  } else if (auto recurrence = dyn_cast<mlir::tmix::RecurrenceScheduleAttr>(schedule)) {
    entries.emplace_back("chunk", recurrence.getChunk());
  }
  return entries;
}

/// The manifest of `kernel`: its ABI (codegen/KernelAbi.h) and its schedule.
rt::GpuManifest manifestOf(gpu::GPUFuncOp kernel, rt::SpecSignature signature,
                           StringRef target) {
  mlir::tmix::KernelAttr abi = mlir::tmix::getKernelAbi(kernel);
  rt::GpuManifest manifest = ::tmix::gpuManifestOf(abi, std::move(signature), target);
  manifest.schedule = scheduleEntries(kernel->getAttr(mlir::tmix::kScheduleAttr));
  return manifest;
}
} // namespace

bool nvidia::isGpuTarget(StringRef target) {
  return target == mlir::tmix::kSm80Target || target == mlir::tmix::kSm90aTarget;
}

LogicalResult nvidia::lowerToKernels(ModuleOp module, StringRef target,
                                     ArrayRef<std::string> specialize,
                                     const mlir::tmix::ScheduleOverride &schedule) {
  MLIRContext *context = module.getContext();
  // The schedule first: the target's defaults, the caller's values on top, each checked
  // against what the target's kernels can run; the lowerings build what it says.
  mlir::tmix::registerNvidiaTargetInfos();
  PassManager lower(context);
  lower.addPass(mlir::tmix::createSchedule(target, schedule, specialize));
  lower.addPass(mlir::tmix::createTileAttention());
  lower.addPass(mlir::tmix::createTileRecurrence());
  lower.addPass(mlir::tmix::createTileAttentionGrad());
  if (target == mlir::tmix::kSm90aTarget) {
    mlir::tmix::LowerAttentionToHopperOptions lowerOptions;
    lowerOptions.specialize.assign(specialize.begin(), specialize.end());
    lower.addPass(mlir::tmix::createLowerAttentionToHopper(lowerOptions));
  } else {
    mlir::tmix::LowerAttentionToNVGPUOptions lowerOptions;
    lowerOptions.specialize.assign(specialize.begin(), specialize.end());
    lower.addPass(mlir::tmix::createLowerAttentionToNVGPU(lowerOptions));
  }
  // A recurrence's backward (tmixc --grad) first: the forward lowering takes every
  // recurrence program left.
  mlir::tmix::LowerRecurrenceGradToNVGPUOptions recurrenceGradOptions;
  recurrenceGradOptions.specialize.assign(specialize.begin(), specialize.end());
  lower.addPass(mlir::tmix::createLowerRecurrenceGradToNVGPU(recurrenceGradOptions));
  // Recurrences: the mma.sync kernel on both targets (wgmma gains little at the
  // chunk's 64 x 64 products).
  mlir::tmix::LowerRecurrenceToNVGPUOptions recurrenceOptions;
  recurrenceOptions.specialize.assign(specialize.begin(), specialize.end());
  lower.addPass(mlir::tmix::createLowerRecurrenceToNVGPU(recurrenceOptions));
  // The attention backward (tmixc --grad): the mma.sync kernels on both targets.
  mlir::tmix::LowerAttentionGradToNVGPUOptions gradOptions;
  gradOptions.specialize.assign(specialize.begin(), specialize.end());
  lower.addPass(mlir::tmix::createLowerAttentionGradToNVGPU(gradOptions));
  lower.addPass(mlir::tmix::createPolynomialMath());
  lower.addPass(createCanonicalizerPass());
  lower.addPass(createCSEPass());
  return lower.run(module);
}

/// compileToPtx, keeping only the kernel named `only` when given.
static FailureOr<nvidia::GpuKernels>
compileKernels(ModuleOp module, StringRef target, ArrayRef<std::string> specialize,
               const mlir::tmix::ScheduleOverride &schedule, StringRef only);

FailureOr<nvidia::GpuKernels>
nvidia::compileToPtx(ModuleOp module, StringRef target, ArrayRef<std::string> specialize,
                     const mlir::tmix::ScheduleOverride &schedule) {
  return compileKernels(module, target, specialize, schedule, {});
}

FailureOr<nvidia::GpuKernels>
nvidia::compileSpecToPtx(Operation *spec, StringRef target,
                         ArrayRef<std::string> specialize,
                         const mlir::tmix::ScheduleOverride &schedule) {
  OwningOpRef<ModuleOp> single = ModuleOp::create(spec->getLoc());
  single->getBody()->push_back(spec->clone());
  auto adjoint = dyn_cast<mlir::tmix::RecurrenceOp>(spec);
  if (StringAttr forward = adjoint ? adjoint.getForwardAttr() : StringAttr())
    if (Operation *found = SymbolTable::lookupNearestSymbolFrom(spec, forward))
      single->getBody()->push_back(found->clone());
  return compileKernels(*single, target, specialize, schedule,
                        SymbolTable::getSymbolName(spec).getValue());
}

static FailureOr<nvidia::GpuKernels>
compileKernels(ModuleOp module, StringRef target, ArrayRef<std::string> specialize,
               const mlir::tmix::ScheduleOverride &schedule, StringRef only) {
  MLIRContext *context = module.getContext();
  DialectRegistry registry;
  registerAllExtensions(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  context->appendDialectRegistry(registry);

  std::map<std::string, rt::SpecSignature> signatures;
  std::set<std::string> adjoints; // a recurrence's adjoint: gradients summed
  for (auto spec : module.getOps<mlir::tmix::AttentionOp>())
    signatures[spec.getSymName().str()] = ::tmix::signatureOf(spec);
  for (auto spec : module.getOps<mlir::tmix::AttentionGradOp>())
    signatures[spec.getSymName().str()] = ::tmix::signatureOf(spec);
  for (auto spec : module.getOps<mlir::tmix::RecurrenceOp>()) {
    signatures[spec.getSymName().str()] = ::tmix::signatureOf(spec);
    if (spec.getForwardAttr())
      adjoints.insert(spec.getSymName().str());
  }

  if (failed(nvidia::lowerToKernels(module, target, specialize, schedule)))
    return failure();

  if (!only.empty()) {
    SmallVector<gpu::GPUFuncOp> others;
    module.walk([&](gpu::GPUFuncOp kernel) {
      if (kernel.getName() != only && kernel.getName() != rt::kGradientSumKernel)
        others.push_back(kernel);
    });
    for (gpu::GPUFuncOp kernel : others)
      kernel.erase();
  }
  nvidia::GpuKernels result;
  module.walk([&](gpu::GPUFuncOp kernel) {
    if (kernel.getName() == rt::kGradientSumKernel)
      return; // an adjoint's helper, launched with it (GpuManifest.h)
    result.kernels.push_back(
        manifestOf(kernel, signatures[kernel.getName().str()], target));
    result.kernels.back().kernel.sumsGradients = adjoints.count(kernel.getName().str());
  });

  PassManager toPtx(context);
  gpu::GPUToNVVMPipelineOptions options;
  options.cubinChip = target.str();
  options.cubinFeatures = kPtxFeatures;
  options.cubinFormat = "isa";
  options.optLevel = kOptLevel;
  gpu::buildLowerToNVVMPassPipeline(toPtx, options);
  if (failed(toPtx.run(module)))
    return failure();
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute object : binary.getObjects())
      result.ptx += cast<gpu::ObjectAttr>(object).getObject().getValue().str();
  });
  if (result.ptx.empty())
    return module.emitError("the NVPTX backend produced no PTX"), failure();
  return result;
}

std::optional<std::string> nvidia::findPtxas() {
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *root = std::getenv(variable)) {
      llvm::SmallString<256> path(root);
      llvm::sys::path::append(path, "bin", "ptxas");
      if (llvm::sys::fs::can_execute(path))
        return path.str().str();
    }
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return std::string("/usr/local/cuda/bin/ptxas");
  if (auto path = llvm::sys::findProgramByName("ptxas"))
    return *path;
  return std::nullopt;
}

std::string nvidia::writePtxArtifact(const GpuKernels &kernels, const std::string &dir,
                                     const std::string &stem, std::string &manifestPath) {
  rt::GpuManifest manifest = kernels.kernels.front();
  manifest.ptxFile = stem + ".ptx";
  auto write = [](const std::string &path, llvm::StringRef contents) -> std::string {
    std::error_code error;
    llvm::raw_fd_ostream out(path, error);
    if (error)
      return "cannot write '" + path + "': " + error.message();
    out << contents;
    return {};
  };
  if (std::string error = write(dir + "/" + manifest.ptxFile, kernels.ptx); !error.empty())
    return error;
  manifestPath = dir + "/" + stem + ".manifest";
  return write(manifestPath, rt::writeGpuManifest(manifest));
}

std::string nvidia::runPtxas(const std::string &ptxas, const std::string &ptxFile,
                             StringRef target, const std::string &cubinFile) {
  llvm::SmallString<128> log;
  if (std::error_code error = llvm::sys::fs::createTemporaryFile("tmix-ptxas", "log", log))
    return "cannot create a temporary file: " + error.message();
  std::string arch = "-arch=" + target.str();
  llvm::SmallVector<llvm::StringRef> args{ptxas, arch, ptxFile, "-o", cubinFile};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0,
                                         &message);
  std::string output;
  if (auto buffer = llvm::MemoryBuffer::getFile(log))
    output = (*buffer)->getBuffer().str();
  llvm::sys::fs::remove(log);
  if (status != 0)
    return "ptxas failed" + (message.empty() ? "" : " (" + message + ")") + ":\n" + output;
  return {};
}
