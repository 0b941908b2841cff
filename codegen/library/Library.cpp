//===- Library.cpp - libtmix: the C API over the compiler and the runtime --===//
//
// A module owns the MLIRContext its specs were built in. A CPU kernel is a compiled
// program from the process-wide KernelCache plus its signature; a GPU kernel holds its
// spec's text and compiles on first launch (CudaKernels.h). Either outlives the module
// it came from (the cache keeps the code, the kernel copies what it needs). Errors
// travel as the calling thread's message; nothing here throws, and every C entry point
// checks its pointers before it reads them.
//
//===----------------------------------------------------------------------===//

#include "tmix/tmix.h"

#include "codegen/Signature.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/KernelCache.h"
#include "codegen/library/CudaKernels.h"
#include "codegen/nvidia/ParamGradKernel.h"
#include "codegen/nvidia/RecurrenceGradKernel.h"
#include "dialect/TmixOps.h"
#include "frontend/Frontend.h"
#include "passes/Passes.h"
#include "runtime/CApiCall.h"
#include "runtime/GradientReduction.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <memory>
#include <mutex>

using namespace tmix;

namespace {

thread_local std::string lastError;

/// Sets the calling thread's message and returns `status`.
tmix_status failWith(tmix_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

tmix_status failWith(const rt::CallError &error) {
  return failWith(error.status, error.message);
}

/// The process-wide cache of JIT-compiled CPU kernels, shared by every module, over
/// the user's disk cache (codegen/cpu/DiskCache.h; TMIX_DISK_CACHE=0 turns it off).
/// Never destroyed: its engines' code may run until the process ends, and at exit
/// LLVM's own statics (which the engines' destructors use) may already be gone.
struct ProcessCache {
  std::unique_ptr<cpu::KernelCache> kernels;
  std::string error; // why the disk cache was refused: every compile reports it
};

const ProcessCache &processCache() {
  static const ProcessCache *cache = [] {
    auto *made = new ProcessCache;
    const char *disabled = std::getenv("TMIX_DISK_CACHE");
    std::unique_ptr<cpu::DiskCache> disk;
    if (!disabled || std::string(disabled) != "0") {
      llvm::Expected<std::string> directory = cpu::DiskCache::defaultDirectory();
      llvm::Expected<cpu::DiskCache> opened =
          directory ? cpu::DiskCache::open(*directory)
                    : llvm::Expected<cpu::DiskCache>(directory.takeError());
      if (opened)
        disk = std::make_unique<cpu::DiskCache>(std::move(*opened));
      else
        made->error = llvm::toString(opened.takeError());
    }
    made->kernels = std::make_unique<cpu::KernelCache>(std::move(disk));
    return made;
  }();
  return *cache;
}

void registerTargetsOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mlir::tmix::registerCpuTargetInfo(); });
}

} // namespace

/// The specs of one source, in the context they were built in.
struct ModuleState {
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The attention backward in the GPUs' form (recompute-dq: no d_q_partial), derived
  /// from `module`'s specs on the first GPU kernel of a backward part asked for.
  mlir::OwningOpRef<mlir::ModuleOp> gpuBackward;
  std::vector<std::string> names;
  /// Serialises kernel lookups, which print the spec ops of `context`.
  std::mutex mutex;
};

struct tmix_module {
  std::unique_ptr<ModuleState> state;
};

/// The dims of a parameter as tmix_param_info shows them.
struct DimTable {
  std::vector<const char *> symbols;
  std::vector<int64_t> values;
};

struct tmix_kernel {
  /// A CPU kernel (`compiled`) or a GPU one (`cuda`), with its signature.
  tmix_kernel(const cpu::CompiledKernel *compiled, std::unique_ptr<library::CudaKernel> cuda,
              rt::SpecSignature signatureOf)
      : compiled(compiled), cuda(std::move(cuda)), signature(std::move(signatureOf)) {
    for (const auto *params : {&signature.args, &signature.results}) {
      std::vector<DimTable> &tables = params == &signature.args ? argDims : outputDims;
      for (const rt::ParamDecl &param : *params) {
        DimTable table;
        for (const rt::DimDecl &dim : param.dims) {
          table.symbols.push_back(dim.symbol.empty() ? nullptr : dim.symbol.c_str());
          table.values.push_back(dim.symbol.empty() ? dim.size : dim.offset);
        }
        tables.push_back(std::move(table));
      }
    }
  }

  const cpu::CompiledKernel *compiled; // owned by processCache(); null for GPU kernels
  std::unique_ptr<library::CudaKernel> cuda;
  /// What callers see: the program's, but for a recurrence's adjoint (the manifest's
  /// sumsGradients) the gradients in their arguments' shapes.
  rt::SpecSignature signature;

  rt::DeviceKind device() const { return cuda ? rt::DeviceKind::Cuda : rt::DeviceKind::Cpu; }
  std::vector<DimTable> argDims, outputDims; // point into `signature`
};

namespace {

/// "file:line:col: error: message" lines of the frontend's diagnostics.
void collectDiagnostic(const llvm::SMDiagnostic &diagnostic, void *context) {
  std::string &text = *static_cast<std::string *>(context);
  llvm::raw_string_ostream os(text);
  if (!text.empty())
    os << "\n";
  const char *kind = diagnostic.getKind() == llvm::SourceMgr::DK_Error     ? "error"
                     : diagnostic.getKind() == llvm::SourceMgr::DK_Warning ? "warning"
                                                                           : "note";
  os << diagnostic.getFilename() << ":" << diagnostic.getLineNo() << ":"
     << diagnostic.getColumnNo() + 1 << ": " << kind << ": " << diagnostic.getMessage();
}

/// Adds the backward kernels derived from the module's attention specs
/// (tmix-derive-attention-grad) and recurrences (tmix-derive-recurrence-grad), found by
/// name but not listed: compiled only when asked for. Where a backward cannot be
/// derived (an op without a derivative rule, a name taken), the module keeps the
/// kernels it had, and asking for a backward kernel says that no spec has that name.
void deriveBackward(ModuleState &state) {
  mlir::ScopedDiagnosticHandler quiet(&state.context,
                                      [](mlir::Diagnostic &) { return mlir::success(); });
  for (bool attention : {true, false}) {
    mlir::OwningOpRef<mlir::ModuleOp> derived = state.module->clone();
    mlir::PassManager pm(&state.context);
    pm.addPass(attention ? mlir::tmix::createDeriveAttentionGrad()
                         : mlir::tmix::createDeriveRecurrenceGrad());
    if (mlir::succeeded(pm.run(*derived)))
      state.module = std::move(derived);
  }
}

/// The spec named `name` in the attention backward's GPU form (parts derived with
/// recompute-dq, docs/training.md), or null where it has none.
mlir::Operation *gpuBackwardSpec(ModuleState &state, llvm::StringRef name) {
  if (!state.gpuBackward) {
    mlir::ScopedDiagnosticHandler quiet(
        &state.context, [](mlir::Diagnostic &) { return mlir::success(); });
    // The forward specs alone (the CPU's derived kernels would take their names).
    mlir::OwningOpRef<mlir::ModuleOp> derived =
        mlir::ModuleOp::create(state.module->getLoc());
    mlir::OpBuilder builder = mlir::OpBuilder::atBlockEnd(derived->getBody());
    for (mlir::Operation &op : *state.module->getBody())
      if (auto attention = llvm::dyn_cast<mlir::tmix::AttentionOp>(op);
          attention && llvm::is_contained(state.names, attention.getSymName()))
        builder.clone(op);
    mlir::PassManager pm(&state.context);
    mlir::tmix::DeriveAttentionGradOptions options;
    options.recomputeDq = true;
    pm.addPass(mlir::tmix::createDeriveAttentionGrad(options));
    if (mlir::failed(pm.run(*derived)))
      derived = mlir::ModuleOp::create(state.module->getLoc());
    state.gpuBackward = std::move(derived);
  }
  return mlir::SymbolTable::lookupSymbolIn(*state.gpuBackward, name);
}

/// Why the GPU kernel does not run `spec`, a recurrence's adjoint (X_grad), yet (a
/// vector state, a row gate given by value: gpuRecurrenceGradLimit); empty when it
/// does, or when `spec` is no adjoint.
std::string gpuAdjointLimit(mlir::Operation *spec) {
  auto adjoint = llvm::dyn_cast<mlir::tmix::RecurrenceOp>(spec);
  if (!adjoint || !adjoint.getForwardAttr())
    return {};
  auto forward = mlir::SymbolTable::lookupNearestSymbolFrom<mlir::tmix::RecurrenceOp>(
      spec, adjoint.getForwardAttr());
  if (!forward)
    return "its forward is not in the module";
  return mlir::tmix::gpuRecurrenceGradLimit(adjoint, forward);
}

tmix_status compileBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, tmix_module **out) {
  registerTargetsOnce();
  auto state = std::make_unique<ModuleState>();
  loadFrontendDialects(state->context);
  llvm::SourceMgr sourceMgr;
  std::string diagnostics;
  sourceMgr.setDiagHandler(collectDiagnostic, &diagnostics);
  std::string filename = buffer->getBufferIdentifier().str();
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  // MLIR's own diagnostics (a verifier's) are collected as well, not printed.
  mlir::ScopedDiagnosticHandler handler(&state->context, [&](mlir::Diagnostic &diag) {
    if (!diagnostics.empty())
      diagnostics += "\n";
    diagnostics += filename + ": error: " + diag.str();
    return mlir::success();
  });
  state->module = compileSpecs(sourceMgr, state->context);
  if (!state->module)
    return failWith(TMIX_ERROR_COMPILE, diagnostics.empty() ? filename + ": error: the "
                                                              "spec does not compile"
                                                            : diagnostics);
  if (mlir::failed(mlir::verify(*state->module)))
    return failWith(TMIX_ERROR_COMPILE, "internal error: the IR built for '" + filename +
                                            "' does not verify (" + diagnostics +
                                            "); please report this spec");
  for (mlir::Operation &op : state->module->getBody()->getOperations())
    if (auto name = op.getAttrOfType<mlir::StringAttr>(mlir::SymbolTable::getSymbolAttrName()))
      state->names.push_back(name.str());
  deriveBackward(*state);
  *out = new tmix_module{std::move(state)};
  return TMIX_OK;
}

void describe(const rt::ParamDecl &param, const DimTable &dims, tmix_param_info *info) {
  info->dim_symbols = dims.symbols.data();
  info->dim_values = dims.values.data();
  info->name = param.name.c_str();
  info->is_tensor = param.isTensor;
  info->dtype = rt::publicDtype(param.dtype);
  info->rank = static_cast<int32_t>(param.dims.size());
  info->has_default = param.defaultValue.has_value();
  info->default_value = param.defaultValue.value_or(0.0);
}

/// A call's arguments checked and bound: views, scalars and every size symbol.
struct BoundCall {
  std::vector<rt::TensorView> tensors;
  std::vector<double> scalars;
  std::map<std::string, int64_t> sizes;
};

tmix_status paramInfo(const tmix_kernel *kernel, size_t index, tmix_param_info *info,
                      bool output) {
  if (!kernel || !info)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "a null kernel or info pointer");
  const auto &params = output ? kernel->signature.results : kernel->signature.args;
  if (index >= params.size())
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    std::string(output ? "output" : "argument") + " index " +
                        std::to_string(index) + " is out of range ('" +
                        kernel->signature.name + "' has " + std::to_string(params.size()) +
                        ")");
  describe(params[index], (output ? kernel->outputDims : kernel->argDims)[index], info);
  return TMIX_OK;
}

} // namespace

extern "C" {

const char *tmix_last_error(void) { return lastError.c_str(); }

const char *tmix_version(void) { return TMIX_VERSION; }

tmix_status tmix_compile(const char *source, size_t length, const char *filename,
                         tmix_module **module) {
  if (!module || (!source && length > 0))
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_compile: a null pointer");
  *module = nullptr;
  std::string name = filename && *filename ? filename : "<source>";
  return compileBuffer(llvm::MemoryBuffer::getMemBufferCopy(
                           llvm::StringRef(source ? source : "", length), name),
                       module);
}

tmix_status tmix_compile_file(const char *path, tmix_module **module) {
  if (!module || !path)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_compile_file: a null pointer");
  *module = nullptr;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (std::error_code error = buffer.getError())
    return failWith(TMIX_ERROR_RUNTIME,
                    std::string("cannot open '") + path + "': " + error.message());
  return compileBuffer(std::move(*buffer), module);
}

void tmix_module_free(tmix_module *module) { delete module; }

tmix_status tmix_get_cache_stats(tmix_cache_stats *stats) {
  if (!stats)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_get_cache_stats: a null pointer");
  const ProcessCache &cache = processCache();
  *stats = tmix_cache_stats{};
  stats->compiled = cache.kernels->numCompiled();
  if (const cpu::DiskCache *disk = cache.kernels->diskCache()) {
    cpu::DiskCache::Stats counts = disk->stats();
    stats->disk_hits = counts.hits;
    stats->disk_misses = counts.misses;
    stats->disk_stores = counts.stores;
    stats->disk_damaged = counts.damaged;
    stats->disk_directory = disk->directory().c_str();
  }
  if (!cache.error.empty())
    return failWith(TMIX_ERROR_RUNTIME, cache.error);
  return TMIX_OK;
}

size_t tmix_module_num_kernels(const tmix_module *module) {
  return module ? module->state->names.size() : 0;
}

const char *tmix_module_kernel_name(const tmix_module *module, size_t index) {
  if (!module || index >= module->state->names.size())
    return nullptr;
  return module->state->names[index].c_str();
}

tmix_status tmix_module_kernel(tmix_module *module, const char *name, const char *target,
                               tmix_kernel **kernel) {
  if (!module || !name || !kernel)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_module_kernel: a null pointer");
  *kernel = nullptr;
  std::string targetName = target ? target : "cpu";
  bool gpu = targetName == "cuda" || targetName == "sm_80" || targetName == "sm_90a";
  if (!gpu && targetName != "cpu")
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    "unknown target '" + targetName +
                        "' (expected cpu, cuda, sm_80 or sm_90a)");
  std::string gpuTarget;
  if (gpu)
    if (rt::CallError error = library::resolveCudaTarget(targetName, gpuTarget))
      return failWith(error);
  ModuleState &state = *module->state;
  std::lock_guard<std::mutex> lock(state.mutex);
  mlir::Operation *spec = mlir::SymbolTable::lookupSymbolIn(*state.module, name);
  if (!spec) {
    std::string known;
    for (const std::string &each : state.names)
      known += (known.empty() ? "" : ", ") + each;
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, std::string("no spec named '") + name +
                                                     "' (the module has: " + known + ")");
  }
  if (gpu)
    if (std::string limit = gpuAdjointLimit(spec); !limit.empty())
      return failWith(TMIX_ERROR_UNSUPPORTED, std::string("'") + name + "': " + limit);
  if (gpu && llvm::isa<mlir::tmix::AttentionGradOp>(spec)) {
    // A GPU recomputes dq in part "query": its parts take and give no d_q_partial.
    spec = gpuBackwardSpec(state, name);
    auto part = llvm::dyn_cast_or_null<mlir::tmix::AttentionGradOp>(spec);
    if (!part)
      return failWith(TMIX_ERROR_UNSUPPORTED,
                      std::string("'") + name +
                          "' has no GPU backward (its derivation "
                          "failed: `tmixc emit --stage=spec --grad` "
                          "says why)");
    if (std::string limit =
            part.isParamsPart() ? mlir::tmix::gpuParamsPartLimit(part) : "";
        !limit.empty())
      return failWith(TMIX_ERROR_UNSUPPORTED, std::string("'") + name + "': " + limit);
  }
  if (gpu) {
    // Compiled on its first launch, when the head dims are known. A recurrence's
    // adjoint gives its gradients in the arguments' shapes, summed on the device.
    rt::SpecSignature signature = signatureOf(spec);
    if (auto adjoint = llvm::dyn_cast<mlir::tmix::RecurrenceOp>(spec);
        adjoint && adjoint.getForwardAttr())
      signature = rt::reducedGradientSignature(signature);
    *kernel = new tmix_kernel(nullptr,
                              std::make_unique<library::CudaKernel>(cpu::printSpec(spec),
                                                                    gpuTarget, signature),
                              signature);
    return TMIX_OK;
  }
  const ProcessCache &cache = processCache();
  if (!cache.error.empty())
    return failWith(TMIX_ERROR_RUNTIME, cache.error);
  llvm::Expected<const cpu::CompiledKernel *> compiled =
      cache.kernels->getOrCompile(spec, cpu::ScheduleOverride());
  if (!compiled)
    return failWith(TMIX_ERROR_COMPILE, llvm::toString(compiled.takeError()));
  if ((*compiled)->manifest.sumsGradients) {
    *kernel = new tmix_kernel(*compiled, nullptr,
                              rt::reducedGradientSignature((*compiled)->manifest.signature));
    return TMIX_OK;
  }
  *kernel = new tmix_kernel(*compiled, nullptr, (*compiled)->manifest.signature);
  return TMIX_OK;
}

void tmix_kernel_free(tmix_kernel *kernel) { delete kernel; }

const char *tmix_kernel_name(const tmix_kernel *kernel) {
  return kernel ? kernel->signature.name.c_str() : nullptr;
}

size_t tmix_kernel_num_args(const tmix_kernel *kernel) {
  return kernel ? kernel->signature.args.size() : 0;
}

size_t tmix_kernel_num_outputs(const tmix_kernel *kernel) {
  return kernel ? kernel->signature.results.size() : 0;
}

tmix_status tmix_kernel_arg_info(const tmix_kernel *kernel, size_t index,
                                 tmix_param_info *info) {
  return paramInfo(kernel, index, info, /*output=*/false);
}

tmix_status tmix_kernel_output_info(const tmix_kernel *kernel, size_t index,
                                    tmix_param_info *info) {
  return paramInfo(kernel, index, info, /*output=*/true);
}

tmix_status tmix_kernel_output_shapes(const tmix_kernel *kernel, const tmix_arg *args,
                                      size_t numArgs, int64_t *shapes) {
  if (!kernel || !shapes)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_kernel_output_shapes: a null pointer");
  rt::BoundCall call;
  if (rt::CallError error =
          rt::bindCall(kernel->signature, args, numArgs, call, kernel->device()))
    return failWith(error);
  for (const rt::ParamDecl &result : kernel->signature.results)
    for (int64_t size : rt::shapeOf(result, call.sizes))
      *shapes++ = size;
  return TMIX_OK;
}

tmix_status tmix_kernel_launch(const tmix_kernel *kernel, const tmix_arg *args,
                               size_t numArgs, const tmix_tensor *outputs,
                               size_t numOutputs, void *stream) {
  if (!kernel)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "tmix_kernel_launch: a null kernel");
  const rt::SpecSignature &signature = kernel->signature;
  if (kernel->cuda) {
    if (rt::CallError error = kernel->cuda->launch(args, numArgs, outputs, numOutputs, stream))
      return failWith(error);
    return TMIX_OK;
  }
  if (stream)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    "a stream was given but '" + signature.name + "' runs on the CPU");
  rt::BoundCall call;
  if (rt::CallError error = rt::bindCall(signature, args, numArgs, call))
    return failWith(error);
  if (kernel->compiled->manifest.sumsGradients) {
    if (rt::CallError error = rt::launchReducedGradientCall(
            kernel->compiled->program, kernel->compiled->manifest, signature, call, outputs,
            numOutputs))
      return failWith(error);
    return TMIX_OK;
  }
  if (rt::CallError error = rt::launchCall(kernel->compiled->program,
                                           kernel->compiled->manifest, call, outputs,
                                           numOutputs))
    return failWith(error);
  return TMIX_OK;
}

} // extern "C"
