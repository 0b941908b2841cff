//===- GradientSumKernel.h - Summing a recurrence adjoint's shared gradients -*- C++
//-*-===//
//
// A recurrence's adjoint writes the gradients that several parallel points share per
// point (runtime/GradientReduction.h); on a GPU the runtime sums them into the
// arguments' shapes with this kernel, one per kernel module: a thread per element of
// the gradient, its terms added in double in the plan's order, so that the sums are
// the host's to the bit and the same whatever the launch.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_GRADIENTSUMKERNEL_H
#define TMIX_CODEGEN_NVIDIA_GRADIENTSUMKERNEL_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::tmix {

/// The kernel rt::kGradientSumKernel (runtime/cuda/GpuManifest.h) of `gpuModule`,
/// made when absent: gpu.func (partial: memref<?xf32>, gradient: memref<?xf32>,
/// plan: memref<?xi64>) over rt::kGradientSumThreads threads a CTA, which reads
/// rt::GradientSum's words and writes gradient element e (the linear index of CTA
/// b's thread t: b * threads + t) when e is below the plan's count.
gpu::GPUFuncOp getOrCreateGradientSumKernel(gpu::GPUModuleOp gpuModule);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_GRADIENTSUMKERNEL_H
