//===- LowerAttentionToLoops.cpp - tmix.attention to an online-softmax program -===//
//
// One program per (batch, head, query tile). The program walks the KV tiles; each tile
// is staged transposed (K^T, zero past the last key) and then serves every query row,
// whose scores are one vector of block_n lanes built by one FMA per head-dim element.
// Each row keeps (m, l, acc) in buffers: m the running max and l the running sum of
// exp2 of the scores in the log2 domain, acc the unnormalised output row. Scores are in
// the log2 domain so that every exponential is an exp2; without a score statement
// log2(e) is folded into the scale, which is folded into the query rows.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/KernelBuilder.h"
#include "passes/Passes.h"
#include "passes/TileMaskBounds.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

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
  /// The online-softmax step of row r that raises its running max m to
  /// max(m, candidate): alpha = exp2(m - m_new) rescales the row's accumulator (done
  /// here) and running sum (by the caller). While nothing is kept (m_new = -inf) alpha
  /// is 1.
  struct MaxUpdate {
    Value max, anyKept, alpha;
  };
  MaxUpdate raiseMax(Value r, Value m, Value candidate);

  Value cst(double value) { return kb->f32(value); }
  /// Rotates (RoPE) or copies src[prefix..., pos, :]: a query row into qRows[row, :]
  /// times `factor`, or (dst null) a key into column `row` of the K^T tile.
  void loadRotatedRow(Value src, ValueRange prefix, Value pos, Value dst, Value row,
                      Value factor);
  /// One KV tile of query row r (position i): S = q K^T as one vector of block_n
  /// scores from the staged K^T tile, the score statement, the mask when `masked`, and
  /// the online-softmax update of the row's (m, l, acc) buffers.
  void rowTile(Value r, Value i, Value tile, Value tileEnd, bool masked);
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
  // Buffers: the program's query rows (scaled), the K tile transposed ([D, block_n],
  // zero past the last key), one row of scores, and per row the running max, sum and
  // accumulator.
  Value qRows, kTile, scores, rowMax, rowSum, acc;
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
  int64_t dynamic = ShapedType::kDynamic;
  qRows = memref::AllocaOp::create(b, MemRefType::get({blockM, dynamic}, f32),
                                   ValueRange{numD});
  kTile = memref::AllocaOp::create(b, MemRefType::get({dynamic, blockN}, f32),
                                   ValueRange{numD});
  scores = memref::AllocaOp::create(b, MemRefType::get({blockN}, f32));
  rowMax = memref::AllocaOp::create(b, MemRefType::get({blockM}, f32));
  rowSum = memref::AllocaOp::create(b, MemRefType::get({blockM}, f32));
  acc = memref::AllocaOp::create(b, MemRefType::get({blockM, dynamic}, f32),
                                 ValueRange{numDV});

  Value zero = kb->index(0), one = kb->index(1);
  Value negInf = cst(-INFINITY);
  Value rowBegin = arith::MulIOp::create(b, qTile, kb->index(blockM));
  Value rowEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, rowBegin, kb->index(blockM)), numN);
  Value numRows = arith::SubIOp::create(b, rowEnd, rowBegin);
  auto forEachRow = [&](function_ref<void(Value r, Value i)> body) {
    kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
      body(r, arith::AddIOp::create(b, rowBegin, r));
      return SmallVector<Value>{};
    });
  };

  // The query rows, rotated and scaled once; the state of each row.
  forEachRow([&](Value r, Value i) {
    loadRotatedRow(q, {bIdx, hIdx}, i, qRows, r, scaleLog2);
    memref::StoreOp::create(b, negInf, rowMax, r);
    memref::StoreOp::create(b, cst(0.0), rowSum, r);
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      memref::StoreOp::create(b, cst(0.0), acc, ValueRange{r, d});
      return SmallVector<Value>{};
    });
  });

  // ---- walk the KV tiles; each is classified for the whole query tile first (an
  // empty one is not even loaded), then for each row: empty rows skip it, full rows
  // run without the mask, partial ones with it ----
  kb->loop(zero, numM, kb->index(blockN), {}, [&](Value tile, ValueRange) {
    Value tileEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, tile, kb->index(blockN)), numM);
    Value lastKey = kb->toI64(arith::SubIOp::create(b, tileEnd, one));
    auto classify = [&](Value iLo, Value iHi) {
      return classifyMaskTile(*kb, maskOp.getBody(), kb->toI64(bIdx), kb->toI64(hIdx),
                              kb->toI64(iLo), kb->toI64(iHi), kb->toI64(tile), lastKey);
    };
    auto process = [&] {
      // K^T of the tile, zero past its last key: S = q K^T is then one vector FMA per
      // head-dim element.
      Value count = arith::SubIOp::create(b, tileEnd, tile);
      kb->loop(zero, count, one, {}, [&](Value jj, ValueRange) {
        loadRotatedRow(k, {bIdx, hkIdx}, arith::AddIOp::create(b, tile, jj), Value(), jj,
                       Value());
        return SmallVector<Value>{};
      });
      kb->loop(count, kb->index(blockN), one, {}, [&](Value jj, ValueRange) {
        kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
          memref::StoreOp::create(b, cst(0.0), kTile, ValueRange{d, jj});
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
      forEachRow([&](Value r, Value i) {
        if (!maskOp)
          return rowTile(r, i, tile, tileEnd, /*masked=*/false);
        TileClass rowClass = classify(i, i);
        kb->ifElse(
            rowClass.canBeTrue, {},
            [&] {
              kb->ifElse(
                  rowClass.canBeFalse, {},
                  [&] {
                    rowTile(r, i, tile, tileEnd, /*masked=*/true);
                    return SmallVector<Value>{};
                  },
                  [&] {
                    rowTile(r, i, tile, tileEnd, /*masked=*/false);
                    return SmallVector<Value>{};
                  });
              return SmallVector<Value>{};
            },
            [&] { return SmallVector<Value>{}; });
      });
      return SmallVector<Value>{};
    };
    if (!maskOp)
      return process();
    TileClass tileClass = classify(rowBegin, arith::SubIOp::create(b, rowEnd, one));
    kb->ifElse(tileClass.canBeTrue, {}, process, [&] { return SmallVector<Value>{}; });
    return SmallVector<Value>{};
  });

  forEachRow([&](Value r, Value i) {
    Value m = memref::LoadOp::create(b, rowMax, r);
    Value l = memref::LoadOp::create(b, rowSum, r);
    // ---- the sink logit joins the denominator, with no value row ----
    if (sinkOp) {
      Value sink =
          kb->inlineRegion(sinkOp.getBody(), {kb->toI64(bIdx), kb->toI64(hIdx)})[0];
      sink = arith::MulFOp::create(b, sink, cst(kLog2e));
      MaxUpdate update = raiseMax(r, m, sink);
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
      Value a = memref::LoadOp::create(b, acc, ValueRange{r, d});
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
  });
}

void AttentionLowering::rowTile(Value r, Value i, Value tile, Value tileEnd,
                                bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  Value negInf = cst(-INFINITY);
  Value count = arith::SubIOp::create(b, tileEnd, tile);
  auto forEachKey = [&](ValueRange inits,
                        function_ref<SmallVector<Value>(Value jj, ValueRange)> body) {
    return kb->loop(zero, count, one, inits, body);
  };

  // S = q K^T: block_n scores in one vector, one FMA per head-dim element (the scale
  // is in q).
  auto scoreVector = VectorType::get({blockN}, b.getF32Type());
  Value init = arith::ConstantOp::create(b, DenseElementsAttr::get(scoreVector, 0.0f));
  Value scoreRow = kb->loop(zero, numD, one, {init}, [&](Value d, ValueRange sum) {
    Value qd = memref::LoadOp::create(b, qRows, ValueRange{r, d});
    Value keys = vector::LoadOp::create(b, scoreVector, kTile, ValueRange{d, zero});
    Value splat = vector::BroadcastOp::create(b, scoreVector, qd);
    return SmallVector<Value>{vector::FMAOp::create(b, splat, keys, sum[0])};
  })[0];
  vector::StoreOp::create(b, scoreRow, scores, ValueRange{zero});

  // The score statement, the mask (partial tiles only) and the row max of the tile.
  Value tileMax = forEachKey({negInf}, [&](Value jj, ValueRange mx) {
    Value s = memref::LoadOp::create(b, scores, jj);
    Value j = arith::AddIOp::create(b, tile, jj);
    Value bI = kb->toI64(bIdx), hI = kb->toI64(hIdx), iI = kb->toI64(i),
          jI = kb->toI64(j);
    if (scoreOp) {
      s = kb->inlineRegion(scoreOp.getBody(), {bI, hI, iI, jI, s})[0];
      s = arith::MulFOp::create(b, s, cst(kLog2e));
    }
    if (masked) {
      Value keep = kb->inlineRegion(maskOp.getBody(), {bI, hI, iI, jI})[0];
      s = arith::SelectOp::create(b, keep, s, negInf);
    }
    memref::StoreOp::create(b, s, scores, jj);
    return SmallVector<Value>{arith::MaximumFOp::create(b, mx[0], s)};
  })[0];

  Value m = memref::LoadOp::create(b, rowMax, r);
  Value l = memref::LoadOp::create(b, rowSum, r);
  MaxUpdate update = raiseMax(r, m, tileMax);
  // P = exp2(S - m_new) and l += sum(P), in a loop of its own that LLVM vectorises.
  Value tileSum = forEachKey({cst(0.0)}, [&](Value jj, ValueRange sum) {
    Value s = memref::LoadOp::create(b, scores, jj);
    Value p = arith::SelectOp::create(
        b, update.anyKept,
        math::Exp2Op::create(b, arith::SubFOp::create(b, s, update.max)), cst(0.0));
    memref::StoreOp::create(b, p, scores, jj);
    return SmallVector<Value>{arith::AddFOp::create(b, sum[0], p, kReduction)};
  })[0];
  // acc += P V.
  forEachKey({}, [&](Value jj, ValueRange) {
    Value p = memref::LoadOp::create(b, scores, jj);
    Value j = arith::AddIOp::create(b, tile, jj);
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      Value vd = kb->loadF32(v, ValueRange{bIdx, hkIdx, j, d});
      Value a = memref::LoadOp::create(b, acc, ValueRange{r, d});
      memref::StoreOp::create(
          b,
          arith::AddFOp::create(b, a, arith::MulFOp::create(b, p, vd, kReduction),
                                kReduction),
          acc, ValueRange{r, d});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  memref::StoreOp::create(b, update.max, rowMax, r);
  memref::StoreOp::create(
      b, arith::AddFOp::create(b, arith::MulFOp::create(b, l, update.alpha), tileSum),
      rowSum, r);
}

AttentionLowering::MaxUpdate AttentionLowering::raiseMax(Value r, Value m,
                                                         Value candidate) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value mNew = arith::MaximumFOp::create(b, m, candidate);
  Value anyKept =
      arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, mNew, cst(-INFINITY));
  Value alpha = arith::SelectOp::create(
      b, anyKept, math::Exp2Op::create(b, arith::SubFOp::create(b, m, mNew)), cst(1.0));
  kb->loop(kb->index(0), numDV, kb->index(1), {}, [&](Value d, ValueRange) {
    Value a = memref::LoadOp::create(b, acc, ValueRange{r, d});
    memref::StoreOp::create(b, arith::MulFOp::create(b, a, alpha), acc, ValueRange{r, d});
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

/// With RoPE, the half-split rotation of the pairs (a, c) at (p, p + D/2):
/// (a cos - c sin, c cos + a sin) at angle pos * theta^(-2p/D). Without, a copy.
void AttentionLowering::loadRotatedRow(Value src, ValueRange prefix, Value pos, Value dst,
                                       Value row, Value factor) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  auto load = [&](Value d) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.append({pos, d});
    return kb->loadF32(src, indices);
  };
  auto store = [&](Value d, Value x) {
    if (dst)
      memref::StoreOp::create(b, arith::MulFOp::create(b, x, factor), dst,
                              ValueRange{row, d});
    else
      memref::StoreOp::create(b, x, kTile, ValueRange{d, row});
  };
  if (!ropeOp) {
    kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
      store(d, load(d));
      return SmallVector<Value>{};
    });
    return;
  }
  kb->loop(zero, halfD, one, {}, [&](Value p, ValueRange) {
    Value p2 = arith::AddIOp::create(b, p, halfD);
    Value a = load(p), c = load(p2);
    Value angle = ropeAngle(pos, p);
    Value cos = math::CosOp::create(b, angle), sin = math::SinOp::create(b, angle);
    store(p, arith::SubFOp::create(b, arith::MulFOp::create(b, a, cos),
                                   arith::MulFOp::create(b, c, sin)));
    store(p2, arith::AddFOp::create(b, arith::MulFOp::create(b, c, cos),
                                    arith::MulFOp::create(b, a, sin)));
    return SmallVector<Value>{};
  });
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
