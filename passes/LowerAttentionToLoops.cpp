//===- LowerAttentionToLoops.cpp - tmix.attention to an online-softmax program -===//
//
// One program per (batch, head, query tile). Per query row, the keys are walked in
// tiles carrying (m, l, acc): m the running max and l the running sum of exp2 of the
// scores in the log2 domain, acc the unnormalised output row. Scores are kept in the
// log2 domain so that every exponential is an exp2; without a score statement log2(e)
// is folded into the scale.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/KernelBuilder.h"
#include "passes/Passes.h"
#include "passes/TileMaskBounds.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONTOLOOPS
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;
constexpr int64_t kDefaultBlockM = 16;
constexpr int64_t kDefaultBlockN = 64;
/// Sums over a head dim or a tile may be reassociated: LLVM then vectorises them.
constexpr arith::FastMathFlags kReduction =
    arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;

template <typename OpTy> OpTy findStatement(AttentionOp op) {
  auto range = op.getBodyBlock().getOps<OpTy>();
  return range.empty() ? OpTy() : *range.begin();
}

int64_t scheduleValue(AttentionOp op, StringRef key, int64_t fallback) {
  auto schedule = op->getAttrOfType<DictionaryAttr>(kScheduleAttr);
  if (auto value = schedule ? schedule.getAs<IntegerAttr>(key) : IntegerAttr())
    return value.getInt();
  return fallback;
}

/// Emits the program of one attention spec.
class AttentionLowering {
public:
  AttentionLowering(AttentionOp op)
      : op(op), blockM(scheduleValue(op, "block_m", kDefaultBlockM)),
        blockN(scheduleValue(op, "block_n", kDefaultBlockN)) {}

  void lower();

private:
  /// The online-softmax step that raises the running max m to max(m, candidate):
  /// alpha = exp2(m - m_new) rescales the accumulator (done here) and the running sum
  /// (by the caller). While nothing is kept (m_new = -inf) alpha is 1.
  struct MaxUpdate {
    Value max, anyKept, alpha;
  };
  MaxUpdate raiseMax(Value m, Value candidate);

  Value cst(double value) { return kb->f32(value); }
  /// q[b, h, i, :] rotated by RoPE into qRow (or copied).
  void loadQueryRow(Value i);
  /// log2-domain score of key j for the current row, or -inf when masked (the mask is
  /// evaluated only when `masked`: on a tile it may be false on).
  Value score(Value i, Value j, bool masked);
  /// One KV tile [tile, tileEnd) of row i: scores, the online-softmax update of (m, l)
  /// and acc. Returns the new (m, l).
  SmallVector<Value> kvTile(Value i, Value tile, Value tileEnd, Value m, Value l,
                            bool masked);
  Value dotWithKey(Value j, Value i);
  /// The RoPE angle of pair p at position pos: pos * theta^(-2p/D).
  Value ropeAngle(Value pos, Value p);

  AttentionOp op;
  int64_t blockM, blockN;
  std::unique_ptr<KernelBuilder> kb;
  MaskOp maskOp;
  ScoreOp scoreOp;
  SinkOp sinkOp;
  RopeOp ropeOp;

  // Program-wide values.
  Value bIdx, hIdx, hkIdx, numD, numDV, numM, halfD;
  Value q, k, v, o, lse;
  Value scaleLog2; // scale * log2(e) without a score statement, else scale
  Value theta;     // RoPE base
  Value qRow, acc, scores;
};

void AttentionLowering::lower() {
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  auto kType = cast<SpecTensorType>(types[1]);
  auto vType = cast<SpecTensorType>(types[2]);
  ArrayRef<Attribute> qDims = qType.getDims();
  kb = std::make_unique<KernelBuilder>(
      op, ArrayRef<GridDim>{{qDims[0], 1}, {qDims[1], 1}, {qDims[2], blockM}});
  ImplicitLocOpBuilder &b = kb->builder();
  maskOp = findStatement<MaskOp>(op);
  scoreOp = findStatement<ScoreOp>(op);
  sinkOp = findStatement<SinkOp>(op);
  ropeOp = findStatement<RopeOp>(op);
  ScaleOp scaleOp = findStatement<ScaleOp>(op);

  bIdx = kb->gridIndex(0);
  hIdx = kb->gridIndex(1);
  Value qTile = kb->gridIndex(2);
  Value numH = kb->dimValue(qDims[1]);
  Value numHK = kb->dimValue(kType.getDims()[1]);
  Value numN = kb->dimValue(qDims[2]);
  numM = kb->dimValue(kType.getDims()[2]);
  numD = kb->dimValue(qDims[3]);
  numDV = kb->dimValue(vType.getDims()[3]);
  // GQA: query head h reads KV head h / (H / HK).
  hkIdx = arith::DivUIOp::create(b, hIdx, arith::DivUIOp::create(b, numH, numHK));
  q = kb->argMemRef(0);
  k = kb->argMemRef(1);
  v = kb->argMemRef(2);
  o = kb->resultMemRef(0);
  lse = op.getNumSpecResults() > 1 ? kb->resultMemRef(1) : Value();

  // ---- scale (default 1 / sqrt(D)) ----
  Value scale;
  if (scaleOp) {
    scale = kb->inlineRegion(scaleOp.getBody(), {})[0];
  } else {
    Value d = arith::UIToFPOp::create(b, b.getF32Type(), kb->toI64(numD));
    scale = arith::DivFOp::create(b, cst(1.0), math::SqrtOp::create(b, d));
  }
  scaleLog2 = scoreOp ? scale : arith::MulFOp::create(b, scale, cst(kLog2e));
  if (ropeOp) {
    theta = kb->inlineRegion(ropeOp.getBody(), {})[0];
    halfD = arith::DivUIOp::create(b, numD, kb->index(2));
  }

  // ---- per-program buffers ----
  Type f32 = b.getF32Type();
  auto dynamicRow = MemRefType::get({ShapedType::kDynamic}, f32);
  qRow = memref::AllocaOp::create(b, dynamicRow, ValueRange{numD});
  acc = memref::AllocaOp::create(b, dynamicRow, ValueRange{numDV});
  scores = memref::AllocaOp::create(b, MemRefType::get({blockN}, f32));

  Value zero = kb->index(0), one = kb->index(1);
  Value negInf = cst(-INFINITY);
  Value rowBegin = arith::MulIOp::create(b, qTile, kb->index(blockM));
  Value rowEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, rowBegin, kb->index(blockM)), numN);

  kb->loop(rowBegin, rowEnd, one, {}, [&](Value i, ValueRange) {
    loadQueryRow(i);
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      memref::StoreOp::create(b, cst(0.0), acc, d);
      return SmallVector<Value>{};
    });

    // ---- walk the KV tiles: (m, l) carried, acc updated in place ----
    // With a mask, each tile is first classified for this row: an empty tile is
    // skipped, a full one runs without the mask, a partial one with it.
    Type f32 = b.getF32Type();
    SmallVector<Value> state = kb->loop(
        zero, numM, kb->index(blockN), {negInf, cst(0.0)},
        [&](Value tile, ValueRange ml) {
          Value m = ml[0], l = ml[1];
          Value tileEnd = arith::MinUIOp::create(
              b, arith::AddIOp::create(b, tile, kb->index(blockN)), numM);
          if (!maskOp)
            return kvTile(i, tile, tileEnd, m, l, /*masked=*/false);
          Value row = kb->toI64(i);
          TileClass tileClass = classifyMaskTile(
              *kb, maskOp.getBody(), kb->toI64(bIdx), kb->toI64(hIdx), row, row,
              kb->toI64(tile), kb->toI64(arith::SubIOp::create(b, tileEnd, one)));
          return kb->ifElse(
              tileClass.canBeTrue, {f32, f32},
              [&] {
                return kb->ifElse(
                    tileClass.canBeFalse, {f32, f32},
                    [&] { return kvTile(i, tile, tileEnd, m, l, /*masked=*/true); },
                    [&] { return kvTile(i, tile, tileEnd, m, l, /*masked=*/false); });
              },
              [&] {
                return SmallVector<Value>{m, l};
              });
        });
    Value m = state[0], l = state[1];

    // ---- the sink logit joins the denominator, with no value row ----
    if (sinkOp) {
      Value sink =
          kb->inlineRegion(sinkOp.getBody(), {kb->toI64(bIdx), kb->toI64(hIdx)})[0];
      sink = arith::MulFOp::create(b, sink, cst(kLog2e));
      MaxUpdate update = raiseMax(m, sink);
      Value p = arith::SelectOp::create(
          b, update.anyKept,
          math::Exp2Op::create(b, arith::SubFOp::create(b, sink, update.max)), cst(0.0));
      l = arith::AddFOp::create(b, arith::MulFOp::create(b, l, update.alpha), p);
      m = update.max;
    }

    // ---- o = acc / l; a row with nothing kept gives o = 0 and lse = -inf ----
    Value empty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, l, cst(0.0));
    Value inverse = arith::SelectOp::create(b, empty, cst(0.0),
                                            arith::DivFOp::create(b, cst(1.0), l));
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      Value a = memref::LoadOp::create(b, acc, d);
      kb->storeF32(arith::MulFOp::create(b, a, inverse), o, ValueRange{bIdx, hIdx, i, d});
      return SmallVector<Value>{};
    });
    if (lse) {
      // lse = ln(sum exp(s)) = (m + log2(l)) * ln(2) in the log2 domain.
      Value value = arith::MulFOp::create(
          b, arith::AddFOp::create(b, m, math::Log2Op::create(b, l)), cst(kLn2));
      kb->storeF32(arith::SelectOp::create(b, empty, negInf, value), lse,
                   ValueRange{bIdx, hIdx, i});
    }
    return SmallVector<Value>{};
  });
}

SmallVector<Value> AttentionLowering::kvTile(Value i, Value tile, Value tileEnd, Value m,
                                             Value l, bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  Value negInf = cst(-INFINITY);
  // S = scale * Q K^T (masked), and its row max.
  Value tileMax = kb->loop(tile, tileEnd, one, {negInf}, [&](Value j, ValueRange mx) {
    Value s = score(i, j, masked);
    memref::StoreOp::create(b, s, scores, ValueRange{arith::SubIOp::create(b, j, tile)});
    return SmallVector<Value>{arith::MaximumFOp::create(b, mx[0], s)};
  })[0];
  MaxUpdate update = raiseMax(m, tileMax);
  Value mNew = update.max, anyKept = update.anyKept, alpha = update.alpha;
  // P = exp2(S - m_new) and l += sum(P), in a loop of its own that LLVM vectorises.
  Value tileSum = kb->loop(tile, tileEnd, one, {cst(0.0)}, [&](Value j, ValueRange sum) {
    Value offset = arith::SubIOp::create(b, j, tile);
    Value s = memref::LoadOp::create(b, scores, offset);
    Value p = arith::SelectOp::create(
        b, anyKept, math::Exp2Op::create(b, arith::SubFOp::create(b, s, mNew)), cst(0.0));
    memref::StoreOp::create(b, p, scores, offset);
    return SmallVector<Value>{arith::AddFOp::create(b, sum[0], p, kReduction)};
  })[0];
  // acc += P V.
  kb->loop(tile, tileEnd, one, {}, [&](Value j, ValueRange) {
    Value p =
        memref::LoadOp::create(b, scores, ValueRange{arith::SubIOp::create(b, j, tile)});
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      Value vd = kb->loadF32(v, ValueRange{bIdx, hkIdx, j, d});
      Value a = memref::LoadOp::create(b, acc, d);
      memref::StoreOp::create(
          b,
          arith::AddFOp::create(b, a, arith::MulFOp::create(b, p, vd, kReduction),
                                kReduction),
          acc, d);
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  Value lNew = arith::AddFOp::create(b, arith::MulFOp::create(b, l, alpha), tileSum);
  return SmallVector<Value>{mNew, lNew};
}

AttentionLowering::MaxUpdate AttentionLowering::raiseMax(Value m, Value candidate) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value mNew = arith::MaximumFOp::create(b, m, candidate);
  Value anyKept =
      arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, mNew, cst(-INFINITY));
  Value alpha = arith::SelectOp::create(
      b, anyKept, math::Exp2Op::create(b, arith::SubFOp::create(b, m, mNew)), cst(1.0));
  kb->loop(kb->index(0), numDV, kb->index(1), {}, [&](Value d, ValueRange) {
    Value a = memref::LoadOp::create(b, acc, d);
    memref::StoreOp::create(b, arith::MulFOp::create(b, a, alpha), acc, d);
    return SmallVector<Value>{};
  });
  return {mNew, anyKept, alpha};
}

Value AttentionLowering::ropeAngle(Value pos, Value p) {
  // theta^(-2p/D) = exp2(-(2p/D) log2(theta))
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  Value pf = arith::UIToFPOp::create(b, f32, kb->toI64(p));
  Value df = arith::UIToFPOp::create(b, f32, kb->toI64(numD));
  Value exponent = arith::DivFOp::create(b, arith::MulFOp::create(b, cst(-2.0), pf), df);
  Value frequency = math::Exp2Op::create(
      b, arith::MulFOp::create(b, exponent, math::Log2Op::create(b, theta)));
  Value position = arith::UIToFPOp::create(b, f32, kb->toI64(pos));
  return arith::MulFOp::create(b, position, frequency);
}

void AttentionLowering::loadQueryRow(Value i) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  if (!ropeOp) {
    kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
      memref::StoreOp::create(b, kb->loadF32(q, ValueRange{bIdx, hIdx, i, d}), qRow, d);
      return SmallVector<Value>{};
    });
    return;
  }
  // Half-split rotation: (a, c) at (p, p + D/2) -> (a cos - c sin, c cos + a sin).
  kb->loop(zero, halfD, one, {}, [&](Value p, ValueRange) {
    Value p2 = arith::AddIOp::create(b, p, halfD);
    Value a = kb->loadF32(q, ValueRange{bIdx, hIdx, i, p});
    Value c = kb->loadF32(q, ValueRange{bIdx, hIdx, i, p2});
    Value angle = ropeAngle(i, p);
    Value cos = math::CosOp::create(b, angle), sin = math::SinOp::create(b, angle);
    memref::StoreOp::create(b,
                            arith::SubFOp::create(b, arith::MulFOp::create(b, a, cos),
                                                  arith::MulFOp::create(b, c, sin)),
                            qRow, p);
    memref::StoreOp::create(b,
                            arith::AddFOp::create(b, arith::MulFOp::create(b, c, cos),
                                                  arith::MulFOp::create(b, a, sin)),
                            qRow, p2);
    return SmallVector<Value>{};
  });
}

Value AttentionLowering::dotWithKey(Value j, Value) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  if (!ropeOp)
    return kb->loop(zero, numD, one, {cst(0.0)}, [&](Value d, ValueRange sum) {
      Value qd = memref::LoadOp::create(b, qRow, d);
      Value kd = kb->loadF32(k, ValueRange{bIdx, hkIdx, j, d});
      return SmallVector<Value>{
          arith::AddFOp::create(b, sum[0], arith::MulFOp::create(b, qd, kd), kReduction)};
    })[0];
  // The key is rotated at its own position j, pair by pair.
  return kb->loop(zero, halfD, one, {cst(0.0)}, [&](Value p, ValueRange sum) {
    Value p2 = arith::AddIOp::create(b, p, halfD);
    Value a = kb->loadF32(k, ValueRange{bIdx, hkIdx, j, p});
    Value c = kb->loadF32(k, ValueRange{bIdx, hkIdx, j, p2});
    Value angle = ropeAngle(j, p);
    Value cos = math::CosOp::create(b, angle), sin = math::SinOp::create(b, angle);
    Value ka = arith::SubFOp::create(b, arith::MulFOp::create(b, a, cos),
                                     arith::MulFOp::create(b, c, sin));
    Value kc = arith::AddFOp::create(b, arith::MulFOp::create(b, c, cos),
                                     arith::MulFOp::create(b, a, sin));
    Value qa = memref::LoadOp::create(b, qRow, p);
    Value qc = memref::LoadOp::create(b, qRow, p2);
    Value term = arith::AddFOp::create(b, arith::MulFOp::create(b, qa, ka),
                                       arith::MulFOp::create(b, qc, kc));
    return SmallVector<Value>{arith::AddFOp::create(b, sum[0], term, kReduction)};
  })[0];
}

Value AttentionLowering::score(Value i, Value j, bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value bI = kb->toI64(bIdx), hI = kb->toI64(hIdx), iI = kb->toI64(i), jI = kb->toI64(j);
  auto compute = [&] {
    Value s = arith::MulFOp::create(b, scaleLog2, dotWithKey(j, i));
    if (scoreOp) {
      s = kb->inlineRegion(scoreOp.getBody(), {bI, hI, iI, jI, s})[0];
      s = arith::MulFOp::create(b, s, cst(kLog2e));
    }
    return SmallVector<Value>{s};
  };
  if (!maskOp || !masked)
    return compute()[0];
  Value keep = kb->inlineRegion(maskOp.getBody(), {bI, hI, iI, jI})[0];
  return kb->ifElse(keep, b.getF32Type(), compute,
                    [&] { return SmallVector<Value>{cst(-INFINITY)}; })[0];
}

struct LowerAttentionToLoops
    : tmix::impl::LowerAttentionToLoopsBase<LowerAttentionToLoops> {
  void runOnOperation() override {
    SmallVector<AttentionOp> specs(getOperation().getOps<AttentionOp>());
    for (AttentionOp op : specs) {
      AttentionLowering(op).lower();
      op.erase();
      ++numLowered;
    }
  }
};

} // namespace
