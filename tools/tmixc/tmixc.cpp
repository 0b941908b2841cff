//===- tmixc.cpp - The tmix compiler driver -------------------------------===//
//
// `tmixc check|emit|run|build FILE.tmix [options]`, the command-line contract of
// DESIGN.md. Bad input gives one clear error and exit status 1; subcommands and stages
// that later work brings say so with exit status 2.
//
//===----------------------------------------------------------------------===//

#include "codegen/ErrorCollector.h"
#include "codegen/cpu/CpuCompiler.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/nvidia/NvidiaCompiler.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/ParamGradKernel.h"
#include "codegen/nvidia/RecurrenceGradKernel.h"
#include "dialect/TmixOps.h"
#include "frontend/Frontend.h"
#include "passes/Passes.h"
#include "passes/TargetInfo.h"
#include "tools/tmixc/BuildCommand.h"
#include "tools/tmixc/CpuBuildCommand.h"
#include "tools/tmixc/RunCommand.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace {

constexpr int kExitError = 1;
using tmix::kExitNotImplemented;

const char *const kUsage =
    "usage: tmixc check FILE.tmix\n"
    "       tmixc emit FILE.tmix --stage=spec|tiled|kernel|llvm|ptx [--target=cpu|sm_80|sm_90a] "
    "[--kernel=NAME] [--grad]\n"
    "       tmixc run FILE.tmix --kernel=NAME --sizes=B=2,H=8,... [--set=NAME=VALUE] "
    "[--target=cpu|sm_80|sm_90a] [--seed=N]\n"
    "             [--inputs=DIR] [--outputs=DIR] [--check] [--bench] [--grad] [--threads=N] "
    "[--schedule=block_m=32,block_n=64,lanes=16,vector_registers=32,warps=4,stages=2]\n"
    "             [--schedule=chunked|recurrent|auto[,chunk=64][,chunked_min_steps=1]]\n"
    "       tmixc build FILE.tmix --target=cpu|sm_80|sm_90a -o DIR [--sizes=D=128] "
    "[--schedule=stages=1] [--grad]\n"
    "             [--cpu=native|x86-64-v3|x86-64-v4|...] (--target=cpu: the instruction set)\n"
    "  (emit --stage=tiled|kernel|ptx for a GPU target and build: --sizes fixes size symbols at\n"
    "   compile time; the GPU path needs head dims fixed)\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "tmixc: error: " << message << "\n";
  return kExitError;
}

/// The options of every subcommand; each subcommand accepts the ones it uses.
struct Options {
  std::string command;
  std::string file;
  std::optional<std::string> stage, target, kernel, sizes, seed, inputs, outputs, output,
      schedule, cpu, threads;
  llvm::SmallVector<std::string> sets;
  bool check = false, bench = false;
  bool grad = false; // the backward kernels too (emit), forward and backward (run)
};

/// Parses `argv` into `options`; returns an error message or an empty string.
std::string parseArgs(int argc, char **argv, Options &options) {
  if (argc < 2)
    return "missing subcommand";
  options.command = argv[1];
  for (int index = 2; index < argc; ++index) {
    llvm::StringRef arg = argv[index];
    if (!arg.starts_with("-")) {
      if (!options.file.empty())
        return "more than one input file ('" + options.file + "' and '" + arg.str() +
               "')";
      options.file = arg.str();
      continue;
    }
    if (arg == "-o") {
      if (index + 1 >= argc)
        return "'-o' needs a directory";
      options.output = argv[++index];
      continue;
    }
    if (arg == "--grad") {
      options.grad = true;
      continue;
    }
    if (arg == "--check" || arg == "--bench") {
      (arg == "--check" ? options.check : options.bench) = true;
      continue;
    }
    auto [key, value] = arg.split('=');
    if (!arg.contains('='))
      return "unknown option '" + arg.str() + "'";
    if (value.empty())
      return "option '" + key.str() + "' needs a value";
    std::optional<std::string> *slot =
        llvm::StringSwitch<std::optional<std::string> *>(key)
            .Case("--stage", &options.stage)
            .Case("--target", &options.target)
            .Case("--kernel", &options.kernel)
            .Case("--sizes", &options.sizes)
            .Case("--seed", &options.seed)
            .Case("--inputs", &options.inputs)
            .Case("--outputs", &options.outputs)
            .Case("--schedule", &options.schedule)
            .Case("--cpu", &options.cpu)
            .Case("--threads", &options.threads)
            .Default(nullptr);
    if (key == "--set") {
      options.sets.push_back(value.str());
      continue;
    }
    if (!slot)
      return "unknown option '" + key.str() + "'";
    *slot = value.str();
  }
  if (options.file.empty())
    return "missing input file";
  return {};
}

/// Reads and compiles the file; null after printing the diagnostics.
mlir::OwningOpRef<mlir::ModuleOp> compileFile(const Options &options,
                                              llvm::SourceMgr &sourceMgr,
                                              mlir::MLIRContext &context) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(options.file, /*IsText=*/true);
  if (std::error_code error = buffer.getError()) {
    fail("cannot open '" + options.file + "': " + error.message());
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module = tmix::compileSpecs(sourceMgr, context);
  if (module && mlir::failed(mlir::verify(*module))) {
    fail("internal error: the IR built for '" + options.file +
         "' does not verify (see above); please report this spec");
    return nullptr;
  }
  return module;
}

/// `--sizes=D=128,...` on the GPU path: size symbols fixed at compile time.
std::vector<std::string> specializations(const Options &options) {
  std::vector<std::string> entries;
  if (!options.sizes)
    return entries;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(*options.sizes).split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts)
    entries.push_back(part.trim().str());
  return entries;
}

int emitPtx(const Options &options, mlir::ModuleOp module, llvm::StringRef target,
            const mlir::tmix::ScheduleOverride &schedule) {
  // A pass's error (a head dim not fixed, a schedule the kernel cannot run) is the
  // user's: one line.
  tmix::ErrorCollector errors(module->getContext());
  mlir::FailureOr<tmix::nvidia::GpuKernels> kernels =
      tmix::nvidia::compileToPtx(module, target, specializations(options), schedule);
  if (mlir::failed(kernels))
    return fail("cannot generate PTX for '" + options.file + "'" +
                (errors.str().empty() ? " (internal error)" : ": " + errors.str()));
  llvm::outs() << kernels->ptx;
  return 0;
}

/// --grad: adds the backward kernels derived from the module's specs beside them
/// (docs/training.md); the GPUs' part "query" recomputes dq, so they derive it with
/// recompute-dq. `gpuKernels`: the GPU kernels are built next, which do not run every
/// recurrence's adjoint nor every part "params" yet (exit status 2). Returns 0, or the
/// exit status after an error.
int deriveBackward(const Options &options, mlir::ModuleOp module, llvm::StringRef target,
                   bool gpuKernels) {
  bool onGpu = tmix::nvidia::isGpuTarget(target);
  tmix::ErrorCollector errors(module->getContext());
  mlir::PassManager pm(module->getContext());
  mlir::tmix::DeriveAttentionGradOptions attentionOptions;
  attentionOptions.recomputeDq = onGpu;
  pm.addPass(mlir::tmix::createDeriveAttentionGrad(attentionOptions));
  pm.addPass(mlir::tmix::createDeriveRecurrenceGrad());
  if (mlir::failed(pm.run(module)))
    return fail("cannot derive the backward of '" + options.file + "': " + errors.str());
  if (gpuKernels)
    for (auto grad : module.getOps<mlir::tmix::RecurrenceOp>()) {
      mlir::StringAttr forwardName = grad.getForwardAttr();
      if (!forwardName)
        continue;
      auto forward = module.lookupSymbol<mlir::tmix::RecurrenceOp>(forwardName);
      if (std::string limit = mlir::tmix::gpuRecurrenceGradLimit(grad, forward);
          !limit.empty()) {
        llvm::errs() << "tmixc: --grad with --target=" << target << ": " << limit << "\n";
        return kExitNotImplemented;
      }
    }
  if (gpuKernels)
    for (auto grad : module.getOps<mlir::tmix::AttentionGradOp>())
      if (std::string limit =
              grad.isParamsPart() ? mlir::tmix::gpuParamsPartLimit(grad) : "";
          !limit.empty()) {
        llvm::errs() << "tmixc: --grad with --target=" << target << ": '"
                     << grad.getSymName() << "': " << limit << "\n";
        return kExitNotImplemented;
      }
  return 0;
}

int emit(const Options &options, mlir::ModuleOp module) {
  std::string stage = options.stage.value_or("");
  if (stage.empty())
    return fail("'emit' needs --stage=spec|tiled|kernel|llvm|ptx");
  if (stage != "spec" && stage != "tiled" && stage != "kernel" && stage != "llvm" &&
      stage != "ptx")
    return fail("unknown stage '" + stage + "' (expected spec, tiled, kernel, llvm or ptx)");
  std::string target = options.target.value_or(mlir::tmix::kCpuTarget.str());
  bool onCpu = target == mlir::tmix::kCpuTarget;
  if (!onCpu && !tmix::nvidia::isGpuTarget(target))
    return fail("unknown target '" + target + "' (expected cpu, sm_80 or sm_90a)");
  if (stage == "ptx" && onCpu)
    return fail("--stage=ptx needs --target=sm_80 or --target=sm_90a");
  // LLVM IR is printed for the CPU only; the GPU path goes to PTX.
  if (stage == "llvm" && !onCpu) {
    llvm::errs() << "tmixc: --stage=" << stage << " is not implemented yet for --target="
                 << target << " (it comes with the GPU code generator)\n";
    return kExitNotImplemented;
  }

  if (options.kernel) {
    mlir::Operation *spec = mlir::SymbolTable::lookupSymbolIn(module, *options.kernel);
    if (!spec)
      return fail("no spec named '" + *options.kernel + "' in '" + options.file + "'");
    // Keep only the requested spec.
    for (mlir::Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (&op != spec)
        op.erase();
  }
  tmix::cpu::ScheduleOverride schedule;
  if (options.schedule)
    if (std::string error = tmix::parseSchedule(*options.schedule, schedule);
        !error.empty())
      return fail(error);
  if (options.grad)
    if (int status = deriveBackward(options, module, target,
                                    /*gpuKernels=*/!onCpu && stage != "spec"))
      return status;
  if (stage == "ptx")
    return emitPtx(options, module, target, schedule);
  if (stage == "spec") {
    // The spec as written, plus the analyses' findings as discardable attributes.
    mlir::PassManager pm(module->getContext());
    pm.addPass(mlir::tmix::createClassifyRecurrences());
    if (mlir::failed(pm.run(module)))
      return fail("internal error: classifying the recurrences of '" + options.file +
                  "' failed");
    module.print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  // A pass's error (scratch buffers too large for the schedule) is the user's: one line.
  tmix::ErrorCollector errors(module->getContext());
  auto lowering = [&](llvm::StringRef what) {
    return fail("lowering '" + options.file + "' to " + what + " failed" +
                (errors.str().empty() ? " (internal error)" : ": " + errors.str()));
  };
  if (stage == "tiled") {
    // The tiled level: each spec's tile program, the same for every target up to its
    // schedule (docs/tiled-level.md); with --grad, each backward part's too (the
    // target's derivation chose its form: recompute_dq on the GPUs).
    mlir::PassManager pm(module->getContext());
    pm.addPass(mlir::tmix::createSchedule(target, schedule, specializations(options)));
    pm.addPass(mlir::tmix::createTileAttention());
    pm.addPass(mlir::tmix::createTileRecurrence());
    pm.addPass(mlir::tmix::createTileAttentionGrad());
    if (mlir::failed(pm.run(module)))
      return lowering("the tiled level");
    module.print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  if (!onCpu) {
    // A GPU target's kernel stage: its kernels before the NVVM conversion.
    if (mlir::failed(tmix::nvidia::lowerToKernels(module, target, specializations(options),
                                                  schedule)))
      return lowering(target + " kernels");
    module.print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  if (mlir::failed(tmix::cpu::lowerToLoops(module, schedule)))
    return lowering("loops");
  if (stage == "kernel") {
    module.print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  if (mlir::failed(tmix::cpu::lowerLoopsToLLVMDialect(module)))
    return lowering("LLVM");
  mlir::registerBuiltinDialectTranslation(*module->getContext());
  mlir::registerLLVMDialectTranslation(*module->getContext());
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return fail("internal error: translating '" + options.file + "' to LLVM IR failed");
  llvmModule->print(llvm::outs(), nullptr);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  std::string error = parseArgs(argc, argv, options);
  if (!error.empty()) {
    if (argc >= 2 &&
        (llvm::StringRef(argv[1]) == "--help" || llvm::StringRef(argv[1]) == "-h")) {
      llvm::outs() << kUsage;
      return 0;
    }
    llvm::errs() << "tmixc: error: " << error << "\n" << kUsage;
    return kExitError;
  }
  bool known = llvm::StringSwitch<bool>(options.command)
                   .Cases({"check", "emit", "run", "build"}, true)
                   .Default(false);
  if (!known)
    return fail("unknown subcommand '" + options.command +
                "' (expected check, emit, run "
                "or build)");

  mlir::tmix::registerCpuTargetInfo();
  mlir::tmix::registerNvidiaTargetInfos();
  mlir::MLIRContext context;
  tmix::loadFrontendDialects(context);
  llvm::SourceMgr sourceMgr;
  mlir::OwningOpRef<mlir::ModuleOp> module = compileFile(options, sourceMgr, context);
  if (!module)
    return kExitError;

  if (options.command == "check")
    return 0;
  if (options.command == "emit")
    return emit(options, *module);
  if (options.command == "run") {
    tmix::RunOptions run;
    run.file = options.file;
    run.kernel = options.kernel;
    run.sizes = options.sizes;
    run.target = options.target;
    run.seed = options.seed;
    run.inputs = options.inputs;
    run.outputs = options.outputs;
    run.schedule = options.schedule;
    run.sets.assign(options.sets.begin(), options.sets.end());
    run.check = options.check;
    run.bench = options.bench;
    run.grad = options.grad;
    run.threads = options.threads;
    return tmix::runSpec(*module, run);
  }
  // build
  std::string target = options.target.value_or("");
  if (target.empty())
    return fail("'build' needs --target=cpu|sm_80|sm_90a");
  if (target != mlir::tmix::kCpuTarget && !tmix::nvidia::isGpuTarget(target))
    return fail("unknown target '" + target + "' (expected cpu, sm_80 or sm_90a)");
  if (!options.output)
    return fail("'build' needs an output directory: -o DIR");

  if (options.kernel) {
    mlir::Operation *spec = mlir::SymbolTable::lookupSymbolIn(*module, *options.kernel);
    if (!spec)
      return fail("no spec named '" + *options.kernel + "' in '" + options.file + "'");
    for (mlir::Operation &op : llvm::make_early_inc_range(*module->getBody()))
      if (&op != spec)
        op.erase();
  }
  tmix::cpu::ScheduleOverride schedule;
  if (options.schedule)
    if (std::string error = tmix::parseSchedule(*options.schedule, schedule);
        !error.empty())
      return fail(error);
  if (options.grad)
    if (int status = deriveBackward(options, *module, target,
                                    /*gpuKernels=*/target != mlir::tmix::kCpuTarget))
      return status;
  if (target == mlir::tmix::kCpuTarget)
    return tmix::buildCpuArtifacts(*module, options.file, *options.output,
                                   options.cpu.value_or("native"), schedule);
  if (options.cpu)
    return fail("--cpu is for --target=cpu");
  return tmix::buildGpuArtifacts(*module, options.file, target, *options.output,
                                 specializations(options), schedule);
}
