//===- ChunkedAdjoint.cpp - A decaying recurrence's backward, chunk by chunk ---===//
//
// For a chunk of L steps (rows i, s) of a state with chunk form (ChunkedLowering.cpp:
// queries Q_r, keys K_j with their factors, values V_j, cumulative gate logs LG, all as
// staged; the gates are exp factors, so no signs), start state S0 and the gradient dS
// of the state after the chunk, with D_is = exp(LG_i - LG_s) (per key column under a
// row gate) and the readouts' gradients dO_r:
//
//   dP_is   = dO_i . V_s                                        (s <= i)
//   A_is    = sum_k Q_ik K_sk D_isk                             (the forward's scores)
//   dQ_i    = exp(LG_i) ⊙ (S0 dO_i)          + sum_{s<=i} dP_is D_is ⊙ K_s
//   dK_s    = Γ_L/Γ_s ⊙ (dS V_s)             + sum_{i>=s} dP_is D_is ⊙ Q_i
//   dV_s    = (Γ_L/Γ_s ⊙ K_s)^T dS           + sum_{i>=s} A_is dO_i
//   dS     <- Γ_L ⊙ dS + sum_i (exp(LG_i) ⊙ Q_i)^T dO_i          (dS before the chunk)
//   dLG_i   = Q_i ⊙ dQ_i - K_i ⊙ dK_i                           (summed over the
//             readouts, terms and, for a scalar gate, the key columns)
//
// summed over readouts r and terms j. The last is the gradient of the loss with respect
// to the cumulative log at step i (it multiplies Q_i where Q_i appears and divides K_i);
// the gradient of a step's own gate log is the sum of dLG over it and every later
// step, a reverse cumulative sum carried from chunk to chunk, started by
// sum_v S_T ⊙ dS_T for the final state. Gates clamped at kLogDecayFloor get none.
//
// A delta rule (a scalar gate; passes/ChunkMath.h's WY solve) is the decay above with
// the pseudo-values W in place of V (its one term's keys K, no factors), where
// (I + A) W = R, A_is = b_i D_is (K_i . K_s) (s < i), R_i = b_i (V_i - P_i),
// P_i = exp(LG_i) S0^T K_i. From the decay's gradient dW of the pseudo-values:
//
//   dR      = (I + A)^-T dW                     (back substitution, last row first)
//   E_is    = -dR_i . W_s                       (dA, s < i)
//   dV_i    = b_i dR_i
//   db_i    = dR_i . (V_i - P_i) + sum_{s<i} E_is D_is (K_i . K_s)
//   dK_i   += exp(LG_i) S0 dP_i + sum_{s<i} F_is K_s + sum_{i'>i} F_i'i K_i',
//             dP_i = -b_i dR_i,  F_is = E_is b_i D_is
//   dS     += sum_i exp(LG_i) K_i dP_i^T
//   dLG_i  += P_i . dP_i + sum_{s<i} E_is A_is - sum_{i'>i} E_i'i A_i'i
//
// the last added to the decay's dLG_i, taken before (its K ⊙ dK is the decay's part of
// dK). Scaling the state after a chunk is scaling the next step's gate, for the delta
// rule as for a decay, so the running sum of dLG carries across chunks the same way.
//
// A scalar gate given by value (`alpha[t] * S`, `gamma * S`; its sign tracked as the
// forward does, SG folded into the staged keys and queries, so that the formulas above
// hold for them and the state after the chunk carries SG_L) gets the gradient of a
// step's gate from its log's, g_t / G_t. The running sum of dLG would give g_t as a
// difference of terms that do not carry G_t, which loses its digits where G_t is
// small; instead, per chunk, from sums whose every term carries G_t:
//
//   g_t = sum_{s<t<=i} W_is + sum_{i>=t} u_i + c_0 + sum_{s<t} c_s
//   W_is = dP_is A_is (+ the delta rule's E_is A_is)       (the pairs straddling t)
//   u_i  = Q_i . exp(LG_i) (S0 dO_i) (+ the delta rule's P_i . dP_i)  (rows at or
//          after t, through the start state)
//   c_0 = SG_L exp(LG_L) <S0, dS>,  c_s = K_s . SG_L Γ_L/Γ_s (dS V_s)  (the state after
//          the chunk, through t)
//
// O(C^3) additions per chunk for the pairs. A row gate given by value would need the
// same per key column: it runs step by step (getChunkedAdjointForms).
//
// Under a row gate, D_is has a factor per key column; as the forward, the pairs of
// different sub-chunks go through the row r before i's sub-chunk,
// D_is = exp(LG_i - LG_r) exp(LG_r - LG_s), products of decays that cannot overflow,
// so their sums are row combinations; the pairs of one sub-chunk take an exp each.
//
// The program: the forward once, chunk by chunk, keeping each chunk's start state;
// then the chunks from the last: the forward's chunk again (its staged rows, its
// readouts when the adjoint reads them), the adjoint's ops that give the readouts'
// gradients, step by step; the chunk's gradients above; then each step of the chunk,
// last first, with the chains' gradients of keys, values, queries and gate factors
// bound in place of the adjoint's chain ops (marked by tmix-derive-recurrence-grad),
// the rest of the adjoint (what computes those roots, and everything around them).
// Memory: O(T / chunk) states per program.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/ChunkedAdjoint.h"
#include "codegen/cpu/ChunkedLowering.h"
#include "codegen/cpu/VectorRows.h"
#include "dialect/ScheduleBounds.h"
#include "passes/ChunkForm.h"
#include "passes/ChunkMath.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::tmix;

bool mlir::tmix::hasChunkedAdjointMarks(RecurrenceOp op) {
  bool marked = false;
  op.getStepOp().walk([&](Operation *inner) {
    marked |= inner->hasAttr(kChunkAdjointAttr);
  });
  return marked;
}

bool mlir::tmix::runsChunkedAdjointOnCpu(RecurrenceOp op) {
  if (!hasChunkedAdjointMarks(op))
    return false;
  // The derivation marks every state's tmix.forward_state a chunk primal but a vector
  // state's beside the chunks, whose value the adjoint reads step by step.
  WalkResult vectorBeside = op.getStepOp().walk([](ForwardStateOp read) {
    return read->hasAttr(kChunkPrimalAttr) ? WalkResult::advance()
                                           : WalkResult::interrupt();
  });
  return !vectorBeside.wasInterrupted();
}

namespace {

/// The gradient buffers of one state's chunk.
struct ChunkGrads {
  SmallVector<Value> outputGrads, queryGrads; // per readout: dO [C, V], dQ [C, K]
  SmallVector<Value> keyGrads, valueGrads;    // per term: dK [C, K], dV [C, V]
  Value valuesByColumn;                       // [V, C]: one term's values
  Value stateByColumn, stateGradByColumn;     // [V, K]: S0 and dS transposed
  Value pairGrads, pairScores;                // [C, C]: dP and A of one pair (r, j)
  // A sub-chunk's rows i: E_i = exp(LG_i - LG_r) and Q_i ⊙ E_i; the earlier rows s:
  // F_s = exp(LG_r - LG_s), K_s ⊙ F_s and the same transposed.
  Value queryDecay, decayedQueries; // [C, K]
  Value keyDecay, decayedKeys;      // [C, K]
  Value decayedKeysByColumn;        // [K, C]
  Value rowSums;                    // [C, K]: rows' sums before their decay
  Value pairDecay;                  // [2, K]: D_is and K_s ⊙ D_is of one pair
  Value logGrads;                   // [C, gateSize]: dLG
  Value runningLogGrad;             // [gateSize]: sum of dLG over the later steps
  // The delta rule's WY solve (the file comment); pairGrads then holds -E, pairScores F.
  Value stagedValues;    // [C, V]: V_i (the solve overwrites the chunk's with W)
  Value projections;     // [C, V]: S0^T K_i
  Value keyProducts;     // [C, C]: K_i . K_s
  Value pairDecays;      // [C, C]: D_is = Γ_i / Γ_s below the diagonal, else 0
  Value predictionGrads; // [C, V]: exp(LG_i) dP_i
  Value strengthGrads;   // [C]: db_i
  // A scalar gate given by value (the file comment): the terms of each step's gate log
  // gradient, and that gradient.
  Value pairLogTerms;  // [C, C]: W_is (+ the delta rule's E_is A_is), s < i
  Value rowLogTerms;   // [C]: u_i (+ the delta rule's P_i . dP_i)
  Value stateLogTerms; // [C]: c_s
  Value endLogTerm;    // [1]: c_0
  Value gateLogGrads;  // [C]: g_t
};

class ChunkedAdjoint {
public:
  ChunkedAdjoint(RecurrenceOp op, RecurrenceOp forward, int64_t chunkSize)
      : forms(*getChunkedAdjointForms(forward)), adjoint(op, /*fuseElementwise=*/false),
        kb(adjoint.kernel()), b(kb.builder()), primal(forward, adjoint),
        chunked(primal, forms, chunkSize), chunkSize(chunkSize) {}

  void lower();
  /// The bound every recurrence program keeps (dialect/ScheduleBounds.h).
  LogicalResult checkScratch(RecurrenceOp op, int64_t chunkSize) {
    if (kb.knownScratchBytes() <= static_cast<uint64_t>(kMaxProgramScratchBytes))
      return success();
    return op.emitOpError("needs ")
           << kb.knownScratchBytes()
           << " bytes of scratch buffers per program for its chunked backward (chunk="
           << chunkSize << " and the fixed state and step dims), more than "
           << kMaxProgramScratchBytes << ": choose a smaller chunk";
  }

private:
  void collectMarks();
  void allocate();
  /// The readouts' gradients of the chunk's steps, into outputGrads.
  void readoutGrads(Value start, Value length);
  /// The chunk's gradients (the file comment) of state chunk `index`.
  void chunkGrads(unsigned index, Value length);
  void stateTerms(StateChunk &chunk, ChunkGrads &grads, Value length);
  void pairTerms(StateChunk &chunk, ChunkGrads &grads, unsigned readout, unsigned term,
                 Value length);
  void logGrads(StateChunk &chunk, ChunkGrads &grads, Value length);
  /// The delta rule's terms (the file comment): dW in valueGrads becomes dV; dK, dLG
  /// and dS added to; db.
  void deltaGrads(StateChunk &chunk, ChunkGrads &grads, Value length);
  /// A scalar gate given by value: g_t, each step's gate log gradient, from the terms
  /// that carry its gate (the file comment).
  void gateLogGrads(StateChunk &chunk, ChunkGrads &grads, Value length);
  /// The sign of Γ at `row` (a scalar gate), or null when the form tracks none.
  Value signAt(StateChunk &chunk, Value row) {
    return chunk.sign ? load(chunk.sign, {row, kb.index(0)}) : Value();
  }
  Value timesSign(Value x, Value sign) { return sign ? mul(x, sign) : x; }
  /// dst[i] = sum_x lhs[x][i, :] . rhs[x][i, :] over the pairs of [C, cols] buffers, for
  /// the rows i < length.
  void rowDots(Value dst, Value length, Value cols, ArrayRef<Value> lhs,
               ArrayRef<Value> rhs) {
    forRange(length, [&](Value i) {
      Value total = kb.f32(0.0);
      for (auto [left, right] : llvm::zip_equal(lhs, rhs)) {
        Value l = left, r = right; // (C++17: no captures of structured bindings)
        total = add(total, sumRange(cols, [&](Value k) {
                      return mul(load(l, {i, k}), load(r, {i, k}));
                    }));
      }
      store(total, dst, i);
    });
  }
  /// Binds the chains' gradients of the roots at step `start + row` (the primal's step
  /// ops already lowered for it) to the adjoint's seeds.
  void bindSeeds(Value row);
  /// Calls `visit` for each role of `root` in the chunk forms (a gate factor, a term's
  /// key, value or factor, a readout's query) with its gradient at element x of row
  /// `row`; for a scalar root, x runs over `extent` columns that the sum covers.
  using RoleVisitor =
      function_ref<void(Value extent, function_ref<Value(Value x)> at)>;
  void forEachRole(Value root, Value row, RoleVisitor visit);
  /// Copies the chunk's readouts at `row` into the adjoint's recomputed readouts.
  void bindReadouts(Value row);

  Value add(Value x, Value y) {
    return arith::AddFOp::create(b, x, y,
                                 arith::FastMathFlags::reassoc |
                                     arith::FastMathFlags::contract);
  }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mul(Value x, Value y) {
    return arith::MulFOp::create(b, x, y, arith::FastMathFlags::contract);
  }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value load(Value buffer, ValueRange indices) {
    return memref::LoadOp::create(b, buffer, indices);
  }
  void store(Value value, Value buffer, ValueRange indices) {
    memref::StoreOp::create(b, value, buffer, indices);
  }
  void forRange(Value lb, Value ub, function_ref<void(Value)> body) {
    kb.loop(lb, ub, kb.index(1), {}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>{};
    });
  }
  void forRange(Value ub, function_ref<void(Value)> body) {
    forRange(kb.index(0), ub, body);
  }
  Value sumRange(Value lb, Value ub, function_ref<Value(Value)> term) {
    return kb.loop(lb, ub, kb.index(1), {kb.f32(0.0)}, [&](Value iv, ValueRange acc) {
      return SmallVector<Value>{add(acc[0], term(iv))};
    })[0];
  }
  Value sumRange(Value ub, function_ref<Value(Value)> term) {
    return sumRange(kb.index(0), ub, term);
  }
  /// dst[row, 0:cols] = sum_{x < count} weight(row, x) * rows[x, 0:cols] for the rows
  /// in [begin, end), kRowBlock at a time.
  void rowProducts(Value dst, Value begin, Value end, Value cols,
                   function_ref<Value(Value row, Value x)> weight, Value rows,
                   Value count) {
    forRowBlocks(kb, begin, end, [&](ArrayRef<Value> block) {
      combineRowBlock(
          kb, dst, block, cols, {},
          [&](unsigned r, Value x) { return weight(block[r], x); }, rows, Value(),
          count);
    });
  }
  /// dst[row, k] = factor[row, k] * sums[row, k] (plus dst[row, k] when `accumulate`)
  /// for the rows in [begin, end) and k < cols.
  void scaleRows(Value dst, Value begin, Value end, Value cols, Value factor, Value sums,
                 bool accumulate) {
    forRange(begin, end, [&](Value row) {
      forRange(cols, [&](Value k) {
        Value term = mul(load(factor, {row, k}), load(sums, {row, k}));
        store(accumulate ? add(load(dst, {row, k}), term) : term, dst, {row, k});
      });
    });
  }
  /// For the rows x in [begin, end) and k < K: decay[x, k] = exp(LG_to(x) - LG_from(x))
  /// at k's gate index, decayed[x, k] = source[x, k] * decay[x, k], also into
  /// byColumn[k, x] when given.
  void decayRows(StateChunk &chunk, Value begin, Value end, function_ref<Value(Value)> to,
                 function_ref<Value(Value)> from, Value source, Value decay, Value decayed,
                 Value byColumn = Value()) {
    forRange(begin, end, [&](Value x) {
      forRange(chunk.kSize, [&](Value k) {
        Value g = chunked.gateIndex(chunk, k);
        Value factor = exp(chunked.logRatio(chunk, to(x), from(x), g));
        Value value = mul(load(source, {x, k}), factor);
        store(factor, decay, {x, k});
        store(value, decayed, {x, k});
        if (byColumn)
          store(value, byColumn, {k, x});
      });
    });
  }
  /// The factor as it multiplies: value or 1 / value.
  Value factorTimes(const ChunkFactor &factor, Value k) {
    Value value = chunked.factorValue(factor, k);
    return factor.inverse ? Value(arith::DivFOp::create(b, kb.f32(1.0), value)) : value;
  }
  /// d(factorTimes) / d(factor.value) at key column k.
  Value factorDerivative(const ChunkFactor &factor, Value k) {
    Value value = chunked.factorValue(factor, k);
    if (!factor.inverse)
      return factor.isExp ? value : kb.f32(1.0);
    // -1/u^2 du/dx: -exp(-x) for exp(x), -1/x^2 for x.
    Value inverse = arith::DivFOp::create(b, kb.f32(1.0), value);
    Value derivative = factor.isExp ? inverse : mul(inverse, inverse);
    return arith::NegFOp::create(b, derivative);
  }

  SmallVector<ChunkForm, 1> forms;
  StepLowering adjoint;
  KernelBuilder &kb;
  ImplicitLocOpBuilder &b;
  StepLowering primal;
  ChunkedSteps chunked;
  int64_t chunkSize;
  SmallVector<ChunkGrads, 1> grads;
  SmallVector<Value> checkpoints; // per form: [chunks, K, V]

  SmallVector<Value> roots;                        // getChunkRoots
  SmallVector<Value> seeds;                        // per root: the adjoint's value
  SmallVector<std::pair<unsigned, unsigned>> readouts; // (form, readout) per readout
  SmallVector<Value> readoutValues, readoutGradValues; // per readout, or null
  DenseSet<Operation *> replaced; // the chains' ops
  // The adjoint's ops that dO needs; those each step runs after the seeds; the
  // forward's ops that the seeds read.
  DenseSet<Operation *> gradOps, stepOps, seedPrimalOps;
};

void ChunkedAdjoint::collectMarks() {
  roots = getChunkRoots(forms);
  seeds.assign(roots.size(), Value());
  for (auto [formIndex, form] : llvm::enumerate(forms))
    for (unsigned index = 0; index < form.readouts.size(); ++index)
      readouts.push_back({static_cast<unsigned>(formIndex), index});
  readoutValues.assign(readouts.size(), Value());
  readoutGradValues.assign(readouts.size(), Value());
  Block &body = adjoint.stepBody();
  for (Operation &op : body.without_terminator()) {
    if (op.hasAttr(kChunkPrimalAttr) || op.hasAttr(kChunkAdjointAttr))
      replaced.insert(&op);
    if (auto index = op.getAttrOfType<IntegerAttr>(kChunkReadoutAttr))
      readoutValues[index.getInt()] = op.getResult(0);
    if (auto indices = op.getAttrOfType<DenseI64ArrayAttr>(kChunkSeedsAttr))
      for (int64_t index : indices.asArrayRef())
        seeds[index] = op.getResult(0);
    if (auto indices = op.getAttrOfType<DenseI64ArrayAttr>(kChunkReadoutGradsAttr))
      for (int64_t index : indices.asArrayRef())
        readoutGradValues[index] = op.getResult(0);
  }
  // The ops each runs, not those the chunk loops replace (or bind).
  SmallVector<Value> bars;
  for (Value value : readoutGradValues)
    if (value)
      bars.push_back(value);
  collectProducers(body, bars, replaced, gradOps);
  // After the seeds: what the step's outputs and accumulators need.
  SmallVector<Value> yielded(adjoint.stepYield().getValues().drop_front(primal.numStates()));
  collectProducers(body, yielded, replaced, stepOps);
  // The seeds read the gate factors (whether the forward clamped a step's log) and,
  // where a term has factors, its key and factors.
  SmallVector<Value> seedRoots;
  for (const ChunkForm &form : forms) {
    for (const ChunkFactor &factor : form.gate)
      seedRoots.push_back(factor.value);
    for (const RankOneTerm &term : form.terms)
      if (!term.factors.empty()) {
        seedRoots.push_back(term.key);
        for (const ChunkFactor &factor : term.factors)
          seedRoots.push_back(factor.value);
      }
    if (form.delta)
      for (const ChunkFactor &factor : form.delta->strength)
        seedRoots.push_back(factor.value);
  }
  collectProducers(primal.stepBody(), seedRoots, {}, seedPrimalOps);
}

void ChunkedAdjoint::allocate() {
  auto matrix =
      MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, b.getF32Type());
  auto alloc = [&](Value rows, Value cols) {
    return kb.allocateScratch(matrix, ValueRange{rows, cols});
  };
  Value rows = kb.index(chunkSize);
  Value numChunks = arith::CeilDivUIOp::create(b, adjoint.numSteps(), rows);
  auto cube = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic},
                              b.getF32Type());
  for (const ChunkForm &form : forms) {
    auto stateType = cast<SpecTensorType>(
        primal.stepBody().getArgument(1 + form.stateIndex).getType());
    Value kSize = kb.dimValue(stateType.getDims()[0]);
    Value vSize = kb.dimValue(stateType.getDims()[1]);
    Value gateSize = form.hasRowGate() ? kSize : kb.index(1);
    checkpoints.push_back(kb.allocateScratch(cube, ValueRange{numChunks, kSize, vSize}));
    ChunkGrads chunk;
    for (size_t r = 0; r < form.readouts.size(); ++r) {
      chunk.outputGrads.push_back(alloc(rows, vSize));
      chunk.queryGrads.push_back(alloc(rows, kSize));
    }
    for (size_t j = 0, e = form.delta ? 1 : form.terms.size(); j < e; ++j) {
      chunk.keyGrads.push_back(alloc(rows, kSize));
      chunk.valueGrads.push_back(alloc(rows, vSize));
    }
    if (form.delta) {
      chunk.stagedValues = alloc(rows, vSize);
      chunk.projections = alloc(rows, vSize);
      chunk.keyProducts = alloc(rows, rows);
      chunk.pairDecays = alloc(rows, rows);
      chunk.predictionGrads = alloc(rows, vSize);
      chunk.strengthGrads = kb.allocateScratch(
          MemRefType::get({ShapedType::kDynamic}, b.getF32Type()), ValueRange{rows});
    }
    if (form.needsSign()) {
      auto vector = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
      chunk.pairLogTerms = alloc(rows, rows);
      chunk.rowLogTerms = kb.allocateScratch(vector, ValueRange{rows});
      chunk.stateLogTerms = kb.allocateScratch(vector, ValueRange{rows});
      chunk.endLogTerm = kb.allocateScratch(vector, ValueRange{kb.index(1)});
      chunk.gateLogGrads = kb.allocateScratch(vector, ValueRange{rows});
    }
    chunk.valuesByColumn = alloc(vSize, rows);
    chunk.stateByColumn = alloc(vSize, kSize);
    chunk.stateGradByColumn = alloc(vSize, kSize);
    chunk.pairGrads = alloc(rows, rows);
    chunk.pairScores = alloc(rows, rows);
    chunk.queryDecay = alloc(rows, kSize);
    chunk.decayedQueries = alloc(rows, kSize);
    chunk.keyDecay = alloc(rows, kSize);
    chunk.decayedKeys = alloc(rows, kSize);
    chunk.decayedKeysByColumn = alloc(kSize, rows);
    chunk.rowSums = alloc(rows, kSize);
    chunk.pairDecay = alloc(kb.index(2), kSize);
    chunk.logGrads = alloc(rows, gateSize);
    chunk.runningLogGrad =
        kb.allocateScratch(MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
                           ValueRange{gateSize});
    grads.push_back(chunk);
  }
  chunked.allocate();
}

void ChunkedAdjoint::bindReadouts(Value row) {
  for (auto [index, pair] : llvm::enumerate(readouts)) {
    Value value = readoutValues[index];
    if (!value)
      continue;
    StateChunk &chunk = chunked.chunks()[pair.first];
    Value target = adjoint.bufferOf(value), out = chunk.outputs[pair.second];
    forRange(chunk.vSize, [&](Value v) { store(load(out, {row, v}), target, v); });
  }
}

void ChunkedAdjoint::readoutGrads(Value start, Value length) {
  forRange(length, [&](Value row) {
    adjoint.beginStep(arith::AddIOp::create(b, start, row));
    bindReadouts(row);
    adjoint.lowerOps([&](Operation *op) { return gradOps.contains(op); });
    for (auto [index, pair] : llvm::enumerate(readouts)) {
      StateChunk &chunk = chunked.chunks()[pair.first];
      Value dO = grads[pair.first].outputGrads[pair.second];
      Value bar = readoutGradValues[index];
      forRange(chunk.vSize, [&](Value v) {
        store(bar ? adjoint.element(bar, {}, v) : kb.f32(0.0), dO, {row, v});
      });
    }
  });
}

/// The terms of S0 and dS: dQ, dK and dV start from them; then dS moves to the
/// chunk's start.
void ChunkedAdjoint::stateTerms(StateChunk &chunk, ChunkGrads &grads, Value length) {
  const ChunkForm &form = *chunk.form;
  Value state = primal.stateBuffer(form.stateIndex);
  Value stateGrad = adjoint.stateBuffer(form.stateIndex);
  Value zero = kb.index(0), last = arith::SubIOp::create(b, length, kb.index(1));
  // A gate that may be negative: the state after the chunk is SG_L times the staged
  // rows' sums (ChunkedLowering.cpp), so its terms carry SG_L.
  Value endSign = signAt(chunk, last);
  forRange(chunk.kSize, [&](Value k) {
    forRange(chunk.vSize, [&](Value v) {
      store(load(state, {k, v}), grads.stateByColumn, {v, k});
      store(load(stateGrad, {k, v}), grads.stateGradByColumn, {v, k});
    });
  });
  // ---- c_0 = SG_L exp(LG_L) <S0, dS> ----
  if (grads.endLogTerm) {
    Value sum = sumRange(chunk.kSize, [&](Value k) {
      return sumRange(chunk.vSize, [&](Value v) {
        return mul(load(state, {k, v}), load(stateGrad, {k, v}));
      });
    });
    store(timesSign(mul(exp(chunked.logOf(chunk, last, zero)), sum), endSign),
          grads.endLogTerm, zero);
  }
  // ---- dQ_i = exp(LG_i) ⊙ (S0 dO_i); exp(LG_i) in queryDecay ----
  forRange(length, [&](Value i) {
    forRange(chunk.kSize, [&](Value k) {
      Value decay = exp(chunked.logOf(chunk, i, chunked.gateIndex(chunk, k)));
      store(decay, grads.queryDecay, {i, k});
    });
  });
  for (auto [r, dQ] : llvm::enumerate(grads.queryGrads)) {
    Value dO = grads.outputGrads[r];
    rowProducts(
        dQ, zero, length, chunk.kSize, [&](Value i, Value v) { return load(dO, {i, v}); },
        grads.stateByColumn, chunk.vSize);
    scaleRows(dQ, zero, length, chunk.kSize, grads.queryDecay, dQ, /*accumulate=*/false);
  }
  // ---- u_i = sum_r Q_i . dQ_i (the start state's terms alone, so far) ----
  if (grads.rowLogTerms)
    rowDots(grads.rowLogTerms, length, chunk.kSize, chunk.queries, grads.queryGrads);
  // ---- dK_s = Γ_L/Γ_s ⊙ (dS V_s), dV_s = (Γ_L/Γ_s ⊙ K_s)^T dS ----
  for (size_t j = 0; j < grads.keyGrads.size(); ++j) {
    Value keys = chunk.keys[j], values = chunk.values[j];
    Value dK = grads.keyGrads[j], dV = grads.valueGrads[j];
    decayRows(
        chunk, zero, length, [&](Value) { return last; }, [](Value s) { return s; }, keys,
        grads.keyDecay, grads.decayedKeys);
    rowProducts(
        dV, zero, length, chunk.vSize,
        [&](Value s, Value k) {
          return timesSign(load(grads.decayedKeys, {s, k}), endSign);
        },
        stateGrad, chunk.kSize);
    rowProducts(
        dK, zero, length, chunk.kSize, [&](Value s, Value v) { return load(values, {s, v}); },
        grads.stateGradByColumn, chunk.vSize);
    scaleRows(dK, zero, length, chunk.kSize, grads.keyDecay, dK, /*accumulate=*/false);
    if (endSign)
      forRange(length, [&](Value s) {
        forRange(chunk.kSize, [&](Value k) {
          store(mul(load(dK, {s, k}), endSign), dK, {s, k});
        });
      });
  }
  // ---- c_s = sum_j K_s . dK_s (the state's terms alone, so far) ----
  if (grads.stateLogTerms)
    rowDots(grads.stateLogTerms, length, chunk.kSize, chunk.keys, grads.keyGrads);
  // ---- dS <- Γ_L ⊙ dS + sum_i (exp(LG_i) ⊙ Q_i)^T dO_i ----
  forRange(chunk.kSize, [&](Value k) {
    Value g = chunked.gateIndex(chunk, k);
    Value scale = timesSign(exp(chunked.logOf(chunk, last, g)), endSign);
    forRange(chunk.vSize, [&](Value v) {
      store(mul(load(stateGrad, {k, v}), scale), stateGrad, {k, v});
    });
  });
  for (size_t r = 0; r < grads.outputGrads.size(); ++r) {
    Value dO = grads.outputGrads[r], queries = chunk.queries[r];
    forRange(length, [&](Value i) {
      forRange(chunk.kSize, [&](Value k) {
        store(mul(load(queries, {i, k}), load(grads.queryDecay, {i, k})),
              grads.decayedQueries, {i, k});
      });
    });
    forRowBlocks(kb, zero, chunk.kSize, [&](ArrayRef<Value> rows) {
      combineRowBlock(
          kb, stateGrad, rows, chunk.vSize, kb.f32(1.0),
          [&](unsigned r, Value i) { return load(grads.decayedQueries, {i, rows[r]}); },
          dO, Value(), length);
    });
  }
}

/// The intra-chunk terms of readout r and term j: dP, A; dQ_r, dK_j and dV_j added to.
void ChunkedAdjoint::pairTerms(StateChunk &chunk, ChunkGrads &grads, unsigned r,
                               unsigned j, Value length) {
  Value queries = chunk.queries[r], keys = chunk.keys[j], values = chunk.values[j];
  Value dO = grads.outputGrads[r], dQ = grads.queryGrads[r];
  Value dK = grads.keyGrads[j], dV = grads.valueGrads[j];
  Value dP = grads.pairGrads, scores = grads.pairScores;
  Value zero = kb.index(0), one = kb.index(1);
  // ---- dP_is = dO_i . V_s, s <= i ----
  forRange(length, [&](Value s) {
    forRange(chunk.vSize, [&](Value v) {
      store(load(values, {s, v}), grads.valuesByColumn, {v, s});
    });
  });
  // (a block's rows get the columns of its last row: past the diagonal, unread)
  forRowBlocks(kb, zero, length, [&](ArrayRef<Value> rows) {
    combineRowBlock(
        kb, dP, rows, arith::AddIOp::create(b, rows.back(), one), {},
        [&](unsigned r, Value v) { return load(dO, {rows[r], v}); }, grads.valuesByColumn,
        Value(), chunk.vSize);
  });
  Value subChunk = kb.index(kSubChunk);
  kb.loop(zero, length, subChunk, {}, [&](Value first, ValueRange) {
    Value end = arith::MinUIOp::create(b, arith::AddIOp::create(b, first, subChunk), length);
    Value rows = arith::SubIOp::create(b, end, first);
    // ---- pairs with s in an earlier sub-chunk, through the row before this one ----
    Value earlier = arith::CmpIOp::create(b, arith::CmpIPredicate::ne, first, zero);
    kb.ifElse(earlier, {}, [&] {
      Value reference = arith::SubIOp::create(b, first, one);
      decayRows(
          chunk, zero, first, [&](Value) { return reference; }, [](Value s) { return s; },
          keys, grads.keyDecay, grads.decayedKeys, grads.decayedKeysByColumn);
      decayRows(
          chunk, first, end, [](Value i) { return i; }, [&](Value) { return reference; },
          queries, grads.queryDecay, grads.decayedQueries);
      // A_is = (Q_i ⊙ E_i) . (K_s ⊙ F_s)
      rowProducts(
          scores, first, end, first,
          [&](Value i, Value k) { return load(grads.decayedQueries, {i, k}); },
          grads.decayedKeysByColumn, chunk.kSize);
      // dQ_i += E_i ⊙ sum_s dP_is (K_s ⊙ F_s)
      rowProducts(
          grads.rowSums, first, end, chunk.kSize,
          [&](Value i, Value s) { return load(dP, {i, s}); }, grads.decayedKeys, first);
      scaleRows(dQ, first, end, chunk.kSize, grads.queryDecay, grads.rowSums,
                /*accumulate=*/true);
      // dK_s += F_s ⊙ sum_{i in this sub-chunk} dP_is (Q_i ⊙ E_i)
      forRowBlocks(kb, zero, first, [&](ArrayRef<Value> block) {
        combineRowBlock(
            kb, grads.rowSums, block, chunk.kSize, {},
            [&](unsigned r, Value i) { return load(dP, {i, block[r]}); },
            grads.decayedQueries, first, rows);
      });
      scaleRows(dK, zero, first, chunk.kSize, grads.keyDecay, grads.rowSums,
                /*accumulate=*/true);
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
    // ---- pairs within the sub-chunk, s <= i: an exp per element, in loops LLVM
    // vectorises ----
    forRange(first, end, [&](Value i) {
      forRange(first, arith::AddIOp::create(b, i, one), [&](Value s) {
        Value pairGrad = load(dP, {i, s});
        forRange(chunk.kSize, [&](Value k) {
          Value decay = exp(chunked.logRatio(chunk, i, s, chunked.gateIndex(chunk, k)));
          store(decay, grads.pairDecay, {zero, k});
          store(mul(load(keys, {s, k}), decay), grads.pairDecay, {one, k});
        });
        Value score = sumRange(chunk.kSize, [&](Value k) {
          return mul(load(queries, {i, k}), load(grads.pairDecay, {one, k}));
        });
        store(score, scores, {i, s});
        forRange(chunk.kSize, [&](Value k) {
          Value term = mul(pairGrad, load(grads.pairDecay, {one, k}));
          store(add(load(dQ, {i, k}), term), dQ, {i, k});
        });
        forRange(chunk.kSize, [&](Value k) {
          Value query = mul(load(queries, {i, k}), load(grads.pairDecay, {zero, k}));
          store(add(load(dK, {s, k}), mul(pairGrad, query)), dK, {s, k});
        });
      });
    });
    return SmallVector<Value>{};
  });
  // ---- dV_s += sum_{i >= s} A_is dO_i ----
  // (a block's rows start at its first row: A_is with i < s counts as 0)
  forRowBlocks(kb, zero, length, [&](ArrayRef<Value> block) {
    combineRowBlock(
        kb, dV, block, chunk.vSize, kb.f32(1.0),
        [&](unsigned r, Value i) {
          Value below = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, i, block[r]);
          return Value(arith::SelectOp::create(b, below, kb.f32(0.0),
                                               load(scores, {i, block[r]})));
        },
        dO, block.front(), arith::SubIOp::create(b, length, block.front()));
  });
  // ---- W_is += dP_is A_is, s < i (a gate given by value) ----
  if (grads.pairLogTerms)
    forRange(length, [&](Value i) {
      forRange(i, [&](Value s) {
        Value term = mul(load(dP, {i, s}), load(scores, {i, s}));
        store(add(load(grads.pairLogTerms, {i, s}), term), grads.pairLogTerms, {i, s});
      });
    });
}

/// dLG_i = sum_r Q_i ⊙ dQ_i - sum_j K_i ⊙ dK_i (a scalar gate: summed over k).
void ChunkedAdjoint::logGrads(StateChunk &chunk, ChunkGrads &grads, Value length) {
  auto at = [&](Value i, Value k) {
    Value total = kb.f32(0.0);
    for (auto [r, dQ] : llvm::enumerate(grads.queryGrads))
      total = add(total, mul(load(chunk.queries[r], {i, k}), load(dQ, {i, k})));
    for (auto [j, dK] : llvm::enumerate(grads.keyGrads))
      total = sub(total, mul(load(chunk.keys[j], {i, k}), load(dK, {i, k})));
    return total;
  };
  Value zero = kb.index(0);
  forRange(length, [&](Value i) {
    if (chunk.form->hasRowGate())
      forRange(chunk.kSize, [&](Value k) { store(at(i, k), grads.logGrads, {i, k}); });
    else
      store(sumRange(chunk.kSize, [&](Value k) { return at(i, k); }), grads.logGrads,
            {i, zero});
  });
}

void ChunkedAdjoint::deltaGrads(StateChunk &chunk, ChunkGrads &grads, Value length) {
  Value state = primal.stateBuffer(chunk.form->stateIndex);
  Value stateGrad = adjoint.stateBuffer(chunk.form->stateIndex);
  Value keys = chunk.keys[0], pseudo = chunk.values[0], strengths = chunk.strengths;
  Value dK = grads.keyGrads[0], dR = grads.valueGrads[0], dLG = grads.logGrads;
  Value negatedE = grads.pairGrads, pairFactors = grads.pairScores;
  Value zero = kb.index(0), one = kb.index(1);
  // ---- K_i . K_s; D_is below the diagonal ----
  rowProducts(
      grads.keyProducts, zero, length, length,
      [&](Value i, Value k) {
        return load(keys, {i, k});
      },
      chunk.keysByColumn[0], chunk.kSize);
  forRange(length, [&](Value i) {
    forRange(i, [&](Value s) {
      store(exp(chunked.logRatio(chunk, i, s, zero)), grads.pairDecays, {i, s});
    });
    forRange(i, length, [&](Value s) { store(kb.f32(0.0), grads.pairDecays, {i, s}); });
  });
  auto systemEntry = [&](Value i, Value s) {
    Value score = mul(load(grads.pairDecays, {i, s}), load(grads.keyProducts, {i, s}));
    return deltaSystemEntry(b, load(strengths, i), score, arith::FastMathFlags::contract);
  };
  // ---- dR = (I + A)^-T dW in place, last row first: dR_s = dW_s - sum_{i>s} A_is dR_i
  forRange(length, [&](Value back) {
    Value s = arith::SubIOp::create(b, arith::SubIOp::create(b, length, one), back);
    Value first = arith::AddIOp::create(b, s, one);
    combineRowBlock(
        kb, dR, {s}, chunk.vSize, kb.f32(1.0),
        [&](unsigned, Value i) {
          return Value(arith::NegFOp::create(b, systemEntry(i, s)));
        },
        dR, first, arith::SubIOp::create(b, length, first));
  });
  // ---- S0^T K_i; -E_is = dR_i . W_s ----
  rowProducts(
      grads.projections, zero, length, chunk.vSize,
      [&](Value i, Value k) {
        return load(keys, {i, k});
      },
      state, chunk.kSize);
  forRange(length, [&](Value s) {
    forRange(chunk.vSize, [&](Value v) {
      store(load(pseudo, {s, v}), grads.valuesByColumn, {v, s});
    });
  });
  rowProducts(
      negatedE, zero, length, length,
      [&](Value i, Value v) {
        return load(dR, {i, v});
      },
      grads.valuesByColumn, chunk.vSize);
  // ---- per row: exp(LG_i) dP_i = -exp(LG_i) b_i dR_i; db_i, F_is, dLG_i's own terms
  forRange(length, [&](Value i) {
    Value strength = load(strengths, i);
    Value decay = exp(chunked.logOf(chunk, i, zero));
    Value scale = arith::NegFOp::create(b, mul(decay, strength));
    forRange(chunk.vSize, [&](Value v) {
      store(mul(scale, load(dR, {i, v})), grads.predictionGrads, {i, v});
    });
    Value residual = sumRange(chunk.vSize, [&](Value v) {
      Value prediction = mul(decay, load(grads.projections, {i, v}));
      return mul(load(dR, {i, v}), sub(load(grads.stagedValues, {i, v}), prediction));
    });
    // P_i . dP_i = -b_i exp(LG_i) (S0^T K_i . dR_i)
    Value projected = sumRange(chunk.vSize, [&](Value v) {
      return mul(load(grads.projections, {i, v}), load(dR, {i, v}));
    });
    Value own = arith::NegFOp::create(b, mul(mul(strength, decay), projected));
    SmallVector<Value> sums =
        kb.loop(zero, i, one, {residual, own}, [&](Value s, ValueRange acc) {
          Value e = arith::NegFOp::create(b, load(negatedE, {i, s}));
          Value pairDecay = load(grads.pairDecays, {i, s});
          Value product = load(grads.keyProducts, {i, s});
          Value factor = mul(mul(e, strength), pairDecay);
          store(factor, pairFactors, {i, s});
          if (grads.pairLogTerms) // E_is A_is
            store(add(load(grads.pairLogTerms, {i, s}), mul(factor, product)),
                  grads.pairLogTerms, {i, s});
          return SmallVector<Value>{add(acc[0], mul(mul(e, pairDecay), product)),
                                    add(acc[1], mul(factor, product))};
        });
    forRange(i, length, [&](Value s) { store(kb.f32(0.0), pairFactors, {i, s}); });
    store(sums[0], grads.strengthGrads, i);
    store(add(load(dLG, {i, zero}), sums[1]), dLG, {i, zero});
    if (grads.rowLogTerms) // P_i . dP_i
      store(add(load(grads.rowLogTerms, i), own), grads.rowLogTerms, i);
  });
  // ---- dLG_s -= sum_{i>s} E_is A_is ----
  forRange(length, [&](Value s) {
    Value later = sumRange(arith::AddIOp::create(b, s, one), length, [&](Value i) {
      return mul(load(pairFactors, {i, s}), load(grads.keyProducts, {i, s}));
    });
    store(sub(load(dLG, {s, zero}), later), dLG, {s, zero});
  });
  // ---- dK_i += S0 exp(LG_i) dP_i + sum_{s<i} F_is K_s + sum_{i'>i} F_i'i K_i' ----
  forRowBlocks(kb, zero, length, [&](ArrayRef<Value> block) {
    combineRowBlock(
        kb, dK, block, chunk.kSize, kb.f32(1.0),
        [&](unsigned r, Value v) {
          return load(grads.predictionGrads, {block[r], v});
        },
        grads.stateByColumn, Value(), chunk.vSize);
    // (F_is = 0 for s >= i: a block's rows share its last row's count)
    combineRowBlock(
        kb, dK, block, chunk.kSize, kb.f32(1.0),
        [&](unsigned r, Value s) {
          return load(pairFactors, {block[r], s});
        },
        keys, Value(), block.back());
    combineRowBlock(
        kb, dK, block, chunk.kSize, kb.f32(1.0),
        [&](unsigned r, Value i) {
          return load(pairFactors, {i, block[r]});
        },
        keys, block.front(), arith::SubIOp::create(b, length, block.front()));
  });
  // ---- dS += sum_i K_i (exp(LG_i) dP_i)^T ----
  forRowBlocks(kb, zero, chunk.kSize, [&](ArrayRef<Value> rows) {
    combineRowBlock(
        kb, stateGrad, rows, chunk.vSize, kb.f32(1.0),
        [&](unsigned r, Value i) {
          return load(keys, {i, rows[r]});
        },
        grads.predictionGrads, Value(), length);
  });
  // ---- dV_i = b_i dR_i ----
  forRange(length, [&](Value i) {
    Value strength = load(strengths, i);
    forRange(chunk.vSize, [&](Value v) {
      store(mul(strength, load(dR, {i, v})), dR, {i, v});
    });
  });
}

void ChunkedAdjoint::chunkGrads(unsigned index, Value length) {
  StateChunk &chunk = chunked.chunks()[index];
  ChunkGrads &chunkGrads = grads[index];
  if (chunkGrads.pairLogTerms)
    forRange(length, [&](Value i) {
      forRange(length, [&](Value s) {
        store(kb.f32(0.0), chunkGrads.pairLogTerms, {i, s});
      });
    });
  stateTerms(chunk, chunkGrads, length);
  for (unsigned r = 0; r < chunk.queries.size(); ++r)
    for (unsigned j = 0; j < chunk.keys.size(); ++j)
      pairTerms(chunk, chunkGrads, r, j, length);
  logGrads(chunk, chunkGrads, length);
  if (chunk.form->delta)
    deltaGrads(chunk, chunkGrads, length);
  if (chunkGrads.gateLogGrads)
    gateLogGrads(chunk, chunkGrads, length);
}

/// g_t = sum_{s<t<=i} W_is + sum_{i>=t} u_i + c_0 + sum_{s<t} c_s: every term carries
/// step t's gate (a pair that straddles t, a row at or after t, the state after the
/// chunk through t), so that g_t / G_t keeps its digits where G_t is small.
void ChunkedAdjoint::gateLogGrads(StateChunk &chunk, ChunkGrads &grads, Value length) {
  Value zero = kb.index(0);
  Value end = load(grads.endLogTerm, zero);
  forRange(length, [&](Value t) {
    Value straddling = sumRange(t, [&](Value s) {
      return sumRange(t, length, [&](Value i) {
        return load(grads.pairLogTerms, {i, s});
      });
    });
    Value rows = sumRange(t, length, [&](Value i) { return load(grads.rowLogTerms, i); });
    Value before = sumRange(t, [&](Value s) { return load(grads.stateLogTerms, s); });
    store(add(add(straddling, rows), add(end, before)), grads.gateLogGrads, t);
  });
}

void ChunkedAdjoint::forEachRole(Value root, Value row, RoleVisitor visit) {
  for (size_t formIndex = 0; formIndex < forms.size(); ++formIndex) {
    const ChunkForm &form = forms[formIndex];
    StateChunk &chunk = chunked.chunks()[formIndex];
    ChunkGrads &chunkGrads = grads[formIndex];
    // The staged keys and queries carry the sign of Γ at their row (a gate that may be
    // negative): the rule's own get it back.
    Value sign = signAt(chunk, row);
    // ---- a gate factor: the step's log gradient times d log|G| / d(value), where its
    // log is above the floor: 1 for exp(x), 1 / f for a factor f, negated for an
    // inverse. The log gradient: the running sum (log-space gates), or g_t (a scalar
    // gate given by value) ----
    for (const ChunkFactor &factor : form.gate) {
      if (factor.value != root)
        continue;
      visit(chunk.gateSize, [&](Value g) -> Value {
        auto element = [&](const ChunkFactor &each) {
          bool eachVector = isa<SpecTensorType>(each.value.getType());
          return primal.element(each.value, {}, eachVector ? ValueRange{g} : ValueRange{});
        };
        StepGateLog log = stepGateLog(kb, form, element);
        Value open = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, log.log,
                                           kb.f32(kLogDecayFloor));
        Value logGrad = chunkGrads.gateLogGrads ? load(chunkGrads.gateLogGrads, row)
                                                : load(chunkGrads.runningLogGrad, g);
        if (!factor.isExp)
          logGrad = arith::DivFOp::create(b, logGrad, element(factor));
        Value grad = arith::SelectOp::create(b, open, logGrad, kb.f32(0.0));
        return factor.inverse ? Value(arith::NegFOp::create(b, grad)) : grad;
      });
    }
    for (size_t j = 0; j < form.terms.size(); ++j) {
      const RankOneTerm &term = form.terms[j];
      Value dK = chunkGrads.keyGrads[j];
      // The gradient of the term's key times its factors (its negation undone).
      auto keyGrad = [&](Value k) {
        Value grad = timesSign(load(dK, {row, k}), sign);
        return term.negated ? Value(arith::NegFOp::create(b, grad)) : grad;
      };
      if (term.key == root)
        visit(chunk.kSize, [&](Value k) {
          Value grad = keyGrad(k);
          for (const ChunkFactor &factor : term.factors)
            grad = mul(grad, factorTimes(factor, k));
          return grad;
        });
      if (term.value == root) {
        Value dV = chunkGrads.valueGrads[j];
        visit(chunk.vSize, [&](Value v) { return load(dV, {row, v}); });
      }
      for (size_t f = 0; f < term.factors.size(); ++f) {
        if (term.factors[f].value != root)
          continue;
        visit(chunk.kSize, [&](Value k) {
          Value grad = mul(keyGrad(k), primal.element(term.key, {}, k));
          for (auto [other, otherFactor] : llvm::enumerate(term.factors))
            grad = mul(grad, other == f ? factorDerivative(otherFactor, k)
                                        : factorTimes(otherFactor, k));
          return grad;
        });
      }
    }
    if (form.delta) {
      // The key's total gradient goes to `key`; `projectionKey`, when another slice of
      // it, gets none.
      const DeltaTerm &delta = *form.delta;
      Value dK = chunkGrads.keyGrads[0], dV = chunkGrads.valueGrads[0];
      if (delta.key == root)
        visit(chunk.kSize, [&](Value k) { return timesSign(load(dK, {row, k}), sign); });
      if (delta.value == root)
        visit(chunk.vSize, [&](Value v) { return load(dV, {row, v}); });
      for (size_t f = 0; f < delta.strength.size(); ++f) {
        if (delta.strength[f].value != root)
          continue;
        visit(kb.index(1), [&](Value) {
          Value grad = load(chunkGrads.strengthGrads, row);
          for (auto [other, otherFactor] : llvm::enumerate(delta.strength))
            grad = mul(grad, other == f ? factorDerivative(otherFactor, Value())
                                        : factorTimes(otherFactor, Value()));
          return grad;
        });
      }
    }
    for (size_t r = 0; r < form.readouts.size(); ++r) {
      if (VecMatOp(form.readouts[r]).getLhs() != root)
        continue;
      Value dQ = chunkGrads.queryGrads[r];
      visit(chunk.kSize, [&](Value k) { return timesSign(load(dQ, {row, k}), sign); });
    }
  }
}

void ChunkedAdjoint::bindSeeds(Value row) {
  // The gate logs' gradients at this step: the running sum takes this step's term.
  for (auto [formIndex, form] : llvm::enumerate(forms)) {
    StateChunk &chunk = chunked.chunks()[formIndex];
    ChunkGrads &chunkGrads = grads[formIndex];
    forRange(chunk.gateSize, [&](Value g) {
      Value running =
          add(load(chunkGrads.runningLogGrad, g), load(chunkGrads.logGrads, {row, g}));
      store(running, chunkGrads.runningLogGrad, g);
    });
  }
  for (auto [rootIndex, root] : llvm::enumerate(roots)) {
    Value seed = seeds[rootIndex];
    if (!seed)
      continue;
    if (auto type = dyn_cast<SpecTensorType>(root.getType())) {
      // A vector: the sum of its roles' gradients, element by element (the first
      // stored, the others added).
      Value buffer = adjoint.bufferOf(seed);
      Value size = kb.dimValue(type.getDims()[0]);
      bool first = true;
      forEachRole(root, row, [&](Value, function_ref<Value(Value)> at) {
        forRange(size, [&](Value x) {
          store(first ? at(x) : add(load(buffer, x), at(x)), buffer, x);
        });
        first = false;
      });
      if (first) // no role: the chains do not read it
        forRange(size, [&](Value x) { store(kb.f32(0.0), buffer, x); });
      continue;
    }
    // A scalar: each role's gradient summed over the columns it scales.
    Value total = kb.f32(0.0);
    forEachRole(root, row, [&](Value extent, function_ref<Value(Value)> at) {
      total = add(total, sumRange(extent, at));
    });
    adjoint.bindScalar(seed, total);
  }
}

void ChunkedAdjoint::lower() {
  collectMarks();
  allocate();
  kb.guardScratch();
  primal.initStates();
  Value one = kb.index(1);
  Value steps = adjoint.numSteps(), chunk = kb.index(chunkSize);
  Value numChunks = arith::CeilDivUIOp::create(b, steps, chunk);
  auto chunkBounds = [&](Value index) {
    Value start = arith::MulIOp::create(b, index, chunk);
    Value length = arith::MinUIOp::create(b, chunk, arith::SubIOp::create(b, steps, start));
    return std::make_pair(Value(start), Value(length));
  };
  auto copyState = [&](unsigned formIndex, Value chunkIndex, bool intoCheckpoint) {
    StateChunk &state = chunked.chunks()[formIndex];
    Value buffer = primal.stateBuffer(forms[formIndex].stateIndex);
    Value checkpoint = checkpoints[formIndex];
    forRange(state.kSize, [&](Value k) {
      forRange(state.vSize, [&](Value v) {
        if (intoCheckpoint)
          store(load(buffer, {k, v}), checkpoint, {chunkIndex, k, v});
        else
          store(load(checkpoint, {chunkIndex, k, v}), buffer, {k, v});
      });
    });
  };

  // ---- the forward, keeping each chunk's start state ----
  forRange(numChunks, [&](Value index) {
    Value start, length;
    std::tie(start, length) = chunkBounds(index);
    for (unsigned form = 0; form < forms.size(); ++form)
      copyState(form, index, /*intoCheckpoint=*/true);
    chunked.stageChunk(start, length, /*readouts=*/false);
    for (StateChunk &state : chunked.chunks()) {
      if (state.form->delta)
        chunked.solveDelta(state, length);
      chunked.update(state, length);
    }
  });
  // ---- the final state's term of the gate logs' gradients: sum_v S_T ⊙ dS_T ----
  for (auto [formIndex, form] : llvm::enumerate(forms)) {
    StateChunk &state = chunked.chunks()[formIndex];
    Value running = grads[formIndex].runningLogGrad;
    Value buffer = primal.stateBuffer(form.stateIndex);
    Value gradBuffer = adjoint.stateBuffer(form.stateIndex);
    forRange(state.gateSize, [&](Value g) { store(kb.f32(0.0), running, g); });
    forRange(state.kSize, [&](Value k) {
      Value g = chunked.gateIndex(state, k);
      Value sum = sumRange(state.vSize, [&](Value v) {
        return mul(load(buffer, {k, v}), load(gradBuffer, {k, v}));
      });
      store(add(load(running, g), sum), running, g);
    });
  }
  // ---- the chunks, last first ----
  bool readsReadouts = llvm::any_of(readoutValues, [](Value v) { return bool(v); });
  forRange(numChunks, [&](Value reversed) {
    Value index = arith::SubIOp::create(b, arith::SubIOp::create(b, numChunks, one), reversed);
    Value start, length;
    std::tie(start, length) = chunkBounds(index);
    for (unsigned form = 0; form < forms.size(); ++form)
      copyState(form, index, /*intoCheckpoint=*/false);
    chunked.stageChunk(start, length);
    for (unsigned form = 0; form < forms.size(); ++form) {
      StateChunk &state = chunked.chunks()[form];
      if (!state.form->delta)
        continue;
      Value values = state.values[0], staged = grads[form].stagedValues;
      forRange(length, [&](Value i) {
        forRange(state.vSize, [&](Value v) {
          store(load(values, {i, v}), staged, {i, v});
        });
      });
      chunked.solveDelta(state, length);
    }
    if (readsReadouts)
      for (std::pair<unsigned, unsigned> readout : readouts)
        chunked.readout(chunked.chunks()[readout.first], readout.second, length);
    readoutGrads(start, length);
    for (unsigned form = 0; form < forms.size(); ++form)
      chunkGrads(form, length);
    // ---- each step, last first: the roots' gradients, then the rest of the adjoint ----
    forRange(length, [&](Value back) {
      Value row = arith::SubIOp::create(b, arith::SubIOp::create(b, length, one), back);
      Value t = arith::AddIOp::create(b, start, row);
      primal.beginStep(t);
      primal.lowerOps([&](Operation *op) { return seedPrimalOps.contains(op); });
      adjoint.beginStep(t);
      bindReadouts(row);
      bindSeeds(row);
      adjoint.lowerOps([&](Operation *op) { return stepOps.contains(op); });
      adjoint.storeOutputs();
      unsigned numForwardStates = primal.numStates();
      adjoint.writeBackStates([&](unsigned state) { return state >= numForwardStates; });
    });
  });
  primal.release();
  adjoint.finish();
}

} // namespace

/// The marks of `op` name what the chunk forms of `forward` have (IR written by hand
/// may say otherwise): one error on the first that does not.
static LogicalResult verifyMarks(RecurrenceOp op, RecurrenceOp forward) {
  std::optional<SmallVector<ChunkForm, 1>> forms = getChunkedAdjointForms(forward);
  if (!forms)
    return op.emitOpError("is marked for a chunked adjoint, but its forward '")
           << forward.getSymName()
           << "' has no chunked adjoint form (every state a decay or a delta rule, a "
              "row gate in log space)";
  size_t numRoots = getChunkRoots(*forms).size();
  size_t numReadouts = getChunkReadouts(*forms).size();
  WalkResult walk = op.getStepOp().walk([&](Operation *inner) {
    auto inRange = [&](StringRef name, size_t count) {
      auto indices = inner->getAttrOfType<DenseI64ArrayAttr>(name);
      return !indices || llvm::all_of(indices.asArrayRef(), [&](int64_t index) {
        return index >= 0 && static_cast<size_t>(index) < count;
      });
    };
    auto readout = inner->getAttrOfType<IntegerAttr>(kChunkReadoutAttr);
    if (inRange(kChunkSeedsAttr, numRoots) && inRange(kChunkReadoutGradsAttr, numReadouts) &&
        (!readout || (readout.getInt() >= 0 &&
                      static_cast<size_t>(readout.getInt()) < numReadouts)))
      return WalkResult::advance();
    inner->emitOpError("names a chunk root or readout that the forward '")
        << forward.getSymName() << "' does not have (" << numRoots << " roots, "
        << numReadouts << " readouts)";
    return WalkResult::interrupt();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult mlir::tmix::lowerChunkedAdjoint(RecurrenceOp op, RecurrenceOp forward,
                                              int64_t chunkSize) {
  if (failed(verifyMarks(op, forward)))
    return failure();
  ChunkedAdjoint adjoint(op, forward, chunkSize);
  adjoint.lower();
  return adjoint.checkScratch(op, chunkSize);
}
