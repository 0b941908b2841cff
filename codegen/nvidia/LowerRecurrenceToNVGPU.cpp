//===- LowerRecurrenceToNVGPU.cpp - Chunked recurrences on sm_80 tensor cores --===//
//
// The chunk-parallel form of ChunkedLowering.cpp (same definitions, same numerics of
// the gates) as one gpu.func: one CTA of 4 warps per (parallel point, block of Vb value
// columns) walks the chunks of C = 64 steps in order, the f32 state S [K, Vb] in
// registers as m16n8k16 accumulators (warp w owns rows [w K/4, (w+1) K/4)). Per chunk,
// with Γ_i the product of the gates of the chunk's steps 0..i (log LG_i, sign SG_i) and
// q̂_i = SG_i q_i, k̂_s = SG_s (factors) k_s as in the CPU path:
//
//   (1) stage  LG [C, G] f32 (G = K for a row gate, 1 for a scalar one), SG, q̂ and k̂
//              [C, K] f32, v [C, Vb] as the MMA type, all in shared memory; rows past
//              the last step are zero (q, k, v) or repeat the last log (log 1 = 0).
//   (2) scores A[i, s] = sum_k q̂_i k̂_s Γ_i/Γ_s for s <= i (warp w: rows 16w..16w+15):
//              scalar gate: mma.sync of q̂ k̂^T, then times exp(LG_i - LG_s);
//              row gate: 16-row sub-chunks; keys of earlier sub-chunks go through the
//              reference row r = 16w - 1 (q̂_i exp(LG_i - LG_r)) (k̂_s exp(LG_r - LG_s))^T
//              on mma.sync, both factors <= 1 for decays <= 1; the warp's own
//              sub-chunk takes an exp per element, in f32.
//   (3) O = A v + (q̂ ⊙ exp(LG)) S   (mma.sync; A's C fragments are the A operand of
//              A v, S read from a bf16 copy in shared memory) -> shared, then each
//              per-step output, element by element, from the step region.
//   (4) S = SG_L ⊙ (exp(LG_L) ⊙ S + (k̂ ⊙ exp(LG_L - LG_s))^T v)   (mma.sync).
//
// A delta rule (scalar gate, possibly 1) first solves for pseudo-values w, which then
// stand for v in (3) and (4): ChunkMath.h's WY solve, the CPU's system,
//   w_i + b_i sum_{s < i} exp(LG_i - LG_s) (k̂_i · k̂_s) w_s = b_i (v_i - exp(LG_i) k̂_i S),
// the system and the right-hand side on mma.sync, the forward substitution in f32.
//
// Every MMA operand other than v and S is built per element in registers from the f32
// shared buffers (the decay factors differ per operand), in the PTX ISA's fragment
// layouts (lane = 4 g + t):
//   A (16x16): [0] (g, 2t..2t+1)  [1] (g+8, 2t..)  [2] (g, 2t+8..)  [3] (g+8, 2t+8..)
//   B (16x8):  [0] (k = 2t..2t+1, n = g)  [1] (k = 2t+8.., n = g)
//   C (16x8):  [r][c] = (g + 8r, 2t + c)
// v and the copy of S ([contraction rows, Vb columns] tiles, rows padded by 8 elements)
// feed B through ldmatrix.x4.trans exactly as V does in LowerAttentionToNVGPU.cpp.
//
// Vector states beside S (linear attention's normaliser z = z + phi(k)) run step by
// step: thread k scans element k over the chunk's steps; the dot products the outputs
// read (dot(phi(q), z)) are then summed per step, before the outputs are computed.
//
// The values the chunk needs (gates, keys, values, queries, strengths, vector state
// updates, the per-step outputs around the readout and the dots) are evaluated element
// by element from the step region (StepElements.h). What this kernel cannot run (a dot
// or sum in those values, a second matrix state, a scalar state, a row-gated delta
// rule, ...) is an error, never a wrong kernel.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/AttentionStatements.h"
#include "passes/ChunkForm.h"
#include "passes/ChunkMath.h"
#include "codegen/nvidia/GpuKernel.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "passes/KernelBuilder.h"
#include "codegen/nvidia/Passes.h"
#include "codegen/nvidia/RecurrenceKernelPlan.h"
#include "codegen/nvidia/StepElements.h"
#include "codegen/nvidia/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERRECURRENCETONVGPU
#include "codegen/nvidia/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;
using namespace mlir::tmix::recurrence_kernel;

namespace {

class NvgpuRecurrenceLowering {
public:
  NvgpuRecurrenceLowering(const RunnableRecurrenceProgram &runnable,
                          gpu::GPUModuleOp gpuModule, const llvm::StringMap<int64_t> &fixed)
      : op(runnable.spec), program(runnable.form), gpuModule(gpuModule), fixed(fixed),
        schedule(runnable.schedule) {}

  LogicalResult lower();

private:
  void buildKernelBody();
  void moveIntoGpuModule();

  // ---- the phases of a chunk ----
  void stageLogGates(Value start, Value length);
  void stageRows(Value start, Value length);
  /// (rows k̂^T)[i, s] exp(LG_i - LG_s) under a scalar gate, for s <= i (s < i when
  /// `strict`), this warp's rows: the scores (rows = q̂) or the delta rule's system
  /// (rows = k̂).
  SmallVector<Value> scalarGateScores(Value rows, bool strict);
  /// (rows ⊙ exp(LG)) S0 for this warp's rows: C fragments over the value block.
  SmallVector<Value> startStateProduct(Value rows);
  void solveDelta();
  SmallVector<Value> rowGateScores();
  Value diagonalScores(int64_t nTile);
  void readout(ArrayRef<Value> scores);
  SmallVector<Value> updateState(ValueRange state, Value length);
  void storeStateTile(ValueRange state);
  void storeOutputs(Value start, Value length);
  void scanVectorStates(Value start, Value length);
  void computeDots(Value start, Value length);
  /// Binds each vector state, before and after step `row`, at element `k`.
  void bindVectorStates(Value row, Value k);

  // ---- small vocabulary ----
  ImplicitLocOpBuilder &builder() { return kb->builder(); }
  Value idx(int64_t v) { return kb->index(v); }
  Value cst(double v) { return kb->f32(v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(builder(), x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(builder(), x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(builder(), arith::CmpIPredicate::ult, x, y);
  }
  Value ule(Value x, Value y) {
    return arith::CmpIOp::create(builder(), arith::CmpIPredicate::ule, x, y);
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(builder(), x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(builder(), x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(builder(), x, y); }
  /// exp(x) as ex2.approx(x log2 e); exp(-inf) = 0.
  Value exp(Value x) { return warp::exp2Approx(builder(), fmul(x, cst(kLog2e))); }
  Value load(Value buffer, ValueRange indices) {
    return memref::LoadOp::create(builder(), buffer, indices);
  }
  void store(Value value, Value buffer, ValueRange indices) {
    memref::StoreOp::create(builder(), value, buffer, indices);
  }
  Value extract(Value fragment, int64_t r, int64_t c) {
    return vector::ExtractOp::create(builder(), fragment, ArrayRef<int64_t>{r, c});
  }
  /// The gate column of key index k: k for a row gate, 0 for a scalar gate.
  Value gateColumn(Value k) { return plan.form.hasRowGate() ? k : idx(0); }
  /// log Γ_row at gate column of k, and the sign of Γ_row there (1 without signs).
  Value logGateAt(Value row, Value k) { return load(logGate, {row, gateColumn(k)}); }
  Value signAt(Value row, Value k) {
    return signs ? load(signs, {row, gateColumn(k)}) : cst(1.0);
  }
  /// An MMA operand fragment of `shape` from f32 elements, rounded to the MMA type.
  Value toFragment(ArrayRef<Value> elements, ArrayRef<int64_t> shape);
  /// The A fragment (16 x 16) whose element at (row, col) is at(row, col).
  Value aFragment(function_ref<Value(Value row, Value col)> at);
  /// The B fragment (16 x 8, k x n) whose element at (k, n) is at(k, n).
  Value bFragment(function_ref<Value(Value k, Value n)> at);
  Value mma(Value a, Value b, Value c) { return warp::mmaM16N8K16(builder(), a, b, c); }
  Value zeroAccumulator();
  /// B fragments of n-tiles 2 np and 2 np + 1 of tile[row0.., col0..] (ldmatrix.trans).
  std::pair<Value, Value> bPairTransposed(Value tile, Value row0, Value col0);

  RecurrenceOp op;
  /// The tile program's form: its chunk loop says what each chunk does.
  const RecurrenceProgramForm &program;
  gpu::GPUModuleOp gpuModule;
  const llvm::StringMap<int64_t> &fixed;
  RecurrenceKernelPlan plan;
  RecurrenceScheduleAttr schedule;
  std::unique_ptr<KernelBuilder> kb;

  // Kernel values.
  std::unique_ptr<StepElements> stepElements; // the step region, element by element
  Value numSteps, valueBegin;
  Value logGate, signs, queries, keys, values, stateTile, outputs;
  Value strengths, gram, pseudoValues; // the delta rule's
  /// Per vector state, [C + 1, size]: before the chunk (row 0), after each step (row
  /// i + 1); row C carries it to the next chunk.
  SmallVector<Value> histories;
  Value dotRows;
  Value tid, warp, groupRow, groupCol2, warpRow, stateRow, vRow, vCol;
};

LogicalResult NvgpuRecurrenceLowering::lower() {
  FailureOr<RecurrenceKernelPlan> planned = planRecurrenceKernel(op, fixed);
  if (failed(planned))
    return failure();
  plan = std::move(*planned);
  if (!program.chunkLoop)
    return op.emitOpError("the GPU kernel runs the chunked form only, and this program "
                          "has no chunk loop");
  SmallVector<Attribute> parallelDims = op.getParallelDims();
  SmallVector<GridDim> grid;
  for (Attribute dim : parallelDims)
    grid.push_back({dim, 1});
  grid.push_back({plan.stateType.getDims()[1], plan.valueBlock});
  kb = std::make_unique<KernelBuilder>(op, grid);
  buildKernelBody();
  moveIntoGpuModule();
  return success();
}

// ---- fragments ----

Value NvgpuRecurrenceLowering::toFragment(ArrayRef<Value> elements,
                                          ArrayRef<int64_t> shape) {
  ImplicitLocOpBuilder &b = builder();
  Value wide =
      vector::FromElementsOp::create(b, VectorType::get(shape, b.getF32Type()), elements);
  return arith::TruncFOp::create(b, VectorType::get(shape, plan.mmaType), wide);
}

Value NvgpuRecurrenceLowering::aFragment(function_ref<Value(Value, Value)> at) {
  SmallVector<Value> elements;
  for (int64_t reg = 0; reg < 4; ++reg)
    for (int64_t e = 0; e < 2; ++e)
      elements.push_back(
          at(add(groupRow, idx(8 * (reg % 2))), add(groupCol2, idx(e + 8 * (reg / 2)))));
  return toFragment(elements, {4, 2});
}

Value NvgpuRecurrenceLowering::bFragment(function_ref<Value(Value, Value)> at) {
  SmallVector<Value> elements;
  for (int64_t reg = 0; reg < 2; ++reg)
    for (int64_t e = 0; e < 2; ++e)
      elements.push_back(at(add(groupCol2, idx(e + 8 * reg)), groupRow));
  return toFragment(elements, {2, 2});
}

Value NvgpuRecurrenceLowering::zeroAccumulator() {
  auto type = VectorType::get({2, 2}, builder().getF32Type());
  return arith::ConstantOp::create(builder(), DenseElementsAttr::get(type, 0.0f));
}

std::pair<Value, Value> NvgpuRecurrenceLowering::bPairTransposed(Value tile, Value row0,
                                                                 Value col0) {
  ImplicitLocOpBuilder &b = builder();
  Value x4 = warp::ldmatrixX4(b, plan.mmaType, tile, {add(vRow, row0), add(vCol, col0)},
                              /*transpose=*/true);
  return {warp::fragmentPair(b, x4, 0), warp::fragmentPair(b, x4, 1)};
}

// ---- (1) staging ----

/// LG and SG of the chunk (stageChunkGateLogs).
void NvgpuRecurrenceLowering::stageLogGates(Value start, Value length) {
  stageChunkGateLogs(*kb, *stepElements, plan.form, plan.gateColumns, kChunk, tid,
                     kThreads, start, length, logGate, signs);
}

/// q̂_i = SG_i q_i and k̂_s = SG_s (factors) k_s as f32 rows, v_s as the MMA type (the
/// delta rule: v_s as f32 and b_s, for the solve); zero past the last step.
void NvgpuRecurrenceLowering::stageRows(Value start, Value length) {
  ImplicitLocOpBuilder &b = builder();
  Type f32 = b.getF32Type();
  kb->loop(tid, idx(kChunk * plan.keyDim), idx(kThreads), {}, [&](Value e, ValueRange) {
    Value row = arith::DivUIOp::create(b, e, idx(plan.keyDim));
    Value k = arith::RemUIOp::create(b, e, idx(plan.keyDim));
    SmallVector<Value> qk = kb->ifElse(
        ult(row, length), {f32, f32},
        [&] {
          stepElements->setStep(add(start, row));
          Value sign = signAt(row, k);
          Value key = stepElements->at(plan.updateKey(), k);
          if (!plan.form.delta) {
            const RankOneTerm &term = plan.form.terms[0];
            key = stepElements->factorProduct(term.factors, k, key);
            if (term.negated)
              key = arith::NegFOp::create(b, key);
          }
          Value query = stepElements->at(plan.readoutOp.getLhs(), k);
          return SmallVector<Value>{fmul(sign, query), fmul(sign, key)};
        },
        [&] {
          return SmallVector<Value>{cst(0.0), cst(0.0)};
        });
    store(qk[0], queries, {row, k});
    store(qk[1], keys, {row, k});
    return SmallVector<Value>{};
  });
  kb->loop(
      tid, idx(kChunk * plan.valueBlock), idx(kThreads), {}, [&](Value e, ValueRange) {
        Value row = arith::DivUIOp::create(b, e, idx(plan.valueBlock));
        Value column = arith::RemUIOp::create(b, e, idx(plan.valueBlock));
        Value value = kb->ifElse(
            ult(row, length), {f32},
            [&] {
              stepElements->setStep(add(start, row));
              return SmallVector<Value>{
                  stepElements->at(plan.updateValue(), add(valueBegin, column))};
            },
            [&] { return SmallVector<Value>{cst(0.0)}; })[0];
        if (plan.form.delta)
          store(value, pseudoValues, {row, column});
        else
          store(arith::TruncFOp::create(b, plan.mmaType, value), values, {row, column});
        return SmallVector<Value>{};
      });
  if (!plan.form.delta)
    return;
  // b = 0 past the last step: those rows' pseudo-values are 0.
  kb->loop(tid, idx(kChunk), idx(kThreads), {}, [&](Value row, ValueRange) {
    Value strength = kb->ifElse(
        ult(row, length), {f32},
        [&] {
          stepElements->setStep(add(start, row));
          return SmallVector<Value>{
              stepElements->factorProduct(plan.form.delta->strength, Value(), cst(1.0))};
        },
        [&] { return SmallVector<Value>{cst(0.0)}; })[0];
    store(strength, strengths, {row, idx(0)});
    return SmallVector<Value>{};
  });
}

/// Vector states, step by step: thread k scans element k of each over the chunk's
/// steps (past the last step it stays), from row C (the last chunk's end) on.
void NvgpuRecurrenceLowering::scanVectorStates(Value start, Value length) {
  for (auto [vector, history] : llvm::zip(plan.vectorStates, histories))
    scanChunkVectorState(*kb, *stepElements, vector.arg, vector.next, vector.size, kChunk,
                         tid, kThreads, start, length, history);
}

void NvgpuRecurrenceLowering::bindVectorStates(Value row, Value k) {
  for (auto [vector, history] : llvm::zip(plan.vectorStates, histories)) {
    stepElements->bind(vector.arg, load(history, {row, k}));
    stepElements->bind(vector.next, load(history, {add(row, idx(1)), k}));
  }
}

/// The dot products the outputs read, one thread per step of the chunk, from the
/// vector states' history.
void NvgpuRecurrenceLowering::computeDots(Value start, Value length) {
  ImplicitLocOpBuilder &b = builder();
  for (size_t index = 0; index < plan.dots.size(); ++index) {
    DotOp dot = plan.dots[index];
    Value size = kb->dimValue(cast<SpecTensorType>(dot.getLhs().getType()).getDims()[0]);
    kb->loop(tid, idx(kChunk), idx(kThreads), {}, [&](Value row, ValueRange) {
      Value sum = kb->ifElse(
          ult(row, length), {b.getF32Type()},
          [&] {
            stepElements->setStep(add(start, row));
            return kb->loop(idx(0), size, idx(1), {cst(0.0)},
                            [&](Value k, ValueRange acc) {
                              bindVectorStates(row, k);
                              Value product = fmul(stepElements->at(dot.getLhs(), k),
                                                   stepElements->at(dot.getRhs(), k));
                              return SmallVector<Value>{fadd(acc[0], product)};
                            });
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(sum, dotRows, {idx(index), row});
      return SmallVector<Value>{};
    });
  }
}

// ---- (2) scores: this warp's rows i = 16 w + g (+ 8), all 64 keys in 8 n-tiles ----

SmallVector<Value> NvgpuRecurrenceLowering::scalarGateScores(Value rows, bool strict) {
  ImplicitLocOpBuilder &b = builder();
  constexpr int64_t kTilesN = kChunk / kMmaN;
  SmallVector<Value> acc(kTilesN, zeroAccumulator());
  for (int64_t kk = 0; kk < plan.keyDim / kMmaK; ++kk) {
    Value a = aFragment([&](Value row, Value col) {
      return load(rows, {add(warpRow, row), add(col, idx(kk * kMmaK))});
    });
    for (int64_t nt = 0; nt < kTilesN; ++nt) {
      Value bFrag = bFragment([&](Value k, Value n) {
        return load(keys, {add(n, idx(nt * kMmaN)), add(k, idx(kk * kMmaK))});
      });
      acc[nt] = mma(a, bFrag, acc[nt]);
    }
  }
  Value zero = idx(0);
  for (int64_t nt = 0; nt < kTilesN; ++nt) {
    SmallVector<Value> elements;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 2; ++c) {
        Value i = add(warpRow, add(groupRow, idx(8 * r)));
        Value s = add(groupCol2, idx(nt * kMmaN + c));
        Value ratio = exp(fsub(load(logGate, {i, zero}), load(logGate, {s, zero})));
        Value kept = strict ? ult(s, i) : ule(s, i);
        elements.push_back(arith::SelectOp::create(
            b, kept, fmul(extract(acc[nt], r, c), ratio), cst(0.0)));
      }
    acc[nt] = vector::FromElementsOp::create(b, acc[nt].getType(), elements);
  }
  return acc;
}

/// Row gate, n-tile nt in the warp's own sub-chunk: sum_k q̂_i k̂_s exp(LG_i - LG_s) per
/// element, s <= i (the exp of a later key may overflow: it is selected away).
Value NvgpuRecurrenceLowering::diagonalScores(int64_t nt) {
  ImplicitLocOpBuilder &b = builder();
  Value rows[2], cols[2];
  for (int64_t r = 0; r < 2; ++r)
    rows[r] = add(warpRow, add(groupRow, idx(8 * r)));
  for (int64_t c = 0; c < 2; ++c)
    cols[c] = add(groupCol2, idx(nt * kMmaN + c));
  SmallVector<Value> init(4, cst(0.0));
  SmallVector<Value> sums =
      kb->loop(idx(0), idx(plan.keyDim), idx(1), init, [&](Value k, ValueRange acc) {
        SmallVector<Value> next;
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t c = 0; c < 2; ++c) {
            Value decay =
                exp(fsub(load(logGate, {rows[r], k}), load(logGate, {cols[c], k})));
            Value product =
                fmul(fmul(load(queries, {rows[r], k}), load(keys, {cols[c], k})), decay);
            next.push_back(fadd(acc[2 * r + c], product));
          }
        return next;
      });
  SmallVector<Value> elements;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c)
      elements.push_back(
          arith::SelectOp::create(b, ule(cols[c], rows[r]), sums[2 * r + c], cst(0.0)));
  return vector::FromElementsOp::create(b, VectorType::get({2, 2}, b.getF32Type()),
                                        elements);
}

/// Row gate: keys of earlier sub-chunks through the reference row r = 16 w - 1 on the
/// tensor cores, keys of the warp's sub-chunk per element, later keys 0.
SmallVector<Value> NvgpuRecurrenceLowering::rowGateScores() {
  ImplicitLocOpBuilder &b = builder();
  Type accType = VectorType::get({2, 2}, b.getF32Type());
  constexpr int64_t kTilesN = kChunk / kMmaN;
  // Warp 0 has no earlier sub-chunk; its (unused) reference is row 0.
  Value reference =
      arith::SubIOp::create(b, arith::MaxUIOp::create(b, warpRow, idx(1)), idx(1));
  SmallVector<Value> decayedQueries;
  for (int64_t kk = 0; kk < plan.keyDim / kMmaK; ++kk)
    decayedQueries.push_back(aFragment([&](Value row, Value col) {
      Value i = add(warpRow, row), k = add(col, idx(kk * kMmaK));
      return fmul(load(queries, {i, k}),
                  exp(fsub(load(logGate, {i, k}), load(logGate, {reference, k}))));
    }));
  SmallVector<Value> acc;
  for (int64_t nt = 0; nt < kTilesN; ++nt) {
    Value subChunk = idx(nt * kMmaN / kSubChunk);
    acc.push_back(kb->ifElse(
        ult(subChunk, warp), {accType},
        [&] {
          Value tile = zeroAccumulator();
          for (int64_t kk = 0; kk < plan.keyDim / kMmaK; ++kk) {
            Value bFrag = bFragment([&](Value kOffset, Value n) {
              Value s = add(n, idx(nt * kMmaN)), k = add(kOffset, idx(kk * kMmaK));
              return fmul(load(keys, {s, k}), exp(fsub(load(logGate, {reference, k}),
                                                       load(logGate, {s, k}))));
            });
            tile = mma(decayedQueries[kk], bFrag, tile);
          }
          return SmallVector<Value>{tile};
        },
        [&] {
          Value same = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, subChunk, warp);
          return kb->ifElse(
              same, {accType}, [&] { return SmallVector<Value>{diagonalScores(nt)}; },
              [&] { return SmallVector<Value>{zeroAccumulator()}; });
        })[0]);
  }
  return acc;
}

// ---- (3) readout ----

SmallVector<Value> NvgpuRecurrenceLowering::startStateProduct(Value rows) {
  SmallVector<Value> acc(plan.valueBlock / kMmaN, zeroAccumulator());
  for (int64_t kk = 0; kk < plan.keyDim / kMmaK; ++kk) {
    Value a = aFragment([&](Value row, Value col) {
      Value i = add(warpRow, row), k = add(col, idx(kk * kMmaK));
      return fmul(load(rows, {i, k}), exp(logGateAt(i, k)));
    });
    for (int64_t np = 0; np < plan.valueBlock / 16; ++np) {
      auto [b0, b1] = bPairTransposed(stateTile, idx(kk * kMmaK), idx(np * 16));
      acc[2 * np] = mma(a, b0, acc[2 * np]);
      acc[2 * np + 1] = mma(a, b1, acc[2 * np + 1]);
    }
  }
  return acc;
}

/// The delta rule's WY solve (ChunkMath.h) for the pseudo-values w: the system's
/// entries A_is = b_i D_is and right-hand sides r_i = b_i (v_i - p_i), from the keys'
/// scores D and the start state's prediction p on the tensor cores (this warp's rows);
/// then the forward substitution in f32, one thread per value column (it owns the column
/// of every row, so no barrier between rows). w replaces v in the `values` tile.
void NvgpuRecurrenceLowering::solveDelta() {
  ImplicitLocOpBuilder &b = builder();
  SmallVector<Value> scores = scalarGateScores(keys, /*strict=*/true);
  SmallVector<Value> prediction = startStateProduct(keys);
  Value zero = idx(0);
  for (int64_t r = 0; r < 2; ++r) {
    Value i = add(warpRow, add(groupRow, idx(8 * r)));
    Value strength = load(strengths, {i, zero});
    for (int64_t c = 0; c < 2; ++c) {
      for (auto [nt, tile] : llvm::enumerate(scores))
        store(deltaSystemEntry(b, strength, extract(tile, r, c)), gram,
              {i, add(groupCol2, idx(int64_t(nt) * kMmaN + c))});
      for (auto [nt, tile] : llvm::enumerate(prediction)) {
        Value v = add(groupCol2, idx(int64_t(nt) * kMmaN + c));
        Value value = load(pseudoValues, {i, v});
        store(deltaRightHandSide(b, strength, value, extract(tile, r, c)), pseudoValues,
              {i, v});
      }
    }
  }
  gpu::BarrierOp::create(b);
  kb->ifElse(
      ult(tid, idx(plan.valueBlock)), {},
      [&] {
        Value v = tid;
        substituteDeltaRows(
            *kb, idx(kChunk), /*beginRow=*/nullptr,
            [&](Value i, Value s) {
              return load(gram, {i, s});
            },
            [&](Value i, Value count, function_ref<Value(Value)> entry,
                function_ref<Value(Value, Value)> finish) {
              Value sum =
                  kb->loop(zero, count, idx(1), {cst(0.0)}, [&](Value s, ValueRange acc) {
                    Value term = fmul(entry(s), load(pseudoValues, {s, v}));
                    return SmallVector<Value>{fadd(acc[0], term)};
                  })[0];
              Value w = finish(load(pseudoValues, {i, v}), sum);
              store(w, pseudoValues, {i, v});
              store(arith::TruncFOp::create(b, plan.mmaType, w), values, {i, v});
            });
        return SmallVector<Value>{};
      },
      [] { return SmallVector<Value>{}; });
  gpu::BarrierOp::create(b);
}

/// O = A v + (q̂ ⊙ exp(LG)) S for this warp's rows, to `outputs`.
void NvgpuRecurrenceLowering::readout(ArrayRef<Value> scores) {
  SmallVector<Value> acc = startStateProduct(queries);
  // ---- the chunk's own steps: the scores' C fragments are A's fragments ----
  for (int64_t kc = 0; kc < kChunk / kMmaK; ++kc) {
    SmallVector<Value> elements;
    for (int64_t reg = 0; reg < 4; ++reg) // (n-tile 2 kc + reg / 2, row half reg % 2)
      for (int64_t c = 0; c < 2; ++c)
        elements.push_back(extract(scores[2 * kc + reg / 2], reg % 2, c));
    Value a = toFragment(elements, {4, 2});
    for (int64_t np = 0; np < plan.valueBlock / 16; ++np) {
      auto [b0, b1] = bPairTransposed(values, idx(kc * kMmaK), idx(np * 16));
      acc[2 * np] = mma(a, b0, acc[2 * np]);
      acc[2 * np + 1] = mma(a, b1, acc[2 * np + 1]);
    }
  }
  for (auto [nt, tile] : llvm::enumerate(acc))
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 2; ++c)
        store(extract(tile, r, c), outputs,
              {add(warpRow, add(groupRow, idx(8 * r))),
               add(groupCol2, idx(int64_t(nt) * kMmaN + c))});
}

// ---- (4) the state at the chunk's end ----

/// Fragment (mt, nt) of the state holds rows stateRow + 16 mt + g (+ 8), value columns
/// 8 nt + 2t (+ 1) of the block.
SmallVector<Value> NvgpuRecurrenceLowering::updateState(ValueRange state, Value length) {
  ImplicitLocOpBuilder &b = builder();
  Value last = arith::SubIOp::create(b, length, idx(1));
  int64_t tilesN = plan.valueBlock / kMmaN;
  SmallVector<Value> next(state.begin(), state.end());
  for (int64_t mt = 0; mt < plan.keyDim / kStateRowMultiple; ++mt) {
    Value rowBase = add(stateRow, idx(mt * kMmaM));
    // ---- S = SG_L exp(LG_L) ⊙ S, per row ----
    Value scale[2];
    for (int64_t r = 0; r < 2; ++r) {
      Value k = add(rowBase, add(groupRow, idx(8 * r)));
      scale[r] = fmul(signAt(last, k), exp(logGateAt(last, k)));
    }
    Value scales = vector::FromElementsOp::create(
        b, VectorType::get({2, 2}, b.getF32Type()),
        ValueRange{scale[0], scale[0], scale[1], scale[1]});
    for (int64_t nt = 0; nt < tilesN; ++nt)
      next[mt * tilesN + nt] = arith::MulFOp::create(b, next[mt * tilesN + nt], scales);
    // ---- S += (SG_L k̂_s exp(LG_L - LG_s))^T v_s ----
    for (int64_t kc = 0; kc < kChunk / kMmaK; ++kc) {
      Value a = aFragment([&](Value row, Value col) {
        Value k = add(rowBase, row), s = add(col, idx(kc * kMmaK));
        Value decay = exp(fsub(logGateAt(last, k), logGateAt(s, k)));
        return fmul(fmul(load(keys, {s, k}), decay), signAt(last, k));
      });
      for (int64_t np = 0; np < plan.valueBlock / 16; ++np) {
        auto [b0, b1] = bPairTransposed(values, idx(kc * kMmaK), idx(np * 16));
        Value &even = next[mt * tilesN + 2 * np], &odd = next[mt * tilesN + 2 * np + 1];
        even = mma(a, b0, even);
        odd = mma(a, b1, odd);
      }
    }
  }
  return next;
}

/// The MMA-type copy of the state that the next chunk's readout reads.
void NvgpuRecurrenceLowering::storeStateTile(ValueRange state) {
  ImplicitLocOpBuilder &b = builder();
  int64_t tilesN = plan.valueBlock / kMmaN;
  for (int64_t mt = 0; mt < plan.keyDim / kStateRowMultiple; ++mt)
    for (int64_t nt = 0; nt < tilesN; ++nt)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 2; ++c) {
          Value x = extract(state[mt * tilesN + nt], r, c);
          store(arith::TruncFOp::create(b, plan.mmaType, x), stateTile,
                {add(stateRow, add(groupRow, idx(mt * kMmaM + 8 * r))),
                 add(groupCol2, idx(nt * kMmaN + c))});
        }
}

/// Each per-step output of the chunk's steps, element by element, the readout read
/// from `outputs`.
void NvgpuRecurrenceLowering::storeOutputs(Value start, Value length) {
  ImplicitLocOpBuilder &b = builder();
  auto yield = cast<YieldOp>(op.getStepOp().getBody().front().getTerminator());
  size_t numStates = op.getStateOps().size();
  auto resultTypes = op.getSpecResultTypes();
  kb->loop(
      tid, idx(kChunk * plan.valueBlock), idx(kThreads), {}, [&](Value e, ValueRange) {
        Value row = arith::DivUIOp::create(b, e, idx(plan.valueBlock));
        Value column = arith::RemUIOp::create(b, e, idx(plan.valueBlock));
        kb->ifElse(
            ult(row, length), {},
            [&] {
              stepElements->setStep(add(start, row));
              Value readoutValue = load(outputs, {row, column});
              for (VecMatOp readout : plan.form.readouts)
                stepElements->bind(readout.getResult(), readoutValue);
              for (auto [index, dot] : llvm::enumerate(plan.dots))
                stepElements->bind(dot.getResult(), load(dotRows, {idx(index), row}));
              Value v = add(valueBegin, column);
              for (auto [position, result] : llvm::enumerate(op.getPerStepResults())) {
                Value value =
                    stepElements->at(yield.getValues()[numStates + position], v);
                ArrayRef<Attribute> outDims =
                    cast<SpecTensorType>(resultTypes[result]).getDims();
                kb->storeF32(
                    value, kb->resultMemRef(result),
                    stepElements->outerIndices(outDims, stepElements->step(), v));
              }
              return SmallVector<Value>{};
            },
            [] { return SmallVector<Value>{}; });
        return SmallVector<Value>{};
      });
}

void NvgpuRecurrenceLowering::buildKernelBody() {
  ImplicitLocOpBuilder &b = kb->builder();
  stepElements = std::make_unique<StepElements>(op, *kb);
  valueBegin = mul(kb->gridIndex(op.getParallelDims().size()), idx(plan.valueBlock));
  numSteps = stepElements->numSteps();

  // ---- lane geometry ----
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, tid, idx(recurrence_kernel::kWarpSize));
  Value lane = arith::RemUIOp::create(b, tid, idx(recurrence_kernel::kWarpSize));
  groupRow = arith::DivUIOp::create(b, lane, idx(4));
  groupCol2 = mul(arith::RemUIOp::create(b, lane, idx(4)), idx(2));
  warpRow = mul(warp, idx(kMmaM));
  stateRow = mul(warp, idx(plan.keyDim / kWarps));
  // ldmatrix.x4.trans row addresses: contraction halves by (lane/8)%2, n-tiles by
  // lane/16.
  Value lane8 = arith::RemUIOp::create(b, lane, idx(8));
  vRow =
      add(mul(arith::RemUIOp::create(b, arith::DivUIOp::create(b, lane, idx(8)), idx(2)),
              idx(8)),
          lane8);
  vCol = mul(arith::DivUIOp::create(b, lane, idx(16)), idx(8));

  // ---- shared memory, one dynamic allocation ----
  SharedMemoryViews shared(b);
  auto view = [&](MemRefType type) { return shared.view(type); };
  // The ldmatrix tiles first: their rows need 16-byte alignment.
  values = view(plan.valuesType);
  stateTile = view(plan.stateTileType);
  queries = view(plan.rowsType);
  keys = view(plan.rowsType);
  outputs = view(plan.outputsType);
  logGate = view(plan.logGateType);
  if (plan.form.needsSign())
    signs = view(plan.logGateType);
  for (MemRefType type : plan.historyTypes)
    histories.push_back(view(type));
  if (!plan.dots.empty())
    dotRows = view(plan.dotRowsType);
  if (plan.form.delta) {
    strengths = view(plan.strengthsType);
    gram = view(plan.gramType);
    pseudoValues = view(plan.outputsType);
  }
  assert(shared.bytes() == plan.sharedBytes && "the views cover the allocation");

  // ---- the initial state, from its argument or 0 ----
  // Vector states: row C is what the first chunk's scan starts from.
  for (size_t index = 0; index < histories.size(); ++index) {
    const RecurrenceKernelPlan::VectorState &vector = plan.vectorStates[index];
    Value history = histories[index];
    Value vectorInit = op.getStateOps()[vector.index].getInit();
    kb->loop(tid, idx(vector.size), idx(kThreads), {}, [&](Value k, ValueRange) {
      Value value = cst(0.0);
      if (vectorInit) {
        ArrayRef<Attribute> initDims =
            cast<SpecTensorType>(vectorInit.getType()).getDims();
        value = kb->loadF32(kb->argMemRef(cast<BlockArgument>(vectorInit).getArgNumber()),
                            stepElements->outerIndices(initDims, {}, {k}));
      }
      store(value, history, {idx(kChunk), k});
      return SmallVector<Value>{};
    });
  }
  StateOp stateOp = op.getStateOps()[plan.matrixIndex];
  Value init = stateOp.getInit();
  int64_t tilesN = plan.valueBlock / kMmaN;
  SmallVector<Value> state;
  for (int64_t mt = 0; mt < plan.keyDim / kStateRowMultiple; ++mt)
    for (int64_t nt = 0; nt < tilesN; ++nt) {
      if (!init) {
        state.push_back(zeroAccumulator());
        continue;
      }
      ArrayRef<Attribute> initDims = cast<SpecTensorType>(init.getType()).getDims();
      Value memref = kb->argMemRef(cast<BlockArgument>(init).getArgNumber());
      SmallVector<Value> elements;
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 2; ++c) {
          Value k = add(stateRow, add(groupRow, idx(mt * kMmaM + 8 * r)));
          Value v = add(valueBegin, add(groupCol2, idx(nt * kMmaN + c)));
          elements.push_back(
              kb->loadF32(memref, stepElements->outerIndices(initDims, {}, {k, v})));
        }
      state.push_back(vector::FromElementsOp::create(
          b, VectorType::get({2, 2}, b.getF32Type()), elements));
    }
  storeStateTile(state);

  // ---- the chunks, in order ----
  state = kb->loop(
      idx(0), numSteps, idx(kChunk), state, [&](Value start, ValueRange carried) {
        Value length = arith::MinUIOp::create(b, idx(kChunk),
                                              arith::SubIOp::create(b, numSteps, start));
        // One step of the chunk's work per op of the program's chunk loop.
        SmallVector<Value> scores, next;
        tile::ChunkLoopOp chunkLoop = program.chunkLoop;
        for (Operation &chunkOp : chunkLoop.getBodyBlock())
          llvm::TypeSwitch<Operation *>(&chunkOp)
              // (1) the gate logs, the vector states' scans, the rows and the dots, in
              // shared memory (so gate_logs has nothing left to do).
              .Case([&](tile::StageStepsOp) {
                gpu::BarrierOp::create(b); // the last chunk's outputs are read
                stageLogGates(start, length);
                scanVectorStates(start, length);
                gpu::BarrierOp::create(b);
                stageRows(start, length);
                computeDots(start, length);
                gpu::BarrierOp::create(b);
              })
              .Case([&](tile::GateLogsOp) {})
              .Case([&](tile::DeltaSolveOp) { solveDelta(); })
              // (2) the scores, (3) the readout from them and the start state.
              .Case([&](tile::ChunkScoresOp) {
                scores = plan.form.hasRowGate() ? rowGateScores()
                                                : scalarGateScores(queries, false);
              })
              .Case([&](tile::ChunkReadoutOp) { readout(scores); })
              // (4) the state at the chunk's end, in registers.
              .Case([&](tile::StateUpdateOp) { next = updateState(carried, length); })
              .Case([&](tile::FinishStepsOp) {
                gpu::BarrierOp::create(b); // every warp has read the state tile and its outputs
                storeStateTile(next);
                storeOutputs(start, length);
              });
        return next;
      });

  // ---- final states ----
  auto resultTypes = op.getSpecResultTypes();
  SmallVector<StateOp, 4> states = op.getStateOps();
  for (unsigned result = 0; result < resultTypes.size(); ++result) {
    FinalOp final = op.getFinalOp(result);
    if (!final)
      continue;
    ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
    if (final.getState() != states[plan.matrixIndex].getSymName()) {
      // A vector state: each element by the thread that scanned it.
      size_t position =
          llvm::find_if(plan.vectorStates,
                        [&](const RecurrenceKernelPlan::VectorState &v) {
                          return states[v.index].getSymName() == final.getState();
                        }) -
          plan.vectorStates.begin();
      Value history = histories[position];
      kb->loop(tid, idx(plan.vectorStates[position].size), idx(kThreads), {},
               [&](Value k, ValueRange) {
                 kb->storeF32(load(history, {idx(kChunk), k}), kb->resultMemRef(result),
                              stepElements->outerIndices(outDims, {}, {k}));
                 return SmallVector<Value>{};
               });
      continue;
    }
    for (int64_t mt = 0; mt < plan.keyDim / kStateRowMultiple; ++mt)
      for (int64_t nt = 0; nt < tilesN; ++nt)
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t c = 0; c < 2; ++c) {
            Value k = add(stateRow, add(groupRow, idx(mt * kMmaM + 8 * r)));
            Value v = add(valueBegin, add(groupCol2, idx(nt * kMmaN + c)));
            kb->storeF32(extract(state[mt * tilesN + nt], r, c), kb->resultMemRef(result),
                         stepElements->outerIndices(outDims, {}, {k, v}));
          }
  }
}

/// The program function becomes a gpu.func kernel: the program id is the block id, and
/// the launch parameters travel as attributes for the manifest.
void NvgpuRecurrenceLowering::moveIntoGpuModule() {
  moveProgramToKernel(kb->function(), gpuModule,
                      {kThreads, plan.sharedBytes, schedule, plan.specialized});
}

struct LowerRecurrenceToNVGPU
    : tmix::impl::LowerRecurrenceToNVGPUBase<LowerRecurrenceToNVGPU> {
  using LowerRecurrenceToNVGPUBase::LowerRecurrenceToNVGPUBase;
  void runOnOperation() override {
    // One kernel for both chips (wgmma gains little at the chunk's 64 x 64 products):
    // its schedule is checked by sm_80's TargetInfo (chunks of kChunk steps only).
    FailureOr<int64_t> lowered = lowerProgramsToKernels<tile::RecurrenceProgramOp>(
        getOperation(), specialize, getSm80TargetInfo(), /*reportEvery=*/true,
        [](const RunnableRecurrenceProgram &program, gpu::GPUModuleOp gpuModule,
           const llvm::StringMap<int64_t> &fixed) {
          return NvgpuRecurrenceLowering(program, gpuModule, fixed).lower();
        });
    if (failed(lowered))
      return signalPassFailure();
    numLowered += *lowered;
  }
};

} // namespace
