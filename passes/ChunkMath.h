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
//   WY solve   a delta rule's chunk (strengths b_i, keys k_i, values v_i) runs as a
//              decay with pseudo-values w in place of the values,
//                S_i = Γ_i S0 + sum_{s <= i} (Γ_i / Γ_s) k_s w_s^T,
//              where w solves the unit lower-triangular system
//                w_i + sum_{s < i} A_is w_s = r_i,
//                A_is = b_i D_is,  D_is = (Γ_i / Γ_s) (k_i · k_s),
//                r_i  = b_i (v_i - p_i),  p_i = Γ_i S0^T k_i
//              (row i is the rule's own step, w_i = b_i (v_i - Ŝ_i^T k_i) with
//              Ŝ_i = (Γ_i / Γ_{i-1}) S_{i-1} the state decayed into step i), by forward
//              substitution, rows in order: w_i = r_i - sum_{s < i} A_is w_s.
//              The formulas and the order are here. The target computes the products
//              D_is (the keys' decayed scores, as a readout's are the queries') and
//              p_i, and each sum over earlier rows, its way: the CPU a row at a time,
//              in vector FMAs along the value columns; sm_80 the whole system on
//              mma.sync, then one thread per value column.
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

/// A_is = b_i D_is, the WY system's entry (s < i), from the strength b_i and the keys'
/// decayed score D_is = (Γ_i / Γ_s) (k_i · k_s). f32 scalars or vectors alike, here and
/// in deltaRightHandSide; `mulFlags` go on the products (the CPU: contract).
Value deltaSystemEntry(ImplicitLocOpBuilder &b, Value strength, Value keyScore,
                       arith::FastMathFlags mulFlags = arith::FastMathFlags::none);

/// r_i = b_i (v_i - p_i), the WY system's right-hand side, from the strength b_i, the
/// value v_i and the start state's prediction p_i = Γ_i S0^T k_i.
Value deltaRightHandSide(ImplicitLocOpBuilder &b, Value strength, Value value,
                         Value prediction,
                         arith::FastMathFlags mulFlags = arith::FastMathFlags::none);

/// The sum over a row's earlier rows, as a target runs it (substituteDeltaRows): over
/// its value columns, sum = sum_{s < count} weight(s) row_s, the terms in order of s
/// (from 0, by multiply-adds), then row_i = finish(row_i, sum).
using DeltaRowSum =
    function_ref<void(Value i, Value count, function_ref<Value(Value s)> weight,
                      function_ref<Value(Value row, Value sum)> finish)>;

/// The WY solve's forward substitution: for rows i = 0 .. rows - 1 in order,
///   w_i = r_i - sum_{s < i} A_is w_s,
/// w_i overwriting r_i in the target's buffer of rows. `beginRow(i)` (may be null) builds
/// what row i needs first (the CPU: r_i and the entries A_is, s < i; sm_80 builds the
/// whole system before); `entry(i, s)` is A_is as the target keeps it (a load); `sum` is
/// the target's sum over the value columns.
void substituteDeltaRows(KernelBuilder &kb, Value rows,
                         function_ref<void(Value i)> beginRow,
                         function_ref<Value(Value i, Value s)> entry, DeltaRowSum sum);

} // namespace mlir::tmix

#endif // TMIX_PASSES_CHUNKMATH_H
