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
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

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
  pm.addPass(mlir::tmix::createLowerAttentionToLoops());
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
  cpu::SpecText text;
  llvm::raw_string_ostream keyStream(text.keyText);
  specOp->print(keyStream, flags);
  llvm::raw_string_ostream sourceStream(text.sourceText);
  specOp->print(sourceStream, flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false));
  return text;
}

llvm::Expected<cpu::CompiledKernel>
cpu::compileForCpu(Operation *specOp, const cpu::ScheduleOverride &schedule,
                   JitSymbols symbols) {
  return compileForCpu(printSpec(specOp), schedule, symbols);
}

llvm::Expected<cpu::CompiledKernel>
cpu::compileForCpu(const cpu::SpecText &spec, const cpu::ScheduleOverride &schedule,
                   JitSymbols symbols) {
  static const bool targetsInitialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)targetsInitialized;

  // A private context: the passes load dialects and register translations into it,
  // which must never happen to a context that another thread uses. One program is one
  // function, so the context's own thread pool would gain nothing.
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.loadDialect<mlir::tmix::TmixDialect, arith::ArithDialect, math::MathDialect>();
  ErrorCollector errors(&context);
  auto failure = [&](const llvm::Twine &what) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        what + (errors.str().empty() ? "" : ": " + llvm::Twine(errors.str())));
  };

  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(spec.sourceText, ParserConfig(&context));
  if (!module || module->getBody()->getOperations().size() != 1)
    return failure("internal error: the spec does not parse in a private context");
  Operation *specOp = &module->getBody()->front();
  StringRef name = SymbolTable::getSymbolName(specOp).getValue();
  std::string signatureName = name.str();

  // The manifest is read from the loop program, before the LLVM conversion drops the
  // attributes it carries.
  cpu::CompiledKernel kernel;
  kernel.manifest.signature = signatureOf(specOp);
  if (failed(lowerToLoops(*module, schedule)))
    return failure("lowering '" + signatureName + "' to loops failed");
  kernel.manifest = kernelManifestOf(
      mlir::tmix::getKernelAbi(module->lookupSymbol<func::FuncOp>(signatureName)),
      kernel.manifest.signature);
  if (failed(lowerLoopsToLLVMDialect(*module)))
    return failure("lowering '" + signatureName + "' to LLVM failed");

  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto targetMachine = machineBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto transformer =
      makeOptimizingTransformer(kOptLevel, /*sizeLevel=*/0, targetMachine->get());

  ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  // MLIR's default perf listener writes a jitdump file and folder per compile under
  // $JITDUMPDIR or $HOME/.debug (or ./.debug), never removed and shared between users;
  // profiling is not worth that litter on every run.
  options.enablePerfNotificationListener = false;
  auto engine = ExecutionEngine::create(*module, options, std::move(*targetMachine));
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
  kernel.engine = std::move(*engine);
  return kernel;
}
