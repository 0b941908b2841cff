//===- ChunkMath.h - The formulas of the chunked recurrences -----*- C++ -*-===//
//
// What every target's chunk-parallel form of a recurrence computes the same way,
// written once (the CPU's codegen/cpu/ChunkedLowering.cpp and the GPU's
// codegen/nvidia/LowerRecurrenceToNVGPU.cpp both call it):
//
//   gate log   per step and gate column, log G_t = sum of the gate's factors' logs
//              (log |g| for a plain factor, g itself for an exp factor, subtracted
//              for an inverse one), clamped below at kLogDecayFloor; the sign of
//              G_t, tracked apart, flips with each negative plain factor.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_CHUNKMATH_H
#define TMIX_PASSES_CHUNKMATH_H

#include "passes/ChunkForm.h"
#include "passes/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::tmix {

/// One step's gate, in log space.
struct StepGateLog {
  Value log;  // max(log |G_t|, kLogDecayFloor), f32
  Value sign; // sign(G_t), +-1 f32
};

/// The gate log of one step and gate column of `form`'s state; `element` gives the
/// f32 value of a gate factor at that step and column. `addFlags` go on the sum of
/// the factors' logs (the CPU lets LLVM reassociate and contract it).
StepGateLog stepGateLog(KernelBuilder &kb, const ChunkForm &form,
                        function_ref<Value(const ChunkFactor &factor)> element,
                        arith::FastMathFlags addFlags = arith::FastMathFlags::none);

} // namespace mlir::tmix

#endif // TMIX_PASSES_CHUNKMATH_H
