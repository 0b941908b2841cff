//===- TileOps.td - Ops of the tiled level --------------------*- tablegen -*-===//
//
// One attention program of the grid in tiles (docs/tiled-level.md). The formulas
// behind each op are in passes/AttentionMath.h, written once for every target.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TILE_OPS_TD
#define TMIX_TILE_OPS_TD

include "dialect/TileDialect.td"
include "dialect/TmixAttrs.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def TmixTile_Tile : Type<CPred<"::llvm::isa<::mlir::tmix::tile::TileType>($_self)">,
                         "!tmix_tile.tile", "::mlir::tmix::tile::TileType">;
def TmixTile_Rows : Type<CPred<"::llvm::isa<::mlir::tmix::tile::RowsType>($_self)">,
                         "!tmix_tile.rows", "::mlir::tmix::tile::RowsType">;

//===----------------------------------------------------------------------===//
// The program
//===----------------------------------------------------------------------===//

def TmixTile_AttentionProgramOp : TmixTile_Op<"attention", [
    IsolatedFromAbove, SingleBlock, NoTerminator,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "one program of an attention grid, in tiles";
  let description = [{
    The program of the grid point (batch, head, query tile) of the attention spec
    `spec`, tiled by `schedule`: its block's arguments are the batch, the query head
    and the first query row (the query tile times `block_m`). The spec's statements
    are applied by the ops that name them (`load_query`, `load_kv`: rope and scale;
    `score`: score and mask; `finalize`: sink). A lowering for a target replaces the
    program and its spec by that target's kernel.

    ```mlir
    tmix_tile.attention @causal schedule #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2> {
    ^bb0(%batch: index, %head: index, %row: index):
      %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 64]>
      %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
      %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) ... {
      ^bb0(%key: index, %a: ..., %m: ..., %l: ...):
        ...
        tmix_tile.yield %a2, %m2, %l2 : ...
      }
      %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : ...
      tmix_tile.store %batch, %head, %row, %o : !tmix_tile.tile<[block_m, 64]>
    }
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$spec, Tmix_AttentionScheduleAttr:$schedule);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$spec `schedule` qualified($schedule) attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The program's block: (batch, head, first query row).
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ::mlir::Value getBatch() { return getBodyBlock().getArgument(0); }
    ::mlir::Value getHead() { return getBodyBlock().getArgument(1); }
    ::mlir::Value getRow() { return getBodyBlock().getArgument(2); }
    /// The spec the program implements (its symbol resolved in the nearest symbol
    /// table), or null.
    ::mlir::tmix::AttentionOp getSpecOp();
  }];
}

//===----------------------------------------------------------------------===//
// Loads and stores
//===----------------------------------------------------------------------===//

def TmixTile_LoadQueryOp : TmixTile_Op<"load_query",
    [HasParent<"AttentionProgramOp">, DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "the program's query rows, rotated and scaled";
  let description = [{
    Rows `[row, row + block_m)` of q at (batch, head), as a `[block_m, D]` tile: the
    spec's rope applied, multiplied by the score scale (the spec's `scale`, or
    1/sqrt(D); times log2(e) unless the spec has a `score` statement, so that the
    softmax runs in the log2 domain). Rows past the spec's N are 0.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row);
  let results = (outs TmixTile_Tile:$query);
  let assemblyFormat = "$batch `,` $head `,` $row attr-dict `:` type($query)";
}

def TmixTile_LoadKeyValueOp : TmixTile_Op<"load_kv",
    [ParentOneOf<["KeyValueLoopOp", "KeyLoopOp"]>]> {
  let summary = "a KV tile: keys (rotated) and values";
  let description = [{
    Keys `[key, key + block_n)` of k and v at the batch and the KV head that query
    `head` reads (head / (H / HK)), as `[block_n, D]` and `[block_n, DV]` tiles, the
    keys rotated by the spec's rope. Keys past the spec's M are finite and never kept
    (`score` makes their scores -inf).
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$key);
  let results = (outs TmixTile_Tile:$keys, TmixTile_Tile:$values);
  let assemblyFormat =
      "$batch `,` $head `,` $key attr-dict `:` type($keys) `,` type($values)";
}

def TmixTile_StoreOp : TmixTile_Op<"store", [HasParent<"AttentionProgramOp">]> {
  let summary = "stores the program's rows of o (and lse)";
  let description = [{
    Rows `[row, row + block_m)` of the tile `output` into the spec's output o at
    (batch, head), and of `lse` into its lse output when the spec has one. Rows past
    the spec's N are not stored.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row, TmixTile_Tile:$output,
                       Optional<TmixTile_Rows>:$lse);
  let assemblyFormat = "$batch `,` $head `,` $row `,` $output (`,` $lse^)? attr-dict "
                       "`:` type($output) (`,` type($lse)^)?";
}

//===----------------------------------------------------------------------===//
// The KV walk and the online softmax
//===----------------------------------------------------------------------===//

def TmixTile_SoftmaxInitOp : TmixTile_Op<"softmax_init", [Pure,
    AllTypesMatch<["max", "sum"]>]> {
  let summary = "the online softmax's state before any key";
  let description = [{
    The accumulator 0, the running max -inf and the running sum 0 of every row.
  }];
  let results = (outs TmixTile_Tile:$acc, TmixTile_Rows:$max, TmixTile_Rows:$sum);
  let assemblyFormat = "attr-dict `:` type($acc) `,` type($max)";
  let hasVerifier = 1;
}

def TmixTile_KeyValueLoopOp : TmixTile_Op<"kv_loop", [
    AllTypesMatch<["acc", "final_acc"]>,
    AllTypesMatch<["max", "sum", "final_max", "final_sum"]>, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames",
                                                 "getAsmResultNames"]>]> {
  let summary = "the walk over the KV tiles, carrying the online-softmax state";
  let description = [{
    Runs the body for the KV tiles `key = 0, block_n, 2 block_n, ...` below the spec's
    key length M, carrying (acc, max, sum) from one to the next. A tile where the
    spec's mask drops every pair of the rows `[row, row + block_m)` is skipped (its
    update would be the identity); where the mask keeps every pair, the `score` op
    runs without it. These classes come from the mask's interval bounds
    (passes/KeyTiles.h); a target may first classify ranges of tiles.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row, TmixTile_Tile:$acc,
                       TmixTile_Rows:$max, TmixTile_Rows:$sum);
  let results = (outs TmixTile_Tile:$final_acc, TmixTile_Rows:$final_max,
                      TmixTile_Rows:$final_sum);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$batch `,` $head `,` $row `carry` `(` $acc `,` $max `,` $sum `)` "
                       "`:` type($acc) `,` type($max) attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def TmixTile_YieldOp : TmixTile_Op<"yield", [Pure, Terminator,
    ParentOneOf<["KeyValueLoopOp", "QueryLoopOp", "KeyLoopOp"]>]> {
  let summary = "the state carried to the loop's next tile";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

def TmixTile_DotOp : TmixTile_Op<"dot", [Pure, DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "a tile product, optionally accumulated";
  let description = [{
    `lhs [M, K] x rhs [K, N] (+ acc [M, N])`; with `transpose_rhs`, rhs is `[N, K]`
    (S = Q K^T); with `transpose_lhs`, lhs is `[K, M]` (the backward's dV = P^T dO).

    ```mlir
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 64]> -> !tmix_tile.tile<[block_m, block_n]>
    ```
  }];
  let arguments = (ins TmixTile_Tile:$lhs, TmixTile_Tile:$rhs,
                       Optional<TmixTile_Tile>:$acc, UnitAttr:$transpose_rhs,
                       UnitAttr:$transpose_lhs);
  let results = (outs TmixTile_Tile:$result);
  let assemblyFormat = "$lhs `,` $rhs (`acc` $acc^)? attr-dict `:` type($lhs) `,` "
                       "type($rhs) (`,` type($acc)^)? `->` type($result)";
  let hasVerifier = 1;
}

def TmixTile_ScoreOp : TmixTile_Op<"score", [HasParent<"KeyValueLoopOp">, DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    AllTypesMatch<["scores", "result"]>]> {
  let summary = "the spec's score and mask statements on a tile of scores";
  let description = [{
    For the rows `i = row + r` and keys `j = key + c` of the tile: the spec's `score`
    statement on each (already scaled) score, back in the log2 domain; -inf where the
    spec's `mask` drops (i, j) (in a tile the enclosing loop classified as partial) or
    where j is past the spec's M.
  }];
  let arguments = (ins TmixTile_Tile:$scores, Index:$batch, Index:$head, Index:$row,
                       Index:$key);
  let results = (outs TmixTile_Tile:$result);
  let assemblyFormat = "$scores `at` `(` $batch `,` $head `,` $row `,` $key `)` attr-dict "
                       "`:` type($scores)";
  let hasVerifier = 1;
}

def TmixTile_SoftmaxUpdateOp : TmixTile_Op<"softmax_update", [Pure,
    AllTypesMatch<["scores", "probabilities"]>,
    AllTypesMatch<["max", "sum", "new_max", "new_sum", "rescale"]>]> {
  let summary = "the online-softmax update with a tile of scores";
  let description = [{
    Per row: `max' = max(max, rowmax(s))`, `p = exp2(s - max')`,
    `rescale = exp2(max - max')`, `sum' = sum * rescale + rowsum(p)`; while a row has
    kept nothing, p = 0 and rescale = 1 (AttentionMath.h).
  }];
  let arguments = (ins TmixTile_Tile:$scores, TmixTile_Rows:$max, TmixTile_Rows:$sum);
  let results = (outs TmixTile_Tile:$probabilities, TmixTile_Rows:$new_max,
                      TmixTile_Rows:$new_sum, TmixTile_Rows:$rescale);
  let assemblyFormat = "$scores `,` $max `,` $sum attr-dict `:` type($scores) `,` "
                       "type($max)";
  let hasVerifier = 1;
}

def TmixTile_RescaleOp : TmixTile_Op<"rescale", [Pure, DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    AllTypesMatch<["tile", "result"]>]> {
  let summary = "multiplies each row of a tile by a per-row factor";
  let arguments = (ins TmixTile_Tile:$tile, TmixTile_Rows:$factor);
  let results = (outs TmixTile_Tile:$result);
  let assemblyFormat = "$tile `,` $factor attr-dict `:` type($tile) `,` type($factor)";
  let hasVerifier = 1;
}

def TmixTile_FinalizeOp : TmixTile_Op<"finalize", [HasParent<"AttentionProgramOp">,
    AllTypesMatch<["acc", "output"]>, AllTypesMatch<["max", "sum", "lse"]>]> {
  let summary = "the rows' outputs from the online-softmax state";
  let description = [{
    Per row: the spec's sink logit joins the sum as one more score with no value row;
    then `o = acc / sum` and `lse = (max + log2 sum) ln 2`. A row that kept nothing
    gives o = 0 and lse = -inf; a row that saw a NaN gives NaN (AttentionMath.h).
  }];
  let arguments = (ins Index:$batch, Index:$head, TmixTile_Tile:$acc, TmixTile_Rows:$max,
                       TmixTile_Rows:$sum);
  let results = (outs TmixTile_Tile:$output, TmixTile_Rows:$lse);
  let assemblyFormat = "$batch `,` $head `,` $acc `,` $max `,` $sum attr-dict `:` "
                       "type($acc) `,` type($max)";
  let hasVerifier = 1;
}

def TmixTile_MergeOp : TmixTile_Op<"merge", [Pure,
    AllTypesMatch<["output", "other_output", "merged_output"]>,
    AllTypesMatch<["lse", "other_lse", "merged_lse"]>]> {
  let summary = "the associative merge of two partial attention results";
  let description = [{
    Two results for the same rows over disjoint sets of keys, `(o1, lse1)` and
    `(o2, lse2)` (o normalised, lse in natural units as `finalize` gives them), give
    the result over the union of the keys:

    ```
    lse = log(exp(lse1) + exp(lse2))
    o   = o1 exp(lse1 - lse) + o2 exp(lse2 - lse)
    ```

    A part that kept nothing (lse = -inf) leaves the other unchanged; two such parts
    give (0, -inf); a NaN in either part gives NaN. The merge is associative and
    commutative (DESIGN.md, decision 5): split-KV decode, cascade (shared-prefix)
    attention and ring attention merge their partial results with it in any order.
    No target lowers it yet: the split-KV programs that produce partial results are
    the next step (docs/tiled-level.md).
  }];
  let arguments = (ins TmixTile_Tile:$output, TmixTile_Rows:$lse,
                       TmixTile_Tile:$other_output, TmixTile_Rows:$other_lse);
  let results = (outs TmixTile_Tile:$merged_output, TmixTile_Rows:$merged_lse);
  let assemblyFormat = "$output `,` $lse `with` $other_output `,` $other_lse attr-dict "
                       "`:` type($output) `,` type($lse)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The attention backward
//===----------------------------------------------------------------------===//

def TmixTile_AttentionGradProgramOp : TmixTile_Op<"attention_grad", [
    IsolatedFromAbove, SingleBlock, NoTerminator,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "one program of a derived backward part's grid, in tiles";
  let description = [{
    The program of one tile of the `tmix.attention_grad` part `spec`
    (tmix-derive-attention-grad): its block's arguments are the batch, a head and the
    tile's first position. Part "key_value" walks the query rows that read a tile of
    `block_n` keys of a KV head and sums dk and dv:

    ```
    k, v = load_keys(batch, kv_head, key)
    dk, dv = query_loop(batch, kv_head, key) carry(zeros, zeros) {
    ^(head, row, dk, dv):
      q, d_o, lse, delta = load_query_grad(batch, head, row)
      p, ds = pair_grad(dot(q, k^T), dot(d_o, v^T), lse, delta) at (batch, head, row, key)
      [param_grads(...)]                  the params the part sums per key split
      [accumulate_dq(batch, head, row, dot(ds, k))]   without recompute_dq
      yield dot(ds^T, q, dk), dot(p^T, d_o, dv)
    }
    store_key_grad(batch, kv_head, key, dk, dv)
    ```

    Part "query" gives a tile of `block_m` rows' dq: with recompute_dq (the GPUs')
    its own walk over the keys, else the sum of the key splits' partials:

    ```
    q, d_o, lse, delta = load_query_grad(batch, head, row)
    dq = key_loop(batch, head, row) carry(zeros) {
    ^(key, dq):
      k, v = load_kv(batch, head, key)
      p, ds = pair_grad(dot(q, k^T), dot(d_o, v^T), lse, delta) at (batch, head, row, key)
      yield dot(ds, k, dq)
    }
    store_query_grad(batch, head, row, dq)
                       -- or, without recompute_dq --
    store_query_grad(batch, head, row, sum_dq_partials(batch, head, row))
    ```

    The spec holds the statements the ops apply (rope, scale, score, mask and their
    derivatives). A target may run several tiles in one program (the CPU's key splits:
    every `splits`-th tile of keys, one d_q_partial slice each). Part "params" has no
    tile program: it runs on the CPU alone (docs/training.md).
  }];
  let arguments = (ins FlatSymbolRefAttr:$spec);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$spec attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ::mlir::Value getBatch() { return getBodyBlock().getArgument(0); }
    /// The KV head (part "key_value") or the query head (part "query").
    ::mlir::Value getHead() { return getBodyBlock().getArgument(1); }
    /// The tile's first key (part "key_value") or first query row (part "query").
    ::mlir::Value getFirst() { return getBodyBlock().getArgument(2); }
    /// The part the program implements (its symbol resolved in the nearest symbol
    /// table), or null.
    ::mlir::tmix::AttentionGradOp getSpecOp();
  }];
}

def TmixTile_ZerosOp : TmixTile_Op<"zeros", [Pure]> {
  let summary = "a tile of zeros: a sum's start";
  let results = (outs TmixTile_Tile:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def TmixTile_LoadKeysOp : TmixTile_Op<"load_keys",
    [HasParent<"AttentionGradProgramOp">]> {
  let summary = "a tile of keys (rotated) and values of one KV head";
  let description = [{
    Keys `[key, key + block_n)` of k and v at (batch, kv_head), as `[block_n, D]` and
    `[block_n, DV]` tiles, the keys rotated by the spec's rope. Keys past M are finite
    and never kept (`pair_grad` gives them P = dS = 0).
  }];
  let arguments = (ins Index:$batch, Index:$kv_head, Index:$key);
  let results = (outs TmixTile_Tile:$keys, TmixTile_Tile:$values);
  let assemblyFormat =
      "$batch `,` $kv_head `,` $key attr-dict `:` type($keys) `,` type($values)";
}

def TmixTile_QueryLoopOp : TmixTile_Op<"query_loop", [
    HasParent<"AttentionGradProgramOp">, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "the walk over the query rows that read a tile of keys";
  let description = [{
    Runs the body for every query head of `kv_head`'s group (GQA), in order, and for
    each the tiles of `block_m` rows `row = 0, block_m, ...` below N, carrying the
    sums from one to the next. A tile where the spec's mask drops every pair with the
    keys `[key, key + block_n)` is skipped; where it keeps every pair, `pair_grad`
    runs without the mask (passes/KeyTiles.h).
  }];
  let arguments = (ins Index:$batch, Index:$kv_head, Index:$key,
                       Variadic<TmixTile_Tile>:$inits);
  let results = (outs Variadic<TmixTile_Tile>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$batch `,` $kv_head `,` $key `carry` `(` $inits `)` `:` "
                       "type($inits) `->` type($results) attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def TmixTile_KeyLoopOp : TmixTile_Op<"key_loop", [
    HasParent<"AttentionGradProgramOp">, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "the walk over the KV tiles a tile of query rows reads";
  let description = [{
    Runs the body for the KV tiles `key = 0, block_n, ...` below M, carrying the sums
    from one to the next; tiles are classified by the mask as `kv_loop`'s are.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row,
                       Variadic<TmixTile_Tile>:$inits);
  let results = (outs Variadic<TmixTile_Tile>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$batch `,` $head `,` $row `carry` `(` $inits `)` `:` "
                       "type($inits) `->` type($results) attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def TmixTile_LoadQueryGradOp : TmixTile_Op<"load_query_grad", [
    ParentOneOf<["AttentionGradProgramOp", "QueryLoopOp"]>,
    AllTypesMatch<["lse", "delta"]>]> {
  let summary = "a tile of query rows with what their gradients need";
  let description = [{
    Rows `[row, row + block_m)` at (batch, head): q rotated by the spec's rope (not
    scaled: `pair_grad` scales), d_o, the forward's lse and D_i = d_o_i . o_i (minus
    d_lse_i when the spec has `lse_grad`). Rows past N are 0 with lse = +inf, so that
    they keep no pair.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row);
  let results = (outs TmixTile_Tile:$query, TmixTile_Tile:$output_grad,
                      TmixTile_Rows:$lse, TmixTile_Rows:$delta);
  let assemblyFormat = "$batch `,` $head `,` $row attr-dict `:` type($query) `,` "
                       "type($output_grad) `,` type($lse)";
  let hasVerifier = 1;
}

def TmixTile_PairGradOp : TmixTile_Op<"pair_grad", [
    ParentOneOf<["QueryLoopOp", "KeyLoopOp"]>,
    AllTypesMatch<["dots", "output_dots", "probabilities", "score_grads"]>,
    AllTypesMatch<["lse", "delta"]>]> {
  let summary = "each pair's probability and score gradient";
  let description = [{
    For the rows `i = row + r` and keys `j = key + c` of a tile, from q_i . k_j
    (`dots`) and dP_ij = d_o_i . v_j (`output_dots`): s_ij the spec's score of the
    scaled dot, P_ij = exp(s_ij - lse_i), and the gradient of q_i . k_j,
    dS_ij = score'(P_ij (dP_ij - D_i)) * scale: the chain rule through the score
    (AttentionMath.h's pairGradient). Both are 0 where the mask drops (i, j) (tiles
    the loop classified as partial), past N or past M.
  }];
  let arguments = (ins TmixTile_Tile:$dots, TmixTile_Tile:$output_dots,
                       TmixTile_Rows:$lse, TmixTile_Rows:$delta, Index:$batch,
                       Index:$head, Index:$row, Index:$key);
  let results = (outs TmixTile_Tile:$probabilities, TmixTile_Tile:$score_grads);
  let assemblyFormat = "$dots `,` $output_dots `,` $lse `,` $delta `at` `(` $batch `,` "
                       "$head `,` $row `,` $key `)` attr-dict `:` type($dots) `,` "
                       "type($lse)";
  let hasVerifier = 1;
}

def TmixTile_ParamGradsOp : TmixTile_Op<"param_grads", [HasParent<"QueryLoopOp">,
    AllTypesMatch<["dots", "output_dots", "probabilities"]>]> {
  let summary = "the score's learnable params' terms of each pair, per key split";
  let description = [{
    The spec's `tmix.score_param_grad` on each kept pair of the tile (its score s_ij
    and the score's gradient P_ij (dP_ij - D_i)), added into the program's slices of
    the params' partials (`d_x_partial`, one per key split: docs/training.md).
  }];
  let arguments = (ins TmixTile_Tile:$dots, TmixTile_Tile:$output_dots,
                       TmixTile_Tile:$probabilities, TmixTile_Rows:$delta,
                       Index:$batch, Index:$head, Index:$row, Index:$key);
  let assemblyFormat = "$dots `,` $output_dots `,` $probabilities `,` $delta `at` `(` "
                       "$batch `,` $head `,` $row `,` $key `)` attr-dict `:` "
                       "type($dots) `,` type($delta)";
}

def TmixTile_AccumulateQueryGradOp : TmixTile_Op<"accumulate_dq",
    [HasParent<"QueryLoopOp">]> {
  let summary = "adds a tile's terms of dq into the key split's partial";
  let description = [{
    Adds `terms` (`[block_m, D]`: dS K over the tile's keys) into rows
    `[row, row + block_m)` of the program's key split's `d_q_partial` at (batch,
    head). Without recompute_dq only.
  }];
  let arguments = (ins Index:$batch, Index:$head, Index:$row, TmixTile_Tile:$terms);
  let assemblyFormat = "$batch `,` $head `,` $row `,` $terms attr-dict `:` type($terms)";
}

def TmixTile_StoreKeyGradOp : TmixTile_Op<"store_key_grad",
    [HasParent<"AttentionGradProgramOp">]> {
  let summary = "stores a tile of keys' dk (rotated back) and dv";
  let arguments = (ins Index:$batch, Index:$kv_head, Index:$key,
                       TmixTile_Tile:$key_grad, TmixTile_Tile:$value_grad);
  let assemblyFormat = "$batch `,` $kv_head `,` $key `,` $key_grad `,` $value_grad "
                       "attr-dict `:` type($key_grad) `,` type($value_grad)";
}

def TmixTile_SumQueryPartialsOp : TmixTile_Op<"sum_dq_partials",
    [HasParent<"AttentionGradProgramOp">]> {
  let summary = "a tile of rows' dq: their key splits' partials summed in order";
  let arguments = (ins Index:$batch, Index:$head, Index:$row);
  let results = (outs TmixTile_Tile:$query_grad);
  let assemblyFormat = "$batch `,` $head `,` $row attr-dict `:` type($query_grad)";
}

def TmixTile_StoreQueryGradOp : TmixTile_Op<"store_query_grad",
    [HasParent<"AttentionGradProgramOp">]> {
  let summary = "stores a tile of rows' dq, rotated back";
  let arguments = (ins Index:$batch, Index:$head, Index:$row, TmixTile_Tile:$query_grad);
  let assemblyFormat = "$batch `,` $head `,` $row `,` $query_grad attr-dict `:` "
                       "type($query_grad)";
}

//===----------------------------------------------------------------------===//
// Recurrences: the chunked form
//===----------------------------------------------------------------------===//

def TmixTile_RecurrenceProgramOp : TmixTile_Op<"recurrence", [
    IsolatedFromAbove, SingleBlock, NoTerminator,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "one program of a recurrence's grid, chunk by chunk or step by step";
  let description = [{
    The program of one point of the parallel dimensions of the recurrence spec `spec`,
    run by `schedule`. Its states start at their `init` argument (or 0) and the spec's
    final-state outputs are stored at its end. The body holds a `chunk_loop` (the
    chunk-parallel form of the states with a chunk form, passes/ChunkForm.h), a
    `step_loop` (every step in order), or both, in that order: then the program runs
    the chunk loop when the number of steps T is at least the schedule's
    `chunked_min_steps`, else the step loop.

    ```mlir
    tmix_tile.recurrence @gla schedule #tmix.recurrence_schedule<form = "chunked", chunk = 64> {
      tmix_tile.chunk_loop {
      ^bb0(%start: index, %length: index):
        tmix_tile.stage_steps %start, %length
        %logs = tmix_tile.gate_logs "S" : <[chunk, K]>
        %scores = tmix_tile.chunk_scores "S" readout 0, %logs : <[chunk, K]> -> <[chunk, chunk]>
        %o = tmix_tile.chunk_readout "S" readout 0, %scores, %logs : ...
        tmix_tile.state_update "S", %logs : <[chunk, K]>
        tmix_tile.finish_steps %start, %length, %o : <[chunk, V]>
      }
    }
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$spec, Tmix_RecurrenceScheduleAttr:$schedule);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$spec `schedule` qualified($schedule) attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The spec the program implements, or null.
    ::mlir::tmix::RecurrenceOp getSpecOp();
    /// The program's loops: the chunk loop and the step loop, either may be null.
    ChunkLoopOp getChunkLoop();
    StepLoopOp getStepLoop();
  }];
}

def TmixTile_StepLoopOp : TmixTile_Op<"step_loop", [HasParent<"RecurrenceProgramOp">]> {
  let summary = "every step of the spec, in order";
  let description = [{
    For t = 0 .. T-1, the spec's step region on all states: the recurrence as written
    (decode, short prompts, states with no chunk form).
  }];
  let assemblyFormat = "attr-dict";
}

def TmixTile_ChunkLoopOp : TmixTile_Op<"chunk_loop", [
    HasParent<"RecurrenceProgramOp">, SingleBlock, NoTerminator,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "the walk over the chunks of steps";
  let description = [{
    Runs the body for the chunks of the schedule's `chunk` steps, in order: its block
    arguments are the chunk's first step and its number of steps (the last chunk may
    be shorter). The states with a chunk form advance a whole chunk at a time
    (`state_update`); the others step by step (`finish_steps`).
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ::mlir::Value getStart() { return getBodyBlock().getArgument(0); }
    ::mlir::Value getLength() { return getBodyBlock().getArgument(1); }
  }];
}

def TmixTile_StageStepsOp : TmixTile_Op<"stage_steps", [HasParent<"ChunkLoopOp">]> {
  let summary = "the step values the chunk's states need";
  let description = [{
    For each step of the chunk, the values of the step region that the chunked states
    read: their gates, keys, values, queries and delta strengths.
  }];
  let arguments = (ins Index:$start, Index:$length);
  let assemblyFormat = "$start `,` $length attr-dict";
}

def TmixTile_GateLogsOp : TmixTile_Op<"gate_logs", [HasParent<"ChunkLoopOp">,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "the chunk's cumulative gate logs of a state";
  let description = [{
    LG_i = sum of log G_s over the chunk's steps s <= i (each clamped below at
    kLogDecayFloor, passes/ChunkMath.h), with the sign of G_i tracked apart: a
    `[chunk, K]` tile for a row gate, `[chunk, 1]` for a scalar one. Ratios of gates
    are exp of differences of these logs, never exp(-LG) alone.
  }];
  let arguments = (ins StrAttr:$state);
  let results = (outs TmixTile_Tile:$logs);
  let assemblyFormat = "$state attr-dict `:` type($logs)";
  let hasVerifier = 1;
}

def TmixTile_DeltaSolveOp : TmixTile_Op<"delta_solve", [HasParent<"ChunkLoopOp">,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "the delta rule's pseudo-values: the WY solve";
  let description = [{
    The pseudo-values w of the chunk, solving the unit lower-triangular system
    `w_i + b_i sum_{s<i} (Γ_i/Γ_s)(k_i · k_s) w_s = b_i (v_i - Γ_i S^T k_i)` from the
    state S at the chunk's start (passes/ChunkMath.h); the readouts and the state
    update then use w in place of the values.
  }];
  let arguments = (ins StrAttr:$state, TmixTile_Tile:$logs);
  let results = (outs TmixTile_Tile:$pseudo_values);
  let assemblyFormat = "$state `,` $logs attr-dict `:` type($logs) `->` type($pseudo_values)";
}

def TmixTile_ChunkScoresOp : TmixTile_Op<"chunk_scores", [HasParent<"ChunkLoopOp">,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "the intra-chunk scores of a readout";
  let description = [{
    `A[i, s] = sum_k q_i[k] k_s[k] (Γ_i / Γ_s)[k]` for s <= i, 0 above the diagonal:
    the queries of readout `readout` of the state against its keys.
  }];
  let arguments = (ins StrAttr:$state, I64Attr:$readout, TmixTile_Tile:$logs);
  let results = (outs TmixTile_Tile:$scores);
  let assemblyFormat = "$state `readout` $readout `,` $logs attr-dict `:` type($logs) `->` "
                       "type($scores)";
  let hasVerifier = 1;
}

def TmixTile_ChunkReadoutOp : TmixTile_Op<"chunk_readout", [HasParent<"ChunkLoopOp">,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "a readout q @ S_t for every step of the chunk";
  let description = [{
    `O = A v + (q ⊙ Γ) S` with S the state at the chunk's start: the intra-chunk part
    through the scores, the rest through the start state (v: the pseudo-values of a
    delta rule).
  }];
  let arguments = (ins StrAttr:$state, I64Attr:$readout, TmixTile_Tile:$scores,
                       TmixTile_Tile:$logs, Optional<TmixTile_Tile>:$pseudo_values);
  let results = (outs TmixTile_Tile:$outputs);
  let assemblyFormat = "$state `readout` $readout `,` $scores `,` $logs (`,` $pseudo_values^)? "
                       "attr-dict `:` type($scores) `,` type($logs) "
                       "(`,` type($pseudo_values)^)? `->` type($outputs)";
}

def TmixTile_StateUpdateOp : TmixTile_Op<"state_update", [HasParent<"ChunkLoopOp">]> {
  let summary = "a state at the chunk's end";
  let description = [{
    `S = Γ_L ⊙ S + sum_s ((Γ_L / Γ_s) ⊙ k_s) outer v_s` over the chunk's L steps (v:
    the pseudo-values of a delta rule).
  }];
  let arguments = (ins StrAttr:$state, TmixTile_Tile:$logs,
                       Optional<TmixTile_Tile>:$pseudo_values);
  let assemblyFormat = "$state `,` $logs (`,` $pseudo_values^)? attr-dict `:` type($logs) "
                       "(`,` type($pseudo_values)^)?";
}

def TmixTile_FinishStepsOp : TmixTile_Op<"finish_steps", [HasParent<"ChunkLoopOp">]> {
  let summary = "the rest of each step of the chunk, with its readouts";
  let description = [{
    For each step of the chunk, in order: the step region's remaining values, with the
    readouts of the chunked states read from `readouts` (in the order of the states
    and their readouts), the states without a chunk form advanced by one step, and the
    per-step outputs stored.
  }];
  let arguments = (ins Index:$start, Index:$length, Variadic<TmixTile_Tile>:$readouts);
  let assemblyFormat = "$start `,` $length (`,` $readouts^ `:` type($readouts))? attr-dict";
}

#endif // TMIX_TILE_OPS_TD
