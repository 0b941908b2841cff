//===- GpuKernel.h - What the GPU lowerings share ---------------*- C++ -*-===//
//
// The three GPU lowerings (tmix-lower-attention-to-nvgpu, -to-hopper and
// tmix-lower-recurrence-to-nvgpu) build a loop program with KernelBuilder, then move it
// into the gpu.module @tmix_kernels as a gpu.func whose attributes carry the launch
// parameters that codegen/nvidia writes into the manifest. This is that shared part:
// the `specialize` option, fixed dims, the kernel module and the move.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_GPUKERNEL_H
#define TMIX_CODEGEN_NVIDIA_GPUKERNEL_H

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"
#include "passes/FixedSizes.h"

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
