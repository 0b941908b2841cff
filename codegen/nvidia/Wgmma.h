//===- Wgmma.h - Warpgroup tensor-core vocabulary for sm_90a ----*- C++ -*-===//
//
// The Hopper attention kernel (LowerAttentionToHopper.cpp) is written in a few
// warpgroup-wide operations: the shared-memory matrix descriptor of a 128-byte-swizzled
// tile that TMA wrote, and wgmma.mma_async m64nNk16 (bf16 or f16 inputs, f32
// accumulators) with A from shared memory (SS) or from registers (RS). MLIR 22's
// nvvm.wgmma.mma_async takes A only as a descriptor, so both forms are written here as
// llvm.inline_asm, one PTX instruction each, so that the operand order is the PTX ISA's.
//
// Accumulators are held as in WarpMma.h: one vector<2x2xf32> per 8 columns, element
// [r][c] at row 16 * warp + g + 8 r, column 8 nt + 2 t + c of the warpgroup's 64 x N
// tile (lane = 4 g + t). That is the PTX ISA's wgmma D fragment (d[4 nt + 2 r + c]),
// and, for 16-bit A from registers, the A fragment of a k16 slice is the same four
// pairs (a0..a3 = rows g / g + 8, columns 2t / 2t + 8), as for mma.m16n8k16.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_WGMMA_H
#define TMIX_CODEGEN_NVIDIA_WGMMA_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::tmix::wgmma {

/// Bytes of one row of a 128-byte-swizzled tile: 64 16-bit elements.
constexpr int64_t kSwizzleBytes = 128;
/// Elements of a 16-bit type in one swizzled row.
constexpr int64_t kSwizzleElements = 64;
/// Bytes of one swizzle atom (8 rows of 128 bytes); tiles start 1024-byte aligned.
constexpr int64_t kAtomBytes = 8 * kSwizzleBytes;

/// The 64-bit matrix descriptor (PTX ISA, "Matrix Descriptor Format") of a tile at
/// shared-memory address `address` (i64, a shared-window address), swizzle mode 128B:
///   bits  0-13  (address & 0x3FFFF) >> 4
///   bits 16-29  leading-dimension byte offset >> 4
///   bits 32-45  stride-dimension byte offset >> 4
///   bits 49-51  base offset, 0 (the atoms are 1024-byte aligned)
///   bits 62-63  1 = 128-byte swizzle
Value sharedDescriptor(ImplicitLocOpBuilder &b, Value address, int64_t leadingBytes,
                       int64_t strideBytes);

/// D = A B (+ D when `accumulate`), m64 n`n` k16, A and B given by descriptors,
/// both K-major. `acc` holds n / 8 accumulator tiles (ignored when !accumulate).
SmallVector<Value> mmaSharedShared(ImplicitLocOpBuilder &b, Type element, int64_t n,
                                   Value descA, Value descB, ArrayRef<Value> acc,
                                   bool accumulate);

/// D = A B + D, m64 n`n` k16, A from registers (four 32-bit words of two packed
/// elements, see above), B by descriptor; `transposeB`: B is MN-major.
SmallVector<Value> mmaRegisterShared(ImplicitLocOpBuilder &b, Type element, int64_t n,
                                     ArrayRef<Value> aWords, Value descB,
                                     ArrayRef<Value> acc, bool transposeB);

/// Two values of `element` (vector<2 x element>) as one 32-bit word, the first in the
/// low half: a register of a wgmma A fragment.
Value packWord(ImplicitLocOpBuilder &b, Value pair);

} // namespace mlir::tmix::wgmma

#endif // TMIX_CODEGEN_NVIDIA_WGMMA_H
