//===- TileAttentionGrad.cpp - Backward parts to programs of tile ops -----===//
//
// Writes one program of each derived attention backward part's grid in tile ops
// (dialect/TileOps.td), the same for every target: the part's attributes
// (recompute_dq, the params it sums per key split) decide which ops it holds.
//
//   part "key_value" (batch, kv_head, key):
//     k, v       = load_keys(batch, kv_head, key)                    rotated
//     dk, dv     = query_loop carry(0, 0) over (head, row):          GQA's group, tiles
//       q, d_o, lse, delta = load_query_grad(batch, head, row)
//       p, ds    = pair_grad(dot(q, k^T), dot(d_o, v^T), lse, delta)
//       [param_grads(...)]                                           per key split
//       [accumulate_dq(dot(ds, k))]                                  without recompute_dq
//       yield dot(ds^T, q, dk), dot(p^T, d_o, dv)
//     store_key_grad(dk, dv)                                         dk rotated back
//
//   part "query" (batch, head, row), with recompute_dq:
//     q, d_o, lse, delta = load_query_grad(batch, head, row)
//     dq         = key_loop carry(0) over key:
//       k, v     = load_kv(batch, head, key)
//       p, ds    = pair_grad(dot(q, k^T), dot(d_o, v^T), lse, delta)
//       yield dot(ds, k, dq)
//     store_query_grad(dq)                                           rotated back
//   without: store_query_grad(sum_dq_partials(batch, head, row))
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/TileOps.h"
#include "dialect/TmixOps.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_TILEATTENTIONGRAD
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

namespace {

/// The tile types of a backward program: extents named block_m (query rows) and
/// block_n (keys), whose values each target chooses (the CPU's 64 rows and 32 keys, the
/// GPUs' 64 and 64), and the spec's head dims.
struct GradTiles {
  Type query, outputGrad, keys, values, pairs, rows;

  GradTiles(AttentionGradOp spec) {
    MLIRContext *context = spec.getContext();
    ArrayRef<Type> args = spec.getSpecArgTypes();
    Attribute headDim = cast<SpecTensorType>(args[0]).getDims()[3];
    Attribute valueDim = cast<SpecTensorType>(args[2]).getDims()[3];
    Attribute blockM = StringAttr::get(context, tile::kBlockM);
    Attribute blockN = StringAttr::get(context, tile::kBlockN);
    auto tileOf = [&](Attribute rows, Attribute columns) -> Type {
      return tile::TileType::get(context, {rows, columns});
    };
    query = tileOf(blockM, headDim);
    outputGrad = tileOf(blockM, valueDim);
    keys = tileOf(blockN, headDim);
    values = tileOf(blockN, valueDim);
    pairs = tileOf(blockM, blockN);
    rows = tile::RowsType::get(context, {blockM});
  }
};

/// The products and pair gradients of the rows (batch, head, row) and the keys at
/// `key`: (p, ds) and the dots they came from.
struct PairTile {
  Value dots, outputDots, probabilities, scoreGrads;
};

PairTile pairTile(OpBuilder &b, Location loc, const GradTiles &types,
                  tile::LoadQueryGradOp rows, Value keys, Value values, Value batch,
                  Value head, Value row, Value key) {
  PairTile pair;
  pair.dots = tile::DotOp::create(b, loc, types.pairs, rows.getQuery(), keys, Value(),
                                  /*transpose_rhs=*/true, /*transpose_lhs=*/false);
  pair.outputDots =
      tile::DotOp::create(b, loc, types.pairs, rows.getOutputGrad(), values, Value(),
                          /*transpose_rhs=*/true, /*transpose_lhs=*/false);
  auto grads = tile::PairGradOp::create(b, loc, types.pairs, types.pairs, pair.dots,
                                        pair.outputDots, rows.getLse(), rows.getDelta(),
                                        batch, head, row, key);
  pair.probabilities = grads.getProbabilities();
  pair.scoreGrads = grads.getScoreGrads();
  return pair;
}

void buildKeyValueProgram(OpBuilder &b, Location loc, AttentionGradOp spec,
                          const GradTiles &types, Value batch, Value kvHead, Value key) {
  auto kv =
      tile::LoadKeysOp::create(b, loc, types.keys, types.values, batch, kvHead, key);
  Value dk0 = tile::ZerosOp::create(b, loc, types.keys);
  Value dv0 = tile::ZerosOp::create(b, loc, types.values);
  auto loop = tile::QueryLoopOp::create(b, loc, TypeRange{types.keys, types.values},
                                        batch, kvHead, key, ValueRange{dk0, dv0});
  {
    OpBuilder::InsertionGuard guard(b);
    Type index = b.getIndexType();
    Block *body =
        b.createBlock(&loop.getBody(), {}, {index, index, types.keys, types.values},
                      {loc, loc, loc, loc});
    Value head = body->getArgument(0), row = body->getArgument(1);
    Value dk = body->getArgument(2), dv = body->getArgument(3);
    auto rows = tile::LoadQueryGradOp::create(b, loc, types.query, types.outputGrad,
                                              types.rows, types.rows, batch, head, row);
    PairTile pair = pairTile(b, loc, types, rows, kv.getKeys(), kv.getValues(), batch,
                             head, row, key);
    if (spec.sumsScoreParams())
      tile::ParamGradsOp::create(b, loc, pair.dots, pair.outputDots, pair.probabilities,
                                 rows.getDelta(), batch, head, row, key);
    if (!spec.getRecomputeDq()) {
      Value terms = tile::DotOp::create(b, loc, types.query, pair.scoreGrads,
                                        kv.getKeys(), Value(), /*transpose_rhs=*/false,
                                        /*transpose_lhs=*/false);
      tile::AccumulateQueryGradOp::create(b, loc, batch, head, row, terms);
    }
    Value nextDk =
        tile::DotOp::create(b, loc, types.keys, pair.scoreGrads, rows.getQuery(), dk,
                            /*transpose_rhs=*/false, /*transpose_lhs=*/true);
    Value nextDv = tile::DotOp::create(b, loc, types.values, pair.probabilities,
                                       rows.getOutputGrad(), dv, /*transpose_rhs=*/false,
                                       /*transpose_lhs=*/true);
    tile::YieldOp::create(b, loc, ValueRange{nextDk, nextDv});
  }
  tile::StoreKeyGradOp::create(b, loc, batch, kvHead, key, loop.getResult(0),
                               loop.getResult(1));
}

void buildQueryProgram(OpBuilder &b, Location loc, AttentionGradOp spec,
                       const GradTiles &types, Value batch, Value head, Value row) {
  if (!spec.getRecomputeDq()) {
    Value dq = tile::SumQueryPartialsOp::create(b, loc, types.query, batch, head, row);
    tile::StoreQueryGradOp::create(b, loc, batch, head, row, dq);
    return;
  }
  auto rows = tile::LoadQueryGradOp::create(b, loc, types.query, types.outputGrad,
                                            types.rows, types.rows, batch, head, row);
  Value dq0 = tile::ZerosOp::create(b, loc, types.query);
  auto loop = tile::KeyLoopOp::create(b, loc, TypeRange{types.query}, batch, head, row,
                                      ValueRange{dq0});
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body =
        b.createBlock(&loop.getBody(), {}, {b.getIndexType(), types.query}, {loc, loc});
    Value key = body->getArgument(0), dq = body->getArgument(1);
    auto kv =
        tile::LoadKeyValueOp::create(b, loc, types.keys, types.values, batch, head, key);
    PairTile pair = pairTile(b, loc, types, rows, kv.getKeys(), kv.getValues(), batch,
                             head, row, key);
    Value next =
        tile::DotOp::create(b, loc, types.query, pair.scoreGrads, kv.getKeys(), dq,
                            /*transpose_rhs=*/false, /*transpose_lhs=*/false);
    tile::YieldOp::create(b, loc, ValueRange{next});
  }
  tile::StoreQueryGradOp::create(b, loc, batch, head, row, loop.getResult(0));
}

/// Builds the program of `spec` right after it.
void buildAttentionGradProgram(AttentionGradOp spec) {
  OpBuilder b(spec.getContext());
  b.setInsertionPointAfter(spec);
  Location loc = spec.getLoc();
  GradTiles types(spec);
  auto program = tile::AttentionGradProgramOp::create(
      b, loc, FlatSymbolRefAttr::get(spec.getSymNameAttr()));
  Type index = b.getIndexType();
  Block *body =
      b.createBlock(&program.getBody(), {}, {index, index, index}, {loc, loc, loc});
  Value batch = body->getArgument(0), head = body->getArgument(1),
        first = body->getArgument(2);
  if (spec.isQueryPart())
    buildQueryProgram(b, loc, spec, types, batch, head, first);
  else
    buildKeyValueProgram(b, loc, spec, types, batch, head, first);
}

struct TileAttentionGrad : tmix::impl::TileAttentionGradBase<TileAttentionGrad> {
  void runOnOperation() override {
    for (AttentionGradOp spec : getOperation().getOps<AttentionGradOp>()) {
      if (spec.isParamsPart())
        continue;
      buildAttentionGradProgram(spec);
      ++numTiled;
    }
  }
};

} // namespace
