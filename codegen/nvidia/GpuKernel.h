//===- GpuKernel.h - What the GPU lowerings share ---------------*- C++ -*-===//
//
// The three GPU lowerings (tmix-lower-attention-to-nvgpu, -to-hopper and
// tmix-lower-recurrence-to-nvgpu) build a loop program with KernelBuilder, then move it
// into the gpu.module @tmix_kernels as a gpu.func whose attributes carry the launch
// parameters that codegen/nvidia writes into the manifest. This is that shared part:
// the `specialize` option, fixed dims, the kernel module, the walk over the tile
// programs (attention) or specs (recurrences) and the move.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_GPUKERNEL_H
#define TMIX_CODEGEN_NVIDIA_GPUKERNEL_H

#include "dialect/TileOps.h"
#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionGradProgramForm.h"
#include "passes/AttentionProgramForm.h"
#include "passes/FixedSizes.h"
#include "passes/KernelBuilder.h"
#include "passes/RecurrenceProgramForm.h"
#include "passes/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace mlir::tmix {

/// Appends to `specialized` (once each) the size symbols among `dims` with their values
/// in `fixed`: what the kernel was compiled for, recorded for the runtime to check.
void recordSpecialized(MLIRContext *ctx, ArrayRef<Attribute> dims,
                       const llvm::StringMap<int64_t> &fixed,
                       SmallVectorImpl<NamedAttribute> &specialized);

/// The head dims (D of q and k, DV of v) of an attention spec or attention_grad part
/// `op` (its spec argument types `argTypes`) for a tensor-core kernel: fixed at
/// compile time, multiples of 16 up to `maxHeadDim`; their symbols are recorded in
/// `specialized`. Failure after an error on `op`.
FailureOr<std::pair<int64_t, int64_t>>
gpuHeadDims(Operation *op, ArrayRef<Type> argTypes, const llvm::StringMap<int64_t> &fixed,
            SmallVectorImpl<NamedAttribute> &specialized, int64_t maxHeadDim = 256);

/// The module's gpu.module @tmix_kernels, made (and the module marked as a container
/// of GPU modules) when absent.
gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module);

/// The kernel module of `module` (made when absent: another GPU lowering may have made
/// it already) and the size symbols that `specialize` fixes.
struct KernelModule {
  gpu::GPUModuleOp gpuModule;
  llvm::StringMap<int64_t> fixed;
};
FailureOr<KernelModule> prepareKernelModule(ModuleOp module,
                                            ArrayRef<std::string> specialize);

/// What a GPU lowering checks of a tile program before it emits its kernel
/// (AttentionProgramForm.h, RecurrenceProgramForm.h, AttentionGradProgramForm.h), by
/// the program's kind. A backward program has no schedule: its form alone.
inline FailureOr<RunnableAttentionProgram>
checkRunnable(tile::AttentionProgramOp program, const TargetInfo &target,
             const FixedSizes &fixed) {
  return checkAttentionProgram(program, target, fixed);
}
inline FailureOr<RunnableRecurrenceProgram>
checkRunnable(tile::RecurrenceProgramOp program, const TargetInfo &target,
             const FixedSizes &fixed) {
  return checkRecurrenceProgram(program, target, fixed);
}
inline FailureOr<AttentionGradProgramForm>
checkRunnable(tile::AttentionGradProgramOp program, const TargetInfo &target,
              const FixedSizes &) {
  return matchAttentionGradProgram(program, target.getName());
}

/// Fails after an error on the first spec of `module` that needs a program of
/// ProgramOp's kind and has none, by the program's kind.
inline LogicalResult checkEveryProgram(tile::AttentionProgramOp, ModuleOp module) {
  return checkEveryAttentionTiled(module);
}
inline LogicalResult checkEveryProgram(tile::RecurrenceProgramOp, ModuleOp module) {
  return checkEveryRecurrenceTiled(module);
}
inline LogicalResult checkEveryProgram(tile::AttentionGradProgramOp, ModuleOp module) {
  return checkEveryAttentionGradTiled(module);
}

/// The body of each GPU lowering pass: every tile program of kind ProgramOp in
/// `module` that `target` can run (checkRunnable) becomes a kernel of the kernel module
/// through `lower(runnable, gpuModule, fixed)` (the size symbols that `specialize`
/// fixes); the program and its spec are erased. A spec of that kind without a program
/// was never tiled: an error. Stops at the first program that fails, or, with
/// `reportEvery`, lowers the others too so that each one's error is reported. Returns
/// the number lowered, or failure.
template <typename ProgramOp, typename Lower>
FailureOr<int64_t> lowerProgramsToKernels(ModuleOp module, ArrayRef<std::string> specialize,
                                          const TargetInfo &target, bool reportEvery,
                                          Lower lower) {
  if (failed(checkEveryProgram(ProgramOp(), module)))
    return failure();
  SmallVector<ProgramOp> programs(module.getOps<ProgramOp>());
  if (programs.empty())
    return 0;
  FailureOr<KernelModule> kernels = prepareKernelModule(module, specialize);
  if (failed(kernels))
    return failure();
  int64_t lowered = 0;
  bool anyFailed = false;
  for (ProgramOp program : programs) {
    auto runnable = checkRunnable(program, target, kernels->fixed);
    if (failed(runnable) || failed(lower(*runnable, kernels->gpuModule, kernels->fixed))) {
      if (!reportEvery)
        return failure();
      anyFailed = true;
      continue;
    }
    program.erase();
    runnable->spec.erase();
    ++lowered;
  }
  if (anyFailed)
    return failure();
  return lowered;
}

/// The body of the attention lowering passes: `Kernel(spec, schedule, gpuModule,
/// fixed).lower()` for every attention program that `target` runs.
template <typename Kernel>
FailureOr<int64_t> lowerAttentionKernels(ModuleOp module, ArrayRef<std::string> specialize,
                                         const TargetInfo &target) {
  return lowerProgramsToKernels<tile::AttentionProgramOp>(
      module, specialize, target, /*reportEvery=*/false,
      [](const RunnableAttentionProgram &program, gpu::GPUModuleOp gpuModule,
         const llvm::StringMap<int64_t> &fixed) {
        return Kernel(program.spec, program.schedule, gpuModule, fixed).lower();
      });
}

/// A GPU-scope memory fence (membar.gl).
void gpuFence(ImplicitLocOpBuilder &b);

/// Counts the calling thread's CTA in at word `counter` of the launch's `workspace` (the
/// runtime zeroes the per-CTA counters): a GPU-scope fence, then a relaxed atom.add
/// (PTX's release pattern: the stores made before, with a barrier ordering the CTA's
/// others before the call, are visible to whichever CTA counts last). Returns whether
/// this CTA is the last of `expected`; that one fences again (the acquire side) before
/// it reads the others' stores.
Value countCtaIn(ImplicitLocOpBuilder &b, Value workspace, Value counter,
                 int64_t expected);

/// Consecutive views of a kernel's dynamic shared memory (gpu.dynamic_shared_memory,
/// made where this is constructed): each view starts where the last one ended.
class SharedMemoryViews {
public:
  explicit SharedMemoryViews(ImplicitLocOpBuilder &b);
  /// The next `type` (a memref in the workgroup address space) of the allocation.
  Value view(MemRefType type);
  /// `type` at byte `at` of the views so far: an alias of buffers that a later phase
  /// of the kernel no longer reads.
  Value alias(MemRefType type, int64_t at);
  /// The bytes of the views so far.
  int64_t bytes() const { return offset; }

private:
  ImplicitLocOpBuilder &b;
  Value base;
  int64_t offset = 0;
};

/// Copies rows [pos0, pos0 + count) of src[prefix..., pos, :] into the shared `tile`
/// ([rows, dim + pad], or with `buffer` [buffers, rows, dim + pad]) as `element`,
/// zeros past `count`, by the CTA's `threads` threads. A source of `element` type
/// without `load` is copied with cp.async, 16 bytes a copy (its tokens appended to
/// `tokens`, for one waitAsyncCopies after all of a tile's copies are issued); any
/// other goes through registers, element by element: `load(pos, d)` when given (RoPE),
/// else the source element widened to f32.
void stageRows(KernelBuilder &kb, int64_t threads, Type element, Value src,
               ValueRange prefix, Value pos0, Value count, Value tile, Value buffer,
               int64_t dim, function_ref<Value(Value pos, Value d)> load,
               SmallVectorImpl<Value> &tokens);
/// Element d of RoPE's half-split rotation of the row src[prefix..., pos, :] (`dim`
/// wide, base `theta`): for p < dim / 2, with a = x[p] and c = x[p + dim / 2] at angle
/// pos * theta^(-2p / dim), a cos - c sin at p and c cos + a sin at p + dim / 2
/// (passes/AttentionMath.h's formulas).
Value ropeElement(KernelBuilder &kb, Value src, ValueRange prefix, Value pos, Value d,
                  int64_t dim, Value theta);
/// Commits the copies of `tokens` as one group and waits for it (nothing when empty).
void waitAsyncCopies(ImplicitLocOpBuilder &b, ArrayRef<Value> tokens);

/// The launch parameters a kernel records for the manifest (in its #tmix.kernel, but
/// the schedule).
struct KernelLaunch {
  int64_t threads = 0;     // threads per CTA, also the known block size
  int64_t sharedBytes = 0; // dynamic shared memory per CTA
  Attribute schedule;      // tmix.schedule: the typed schedule the kernel was built for
  ArrayRef<NamedAttribute> specialized; // size symbols fixed at compile time
};

/// Replaces `program` (a loop program of KernelBuilder's ABI: the program id first) by
/// a gpu.func kernel of the same name at the end of `gpuModule`: the program id is the
/// block id; `extraInputs` are the types of arguments that the body's entry block has
/// after the program's own (added while building it); the program's kernel ABI travels,
/// completed with `launch`. Returns the kernel.
gpu::GPUFuncOp moveProgramToKernel(func::FuncOp program, gpu::GPUModuleOp gpuModule,
                                   const KernelLaunch &launch,
                                   ArrayRef<Type> extraInputs = {});

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_GPUKERNEL_H
