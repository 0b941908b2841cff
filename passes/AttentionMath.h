//===- AttentionMath.h - The formulas of attention, written once -*- C++ -*-===//
//
// Every target runs the same attention arithmetic on its own tile layout: the CPU on
// lane vectors of query rows, the GPUs on the scalars of accumulator fragments. The
// formulas live here, once, on values that are f32 scalars or vectors of f32 alike
// (arith and math ops apply element-wise), with the target's exponential passed in:
//
//   scale      scale_log2 = scale * log2(e), scale = the `scale` statement or 1/sqrt(D)
//              (log2(e) is left out when a `score` statement needs natural units)
//   score      s = score(b, h, i, j, s) * log2(e); masked: s = keep ? s : -inf
//   max        m' = max(m, rowmax(s)); alpha = exp2(m - m') (1 while nothing is kept)
//   p          p = exp2(s - m') (0 while nothing is kept)
//   sum        l' = l * alpha + rowsum(p)
//   finish     the sink joins as one more score (max, p, sum) with no value row;
//              o = acc * alpha / l, lse = (m + log2 l) ln 2; o = 0, lse = -inf where
//              nothing was kept
//   rope       the half-split rotation of (a, c) at (p, p + D/2):
//              (a cos - c sin, c cos + a sin) at angle pos * theta^(-2p/D);
//              theta's gradient: sum over the rotated rows y of q and k and their
//              pairs of (dy[p + D/2] y[p] - dy[p] y[p + D/2]) (-(2p/D) angle / theta)
//   backward   per kept pair, from q.k, dP = d_o_i . v_j, the row's lse and
//              D_i = d_o_i . o_i: P = exp2(score - lse log2 e) (0 on a row that kept
//              nothing), dS = score_grad(s, P (dP - D_i)), and dS scale for q.k;
//              a sink's gradient -sum_i P_sink,i D_i,
//              P_sink,i = exp2(sink - lse_i log2 e)
//
// A NaN score makes m' NaN, and NaN counts as kept (an unordered compare), so that a
// row that saw a NaN gives NaN outputs rather than those of an empty row.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_ATTENTIONMATH_H
#define TMIX_PASSES_ATTENTIONMATH_H

#include "passes/AttentionStatements.h"
#include "passes/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/OpDefinition.h"

namespace mlir::tmix {

/// Where one program of an attention grid (batch x head x query tile) stands, and the
/// spec's operands: what every target's program reads first (KernelBuilder's ABI).
struct AttentionProgram {
  Value batch, head, queryTile; // the program's grid coordinates (index)
  Value kvHead;                 // GQA: query head h reads KV head h / (H / HK)
  Value numN, numM;             // query and key lengths (index)
  Value q, k, v, o, lse;        // memrefs; lse is null when the spec has none
};

/// Reads the program's coordinates, lengths and operands from `kb`'s program.
AttentionProgram readAttentionProgram(KernelBuilder &kb, AttentionOp op);

/// What every target's program of a tmix.attention_grad part reads first (KernelBuilder's
/// ABI): the lengths, the group size and the operands.
struct AttentionGradOperands {
  Value numN, numM;                  // query and key lengths (index)
  Value group;                       // query heads per KV head, H / HK (index)
  Value q, k, v, o, lse, outputGrad; // memrefs
  Value lseGrad;                     // d_lse, null without lse_grad
};

/// Reads a tmix.attention_grad part's lengths and operands from `kb`'s program.
AttentionGradOperands readAttentionGradOperands(KernelBuilder &kb, AttentionGradOp op);

/// D_i = d_o_i . o_i - d_lse_i of row i (index) of (batch, head): the delta that every
/// dS_ij of the row subtracts (d lse_i / d s_ij = P_ij: d_lse joins it), summed over
/// the `numDV` value columns in a loop whose adds carry `flags` (reassoc lets the CPU
/// vectorise it, in an order fixed at compile time).
Value outputDelta(KernelBuilder &kb, const AttentionGradOperands &operands, Value batch,
                  Value head, Value i, Value numDV,
                  arith::FastMathFlags flags = arith::FastMathFlags::none);

/// Part "params"'s grid: over q's batch (head) dim where every param owns a dim that
/// its reads index by exactly b (h) (AttentionGradOp::splitsParamsBy), or one program.
SmallVector<GridDim> paramsGrid(AttentionGradOp op);

/// What one program of part "params" (paramsGrid) covers: per dim (0: batch, 1: head)
/// the range [begin, end), its grid index alone where the grid splits that dim, else
/// all of it.
struct ParamsProgram {
  bool split[2];
  Value begin[2], end[2];

  /// `leaf(element)` at each element of param `position`'s gradient `out` that the
  /// program owns: those at its batch and head where the param owns those dims.
  void forEachOwned(KernelBuilder &kb, AttentionGradOp op, unsigned position, Value out,
                    function_ref<void(ValueRange element)> leaf) const;
};

/// Reads the ranges of `kb`'s program of part "params" `op`.
ParamsProgram readParamsProgram(KernelBuilder &kb, AttentionGradOp op);

/// Where the terms of a float param's gradient go: a tensor's to `memref` at `prefix`
/// then the param's indices (its gradient, or a partial with leading dims of its own);
/// a scalar's to `memref`'s element at `prefix` (an f64 sum, or its f32 gradient).
struct ParamGradTarget {
  Value memref;
  SmallVector<Value> prefix;
};

/// Inlines a tmix.score_param_grad, tmix.sink_grad or tmix.scale_grad region on `args`,
/// with `term(accumulate, value, indices)` in place of each tmix.accumulate: its value
/// (f32) and the i64 indices of its element, as the region computes them.
void inlineParamGradTerms(
    KernelBuilder &kb, Region &region, ValueRange args,
    function_ref<void(AccumulateOp accumulate, Value value, ValueRange indices)> term);

/// Adds `value` (f32 or f64) to the element at `indices` (i64) of `target`, converted
/// to its element type; an index outside the tensor adds nothing (the read it comes
/// from gave 0).
void addParamGradTerm(KernelBuilder &kb, const ParamGradTarget &target,
                      ValueRange indices, Value value);

/// Inlines a tmix.score_param_grad, tmix.sink_grad or tmix.scale_grad region on `args`:
/// each tmix.accumulate adds its value to the element of its param's target
/// (`targetOf(argument number)`), in f64 where the target is; an index outside the
/// tensor adds nothing (the read it comes from gave 0).
void inlineParamGradRegion(KernelBuilder &kb, Region &region, ValueRange args,
                           function_ref<ParamGradTarget(unsigned argument)> targetOf);

/// A target's exp2 or log2 of f32 scalars or vectors (math.exp2 on the CPU, which
/// becomes a polynomial; ex2.approx on the GPUs).
using UnaryMathFn = function_ref<Value(ImplicitLocOpBuilder &b, Value x)>;

/// An f32 constant of `type` (f32, or a vector of f32: a splat).
Value f32ConstantOf(ImplicitLocOpBuilder &b, Type type, double value);

/// The spec's scale in natural units: the `scale` statement's value, or 1/sqrt(D)
/// (`headDim`: a literal, folded at compile time, or a run-time index).
Value naturalScale(KernelBuilder &kb, Operation *op, OpFoldResult headDim);

/// The factor the raw scores q.k are multiplied by: naturalScale, times log2(e) unless
/// the spec has a `score` statement, which reads natural units.
Value scoreScale(KernelBuilder &kb, Operation *op, OpFoldResult headDim);

/// The spec's score and mask statements on one (already scaled) score `s` of query
/// `i` and key `j` (i64 indices, as `batch` and `head`): the score statement's value
/// back in the log2 domain; under `masked`, -inf where `keyBound` (when given: it
/// builds the i1 "key j exists") and the mask (when the spec has one) do not both hold.
Value scoreElement(KernelBuilder &kb, Operation *op, Value batch, Value head, Value i,
                   Value j, Value s, bool masked,
                   function_ref<Value()> keyBound = nullptr);

/// The running max of a row after a tile whose max is `tileMax`.
struct RunningMax {
  Value max;     // m' = max(m, tile max)
  Value anyKept; // m' != -inf: the row has kept a key (or seen a NaN)
  Value alpha;   // exp2(m - m'), the rescale of what the row has summed so far
};
RunningMax updateRunningMax(ImplicitLocOpBuilder &b, Value max, Value tileMax,
                            UnaryMathFn exp2);

/// The probability of score `s` under the row's new max: exp2(s - m'), 0 while the
/// row keeps nothing.
Value softmaxProbability(ImplicitLocOpBuilder &b, const RunningMax &update, Value s,
                         UnaryMathFn exp2);

/// l * alpha + the tile's sum of probabilities.
Value updateRunningSum(ImplicitLocOpBuilder &b, Value sum, Value alpha, Value tileSum);

/// The sink logit of (batch, head) in the log2 domain (i64 indices).
Value sinkLogit(KernelBuilder &kb, SinkOp sink, Value batch, Value head);

/// One row's term of the gradient of a sink logit: P_sink,i D_i, where P_sink,i =
/// exp2(sink - lse_i log2 e) is the probability the row gave the sink (`sinkLog2` and
/// `lseLog2` in the log2 domain; 0 on a row that kept nothing, lse = -inf) and D_i the
/// row's delta (outputDelta). d loss / d sink = -(the sum of the rows' terms).
Value sinkGradTerm(ImplicitLocOpBuilder &b, Value sinkLog2, Value lseLog2, Value delta,
                   UnaryMathFn exp2);

/// The end of a row: o = acc * factor, and what its lse needs.
struct RowResult {
  Value factor; // alpha / l, or 0 for a row that kept nothing
  Value empty;  // l == 0: the row kept nothing
  Value max, sum;
};

/// Finishes a row of running max `max` and sum `sum`: the sink logit `sink` (log2
/// domain; null for none) joins the denominator with no value row.
RowResult finishRow(ImplicitLocOpBuilder &b, Value max, Value sum, Value sink,
                    UnaryMathFn exp2);

/// The row's lse = (m + log2 l) ln 2, -inf for a row that kept nothing.
Value rowLogSumExp(ImplicitLocOpBuilder &b, const RowResult &row, UnaryMathFn log2);

/// The RoPE angle of pair p (index) at position `pos` (index):
/// pos * theta^(-2p/D) = pos * exp2(-(2p/D) log2 theta), `headDim` D a literal or a
/// run-time index. It is ropeAngleAt(pos, ropeFrequency(p)): a program that rotates
/// many rows may compute the frequencies once.
Value ropeAngle(KernelBuilder &kb, Value pos, Value p, OpFoldResult headDim, Value theta);
/// Pair p's frequency theta^(-2p/D) (f32).
Value ropeFrequency(KernelBuilder &kb, Value p, OpFoldResult headDim, Value theta);
/// The angle at `pos` (index) of a pair of frequency `frequency`.
Value ropeAngleAt(KernelBuilder &kb, Value pos, Value frequency);

/// The half-split rotation of the pair (a, c) by `angle`: (a cos - c sin, c cos + a sin).
std::pair<Value, Value> rotatePair(ImplicitLocOpBuilder &b, Value a, Value c, Value angle);

/// Pair p's term of the loss's gradient with respect to rope's theta through one
/// rotated row (q at i, or k at j), from the pair's angle a there, the rotated pair
/// (y1, y2) = (y[p], y[p + D/2]) and the loss's gradient (dy1, dy2) with respect to
/// it: y's derivative by a is (-y2, y1), and a = pos theta^(-2p/D) has d a / d theta =
/// slope a, slope = -(2p/D) / theta (ropeThetaSlope, f64), so the term is
/// (dy2 y1 - dy1 y2) slope a, in f64.
Value ropeThetaSlope(KernelBuilder &kb, Value p, OpFoldResult headDim, Value theta);
Value ropeThetaTerm(ImplicitLocOpBuilder &b, Value angle, Value slope, Value y1, Value y2,
                    Value dy1, Value dy2);

/// The probability and the gradients of one pair (i, j) of the backward.
struct PairGradient {
  Value probability; // P_ij
  Value scaled;      // s = scale q.k, natural units
  Value scoreGrad;   // the loss's gradient with respect to the score, P (dP - D)
  Value scaledGrad;  // ... with respect to s (through the score statement)
  Value dotGrad;     // ... with respect to q.k
  Value scaleTerm;   // ... with respect to the scale: this pair's term, s's times q.k
};

/// The pair (i, j) of query head `head` of a tmix.attention_grad `op` (batch, head, i,
/// j: i64) from `qk` = q_i . k_j (the rotated rows'), `dp` = d_o_i . v_j, the row's lse
/// in the log2 domain and D_i (`delta`, d_lse already taken off). `scale` is the
/// natural scale, `softmaxScale` the forward's (scoreScale); `masked` runs the mask and
/// `keyBound` as scoreElement does.
PairGradient pairGradient(KernelBuilder &kb, Operation *op, Value scale,
                          Value softmaxScale, Value batch, Value head, Value i, Value j,
                          Value qk, Value dp, Value lseLog2, Value delta, bool masked,
                          UnaryMathFn exp2, function_ref<Value()> keyBound = nullptr);

} // namespace mlir::tmix

#endif // TMIX_PASSES_ATTENTIONMATH_H
