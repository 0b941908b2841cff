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
#include "passes/AttentionProgramForm.h"
#include "passes/FixedSizes.h"
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

/// The head dims (D of q and k, DV of v) of an attention spec for a tensor-core
/// kernel: fixed at compile time, multiples of 16 up to 256; their symbols are
/// recorded in `specialized`. Failure after an error on `op`.
FailureOr<std::pair<int64_t, int64_t>>
gpuHeadDims(AttentionOp op, const llvm::StringMap<int64_t> &fixed,
            SmallVectorImpl<NamedAttribute> &specialized);

/// The module's gpu.module @tmix_kernels, made (and the module marked as a container
/// of GPU modules) when absent.
gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module);

/// The body of each GPU lowering pass: every SpecOp of `module` becomes a kernel of the
/// kernel module through `lower(op, gpuModule, fixed)` (the size symbols that
/// `specialize` fixes) and is erased. Stops at the first spec that fails, or, with
/// `reportEvery`, lowers the others too so that each one's error is reported. Returns
/// the number lowered, or failure.
/// The kernel module of `module` (made when absent: another GPU lowering may have made
/// it already) and the size symbols that `specialize` fixes.
struct KernelModule {
  gpu::GPUModuleOp gpuModule;
  llvm::StringMap<int64_t> fixed;
};
FailureOr<KernelModule> prepareKernelModule(ModuleOp module,
                                            ArrayRef<std::string> specialize);

template <typename SpecOp, typename Lower>
FailureOr<int64_t> lowerSpecsToKernels(ModuleOp module, ArrayRef<std::string> specialize,
                                       bool reportEvery, Lower lower) {
  SmallVector<SpecOp> specs(module.getOps<SpecOp>());
  if (specs.empty())
    return 0;
  FailureOr<KernelModule> kernels = prepareKernelModule(module, specialize);
  if (failed(kernels))
    return failure();
  int64_t lowered = 0;
  bool anyFailed = false;
  for (SpecOp op : specs) {
    if (failed(lower(op, kernels->gpuModule, kernels->fixed))) {
      if (!reportEvery)
        return failure();
      anyFailed = true;
      continue;
    }
    op.erase();
    ++lowered;
  }
  if (anyFailed)
    return failure();
  return lowered;
}

/// The body of the GPU attention lowering passes: every tmix_tile.attention program of
/// `module` that `target` can run (checkAttentionProgram) becomes a kernel of the
/// kernel module through `lower(spec, schedule, gpuModule, fixed)`; the program and its
/// spec are erased. Stops at the first failure. Returns the number lowered, or failure.
template <typename Lower>
FailureOr<int64_t> lowerAttentionProgramsToKernels(ModuleOp module,
                                                   ArrayRef<std::string> specialize,
                                                   const TargetInfo &target, Lower lower) {
  if (failed(checkEveryAttentionTiled(module)))
    return failure();
  SmallVector<tile::AttentionProgramOp> programs(module.getOps<tile::AttentionProgramOp>());
  if (programs.empty())
    return 0;
  FailureOr<KernelModule> kernels = prepareKernelModule(module, specialize);
  if (failed(kernels))
    return failure();
  int64_t lowered = 0;
  for (tile::AttentionProgramOp program : programs) {
    FailureOr<RunnableAttentionProgram> runnable =
        checkAttentionProgram(program, target, kernels->fixed);
    if (failed(runnable) || failed(lower(runnable->spec, runnable->schedule,
                                         kernels->gpuModule, kernels->fixed)))
      return failure();
    program.erase();
    runnable->spec.erase();
    ++lowered;
  }
  return lowered;
}

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
