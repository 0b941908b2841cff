//===- CpuCompiler.cpp - Specs to JIT-compiled CPU programs ---------------===//
//
// tmix passes take a spec to a loop program (passes/), upstream conversions take it to
// the LLVM dialect, and the ExecutionEngine compiles it at -O3 for the host CPU (its
// features, so that LLVM may vectorise for AVX-512 or AVX2).
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/CpuCompiler.h"

#include "codegen/KernelAbi.h"
#include "codegen/ErrorCollector.h"
#include "codegen/Signature.h"
#include "dialect/TmixOps.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
namespace rt = ::tmix::rt;
namespace cpu = ::tmix::cpu;
using ::tmix::signatureOf;

static constexpr unsigned kOptLevel = 3;

LogicalResult cpu::lowerToLoops(ModuleOp module, const cpu::ScheduleOverride &schedule) {
  PassManager pm(module.getContext());
  // The schedule pass takes the unset values from the CPU target (the host's vector
  // shape).
  mlir::tmix::registerCpuTargetInfo();
  pm.addPass(mlir::tmix::createSchedule(mlir::tmix::kCpuTarget, schedule));
  pm.addPass(mlir::tmix::createTileAttention());
  pm.addPass(mlir::tmix::createTileRecurrence());
  pm.addPass(mlir::tmix::createTileAttentionGrad());
  pm.addPass(mlir::tmix::createLowerAttentionToLoops());
  // The backward's micro-kernels take the vector shape the schedule was given (an
  // ahead-of-time build's target CPU), else the host's.
  mlir::tmix::LowerAttentionGradToLoopsOptions gradOptions;
  gradOptions.lanes = schedule.lanes;
  gradOptions.vectorRegisters = schedule.vectorRegisters;
  pm.addPass(mlir::tmix::createLowerAttentionGradToLoops(gradOptions));
  pm.addPass(mlir::tmix::createLowerRecurrenceToLoops());
  return pm.run(module);
}

LogicalResult cpu::lowerLoopsToLLVMDialect(ModuleOp module) {
  PassManager pm(module.getContext());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(mlir::tmix::createPolynomialMath());
  pm.addPass(arith::createArithExpandOpsPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  // Subviews with run-time offsets expand to affine.apply.
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  return pm.run(module);
}

cpu::SpecText cpu::printSpec(Operation *specOp) {
  // Local scope: only the spec op is read, not the module around it, which the caller
  // may be changing. Assumed verified: printing must not run the verifier on a context
  // other threads share.
  OpPrintingFlags flags;
  flags.useLocalScope().assumeVerified().printGenericOpForm();
  // The adjoint of a recurrence runs its forward's steps: the forward comes first, in
  // the key and the source alike (lowerSpec compiles the last op).
  SmallVector<Operation *, 2> ops;
  if (auto recurrence = dyn_cast<mlir::tmix::RecurrenceOp>(specOp))
    if (StringAttr forward = recurrence.getForwardAttr())
      if (Operation *op = SymbolTable::lookupSymbolIn(specOp->getParentOp(), forward))
        ops.push_back(op);
  ops.push_back(specOp);
  cpu::SpecText text;
  llvm::raw_string_ostream keyStream(text.keyText);
  llvm::raw_string_ostream sourceStream(text.sourceText);
  OpPrintingFlags sourceFlags = flags;
  sourceFlags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  for (Operation *op : ops) {
    op->print(keyStream, flags);
    keyStream << "\n";
    op->print(sourceStream, sourceFlags);
    sourceStream << "\n";
  }
  return text;
}

llvm::Expected<cpu::CompiledKernel>
cpu::compileForCpu(Operation *specOp, const cpu::ScheduleOverride &schedule,
                   JitSymbols symbols) {
  return compileForCpu(printSpec(specOp), schedule, symbols);
}

namespace {

/// A spec lowered to its loop program in a context of its own, with the manifest read
/// from the program's kernel ABI.
struct LoweredSpec {
  std::unique_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<::tmix::ErrorCollector> errors;
  std::string name;
  rt::KernelManifest manifest;

  llvm::Error failure(const llvm::Twine &what) const {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        what + (errors->str().empty() ? "" : ": " + llvm::Twine(errors->str())));
  }
};

void initializeNativeTarget() {
  static const bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
}

llvm::Expected<LoweredSpec> lowerSpec(const cpu::SpecText &spec,
                                      const cpu::ScheduleOverride &schedule) {
  initializeNativeTarget();
  // A private context: the passes load dialects and register translations into it,
  // which must never happen to a context that another thread uses. One program is one
  // function, so the context's own thread pool would gain nothing.
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  LoweredSpec lowered;
  lowered.context = std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  lowered.context->loadDialect<mlir::tmix::TmixDialect, arith::ArithDialect,
                               math::MathDialect>();
  lowered.errors = std::make_unique<::tmix::ErrorCollector>(lowered.context.get());

  lowered.module = parseSourceString<ModuleOp>(spec.sourceText,
                                               ParserConfig(lowered.context.get()));
  if (!lowered.module || lowered.module->getBody()->empty())
    return lowered.failure("internal error: the spec does not parse in a private context");
  // The kernel is the last op; those before it are the specs it reads (printSpec).
  Operation *specOp = &lowered.module->getBody()->back();
  lowered.name = SymbolTable::getSymbolName(specOp).getValue().str();

  // The manifest is read from the loop program, before the LLVM conversion drops the
  // attributes it carries.
  rt::SpecSignature signature = signatureOf(specOp);
  // A recurrence's adjoint: its callers get the shared gradients summed.
  auto recurrence = dyn_cast<mlir::tmix::RecurrenceOp>(specOp);
  bool sumsGradients = recurrence && recurrence.getForwardAttr();
  if (failed(cpu::lowerToLoops(*lowered.module, schedule)))
    return lowered.failure("lowering '" + lowered.name + "' to loops failed");
  // Only the kernel's program is compiled.
  for (auto function : llvm::make_early_inc_range(lowered.module->getOps<func::FuncOp>()))
    if (function.getSymName() != lowered.name)
      function.erase();
  lowered.manifest = ::tmix::kernelManifestOf(
      mlir::tmix::getKernelAbi(lowered.module->lookupSymbol<func::FuncOp>(lowered.name)),
      signature);
  lowered.manifest.sumsGradients = sumsGradients;
  return lowered;
}

/// The host's target machine. Position-independent code: the same object runs in the
/// JIT, loads from the disk cache and links into a shared library.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> hostTargetMachine() {
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  machineBuilder->setRelocationModel(llvm::Reloc::PIC_);
  return machineBuilder->createTargetMachine();
}

/// A target machine for the CPU that `tmixc build --cpu` names ("native": the host),
/// and whether that CPU has AVX-512 and AVX2 (its vector shape).
struct NamedTarget {
  std::unique_ptr<llvm::TargetMachine> machine;
  bool avx512 = false, avx2 = false;
};

llvm::Expected<NamedTarget> targetMachineFor(const std::string &cpu) {
  NamedTarget named;
  if (cpu == "native") {
    auto machine = hostTargetMachine();
    if (!machine)
      return machine.takeError();
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    named.machine = std::move(*machine);
    named.avx512 = features.lookup("avx512f");
    named.avx2 = features.lookup("avx2");
    return named;
  }
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), error);
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, cpu, ""));
  if (!subtarget || !subtarget->isCPUStringValid(cpu))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "unknown CPU '" + cpu + "' for " + triple.str() +
            " (give native, x86-64-v2, x86-64-v3, x86-64-v4 or a CPU LLVM knows, such "
            "as znver4 or sapphirerapids)");
  named.avx512 = subtarget->checkFeatures("+avx512f");
  named.avx2 = subtarget->checkFeatures("+avx2");
  llvm::orc::JITTargetMachineBuilder builder(triple);
  builder.setCPU(cpu);
  builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  builder.setRelocationModel(llvm::Reloc::PIC_);
  auto machine = builder.createTargetMachine();
  if (!machine)
    return machine.takeError();
  named.machine = std::move(*machine);
  return named;
}

/// An engine that compiles `lowered`'s loop program at -O3 for `machine`; with
/// `objectDump`, it keeps the object (objectOf).
llvm::Expected<std::unique_ptr<ExecutionEngine>>
createEngine(LoweredSpec &lowered, std::unique_ptr<llvm::TargetMachine> machine,
             bool objectDump) {
  if (failed(cpu::lowerLoopsToLLVMDialect(*lowered.module)))
    return lowered.failure("lowering '" + lowered.name + "' to LLVM failed");
  // Options hold the transformer by reference (a function_ref): it must outlive create().
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(kOptLevel, /*sizeLevel=*/0, machine.get());
  ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  // MLIR's default perf listener writes a jitdump file and folder per compile under
  // $JITDUMPDIR or $HOME/.debug (or ./.debug), never removed and shared between users;
  // profiling is not worth that litter on every run.
  options.enablePerfNotificationListener = false;
  options.enableObjectDump = objectDump;
  return ExecutionEngine::create(*lowered.module, options, std::move(machine));
}

/// The object file an engine created with enableObjectDump compiled (it hands it out
/// only as a file).
llvm::Expected<std::string> objectOf(ExecutionEngine &engine) {
  llvm::SmallString<128> path;
  if (std::error_code error = llvm::sys::fs::createTemporaryFile("tmix-kernel", "o", path))
    return llvm::createStringError(error, "cannot create a temporary object file");
  engine.dumpToObjectFile(path);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  llvm::sys::fs::remove(path);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "cannot read the kernel's object");
  return (*buffer)->getBuffer().str();
}

/// The packed entry point of the program of spec `name` (ExecutionEngine's wrapper of
/// the C interface function: one void* per argument).
std::string packedEntryName(const std::string &name) { return "_mlir__mlir_ciface_" + name; }

} // namespace

llvm::Expected<cpu::CompiledKernel>
cpu::compileForCpu(const cpu::SpecText &spec, const cpu::ScheduleOverride &schedule,
                   JitSymbols symbols, std::string *object) {
  llvm::Expected<LoweredSpec> lowered = lowerSpec(spec, schedule);
  if (!lowered)
    return lowered.takeError();
  cpu::CompiledKernel kernel;
  kernel.manifest = lowered->manifest;
  const std::string &signatureName = lowered->name;
  auto targetMachine = hostTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto engine = createEngine(*lowered, std::move(*targetMachine), object != nullptr);
  if (!engine)
    return engine.takeError();
  // Before anything is linked: initialize() may already materialise the program.
  if (symbols)
    (*engine)->registerSymbols(symbols);
  (*engine)->initialize();
  auto program = (*engine)->lookupPacked("_mlir_ciface_" + signatureName);
  if (!program)
    return program.takeError();
  kernel.program = *program;
  if (object) {
    llvm::Expected<std::string> bytes = objectOf(**engine);
    if (!bytes)
      return bytes.takeError();
    *object = std::move(*bytes);
  }
  kernel.engine = std::move(*engine);
  return kernel;
}

llvm::Expected<cpu::CpuObject> cpu::compileObjectForCpu(const cpu::SpecText &spec,
                                                       cpu::ScheduleOverride schedule,
                                                       const std::string &cpu) {
  initializeNativeTarget();
  llvm::Expected<NamedTarget> target = targetMachineFor(cpu);
  if (!target)
    return target.takeError();
  // The micro-kernels are register-blocked for the target CPU's vectors, not the host's.
  mlir::tmix::VectorShape shape = mlir::tmix::vectorShapeOf(target->avx512, target->avx2);
  if (!schedule.lanes)
    schedule.lanes = shape.lanes;
  if (!schedule.vectorRegisters)
    schedule.vectorRegisters = shape.registers;
  llvm::Expected<LoweredSpec> lowered = lowerSpec(spec, schedule);
  if (!lowered)
    return lowered.takeError();
  // The engine compiles (and links in memory, never runs) the program for `cpu`; its
  // object keeps the packed entry point the runtime calls.
  auto engine = createEngine(*lowered, std::move(target->machine), /*objectDump=*/true);
  if (!engine)
    return engine.takeError();
  cpu::CpuObject result;
  result.entry = packedEntryName(lowered->name);
  if (auto program = (*engine)->lookupPacked("_mlir_ciface_" + lowered->name); !program)
    return program.takeError();
  llvm::Expected<std::string> object = objectOf(**engine);
  if (!object)
    return object.takeError();
  result.object = std::move(*object);
  result.manifest = lowered->manifest;
  result.schedule = {{"lanes", schedule.lanes}, {"vector_registers", schedule.vectorRegisters}};
  return result;
}

llvm::Expected<cpu::CompiledKernel> cpu::loadForCpu(const cpu::SpecText &spec,
                                                    const cpu::ScheduleOverride &schedule,
                                                    llvm::StringRef object) {
  // The loop program again, for the manifest: cheap beside LLVM's code generation,
  // which the object spares.
  llvm::Expected<LoweredSpec> lowered = lowerSpec(spec, schedule);
  if (!lowered)
    return lowered.takeError();
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return jit.takeError();
  // The program calls libm and the C library (expf, malloc): the process's symbols.
  auto processSymbols = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!processSymbols)
    return processSymbols.takeError();
  (*jit)->getMainJITDylib().addGenerator(std::move(*processSymbols));
  if (llvm::Error error = (*jit)->addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, "tmix-cached-kernel")))
    return std::move(error);
  auto entry = (*jit)->lookup(packedEntryName(lowered->name));
  if (!entry)
    return entry.takeError();
  cpu::CompiledKernel kernel;
  kernel.manifest = lowered->manifest;
  kernel.program = entry->toPtr<rt::ProgramFn>();
  kernel.objectJit = std::move(*jit);
  return kernel;
}
