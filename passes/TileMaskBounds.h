//===- TileMaskBounds.h - Classifying a mask over a tile at run time -*- C++ -*-===//
//
// Block sparsity for attention: for a query row range and a key range, the mask is
// evaluated over intervals instead of points. Every i64 value of the mask region gets
// bounds [lo, hi], every i1 value the pair (can be false, can be true); the yielded pair
// says whether the tile is empty (never true: skipped), full (never false: no mask code)
// or partial. The emitted code runs once per tile; scalars known only at run time
// (windows, prefix lengths, chunk sizes) are plain values in it. Whatever the bounds
// cannot follow (tensor reads, floats, remainders) makes a tile partial, never wrong.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_TILEMASKBOUNDS_H
#define TMIX_PASSES_TILEMASKBOUNDS_H

#include "passes/KernelBuilder.h"

namespace mlir::tmix {

/// Whether a mask can be false / true somewhere on a tile (i1 values).
struct TileClass {
  Value canBeFalse, canBeTrue;
};

/// Emits the classification of `maskRegion` over b, h (exact) and the inclusive
/// ranges [iLo, iHi] x [jLo, jHi] (i64 values).
TileClass classifyMaskTile(KernelBuilder &kb, Region &maskRegion, Value b, Value h,
                           Value iLo, Value iHi, Value jLo, Value jHi);

} // namespace mlir::tmix

#endif // TMIX_PASSES_TILEMASKBOUNDS_H
