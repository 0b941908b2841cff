//===- FragmentSoftmax.cpp - Online softmax on accumulator fragments ------===//

#include "codegen/nvidia/FragmentSoftmax.h"

#include "passes/AttentionStatements.h"
#include "codegen/nvidia/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tmix;

namespace {
constexpr int64_t kTileColumns = 8; // columns per accumulator tile
} // namespace

SoftmaxTile tmix::softmaxTile(KernelBuilder &kb, FragmentRows rows,
                              ArrayRef<Value> s, Value tile, ArrayRef<Value> m,
                              ArrayRef<Value> l, bool masked, Type element) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f32 = b.getF32Type();
  auto idx = [&](int64_t v) { return kb.index(v); };
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b, x, y); };
  const int64_t tiles = static_cast<int64_t>(s.size());

  // ---- score, mask and the tile max, per element: element (nt, r, c) is query row
  // g + 8r, key tile + 8 nt + 2t + c ----
  Value negInf = kb.f32(-INFINITY);
  Value jBase = add(tile, rows.groupCol2);
  Value bI = kb.toI64(rows.batch), hI = kb.toI64(rows.head);
  Value iI[2] = {kb.toI64(rows.rowPos[0]), kb.toI64(rows.rowPos[1])};
  SmallVector<Value> scores(tiles * 4);
  Value tileMax[2] = {negInf, negInf};
  for (int64_t nt = 0; nt < tiles; ++nt)
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 2; ++c) {
        Value x = vector::ExtractOp::create(b, s[nt], ArrayRef<int64_t>{r, c});
        x = arith::MulFOp::create(b, x, rows.scaleLog2);
        Value j = add(jBase, idx(nt * kTileColumns + c));
        if (rows.score) {
          x = kb.inlineRegion(rows.score.getBody(), {bI, hI, iI[r], kb.toI64(j), x})[0];
          x = arith::MulFOp::create(b, x, kb.f32(kLog2e));
        }
        if (masked) {
          Value keepIt = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, rows.numM);
          if (rows.mask) // past M the mask's tensor reads give 0: never out of bounds
            keepIt = arith::AndIOp::create(
                b, keepIt,
                kb.inlineRegion(rows.mask.getBody(), {bI, hI, iI[r], kb.toI64(j)})[0]);
          x = arith::SelectOp::create(b, keepIt, x, negInf);
        }
        scores[nt * 4 + r * 2 + c] = x;
        tileMax[r] = arith::MaximumFOp::create(b, tileMax[r], x);
      }

  // ---- online softmax: m_new = max(m, rowmax), alpha = exp2(m - m_new); a NaN score
  // makes m_new NaN, which counts as kept (an unordered compare), so that the row's
  // outputs are NaN rather than those of an empty row ----
  SoftmaxTile result;
  Value anyKept[2];
  for (int r = 0; r < 2; ++r) {
    Value rowMax = warp::quadReduce(b, tileMax[r], /*isMax=*/true);
    result.m[r] = arith::MaximumFOp::create(b, m[r], rowMax);
    anyKept[r] = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, result.m[r], negInf);
    result.alpha[r] = arith::SelectOp::create(
        b, anyKept[r], warp::exp2Approx(b, arith::SubFOp::create(b, m[r], result.m[r])),
        kb.f32(1.0));
  }
  // P = exp2(S - m_new); each thread keeps a partial row sum (reduced at the end).
  Value rowSum[2] = {kb.f32(0.0), kb.f32(0.0)};
  result.p.resize(tiles * 2);
  auto pairType = VectorType::get({2}, f32);
  for (int64_t nt = 0; nt < tiles; ++nt)
    for (int64_t r = 0; r < 2; ++r) {
      Value pc[2];
      for (int64_t c = 0; c < 2; ++c) {
        Value x = scores[nt * 4 + r * 2 + c];
        pc[c] = arith::SelectOp::create(
            b, anyKept[r], warp::exp2Approx(b, arith::SubFOp::create(b, x, result.m[r])),
            kb.f32(0.0));
        rowSum[r] = arith::AddFOp::create(b, rowSum[r], pc[c]);
      }
      Value pair = vector::FromElementsOp::create(b, pairType, ValueRange{pc[0], pc[1]});
      result.p[nt * 2 + r] = arith::TruncFOp::create(b, VectorType::get({2}, element), pair);
    }
  for (int r = 0; r < 2; ++r)
    result.l[r] =
        arith::AddFOp::create(b, arith::MulFOp::create(b, l[r], result.alpha[r]), rowSum[r]);
  return result;
}

SmallVector<Value> tmix::rescaleRows(KernelBuilder &kb, ArrayRef<Value> acc,
                                     const Value alpha[2]) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto tileType = VectorType::get({2, 2}, b.getF32Type());
  Value alphaTile = vector::FromElementsOp::create(
      b, tileType, ValueRange{alpha[0], alpha[0], alpha[1], alpha[1]});
  SmallVector<Value> scaled;
  for (Value value : acc)
    scaled.push_back(arith::MulFOp::create(b, value, alphaTile));
  return scaled;
}

void tmix::storeRows(KernelBuilder &kb, FragmentRows rows, ArrayRef<Value> mIn,
                     ArrayRef<Value> lPartial, ArrayRef<Value> acc, int64_t valueDim,
                     Value o, Value lse) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto none = [] { return SmallVector<Value>{}; };
  Value negInf = kb.f32(-INFINITY);
  Value m[2] = {mIn[0], mIn[1]};
  Value l[2] = {warp::quadReduce(b, lPartial[0], /*isMax=*/false),
                warp::quadReduce(b, lPartial[1], /*isMax=*/false)};
  Value alpha[2] = {kb.f32(1.0), kb.f32(1.0)};
  // ---- the sink logit joins the denominator, with no value row ----
  if (rows.sink) {
    Value sink = kb.inlineRegion(rows.sink.getBody(),
                                 {kb.toI64(rows.batch), kb.toI64(rows.head)})[0];
    sink = arith::MulFOp::create(b, sink, kb.f32(kLog2e));
    for (int r = 0; r < 2; ++r) {
      Value mNew = arith::MaximumFOp::create(b, m[r], sink);
      Value anyKept = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, mNew, negInf);
      alpha[r] = arith::SelectOp::create(
          b, anyKept, warp::exp2Approx(b, arith::SubFOp::create(b, m[r], mNew)),
          kb.f32(1.0));
      Value p = arith::SelectOp::create(
          b, anyKept, warp::exp2Approx(b, arith::SubFOp::create(b, sink, mNew)),
          kb.f32(0.0));
      l[r] = arith::AddFOp::create(b, arith::MulFOp::create(b, l[r], alpha[r]), p);
      m[r] = mNew;
    }
  }
  // ---- o = O / l; a row with nothing kept gives o = 0 and lse = -inf ----
  Value empty[2], factor[2];
  for (int r = 0; r < 2; ++r) {
    empty[r] = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, l[r], kb.f32(0.0));
    factor[r] = arith::SelectOp::create(
        b, empty[r], kb.f32(0.0),
        arith::DivFOp::create(b, alpha[r], l[r])); // the sink's rescale folded in
  }
  for (int r = 0; r < 2; ++r) {
    kb.ifElse(
        rows.rowValid[r], {},
        [&] {
          for (int64_t dt = 0; dt < valueDim / kTileColumns; ++dt)
            for (int64_t c = 0; c < 2; ++c) {
              Value x = vector::ExtractOp::create(b, acc[dt], ArrayRef<int64_t>{r, c});
              Value d = arith::AddIOp::create(b, rows.groupCol2,
                                              kb.index(dt * kTileColumns + c));
              kb.storeF32(arith::MulFOp::create(b, x, factor[r]), o,
                          ValueRange{rows.batch, rows.head, rows.rowPos[r], d});
            }
          if (lse) {
            // One lane per group writes the row's lse = (m + log2 l) ln 2.
            Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rows.groupCol2,
                                                kb.index(0));
            kb.ifElse(
                first, {},
                [&] {
                  Value value = arith::MulFOp::create(
                      b, arith::AddFOp::create(b, m[r], warp::log2Approx(b, l[r])),
                      kb.f32(kLn2));
                  kb.storeF32(arith::SelectOp::create(b, empty[r], negInf, value), lse,
                              ValueRange{rows.batch, rows.head, rows.rowPos[r]});
                  return SmallVector<Value>{};
                },
                none);
          }
          return SmallVector<Value>{};
        },
        none);
  }
}
