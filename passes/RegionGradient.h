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
#include "mlir/IR/Region.h"

namespace mlir::tmix {

/// Writes the vector-Jacobian product of the single-block `source` region, which yields
/// one f32 y, with respect to its block argument `wrt` (an f32), into the empty region
/// `target`: target's block takes source's arguments and then g (f32) and yields
/// g * dy / d(argument `wrt`). `outside` maps the values that `source` uses from
/// above (the spec's arguments) to those `target` uses. Fails with an error at the
/// first op whose derivative is unknown and that lies on a path from `wrt` to y.
LogicalResult buildRegionGradient(Region &source, unsigned wrt, Region &target,
                                  const IRMapping &outside);

} // namespace mlir::tmix

#endif // TMIX_PASSES_REGIONGRADIENT_H
