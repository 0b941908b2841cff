//===- LowerAttentionGradToLoops.cpp - Attention backward as loop programs ===//
//
// The CPU programs of the tmix.attention_grad kernels (tmix-derive-attention-grad),
// FlashAttention-2's backward with the probabilities recomputed from the saved lse:
//
//   part "query", grid B x H x N/kRowsPerProgram: the program keeps its rows' q
//   (rotated), dq, lse and D_i = d_o_i . o_i (- d_lse_i), and walks the keys tile by tile
//   (empty tiles skipped, full ones without mask code, as the forward);
//   part "key_value", grid B x HK x M/kKeysPerProgram: the program keeps its keys'
//   k (rotated), dk and dv, and walks every query head of its KV head's group and
//   their query rows tile by tile;
//   part "params", grid over the batch and head dims its params own (or one program):
//   the program zeroes its slices of the params' gradients and walks its (b, h)'s
//   pairs as part "query" does, accumulating tmix.score_param_grad per pair and
//   tmix.sink_grad per (b, h).
//
// Per kept pair (log2 domain as the forward, AttentionMath.h):
//   t = score(scale q.k) log2(e),  P = exp2(t - lse log2(e))   (0 on a row that kept
//   nothing), dS = score_grad(s, P (d_o_i . v_j - D_i)) scale
//   dq_i += dS k_j;  dk_j += dS q_i;  dv_j += P d_o_i
// and dq, dk are rotated back by rope's transpose. Each gradient element is summed by
// one program in one order: the result does not depend on the thread count.
//
// The programs are loops on per-program buffers (their dot products vectorised by
// LLVM): correct first. The tiled backward program and its micro-kernels are to come
// (docs/training.md).
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"

#include "dialect/ScheduleBounds.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionMath.h"
#include "passes/KeyTiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONGRADTOLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// Query rows per program of part "query", keys per program of part "key_value", and
/// the tile of the other side that one mask classification covers.
constexpr int64_t kRowsPerProgram = 32;
constexpr int64_t kKeysPerProgram = 32;
constexpr int64_t kClassifiedTile = 64;

class AttentionGradLowering {
public:
  explicit AttentionGradLowering(AttentionGradOp op) : op(op) {}
  LogicalResult lower();

private:
  /// Rope's rotation at `pos` (its transpose when `back`) of the row that `load` reads,
  /// element by element into `store`; a copy without rope.
  void rotateRow(Value pos, bool back, function_ref<Value(Value d)> load,
                 function_ref<void(Value x, Value d)> store);
  /// buffer[slot, :] = q or k row `pos` of (batch, head), rotated by rope.
  void loadRotated(Value src, Value head, Value pos, Value buffer, Value slot);
  /// dst[batch, head, pos, :] = buffer[slot, :] rotated back (rope's transpose).
  void storeRotatedBack(Value buffer, Value slot, Value dst, Value head, Value pos);
  /// sum_x a[x] b[x] over `count` elements, `load(x)` giving the two factors.
  Value dotProduct(Value count, function_ref<std::pair<Value, Value>(Value x)> load);
  /// buffer[slot, x] += factor * element(x) for x < count.
  void addScaled(Value buffer, Value slot, Value count, Value factor,
                 function_ref<Value(Value x)> element);
  void zeroRow(Value buffer, Value slot, Value count);
  /// D_i = d_o_i . o_i - d_lse_i of row i of query head `head`.
  Value outputDelta(Value head, Value i);

  /// The probability and the gradients of the pair (i, j) of query head `head`, from
  /// the rotated q and k rows in `qRow` and `kRow`, the row's lse (log2 domain) and D_i;
  /// `masked`: the mask runs (a partial tile).
  struct PairGradient {
    Value probability; // P_ij
    Value scaled;      // s = scale q.k, natural units
    Value scoreGrad;   // the loss's gradient with respect to the score, P (dP - D)
    Value dotGrad;     // ... with respect to q.k
  };
  /// A row of a per-program buffer: (buffer, slot).
  using BufferRow = std::pair<Value, Value>;
  PairGradient pairGradient(Value head, Value kvHead, Value i, Value j, BufferRow qRow,
                            BufferRow kRow, Value lseLog2, Value delta, bool masked);

  /// A tile of query rows [rowBegin, rowEnd) of one head and what the key walk keeps
  /// per row: q rotated, lse (log2 domain), D.
  struct QueryTile {
    Value head, kvHead, rowBegin, rowEnd, numRows;
    Value qRows, kRow, rowLse, rowDelta; // buffers
  };
  /// Allocates a query tile's buffers (before the scratch guard).
  QueryTile allocateQueryTile();
  /// Stages the rows [rowBegin, rowEnd) of `head` into `tile`'s buffers.
  void stageQueryTile(QueryTile &tile, Value head, Value rowBegin, Value rowEnd);
  /// Every kept (row, key) pair of the tile, in key-tile, key, row order (the mask's
  /// tile classes skip empty key tiles): `pairWork(r, j, pair)`.
  void walkKeys(const QueryTile &tile,
                function_ref<void(Value r, Value i, Value j, const PairGradient &)> pairWork);
  /// Inlines a tmix.score_param_grad or tmix.sink_grad region: its tmix.accumulate ops
  /// add to the owned elements of the params' gradients.
  void inlineParamRegion(Region &region, ValueRange args);

  void lowerQueryPart();
  void lowerKeyValuePart();
  void lowerParamsPart();

  AttentionGradOp op;
  std::unique_ptr<KernelBuilder> kb;
  bool splitParams[2] = {false, false}; // part "params": a program per batch, per head
  llvm::DenseMap<int64_t, Value> scalarSums; // part "params": f64 sums of scalar params
  ScoreGradOp scoreGrad;
  RopeOp rope;
  Value batch, numN, numM, numD, numDV, halfD, theta, group;
  Value scale, softmaxScale; // natural units; the forward's softmax's (AttentionMath.h)
  Value q, k, v, o, lse, outputGrad, lseGrad;
};

LogicalResult AttentionGradLowering::lower() {
  auto types = op.getSpecArgTypes();
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(types[0]).getDims();
  ArrayRef<Attribute> kDims = cast<SpecTensorType>(types[1]).getDims();
  ArrayRef<Attribute> vDims = cast<SpecTensorType>(types[2]).getDims();
  bool query = op.isQueryPart();
  SmallVector<GridDim> grid;
  if (op.isParamsPart()) {
    // Over the batch (head) dim when every param owns a dim indexed by exactly b (h).
    ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
    for (unsigned which : {0u, 1u}) {
      bool split = true;
      for (unsigned param = 0; 2 * param < owned.size(); ++param)
        split &= owned[2 * param + which] >= 0;
      splitParams[which] = split;
      if (split)
        grid.push_back({qDims[which], 1});
    }
    if (grid.empty())
      grid.push_back({IntegerAttr::get(IntegerType::get(op.getContext(), 64), 1), 1});
  } else if (query) {
    grid = {{qDims[0], 1}, {qDims[1], 1}, {qDims[2], kRowsPerProgram}};
  } else {
    grid = {{kDims[0], 1}, {kDims[1], 1}, {kDims[2], kKeysPerProgram}};
  }
  kb = std::make_unique<KernelBuilder>(op, grid);
  ImplicitLocOpBuilder &b = kb->builder();
  scoreGrad = findStatement<ScoreGradOp>(op);
  rope = findStatement<RopeOp>(op);
  batch = op.isParamsPart() ? Value() : kb->gridIndex(0);
  numN = kb->dimValue(qDims[2]);
  numM = kb->dimValue(kDims[2]);
  numD = kb->dimValue(qDims[3]);
  numDV = kb->dimValue(vDims[3]);
  group = arith::DivUIOp::create(b, kb->dimValue(qDims[1]), kb->dimValue(kDims[1]));
  q = kb->argMemRef(0);
  k = kb->argMemRef(1);
  v = kb->argMemRef(2);
  o = kb->argMemRef(op.getOutputArg());
  lse = kb->argMemRef(op.getLseArg());
  outputGrad = kb->argMemRef(op.getOutputGradArg());
  lseGrad = op.getLseGrad() ? kb->argMemRef(op.getLseGradArg()) : Value();
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

void AttentionGradLowering::loadRotated(Value src, Value head, Value pos, Value buffer,
                                        Value slot) {
  rotateRow(
      pos, /*back=*/false,
      [&](Value d) { return kb->loadF32(src, {batch, head, pos, d}); },
      [&](Value x, Value d) {
        memref::StoreOp::create(kb->builder(), x, buffer, ValueRange{slot, d});
      });
}

void AttentionGradLowering::storeRotatedBack(Value buffer, Value slot, Value dst,
                                             Value head, Value pos) {
  rotateRow(
      pos, /*back=*/true,
      [&](Value d) {
        return memref::LoadOp::create(kb->builder(), buffer, ValueRange{slot, d})
            .getResult();
      },
      [&](Value x, Value d) { kb->storeF32(x, dst, {batch, head, pos, d}); });
}

Value AttentionGradLowering::dotProduct(
    Value count, function_ref<std::pair<Value, Value>(Value x)> load) {
  ImplicitLocOpBuilder &b = kb->builder();
  return kb->loop(kb->index(0), count, kb->index(1), {kb->f32(0.0)},
                  [&](Value x, ValueRange sum) {
                    auto [lhs, rhs] = load(x);
                    // Reassociable: LLVM vectorises the sum (in an order fixed at compile
                    // time, so that results stay the same at any thread count).
                    auto flags = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
                    Value product = arith::MulFOp::create(b, lhs, rhs, flags);
                    return SmallVector<Value>{
                        arith::AddFOp::create(b, sum[0], product, flags)};
                  })[0];
}

void AttentionGradLowering::addScaled(Value buffer, Value slot, Value count, Value factor,
                                      function_ref<Value(Value x)> element) {
  ImplicitLocOpBuilder &b = kb->builder();
  kb->loop(kb->index(0), count, kb->index(1), {}, [&](Value x, ValueRange) {
    Value old = memref::LoadOp::create(b, buffer, ValueRange{slot, x});
    Value sum = arith::AddFOp::create(b, old, arith::MulFOp::create(b, factor, element(x)));
    memref::StoreOp::create(b, sum, buffer, ValueRange{slot, x});
    return SmallVector<Value>{};
  });
}

void AttentionGradLowering::zeroRow(Value buffer, Value slot, Value count) {
  kb->loop(kb->index(0), count, kb->index(1), {}, [&](Value x, ValueRange) {
    memref::StoreOp::create(kb->builder(), kb->f32(0.0), buffer, ValueRange{slot, x});
    return SmallVector<Value>{};
  });
}

Value AttentionGradLowering::outputDelta(Value head, Value i) {
  Value delta = dotProduct(numDV, [&](Value d) {
    return std::pair{kb->loadF32(outputGrad, {batch, head, i, d}),
                     kb->loadF32(o, {batch, head, i, d})};
  });
  // d lse_i / d s_ij = P_ij: the gradient of lse joins every dS_ij of the row as -D_i.
  if (lseGrad)
    delta = arith::SubFOp::create(kb->builder(), delta,
                                  kb->loadF32(lseGrad, {batch, head, i}));
  return delta;
}

AttentionGradLowering::PairGradient
AttentionGradLowering::pairGradient(Value head, Value kvHead, Value i, Value j,
                                    BufferRow qRow, BufferRow kRow, Value lseLog2,
                                    Value delta, bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto element = [&](BufferRow row, Value d) {
    return memref::LoadOp::create(b, row.first, ValueRange{row.second, d}).getResult();
  };
  Value qk = dotProduct(numD, [&](Value d) {
    return std::pair{element(qRow, d), element(kRow, d)};
  });
  Value dp = dotProduct(numDV, [&](Value d) {
    return std::pair{kb->loadF32(outputGrad, {batch, head, i, d}),
                     kb->loadF32(v, {batch, kvHead, j, d})};
  });
  Value s = arith::MulFOp::create(b, scale, qk); // natural units
  // scoreElement reads the score in the units of the forward's softmax (scoreScale's)
  // and gives it in the log2 domain, -inf where dropped.
  Value scoreInput = arith::MulFOp::create(b, softmaxScale, qk);
  Value b64 = kb->toI64(batch), h64 = kb->toI64(head), i64 = kb->toI64(i),
        j64 = kb->toI64(j);
  Value t = scoreElement(*kb, op, b64, h64, i64, j64, scoreInput, masked);
  // A row that kept nothing has lse = -inf: its probabilities are 0, not NaN.
  Value emptyRow =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, lseLog2, kb->f32(-INFINITY));
  Value p = arith::SelectOp::create(
      b, emptyRow, kb->f32(0.0),
      math::Exp2Op::create(b, arith::SubFOp::create(b, t, lseLog2)));
  Value scoreGradValue = arith::MulFOp::create(b, p, arith::SubFOp::create(b, dp, delta));
  Value sGrad = scoreGrad
                    ? kb->inlineRegion(scoreGrad.getBody(),
                                       {b64, h64, i64, j64, s, scoreGradValue})[0]
                    : scoreGradValue;
  return {p, s, scoreGradValue, arith::MulFOp::create(b, sGrad, scale)};
}

AttentionGradLowering::QueryTile AttentionGradLowering::allocateQueryTile() {
  Type f32 = kb->builder().getF32Type();
  int64_t dynamic = ShapedType::kDynamic;
  QueryTile tile;
  tile.qRows = kb->allocateScratch(MemRefType::get({kRowsPerProgram, dynamic}, f32), numD);
  tile.kRow = kb->allocateScratch(MemRefType::get({1, dynamic}, f32), numD);
  tile.rowLse = kb->allocateScratch(MemRefType::get({kRowsPerProgram}, f32), {});
  tile.rowDelta = kb->allocateScratch(MemRefType::get({kRowsPerProgram}, f32), {});
  return tile;
}

void AttentionGradLowering::stageQueryTile(QueryTile &tile, Value head, Value rowBegin,
                                           Value rowEnd) {
  ImplicitLocOpBuilder &b = kb->builder();
  tile.head = head;
  tile.kvHead = arith::DivUIOp::create(b, head, group);
  tile.rowBegin = rowBegin;
  tile.rowEnd = rowEnd;
  tile.numRows = arith::SubIOp::create(b, rowEnd, rowBegin);
  kb->loop(kb->index(0), tile.numRows, kb->index(1), {}, [&](Value r, ValueRange) {
    Value i = arith::AddIOp::create(b, rowBegin, r);
    loadRotated(q, head, i, tile.qRows, r);
    Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                          kb->f32(kLog2e));
    memref::StoreOp::create(b, lseLog2, tile.rowLse, ValueRange{r});
    memref::StoreOp::create(b, outputDelta(head, i), tile.rowDelta, ValueRange{r});
    return SmallVector<Value>{};
  });
}

void AttentionGradLowering::walkKeys(
    const QueryTile &tile,
    function_ref<void(Value r, Value i, Value j, const PairGradient &)> pairWork) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  Value last = arith::SubIOp::create(b, tile.rowEnd, one);
  kb->loop(zero, numM, kb->index(kClassifiedTile), {}, [&](Value keys, ValueRange) {
    Value keysEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, keys, kb->index(kClassifiedTile)), numM);
    KeyTileClass tileClass =
        classifyKeyTile(*kb, op, batch, tile.head, tile.rowBegin, last, keys,
                        arith::SubIOp::create(b, keysEnd, one));
    return runKeyTile(*kb, tileClass, {}, {}, [&](bool masked) {
      kb->loop(keys, keysEnd, one, {}, [&](Value j, ValueRange) {
        loadRotated(k, tile.kvHead, j, tile.kRow, zero);
        kb->loop(zero, tile.numRows, one, {}, [&](Value r, ValueRange) {
          Value i = arith::AddIOp::create(b, tile.rowBegin, r);
          Value lseLog2 = memref::LoadOp::create(b, tile.rowLse, ValueRange{r});
          Value delta = memref::LoadOp::create(b, tile.rowDelta, ValueRange{r});
          pairWork(r, i, j,
                   pairGradient(tile.head, tile.kvHead, i, j, {tile.qRows, r},
                                {tile.kRow, zero}, lseLog2, delta, masked));
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
  });
}

void AttentionGradLowering::lowerQueryPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value head = kb->gridIndex(1);
  Value zero = kb->index(0), one = kb->index(1);
  Value rowBegin = arith::MulIOp::create(b, kb->gridIndex(2), kb->index(kRowsPerProgram));
  Value rowEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, rowBegin, kb->index(kRowsPerProgram)), numN);

  QueryTile tile = allocateQueryTile();
  Value qGrad = kb->allocateScratch(
      MemRefType::get({kRowsPerProgram, ShapedType::kDynamic}, b.getF32Type()), numD);
  kb->guardScratch();

  stageQueryTile(tile, head, rowBegin, rowEnd);
  kb->loop(zero, tile.numRows, one, {}, [&](Value r, ValueRange) {
    zeroRow(qGrad, r, numD);
    return SmallVector<Value>{};
  });
  walkKeys(tile, [&](Value r, Value, Value, const PairGradient &pair) {
    addScaled(qGrad, r, numD, pair.dotGrad, [&](Value d) {
      return memref::LoadOp::create(b, tile.kRow, ValueRange{zero, d}).getResult();
    });
  });

  Value dq = kb->resultMemRef(0);
  kb->loop(zero, tile.numRows, one, {}, [&](Value r, ValueRange) {
    storeRotatedBack(qGrad, r, dq, head, arith::AddIOp::create(b, rowBegin, r));
    return SmallVector<Value>{};
  });
  kb->freeScratch();
}

void AttentionGradLowering::inlineParamRegion(Region &region, ValueRange args) {
  ImplicitLocOpBuilder &b = kb->builder();
  ArrayRef<int64_t> params = op.getParamsAttr().asArrayRef();
  IRMapping mapping = kb->scalarMapping();
  for (auto [arg, value] : llvm::zip(region.front().getArguments(), args))
    mapping.map(arg, value);
  for (Operation &inner : region.front().without_terminator()) {
    auto accumulate = dyn_cast<AccumulateOp>(inner);
    if (!accumulate) {
      kb->cloneScalarOp(inner, mapping);
      continue;
    }
    unsigned argument = cast<BlockArgument>(accumulate.getTarget()).getArgNumber();
    Value out = kb->resultMemRef(llvm::find(params, argument) - params.begin());
    Value value = mapping.lookup(accumulate.getValue());
    // An index outside the tensor adds nothing: the read it comes from gave 0.
    SmallVector<Value> indices;
    Value inBounds;
    for (auto [dim, index] : llvm::enumerate(accumulate.getIndices())) {
      Value i64 = mapping.lookup(index);
      Value extent = kb->toI64(memref::DimOp::create(b, out, dim));
      Value fits = arith::AndIOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, i64, kb->toI64(kb->index(0))),
          arith::CmpIOp::create(b, arith::CmpIPredicate::slt, i64, extent));
      inBounds = inBounds ? arith::AndIOp::create(b, inBounds, fits).getResult() : fits;
      indices.push_back(kb->toIndex(i64));
    }
    if (indices.empty()) {
      // A scalar's gradient sums every pair's term, which cancel (they sum to 0 over
      // a row): in f64, stored as f32 at the end (the one program owns it).
      Value sum = scalarSums.lookup(argument);
      Value old = memref::LoadOp::create(b, sum, ValueRange{kb->index(0)});
      Value wide = arith::ExtFOp::create(b, b.getF64Type(), value);
      memref::StoreOp::create(b, arith::AddFOp::create(b, old, wide), sum,
                              ValueRange{kb->index(0)});
      continue;
    }
    auto add = [&] {
      Value old = memref::LoadOp::create(b, out, indices);
      memref::StoreOp::create(b, arith::AddFOp::create(b, old, value), out, indices);
      return SmallVector<Value>{};
    };
    if (inBounds)
      kb->ifElse(inBounds, {}, add, [] { return SmallVector<Value>{}; });
    else
      add();
  }
}

void AttentionGradLowering::lowerParamsPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  auto qDims = cast<SpecTensorType>(op.getSpecArgTypes()[0]).getDims();
  // The program's batches and heads: its own (split) or all.
  unsigned gridDim = 0;
  Value range[2][2];
  for (unsigned which : {0u, 1u}) {
    if (splitParams[which]) {
      Value index = kb->gridIndex(gridDim++);
      range[which][0] = index;
      range[which][1] = arith::AddIOp::create(b, index, one);
    } else {
      range[which][0] = zero;
      range[which][1] = kb->dimValue(qDims[which]);
    }
  }

  // Zero the elements the program owns: the params' slices at its batch and head.
  ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
  for (unsigned param = 0; 2 * param < owned.size(); ++param) {
    Value out = kb->resultMemRef(param);
    unsigned rank = cast<MemRefType>(out.getType()).getRank();
    SmallVector<Value> indices(rank);
    std::function<void(unsigned)> zeroFrom = [&](unsigned dim) {
      if (dim == rank) {
        memref::StoreOp::create(b, kb->f32(0.0), out, indices);
        return;
      }
      for (unsigned which : {0u, 1u})
        if (splitParams[which] && owned[2 * param + which] == static_cast<int64_t>(dim)) {
          indices[dim] = range[which][0];
          zeroFrom(dim + 1);
          return;
        }
      kb->loop(zero, memref::DimOp::create(b, out, dim), one, {}, [&](Value x, ValueRange) {
        indices[dim] = x;
        zeroFrom(dim + 1);
        return SmallVector<Value>{};
      });
    };
    zeroFrom(0);
  }

  auto scoreParams = findStatement<ScoreParamGradOp>(op);
  auto sinkParams = findStatement<SinkGradOp>(op);
  SinkOp sink = findStatement<SinkOp>(op);
  QueryTile tile = allocateQueryTile();
  ArrayRef<int64_t> params = op.getParamsAttr().asArrayRef();
  for (int64_t argument : params)
    if (!isa<SpecTensorType>(op.getSpecArgTypes()[argument]))
      scalarSums[argument] =
          kb->allocateScratch(MemRefType::get({1}, b.getF64Type()), ValueRange{});
  kb->guardScratch();
  for (auto [argument, sum] : scalarSums)
    memref::StoreOp::create(b, arith::ConstantOp::create(b, b.getF64FloatAttr(0.0)), sum,
                            ValueRange{zero});
  kb->loop(range[0][0], range[0][1], one, {}, [&](Value batchIndex, ValueRange) {
    batch = batchIndex;
    kb->loop(range[1][0], range[1][1], one, {}, [&](Value head, ValueRange) {
      Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
      if (sinkParams) {
        // d loss / d sink = -sum_i P_sink,i D_i, P_sink,i = exp2(sink - lse_i log2(e)).
        Value sinkLog2 = sinkLogit(*kb, sink, b64, h64);
        Value sum = kb->loop(zero, numN, one, {kb->f32(0.0)}, [&](Value i, ValueRange acc) {
          Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                                kb->f32(kLog2e));
          Value emptyRow = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, lseLog2,
                                                 kb->f32(-INFINITY));
          Value p = arith::SelectOp::create(
              b, emptyRow, kb->f32(0.0),
              math::Exp2Op::create(b, arith::SubFOp::create(b, sinkLog2, lseLog2)));
          Value term = arith::MulFOp::create(b, p, outputDelta(head, i));
          return SmallVector<Value>{arith::AddFOp::create(b, acc[0], term)};
        })[0];
        inlineParamRegion(sinkParams.getBody(), {b64, h64, arith::NegFOp::create(b, sum)});
      }
      if (scoreParams)
        kb->loop(zero, numN, kb->index(kRowsPerProgram), {}, [&](Value rowBegin, ValueRange) {
          Value rowEnd = arith::MinUIOp::create(
              b, arith::AddIOp::create(b, rowBegin, kb->index(kRowsPerProgram)), numN);
          stageQueryTile(tile, head, rowBegin, rowEnd);
          walkKeys(tile, [&](Value, Value i, Value j, const PairGradient &pair) {
            inlineParamRegion(scoreParams.getBody(),
                              {b64, h64, kb->toI64(i), kb->toI64(j), pair.scaled,
                               pair.scoreGrad});
          });
          return SmallVector<Value>{};
        });
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  for (auto [argument, sum] : scalarSums) {
    Value total = memref::LoadOp::create(b, sum, ValueRange{zero});
    Value out = kb->resultMemRef(llvm::find(params, argument) - params.begin());
    memref::StoreOp::create(b, arith::TruncFOp::create(b, b.getF32Type(), total), out,
                            ValueRange{zero});
  }
  kb->freeScratch();
}

void AttentionGradLowering::lowerKeyValuePart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  int64_t dynamic = ShapedType::kDynamic;
  Value kvHead = kb->gridIndex(1);
  Value zero = kb->index(0), one = kb->index(1);

  Value keyBegin = arith::MulIOp::create(b, kb->gridIndex(2), kb->index(kKeysPerProgram));
  Value keyEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, keyBegin, kb->index(kKeysPerProgram)), numM);
  Value numKeys = arith::SubIOp::create(b, keyEnd, keyBegin);

  Value kRows = kb->allocateScratch(MemRefType::get({kKeysPerProgram, dynamic}, f32), numD);
  Value kGrad = kb->allocateScratch(MemRefType::get({kKeysPerProgram, dynamic}, f32), numD);
  Value vGrad = kb->allocateScratch(MemRefType::get({kKeysPerProgram, dynamic}, f32), numDV);
  Value qRow = kb->allocateScratch(MemRefType::get({1, dynamic}, f32), numD);
  kb->guardScratch();

  kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
    loadRotated(k, kvHead, arith::AddIOp::create(b, keyBegin, c), kRows, c);
    zeroRow(kGrad, c, numD);
    zeroRow(vGrad, c, numDV);
    return SmallVector<Value>{};
  });

  // Every query head of the group, in order: GQA's sum over the group is this loop.
  Value lastKey = arith::SubIOp::create(b, keyEnd, one);
  Value firstHead = arith::MulIOp::create(b, kvHead, group);
  kb->loop(zero, group, one, {}, [&](Value g, ValueRange) {
    Value head = arith::AddIOp::create(b, firstHead, g);
    kb->loop(zero, numN, kb->index(kClassifiedTile), {}, [&](Value tile, ValueRange) {
      Value tileEnd = arith::MinUIOp::create(
          b, arith::AddIOp::create(b, tile, kb->index(kClassifiedTile)), numN);
      KeyTileClass tileClass =
          classifyKeyTile(*kb, op, batch, head, tile, arith::SubIOp::create(b, tileEnd, one),
                          keyBegin, lastKey);
      return runKeyTile(*kb, tileClass, {}, {}, [&](bool masked) {
        kb->loop(tile, tileEnd, one, {}, [&](Value i, ValueRange) {
          loadRotated(q, head, i, qRow, zero);
          Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                                kb->f32(kLog2e));
          Value delta = outputDelta(head, i);
          kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
            Value j = arith::AddIOp::create(b, keyBegin, c);
            PairGradient pair = pairGradient(head, kvHead, i, j, {qRow, zero}, {kRows, c},
                                             lseLog2, delta, masked);
            addScaled(vGrad, c, numDV, pair.probability, [&](Value d) {
              return kb->loadF32(outputGrad, {batch, head, i, d});
            });
            addScaled(kGrad, c, numD, pair.dotGrad, [&](Value d) {
              return memref::LoadOp::create(b, qRow, ValueRange{zero, d}).getResult();
            });
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
    });
    return SmallVector<Value>{};
  });

  Value dk = kb->resultMemRef(0), dv = kb->resultMemRef(1);
  kb->loop(zero, numKeys, one, {}, [&](Value c, ValueRange) {
    Value j = arith::AddIOp::create(b, keyBegin, c);
    storeRotatedBack(kGrad, c, dk, kvHead, j);
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      kb->storeF32(memref::LoadOp::create(b, vGrad, ValueRange{c, d}), dv,
                   {batch, kvHead, j, d});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  kb->freeScratch();
}

struct LowerAttentionGradToLoops
    : tmix::impl::LowerAttentionGradToLoopsBase<LowerAttentionGradToLoops> {
  void runOnOperation() override {
    for (AttentionGradOp grad :
         llvm::to_vector(getOperation().getOps<AttentionGradOp>())) {
      if (failed(AttentionGradLowering(grad).lower()))
        return signalPassFailure();
      grad.erase();
      ++numLowered;
    }
  }
};

} // namespace
