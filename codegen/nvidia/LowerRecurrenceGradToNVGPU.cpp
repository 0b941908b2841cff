//===- LowerRecurrenceGradToNVGPU.cpp - A chunked recurrence's backward, sm_80 --===//
//
// The adjoint `X_grad` of a recurrence X (tmix-derive-recurrence-grad, marked for the
// chunked adjoint) as one gpu.func, the chunk-parallel backward of ChunkedAdjoint.cpp
// (the CPU's; same formulas, same log-space gates) for what the forward kernel
// (LowerRecurrenceToNVGPU.cpp) runs with a decay: one matrix state S [K, V] with a
// scalar or row gate in log space or a scalar gate given by value, one rank-one term or
// a delta rule, one readout q @ S. For a chunk of C = 64 steps (rows i, s) with start
// state S0, the gradient dS of the state after it, the readout's gradients dO,
// cumulative gate logs LG and D_is = exp(LG_i - LG_s) (per key column under a row gate;
// L the chunk's last row):
//
//   A_is  = sum_k q_ik k_sk D_isk                      (s <= i, the forward's scores)
//   dP_is = dO_i . v_s                                 (s <= i)
//   dV_s  = (exp(LG_L - LG_s) ⊙ k_s)^T dS + sum_{i>=s} A_is dO_i
//   dQ_i  = exp(LG_i) ⊙ (S0 dO_i) + sum_{s<=i} dP_is D_is ⊙ k_s
//   dK_s  = exp(LG_L - LG_s) ⊙ (dS v_s) + sum_{i>=s} dP_is D_is ⊙ q_i
//   dLG_i = q_i ⊙ dQ_i - k_i ⊙ dK_i                    (summed over k for a scalar gate)
//   dS   <- exp(LG_L) ⊙ dS + sum_i (exp(LG_i) ⊙ q_i)^T dO_i   (before the chunk)
//
// and a step's gate log gradient is the sum of dLG over it and every later step,
// started by sum_v S_T ⊙ dS_T. Every factor above is a decay (<= 1) for gates <= 1.
//
// A delta rule (a scalar gate) is the decay above with the pseudo-values W of its WY
// solve (I + A) W = R in place of v (A_is = b_i D_is k_i . k_s for s < i, R_i =
// b_i (v_i - P_i), P_i = exp(LG_i) S0^T k_i: the forward kernel's solve, here in f32),
// and the solve's adjoint after it (ChunkedAdjoint.cpp's formulas): dR = (I + A)^-T dW
// by back substitution, E_is = -dR_i . W_s, dV_i = b_i dR_i, db_i, and the solve's
// terms of dK, dLG and dS. Every sum over the value columns (E, db, the projection's
// terms) is a block's share like dQ's.
//
// A scalar gate given by value (RetNet's gamma * S, of either sign) tracks the sign SG
// of Γ as the forward kernel does, folded into the staged q and k (the formulas above
// hold for them, the state after a chunk carries SG_L), and each step's gate log
// gradient is g_t, from sums whose every term carries G_t (ChunkedAdjoint.cpp: the
// pairs straddling t, the rows at or after t through S0, the state after the chunk
// through t), a block's share per step in place of dLG's; the roots' gradients get
// g_t / G_t.
//
// The grid is the forward's (a delta rule's: blocks of 32 value columns at K = 64, 16
// at K = 128, for its five more buffers): one CTA of 128 threads per (parallel point,
// block of Vb value columns). dV, dS and the start states are the block's own; dQ, dK,
// dLG (and db) are sums over the value columns, so each CTA writes its share to the
// launch's workspace, and the point's last CTA (a counter per point, as part "params" of
// the attention backward does) adds the shares in block order, runs the reverse sum of
// dLG and evaluates the adjoint's per-step outputs element by element (StepElements) with
// the chains' gradients bound in place of its chain ops: the same bits whatever order the
// CTAs run in. A CTA:
//
//   (1) forward: the chunks in order from S = init, each chunk's start state kept in
//       the workspace (O(T / C) states); S += (k ⊙ exp(LG_L - LG_s))^T v per chunk;
//   (2) backward: the chunks from the last, dS from d_<S>'s init (the final state's
//       gradient): stage LG, q, k, v, dO and S0, then A (and the solve), dV, dP (and
//       dR), E, dQ / dK / dLG (into the workspace), dS (each a phase between
//       barriers);
//   (3) count: the last of the point's CTAs sums the shares per chunk from the last,
//       scans dLG backwards, and writes every per-step output and accumulator.
//
// This first form runs the products as f32 loops over shared memory, a thread per
// element (mma.sync operands are the next step): exact f32 arithmetic, 16 KiB per
// [64, 64] buffer. An adjoint that reads the readout r = q @ S (an output r *
// sigmoid(r), an output gate) gets it recomputed per chunk from the scores and S0
// (dO after the scores), and from the workspace in the last CTA.
//
// Vector states beside S (linear attention's normaliser z, updated element by element
// and read through dot, as the forward kernel runs them) run step by step: the
// derivation puts their adjoint ops with those after the readouts. The forward pass
// checkpoints them per chunk; each chunk of (2) and (3) scans them from the checkpoint
// (a thread per element) and computes the dots the adjoint reads (o = r / (q . z +
// eps): dO reads them); the last CTA then scans each vector's adjoint state d_z from
// the chunk's last row and evaluates the outputs with z, d_z and the dots bound per
// row, the roots' gradients being the seeds plus the vectors' terms. What the kernel
// does not run (row gates given by value, more than one readout, an adjoint that needs
// more than elements of the chains' gradients) is an error at the adjoint.
//
// The workspace (f32 values in the low half of each i64 word), per parallel point and
// step of its T: dQ, dK and dLG shares [Vblocks, T, K] each, dV [T, V], the start
// states [Vblocks, T K Vb / C] (chunk c > 0 at c - 1; T / C covers the chunks after
// the first), a delta rule's db shares [Vblocks, T], when the adjoint reads it, the
// readout [T, V], and the vector states' checkpoints [Vblocks, T / C, n] (rounded up
// to whole words per step).
//
//===----------------------------------------------------------------------===//

#include "codegen/nvidia/GpuKernel.h"
#include "codegen/nvidia/GradientSumKernel.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/ParamGradKernel.h"
#include "codegen/nvidia/Passes.h"
#include "codegen/nvidia/RecurrenceGradKernel.h"
#include "codegen/nvidia/RecurrenceKernelPlan.h"
#include "codegen/nvidia/StepElements.h"
#include "codegen/nvidia/WarpMma.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionStatements.h"
#include "passes/ChunkForm.h"
#include "passes/ChunkMath.h"
#include "passes/KernelBuilder.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERRECURRENCEGRADTONVGPU
#include "codegen/nvidia/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;
using namespace mlir::tmix::recurrence_kernel;

namespace {

/// What the adjoint's step needs besides the chains (tmix-derive-recurrence-grad's
/// marks) and what the kernel evaluates of it.
struct AdjointMarks {
  SmallVector<Value> roots; // getChunkRoots, forward values
  SmallVector<Value> seeds; // per root: the adjoint value bound to its gradient
  Value readoutGrad;        // the readout's gradient (dO), or null: 0
  Value readout;            // the readout q @ S as the adjoint reads it, or null
  /// The accumulators (adjoint states past d_<S>): the state and its increment.
  struct Accumulator {
    unsigned state;
    Value increment;
  };
  SmallVector<Accumulator> accumulators;
  /// The forward's state the chunks run (the others are vectors).
  unsigned matrixState = 0;
  /// A vector state of the forward beside it, run step by step (linear attention's
  /// normaliser): its value before the step as the adjoint reads it
  /// (tmix.forward_state, or null when unread), and the adjoint's state d_<it>: the
  /// step argument and what the step yields for it.
  struct VectorAdjoint {
    unsigned state;
    Value primal;
    BlockArgument arg;
    Value next;
  };
  SmallVector<VectorAdjoint> vectors;
  /// The dot products over the vector states that the adjoint reads (the outputs'
  /// normalisers), computed once per step.
  SmallVector<DotOp> dots;
};

class RecurrenceGradKernel {
public:
  RecurrenceGradKernel(RecurrenceOp op, RecurrenceOp forward,
                       RecurrenceScheduleAttr schedule, gpu::GPUModuleOp gpuModule,
                       const llvm::StringMap<int64_t> &fixed)
      : op(op), forward(forward), schedule(schedule), gpuModule(gpuModule), fixed(fixed) {
  }

  LogicalResult lower();

private:
  LogicalResult analyse();
  void buildBody();
  void forwardPass();
  void backwardPass();
  void sumShares();

  // ---- phases ----
  /// LG[row, g] (and the signs of Γ) for the chunk's rows (one thread per gate
  /// column; rows past the last step carry the last log on).
  void stageLogGates(Value start, Value length);
  /// The staged key of `row` (its step bound) at column k: k_k times the term's
  /// factors (negated), times the sign of Γ at the row when the gate has one.
  Value stagedKey(Value row, Value k);
  /// q_i . k_s (s <= i) of a gate given by value: in its own buffer, or for a delta
  /// rule above the diagonal of the WY system's (s < i only is read).
  void storeScoreDot(Value dot, Value i, Value s) {
    if (delta)
      when(ult(s, i), [&] { store(dot, system, {s, i}); });
    else
      store(dot, scoreDots, {i, s});
  }
  Value loadScoreDot(Value i, Value s) {
    return delta ? load(system, {s, i}) : load(scoreDots, {i, s});
  }
  /// The sign of Γ at `row` of the chunk (1 without signs).
  Value signAt(Value row) { return signs ? load(signs, {row, idx(0)}) : cst(1.0); }
  /// The chunk's start state into `state`: the init for chunk 0, else its checkpoint.
  void loadStartState(Value chunk);
  /// The update's rows: keys (decayed to the chunk's end when `decayed`; needs LG),
  /// values and, for a delta rule, strengths; zero past the last step.
  void stageUpdateRows(Value start, Value length, bool decayed);
  /// A delta rule's WY system (b_i D_is k_i . k_s, s < i), projections P_i and
  /// right-hand sides b_i (v_i - P_i) (in `pseudoValues`), from the undecayed keys and
  /// the start state.
  void stageSystem();
  /// The forward substitution: `pseudoValues` becomes W.
  void solveForward();

  // ---- vector states beside the matrix state ----
  /// Their values before the chunk (row C of the histories): the inits for chunk 0,
  /// else this block's checkpoints.
  void loadVectorStarts(Value chunk);
  /// The chunk's histories, then the dots per step (a barrier between).
  void scanVectors(Value start, Value length);
  /// Binds, for the adjoint's evaluations at `row` of the chunk, the vector states
  /// before the step, the dots and (`withGrads`) the adjoint's vector states.
  void bindVectorRows(Value row, bool withGrads);
  /// The last CTA: the adjoint's vector states over the chunk, last row first, from
  /// row C of their histories (the later chunk's first), into rows 0 .. C - 1 (each
  /// the state before its step's adjoint) and back into row C.
  void scanVectorGrads(Value start, Value length);

  // ---- the per-step gradients of the last CTA ----
  void bindSeeds(Value row, Value start);
  Value rootGradAt(unsigned rootIndex, Value row, Value start, Value x);

  // ---- the workspace ----
  Value wsLoad(Value word);
  void wsStore(Value value, Value word);
  Value shareWord(unsigned region, Value blockIndex, Value t, Value k);
  Value valueGradWord(Value t, Value v);
  Value checkpointWord(Value chunk, Value k, Value v);
  /// A delta rule's: block `blockIndex`'s share of db at step t.
  Value strengthShareWord(Value blockIndex, Value t);
  /// An adjoint that reads the readout: its value at step t, column v.
  Value readoutWord(Value t, Value v);
  /// This block's checkpoint of vector state `vector` (marks.vectors' order) before
  /// `chunk` (> 0), element k.
  Value vectorCheckpointWord(Value chunk, unsigned vector, Value k);
  /// Sum over the value blocks of share `region` at (t, k).
  Value sharesAt(unsigned region, Value t, Value k);

  /// Element `inner` of a state's initial value `init` (an argument, or null: 0) at
  /// the CTA's parallel point.
  Value initElement(Value init, ValueRange inner) {
    if (!init)
      return cst(0.0);
    ArrayRef<Attribute> dims = cast<SpecTensorType>(init.getType()).getDims();
    return kb->loadF32(kb->argMemRef(cast<BlockArgument>(init).getArgNumber()),
                       adjoint->outerIndices(dims, {}, inner));
  }

  // ---- small vocabulary ----
  ImplicitLocOpBuilder &builder() { return kb->builder(); }
  Value idx(int64_t v) { return kb->index(v); }
  Value cst(double v) { return kb->f32(v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(builder(), x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(builder(), x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(builder(), x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(builder(), x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(builder(), x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(builder(), arith::CmpIPredicate::ult, x, y);
  }
  Value ule(Value x, Value y) {
    return arith::CmpIOp::create(builder(), arith::CmpIPredicate::ule, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(builder(), x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(builder(), x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(builder(), x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(builder(), x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(builder(), c, x, y);
  }
  /// exp(x) as ex2.approx(x log2 e), as the forward kernel.
  Value exp(Value x) { return warp::exp2Approx(builder(), fmul(x, cst(kLog2e))); }
  Value load(Value buffer, ValueRange indices) {
    return memref::LoadOp::create(builder(), buffer, indices);
  }
  void store(Value value, Value buffer, ValueRange indices) {
    memref::StoreOp::create(builder(), value, buffer, indices);
  }
  void barrier() { gpu::BarrierOp::create(builder()); }
  /// body(e) for e = tid, tid + 128, ... below `count`.
  void forThreads(Value count, function_ref<void(Value)> body) {
    kb->loop(tid, count, idx(kThreads), {}, [&](Value e, ValueRange) {
      body(e);
      return SmallVector<Value>{};
    });
  }
  void when(Value cond, function_ref<void()> body) { kb->ifThen(cond, body); }
  /// sum_{x in [lb, ub)} term(x), in order.
  Value sumRange(Value lb, Value ub, function_ref<Value(Value)> term) {
    return kb->loop(lb, ub, idx(1), {cst(0.0)}, [&](Value x, ValueRange acc) {
      return SmallVector<Value>{fadd(acc[0], term(x))};
    })[0];
  }
  /// The gate column of key column k.
  Value gateColumn(Value k) { return plan.form.hasRowGate() ? k : idx(0); }
  Value logAt(Value row, Value k) { return load(logGate, {row, gateColumn(k)}); }
  Value lastRow() { return idx(kChunk - 1); }

  RecurrenceOp op, forward;
  RecurrenceScheduleAttr schedule;
  gpu::GPUModuleOp gpuModule;
  const llvm::StringMap<int64_t> &fixed;
  RecurrenceKernelPlan plan;
  AdjointMarks marks;
  std::unique_ptr<KernelBuilder> kb;
  std::unique_ptr<StepElements> primal, adjoint;
  /// Value columns per CTA (Vb) and CTAs per point.
  int64_t valueBlock = 0, valueBlocks = 0, sharedBytes = 0;
  /// A delta rule: its WY solve and the solve's adjoint.
  bool delta = false;
  /// A gate given by value: the signs of Γ tracked, and each step's gate log gradient
  /// g_t from terms that carry G_t (ChunkedAdjoint.cpp).
  bool signedGate = false;
  /// Words per parallel point and step (the file comment's layout), and those before
  /// the readouts' and the vector states' regions.
  int64_t wordsPerStep = 0, readoutWordsAt = 0, vectorWordsAt = 0;
  /// Packed sequences: the first parallel dim is the sequence's, its steps in T.
  bool packedSequences = false;
  /// The vector states' elements (all of them) and their offsets in a checkpoint.
  int64_t vectorElements = 0;
  SmallVector<int64_t> vectorOffsets;
  /// Whether the last CTA's histories of the vectors' gradients lie over the buffers
  /// only the chunks' products read (v, dO, S, dS, the pairs), else past the views.
  bool gradHistoriesOverProducts = false;

  // Kernel values.
  Value tid, numSteps, numChunks, valueBegin, block, pointCounter, slabStart;
  Value workspace;
  // Shared memory (f32): LG [C, G], q and k [C, K], v and dO [C, Vb], S and dS [K, Vb],
  // pairs [C, C] (A, then dP), the end terms [K], the running log gradients [G], the
  // accumulators' rows [n, C] and totals [n], the last-CTA flag [1].
  Value logGate, queries, keys, values, outputGrads, state, stateGrad, pairs;
  Value endTerms, running, accumulatorRows, accumulatorTotals, flag;
  // A delta rule's: b [C], the pseudo-values W, the projections P and dW (then dR)
  // [C, Vb], the WY system and its gradient E [C, C].
  Value strengths, pseudoValues, projections, valueGrads, system, systemGrads;
  // A gate given by value: the signs of Γ [C, 1], the scores' dot products q_i . k_s
  // [C, C], and the terms of each step's gate log gradient g_t: per row u_i and c_s
  // [C], the end's c_0 [1].
  Value signs, scoreDots, rowLogTerms, stateLogTerms, endLogTerm;
  // Vector states: per state, its values over the chunk [C + 1, n] (row i before step
  // i, row C after the chunk) and its gradients' (the last CTA's); the dots [dots, C].
  SmallVector<Value> histories, gradHistories;
  Value dotRows;
};

// ---- analysis ----

/// Whether `values` read, through the ops of `body` up to those in `leaves`, a step
/// argument past t (an adjoint state) or an op for which `reads` holds.
static bool readsAny(Block &body, ArrayRef<Value> values,
                     const DenseSet<Operation *> &leaves,
                     function_ref<bool(Operation *)> reads) {
  auto isState = [&](Value value) {
    auto arg = dyn_cast<BlockArgument>(value);
    return arg && arg.getOwner() == &body && arg.getArgNumber() > 0;
  };
  if (llvm::any_of(values, isState))
    return true;
  DenseSet<Operation *> needed;
  collectProducers(body, values, leaves, needed);
  for (Operation *op : needed) {
    if (reads(op))
      return true;
    WalkResult walk = op->walk([&](Operation *inner) {
      return llvm::any_of(inner->getOperands(), isState) ? WalkResult::interrupt()
                                                         : WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return true;
  }
  return false;
}

/// What the kernel needs of the adjoint `grad` of `forward`, in `marks`; or why it
/// does not run it (a phrase for "not yet for ..."), independent of the sizes.
static std::string analyseAdjoint(RecurrenceOp grad, RecurrenceOp forward,
                                  AdjointMarks &marks) {
  SmallVector<StateOp, 4> forwardStates = forward.getStateOps();
  SmallVector<ChunkForm, 1> forms = getChunkForms(forward);
  if (forms.empty())
    return "a state without a chunk form";
  if (forms.size() > 1)
    return "more than one matrix state";
  const ChunkForm &form = forms.front();
  marks.matrixState = form.stateIndex;
  for (auto [index, state] : llvm::enumerate(forwardStates)) {
    if (index == form.stateIndex)
      continue;
    auto type = dyn_cast<SpecTensorType>(state.getType());
    if (!type)
      return "a scalar state";
    if (type.getRank() != 1)
      return "a state without a chunk form";
  }
  if (!form.delta && form.terms.size() != 1)
    return "more than one rank-one term";
  if (form.needsSign() && form.hasRowGate())
    return "a row gate given by value";
  if (form.readouts.size() != 1)
    return "more than one readout of the state";

  Block &body = grad.getStepOp().getBody().front();
  bool marked = false;
  grad.getStepOp().walk(
      [&](Operation *inner) { marked |= inner->hasAttr(kChunkAdjointAttr); });
  if (!marked)
    return "an adjoint not marked for the chunked form (tmix-derive-recurrence-grad "
           "marks those of chunkable forwards)";
  marks.roots = getChunkRoots(forms);
  marks.seeds.assign(marks.roots.size(), Value());
  DenseSet<Operation *> seedOps;
  for (Operation &inner : body.without_terminator()) {
    if (auto indices = inner.getAttrOfType<DenseI64ArrayAttr>(kChunkSeedsAttr))
      for (int64_t index : indices.asArrayRef()) {
        if (index < 0 || static_cast<size_t>(index) >= marks.seeds.size())
          return "marks naming chunk roots that the forward does not have";
        marks.seeds[index] = inner.getResult(0);
        seedOps.insert(&inner);
      }
    if (auto indices = inner.getAttrOfType<DenseI64ArrayAttr>(kChunkReadoutGradsAttr))
      if (!indices.empty())
        marks.readoutGrad = inner.getResult(0);
    if (inner.hasAttr(kChunkReadoutAttr))
      marks.readout = inner.getResult(0);
  }

  // The adjoint's states: d_<X> for each state X of the forward (d_<S>, the vectors'),
  // then scalar accumulators, each `acc + increment`.
  SmallVector<StateOp, 4> states = grad.getStateOps();
  auto yield = cast<YieldOp>(body.getTerminator());
  unsigned numForwardStates = forwardStates.size();
  if (states.size() < numForwardStates)
    return "an adjoint without the forward's states";
  DenseSet<Operation *> vectorPrimals;
  for (unsigned index = 0; index < numForwardStates; ++index) {
    if (index == form.stateIndex)
      continue;
    AdjointMarks::VectorAdjoint vector{index, Value(), body.getArgument(1 + index),
                                       yield.getValues()[index]};
    for (auto read : body.getOps<ForwardStateOp>())
      if (read.getState() == forwardStates[index].getSymName()) {
        vector.primal = read.getResult();
        vectorPrimals.insert(read);
      }
    marks.vectors.push_back(vector);
  }
  for (unsigned index = numForwardStates; index < states.size(); ++index) {
    Value next = yield.getValues()[index];
    auto addition = next.getDefiningOp<arith::AddFOp>();
    Value arg = body.getArgument(1 + index);
    if (isa<SpecTensorType>(states[index].getType()) || !addition ||
        (addition.getLhs() != arg && addition.getRhs() != arg))
      return ("a gradient summed over the steps that is not a scalar ('" +
              states[index].getSymName() + "')")
          .str();
    marks.accumulators.push_back(
        {index, addition.getLhs() == arg ? addition.getRhs() : addition.getLhs()});
  }
  // Everything the kernel evaluates element by element: the readout's gradient, the
  // per-step outputs and the accumulators' increments, through the seeds.
  Operation *readoutOp = marks.readout ? marks.readout.getDefiningOp() : nullptr;
  // The dot products over the vector states that read nothing of the adjoint: once
  // per step (each reads a whole vector).
  for (auto dot : body.getOps<DotOp>()) {
    SmallVector<Value> operands(dot->getOperands());
    if (!readsAny(body, operands, {},
                  [&](Operation *inner) { return vectorPrimals.contains(inner); }))
      continue;
    if (!readsAny(body, operands, {}, [&](Operation *inner) {
          return seedOps.contains(inner) || inner == readoutOp ||
                 inner->hasAttr(kChunkAdjointAttr);
        }))
      marks.dots.push_back(dot);
  }
  DenseSet<Operation *> bound(seedOps.begin(), seedOps.end());
  bound.insert(vectorPrimals.begin(), vectorPrimals.end());
  for (DotOp dot : marks.dots)
    bound.insert(dot);
  if (readoutOp)
    bound.insert(readoutOp);
  // Every CTA stages dO from a step's own values; the vectors' gradients are the last
  // CTA's.
  if (marks.readoutGrad &&
      readsAny(body, {marks.readoutGrad}, bound, [](Operation *) { return false; }))
    return "a readout gradient that reads a vector state's gradient";

  SmallVector<Value> evaluated;
  if (marks.readoutGrad)
    evaluated.push_back(marks.readoutGrad);
  for (const AdjointMarks::VectorAdjoint &vector : marks.vectors)
    evaluated.push_back(vector.next);
  for (Value value : yield.getValues().drop_front(states.size())) {
    if (auto type = dyn_cast<SpecTensorType>(value.getType()); type && type.getRank() > 1)
      return "a per-step gradient of a matrix";
    evaluated.push_back(value);
  }
  for (const AdjointMarks::Accumulator &acc : marks.accumulators)
    evaluated.push_back(acc.increment);
  // The seeds, the readout (recomputed per element of a block's columns), the vector
  // states and their dots are the leaves.
  auto isLeaf = [&](Operation *inner) { return bound.contains(inner); };
  if (Operation *blocker = StepElements::firstNonElementwise(body, evaluated, isLeaf))
    return ("an adjoint that needs '" + blocker->getName().getStringRef() +
            "' besides the chains' gradients, element by element")
        .str();
  // A block has its own columns of the readout: dO must read it element by element, at
  // the element being evaluated (no sum over it). The last CTA has all of them.
  if (marks.readout && marks.readoutGrad) {
    DenseSet<Operation *> leaves(seedOps.begin(), seedOps.end()), needed;
    leaves.insert(readoutOp);
    collectProducers(body, {marks.readoutGrad}, leaves, needed);
    for (Operation *inner : needed)
      if (isa<SumOp, DotOp>(inner)) {
        DenseSet<Operation *> reduced;
        SmallVector<Value> operands(inner->getOperands());
        collectProducers(body, operands, seedOps, reduced);
        if (reduced.contains(readoutOp))
          return "a sum over the readout q @ S in its gradient";
      }
  }
  return {};
}

LogicalResult RecurrenceGradKernel::analyse() {
  FailureOr<RecurrenceKernelPlan> planned = planRecurrenceKernel(forward, fixed);
  if (failed(planned))
    return failure();
  plan = std::move(*planned);
  if (std::string why = analyseAdjoint(op, forward, marks); !why.empty())
    return op.emitOpError(gpuRecurrenceGradLimit(op, forward));

  // The value block: the forward's, or for a delta rule (three more [C, Vb] buffers
  // and two [C, C]) 32 at K = 64, 16 at K = 128.
  delta = plan.form.delta.has_value();
  signedGate = plan.form.needsSign();
  valueBlock = plan.valueBlock;
  if (delta)
    valueBlock = plan.keyDim == 64 && plan.valueDim % 32 == 0 ? 32 : 16;
  valueBlocks = plan.valueDim / valueBlock;

  // ---- shared memory (buildBody's views) ----
  int64_t k = plan.keyDim, vb = valueBlock, g = plan.gateColumns;
  int64_t accumulators = std::max<int64_t>(1, marks.accumulators.size());
  int64_t floats = kChunk * g + 2 * kChunk * k + 2 * kChunk * vb + 2 * k * vb +
                   kChunk * kChunk + k + g + accumulators * (kChunk + 1) + 1;
  if (delta)
    floats += kChunk + 3 * kChunk * vb + 2 * kChunk * kChunk;
  if (signedGate)
    floats += kChunk + (delta ? 0 : kChunk * kChunk) + 2 * kChunk + 1;
  // Vector states: their histories and dots; their gradients' histories over the
  // buffers the last CTA does not read (v, dO, S, dS, the pairs) when they fit there.
  for (const RecurrenceKernelPlan::VectorState &vector : plan.vectorStates) {
    vectorOffsets.push_back(vectorElements);
    vectorElements += vector.size;
  }
  int64_t historyFloats = (kChunk + 1) * vectorElements;
  floats += historyFloats + kChunk * static_cast<int64_t>(marks.dots.size());
  gradHistoriesOverProducts =
      historyFloats <= 2 * kChunk * vb + 2 * k * vb + kChunk * kChunk;
  if (!gradHistoriesOverProducts)
    floats += historyFloats;
  sharedBytes = floats * 4;
  if (sharedBytes > kMaxSharedBytesSm80)
    return op.emitOpError("the GPU backward needs ")
           << sharedBytes << " bytes of shared memory for a state [" << k << ", "
           << plan.valueDim << "] (value blocks of " << vb << "), more than sm_80's "
           << kMaxSharedBytesSm80;
  readoutWordsAt = 3 * valueBlocks * k + plan.valueDim + k * plan.valueDim / kChunk +
                   (delta ? valueBlocks : 0);
  vectorWordsAt = readoutWordsAt + (marks.readout ? plan.valueDim : 0);
  wordsPerStep = vectorWordsAt + llvm::divideCeil(valueBlocks * vectorElements, kChunk);
  return success();
}

// ---- the workspace ----

Value RecurrenceGradKernel::wsLoad(Value word) {
  ImplicitLocOpBuilder &b = builder();
  Value wide = load(workspace, {word});
  Value bits = arith::TruncIOp::create(b, b.getI32Type(), wide);
  return arith::BitcastOp::create(b, b.getF32Type(), bits);
}

void RecurrenceGradKernel::wsStore(Value value, Value word) {
  ImplicitLocOpBuilder &b = builder();
  Value bits = arith::BitcastOp::create(b, b.getI32Type(), value);
  store(arith::ExtUIOp::create(b, b.getI64Type(), bits), workspace, {word});
}

/// Regions 0, 1, 2: the dQ, dK and dLG shares [Vblocks, T, K] of the point.
Value RecurrenceGradKernel::shareWord(unsigned region, Value blockIndex, Value t,
                                      Value k) {
  Value share = mul(numSteps, idx(valueBlocks * plan.keyDim));
  Value row = add(mul(blockIndex, numSteps), t);
  return add(slabStart, add(mul(share, idx(region)), add(mul(row, idx(plan.keyDim)), k)));
}

Value RecurrenceGradKernel::valueGradWord(Value t, Value v) {
  Value shares = mul(numSteps, idx(3 * valueBlocks * plan.keyDim));
  return add(slabStart, add(shares, add(mul(t, idx(plan.valueDim)), v)));
}

Value RecurrenceGradKernel::checkpointWord(Value chunk, Value k, Value v) {
  Value before = mul(numSteps, idx(3 * valueBlocks * plan.keyDim + plan.valueDim));
  int64_t perState = plan.keyDim * valueBlock;
  // This block's (T / C) states, chunk c at c - 1.
  Value blockStates = mul(block, mul(numSteps, idx(perState / kChunk)));
  Value at = add(mul(sub(chunk, idx(1)), idx(perState)), add(mul(k, idx(valueBlock)), v));
  return add(slabStart, add(before, add(blockStates, at)));
}

Value RecurrenceGradKernel::strengthShareWord(Value blockIndex, Value t) {
  Value before = mul(numSteps, idx(3 * valueBlocks * plan.keyDim + plan.valueDim +
                                   plan.keyDim * plan.valueDim / kChunk));
  return add(slabStart, add(before, add(mul(blockIndex, numSteps), t)));
}

Value RecurrenceGradKernel::readoutWord(Value t, Value v) {
  Value before = mul(numSteps, idx(readoutWordsAt));
  return add(slabStart, add(before, add(mul(t, idx(plan.valueDim)), v)));
}

Value RecurrenceGradKernel::vectorCheckpointWord(Value chunk, unsigned vector, Value k) {
  Value before = mul(numSteps, idx(vectorWordsAt));
  // This block's floor(T / C) checkpoints (chunk c at c - 1), each of every vector.
  Value perCheckpoint = idx(vectorElements);
  Value blockStates = mul(block, mul(div(numSteps, idx(kChunk)), perCheckpoint));
  Value at =
      add(mul(sub(chunk, idx(1)), perCheckpoint), add(idx(vectorOffsets[vector]), k));
  return add(slabStart, add(before, add(blockStates, at)));
}

Value RecurrenceGradKernel::sharesAt(unsigned region, Value t, Value k) {
  return sumRange(idx(0), idx(valueBlocks), [&](Value blockIndex) {
    return wsLoad(shareWord(region, blockIndex, t, k));
  });
}

// ---- phases ----

void RecurrenceGradKernel::stageLogGates(Value start, Value length) {
  stageChunkGateLogs(*kb, *primal, plan.form, plan.gateColumns, kChunk, tid, kThreads,
                     start, length, logGate, signs);
}

Value RecurrenceGradKernel::stagedKey(Value row, Value k) {
  Value key = primal->at(plan.updateKey(), k);
  if (!delta) {
    const RankOneTerm &term = plan.form.terms[0];
    key = primal->factorProduct(term.factors, k, key);
    if (term.negated)
      key = arith::NegFOp::create(builder(), key);
  }
  return signs ? fmul(load(signs, {row, idx(0)}), key) : key;
}

void RecurrenceGradKernel::stageUpdateRows(Value start, Value length, bool decayed) {
  ImplicitLocOpBuilder &b = builder();
  forThreads(idx(kChunk * plan.keyDim), [&](Value e) {
    Value row = div(e, idx(plan.keyDim)), k = rem(e, idx(plan.keyDim));
    Value key = kb->ifElse(
        ult(row, length), {b.getF32Type()},
        [&] {
          primal->setStep(add(start, row));
          Value staged = stagedKey(row, k);
          if (decayed)
            staged = fmul(staged, exp(fsub(logAt(lastRow(), k), logAt(row, k))));
          return SmallVector<Value>{staged};
        },
        [&] { return SmallVector<Value>{cst(0.0)}; })[0];
    store(key, keys, {row, k});
  });
  forThreads(idx(kChunk * valueBlock), [&](Value e) {
    Value row = div(e, idx(valueBlock)), v = rem(e, idx(valueBlock));
    Value value = kb->ifElse(
        ult(row, length), {b.getF32Type()},
        [&] {
          primal->setStep(add(start, row));
          return SmallVector<Value>{primal->at(plan.updateValue(), add(valueBegin, v))};
        },
        [&] { return SmallVector<Value>{cst(0.0)}; })[0];
    store(value, values, {row, v});
  });
  if (!delta)
    return;
  // b = 0 past the last step: those rows' pseudo-values are 0.
  forThreads(idx(kChunk), [&](Value row) {
    Value strength = kb->ifElse(
        ult(row, length), {b.getF32Type()},
        [&] {
          primal->setStep(add(start, row));
          return SmallVector<Value>{
              primal->factorProduct(plan.form.delta->strength, Value(), cst(1.0))};
        },
        [&] { return SmallVector<Value>{cst(0.0)}; })[0];
    store(strength, strengths, {row});
  });
}

void RecurrenceGradKernel::stageSystem() {
  // D_is = exp(LG_i - LG_s), the gate a scalar. Below the diagonal only: nothing reads
  // the rest (a gate given by value keeps the scores' dot products there).
  forThreads(idx(kChunk * kChunk), [&](Value e) {
    Value i = div(e, idx(kChunk)), s = rem(e, idx(kChunk));
    when(ult(s, i), [&] {
      Value dot = sumRange(idx(0), idx(plan.keyDim), [&](Value k) {
        return fmul(load(keys, {i, k}), load(keys, {s, k}));
      });
      Value decay = exp(fsub(logAt(i, idx(0)), logAt(s, idx(0))));
      store(fmul(load(strengths, {i}), fmul(decay, dot)), system, {i, s});
    });
  });
  // P_i = exp(LG_i) S0^T k_i; the right-hand side b_i (v_i - P_i) into the
  // pseudo-values.
  forThreads(idx(kChunk * valueBlock), [&](Value e) {
    Value i = div(e, idx(valueBlock)), v = rem(e, idx(valueBlock));
    Value projection =
        fmul(exp(logAt(i, idx(0))), sumRange(idx(0), idx(plan.keyDim), [&](Value k) {
               return fmul(load(state, {k, v}), load(keys, {i, k}));
             }));
    store(projection, projections, {i, v});
    store(fmul(load(strengths, {i}), fsub(load(values, {i, v}), projection)),
          pseudoValues, {i, v});
  });
}

void RecurrenceGradKernel::solveForward() {
  // Thread v owns column v of every row: no barrier between rows.
  forThreads(idx(valueBlock), [&](Value v) {
    kb->loop(idx(0), idx(kChunk), idx(1), {}, [&](Value i, ValueRange) {
      Value earlier = sumRange(idx(0), i, [&](Value s) {
        return fmul(load(system, {i, s}), load(pseudoValues, {s, v}));
      });
      store(fsub(load(pseudoValues, {i, v}), earlier), pseudoValues, {i, v});
      return SmallVector<Value>{};
    });
  });
}

void RecurrenceGradKernel::loadStartState(Value chunk) {
  ImplicitLocOpBuilder &b = builder();
  Value init = forward.getStateOps()[marks.matrixState].getInit();
  forThreads(idx(plan.keyDim * valueBlock), [&](Value e) {
    Value k = div(e, idx(valueBlock)), v = rem(e, idx(valueBlock));
    Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, chunk, idx(0));
    Value value = kb->ifElse(
        first, {b.getF32Type()},
        [&] {
          return SmallVector<Value>{initElement(init, {k, add(valueBegin, v)})};
        },
        [&] { return SmallVector<Value>{wsLoad(checkpointWord(chunk, k, v))}; })[0];
    store(value, state, {k, v});
  });
}

// ---- vector states ----

void RecurrenceGradKernel::loadVectorStarts(Value chunk) {
  ImplicitLocOpBuilder &b = builder();
  Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, chunk, idx(0));
  for (auto [index, vector] : llvm::enumerate(plan.vectorStates)) {
    Value init = forward.getStateOps()[vector.index].getInit();
    Value history = histories[index];
    unsigned position = index;
    forThreads(idx(vector.size), [&](Value k) {
      Value value = kb->ifElse(
          first, {b.getF32Type()},
          [&] { return SmallVector<Value>{initElement(init, {k})}; },
          [&] {
            return SmallVector<Value>{wsLoad(vectorCheckpointWord(chunk, position, k))};
          })[0];
      store(value, history, {idx(kChunk), k});
    });
  }
}

void RecurrenceGradKernel::scanVectors(Value start, Value length) {
  ImplicitLocOpBuilder &b = builder();
  // (Each thread scans the elements it loaded: no barrier before.)
  for (auto [vector, history] : llvm::zip(plan.vectorStates, histories))
    scanChunkVectorState(*kb, *primal, vector.arg, vector.next, vector.size, kChunk, tid,
                         kThreads, start, length, history);
  if (marks.dots.empty())
    return;
  barrier();
  for (auto [index, dot] : llvm::enumerate(marks.dots)) {
    Value size = kb->dimValue(cast<SpecTensorType>(dot.getLhs().getType()).getDims()[0]);
    Value slot = idx(index);
    forThreads(idx(kChunk), [&](Value row) {
      Value sum = kb->ifElse(
          ult(row, length), {b.getF32Type()},
          [&] {
            adjoint->setStep(add(start, row));
            bindVectorRows(row, /*withGrads=*/false);
            return SmallVector<Value>{sumRange(idx(0), size, [&](Value k) {
              return fmul(adjoint->at(dot.getLhs(), k), adjoint->at(dot.getRhs(), k));
            })};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(sum, dotRows, {slot, row});
    });
  }
}

void RecurrenceGradKernel::bindVectorRows(Value row, bool withGrads) {
  for (auto [vector, history] : llvm::zip(marks.vectors, histories))
    if (vector.primal)
      adjoint->bindElements(vector.primal, [this, history, row](ValueRange at) {
        return load(history, {row, at[0]});
      });
  for (auto [index, dot] : llvm::enumerate(marks.dots)) {
    int64_t slot = index;
    adjoint->bindElements(dot.getResult(), [this, slot, row](ValueRange) {
      return load(dotRows, {idx(slot), row});
    });
  }
  if (withGrads)
    for (auto [vector, gradHistory] : llvm::zip(marks.vectors, gradHistories))
      adjoint->bindElements(vector.arg, [this, gradHistory, row](ValueRange at) {
        return load(gradHistory, {row, at[0]});
      });
}

void RecurrenceGradKernel::scanVectorGrads(Value start, Value length) {
  ImplicitLocOpBuilder &b = builder();
  for (auto [index, vector] : llvm::enumerate(marks.vectors)) {
    Value gradHistory = gradHistories[index];
    BlockArgument arg = vector.arg;
    Value next = vector.next;
    forThreads(idx(plan.vectorStates[index].size), [&](Value k) {
      Value incoming = load(gradHistory, {idx(kChunk), k});
      Value carried = kb->loop(idx(0), idx(kChunk), idx(1), {incoming},
                               [&](Value back, ValueRange grad) {
                                 Value row = sub(lastRow(), back);
                                 return kb->ifElse(
                                     ult(row, length), {b.getF32Type()},
                                     [&] {
                                       store(grad[0], gradHistory, {row, k});
                                       bindSeeds(row, start);
                                       adjoint->bind(arg, grad[0]);
                                       return SmallVector<Value>{adjoint->at(next, k)};
                                     },
                                     [&] { return SmallVector<Value>{grad[0]}; });
                               })[0];
      store(carried, gradHistory, {idx(kChunk), k});
    });
  }
}

/// (1) The forward, chunk by chunk, each start state after the first into the
/// workspace; `state` holds S_T after it.
void RecurrenceGradKernel::forwardPass() {
  ImplicitLocOpBuilder &b = builder();
  loadStartState(idx(0));
  loadVectorStarts(idx(0));
  kb->loop(idx(0), numChunks, idx(1), {}, [&](Value chunk, ValueRange) {
    Value start = mul(chunk, idx(kChunk));
    Value length = arith::MinUIOp::create(b, idx(kChunk), sub(numSteps, start));
    // The vector states: each thread checkpoints and scans its own elements.
    for (auto [index, vector] : llvm::enumerate(plan.vectorStates)) {
      Value history = histories[index];
      unsigned position = index;
      when(arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, chunk, idx(0)), [&] {
        forThreads(idx(vector.size), [&](Value k) {
          wsStore(load(history, {idx(kChunk), k}),
                  vectorCheckpointWord(chunk, position, k));
        });
      });
      scanChunkVectorState(*kb, *primal, vector.arg, vector.next, vector.size, kChunk,
                           tid, kThreads, start, length, history);
    }
    // The state's elements are each thread's own from loadStartState on: no barrier
    // between its update and its checkpoint.
    when(arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, chunk, idx(0)), [&] {
      forThreads(idx(plan.keyDim * valueBlock), [&](Value e) {
        Value k = div(e, idx(valueBlock)), v = rem(e, idx(valueBlock));
        wsStore(load(state, {k, v}), checkpointWord(chunk, k, v));
      });
    });
    barrier(); // the last chunk's rows are read
    stageLogGates(start, length);
    if (signs)
      barrier(); // the staged rows carry the signs
    if (delta) {
      // The WY solve for the pseudo-values (the keys as they are), then the keys
      // decayed to the chunk's end in place.
      stageUpdateRows(start, length, /*decayed=*/false);
      barrier();
      stageSystem();
      barrier();
      solveForward();
      forThreads(idx(kChunk * plan.keyDim), [&](Value e) {
        Value row = div(e, idx(plan.keyDim)), k = rem(e, idx(plan.keyDim));
        Value decay = exp(fsub(logAt(lastRow(), k), logAt(row, k)));
        store(fmul(load(keys, {row, k}), decay), keys, {row, k});
      });
    } else {
      barrier();
      // Keys decayed to the chunk's end, values: the update's two operands.
      stageUpdateRows(start, length, /*decayed=*/true);
    }
    barrier();
    // S = SG_L (exp(LG_L) S + (k ⊙ exp(LG_L - LG_s))^T v), SG_L = 1 without signs.
    Value updateValues = delta ? pseudoValues : values;
    forThreads(idx(plan.keyDim * valueBlock), [&](Value e) {
      Value k = div(e, idx(valueBlock)), v = rem(e, idx(valueBlock));
      Value decayed = fmul(exp(logAt(lastRow(), k)), load(state, {k, v}));
      Value added = sumRange(idx(0), length, [&](Value s) {
        return fmul(load(keys, {s, k}), load(updateValues, {s, v}));
      });
      store(fmul(signAt(lastRow()), fadd(decayed, added)), state, {k, v});
    });
    return SmallVector<Value>{};
  });
}

/// (2) The chunks from the last: dV, dS and this block's shares of dQ, dK, dLG (and,
/// for a delta rule, of db).
void RecurrenceGradKernel::backwardPass() {
  ImplicitLocOpBuilder &b = builder();
  Type f32 = b.getF32Type();
  int64_t kDim = plan.keyDim, vDim = valueBlock;
  bool rowGate = plan.form.hasRowGate();
  // The final state's term of the gate logs' gradients: sum_v S_T ⊙ dS_T.
  barrier();
  forThreads(idx(kDim), [&](Value k) {
    store(sumRange(idx(0), idx(vDim),
                   [&](Value v) {
                     return fmul(load(state, {k, v}), load(stateGrad, {k, v}));
                   }),
          endTerms, {k});
  });
  kb->loop(idx(0), numChunks, idx(1), {}, [&](Value reversed, ValueRange) {
    Value chunk = sub(sub(numChunks, idx(1)), reversed);
    Value start = mul(chunk, idx(kChunk));
    Value length = arith::MinUIOp::create(b, idx(kChunk), sub(numSteps, start));
    barrier(); // the last chunk's buffers are read
    // ---- the vector states over the chunk and the dots (dO reads them) ----
    if (!plan.vectorStates.empty()) {
      loadVectorStarts(chunk);
      scanVectors(start, length);
      barrier();
    }
    // ---- stage: LG, q, k, v (and b), dO and S0 ----
    loadStartState(chunk);
    stageLogGates(start, length);
    if (signs)
      barrier(); // the staged rows carry the signs
    stageUpdateRows(start, length, /*decayed=*/false);
    forThreads(idx(kChunk * kDim), [&](Value e) {
      Value row = div(e, idx(kDim)), k = rem(e, idx(kDim));
      Value query = kb->ifElse(
          ult(row, length), {f32},
          [&] {
            primal->setStep(add(start, row));
            return SmallVector<Value>{
                fmul(signAt(row), primal->at(plan.readoutOp.getLhs(), k))};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(query, queries, {row, k});
    });
    // dO_i, the adjoint's gradient of the readout, element by element; after the
    // scores when it reads the readout (below).
    auto stageOutputGrads = [&](function_ref<void(Value row, Value v)> bindReadout) {
      forThreads(idx(kChunk * vDim), [&](Value e) {
        Value row = div(e, idx(vDim)), v = rem(e, idx(vDim));
        Value grad = kb->ifElse(
            ult(row, length), {f32},
            [&] {
              adjoint->setStep(add(start, row));
              bindVectorRows(row, /*withGrads=*/false);
              bindReadout(row, v);
              return SmallVector<Value>{
                  marks.readoutGrad ? adjoint->at(marks.readoutGrad, add(valueBegin, v))
                                    : cst(0.0)};
            },
            [&] { return SmallVector<Value>{cst(0.0)}; })[0];
        store(grad, outputGrads, {row, v});
      });
    };
    if (!marks.readout)
      stageOutputGrads([](Value, Value) {});
    barrier();
    // D_is at key column k (s <= i): exp(LG_i - LG_s).
    auto decay = [&](Value i, Value s, Value k) {
      return exp(fsub(logAt(i, k), logAt(s, k)));
    };
    // ---- A, the forward's scores (and the delta rule's system, right-hand sides) ----
    forThreads(idx(kChunk * kChunk), [&](Value e) {
      Value i = div(e, idx(kChunk)), s = rem(e, idx(kChunk));
      Value score = kb->ifElse(
          andI(ule(s, i), ult(i, length)), {f32},
          [&] {
            Value sum = sumRange(idx(0), idx(kDim), [&](Value k) {
              Value term = fmul(load(queries, {i, k}), load(keys, {s, k}));
              return rowGate ? fmul(term, decay(i, s, k)) : term;
            });
            if (signedGate)
              storeScoreDot(sum, i, s);
            return SmallVector<Value>{rowGate ? sum : fmul(sum, decay(i, s, idx(0)))};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(score, pairs, {i, s});
    });
    if (delta) {
      stageSystem();
      barrier();
      solveForward();
    }
    // The values of the decay's formulas: v, or the delta rule's pseudo-values w.
    Value chunkValues = delta ? pseudoValues : values;
    barrier();
    if (marks.readout) {
      // The readout O_i = sum_{s<=i} A_is v_s + exp(LG_i) ⊙ q_i S0 (the forward's), into
      // the workspace for the last CTA, and dO from it.
      stageOutputGrads([&](Value row, Value v) {
        Value fromPairs = sumRange(idx(0), add(row, idx(1)), [&](Value s) {
          return fmul(load(pairs, {row, s}), load(chunkValues, {s, v}));
        });
        Value fromState = sumRange(idx(0), idx(kDim), [&](Value k) {
          return fmul(fmul(exp(logAt(row, k)), load(queries, {row, k})),
                      load(state, {k, v}));
        });
        Value readout = fadd(fromPairs, fromState);
        wsStore(readout, readoutWord(add(start, row), add(valueBegin, v)));
        // (Read element by element: at the element being evaluated.)
        adjoint->bindElements(marks.readout, [readout](ValueRange) { return readout; });
      });
      barrier();
    }
    // ---- dV_s (dW_s) = (exp(LG_L - LG_s) ⊙ k_s)^T dS + sum_{i>=s} A_is dO_i ----
    forThreads(idx(kChunk * vDim), [&](Value e) {
      Value s = div(e, idx(vDim)), v = rem(e, idx(vDim));
      Value grad = kb->ifElse(
          ult(s, length), {f32},
          [&] {
            Value fromState = sumRange(idx(0), idx(kDim), [&](Value k) {
              Value term = fmul(load(keys, {s, k}), load(stateGrad, {k, v}));
              return rowGate ? fmul(term, exp(fsub(logAt(lastRow(), k), logAt(s, k))))
                             : term;
            });
            if (!rowGate)
              fromState = fmul(fmul(signAt(lastRow()), fromState),
                               exp(fsub(logAt(lastRow(), idx(0)), logAt(s, idx(0)))));
            Value fromPairs = sumRange(s, length, [&](Value i) {
              return fmul(load(pairs, {i, s}), load(outputGrads, {i, v}));
            });
            return SmallVector<Value>{fadd(fromState, fromPairs)};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      if (delta)
        store(grad, valueGrads, {s, v});
      else
        when(ult(s, length),
             [&] { wsStore(grad, valueGradWord(add(start, s), add(valueBegin, v))); });
    });
    barrier();
    // ---- dP_is = dO_i . v_s (times D_is for a scalar gate) ----
    forThreads(idx(kChunk * kChunk), [&](Value e) {
      Value i = div(e, idx(kChunk)), s = rem(e, idx(kChunk));
      Value grad = kb->ifElse(
          andI(ule(s, i), ult(i, length)), {f32},
          [&] {
            Value dot = sumRange(idx(0), idx(vDim), [&](Value v) {
              return fmul(load(outputGrads, {i, v}), load(chunkValues, {s, v}));
            });
            return SmallVector<Value>{rowGate ? dot : fmul(dot, decay(i, s, idx(0)))};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(grad, pairs, {i, s});
    });
    if (delta) {
      // dR = (I + A)^-T dW: back substitution, thread v owning column v.
      forThreads(idx(vDim), [&](Value v) {
        kb->loop(idx(0), idx(kChunk), idx(1), {}, [&](Value back, ValueRange) {
          Value i = sub(lastRow(), back);
          Value later = sumRange(add(i, idx(1)), idx(kChunk), [&](Value after) {
            return fmul(load(system, {after, i}), load(valueGrads, {after, v}));
          });
          store(fsub(load(valueGrads, {i, v}), later), valueGrads, {i, v});
          return SmallVector<Value>{};
        });
      });
      barrier();
      // E_is = -dR_i . w_s (s < i), the block's share; dV_i = b_i dR_i.
      forThreads(idx(kChunk * kChunk), [&](Value e) {
        Value i = div(e, idx(kChunk)), s = rem(e, idx(kChunk));
        Value grad = kb->ifElse(
            ult(s, i), {f32},
            [&] {
              Value dot = sumRange(idx(0), idx(vDim), [&](Value v) {
                return fmul(load(valueGrads, {i, v}), load(pseudoValues, {s, v}));
              });
              return SmallVector<Value>{arith::NegFOp::create(b, dot)};
            },
            [&] { return SmallVector<Value>{cst(0.0)}; })[0];
        store(grad, systemGrads, {i, s});
      });
      forThreads(idx(kChunk * vDim), [&](Value e) {
        Value i = div(e, idx(vDim)), v = rem(e, idx(vDim));
        when(ult(i, length), [&] {
          wsStore(fmul(load(strengths, {i}), load(valueGrads, {i, v})),
                  valueGradWord(add(start, i), add(valueBegin, v)));
        });
      });
    }
    barrier();
    // ---- this block's shares of dQ_i, dK_i and dLG_i (and db_i) ----
    Value lastStep = sub(numSteps, idx(1));
    // The delta rule's dP_i = -b_i dR_i at column v.
    auto projectionGrad = [&](Value i, Value v) {
      return arith::NegFOp::create(b,
                                   fmul(load(strengths, {i}), load(valueGrads, {i, v})));
    };
    // F_is = E_is b_i D_is (s < i).
    auto systemFactor = [&](Value i, Value s) {
      return fmul(fmul(load(systemGrads, {i, s}), load(strengths, {i})),
                  decay(i, s, idx(0)));
    };
    forThreads(idx(kChunk * kDim), [&](Value e) {
      Value i = div(e, idx(kDim)), k = rem(e, idx(kDim));
      when(ult(i, length), [&] {
        Value g = gateColumn(k);
        Value startTerm =
            fmul(exp(load(logGate, {i, g})), sumRange(idx(0), idx(vDim), [&](Value v) {
                   return fmul(load(state, {k, v}), load(outputGrads, {i, v}));
                 }));
        Value fromKeys = sumRange(idx(0), add(i, idx(1)), [&](Value s) {
          Value term = fmul(load(pairs, {i, s}), load(keys, {s, k}));
          return rowGate ? fmul(term, decay(i, s, k)) : term;
        });
        Value dq = fadd(startTerm, fromKeys);
        Value endTerm =
            fmul(fmul(signAt(lastRow()),
                      exp(fsub(load(logGate, {lastRow(), g}), load(logGate, {i, g})))),
                 sumRange(idx(0), idx(vDim), [&](Value v) {
                   return fmul(load(stateGrad, {k, v}), load(chunkValues, {i, v}));
                 }));
        Value fromQueries = sumRange(i, length, [&](Value later) {
          Value term = fmul(load(pairs, {later, i}), load(queries, {later, k}));
          return rowGate ? fmul(term, decay(later, i, k)) : term;
        });
        Value dk = fadd(endTerm, fromQueries);
        Value t = add(start, i);
        Value dlg = fsub(fmul(load(queries, {i, k}), dq), fmul(load(keys, {i, k}), dk));
        if (delta) {
          // The solve's adjoint: the projection's and the system's terms of dK; of dLG,
          // once per row (at k = 0; the scalar gate's sum runs over k).
          Value projection =
              fmul(exp(logAt(i, idx(0))), sumRange(idx(0), idx(vDim), [&](Value v) {
                     return fmul(load(state, {k, v}), projectionGrad(i, v));
                   }));
          Value earlier = sumRange(idx(0), i, [&](Value s) {
            return fmul(systemFactor(i, s), load(keys, {s, k}));
          });
          Value later = sumRange(add(i, idx(1)), length, [&](Value after) {
            return fmul(systemFactor(after, i), load(keys, {after, k}));
          });
          dk = fadd(dk, fadd(projection, fadd(earlier, later)));
          Value rowTerms = kb->ifElse(
              arith::CmpIOp::create(b, arith::CmpIPredicate::eq, k, idx(0)), {f32},
              [&] {
                Value fromProjection = sumRange(idx(0), idx(vDim), [&](Value v) {
                  return fmul(load(projections, {i, v}), projectionGrad(i, v));
                });
                Value fromEarlier = sumRange(idx(0), i, [&](Value s) {
                  return fmul(load(systemGrads, {i, s}), load(system, {i, s}));
                });
                Value fromLater = sumRange(add(i, idx(1)), length, [&](Value after) {
                  return fmul(load(systemGrads, {after, i}), load(system, {after, i}));
                });
                return SmallVector<Value>{
                    fadd(fromProjection, fsub(fromEarlier, fromLater))};
              },
              [&] { return SmallVector<Value>{cst(0.0)}; })[0];
          dlg = fadd(dlg, rowTerms);
        }
        // The final state's term enters at the last step.
        Value last = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, t, lastStep);
        dlg = fadd(dlg, select(last, load(endTerms, {k}), cst(0.0)));
        wsStore(dq, shareWord(0, block, t, k));
        wsStore(dk, shareWord(1, block, t, k));
        // (A gate given by value: region 2 holds g_t's shares, below.)
        if (!signedGate)
          wsStore(dlg, shareWord(2, block, t, k));
      });
    });
    if (signedGate) {
      // The terms of g_t that carry G_t (ChunkedAdjoint.cpp): per row, u_i = q_i .
      // exp(LG_i) (S0 dO_i) (+ P_i . dP_i) and c_s = k_s . SG_L Γ_L/Γ_s (dS v_s); the
      // end's c_0 = SG_L exp(LG_L) <S0, dS>. The block's shares, as the sums' are.
      Value endSign = signAt(lastRow());
      forThreads(idx(kChunk), [&](Value i) {
        SmallVector<Value> terms = kb->ifElse(
            ult(i, length), {f32, f32},
            [&] {
              Value u = sumRange(idx(0), idx(kDim), [&](Value k) {
                return fmul(load(queries, {i, k}),
                            sumRange(idx(0), idx(vDim), [&](Value v) {
                              return fmul(load(state, {k, v}), load(outputGrads, {i, v}));
                            }));
              });
              u = fmul(exp(logAt(i, idx(0))), u);
              if (delta)
                u = fadd(u, sumRange(idx(0), idx(vDim), [&](Value v) {
                           return fmul(load(projections, {i, v}), projectionGrad(i, v));
                         }));
              Value c = sumRange(idx(0), idx(kDim), [&](Value k) {
                return fmul(
                    load(keys, {i, k}), sumRange(idx(0), idx(vDim), [&](Value v) {
                      return fmul(load(stateGrad, {k, v}), load(chunkValues, {i, v}));
                    }));
              });
              c = fmul(
                  fmul(endSign, exp(fsub(logAt(lastRow(), idx(0)), logAt(i, idx(0))))),
                  c);
              return SmallVector<Value>{u, c};
            },
            [&] {
              return SmallVector<Value>{cst(0.0), cst(0.0)};
            });
        store(terms[0], rowLogTerms, {i});
        store(terms[1], stateLogTerms, {i});
      });
      onCtaLeader(*kb, tid, [&] {
        Value inner = sumRange(idx(0), idx(kDim), [&](Value k) {
          return sumRange(idx(0), idx(vDim), [&](Value v) {
            return fmul(load(state, {k, v}), load(stateGrad, {k, v}));
          });
        });
        store(fmul(fmul(endSign, exp(logAt(lastRow(), idx(0)))), inner), endLogTerm,
              {idx(0)});
      });
    }
    if (delta) {
      // db_i = dR_i . (v_i - P_i) + sum_{s<i} E_is D_is (k_i . k_s), the block's share.
      forThreads(idx(kChunk), [&](Value i) {
        when(ult(i, length), [&] {
          Value fromValues = sumRange(idx(0), idx(vDim), [&](Value v) {
            return fmul(load(valueGrads, {i, v}),
                        fsub(load(values, {i, v}), load(projections, {i, v})));
          });
          Value fromSystem = sumRange(idx(0), i, [&](Value s) {
            Value dot = sumRange(idx(0), idx(kDim), [&](Value k) {
              return fmul(load(keys, {i, k}), load(keys, {s, k}));
            });
            return fmul(fmul(load(systemGrads, {i, s}), decay(i, s, idx(0))), dot);
          });
          wsStore(fadd(fromValues, fromSystem), strengthShareWord(block, add(start, i)));
        });
      });
    }
    barrier();
    // ---- dS before the chunk: exp(LG_L) ⊙ dS + sum_i (exp(LG_i) ⊙ q_i)^T dO_i (and
    // the delta rule's sum_i exp(LG_i) k_i dP_i^T) ----
    forThreads(idx(kDim * vDim), [&](Value e) {
      Value k = div(e, idx(vDim)), v = rem(e, idx(vDim));
      Value g = gateColumn(k);
      Value kept = fmul(fmul(signAt(lastRow()), exp(load(logGate, {lastRow(), g}))),
                        load(stateGrad, {k, v}));
      Value added = sumRange(idx(0), length, [&](Value i) {
        Value term = fmul(load(queries, {i, k}), load(outputGrads, {i, v}));
        if (delta)
          term = fadd(term, fmul(load(keys, {i, k}), projectionGrad(i, v)));
        return fmul(exp(load(logGate, {i, g})), term);
      });
      store(fadd(kept, added), stateGrad, {k, v});
    });
    if (signedGate) {
      // g_t = sum_{s<t<=i} W_is + sum_{i>=t} u_i + c_0 + sum_{s<t} c_s, W_is = dP_is A_is
      // (+ E_is A_is of the delta rule's system): the block's share of each step's.
      forThreads(length, [&](Value t) {
        Value straddling = sumRange(idx(0), t, [&](Value s) {
          return sumRange(t, length, [&](Value i) {
            Value term = fmul(load(pairs, {i, s}), loadScoreDot(i, s));
            if (delta)
              term = fadd(term, fmul(load(systemGrads, {i, s}), load(system, {i, s})));
            return term;
          });
        });
        Value rows = sumRange(t, length, [&](Value i) { return load(rowLogTerms, {i}); });
        Value before =
            sumRange(idx(0), t, [&](Value s) { return load(stateLogTerms, {s}); });
        Value g = fadd(fadd(straddling, rows), fadd(load(endLogTerm, {idx(0)}), before));
        wsStore(g, shareWord(2, block, add(start, t), idx(0)));
      });
    }
    return SmallVector<Value>{};
  });
}

// ---- the per-step gradients ----

/// The gradient of root `rootIndex` at step start + row and element x of a vector
/// root (null for a scalar one, whose gradient sums its roles over their columns):
/// ChunkedAdjoint.cpp's forEachRole for a decay without signs.
Value RecurrenceGradKernel::rootGradAt(unsigned rootIndex, Value row, Value start,
                                       Value x) {
  ImplicitLocOpBuilder &b = builder();
  Value root = marks.roots[rootIndex];
  const ChunkForm &form = plan.form;
  Value t = add(start, row);
  Value total = cst(0.0);
  // A role whose gradient at column c is at(c) over `extent` columns.
  auto role = [&](int64_t extent, function_ref<Value(Value)> at) {
    total = fadd(total, x ? at(x) : sumRange(idx(0), idx(extent), at));
  };
  auto factorValue = [&](const ChunkFactor &factor, Value k) {
    bool vector = isa<SpecTensorType>(factor.value.getType());
    return primal->at(factor.value, vector ? ValueRange{k} : ValueRange{});
  };
  auto factorTimes = [&](const ChunkFactor &factor, Value k) {
    Value value = factorValue(factor, k);
    if (factor.isExp)
      value = math::ExpOp::create(b, value);
    return factor.inverse ? Value(arith::DivFOp::create(b, cst(1.0), value)) : value;
  };
  // d(factorTimes) / d(factor.value).
  auto factorDerivative = [&](const ChunkFactor &factor, Value k) {
    Value value = factorValue(factor, k);
    if (factor.isExp)
      value = math::ExpOp::create(b, value);
    if (!factor.inverse)
      return factor.isExp ? value : cst(1.0);
    Value inverse = arith::DivFOp::create(b, cst(1.0), value);
    Value derivative = factor.isExp ? inverse : fmul(inverse, inverse);
    return Value(arith::NegFOp::create(b, derivative));
  };
  for (const ChunkFactor &factor : form.gate) {
    if (factor.value != root)
      continue;
    role(plan.gateColumns, [&](Value g) -> Value {
      StepGateLog log = stepGateLog(
          *kb, form, [&](const ChunkFactor &each) { return factorValue(each, g); });
      Value open = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, log.log,
                                         cst(kLogDecayFloor));
      Value logGrad = load(logGate, {row, g});
      if (!factor.isExp)
        logGrad = arith::DivFOp::create(b, logGrad, factorValue(factor, g));
      Value grad = select(open, logGrad, cst(0.0));
      return factor.inverse ? Value(arith::NegFOp::create(b, grad)) : grad;
    });
  }
  if (form.delta) {
    // The key's total gradient goes to `key`; `projectionKey`, when another slice of
    // it, gets none.
    const DeltaTerm &rule = *form.delta;
    if (rule.key == root)
      role(plan.keyDim, [&](Value k) { return fmul(signAt(row), load(keys, {row, k})); });
    if (rule.value == root)
      role(plan.valueDim, [&](Value v) { return wsLoad(valueGradWord(t, v)); });
    for (size_t f = 0; f < rule.strength.size(); ++f) {
      if (rule.strength[f].value != root)
        continue;
      role(1, [&](Value) {
        Value grad = sumRange(idx(0), idx(valueBlocks), [&](Value blockIndex) {
          return wsLoad(strengthShareWord(blockIndex, t));
        });
        for (auto [other, otherFactor] : llvm::enumerate(rule.strength))
          grad = fmul(grad, other == f ? factorDerivative(otherFactor, Value())
                                       : factorTimes(otherFactor, Value()));
        return grad;
      });
    }
  }
  for (const RankOneTerm &term : form.terms) {
    // The staged keys and queries carry the sign of Γ at their row: the roots' own
    // get it back.
    auto keyGrad = [&](Value k) {
      Value grad = fmul(signAt(row), load(keys, {row, k}));
      return term.negated ? Value(arith::NegFOp::create(b, grad)) : grad;
    };
    if (term.key == root)
      role(plan.keyDim, [&](Value k) {
        Value grad = keyGrad(k);
        for (const ChunkFactor &factor : term.factors)
          grad = fmul(grad, factorTimes(factor, k));
        return grad;
      });
    if (term.value == root)
      role(plan.valueDim, [&](Value v) { return wsLoad(valueGradWord(t, v)); });
    for (size_t f = 0; f < term.factors.size(); ++f) {
      if (term.factors[f].value != root)
        continue;
      role(plan.keyDim, [&](Value k) {
        Value grad = fmul(keyGrad(k), primal->at(term.key, k));
        for (auto [other, otherFactor] : llvm::enumerate(term.factors))
          grad = fmul(grad, other == f ? factorDerivative(otherFactor, k)
                                       : factorTimes(otherFactor, k));
        return grad;
      });
    }
  }
  if (plan.readoutOp.getLhs() == root)
    role(plan.keyDim, [&](Value k) {
      return fmul(signAt(row), load(queries, {row, k}));
    });
  return total;
}

void RecurrenceGradKernel::bindSeeds(Value row, Value start) {
  Value t = add(start, row);
  primal->setStep(t);
  adjoint->setStep(t);
  bindVectorRows(row, /*withGrads=*/true);
  if (marks.readout)
    adjoint->bindElements(marks.readout, [this, t](ValueRange at) {
      return wsLoad(readoutWord(t, at[0]));
    });
  for (auto [rootIndex, seed] : llvm::enumerate(marks.seeds)) {
    if (!seed)
      continue;
    unsigned index = rootIndex;
    bool vector = isa<SpecTensorType>(marks.roots[index].getType());
    adjoint->bindElements(seed, [this, index, row, start, vector](ValueRange at) {
      return rootGradAt(index, row, start, vector ? at[0] : Value());
    });
  }
}

/// (3) The point's last CTA: dLG's reverse sum and the adjoint's outputs, per chunk
/// from the last, from the blocks' shares in block order.
void RecurrenceGradKernel::sumShares() {
  ImplicitLocOpBuilder &b = builder();
  Type f32 = b.getF32Type();
  Block &body = op.getStepOp().getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  size_t numStates = op.getStateOps().size();
  auto resultTypes = op.getSpecResultTypes();
  int64_t gates = plan.gateColumns;
  forThreads(idx(gates), [&](Value g) { store(cst(0.0), running, {g}); });
  forThreads(idx(marks.accumulators.size()),
             [&](Value a) { store(cst(0.0), accumulatorTotals, {a}); });
  // The vectors' gradients after the last step: the final states' gradients, or 0.
  SmallVector<StateOp, 4> states = op.getStateOps();
  for (auto [vector, planned, gradHistory] :
       llvm::zip(marks.vectors, plan.vectorStates, gradHistories)) {
    Value init = states[vector.state].getInit();
    Value history = gradHistory;
    forThreads(idx(planned.size), [&](Value k) {
      store(initElement(init, {k}), history, {idx(kChunk), k});
    });
  }
  kb->loop(idx(0), numChunks, idx(1), {}, [&](Value reversed, ValueRange) {
    Value chunk = sub(sub(numChunks, idx(1)), reversed);
    Value start = mul(chunk, idx(kChunk));
    Value length = arith::MinUIOp::create(b, idx(kChunk), sub(numSteps, start));
    barrier(); // the last chunk's gradients and rows are read
    if (signedGate) {
      // The signs of Γ, for the staged keys' and queries' gradients.
      stageLogGates(start, length);
      barrier();
    }
    // dLG per row and gate column: the blocks' shares (a scalar gate's over k too); a
    // gate given by value: g_t's shares.
    forThreads(idx(kChunk * gates), [&](Value e) {
      Value row = div(e, idx(gates)), g = rem(e, idx(gates));
      Value sum = kb->ifElse(
          ult(row, length), {f32},
          [&] {
            Value t = add(start, row);
            if (plan.form.hasRowGate() || signedGate)
              return SmallVector<Value>{sharesAt(2, t, g)};
            return SmallVector<Value>{sumRange(
                idx(0), idx(plan.keyDim), [&](Value k) { return sharesAt(2, t, k); })};
          },
          [&] { return SmallVector<Value>{cst(0.0)}; })[0];
      store(sum, logGate, {row, g});
    });
    // dQ and dK, the blocks' shares summed once per element: the outputs read them
    // wherever the adjoint does (an l2norm's adjoint reads every column per element).
    forThreads(idx(kChunk * plan.keyDim), [&](Value e) {
      Value row = div(e, idx(plan.keyDim)), k = rem(e, idx(plan.keyDim));
      when(ult(row, length), [&] {
        Value t = add(start, row);
        store(sharesAt(0, t, k), queries, {row, k});
        store(sharesAt(1, t, k), keys, {row, k});
      });
    });
    barrier();
    // The running sum over this and every later step, last row first (g_t needs none).
    forThreads(idx(signedGate ? 0 : gates), [&](Value g) {
      Value total = kb->loop(idx(0), idx(kChunk), idx(1), {load(running, {g})},
                             [&](Value back, ValueRange carried) {
                               Value row = sub(lastRow(), back);
                               Value sum = fadd(carried[0], load(logGate, {row, g}));
                               store(sum, logGate, {row, g});
                               return SmallVector<Value>{sum};
                             })[0];
      store(total, running, {g});
    });
    barrier();
    // The vector states over the chunk, then their gradients, last row first.
    if (!marks.vectors.empty()) {
      loadVectorStarts(chunk);
      scanVectors(start, length);
      barrier();
      scanVectorGrads(start, length);
      barrier();
    }
    // The per-step outputs, element by element.
    for (auto [position, perStepResult] : llvm::enumerate(op.getPerStepResults())) {
      unsigned result = perStepResult; // (C++17: no captures of structured bindings)
      Value value = yield.getValues()[numStates + position];
      auto type = dyn_cast<SpecTensorType>(value.getType());
      // A vector's elements (a dim fixed or not), or a scalar's one.
      Value extent = type ? kb->dimValue(type.getDims()[0]) : idx(1);
      ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
      forThreads(mul(idx(kChunk), extent), [&](Value e) {
        Value row = div(e, extent), x = rem(e, extent);
        when(ult(row, length), [&] {
          bindSeeds(row, start);
          Value element = adjoint->at(value, type ? ValueRange{x} : ValueRange{});
          kb->storeF32(element, kb->resultMemRef(result),
                       adjoint->outerIndices(outDims, adjoint->step(),
                                             type ? ValueRange{x} : ValueRange{}));
        });
      });
    }
    // The accumulators' increments per row, then added in step order (last first, as
    // the CPU's adjoint).
    for (auto [a, acc] : llvm::enumerate(marks.accumulators)) {
      Value increment = acc.increment;
      Value slot = idx(a);
      forThreads(idx(kChunk), [&](Value row) {
        Value value = kb->ifElse(
            ult(row, length), {f32},
            [&] {
              bindSeeds(row, start);
              return SmallVector<Value>{adjoint->at(increment, {})};
            },
            [&] { return SmallVector<Value>{cst(0.0)}; })[0];
        store(value, accumulatorRows, {slot, row});
      });
    }
    if (!marks.accumulators.empty()) {
      barrier();
      onCtaLeader(*kb, tid, [&] {
        for (size_t a = 0; a < marks.accumulators.size(); ++a) {
          Value slot = idx(a);
          Value total =
              kb->loop(idx(0), length, idx(1), {load(accumulatorTotals, {slot})},
                       [&](Value back, ValueRange carried) {
                         Value row = sub(sub(length, idx(1)), back);
                         return SmallVector<Value>{
                             fadd(carried[0], load(accumulatorRows, {slot, row}))};
                       })[0];
          store(total, accumulatorTotals, {slot});
        }
      });
    }
    return SmallVector<Value>{};
  });
  barrier();
  // The vector states' initial values' gradients: their gradients before step 0.
  for (unsigned result = 0; result < resultTypes.size(); ++result) {
    FinalOp final = op.getFinalOp(result);
    if (!final)
      continue;
    for (auto [vector, planned, gradHistory] :
         llvm::zip(marks.vectors, plan.vectorStates, gradHistories)) {
      if (states[vector.state].getSymName() != final.getState())
        continue;
      ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
      Value history = gradHistory;
      forThreads(idx(planned.size), [&](Value k) {
        kb->storeF32(load(history, {idx(kChunk), k}), kb->resultMemRef(result),
                     adjoint->outerIndices(outDims, {}, {k}));
      });
    }
  }
  // The accumulators' finals.
  onCtaLeader(*kb, tid, [&] {
    for (unsigned result = 0; result < resultTypes.size(); ++result) {
      FinalOp final = op.getFinalOp(result);
      if (!final)
        continue;
      for (auto [a, acc] : llvm::enumerate(marks.accumulators)) {
        if (states[acc.state].getSymName() != final.getState())
          continue;
        ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
        kb->storeF32(load(accumulatorTotals, {idx(a)}), kb->resultMemRef(result),
                     adjoint->outerIndices(outDims, {}, {}));
      }
    }
  });
}

void RecurrenceGradKernel::buildBody() {
  ImplicitLocOpBuilder &b = builder();
  MLIRContext *ctx = op.getContext();
  workspace = kb->function().getBody().front().addArgument(
      MemRefType::get({ShapedType::kDynamic}, b.getI64Type()), op.getLoc());
  adjoint = std::make_unique<StepElements>(op, *kb);
  primal = std::make_unique<StepElements>(forward, *kb, op);
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  unsigned parallel = op.getParallelDims().size();
  block = kb->gridIndex(parallel);
  valueBegin = mul(block, idx(valueBlock));
  numSteps = adjoint->numSteps();
  numChunks = arith::CeilDivUIOp::create(b, numSteps, idx(kChunk));

  // ---- the workspace: a counter per CTA (the point's is its first block's), then
  // the points' slabs: [parallel dims but a packed sequence's, T] x wordsPerStep ----
  Value blocks = gpu::GridDimOp::create(b, gpu::Dimension::x);
  pointCounter = div(gpu::BlockIdOp::create(b, gpu::Dimension::x), idx(valueBlocks));
  ParallelPoint point = ParallelPoint::of(op, *kb);
  packedSequences = bool(point.firstStep);
  Value slab = idx(0);
  for (unsigned dim = point.firstStep ? 1 : 0; dim < parallel; ++dim)
    slab = add(mul(slab, kb->dimValue(point.dims[dim])), point.indices[dim]);
  Value firstStep = point.firstStep ? point.firstStep : idx(0);
  Value allSteps = kb->sizeValue(op.getTimeSymbol());
  slabStart = add(blocks, mul(add(mul(slab, allSteps), firstStep), idx(wordsPerStep)));

  // ---- shared memory ----
  auto sharedSpace = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto type = [&](int64_t rows, int64_t cols) {
    return MemRefType::get({rows, cols}, b.getF32Type(), MemRefLayoutAttrInterface(),
                           sharedSpace);
  };
  auto vectorType = [&](int64_t size) {
    return MemRefType::get({size}, b.getF32Type(), MemRefLayoutAttrInterface(),
                           sharedSpace);
  };
  int64_t kDim = plan.keyDim, vDim = valueBlock;
  int64_t numAccumulators = std::max<int64_t>(1, marks.accumulators.size());
  SharedMemoryViews shared(b);
  logGate = shared.view(type(kChunk, plan.gateColumns));
  queries = shared.view(type(kChunk, kDim));
  keys = shared.view(type(kChunk, kDim));
  int64_t productsAt = shared.bytes(); // values .. pairs: read by the chunks' products
  values = shared.view(type(kChunk, vDim));
  outputGrads = shared.view(type(kChunk, vDim));
  state = shared.view(type(kDim, vDim));
  stateGrad = shared.view(type(kDim, vDim));
  pairs = shared.view(type(kChunk, kChunk));
  endTerms = shared.view(vectorType(kDim));
  running = shared.view(vectorType(plan.gateColumns));
  accumulatorRows = shared.view(type(numAccumulators, kChunk));
  accumulatorTotals = shared.view(vectorType(numAccumulators));
  flag = shared.view(vectorType(1));
  if (signedGate) {
    signs = shared.view(type(kChunk, 1));
    if (!delta)
      scoreDots = shared.view(type(kChunk, kChunk));
    rowLogTerms = shared.view(vectorType(kChunk));
    stateLogTerms = shared.view(vectorType(kChunk));
    endLogTerm = shared.view(vectorType(1));
  }
  if (delta) {
    strengths = shared.view(vectorType(kChunk));
    pseudoValues = shared.view(type(kChunk, vDim));
    projections = shared.view(type(kChunk, vDim));
    valueGrads = shared.view(type(kChunk, vDim));
    system = shared.view(type(kChunk, kChunk));
    systemGrads = shared.view(type(kChunk, kChunk));
  }
  for (const RecurrenceKernelPlan::VectorState &vector : plan.vectorStates)
    histories.push_back(shared.view(type(kChunk + 1, vector.size)));
  if (!marks.dots.empty())
    dotRows = shared.view(type(marks.dots.size(), kChunk));
  for (const RecurrenceKernelPlan::VectorState &vector : plan.vectorStates) {
    MemRefType historyType = type(kChunk + 1, vector.size);
    if (gradHistoriesOverProducts) {
      gradHistories.push_back(shared.alias(historyType, productsAt));
      productsAt += 4 * (kChunk + 1) * vector.size;
    } else {
      gradHistories.push_back(shared.view(historyType));
    }
  }
  assert(shared.bytes() == sharedBytes && "the views cover the allocation");

  // ---- dS from the final state's gradient (d_<S>'s init) or 0 ----
  Value gradInit = op.getStateOps()[marks.matrixState].getInit();
  forThreads(idx(kDim * vDim), [&](Value e) {
    Value k = div(e, idx(vDim)), v = rem(e, idx(vDim));
    store(initElement(gradInit, {k, add(valueBegin, v)}), stateGrad, {k, v});
  });
  forwardPass();
  backwardPass();
  barrier();
  // d_<init>: dS before the first chunk, this block's columns.
  auto resultTypes = op.getSpecResultTypes();
  StringRef stateName = op.getStateOps()[marks.matrixState].getSymName();
  for (unsigned result = 0; result < resultTypes.size(); ++result) {
    FinalOp final = op.getFinalOp(result);
    if (!final || final.getState() != stateName)
      continue;
    ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
    forThreads(idx(kDim * vDim), [&](Value e) {
      Value k = div(e, idx(vDim)), v = rem(e, idx(vDim));
      kb->storeF32(load(stateGrad, {k, v}), kb->resultMemRef(result),
                   adjoint->outerIndices(outDims, {}, {k, add(valueBegin, v)}));
    });
  }

  // ---- (3) count this CTA in; the point's last sums ----
  // Every thread's shares are visible GPU-wide before the count (each fences its
  // stores; the barrier orders them before thread 0's atomic), and the last CTA's
  // reads follow its own fence.
  gpuFence(b);
  barrier();
  onCtaLeader(*kb, tid, [&] {
    Value last = countCtaIn(b, workspace, pointCounter, valueBlocks);
    store(select(last, cst(1.0), cst(0.0)), flag, {idx(0)});
  });
  barrier();
  Value isLast =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, load(flag, {idx(0)}), cst(1.0));
  when(isLast, [&] {
    gpuFence(b);
    sumShares();
  });
}

LogicalResult RecurrenceGradKernel::lower() {
  if (failed(analyse()))
    return failure();
  SmallVector<GridDim> grid;
  for (Attribute dim : op.getParallelDims())
    grid.push_back({dim, 1});
  grid.push_back({plan.stateType.getDims()[1], valueBlock});
  kb = std::make_unique<KernelBuilder>(op, grid);
  buildBody();
  ImplicitLocOpBuilder &b = builder();
  auto workspaceType = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
  gpu::GPUFuncOp kernel = moveProgramToKernel(
      kb->function(), gpuModule, {kThreads, sharedBytes, schedule, plan.specialized},
      ArrayRef<Type>(workspaceType));
  // The workspace: wordsPerStep per parallel point and step (literal dims folded
  // into the count; a packed sequence's steps are counted in T).
  int64_t words = wordsPerStep;
  SmallVector<StringAttr> per;
  SmallVector<Attribute> dims = op.getParallelDims();
  for (Attribute dim : ArrayRef<Attribute>(dims).drop_front(packedSequences ? 1 : 0)) {
    if (auto symbol = dyn_cast<StringAttr>(dim))
      per.push_back(symbol);
    else
      words *= cast<IntegerAttr>(dim).getInt();
  }
  per.push_back(StringAttr::get(op.getContext(), op.getTimeSymbol()));
  setKernelAbi(kernel, getKernelAbi(kernel).withWorkspace(words, per));
  kernel->setAttr(
      NVVM::NVVMDialect::getMaxnregAttrName(),
      IntegerAttr::get(IntegerType::get(op.getContext(), 32), sm80::kMaxRegisters));
  return success();
}

struct LowerRecurrenceGradToNVGPU
    : tmix::impl::LowerRecurrenceGradToNVGPUBase<LowerRecurrenceGradToNVGPU> {
  using LowerRecurrenceGradToNVGPUBase::LowerRecurrenceGradToNVGPUBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<tile::RecurrenceProgramOp> programs;
    for (auto program : module.getOps<tile::RecurrenceProgramOp>()) {
      auto spec = SymbolTable::lookupNearestSymbolFrom<RecurrenceOp>(
          program, program.getSpecAttr());
      if (spec && spec.getForwardAttr())
        programs.push_back(program);
    }
    if (programs.empty())
      return;
    FailureOr<KernelModule> kernels = prepareKernelModule(module, specialize);
    if (failed(kernels))
      return signalPassFailure();
    bool anyFailed = false;
    for (tile::RecurrenceProgramOp program : programs) {
      FailureOr<RunnableRecurrenceProgram> runnable =
          checkRecurrenceProgram(program, getSm80TargetInfo(), kernels->fixed);
      if (failed(runnable)) {
        anyFailed = true;
        continue;
      }
      RecurrenceOp grad = runnable->spec;
      auto forward =
          SymbolTable::lookupNearestSymbolFrom<RecurrenceOp>(grad, grad.getForwardAttr());
      if (!forward || forward.getForwardAttr()) {
        grad.emitOpError("names a forward '")
            << grad.getForwardAttr().getValue()
            << "' that is not a recurrence of the module";
        anyFailed = true;
        continue;
      }
      if (failed(RecurrenceGradKernel(grad, forward, runnable->schedule,
                                      kernels->gpuModule, kernels->fixed)
                     .lower())) {
        anyFailed = true;
        continue;
      }
      // Its callers get the shared gradients summed by the module's sum kernel.
      getOrCreateGradientSumKernel(kernels->gpuModule);
      program.erase();
      grad.erase();
      ++numLowered;
    }
    if (anyFailed)
      signalPassFailure();
  }
};

} // namespace

std::string tmix::gpuRecurrenceGradLimit(RecurrenceOp grad, RecurrenceOp forward) {
  AdjointMarks marks;
  std::string why = analyseAdjoint(grad, forward, marks);
  if (why.empty())
    return why;
  return "the backward of '" + forward.getSymName().str() +
         "' runs on the GPUs for one matrix state with a decay or a delta rule (a gate "
         "in log space, or a scalar one given by value; one readout q @ S) and vector "
         "states read through dot (linear attention's normaliser); with " +
         why + ", it runs on the CPU only so far";
}
