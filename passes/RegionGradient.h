//===- RegionGradient.h - Reverse mode through a scalar region ---*- C++ -*-===//
//
// The statements of a spec (score, sink, ...) are straight-line scalar code: arith and
// math ops on f32, integer index arithmetic, tensor reads and size symbols. Their
// gradients are derived, not written by hand (DESIGN.md decision 11): reverse mode over
// the region's ops, one rule per op, here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_REGIONGRADIENT_H
#define TMIX_PASSES_REGIONGRADIENT_H

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Region.h"

#include <optional>

namespace mlir::tmix {

/// Writes a vector-Jacobian product of the single-block `source` region, which yields
/// one f32 y, into the empty region `target`, whose block takes source's arguments and
/// then g (f32). `outside` maps the values that `source` uses from above (the spec's
/// arguments) to those `target` uses.
///   - With `wrt`, target yields g * dy / d(argument *wrt) (an f32 argument).
///   - With `params`, target accumulates (tmix.accumulate) g * dy / dx for every float
///     x that source reads from the spec: each element a tmix.read of a float tensor
///     gives, each float scalar argument. Without `wrt` it yields nothing.
/// Fails with an error at the first op on a path from a differentiated value to y
/// whose derivative is unknown.
LogicalResult buildRegionGradient(Region &source, Region &target, const IRMapping &outside,
                                  std::optional<unsigned> wrt, bool params);

/// The reverse-mode rule of one scalar op (arith and math on floats, one result): given
/// `bar`, the adjoint of its result, calls `accumulate(operand, contribution)` for each
/// operand that `isActive`, emitting the contribution with `b` on the primal values that
/// `primal` maps the op's operands and result to. Fails with an error at an op that has
/// no rule. The statement gradients above and the recurrence steps' share it.
LogicalResult emitScalarAdjoint(ImplicitLocOpBuilder &b, Operation &op, Value bar,
                                const IRMapping &primal, function_ref<bool(Value)> isActive,
                                function_ref<void(Value, Value)> accumulate);

} // namespace mlir::tmix

#endif // TMIX_PASSES_REGIONGRADIENT_H
