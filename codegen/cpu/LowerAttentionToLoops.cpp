//===- LowerAttentionToLoops.cpp - Tile programs of attention to loop programs -===//
//
// The CPU program of a tmix_tile.attention program (AttentionProgramForm.h), one op at
// a time. One program per (batch, head, query tile). Query rows live in vector lanes: a tile
// of block_m rows is G = ceil(block_m / L) vectors of L lanes (the schedule's `lanes`:
// 16 for AVX-512), so the whole online-softmax state of a tile (running max m, running
// sum l, one accumulator vector per value column) is lane-wise and the softmax needs
// no horizontal reductions. Per KV tile:
//   S^T = K Q^T     register-blocked over R keys: G*R accumulators; per head-dim
//                   element, G query-vector loads and R broadcasts of K elements;
//   score, mask     scalar loops over (key, row), which LLVM vectorises;
//   P^T = exp2(S^T - m), l = l * alpha + sum P^T, alpha = exp2(m_old - m);
//   O^T = O^T * alpha + V^T P^T, register-blocked over R value columns.
// R is the most that keeps the accumulators, row vectors and broadcasts in the
// target's vector registers. Scores are in the log2 domain so that every exponential
// is an exp2; without a score statement log2(e) is folded into the scale, which is
// folded into Q^T. KV tiles are classified by the mask's interval bounds
// (TileMaskBounds.h), first by ranges of tiles: empty ones are skipped, full ones run
// without mask code.
//
//===----------------------------------------------------------------------===//

#include "dialect/TileOps.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionMath.h"
#include "passes/AttentionProgramForm.h"
#include "passes/KernelBuilder.h"
#include "passes/KeyTiles.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/LaneTiles.h"
#include "codegen/cpu/Passes.h"
#include "dialect/ScheduleBounds.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONTOLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// KV tiles per range of the first, coarse level of mask classification.
constexpr int64_t kTilesPerRange = 8;

/// The CPU's exponentials: math ops, which tmix-polynomial-math turns into inline
/// polynomials that LLVM vectorises.
Value mathExp2(ImplicitLocOpBuilder &b, Value x) { return math::Exp2Op::create(b, x); }
Value mathLog2(ImplicitLocOpBuilder &b, Value x) { return math::Log2Op::create(b, x); }

/// Emits the program of one attention spec.
class AttentionLowering {
public:
  AttentionLowering(tile::AttentionProgramOp program, const AttentionProgramForm &form,
                    AttentionOp op, AttentionScheduleAttr schedule)
      : program(program), form(form), op(op), blockM(schedule.getBlockM()), blockN(schedule.getBlockN()),
        lanes(schedule.getLanes()), groups((blockM + lanes - 1) / lanes),
        vectorRegisters(schedule.getVectorRegisters()),
        valueColsPerBlock(registerBlock(groups, schedule.getVectorRegisters())),
        keysPerBlock(std::min(blockN, valueColsPerBlock)) {}

  /// Emits the program; failure after an error on the tile program or the spec
  /// (an op this lowering does not run, scratch buffers too large).
  LogicalResult lower();

private:
  /// Emits the ops of the program's body, or of a KV tile's body (`keyTile`,
  /// `keyCount`, `masked` set), in order: each op of the matched form is one step of
  /// the loop program, on the buffers below (the state updated in place).
  void emitOps(Block &block, Value keyTile = {}, Value keyCount = {}, bool masked = false);
  void emitKeyValueLoop(tile::KeyValueLoopOp loop);
  void emitFinalize();

  Value cst(double value) { return kb->f32(value); }
  Value splat(double value) { return tiles->splat(value); }

  /// The class of the mask over the program's rows and the keys [first, end).
  KeyTileClass classifyKeys(Value first, Value end);
  /// Stages what the micro-kernels cannot read in place from the KV tile
  /// [tile, tile + count): K (rotated, widened) and V (widened) rows.
  void stageTile(Value tile, Value count);
  /// S^T[j, :] = K[j] . Q^T for the block_n keys of the tile.
  void scoreTile(Value tile);
  /// Keys [first, first + width) of the tile in the score micro-kernel.
  void scoreBlock(Value tile, Value first, int64_t width);
  /// The score statement and, when `masked`, the mask over the valid (key, row)
  /// pairs; keys past the tile's end become -inf.
  void modifyScores(Value tile, Value count, bool masked);
  /// The online-softmax update with the scores of the tile: P^T replaces S^T in the
  /// score buffer; returns alpha, the per-lane rescale of the accumulators.
  SmallVector<Value> softmaxTile();
  /// O^T = O^T * alpha + V^T P^T over the tile's `count` keys.
  void accumulateTile(Value tile, Value count, ValueRange alpha);

  /// Rotates (RoPE) or copies src[prefix..., pos, :] and hands each element to
  /// `store(d, x)`.
  void loadRotatedRow(Value src, ValueRange prefix, Value pos,
                      function_ref<void(Value d, Value x)> store);

  tile::AttentionProgramOp program;
  AttentionProgramForm form;
  AttentionOp op;
  // The per-lane rescale of the accumulators after the last softmax update.
  SmallVector<Value> alpha;
  // One register block serves both micro-kernels: R value columns, and R keys
  // (fewer if the tile has fewer).
  int64_t blockM, blockN, lanes, groups, vectorRegisters, valueColsPerBlock, keysPerBlock;
  // Whether the micro-kernels read K and V in place: f32 tensors (and K unrotated)
  // need no staging copy.
  bool kInPlace = false, vInPlace = false;
  std::unique_ptr<KernelBuilder> kb;
  std::unique_ptr<LaneTiles> tiles;
  MaskOp maskOp;
  ScoreOp scoreOp;
  SinkOp sinkOp;
  RopeOp ropeOp;

  // Program-wide values.
  Value bIdx, hIdx, hkIdx, numD, numDV, numM, halfD, rowBegin, rowEnd, numRows;
  Value q, k, v, o, lse;
  Value scaleLog2; // scale * log2(e) without a score statement, else scale
  Value theta;     // RoPE base
  // Buffers, rows in lanes: Q^T [D, G*L] (scaled, zero past the last row); the staged
  // K [block_n, D] and V [block_n, DV] tiles, when not read in place; S^T / P^T
  // [block_n, G*L]; O^T [DV, G*L]; the running max and sum [G*L].
  Value qT, kTile, vTile, scoresT, accT, rowMax, rowSum;
};

LogicalResult AttentionLowering::lower() {
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  auto kType = cast<SpecTensorType>(types[1]);
  auto vType = cast<SpecTensorType>(types[2]);
  ArrayRef<Attribute> qDims = qType.getDims();
  kb = std::make_unique<KernelBuilder>(
      op, ArrayRef<GridDim>{{qDims[0], 1}, {qDims[1], 1}, {qDims[2], blockM}});
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  tiles = std::make_unique<LaneTiles>(*kb, lanes, groups, vectorRegisters);
  maskOp = findStatement<MaskOp>(op);
  scoreOp = findStatement<ScoreOp>(op);
  sinkOp = findStatement<SinkOp>(op);
  ropeOp = findStatement<RopeOp>(op);
  kInPlace = kType.getElementType().isF32() && !ropeOp;
  vInPlace = vType.getElementType().isF32();

  AttentionProgram args = readAttentionProgram(*kb, op);
  bIdx = args.batch;
  hIdx = args.head;
  hkIdx = args.kvHead;
  Value qTile = args.queryTile;
  Value numN = args.numN;
  numM = args.numM;
  numD = kb->dimValue(qDims[3]);
  numDV = kb->dimValue(vType.getDims()[3]);
  q = args.q;
  k = args.k;
  v = args.v;
  o = args.o;
  lse = args.lse;

  // ---- scale (default 1 / sqrt(D)), log2(e) folded in (AttentionMath.h) ----
  scaleLog2 = scoreScale(*kb, op, numD);
  if (ropeOp) {
    theta = kb->inlineRegion(ropeOp.getBody(), {})[0];
    halfD = arith::DivUIOp::create(b, numD, kb->index(2));
  }

  // ---- per-program buffers, on the heap: their sizes grow with the head dims and
  // the tile sizes, which no thread's stack bounds. The work runs only once all are
  // allocated (KernelBuilder's status word) ----
  int64_t dynamic = ShapedType::kDynamic, width = groups * lanes;
  auto allocate = [&](ArrayRef<int64_t> shape, ValueRange sizes) {
    return kb->allocateScratch(MemRefType::get(shape, f32), sizes);
  };
  qT = allocate({dynamic, width}, numD);
  if (!kInPlace)
    kTile = allocate({blockN, dynamic}, numD);
  if (!vInPlace)
    vTile = allocate({blockN, dynamic}, numDV);
  scoresT = allocate({blockN, width}, {});
  accT = allocate({dynamic, width}, numDV);
  rowMax = allocate({width}, {});
  rowSum = allocate({width}, {});
  if (kb->knownScratchBytes() > static_cast<uint64_t>(kMaxProgramScratchBytes))
    return op.emitOpError("needs ")
           << kb->knownScratchBytes()
           << " bytes of scratch buffers per program (block_m=" << blockM
           << ", block_n=" << blockN << " and the fixed head dims), more than "
           << kMaxProgramScratchBytes << ": choose smaller tiles";
  kb->guardScratch();

  rowBegin = arith::MulIOp::create(b, qTile, kb->index(blockM));
  rowEnd = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, rowBegin, kb->index(blockM)), numN);
  numRows = arith::SubIOp::create(b, rowEnd, rowBegin);
  // Walk the tile program; each op is one step of the CPU's program, on the buffers
  // above (the state updated in place).
  emitOps(program.getBodyBlock());
  kb->freeScratch();
  return success();
}

void AttentionLowering::emitOps(Block &block, Value keyTile, Value keyCount,
                                bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  for (Operation &operation : block) {
    llvm::TypeSwitch<Operation *>(&operation)
        // Q^T, rotated and scaled once, zero in the lanes past the last row (their
        // scores stay finite and are never stored).
        .Case([&](tile::LoadQueryOp) {
          tiles->fill(qT, numD, 0.0);
          kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
            Value i = arith::AddIOp::create(b, rowBegin, r);
            loadRotatedRow(q, {bIdx, hIdx}, i, [&](Value d, Value x) {
              memref::StoreOp::create(b, arith::MulFOp::create(b, x, scaleLog2), qT,
                                      ValueRange{d, r});
            });
            return SmallVector<Value>{};
          });
        })
        // O^T = 0, m = -inf, l = 0.
        .Case([&](tile::SoftmaxInitOp) {
          tiles->fill(accT, numDV, 0.0);
          for (int64_t g = 0; g < groups; ++g) {
            tiles->store(splat(-INFINITY), rowMax, Value(), g);
            tiles->store(splat(0.0), rowSum, Value(), g);
          }
        })
        .Case([&](tile::KeyValueLoopOp loop) { emitKeyValueLoop(loop); })
        .Case([&](tile::LoadKeyValueOp) { stageTile(keyTile, keyCount); })
        .Case([&](tile::DotOp dot) {
          if (dot == form.scores)
            scoreTile(keyTile);                       // S^T = K Q^T
          else
            accumulateTile(keyTile, keyCount, alpha); // O^T = O^T * alpha + V^T P^T
        })
        .Case([&](tile::ScoreOp) { modifyScores(keyTile, keyCount, masked); })
        .Case([&](tile::SoftmaxUpdateOp) { alpha = softmaxTile(); })
        // The rescale is folded into the accumulation's register block: acc * alpha,
        // then the FMAs; the stores of tmix_tile.store run in the finalize step's loop
        // over rows; the state is updated in place.
        .Case<tile::RescaleOp, tile::StoreOp, tile::YieldOp>([](Operation *) {})
        .Case([&](tile::FinalizeOp) { emitFinalize(); });
  }
}

void AttentionLowering::emitKeyValueLoop(tile::KeyValueLoopOp loop) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  // A staged K tile starts zeroed, so that keys past the end of a last tile are finite.
  if (!kInPlace)
    kb->loop(zero, kb->index(blockN), one, {}, [&](Value key, ValueRange) {
      kb->loop(zero, numD, one, {}, [&](Value d, ValueRange) {
        memref::StoreOp::create(b, cst(0.0), kTile, ValueRange{key, d});
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });

  // Each KV tile is classified for the whole query tile: an empty one is not even
  // loaded, a full one runs without mask code. Ranges of kTilesPerRange tiles are
  // classified first, so that a band (a window, causal's triangle) costs one test per
  // empty range rather than one per empty tile.
  auto walkTiles = [&](Value first, Value last) {
    kb->loop(first, last, kb->index(blockN), {}, [&](Value tile, ValueRange) {
      Value tileEnd = arith::MinUIOp::create(
          b, arith::AddIOp::create(b, tile, kb->index(blockN)), numM);
      Value count = arith::SubIOp::create(b, tileEnd, tile);
      auto process = [&](bool masked) {
        emitOps(loop.getBodyBlock(), tile, count, masked);
        return SmallVector<Value>{};
      };
      return runKeyTile(*kb, classifyKeys(tile, tileEnd), {}, {}, process);
    });
  };
  if (!maskOp) {
    walkTiles(zero, numM);
    return;
  }
  Value rangeKeys = kb->index(kTilesPerRange * blockN);
  kb->loop(zero, numM, rangeKeys, {}, [&](Value first, ValueRange) {
    Value last =
        arith::MinUIOp::create(b, arith::AddIOp::create(b, first, rangeKeys), numM);
    // A range is only skipped or walked: its tiles are classified one by one.
    KeyTileClass rangeClass{classifyKeys(first, last).run, /*needMask=*/Value()};
    return runKeyTile(*kb, rangeClass, {}, {}, [&](bool) {
      walkTiles(first, last);
      return SmallVector<Value>{};
    });
  });
}

/// Per row: the sink logit joins the denominator (with no value row); then
/// o = acc / l, and a row with nothing kept gives o = 0 and lse = -inf (a row that saw
/// a NaN has l = NaN, not empty: o and lse are NaN). The program's tmix_tile.store
/// runs here, in the same loop over rows.
void AttentionLowering::emitFinalize() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  bool storeLse = bool(form.store.getLse());
  kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
    Value i = arith::AddIOp::create(b, rowBegin, r);
    Value m = memref::LoadOp::create(b, rowMax, r);
    Value l = memref::LoadOp::create(b, rowSum, r);
    Value sink = sinkOp ? sinkLogit(*kb, sinkOp, kb->toI64(bIdx), kb->toI64(hIdx)) : Value();
    RowResult row = finishRow(b, m, l, sink, mathExp2);
    kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
      Value a = memref::LoadOp::create(b, accT, ValueRange{d, r});
      kb->storeF32(arith::MulFOp::create(b, a, row.factor), o, ValueRange{bIdx, hIdx, i, d});
      return SmallVector<Value>{};
    });
    if (storeLse)
      kb->storeF32(rowLogSumExp(b, row, mathLog2), lse, ValueRange{bIdx, hIdx, i});
    return SmallVector<Value>{};
  });
}

KeyTileClass AttentionLowering::classifyKeys(Value first, Value end) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value one = kb->index(1);
  return classifyKeyTile(*kb, op, bIdx, hIdx, rowBegin, arith::SubIOp::create(b, rowEnd, one),
                         first, arith::SubIOp::create(b, end, one));
}

void AttentionLowering::stageTile(Value tile, Value count) {
  if (kInPlace && vInPlace)
    return;
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  kb->loop(zero, count, one, {}, [&](Value jj, ValueRange) {
    Value j = arith::AddIOp::create(b, tile, jj);
    if (!kInPlace) {
      loadRotatedRow(k, {bIdx, hkIdx}, j, [&](Value d, Value x) {
        memref::StoreOp::create(b, x, kTile, ValueRange{jj, d});
      });
    }
    if (!vInPlace)
      kb->loop(zero, numDV, one, {}, [&](Value d, ValueRange) {
        memref::StoreOp::create(b, kb->loadF32(v, ValueRange{bIdx, hkIdx, j, d}),
                                vTile, ValueRange{jj, d});
        return SmallVector<Value>{};
      });
    return SmallVector<Value>{};
  });
}

void AttentionLowering::scoreTile(Value tile) {
  int64_t fullEnd = blockN / keysPerBlock * keysPerBlock;
  kb->loop(kb->index(0), kb->index(fullEnd), kb->index(keysPerBlock), {},
           [&](Value first, ValueRange) {
             scoreBlock(tile, first, keysPerBlock);
             return SmallVector<Value>{};
           });
  if (fullEnd < blockN)
    scoreBlock(tile, kb->index(fullEnd), blockN - fullEnd);
}

void AttentionLowering::scoreBlock(Value tile, Value first, int64_t width) {
  ImplicitLocOpBuilder &b = kb->builder();
  SmallVector<Value> keys, keyRows;
  Value lastRow = arith::SubIOp::create(b, numM, kb->index(1));
  for (int64_t jj = 0; jj < width; ++jj) {
    keys.push_back(arith::AddIOp::create(b, first, kb->index(jj)));
    // Read in place, a key past the end of the last tile reads the last key: its
    // score is finite and replaced by -inf.
    if (kInPlace)
      keyRows.push_back(arith::MinUIOp::create(
          b, arith::AddIOp::create(b, tile, keys.back()), lastRow));
  }
  SmallVector<Value> sums = tiles->outerProducts(
      numD, SmallVector<Value>(groups * width, splat(0.0)), qT,
      [&](Value d, int64_t jj) -> Value {
        if (kInPlace)
          return memref::LoadOp::create(b, k, ValueRange{bIdx, hkIdx, keyRows[jj], d});
        return memref::LoadOp::create(b, kTile, ValueRange{keys[jj], d});
      });
  tiles->storeLanes(sums, scoresT, keys);
}

void AttentionLowering::modifyScores(Value tile, Value count, bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  if (scoreOp || masked) {
    Value bI = kb->toI64(bIdx), hI = kb->toI64(hIdx);
    kb->loop(zero, count, one, {}, [&](Value jj, ValueRange) {
      Value jI = kb->toI64(arith::AddIOp::create(b, tile, jj));
      kb->loop(zero, numRows, one, {}, [&](Value r, ValueRange) {
        Value iI = kb->toI64(arith::AddIOp::create(b, rowBegin, r));
        Value s = memref::LoadOp::create(b, scoresT, ValueRange{jj, r});
        s = scoreElement(*kb, op, bI, hI, iI, jI, s, masked);
        memref::StoreOp::create(b, s, scoresT, ValueRange{jj, r});
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
  }
  // Keys past the end of the last tile are never kept.
  tiles->fill(scoresT, kb->index(blockN), -INFINITY, /*begin=*/count);
}

SmallVector<Value> AttentionLowering::softmaxTile() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1), end = kb->index(blockN);
  SmallVector<Value> tileMax =
      kb->loop(zero, end, one, SmallVector<Value>(groups, splat(-INFINITY)),
               [&](Value jj, ValueRange mx) {
                 SmallVector<Value> next;
                 for (int64_t g = 0; g < groups; ++g)
                   next.push_back(arith::MaximumFOp::create(
                       b, mx[g], tiles->load(scoresT, jj, g)));
                 return next;
               });
  // The online-softmax update (AttentionMath.h), a lane vector of rows at a time.
  SmallVector<RunningMax> update;
  SmallVector<Value> alpha;
  for (int64_t g = 0; g < groups; ++g) {
    update.push_back(updateRunningMax(b, tiles->load(rowMax, Value(), g), tileMax[g], mathExp2));
    alpha.push_back(update[g].alpha);
  }
  SmallVector<Value> tileSum =
      kb->loop(zero, end, one, SmallVector<Value>(groups, splat(0.0)),
               [&](Value jj, ValueRange sum) {
                 SmallVector<Value> next;
                 for (int64_t g = 0; g < groups; ++g) {
                   Value p = softmaxProbability(b, update[g], tiles->load(scoresT, jj, g), mathExp2);
                   tiles->store(p, scoresT, jj, g);
                   next.push_back(arith::AddFOp::create(b, sum[g], p));
                 }
                 return next;
               });
  for (int64_t g = 0; g < groups; ++g) {
    Value l = tiles->load(rowSum, Value(), g);
    tiles->store(update[g].max, rowMax, Value(), g);
    tiles->store(updateRunningSum(b, l, alpha[g], tileSum[g]), rowSum, Value(), g);
  }
  return alpha;
}

void AttentionLowering::accumulateTile(Value tile, Value count, ValueRange alpha) {
  ImplicitLocOpBuilder &b = kb->builder();
  tiles->product(
      accT, numDV, count, scoresT,
      [&](Value jj, Value column) -> Value {
        if (vInPlace)
          return memref::LoadOp::create(
              b, v, ValueRange{bIdx, hkIdx, arith::AddIOp::create(b, tile, jj), column});
        return memref::LoadOp::create(b, vTile, ValueRange{jj, column});
      },
      [&](Value column, int64_t g) -> Value {
        return arith::MulFOp::create(b, tiles->load(accT, column, g), alpha[g]);
      });
}

/// With RoPE, the half-split rotation of the pairs (a, c) at (p, p + D/2):
/// (a cos - c sin, c cos + a sin) at angle pos * theta^(-2p/D). Without, a copy.
void AttentionLowering::loadRotatedRow(Value src, ValueRange prefix, Value pos,
                                       function_ref<void(Value d, Value x)> store) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  auto load = [&](Value d) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.append({pos, d});
    return kb->loadF32(src, indices);
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
    auto [first, second] = rotatePair(b, a, c, ropeAngle(*kb, pos, p, numD, theta));
    store(p, first);
    store(p2, second);
    return SmallVector<Value>{};
  });
}

struct LowerAttentionToLoops
    : tmix::impl::LowerAttentionToLoopsBase<LowerAttentionToLoops> {
  void runOnOperation() override {
    if (failed(checkEveryAttentionTiled(getOperation())))
      return signalPassFailure();
    SmallVector<tile::AttentionProgramOp> programs(
        getOperation().getOps<tile::AttentionProgramOp>());
    for (tile::AttentionProgramOp program : programs) {
      FailureOr<RunnableAttentionProgram> runnable =
          checkAttentionProgram(program, getCpuTargetInfo(), /*fixed=*/{});
      if (failed(runnable) || failed(AttentionLowering(program, runnable->form,
                                                       runnable->spec, runnable->schedule)
                                         .lower()))
        return signalPassFailure();
      program.erase();
      runnable->spec.erase();
      ++numLowered;
    }
  }
};

} // namespace
