//===- FragmentSoftmax.cpp - Online softmax on accumulator fragments ------===//

#include "codegen/nvidia/FragmentSoftmax.h"

#include "passes/AttentionMath.h"
#include "codegen/nvidia/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tmix;

namespace {
constexpr int64_t kTileColumns = 8; // columns per accumulator tile

/// The GPU's exponentials: ex2.approx / lg2.approx.
Value approxExp2(ImplicitLocOpBuilder &b, Value x) { return warp::exp2Approx(b, x); }
Value approxLog2(ImplicitLocOpBuilder &b, Value x) { return warp::log2Approx(b, x); }
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
        auto keyBound = [&] {
          return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, rows.numM);
        };
        x = scoreElement(kb, rows.spec, bI, hI, iI[r], kb.toI64(j), x, masked, keyBound);
        scores[nt * 4 + r * 2 + c] = x;
        tileMax[r] = arith::MaximumFOp::create(b, tileMax[r], x);
      }

  // ---- the online-softmax update (AttentionMath.h), the row max over the 4 lanes of
  // a row ----
  SoftmaxTile result;
  RunningMax update[2];
  for (int r = 0; r < 2; ++r) {
    Value rowMax = warp::quadReduce(b, tileMax[r], /*isMax=*/true);
    update[r] = updateRunningMax(b, m[r], rowMax, approxExp2);
    result.m[r] = update[r].max;
    result.alpha[r] = update[r].alpha;
  }
  // P = exp2(S - m_new); each thread keeps a partial row sum (reduced at the end).
  Value rowSum[2] = {kb.f32(0.0), kb.f32(0.0)};
  result.p.resize(tiles * 2);
  auto pairType = VectorType::get({2}, f32);
  for (int64_t nt = 0; nt < tiles; ++nt)
    for (int64_t r = 0; r < 2; ++r) {
      Value pc[2];
      for (int64_t c = 0; c < 2; ++c) {
        pc[c] = softmaxProbability(b, update[r], scores[nt * 4 + r * 2 + c], approxExp2);
        rowSum[r] = arith::AddFOp::create(b, rowSum[r], pc[c]);
      }
      Value pair = vector::FromElementsOp::create(b, pairType, ValueRange{pc[0], pc[1]});
      result.p[nt * 2 + r] = arith::TruncFOp::create(b, VectorType::get({2}, element), pair);
    }
  for (int r = 0; r < 2; ++r)
    result.l[r] = updateRunningSum(b, l[r], result.alpha[r], rowSum[r]);
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
  // ---- the sink joins the denominator; o = O / l, and a row with nothing kept
  // gives o = 0 and lse = -inf (AttentionMath.h) ----
  Value sink = rows.sink ? sinkLogit(kb, rows.sink, kb.toI64(rows.batch), kb.toI64(rows.head))
                         : Value();
  RowResult row[2];
  for (int r = 0; r < 2; ++r)
    row[r] = finishRow(b, mIn[r], warp::quadReduce(b, lPartial[r], /*isMax=*/false), sink,
                       approxExp2);
  for (int r = 0; r < 2; ++r) {
    kb.ifElse(
        rows.rowValid[r], {},
        [&] {
          for (int64_t dt = 0; dt < valueDim / kTileColumns; ++dt)
            for (int64_t c = 0; c < 2; ++c) {
              Value x = vector::ExtractOp::create(b, acc[dt], ArrayRef<int64_t>{r, c});
              Value d = arith::AddIOp::create(b, rows.groupCol2,
                                              kb.index(dt * kTileColumns + c));
              kb.storeF32(arith::MulFOp::create(b, x, row[r].factor), o,
                          ValueRange{rows.batch, rows.head, rows.rowPos[r], d});
            }
          if (lse) {
            // One lane per group writes the row's lse = (m + log2 l) ln 2.
            Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rows.groupCol2,
                                                kb.index(0));
            kb.ifElse(
                first, {},
                [&] {
                  kb.storeF32(rowLogSumExp(b, row[r], approxLog2), lse,
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

AttentionProgram FragmentAttentionKernel::readProgram() {
  AttentionProgram program = readAttentionProgram(*kb, op);
  bIdx = program.batch;
  hIdx = program.head;
  hkIdx = program.kvHead;
  numN = program.numN;
  numM = program.numM;
  o = program.o;
  lse = program.lse;
  return program;
}

FragmentRows FragmentAttentionKernel::fragmentRows() const {
  FragmentRows rows;
  rows.batch = bIdx;
  rows.head = hIdx;
  rows.rowPos[0] = rowPos[0];
  rows.rowPos[1] = rowPos[1];
  rows.rowValid[0] = rowValid[0];
  rows.rowValid[1] = rowValid[1];
  rows.groupCol2 = groupCol2;
  rows.numM = numM;
  rows.scaleLog2 = scaleLog2;
  rows.spec = op;
  rows.sink = sinkOp;
  return rows;
}

void FragmentAttentionKernel::epilogue(ValueRange state) {
  storeRows(*kb, fragmentRows(), {state[0], state[1]}, {state[2], state[3]},
            llvm::to_vector(state.drop_front(4)), valueDim, o, lse);
}
