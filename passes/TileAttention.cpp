//===- TileAttention.cpp - tmix.attention to a program of tile ops --------===//
//
// Writes one program of a scheduled attention spec's grid in tile ops
// (dialect/TileOps.td). Every spec gets the same program; the schedule says how big
// block_m and block_n are, and the types name them rather than their values, so the
// program reads the same for every target:
//
//   q                = load_query(batch, head, row)       rotated, scaled
//   acc, max, sum    = softmax_init
//   for key in KV tiles (classified by the mask):
//     k, v           = load_kv(batch, head, key)
//     s              = score(dot(q, k^T), at row, key)    score and mask statements
//     p, max, sum, r = softmax_update(s, max, sum)
//     acc            = dot(p, v, acc = rescale(acc, r))
//   o, lse           = finalize(acc, max, sum)            sink
//   store(o, lse)
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/TileOps.h"
#include "dialect/TmixOps.h"
#include "passes/TileProgram.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_TILEATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

namespace {

/// Builds the program of `spec`, tiled by `schedule`, right after the spec.
void buildAttentionProgram(AttentionOp spec, AttentionScheduleAttr schedule) {
  OpBuilder b(spec.getContext());
  b.setInsertionPointAfter(spec);
  Location loc = spec.getLoc();
  ArrayRef<Type> args = spec.getSpecArgTypes();
  Attribute headDim = cast<SpecTensorType>(args[0]).getDims()[3];
  Attribute valueDim = cast<SpecTensorType>(args[2]).getDims()[3];
  Attribute blockM = b.getStringAttr(tile::kBlockM), blockN = b.getStringAttr(tile::kBlockN);
  MLIRContext *context = b.getContext();
  auto tileOf = [&](Attribute rows, Attribute columns) -> Type {
    return tile::TileType::get(context, {rows, columns});
  };
  Type queryTile = tileOf(blockM, headDim), keyTile = tileOf(blockN, headDim);
  Type valueTile = tileOf(blockN, valueDim), accTile = tileOf(blockM, valueDim);
  Type scoreTile = tileOf(blockM, blockN);
  Type rows = tile::RowsType::get(context, {blockM});

  auto program = tile::AttentionProgramOp::create(
      b, loc, FlatSymbolRefAttr::get(spec.getSymNameAttr()), schedule);
  Type index = b.getIndexType();
  Block *body = b.createBlock(&program.getBody(), {}, {index, index, index},
                              {loc, loc, loc});
  Value batch = body->getArgument(0), head = body->getArgument(1),
        row = body->getArgument(2);

  Value query = tile::LoadQueryOp::create(b, loc, queryTile, batch, head, row);
  auto init = tile::SoftmaxInitOp::create(b, loc, accTile, rows, rows);
  auto loop = tile::KeyValueLoopOp::create(b, loc, accTile, rows, rows, batch, head, row,
                                           init.getAcc(), init.getMax(), init.getSum());
  {
    OpBuilder::InsertionGuard guard(b);
    Block *tileBody = b.createBlock(&loop.getBody(), {}, {index, accTile, rows, rows},
                                    {loc, loc, loc, loc});
    Value key = tileBody->getArgument(0), acc = tileBody->getArgument(1),
          max = tileBody->getArgument(2), sum = tileBody->getArgument(3);
    auto kv = tile::LoadKeyValueOp::create(b, loc, keyTile, valueTile, batch, head, key);
    auto raw = tile::DotOp::create(b, loc, scoreTile, query, kv.getKeys(), Value(),
                                   /*transpose_rhs=*/true);
    Value scores = tile::ScoreOp::create(b, loc, scoreTile, raw, batch, head, row, key);
    auto update = tile::SoftmaxUpdateOp::create(b, loc, scoreTile, rows, rows, rows,
                                                scores, max, sum);
    Value rescaled =
        tile::RescaleOp::create(b, loc, accTile, acc, update.getRescale());
    Value accumulated = tile::DotOp::create(b, loc, accTile, update.getProbabilities(),
                                            kv.getValues(), rescaled,
                                            /*transpose_rhs=*/false);
    tile::YieldOp::create(b, loc, ValueRange{accumulated, update.getNewMax(),
                                             update.getNewSum()});
  }
  auto finish = tile::FinalizeOp::create(b, loc, accTile, rows, batch, head,
                                         loop.getFinalAcc(), loop.getFinalMax(),
                                         loop.getFinalSum());
  Value lse = spec.getNumSpecResults() == 2 ? finish.getLse() : Value();
  tile::StoreOp::create(b, loc, batch, head, row, finish.getOutput(), lse);
}

struct TileAttention : tmix::impl::TileAttentionBase<TileAttention> {
  void runOnOperation() override {
    for (AttentionOp spec : getOperation().getOps<AttentionOp>()) {
      FailureOr<AttentionScheduleAttr> schedule =
          getScheduleOf<AttentionScheduleAttr>(spec, "attention_schedule");
      if (failed(schedule))
        return signalPassFailure();
      buildAttentionProgram(spec, *schedule);
      ++numTiled;
    }
  }
};

} // namespace
