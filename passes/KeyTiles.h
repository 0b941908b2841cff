//===- KeyTiles.h - Which KV tiles run, and which need the mask --*- C++ -*-===//
//
// The decisions of every target's walk over the KV tiles, written once. For a block of
// query rows (a CPU program's, a GPU CTA's, warp's or warpgroup's) and a tile of keys,
// the mask's interval bounds (TileMaskBounds.h) say whether the tile is
//   empty    no pair can be kept: the tile is skipped (not even loaded, at the CTA);
//   partial  some pair may be dropped: the tile runs with the mask code;
//   full     every pair is kept: the tile runs without it.
// How the tiles are walked (ranges of tiles classified first on the CPU; a pipeline of
// copies on the GPUs) is the target's; what runs for a tile is decided here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_KEYTILES_H
#define TMIX_PASSES_KEYTILES_H

#include "dialect/TmixOps.h"
#include "passes/KernelBuilder.h"

namespace mlir::tmix {

/// The class of a block of query rows against a tile of keys.
struct KeyTileClass {
  Value run;      // i1, or null for always: some row of the block may keep some key
  Value needMask; // i1, or null for never: some pair of the tile may be dropped
};

/// Classifies the query rows [rowFirst, rowLast] against the keys [keyFirst, keyLast]
/// (inclusive, index values) by the mask of `op` (a tmix.attention or
/// tmix.attention_grad; when it has one). `rowsExist` (i1:
/// the block has rows at all) and `keysPartial` (i1: the tile has keys past the end,
/// which the target drops with the mask code) join in when set.
KeyTileClass classifyKeyTile(KernelBuilder &kb, Operation *op, Value batch, Value head,
                             Value rowFirst, Value rowLast, Value keyFirst, Value keyLast,
                             Value rowsExist = {}, Value keysPartial = {});

/// Emits the work of a tile under its class: `body(true)` where it is partial,
/// `body(false)` where it is full, and nothing where it is empty, where the results are
/// `carried`. The branches are tagged `tmix.tile_classes` (["non-empty", "empty"],
/// ["partial", "full"]) so that the tiled IR shows which runs which class.
SmallVector<Value> runKeyTile(KernelBuilder &kb, const KeyTileClass &tileClass,
                              TypeRange types, ValueRange carried,
                              function_ref<SmallVector<Value>(bool masked)> body);

} // namespace mlir::tmix

#endif // TMIX_PASSES_KEYTILES_H
