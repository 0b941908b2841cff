//===- Passes.h - tmix passes -----------------------------------*- C++ -*-===//
//
// Declarations of every tmix pass (generated from Passes.td) and their registration.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_PASSES_H
#define TMIX_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tmix {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The attribute the schedule pass attaches to spec ops.
inline constexpr llvm::StringLiteral kScheduleAttr = "tmix.schedule";
/// The gpu.module that holds the GPU kernels of a module's specs.
inline constexpr llvm::StringLiteral kGpuModuleName = "tmix_kernels";

/// Steps per chunk of a chunked recurrence when no schedule says otherwise.
inline constexpr int64_t kDefaultChunkSize = 64;

} // namespace mlir::tmix

#endif // TMIX_PASSES_PASSES_H
