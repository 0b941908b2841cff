//===- TileDialect.td - The tiled level of tmix --------------*- tablegen -*-===//
//
// The tiled level (DESIGN.md, decision 2): one program of the grid, written in tiles,
// the same for every target. Nothing here knows of lanes, warps or instructions; each
// target's lowering (codegen/<target>/) maps the tiles onto them. docs/tiled-level.md.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TILE_DIALECT_TD
#define TMIX_TILE_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def TmixTile_Dialect : Dialect {
  let name = "tmix_tile";
  let cppNamespace = "::mlir::tmix::tile";
  let summary = "One program of a spec's grid, in tiles";
  let description = [{
    A `tmix_tile.attention` program holds what one program of an attention grid does:
    load a tile of queries, walk the KV tiles with the online-softmax state, finish
    and store its rows. The spec it implements (a `tmix.attention`, named by symbol)
    keeps the statements (mask, score, scale, sink, rope): the tile ops apply them, so
    each statement stays written once. Tile shapes name the schedule's block sizes
    (`block_m`, `block_n`) and the spec's dims, so the program reads the same on every
    target; only its schedule attribute differs.
  }];
  let dependentDialects = ["::mlir::tmix::TmixDialect"];
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Adds the dialect's types (TileOps.cpp).
    void registerTypes();
  }];
}

class TmixTile_Op<string mnemonic, list<Trait> traits = []>
    : Op<TmixTile_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

def TmixTile_TileType : TypeDef<TmixTile_Dialect, "Tile"> {
  let mnemonic = "tile";
  let summary = "a two-dimensional tile of f32 values";
  let description = [{
    Rows by columns of f32. Each extent is a literal, a size symbol of the spec, or
    one of the schedule's block sizes (`block_m` query rows, `block_n` keys), so that
    the type does not change with the target's schedule.

    ```mlir
    !tmix_tile.tile<[block_m, 64]>        // a tile of query rows, D = 64
    !tmix_tile.tile<[block_m, block_n]>   // scores of the rows against a KV tile
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "extents">:$dims);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def TmixTile_RowsType : TypeDef<TmixTile_Dialect, "Rows"> {
  let mnemonic = "rows";
  let summary = "one f32 value per row of a tile";
  let description = [{
    A per-row statistic of a tile (the running max or sum of the online softmax, a
    rescale factor, a log-sum-exp). Its extent is spelled as a tile's.

    ```mlir
    !tmix_tile.rows<[block_m]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "extents">:$dims);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

#endif // TMIX_TILE_DIALECT_TD
