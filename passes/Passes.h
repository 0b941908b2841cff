//===- Passes.h - tmix passes -----------------------------------*- C++ -*-===//
//
// Declarations of every tmix pass (generated from Passes.td) and their registration.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_PASSES_H
#define TMIX_PASSES_PASSES_H

#include "dialect/TileOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

#include <string>

namespace mlir::tmix {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The attribute the schedule pass attaches to spec ops.
inline constexpr llvm::StringLiteral kScheduleAttr = "tmix.schedule";
/// The gpu.module that holds the GPU kernels of a module's specs.
inline constexpr llvm::StringLiteral kGpuModuleName = "tmix_kernels";

/// The values of a schedule that a caller sets, for the tmix-schedule pass: tile
/// sizes, the CPU's vector shape (f32 lanes per register, register count), a GPU
/// kernel's warps and K/V stages, the recurrence form and chunking. 0 or empty keeps
/// the target's choice (the vector shape: the host's); a narrower vector shape than
/// the host's runs correctly, only slower.
struct ScheduleOverride {
  int64_t blockM = 0;
  int64_t blockN = 0;
  int64_t lanes = 0;
  int64_t vectorRegisters = 0;
  int64_t warps = 0;
  int64_t stages = 0;
  std::string recurrenceForm;  // "auto", "chunked" or "recurrent"
  int64_t chunk = 0;           // steps per chunk of a chunked recurrence
  int64_t chunkedMinSteps = 0; // under "auto", the chunked form from this many steps
};

/// The tmix-schedule pass for `target` with the values `overrides` sets given
/// explicitly (as the options of a pipeline string would be), and the size symbols
/// `specialize` fixes (SYMBOL=VALUE).
std::unique_ptr<Pass> createSchedule(llvm::StringRef target,
                                     const ScheduleOverride &overrides,
                                     ArrayRef<std::string> specialize = {});

} // namespace mlir::tmix

#endif // TMIX_PASSES_PASSES_H
