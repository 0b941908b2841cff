//===- TileOps.h - The tiled level of tmix ---------------------*- C++ -*-===//
//
// Declares the tmix_tile dialect: its types (TileType, RowsType) and the ops of one
// attention program in tiles (TileOps.td, docs/tiled-level.md).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TILEOPS_H
#define TMIX_DIALECT_TILEOPS_H

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"

#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/TileDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TileTypes.h.inc"

#define GET_OP_CLASSES
#include "dialect/TileOps.h.inc"

namespace mlir::tmix::tile {

/// The names the tile extents give the schedule's sizes: attention's block sizes and
/// a recurrence's chunk.
inline constexpr llvm::StringLiteral kBlockM = "block_m";
inline constexpr llvm::StringLiteral kBlockN = "block_n";
inline constexpr llvm::StringLiteral kChunk = "chunk";

/// Whether the extent `dim` of a tile type is one of the schedule's sizes.
bool isScheduleExtent(Attribute dim);

} // namespace mlir::tmix::tile

#endif // TMIX_DIALECT_TILEOPS_H
