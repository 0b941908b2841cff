//===- LowerAttentionGradToLoops.cpp - Attention backward as loop programs ===//
//
// The CPU programs of the tmix.attention_grad kernels (tmix-derive-attention-grad),
// FlashAttention-2's backward with the probabilities recomputed from the saved lse, in
// its five products, with dq summed per key split instead of by atomics:
//
//   part "key_value", grid B x HK x S (S key splits, d_q_partial's leading dim): the
//   program walks its split's blocks of W keys (every S-th block) and runs the part's
//   tile program (tmix-tile-attention-grad) for each, op by op, the block's keys in
//   vector lanes (LaneTiles.h, as the forward keeps its rows): load_keys and zeros
//   give k^T (rotated), v^T, dk^T, dv^T and K (rotated, for dq); query_loop walks each
//   query head of the group, its rows in tiles of T = 64 (empty tiles skipped, full ones
//   without mask code, as the forward; Q and d_o read in place when f32 and not rotated,
//   each row's lse and D computed once), and its body's ops are, per row tile:
//     S = Q k^T, dP = d_o v^T              register-blocked outer products;
//     pair_grad: P, dS per pair             a loop over (row, key), vectorised by LLVM
//                                           at the lanes' width (preferLaneWidth);
//     param_grads (when it lists params)    pair by pair into its slices of their
//                                           partials;
//     dS k, accumulate_dq                   dq += dS K, the head dim in lanes (W at a
//                                           time, from the block's K staged row by
//                                           row), summed in place into the split's
//                                           slice of d_q_partial;
//     dk^T += Q^T dS, dv^T += d_o^T P       register-blocked over head-dim columns;
//   part "query", grid B x H x N/W: dq = the splits' slices summed in order, then
//   rotated back;
//   part "params", grid over the batch and head dims its params own (or one program):
//   the program starts its slices of the params' gradients (at 0, or a split param's
//   partials summed in order), and unless every param is split walks its (b, h)'s
//   pairs with W rows in lanes (S^T = K q^T, dP^T = V d_o^T per key tile), then adds
//   tmix.score_param_grad's terms pair by pair, and tmix.sink_grad's per (b, h);
//   tmix.scale_grad once, with the sum over the pairs of s's gradient times q.k.
//
// Per kept pair (log2 domain as the forward, AttentionMath.h):
//   t = score(scale q.k) log2(e),  P = exp2(t - lse log2(e))   (0 on a row that kept
//   nothing), dS = score_grad(s, P (d_o_i . v_j - D_i)) scale,  D_i = d_o_i . o_i
//   dq_i += dS k_j;  dk_j += dS q_i;  dv_j += P d_o_i
// and dq, dk are rotated back by rope's transpose. Each gradient element is summed by
// one program in one order, the split count fixed by the kernel's type: the result
// does not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"

#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/LaneTiles.h"

#include "dialect/ScheduleBounds.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionGradProgramForm.h"
#include "passes/AttentionMath.h"
#include "passes/KeyTiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <array>
#include <cmath>
#include <optional>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONGRADTOLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// The lane vectors of a program's own side, W = 4 L: its query rows (part "query")
/// or its block of keys (part "key_value"; 64 on AVX-512, 32 on AVX2). Four keep the
/// products' register blocks at 4 x R accumulators on every vector width, and a wide
/// block of keys walks Q, d_o and d_q_partial fewer times. Then the tile of the other
/// side that one mask classification and one staging cover.
constexpr int64_t kVectorsPerProgram = 4;
constexpr int64_t kClassifiedTile = 64;

/// The CPU's exp2: math.exp2, which becomes a polynomial.
Value mathExp2(ImplicitLocOpBuilder &b, Value x) { return math::Exp2Op::create(b, x); }

class AttentionGradLowering : AttentionGradOperands {
public:
  /// `form`: the part's matched tile program (parts "key_value" and "query"), or null
  /// (part "params", which has none).
  AttentionGradLowering(AttentionGradOp op, VectorShape vectors,
                        AttentionGradProgramForm *form = nullptr)
      : op(op), vectors(vectors), form(form) {}
  LogicalResult lower();

private:
  /// Rope's rotation at `pos` (its transpose when `back`) of the row that `load` reads,
  /// element by element into `store`; a copy without rope.
  void rotateRow(Value pos, bool back, function_ref<Value(Value d)> load,
                 function_ref<void(Value x, Value d)> store);
  /// q or k row `pos` of (batch, head), rotated by rope, element by element to `store`.
  void loadRotated(Value src, Value head, Value pos, function_ref<void(Value x, Value d)> store);
  /// dst[batch, head, pos, :] = the row that `load` reads, rotated back (rope's
  /// transpose).
  void storeRotatedBack(function_ref<Value(Value d)> load, Value dst, Value head, Value pos);
  /// buffer[x, d] (buffer[d, x] when `lanes`: the rows in lanes) =
  /// src[batch, head, first + x, d] for x < count, rotated when `rotate`.
  void stageRows(Value src, Value head, Value first, Value count, Value dims, bool rotate,
                 Value buffer, bool lanes = false);
  /// The key splits of d_q_partial: its leading literal dim.
  int64_t querySplits() {
    Type partial = op.isQueryPart() ? op.getFunctionType().getInput(op.getQueryPartialArg())
                                    : op.getFunctionType().getResult(2);
    return *cast<SpecTensorType>(partial).getStaticSize(0);
  }
  /// D_i = d_o_i . o_i - d_lse_i of row i of query head `head`.
  Value outputDelta(Value head, Value i);

  /// The probability and the gradients of the pair (i, j) of query head `head`
  /// (AttentionMath.h's pairGradient), from q.k and d_o_i . v_j (the rotated rows'),
  /// the row's lse (log2 domain) and D_i; `masked`: the mask runs (a partial tile).
  PairGradient pairGradient(Value head, Value i, Value j, Value qk, Value dp, Value lseLog2,
                            Value delta, bool masked);

  /// W query rows [rowBegin, rowEnd) of one head in lanes, and their key walk's
  /// buffers: q^T [D, W] (rotated, zero past the last row), d_o^T [DV, W], lse (log2
  /// domain) and D [W]; the staged key tile K [T, D] (rotated) and V [T, DV]; S^T and
  /// dP^T (then dS^T) [T, W].
  struct RowTile {
    Value head, kvHead, rowBegin, rowEnd, numRows;
    Value qT, outputGradT, rowLse, rowDelta, kTile, vTile, scoresT, gradsT;
  };
  /// Allocates a row tile's buffers (before the scratch guard).
  RowTile allocateRowTile();
  /// Stages the rows [rowBegin, rowEnd) of `head` into `tile`'s buffers.
  void stageRowTile(RowTile &tile, Value head, Value rowBegin, Value rowEnd);
  /// Walks the kept key tiles of `tile` (empty ones skipped): per tile, S^T and dP^T,
  /// then `pairWork(jj, r, i, j, pair)` for every (key jj, row r) pair of it (key
  /// j = keys + jj, row i = rowBegin + r), then `afterTile(keys, count)`.
  void walkKeys(const RowTile &tile,
                function_ref<void(Value jj, Value r, Value i, Value j, const PairGradient &)>
                    pairWork,
                function_ref<void(Value keys, Value count)> afterTile);
  /// Inlines a tmix.score_param_grad, tmix.sink_grad or tmix.scale_grad region: its
  /// tmix.accumulate ops add to their params' `paramTargets` (a tensor's) or
  /// `scalarSums` (a scalar's).
  void inlineParamRegion(Region &region, ValueRange args);

  /// Part "key_value": zeroes the program's slices of its params' partials (key split
  /// `split`, its batch, KV head `kvHead`'s query heads from `firstHead`) and points
  /// `paramTargets` at them.
  void startParamPartials(Value split, Value kvHead, Value firstHead);

  void lowerQueryPart();
  void lowerKeyValuePart();
  void lowerParamsPart();

  AttentionGradOp op;
  VectorShape vectors;
  AttentionGradProgramForm *form;
  std::unique_ptr<KernelBuilder> kb;
  std::unique_ptr<LaneTiles> tiles;
  llvm::DenseMap<int64_t, Value> scalarSums; // part "params": f64 sums of scalar params
  // Per tensor param: its gradient in part "params", its partial in part "key_value".
  llvm::DenseMap<int64_t, ParamGradTarget> paramTargets;
  RopeOp rope;
  Value batch, numD, numDV, halfD, theta;
  Value scale, softmaxScale; // natural units; the forward's softmax's (AttentionMath.h)
};

LogicalResult AttentionGradLowering::lower() {
  auto types = op.getSpecArgTypes();
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(types[0]).getDims();
  ArrayRef<Attribute> kDims = cast<SpecTensorType>(types[1]).getDims();
  ArrayRef<Attribute> vDims = cast<SpecTensorType>(types[2]).getDims();
  bool query = op.isQueryPart();
  // The program's own side in lanes: W rows (or keys).
  int64_t groups = kVectorsPerProgram;
  int64_t laneWidth = groups * vectors.lanes;
  SmallVector<GridDim> grid;
  if (op.isParamsPart()) {
    grid = paramsGrid(op);
  } else if (query) {
    grid = {{qDims[0], 1}, {qDims[1], 1}, {qDims[2], laneWidth}};
  } else {
    // A program per key split.
    grid = {{kDims[0], 1}, {kDims[1], 1},
            {IntegerAttr::get(IntegerType::get(op.getContext(), 64), querySplits()), 1}};
  }
  kb = std::make_unique<KernelBuilder>(op, grid);
  tiles = std::make_unique<LaneTiles>(*kb, vectors.lanes, groups, vectors.registers);
  preferLaneWidth(kb->function(), vectors);
  ImplicitLocOpBuilder &b = kb->builder();
  rope = findStatement<RopeOp>(op);
  batch = op.isParamsPart() ? Value() : kb->gridIndex(0);
  static_cast<AttentionGradOperands &>(*this) = readAttentionGradOperands(*kb, op);
  numD = kb->dimValue(qDims[3]);
  numDV = kb->dimValue(vDims[3]);
  scale = naturalScale(*kb, op, numD);
  softmaxScale = scoreScale(*kb, op, numD);
  if (rope) {
    theta = kb->inlineRegion(rope.getBody(), {})[0];
    halfD = arith::DivUIOp::create(b, numD, kb->index(2));
  }
  if (op.isParamsPart())
    lowerParamsPart();
  else if (query)
    lowerQueryPart();
  else
    lowerKeyValuePart();
  if (kb->knownScratchBytes() > static_cast<uint64_t>(kMaxProgramScratchBytes))
    return op.emitOpError("needs ")
           << kb->knownScratchBytes() << " bytes of scratch buffers per program, more than "
           << kMaxProgramScratchBytes << " (the fixed head dims are too large)";
  return success();
}

void AttentionGradLowering::rotateRow(Value pos, bool back,
                                      function_ref<Value(Value d)> load,
                                      function_ref<void(Value x, Value d)> store) {
  ImplicitLocOpBuilder &b = kb->builder();
  if (!rope) {
    kb->loop(kb->index(0), numD, kb->index(1), {}, [&](Value d, ValueRange) {
      store(load(d), d);
      return SmallVector<Value>{};
    });
    return;
  }
  kb->loop(kb->index(0), halfD, kb->index(1), {}, [&](Value p, ValueRange) {
    Value p2 = arith::AddIOp::create(b, p, halfD);
    Value angle = ropeAngle(*kb, pos, p, numD, theta);
    // The rotation is orthogonal: its transpose rotates by the opposite angle.
    if (back)
      angle = arith::NegFOp::create(b, angle);
    auto [first, second] = rotatePair(b, load(p), load(p2), angle);
    store(first, p);
    store(second, p2);
    return SmallVector<Value>{};
  });
}

void AttentionGradLowering::loadRotated(Value src, Value head, Value pos,
                                        function_ref<void(Value x, Value d)> store) {
  rotateRow(
      pos, /*back=*/false, [&](Value d) { return kb->loadF32(src, {batch, head, pos, d}); },
      store);
}

void AttentionGradLowering::storeRotatedBack(function_ref<Value(Value d)> load, Value dst,
                                             Value head, Value pos) {
  rotateRow(pos, /*back=*/true, load,
            [&](Value x, Value d) { kb->storeF32(x, dst, {batch, head, pos, d}); });
}

void AttentionGradLowering::stageRows(Value src, Value head, Value first, Value count,
                                      Value dims, bool rotate, Value buffer, bool lanes) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  kb->loop(zero, count, one, {}, [&](Value x, ValueRange) {
    Value pos = arith::AddIOp::create(b, first, x);
    auto store = [&](Value element, Value d) {
      memref::StoreOp::create(b, element, buffer, lanes ? ValueRange{d, x} : ValueRange{x, d});
    };
    if (rotate) {
      loadRotated(src, head, pos, store);
      return SmallVector<Value>{};
    }
    kb->loop(zero, dims, one, {}, [&](Value d, ValueRange) {
      store(kb->loadF32(src, {batch, head, pos, d}), d);
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
}

Value AttentionGradLowering::outputDelta(Value head, Value i) {
  return tmix::outputDelta(*kb, *this, batch, head, i, numDV,
                           arith::FastMathFlags::reassoc |
                               arith::FastMathFlags::contract);
}

PairGradient AttentionGradLowering::pairGradient(Value head, Value i, Value j, Value qk,
                                                 Value dp, Value lseLog2, Value delta,
                                                 bool masked) {
  return tmix::pairGradient(*kb, op, scale, softmaxScale, kb->toI64(batch),
                            kb->toI64(head), kb->toI64(i), kb->toI64(j), qk, dp, lseLog2,
                            delta, masked, mathExp2);
}

AttentionGradLowering::RowTile AttentionGradLowering::allocateRowTile() {
  Type f32 = kb->builder().getF32Type();
  int64_t dynamic = ShapedType::kDynamic, width = tiles->width();
  auto allocate = [&](ArrayRef<int64_t> shape, ValueRange sizes) {
    return kb->allocateScratch(MemRefType::get(shape, f32), sizes);
  };
  RowTile tile;
  tile.qT = allocate({dynamic, width}, numD);
  tile.outputGradT = allocate({dynamic, width}, numDV);
  tile.rowLse = allocate({width}, {});
  tile.rowDelta = allocate({width}, {});
  tile.kTile = allocate({kClassifiedTile, dynamic}, numD);
  tile.vTile = allocate({kClassifiedTile, dynamic}, numDV);
  tile.scoresT = allocate({kClassifiedTile, width}, {});
  tile.gradsT = allocate({kClassifiedTile, width}, {});
  return tile;
}

void AttentionGradLowering::stageRowTile(RowTile &tile, Value head, Value rowBegin,
                                         Value rowEnd) {
  ImplicitLocOpBuilder &b = kb->builder();
  tile.head = head;
  tile.kvHead = arith::DivUIOp::create(b, head, group);
  tile.rowBegin = rowBegin;
  tile.rowEnd = rowEnd;
  tile.numRows = arith::SubIOp::create(b, rowEnd, rowBegin);
  // Zero past the last row: those lanes' products stay finite and are never stored.
  tiles->fill(tile.qT, numD, 0.0);
  tiles->fill(tile.outputGradT, numDV, 0.0);
  stageRows(q, head, rowBegin, tile.numRows, numD, /*rotate=*/true, tile.qT, /*lanes=*/true);
  stageRows(outputGrad, head, rowBegin, tile.numRows, numDV, /*rotate=*/false,
            tile.outputGradT, /*lanes=*/true);
  kb->loop(kb->index(0), tile.numRows, kb->index(1), {}, [&](Value r, ValueRange) {
    Value i = arith::AddIOp::create(b, rowBegin, r);
    Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                          kb->f32(kLog2e));
    memref::StoreOp::create(b, lseLog2, tile.rowLse, ValueRange{r});
    memref::StoreOp::create(b, outputDelta(head, i), tile.rowDelta, ValueRange{r});
    return SmallVector<Value>{};
  });
}

void AttentionGradLowering::walkKeys(
    const RowTile &tile,
    function_ref<void(Value jj, Value r, Value i, Value j, const PairGradient &)> pairWork,
    function_ref<void(Value keys, Value count)> afterTile) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  Value last = arith::SubIOp::create(b, tile.rowEnd, one);
  auto splatZero = [&](Value, int64_t) { return tiles->splat(0.0); };
  kb->loop(zero, numM, kb->index(kClassifiedTile), {}, [&](Value keys, ValueRange) {
    Value keysEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, keys, kb->index(kClassifiedTile)), numM);
    KeyTileClass tileClass =
        classifyKeyTile(*kb, op, batch, tile.head, tile.rowBegin, last, keys,
                        arith::SubIOp::create(b, keysEnd, one));
    return runKeyTile(*kb, tileClass, {}, {}, [&](bool masked) {
      Value count = arith::SubIOp::create(b, keysEnd, keys);
      stageRows(k, tile.kvHead, keys, count, numD, /*rotate=*/true, tile.kTile);
      stageRows(v, tile.kvHead, keys, count, numDV, /*rotate=*/false, tile.vTile);
      // S^T[jj, :] = K[jj] . q^T and dP^T[jj, :] = V[jj] . d_o^T.
      tiles->product(
          tile.scoresT, count, numD, tile.qT,
          [&](Value d, Value jj) -> Value {
            return memref::LoadOp::create(b, tile.kTile, ValueRange{jj, d});
          },
          splatZero);
      tiles->product(
          tile.gradsT, count, numDV, tile.outputGradT,
          [&](Value d, Value jj) -> Value {
            return memref::LoadOp::create(b, tile.vTile, ValueRange{jj, d});
          },
          splatZero);
      kb->loop(zero, count, one, {}, [&](Value jj, ValueRange) {
        Value j = arith::AddIOp::create(b, keys, jj);
        kb->loop(zero, tile.numRows, one, {}, [&](Value r, ValueRange) {
          Value i = arith::AddIOp::create(b, tile.rowBegin, r);
          Value qk = memref::LoadOp::create(b, tile.scoresT, ValueRange{jj, r});
          Value dp = memref::LoadOp::create(b, tile.gradsT, ValueRange{jj, r});
          Value lseLog2 = memref::LoadOp::create(b, tile.rowLse, ValueRange{r});
          Value delta = memref::LoadOp::create(b, tile.rowDelta, ValueRange{r});
          pairWork(jj, r, i, j, pairGradient(tile.head, i, j, qk, dp, lseLog2, delta, masked));
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
      afterTile(keys, count);
      return SmallVector<Value>{};
    });
  });
}

void AttentionGradLowering::lowerQueryPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value head = kb->gridIndex(1);
  Value zero = kb->index(0), one = kb->index(1);
  int64_t width = tiles->width();
  Value rowBegin = arith::MulIOp::create(b, kb->gridIndex(2), kb->index(width));
  Value rowEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, rowBegin, kb->index(width)), numN);
  Value numRows = arith::SubIOp::create(b, rowEnd, rowBegin);
  Value partial = kb->argMemRef(op.getQueryPartialArg());
  int64_t splits = querySplits();
  Value qGrad = kb->allocateScratch(
      MemRefType::get({width, ShapedType::kDynamic}, b.getF32Type()), numD);
  kb->guardScratch();
  // dq of the rows = sum_s d_q_partial[s, b, h], the splits in order (a loop over
  // a row's contiguous head dim, which LLVM vectorises); then dq_i = R_i^T dq_i.
  kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
    Value i = arith::AddIOp::create(b, rowBegin, r);
    kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
      Value sum;
      for (int64_t split = 0; split < splits; ++split) {
        Value term = memref::LoadOp::create(
            b, partial, ValueRange{kb->index(split), batch, head, i, d});
        sum = sum ? arith::AddFOp::create(b, sum, term).getResult() : term;
      }
      memref::StoreOp::create(b, sum, qGrad, ValueRange{r, d});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  Value dq = kb->resultMemRef(0);
  kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
    storeRotatedBack(
        [&](Value d) {
          return memref::LoadOp::create(b, qGrad, ValueRange{r, d}).getResult();
        },
        dq, head, arith::AddIOp::create(b, rowBegin, r));
    return SmallVector<Value>{};
  });
  kb->freeScratch();
}

void AttentionGradLowering::inlineParamRegion(Region &region, ValueRange args) {
  // A scalar's gradient sums every pair's term, which cancel (they sum to 0 over a row):
  // in f64, stored as f32 at the end (the one program owns it).
  inlineParamGradRegion(*kb, region, args, [&](unsigned argument) {
    if (Value sum = scalarSums.lookup(argument))
      return ParamGradTarget{sum, {kb->index(0)}};
    return paramTargets.find(argument)->second;
  });
}

void AttentionGradLowering::lowerParamsPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1), width = kb->index(tiles->width());
  ParamsProgram program = readParamsProgram(*kb, op);

  // Start the elements the program owns (the params' slices at its batch and head):
  // at 0, or at the sum of their partials from part "key_value" (its `split` params),
  // over the key splits and the batches and KV heads a partial has, in that order.
  ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
  ArrayRef<int64_t> params = op.getParamArgs(), split = op.getSplitParams();
  for (unsigned param = 0; 2 * param < owned.size(); ++param) {
    Value out = kb->resultMemRef(param);
    paramTargets[params[param]] = {out, {}};
    const int64_t *splitAt = llvm::find(split, params[param]);
    Value partial =
        splitAt == split.end()
            ? Value()
            : kb->argMemRef(op.getParamPartialArg() + (splitAt - split.begin()));
    unsigned rank = cast<MemRefType>(out.getType()).getRank();
    // The partials of `element` summed over the partial's leading dims: the splits, then
    // B and HK unless owned.
    auto sumPartials = [&](ValueRange element) -> Value {
      unsigned leading = cast<MemRefType>(partial.getType()).getRank() - rank;
      SmallVector<Value> at(leading);
      std::function<Value(unsigned, Value)> sumFrom = [&](unsigned dim,
                                                          Value acc) -> Value {
        if (dim == leading) {
          SmallVector<Value> full(at);
          full.append(element.begin(), element.end());
          return arith::AddFOp::create(b, acc, memref::LoadOp::create(b, partial, full));
        }
        return kb->loop(zero, memref::DimOp::create(b, partial, dim), one, {acc},
                        [&](Value x, ValueRange sums) {
                          at[dim] = x;
                          return SmallVector<Value>{sumFrom(dim + 1, sums[0])};
                        })[0];
      };
      return sumFrom(0, kb->f32(0.0));
    };
    program.forEachOwned(*kb, op, param, out, [&](ValueRange at) {
      memref::StoreOp::create(b, partial ? sumPartials(at) : kb->f32(0.0), out, at);
    });
  }

  auto scoreParams = findStatement<ScoreParamGradOp>(op);
  auto sinkParams = findStatement<SinkGradOp>(op);
  auto scaleParams = findStatement<ScaleGradOp>(op);
  SinkOp sink = findStatement<SinkOp>(op);
  RowTile tile = allocateRowTile();
  // The scale's gradient: its pairs' terms per tile, summed in f64 (they cancel as a
  // scalar's do, inlineParamRegion).
  Value scaleTerms, scaleSum;
  if (scaleParams) {
    scaleTerms = kb->allocateScratch(
        MemRefType::get({kClassifiedTile, tiles->width()}, b.getF32Type()), ValueRange{});
    scaleSum = kb->allocateScratch(MemRefType::get({1}, b.getF64Type()), ValueRange{});
  }
  for (int64_t argument : params)
    if (!isa<SpecTensorType>(op.getSpecArgTypes()[argument]))
      scalarSums[argument] =
          kb->allocateScratch(MemRefType::get({1}, b.getF64Type()), ValueRange{});
  kb->guardScratch();
  // A scalar's sum starts from its gradient so far: its partials' sum (rope's theta's,
  // when rope reads it too), or 0.
  for (auto [argument, sum] : scalarSums) {
    Value out = kb->resultMemRef(llvm::find(params, argument) - params.begin());
    Value start = memref::LoadOp::create(b, out, ValueRange{zero});
    memref::StoreOp::create(b, arith::ExtFOp::create(b, b.getF64Type(), start), sum,
                            ValueRange{zero});
  }
  if (scaleSum)
    memref::StoreOp::create(b, arith::ConstantOp::create(b, b.getF64FloatAttr(0.0)),
                            scaleSum, ValueRange{zero});
  kb->loop(program.begin[0], program.end[0], one, {}, [&](Value batchIndex, ValueRange) {
    batch = batchIndex;
    kb->loop(program.begin[1], program.end[1], one, {}, [&](Value head, ValueRange) {
      Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
      if (sinkParams) {
        // d loss / d sink = -sum_i P_sink,i D_i, P_sink,i = exp2(sink - lse_i log2(e)).
        Value sinkLog2 = sinkLogit(*kb, sink, b64, h64);
        Value sum = kb->loop(zero, numN, one, {kb->f32(0.0)}, [&](Value i, ValueRange acc) {
          Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                                kb->f32(kLog2e));
          Value term = sinkGradTerm(b, sinkLog2, lseLog2, outputDelta(head, i), mathExp2);
          return SmallVector<Value>{arith::AddFOp::create(b, acc[0], term)};
        })[0];
        inlineParamRegion(sinkParams.getBody(), {b64, h64, arith::NegFOp::create(b, sum)});
      }
      if (scoreParams || scaleParams)
        kb->loop(zero, numN, width, {}, [&](Value rowBegin, ValueRange) {
          Value rowEnd =
              arith::MinUIOp::create(b, arith::AddIOp::create(b, rowBegin, width), numN);
          stageRowTile(tile, head, rowBegin, rowEnd);
          // The pairs' s and score gradients first, in the tile's buffers (a loop LLVM
          // vectorises), then the region's sums into the params' gradients, pair by
          // pair in the same order.
          walkKeys(
              tile,
              [&](Value jj, Value r, Value, Value, const PairGradient &pair) {
                memref::StoreOp::create(b, pair.scaled, tile.scoresT, ValueRange{jj, r});
                memref::StoreOp::create(b, pair.scoreGrad, tile.gradsT, ValueRange{jj, r});
                if (scaleParams)
                  memref::StoreOp::create(b, pair.scaleTerm, scaleTerms,
                                          ValueRange{jj, r});
              },
              [&](Value keys, Value count) {
                kb->loop(zero, count, one, {}, [&](Value jj, ValueRange) {
                  Value j64 = kb->toI64(arith::AddIOp::create(b, keys, jj));
                  kb->loop(zero, tile.numRows, one, {}, [&](Value r, ValueRange) {
                    Value i64 = kb->toI64(arith::AddIOp::create(b, rowBegin, r));
                    if (scoreParams)
                      inlineParamRegion(
                          scoreParams.getBody(),
                          {b64, h64, i64, j64,
                           memref::LoadOp::create(b, tile.scoresT, ValueRange{jj, r}),
                           memref::LoadOp::create(b, tile.gradsT, ValueRange{jj, r})});
                    if (scaleParams) {
                      Value term32 =
                          memref::LoadOp::create(b, scaleTerms, ValueRange{jj, r});
                      Value term = arith::ExtFOp::create(b, b.getF64Type(), term32);
                      Value old = memref::LoadOp::create(b, scaleSum, ValueRange{zero});
                      memref::StoreOp::create(b, arith::AddFOp::create(b, old, term),
                                              scaleSum, ValueRange{zero});
                    }
                    return SmallVector<Value>{};
                  });
                  return SmallVector<Value>{};
                });
              });
          return SmallVector<Value>{};
        });
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  if (scaleParams) {
    Value total = memref::LoadOp::create(b, scaleSum, ValueRange{zero});
    inlineParamRegion(scaleParams.getBody(),
                      {arith::TruncFOp::create(b, b.getF32Type(), total)});
  }
  for (auto [argument, sum] : scalarSums) {
    Value total = memref::LoadOp::create(b, sum, ValueRange{zero});
    Value out = kb->resultMemRef(llvm::find(params, argument) - params.begin());
    memref::StoreOp::create(b, arith::TruncFOp::create(b, b.getF32Type(), total), out,
                            ValueRange{zero});
  }
  kb->freeScratch();
}

void AttentionGradLowering::startParamPartials(Value split, Value kvHead,
                                               Value firstHead) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0);
  ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
  for (auto [position, argument] : llvm::enumerate(op.getParamArgs())) {
    Value partial = kb->resultMemRef(3 + position);
    int64_t ownedBatch = owned[2 * position], ownedHead = owned[2 * position + 1];
    // partial[split, (batch), (kvHead), the param's indices]: the program's own.
    ParamGradTarget &target = paramTargets[argument];
    target.memref = partial;
    target.prefix = {split};
    if (ownedBatch < 0)
      target.prefix.push_back(batch);
    if (ownedHead < 0)
      target.prefix.push_back(kvHead);
    // Zero it: the param's dims it owns at its batch and its group's heads.
    unsigned first = target.prefix.size();
    kb->forEachIndex(
        partial, target.prefix, first,
        [&](unsigned dim) -> std::pair<Value, Value> {
          int64_t paramDim = static_cast<int64_t>(dim - first);
          if (paramDim == ownedBatch)
            return {batch, Value()};
          if (paramDim == ownedHead)
            return {firstHead, arith::AddIOp::create(b, firstHead, group)};
          return {zero, memref::DimOp::create(b, partial, dim)};
        },
        [&](ValueRange at) { memref::StoreOp::create(b, kb->f32(0.0), partial, at); });
    // A scalar's partial ends in its gradient's one element.
    if (!isa<SpecTensorType>(op.getFunctionType().getInput(argument)))
      target.prefix.push_back(zero);
  }
}

void AttentionGradLowering::lowerKeyValuePart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  int64_t dynamic = ShapedType::kDynamic, width = tiles->width();
  Value kvHead = kb->gridIndex(1), split = kb->gridIndex(2);
  Value zero = kb->index(0), one = kb->index(1);
  Value dk = kb->resultMemRef(0), dv = kb->resultMemRef(1), partial = kb->resultMemRef(2);
  int64_t splits = querySplits();
  Value firstHead = arith::MulIOp::create(b, kvHead, group);
  int64_t rowTile = kClassifiedTile;
  // dq's head dim in lanes, in chunks of C = G' vectors: a fixed D in whole chunks
  // where G' <= 4 allows (D = 32 on 16 lanes: 2), else its rest padded (D = 8 on 16
  // lanes: a chunk of 16); a size symbol's in chunks of W. D rounded up to chunks.
  int64_t chunkGroups = kVectorsPerProgram;
  std::optional<int64_t> fixedD = getConstantIntValue(numD);
  if (fixedD) {
    int64_t vectorsOfD = llvm::divideCeil(*fixedD, vectors.lanes);
    chunkGroups = std::min(kVectorsPerProgram, vectorsOfD);
    for (int64_t g = kVectorsPerProgram; g >= 1; --g)
      if (*fixedD % (g * vectors.lanes) == 0) {
        chunkGroups = g;
        break;
      }
  }
  LaneTiles chunkTiles(*kb, vectors.lanes, chunkGroups, vectors.registers);
  int64_t chunkWidth = chunkTiles.width();
  bool raggedChunks = !fixedD || *fixedD % chunkWidth != 0;
  Value paddedD =
      arith::MulIOp::create(b, arith::CeilDivUIOp::create(b, numD, kb->index(chunkWidth)),
                            kb->index(chunkWidth));

  // Per block of W keys (the program's keys in lanes): k^T (rotated), v^T, dk^T, dv^T,
  // and K (rotated) [W, D padded to chunks] for dq; per query tile of T rows: Q
  // (rotated) [T, D], d_o [T, DV], lse and D [T], S then P [T, W], dP then dS [T, W];
  // a chunk of dq [T, C] when D is not whole chunks.
  auto allocate = [&](ArrayRef<int64_t> shape, ValueRange sizes) {
    return kb->allocateScratch(MemRefType::get(shape, f32), sizes);
  };
  Value kT = allocate({dynamic, width}, numD), vT = allocate({dynamic, width}, numDV);
  Value kRows = allocate({width, dynamic}, paddedD);
  Value kGradT = allocate({dynamic, width}, numD);
  Value vGradT = allocate({dynamic, width}, numDV);
  // Q and d_o of a row tile are read where they are when they are f32 and q is not
  // rotated (a copy would only cost time), else staged: widened, rotated.
  auto isF32 = [](Value memref) {
    return cast<MemRefType>(memref.getType()).getElementType().isF32();
  };
  Value qTile = !rope && isF32(q) ? Value() : allocate({rowTile, dynamic}, numD);
  Value outputGradTile =
      isF32(outputGrad) ? Value() : allocate({rowTile, dynamic}, numDV);
  // Every row's lse (log2 domain) and D of the group's heads, [group, N]: computed
  // once, not once per block of keys (D is a dot product of DV).
  Value rowLse = allocate({dynamic, dynamic}, {group, numN});
  Value rowDelta = allocate({dynamic, dynamic}, {group, numN});
  Value scores = allocate({rowTile, width}, {});
  Value grads = allocate({rowTile, width}, {});
  Value qGradChunk = raggedChunks ? allocate({rowTile, chunkWidth}, {}) : Value();
  // The params it sums per key split: each pair's s and score gradient [T, W].
  auto scoreParams = findStatement<ScoreParamGradOp>(op);
  Value pairScores, pairScoreGrads;
  if (scoreParams) {
    pairScores = allocate({rowTile, width}, {});
    pairScoreGrads = allocate({rowTile, width}, {});
  }
  // rope's theta: the program's share of its gradient, in f64 (ropeThetaTerm), and
  // per pair p its frequency and slope, computed once.
  auto ropeParams = findStatement<RopeGradOp>(op);
  Value thetaSum, frequencies, slopes;
  if (ropeParams) {
    thetaSum = kb->allocateScratch(MemRefType::get({1}, b.getF64Type()), ValueRange{});
    frequencies = allocate({dynamic}, halfD);
    slopes = kb->allocateScratch(MemRefType::get({dynamic}, b.getF64Type()), halfD);
  }
  kb->guardScratch();
  // K's lanes past D are read by dq's last chunk of lanes (and never stored): zeros.
  kb->loop(zero, kb->index(width), one, {}, [&](Value c, ValueRange) {
    kb->loop(numD, paddedD, one, {}, [&](Value d, ValueRange) {
      memref::StoreOp::create(b, kb->f32(0.0), kRows, ValueRange{c, d});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  if (scoreParams || ropeParams)
    startParamPartials(split, kvHead, firstHead);
  // Adds the terms of a rotated row (pos) to thetaSum: pair p's rotated elements and
  // their gradients from `pairAt(p, p + D/2, angle)`.
  auto addThetaTerms =
      [&](Value pos,
          function_ref<std::array<Value, 4>(Value p, Value p2, Value angle)> pairAt) {
        Value sum = kb->loop(
            zero, halfD, one, {memref::LoadOp::create(b, thetaSum, zero)},
            [&](Value p, ValueRange acc) {
              Value angle =
                  ropeAngleAt(*kb, pos, memref::LoadOp::create(b, frequencies, p));
              auto [y1, y2, dy1, dy2] =
                  pairAt(p, arith::AddIOp::create(b, p, halfD), angle);
              Value term = ropeThetaTerm(b, angle, memref::LoadOp::create(b, slopes, p),
                                         y1, y2, dy1, dy2);
              return SmallVector<Value>{arith::AddFOp::create(b, acc[0], term)};
            })[0];
        memref::StoreOp::create(b, sum, thetaSum, zero);
      };
  if (ropeParams) {
    memref::StoreOp::create(b, arith::ConstantOp::create(b, b.getF64FloatAttr(0.0)),
                            thetaSum, zero);
    kb->loop(zero, halfD, one, {}, [&](Value p, ValueRange) {
      memref::StoreOp::create(b, ropeFrequency(*kb, p, numD, theta), frequencies, p);
      memref::StoreOp::create(b, ropeThetaSlope(*kb, p, numD, theta), slopes, p);
      return SmallVector<Value>{};
    });
  }

  // The program owns d_q_partial[split, b, h] (dq^T, [D, N]) for the heads of its
  // group: zeroed first, then summed into block by block.
  kb->loop(zero, group, one, {}, [&](Value g, ValueRange) {
    Value head = arith::AddIOp::create(b, firstHead, g);
    kb->loop(zero, numN, one, {}, [&](Value i, ValueRange) {
      Value lseLog2 =
          arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}), kb->f32(kLog2e));
      memref::StoreOp::create(b, lseLog2, rowLse, ValueRange{g, i});
      memref::StoreOp::create(b, outputDelta(head, i), rowDelta, ValueRange{g, i});
      return SmallVector<Value>{};
    });
    kb->loop(zero, numN, one, {}, [&](Value i, ValueRange) {
      kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
        memref::StoreOp::create(b, kb->f32(0.0), partial,
                                ValueRange{split, batch, head, i, d});
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });

  auto splatZero = [&](Value, int64_t) { return tiles->splat(0.0); };
  // Element (r, d) of a row tile's Q or d_o: from its staged [T, D] buffer, or from
  // `source` itself at row rows + r of `head`.
  using ElementFn = std::function<Value(Value r, Value d)>;
  auto tileElement = [&](Value staged, Value source, Value head,
                         Value rows) -> ElementFn {
    if (staged)
      return [&b, staged](Value r, Value d) -> Value {
        return memref::LoadOp::create(b, staged, ValueRange{r, d});
      };
    return [&b, source, head, rows, batch = batch](Value r, Value d) -> Value {
      return memref::LoadOp::create(
          b, source, ValueRange{batch, head, arith::AddIOp::create(b, rows, r), d});
    };
  };
  // A product's element(x, col) of a row tile: (col, x) when the sum runs over D (S,
  // dP), (x, col) when it runs over the tile's rows (dk, dv).
  auto columnRow = [](ElementFn element) {
    return [element](Value x, Value col) { return element(col, x); };
  };
  auto extentRow = [](ElementFn element) {
    return [element](Value x, Value col) { return element(x, col); };
  };
  // d_q_partial[split, b, head, rows:rows + count, chunk:chunk + C] as a [count, C]
  // buffer (its rows' chunk of head-dim lanes).
  auto partialChunk = [&](Value head, Value rows, Value count, Value chunk) -> Value {
    SmallVector<OpFoldResult> offsets = {split, batch, head, rows, chunk};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(1), count,
                                       b.getIndexAttr(chunkWidth)};
    SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
    auto type = memref::SubViewOp::inferRankReducedResultType(
        {ShapedType::kDynamic, chunkWidth}, cast<MemRefType>(partial.getType()), offsets,
        sizes, strides);
    return memref::SubViewOp::create(b, type, partial, offsets, sizes, strides);
  };
  // K's chunk of C head-dim lanes from `chunk`, [W keys, C].
  auto keyChunk = [&](Value chunk) -> Value {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), chunk};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(width), b.getIndexAttr(chunkWidth)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    auto type = memref::SubViewOp::inferRankReducedResultType(
        {width, chunkWidth}, cast<MemRefType>(kRows.getType()), offsets, sizes, strides);
    return memref::SubViewOp::create(b, type, kRows, offsets, sizes, strides);
  };
  // The split's blocks of W keys, every `splits`-th from the split's own: a causal
  // mask's work spreads evenly over the splits.
  Value blockKeys = kb->index(width);
  Value splitStep = kb->index(splits * width);
  Value firstKey = arith::MulIOp::create(b, split, blockKeys);
  // A row tile of query head `head` (the g-th of the group) against a block of keys:
  // where its rows and keys start and how many, whether the mask runs, and how its Q
  // and d_o elements are read (set by load_query_grad).
  struct RowTileState {
    Value g, head, rows, count, keyBegin, numKeys;
    bool masked;
    ElementFn qElement, outputGradElement;
  };
  // The op `rowStep` of the program's query_loop body for `tile`; the ops run in
  // program order.
  auto emitRowTileStep = [&](Operation &rowStep, RowTileState &tile) {
    Value g = tile.g, head = tile.head, rows = tile.rows, count = tile.count;
    Value keyBegin = tile.keyBegin, numKeys = tile.numKeys;
    llvm::TypeSwitch<Operation *>(&rowStep)
        .Case([&](tile::LoadQueryGradOp) {
          // The rows' lse and D were computed once per program (rowLse, rowDelta).
          if (qTile)
            stageRows(q, head, rows, count, numD, /*rotate=*/true, qTile);
          if (outputGradTile)
            stageRows(outputGrad, head, rows, count, numDV, /*rotate=*/false,
                      outputGradTile);
          tile.qElement = tileElement(qTile, q, head, rows);
          tile.outputGradElement = tileElement(outputGradTile, outputGrad, head, rows);
        })
        .Case([&](tile::DotOp dot) {
          if (dot == form->dots) {
            // S[ii, :] = Q[ii] . k^T.
            tiles->product(scores, count, numD, kT, columnRow(tile.qElement), splatZero);
          } else if (dot == form->outputDots) {
            // dP[ii, :] = d_o[ii] . v^T.
            tiles->product(grads, count, numDV, vT, columnRow(tile.outputGradElement),
                           splatZero);
          } else if (dot == form->queryGradTerms) {
            // dS k: summed into d_q_partial as it is computed (accumulate_dq).
          } else if (dot == form->keyGrads) {
            // dk^T[d, :] += sum_ii Q[ii, d] dS[ii, :].
            tiles->product(kGradT, numD, count, grads, extentRow(tile.qElement),
                           [&](Value d, int64_t g) { return tiles->load(kGradT, d, g); });
          } else if (dot == form->valueGrads) {
            // dv^T[d, :] += sum_ii d_o[ii, d] P[ii, :].
            tiles->product(vGradT, numDV, count, scores,
                           extentRow(tile.outputGradElement),
                           [&](Value d, int64_t g) { return tiles->load(vGradT, d, g); });
          }
        })
        .Case([&](tile::PairGradOp) {
          // P and dS in place of S and dP.
          kb->loop(zero, count, one, {}, [&](Value ii, ValueRange) {
            Value i = arith::AddIOp::create(b, rows, ii);
            Value lseLog2 = memref::LoadOp::create(b, rowLse, ValueRange{g, i});
            Value delta = memref::LoadOp::create(b, rowDelta, ValueRange{g, i});
            kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
              Value j = arith::AddIOp::create(b, keyBegin, c);
              Value qk = memref::LoadOp::create(b, scores, ValueRange{ii, c});
              Value dp = memref::LoadOp::create(b, grads, ValueRange{ii, c});
              PairGradient pair =
                  pairGradient(head, i, j, qk, dp, lseLog2, delta, tile.masked);
              memref::StoreOp::create(b, pair.probability, scores, ValueRange{ii, c});
              memref::StoreOp::create(b, pair.dotGrad, grads, ValueRange{ii, c});
              if (scoreParams) {
                memref::StoreOp::create(b, pair.scaled, pairScores, ValueRange{ii, c});
                memref::StoreOp::create(b, pair.scoreGrad, pairScoreGrads,
                                        ValueRange{ii, c});
              }
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
        })
        .Case([&](tile::ParamGradsOp) {
          // The params' terms, pair by pair (their sums index by i and j: a loop of its
          // own, so that the pair loop stays vectorised).
          Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
          kb->loop(zero, count, one, {}, [&](Value ii, ValueRange) {
            Value i64 = kb->toI64(arith::AddIOp::create(b, rows, ii));
            kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
              Value j64 = kb->toI64(arith::AddIOp::create(b, keyBegin, c));
              inlineParamRegion(
                  scoreParams.getBody(),
                  {b64, h64, i64, j64,
                   memref::LoadOp::create(b, pairScores, ValueRange{ii, c}),
                   memref::LoadOp::create(b, pairScoreGrads, ValueRange{ii, c})});
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
        })
        .Case([&](tile::AccumulateQueryGradOp) {
          // dq[rows + ii, :] += sum_c dS[ii, c] k[c, :] over the block's keys, the head
          // dim in lanes, C at a time: in place in d_q_partial, a last chunk short of C
          // lanes through a buffer (its lanes past D are never added).
          auto dotGrads = [&](Value c, Value ii) -> Value {
            return memref::LoadOp::create(b, grads, ValueRange{ii, c});
          };
          kb->loop(zero, numD, kb->index(chunkWidth), {}, [&](Value chunk, ValueRange) {
            Value keys = keyChunk(chunk);
            auto inPlace = [&] {
              Value rowsView = partialChunk(head, rows, count, chunk);
              chunkTiles.product(
                  rowsView, count, numKeys, keys, dotGrads,
                  [&](Value ii, int64_t g) { return chunkTiles.load(rowsView, ii, g); });
              return SmallVector<Value>{};
            };
            if (!raggedChunks) {
              inPlace();
              return SmallVector<Value>{};
            }
            Value lanes = arith::SubIOp::create(
                b,
                arith::MinUIOp::create(
                    b, arith::AddIOp::create(b, chunk, kb->index(chunkWidth)), numD),
                chunk);
            Value wholeChunk = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lanes,
                                                     kb->index(chunkWidth));
            kb->ifElse(wholeChunk, {}, inPlace, [&] {
              chunkTiles.product(qGradChunk, count, numKeys, keys, dotGrads,
                                 [&](Value, int64_t) { return chunkTiles.splat(0.0); });
              kb->loop(zero, count, one, {}, [&](Value ii, ValueRange) {
                kb->loop(zero, lanes, one, {}, [&](Value x, ValueRange) {
                  SmallVector<Value, 5> at = {split, batch, head,
                                              arith::AddIOp::create(b, rows, ii),
                                              arith::AddIOp::create(b, chunk, x)};
                  Value old = memref::LoadOp::create(b, partial, at);
                  Value term = memref::LoadOp::create(b, qGradChunk, ValueRange{ii, x});
                  memref::StoreOp::create(b, arith::AddFOp::create(b, old, term), partial,
                                          at);
                  return SmallVector<Value>{};
                });
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
            return SmallVector<Value>{};
          });
        })
        .Case([&](tile::YieldOp) {});
  };

  // Each block of the split's keys runs the part's tile program
  // (AttentionGradProgramForm.h) op by op: the program's key tile is the block, its row
  // walk every query head of the group and their row tiles, each op a step of the loops
  // below.
  kb->loop(firstKey, numM, splitStep, {}, [&](Value keyBegin, ValueRange) {
    Value keyEnd =
        arith::MinUIOp::create(b, arith::AddIOp::create(b, keyBegin, blockKeys), numM);
    Value numKeys = arith::SubIOp::create(b, keyEnd, keyBegin);
    Value lastKey = arith::SubIOp::create(b, keyEnd, one);
    for (Operation &step : form->program.getBodyBlock()) {
      llvm::TypeSwitch<Operation *>(&step)
          .Case([&](tile::LoadKeysOp) {
            // Zero past the last key: those lanes' products stay finite and are never
            // stored.
            tiles->fill(kT, numD, 0.0);
            tiles->fill(vT, numDV, 0.0);
            stageRows(k, kvHead, keyBegin, numKeys, numD, /*rotate=*/true, kT,
                      /*lanes=*/true);
            stageRows(v, kvHead, keyBegin, numKeys, numDV, /*rotate=*/false, vT,
                      /*lanes=*/true);
            stageRows(k, kvHead, keyBegin, numKeys, numD, /*rotate=*/true, kRows);
          })
          .Case([&](tile::ZerosOp zeros) {
            bool keyGrads = zeros.getResult() == form->queryLoop.getInits()[0];
            tiles->fill(keyGrads ? kGradT : vGradT, keyGrads ? numD : numDV, 0.0);
          })
          .Case([&](tile::QueryLoopOp) {
            // Every query head of the group, in order: GQA's sum over the group is this
            // loop.
            kb->loop(zero, group, one, {}, [&](Value g, ValueRange) {
              Value head = arith::AddIOp::create(b, firstHead, g);
              kb->loop(zero, numN, kb->index(rowTile), {}, [&](Value rows, ValueRange) {
                Value rowsEnd = arith::MinUIOp::create(
                    b, arith::AddIOp::create(b, rows, kb->index(rowTile)), numN);
                KeyTileClass tileClass = classifyKeyTile(
                    *kb, op, batch, head, rows, arith::SubIOp::create(b, rowsEnd, one),
                    keyBegin, lastKey);
                return runKeyTile(*kb, tileClass, {}, {}, [&](bool masked) {
                  RowTileState tile;
                  tile.g = g;
                  tile.head = head;
                  tile.rows = rows;
                  tile.count = arith::SubIOp::create(b, rowsEnd, rows);
                  tile.keyBegin = keyBegin;
                  tile.numKeys = numKeys;
                  tile.masked = masked;
                  for (Operation &rowStep : form->queryLoop.getBodyBlock())
                    emitRowTileStep(rowStep, tile);
                  return SmallVector<Value>{};
                });
              });
              return SmallVector<Value>{};
            });
          })
          .Case([&](tile::StoreKeyGradOp) {
            kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
              Value j = arith::AddIOp::create(b, keyBegin, c);
              // Key j's terms of theta's gradient: k rotated and dk before it is
              // rotated back.
              if (ropeParams)
                addThetaTerms(j, [&](Value p, Value p2, Value) -> std::array<Value, 4> {
                  auto at = [&](Value buffer, Value d) -> Value {
                    return memref::LoadOp::create(b, buffer, ValueRange{d, c});
                  };
                  return {at(kT, p), at(kT, p2), at(kGradT, p), at(kGradT, p2)};
                });
              storeRotatedBack(
                  [&](Value d) {
                    return memref::LoadOp::create(b, kGradT, ValueRange{d, c})
                        .getResult();
                  },
                  dk, kvHead, j);
              kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
                kb->storeF32(memref::LoadOp::create(b, vGradT, ValueRange{d, c}), dv,
                             {batch, kvHead, j, d});
                return SmallVector<Value>{};
              });
              return SmallVector<Value>{};
            });
          });
    }
    return SmallVector<Value>{};
  });
  if (ropeParams) {
    // The rows' terms of theta's gradient, from the split's share of dq (its slice of
    // d_q_partial, before part "query" sums the splits and rotates them back): dq's
    // terms are linear in it. Then the program's share into theta's partial.
    kb->loop(zero, group, one, {}, [&](Value g, ValueRange) {
      Value head = arith::AddIOp::create(b, firstHead, g);
      kb->loop(zero, numN, one, {}, [&](Value i, ValueRange) {
        addThetaTerms(i, [&](Value p, Value p2, Value angle) -> std::array<Value, 4> {
          auto [y1, y2] = rotatePair(b, kb->loadF32(q, {batch, head, i, p}),
                                     kb->loadF32(q, {batch, head, i, p2}), angle);
          auto grad = [&](Value d) -> Value {
            return memref::LoadOp::create(b, partial,
                                          ValueRange{split, batch, head, i, d});
          };
          return {y1, y2, grad(p), grad(p2)};
        });
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
    Value total = memref::LoadOp::create(b, thetaSum, zero);
    inlineParamRegion(ropeParams.getBody(),
                      {arith::TruncFOp::create(b, b.getF32Type(), total)});
  }
  kb->freeScratch();
}

struct LowerAttentionGradToLoops
    : tmix::impl::LowerAttentionGradToLoopsBase<LowerAttentionGradToLoops> {
  using LowerAttentionGradToLoopsBase::LowerAttentionGradToLoopsBase;

  void runOnOperation() override {
    // The host's vector shape unless the options set one (an ahead-of-time build for
    // another CPU).
    VectorShape shape = hostVectorShape();
    if (lanes > 0)
      shape.lanes = lanes;
    if (vectorRegisters > 0)
      shape.registers = vectorRegisters;
    // Parts "key_value" and "query" through their tile programs (matched, then their
    // parts emitted as lane-tile loops); part "params" has none and is lowered as it is.
    ModuleOp module = getOperation();
    if (failed(checkEveryAttentionGradTiled(module)))
      return signalPassFailure();
    for (auto program : llvm::to_vector(module.getOps<tile::AttentionGradProgramOp>())) {
      FailureOr<AttentionGradProgramForm> form =
          matchAttentionGradProgram(program, kCpuTarget);
      if (failed(form))
        return signalPassFailure();
      // The CPU sums dq per key split: the GPUs' form, which recomputes it in part
      // "query", has no d_q_partial for part "key_value" to write.
      if (form->spec.getRecomputeDq()) {
        form->spec.emitOpError("has recompute_dq, the GPUs' form: the CPU runs the "
                               "backward with d_q_partial (tmix-derive-attention-grad "
                               "without recompute-dq)");
        return signalPassFailure();
      }
      if (failed(AttentionGradLowering(form->spec, shape, &*form).lower()))
        return signalPassFailure();
      program.erase();
      form->spec.erase();
      ++numLowered;
    }
    for (AttentionGradOp grad : llvm::to_vector(module.getOps<AttentionGradOp>())) {
      // The GPUs' part "params" sums rope's theta from rows that the CPU's parts do not
      // write (they sum it per key split).
      if (grad.getRopeRows()) {
        grad.emitOpError("has rope_rows, the GPUs' form: the CPU sums rope's theta per "
                         "key split (tmix-derive-attention-grad without recompute-dq)");
        return signalPassFailure();
      }
      if (failed(AttentionGradLowering(grad, shape).lower()))
        return signalPassFailure();
      grad.erase();
      ++numLowered;
    }
  }
};

} // namespace
