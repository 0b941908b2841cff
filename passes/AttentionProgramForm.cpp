//===- AttentionProgramForm.cpp - The tile program a target runs ----------===//
//
// Matches the program op by op in the order tmix-tile-attention writes it, and every
// operand against the value it must be: block arguments name the program's
// coordinates, everything else comes from the op of its role. With the ops and every
// operand fixed, each value has exactly its one use, so the targets may update the
// state in place.
//
//===----------------------------------------------------------------------===//

#include "passes/AttentionProgramForm.h"

using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

FailureOr<AttentionProgramForm> tmix::matchAttentionProgram(tile::AttentionProgramOp program,
                                                           StringRef target) {
  FormMatcher m(program, target, "the online-softmax program", "tmix-tile-attention");
  AttentionProgramForm form;
  Block &body = program.getBodyBlock();
  Value batch = program.getBatch(), head = program.getHead(), row = program.getRow();
  auto coordinates = [&](Operation *op, Value b, Value h, Value r) {
    return success(succeeded(m.same(op, b, batch, "the program's batch")) &&
                   succeeded(m.same(op, h, head, "the program's head")) &&
                   (!r || succeeded(m.same(op, r, row, "the program's row"))));
  };

  Block::iterator it = body.begin();
  auto loadQuery = m.next<tile::LoadQueryOp>(it, body);
  if (failed(loadQuery) ||
      failed(coordinates(*loadQuery, loadQuery->getBatch(), loadQuery->getHead(),
                         loadQuery->getRow())))
    return failure();
  auto init = m.next<tile::SoftmaxInitOp>(it, body);
  if (failed(init))
    return failure();
  auto loop = m.next<tile::KeyValueLoopOp>(it, body);
  if (failed(loop) || failed(coordinates(*loop, loop->getBatch(), loop->getHead(),
                                         loop->getRow())) ||
      failed(m.same(*loop, loop->getAcc(), init->getAcc(), "the initial accumulator")) ||
      failed(m.same(*loop, loop->getMax(), init->getMax(), "the initial max")) ||
      failed(m.same(*loop, loop->getSum(), init->getSum(), "the initial sum")))
    return failure();
  auto finalize = m.next<tile::FinalizeOp>(it, body);
  if (failed(finalize) ||
      failed(coordinates(*finalize, finalize->getBatch(), finalize->getHead(), Value())) ||
      failed(m.same(*finalize, finalize->getAcc(), loop->getFinalAcc(),
                    "the loop's accumulator")) ||
      failed(m.same(*finalize, finalize->getMax(), loop->getFinalMax(), "the loop's max")) ||
      failed(m.same(*finalize, finalize->getSum(), loop->getFinalSum(), "the loop's sum")))
    return failure();
  auto store = m.next<tile::StoreOp>(it, body);
  if (failed(store) ||
      failed(coordinates(*store, store->getBatch(), store->getHead(), store->getRow())) ||
      failed(m.same(*store, store->getOutput(), finalize->getOutput(),
                    "the finalized output")) ||
      (store->getLse() &&
       failed(m.same(*store, store->getLse(), finalize->getLse(), "the finalized lse"))) ||
      failed(m.end(it, body)))
    return failure();

  // The KV tile's body.
  Block &tileBody = loop->getBodyBlock();
  Value key = tileBody.getArgument(0), acc = tileBody.getArgument(1),
        max = tileBody.getArgument(2), sum = tileBody.getArgument(3);
  Block::iterator at = tileBody.begin();
  auto loadKeyValue = m.next<tile::LoadKeyValueOp>(at, tileBody);
  if (failed(loadKeyValue) ||
      failed(coordinates(*loadKeyValue, loadKeyValue->getBatch(), loadKeyValue->getHead(),
                         Value())) ||
      failed(m.same(*loadKeyValue, loadKeyValue->getKey(), key, "the loop's key")))
    return failure();
  auto scores = m.next<tile::DotOp>(at, tileBody);
  if (failed(scores))
    return failure();
  if (!scores->getTransposeRhs() || scores->getAcc())
    return m.fail(*scores, "is not the score product q k^T");
  if (failed(m.same(*scores, scores->getLhs(), loadQuery->getQuery(), "the query tile")) ||
      failed(m.same(*scores, scores->getRhs(), loadKeyValue->getKeys(), "the key tile")))
    return failure();
  auto score = m.next<tile::ScoreOp>(at, tileBody);
  if (failed(score) ||
      failed(coordinates(*score, score->getBatch(), score->getHead(), score->getRow())) ||
      failed(m.same(*score, score->getKey(), key, "the loop's key")) ||
      failed(m.same(*score, score->getScores(), scores->getResult(), "the score product")))
    return failure();
  auto update = m.next<tile::SoftmaxUpdateOp>(at, tileBody);
  if (failed(update) ||
      failed(m.same(*update, update->getScores(), score->getResult(), "the scores")) ||
      failed(m.same(*update, update->getMax(), max, "the carried max")) ||
      failed(m.same(*update, update->getSum(), sum, "the carried sum")))
    return failure();
  auto rescale = m.next<tile::RescaleOp>(at, tileBody);
  if (failed(rescale) ||
      failed(m.same(*rescale, rescale->getTile(), acc, "the carried accumulator")) ||
      failed(m.same(*rescale, rescale->getFactor(), update->getRescale(),
                    "the softmax rescale")))
    return failure();
  auto accumulate = m.next<tile::DotOp>(at, tileBody);
  if (failed(accumulate))
    return failure();
  if (accumulate->getTransposeRhs() || !accumulate->getAcc())
    return m.fail(*accumulate, "is not the accumulation p v + acc");
  if (failed(m.same(*accumulate, accumulate->getLhs(), update->getProbabilities(),
                    "the probabilities")) ||
      failed(m.same(*accumulate, accumulate->getRhs(), loadKeyValue->getValues(),
                    "the value tile")) ||
      failed(m.same(*accumulate, accumulate->getAcc(), rescale->getResult(),
                    "the rescaled accumulator")))
    return failure();
  auto yield = m.next<tile::YieldOp>(at, tileBody);
  if (failed(yield))
    return failure();
  ValueRange carried = yield->getValues();
  if (failed(m.same(*yield, carried[0], accumulate->getResult(), "the accumulation")) ||
      failed(m.same(*yield, carried[1], update->getNewMax(), "the new max")) ||
      failed(m.same(*yield, carried[2], update->getNewSum(), "the new sum")))
    return failure();

  form.loadQuery = *loadQuery;
  form.init = *init;
  form.loop = *loop;
  form.loadKeyValue = *loadKeyValue;
  form.scores = *scores;
  form.score = *score;
  form.update = *update;
  form.rescale = *rescale;
  form.accumulate = *accumulate;
  form.finalize = *finalize;
  form.store = *store;
  return form;
}

FailureOr<RunnableAttentionProgram>
tmix::checkAttentionProgram(tile::AttentionProgramOp program, const TargetInfo &target,
                            const FixedSizes &fixed) {
  return checkProgram(program, target, fixed, "tmix.attention",
                      [](tile::AttentionProgramOp program, AttentionOp, StringRef target) {
                        return matchAttentionProgram(program, target);
                      });
}

LogicalResult tmix::checkEveryAttentionTiled(ModuleOp module) {
  return checkEveryTiled<tile::AttentionProgramOp, AttentionOp>(module,
                                                                "tmix-tile-attention");
}
