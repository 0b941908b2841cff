//===- CpuTargetInfo.h - The host CPU as a schedule target ------*- C++ -*-===//
//
// The CPU's TargetInfo: its vector shape (f32 lanes per register, register count),
// which the micro-kernels of tmix-lower-attention-to-loops are register-blocked for,
// and the default tile and chunk sizes of its programs.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_CPUTARGETINFO_H
#define TMIX_CODEGEN_CPU_CPUTARGETINFO_H

#include "passes/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tmix {

/// f32 lanes per vector register and the vector register count of a CPU.
struct VectorShape {
  int64_t lanes;
  int64_t registers;
};

/// The host's vector shape: AVX-512 has 32 registers of 16 lanes, AVX2 16 of 8; other
/// hosts get 16 of 4 (SSE, NEON).
VectorShape hostVectorShape();
/// The vector shape of a CPU with these features ("avx512f", "avx2", ...: LLVM's names).
VectorShape vectorShapeOf(bool hasAvx512, bool hasAvx2);

/// Asks LLVM to vectorise the loops of `program` that it vectorises itself (those
/// not written with vector ops) at the shape's full register width, the lanes of its
/// micro-kernels: LLVM's cost model prefers 256 bits on AVX-512 CPUs.
void preferLaneWidth(func::FuncOp program, VectorShape shape);

/// The host CPU's TargetInfo (its vector shape is the host's), registered as
/// kCpuTarget by registerCpuTargetInfo().
const TargetInfo &getCpuTargetInfo();
void registerCpuTargetInfo();

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_CPUTARGETINFO_H
