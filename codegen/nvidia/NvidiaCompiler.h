//===- NvidiaCompiler.h - Attention specs to PTX for sm_80 / sm_90a -*- C++ -*-===//
//
// The NVIDIA pipeline: tmix-lower-attention-to-nvgpu (sm_80) or
// tmix-lower-attention-to-hopper (sm_90a) builds one gpu.func kernel per attention spec,
// upstream's GPU-to-NVVM pipeline lowers it, and LLVM's NVPTX backend writes the PTX (no
// CUDA toolkit needed). ptxas, when found, makes a cubin of it.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_NVIDIACOMPILER_H
#define TMIX_CODEGEN_NVIDIA_NVIDIACOMPILER_H

#include "passes/Passes.h"
#include "runtime/cuda/GpuManifest.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <string>
#include <vector>

namespace tmix::nvidia {

/// Whether `target` names a GPU target (sm_80, sm_90a).
bool isGpuTarget(llvm::StringRef target);

struct GpuKernels {
  std::string ptx;                      // one PTX module holding every kernel
  std::vector<rt::GpuManifest> kernels; // file names left empty
};

/// Replaces every tmix.attention and tmix.recurrence of `module` by its kernel for
/// `target`, a gpu.func in the gpu.module @tmix_kernels, scheduled (the tmix-schedule
/// pass), lowered and simplified, before the NVVM conversion: what `tmixc emit
/// --stage=tiled` prints for a GPU target. Arguments and errors as compileToPtx's.
mlir::LogicalResult lowerToKernels(mlir::ModuleOp module, llvm::StringRef target,
                                   llvm::ArrayRef<std::string> specialize = {},
                                   const mlir::tmix::ScheduleOverride &schedule = {});

/// Compiles every tmix.attention and tmix.recurrence of `module` for `target`;
/// `specialize` fixes size symbols ("D=128", "K=64") that are head or state dims;
/// `schedule` holds the values the caller chose (tmixc --schedule), the rest are the
/// target's. Errors (an unsupported head dim, a schedule the kernel cannot run, ...)
/// are emitted as diagnostics.
mlir::FailureOr<GpuKernels>
compileToPtx(mlir::ModuleOp module, llvm::StringRef target,
             llvm::ArrayRef<std::string> specialize = {},
             const mlir::tmix::ScheduleOverride &schedule = {});

/// Compiles the one spec `spec` (a symbol of a module) for `target` in a module of its
/// own: its kernel alone, which a recurrence's adjoint builds from its forward (cloned
/// beside it, its kernel dropped). Arguments and errors as compileToPtx's.
mlir::FailureOr<GpuKernels>
compileSpecToPtx(mlir::Operation *spec, llvm::StringRef target,
                 llvm::ArrayRef<std::string> specialize = {},
                 const mlir::tmix::ScheduleOverride &schedule = {});

/// Writes the PTX of `kernels` and the manifest of its first kernel (naming the PTX) as
/// DIR/STEM.ptx and DIR/STEM.manifest, what the CUDA runtime loads a kernel from, and
/// sets `manifestPath`. Returns an error or empty.
std::string writePtxArtifact(const GpuKernels &kernels, const std::string &dir,
                             const std::string &stem, std::string &manifestPath);

/// ptxas from CUDA_HOME, CUDA_PATH, /usr/local/cuda/bin or PATH; nullopt when absent.
std::optional<std::string> findPtxas();
/// Assembles `ptxFile` into `cubinFile` for `target`; returns an error message (with
/// ptxas's own output) or empty.
std::string runPtxas(const std::string &ptxas, const std::string &ptxFile,
                     llvm::StringRef target, const std::string &cubinFile);

} // namespace tmix::nvidia

#endif // TMIX_CODEGEN_NVIDIA_NVIDIACOMPILER_H
