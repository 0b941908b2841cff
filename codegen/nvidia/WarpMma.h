//===- WarpMma.h - Warp-level tensor-core vocabulary for sm_80 --*- C++ -*-===//
//
// The handful of warp-wide operations the GPU attention kernel is written in: an x4
// ldmatrix, one m16n8k16 mma.sync with f32 accumulators, the approximate exp2 / log2
// of the softmax, and reductions over the four lanes that hold one row of an
// accumulator. Fragment types: A vector<4x2xT>, B vector<2x2xT>, C/D vector<2x2xf32>
// (T = f16 or bf16), with the PTX ISA's m16n8k16 layouts (see LowerAttentionToNVGPU.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_WARPMMA_H
#define TMIX_CODEGEN_NVIDIA_WARPMMA_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::tmix::warp {

/// ldmatrix.x4 (optionally .trans) of 16-bit `element`s at `tile[indices]`, each lane
/// giving one row address: vector<4x2 x element>.
Value ldmatrixX4(ImplicitLocOpBuilder &b, Type element, Value tile, ValueRange indices,
                 bool transpose);
/// Fragments 2 half and 2 half + 1 of an x4 load: the B operand of one n8 tile.
Value fragmentPair(ImplicitLocOpBuilder &b, Value x4, int64_t half);
/// D = A B + C, m16n8k16, f32 accumulators: nvgpu.mma.sync for f16, nvvm.mma.sync on
/// packed bf16x2 words for bf16 (MLIR 22's nvgpu.mma.sync has no bf16 form).
Value mmaM16N8K16(ImplicitLocOpBuilder &b, Value a, Value bFragment, Value c);
/// ex2.approx.ftz.f32 (exp2(-inf) = +0).
Value exp2Approx(ImplicitLocOpBuilder &b, Value x);
/// lg2.approx.f32.
Value log2Approx(ImplicitLocOpBuilder &b, Value x);
/// Max or sum of `x` over the four lanes 4g .. 4g + 3 (two xor shuffles).
Value quadReduce(ImplicitLocOpBuilder &b, Value x, bool isMax);

} // namespace mlir::tmix::warp

#endif // TMIX_CODEGEN_NVIDIA_WARPMMA_H
