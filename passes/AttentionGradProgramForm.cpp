//===- AttentionGradProgramForm.cpp - The backward program a target runs --===//
//
// Matches the program op by op in the order tmix-tile-attention-grad writes it for
// its part, and every operand against the value it must be, as AttentionProgramForm
// does for the forward.
//
//===----------------------------------------------------------------------===//

#include "passes/AttentionGradProgramForm.h"

using namespace mlir;
using namespace mlir::tmix;
namespace tile = mlir::tmix::tile;

namespace {

/// Matches one program; its methods match the blocks of the loops and of the program.
class GradFormMatcher {
public:
  GradFormMatcher(tile::AttentionGradProgramOp program, AttentionGradOp spec,
                  StringRef target)
      : m(program, target, "the backward program", "tmix-tile-attention-grad"),
        program(program), spec(spec) {
    form.program = program;
    form.spec = spec;
  }

  FailureOr<AttentionGradProgramForm> match() {
    if (failed(spec.isQueryPart() ? matchQueryPart() : matchKeyValuePart()))
      return failure();
    return form;
  }

private:
  /// Checks the (batch, head) operands of `op`, and `position` when given.
  LogicalResult coordinates(Operation *op, Value batch, Value head, Value position = {},
                            Value expectedPosition = {}, StringRef what = {}) {
    if (failed(m.same(op, batch, program.getBatch(), "the program's batch")) ||
        (head && failed(m.same(op, head, expectedHead, "the head it walks"))))
      return failure();
    if (position)
      return m.same(op, position, expectedPosition, what);
    return success();
  }
  /// A dot `lhs x rhs` (transposed as `transposeLhs`, `transposeRhs`), with or
  /// without an accumulator.
  LogicalResult product(tile::DotOp dot, Value lhs, Value rhs, Value acc,
                        bool transposeLhs, bool transposeRhs, StringRef what) {
    if (dot.getTransposeLhs() != transposeLhs || dot.getTransposeRhs() != transposeRhs ||
        bool(dot.getAcc()) != bool(acc))
      return m.fail(dot, Twine("is not the product ") + what);
    if (failed(m.same(dot, dot.getLhs(), lhs, Twine("the lhs of ", what).str())) ||
        failed(m.same(dot, dot.getRhs(), rhs, Twine("the rhs of ", what).str())) ||
        (acc && failed(m.same(dot, dot.getAcc(), acc, "the carried sum"))))
      return failure();
    return success();
  }

  /// The rows' load, both products and the pair gradients of the walk's body from
  /// `it`: the rows at (head, row), the keys at `key`.
  LogicalResult matchPairs(Block &body, Block::iterator &it, Value row, Value key,
                           Value keys, Value values) {
    if (!form.loadQueryGrad) {
      auto load = m.next<tile::LoadQueryGradOp>(it, body);
      if (failed(load) || failed(coordinates(*load, load->getBatch(), load->getHead(),
                                             load->getRow(), row, "the rows it walks")))
        return failure();
      form.loadQueryGrad = *load;
    }
    auto dots = m.next<tile::DotOp>(it, body);
    if (failed(dots) || failed(product(*dots, form.loadQueryGrad.getQuery(), keys, {},
                                       false, true, "q k^T")))
      return failure();
    auto outputDots = m.next<tile::DotOp>(it, body);
    if (failed(outputDots) ||
        failed(product(*outputDots, form.loadQueryGrad.getOutputGrad(), values, {}, false,
                       true, "d_o v^T")))
      return failure();
    auto pair = m.next<tile::PairGradOp>(it, body);
    if (failed(pair) ||
        failed(coordinates(*pair, pair->getBatch(), pair->getHead(), pair->getRow(), row,
                           "the rows it walks")) ||
        failed(m.same(*pair, pair->getKey(), key, "the keys it walks")) ||
        failed(m.same(*pair, pair->getDots(), dots->getResult(), "q k^T")) ||
        failed(
            m.same(*pair, pair->getOutputDots(), outputDots->getResult(), "d_o v^T")) ||
        failed(m.same(*pair, pair->getLse(), form.loadQueryGrad.getLse(),
                      "the rows' lse")) ||
        failed(m.same(*pair, pair->getDelta(), form.loadQueryGrad.getDelta(),
                      "the rows' D")))
      return failure();
    form.dots = *dots;
    form.outputDots = *outputDots;
    form.pairGrad = *pair;
    return success();
  }

  LogicalResult matchKeyValuePart() {
    Block &body = program.getBodyBlock();
    expectedHead = program.getHead();
    Value key = program.getFirst();
    Block::iterator it = body.begin();
    auto load = m.next<tile::LoadKeysOp>(it, body);
    if (failed(load) || failed(coordinates(*load, load->getBatch(), load->getKvHead(),
                                           load->getKey(), key, "the program's key")))
      return failure();
    auto dk0 = m.next<tile::ZerosOp>(it, body);
    if (failed(dk0))
      return failure();
    auto dv0 = m.next<tile::ZerosOp>(it, body);
    if (failed(dv0))
      return failure();
    auto loop = m.next<tile::QueryLoopOp>(it, body);
    if (failed(loop) || failed(coordinates(*loop, loop->getBatch(), loop->getKvHead(),
                                           loop->getKey(), key, "the program's key")))
      return failure();
    if (loop->getInits().size() != 2)
      return m.fail(*loop, "does not carry (dk, dv)");
    if (failed(m.same(*loop, loop->getInits()[0], dk0->getResult(), "dk's zeros")) ||
        failed(m.same(*loop, loop->getInits()[1], dv0->getResult(), "dv's zeros")))
      return failure();
    auto store = m.next<tile::StoreKeyGradOp>(it, body);
    if (failed(store) ||
        failed(coordinates(*store, store->getBatch(), store->getKvHead(), store->getKey(),
                           key, "the program's key")) ||
        failed(
            m.same(*store, store->getKeyGrad(), loop->getResult(0), "the loop's dk")) ||
        failed(
            m.same(*store, store->getValueGrad(), loop->getResult(1), "the loop's dv")) ||
        failed(m.end(it, body)))
      return failure();

    // The rows' body: its head is the loop's, every query head of the group.
    Block &rows = loop->getBodyBlock();
    expectedHead = rows.getArgument(0);
    Value row = rows.getArgument(1), dk = rows.getArgument(2), dv = rows.getArgument(3);
    Block::iterator at = rows.begin();
    if (failed(matchPairs(rows, at, row, key, load->getKeys(), load->getValues())))
      return failure();
    auto pair = form.pairGrad;
    if (spec.sumsScoreParams()) {
      auto params = m.next<tile::ParamGradsOp>(at, rows);
      if (failed(params) ||
          failed(coordinates(*params, params->getBatch(), params->getHead(),
                             params->getRow(), row, "the rows it walks")) ||
          failed(m.same(*params, params->getKey(), key, "the keys it walks")) ||
          failed(m.same(*params, params->getDots(), form.dots.getResult(), "q k^T")) ||
          failed(m.same(*params, params->getOutputDots(), form.outputDots.getResult(),
                        "d_o v^T")) ||
          failed(m.same(*params, params->getProbabilities(), pair.getProbabilities(),
                        "the probabilities")) ||
          failed(m.same(*params, params->getDelta(), form.loadQueryGrad.getDelta(),
                        "the rows' D")))
        return failure();
      form.paramGrads = *params;
    }
    if (!spec.getRecomputeDq()) {
      auto terms = m.next<tile::DotOp>(at, rows);
      if (failed(terms) || failed(product(*terms, pair.getScoreGrads(), load->getKeys(),
                                          {}, false, false, "dS k")))
        return failure();
      auto accumulate = m.next<tile::AccumulateQueryGradOp>(at, rows);
      if (failed(accumulate) ||
          failed(coordinates(*accumulate, accumulate->getBatch(), accumulate->getHead(),
                             accumulate->getRow(), row, "the rows it walks")) ||
          failed(m.same(*accumulate, accumulate->getTerms(), terms->getResult(), "dS k")))
        return failure();
      form.queryGradTerms = *terms;
      form.accumulateQueryGrad = *accumulate;
    }
    auto keyGrads = m.next<tile::DotOp>(at, rows);
    if (failed(keyGrads) ||
        failed(product(*keyGrads, pair.getScoreGrads(), form.loadQueryGrad.getQuery(), dk,
                       true, false, "dS^T q + dk")))
      return failure();
    auto valueGrads = m.next<tile::DotOp>(at, rows);
    if (failed(valueGrads) || failed(product(*valueGrads, pair.getProbabilities(),
                                             form.loadQueryGrad.getOutputGrad(), dv, true,
                                             false, "P^T d_o + dv")))
      return failure();
    auto yield = m.next<tile::YieldOp>(at, rows);
    if (failed(yield) ||
        failed(
            m.same(*yield, yield->getValues()[0], keyGrads->getResult(), "dk's sum")) ||
        failed(
            m.same(*yield, yield->getValues()[1], valueGrads->getResult(), "dv's sum")))
      return failure();
    form.loadKeys = *load;
    form.queryLoop = *loop;
    form.keyGrads = *keyGrads;
    form.valueGrads = *valueGrads;
    form.storeKeyGrad = *store;
    return success();
  }

  LogicalResult matchQueryPart() {
    Block &body = program.getBodyBlock();
    expectedHead = program.getHead();
    Value row = program.getFirst();
    Block::iterator it = body.begin();
    Value dq;
    if (!spec.getRecomputeDq()) {
      auto sum = m.next<tile::SumQueryPartialsOp>(it, body);
      if (failed(sum) || failed(coordinates(*sum, sum->getBatch(), sum->getHead(),
                                            sum->getRow(), row, "the program's row")))
        return failure();
      form.sumQueryPartials = *sum;
      dq = sum->getQueryGrad();
    } else {
      auto load = m.next<tile::LoadQueryGradOp>(it, body);
      if (failed(load) || failed(coordinates(*load, load->getBatch(), load->getHead(),
                                             load->getRow(), row, "the program's row")))
        return failure();
      form.loadQueryGrad = *load;
      auto dq0 = m.next<tile::ZerosOp>(it, body);
      if (failed(dq0))
        return failure();
      auto loop = m.next<tile::KeyLoopOp>(it, body);
      if (failed(loop) || failed(coordinates(*loop, loop->getBatch(), loop->getHead(),
                                             loop->getRow(), row, "the program's row")))
        return failure();
      if (loop->getInits().size() != 1)
        return m.fail(*loop, "does not carry dq alone");
      if (failed(m.same(*loop, loop->getInits()[0], dq0->getResult(), "dq's zeros")))
        return failure();
      Block &keys = loop->getBodyBlock();
      Value key = keys.getArgument(0), carried = keys.getArgument(1);
      Block::iterator at = keys.begin();
      auto kv = m.next<tile::LoadKeyValueOp>(at, keys);
      if (failed(kv) || failed(coordinates(*kv, kv->getBatch(), kv->getHead(),
                                           kv->getKey(), key, "the keys it walks")))
        return failure();
      if (failed(matchPairs(keys, at, row, key, kv->getKeys(), kv->getValues())))
        return failure();
      auto terms = m.next<tile::DotOp>(at, keys);
      if (failed(terms) ||
          failed(product(*terms, form.pairGrad.getScoreGrads(), kv->getKeys(), carried,
                         false, false, "dS k + dq")))
        return failure();
      auto yield = m.next<tile::YieldOp>(at, keys);
      if (failed(yield) ||
          failed(m.same(*yield, yield->getValues()[0], terms->getResult(), "dq's sum")))
        return failure();
      form.keyLoop = *loop;
      form.loadKeyValue = *kv;
      form.queryGradTerms = *terms;
      dq = loop->getResult(0);
    }
    auto store = m.next<tile::StoreQueryGradOp>(it, body);
    if (failed(store) ||
        failed(coordinates(*store, store->getBatch(), store->getHead(), store->getRow(),
                           row, "the program's row")) ||
        failed(m.same(*store, store->getQueryGrad(), dq, "the rows' dq")) ||
        failed(m.end(it, body)))
      return failure();
    form.storeQueryGrad = *store;
    return success();
  }

  FormMatcher m;
  tile::AttentionGradProgramOp program;
  AttentionGradOp spec;
  Value expectedHead;
  AttentionGradProgramForm form;
};

} // namespace

FailureOr<AttentionGradProgramForm>
tmix::matchAttentionGradProgram(tile::AttentionGradProgramOp program, StringRef target) {
  AttentionGradOp spec = program.getSpecOp();
  if (!spec || spec.isParamsPart())
    return program.emitOpError() << "names " << program.getSpecAttr()
                                 << ", which is not a tmix.attention_grad part "
                                    "\"key_value\" or \"query\"";
  return GradFormMatcher(program, spec, target).match();
}

LogicalResult tmix::checkEveryAttentionGradTiled(ModuleOp module) {
  llvm::StringSet<> tiled;
  for (auto program : module.getOps<tile::AttentionGradProgramOp>())
    tiled.insert(program.getSpec());
  for (AttentionGradOp spec : module.getOps<AttentionGradOp>())
    if (!spec.isParamsPart() && !tiled.contains(spec.getSymName()))
      return spec.emitOpError()
             << "has no tile program: run tmix-tile-attention-grad first";
  return success();
}
