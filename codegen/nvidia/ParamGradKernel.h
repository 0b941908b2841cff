//===- ParamGradKernel.h - Part "params" of the backward on GPUs -*- C++ -*-===//
//
// The GPU kernels of a derived attention backward's part "params" (DeriveAttentionGrad):
// which kernel runs a part (gpuParamsKernel); the gradients of the float arguments that
// the spec's sink reads alone (gpt-oss's learned sink logits), here; those of pair
// biases (one element per pair) and of params summed per program (ProgramSums: per-head
// slopes, scalars, relative-position tables, T5's buckets), in part "query"'s walk
// (LowerAttentionGradToNVGPU.cpp); rope's theta's from the rows' terms that parts
// "query" and "key_value" store (rope_rows), here. Elements with two or more indices
// that depend on i or j (a pooled pair bias) are not summed yet, nor a sink's or a
// scale's params beside pair biases: such a part is refused.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
#define TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H

#include "dialect/TmixOps.h"
#include "passes/AttentionMath.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <string>

namespace mlir::tmix {

/// Threads per CTA of the part "params" kernels (4 warps).
constexpr int64_t kParamsThreads = 128;
/// CTAs per program of a ProgramSums kernel without PairAffine terms: each walks one
/// of as many contiguous pieces of the program's (b, h, tile of rows), and the last
/// to finish sums the pieces in order (a scalar's gradient fills 64 SMs, not one).
constexpr int64_t kParamsRowSplits = 64;

/// How the GPUs run a part "params".
enum class ParamsKernelKind {
  /// What the sink and rope read alone: sums over the rows, per (b, h) for the sink,
  /// of rope_rows' terms for rope's theta (lowerRowSumsKernel).
  RowSums,
  /// Pair biases (pairOwnedParams), and rope's theta beside them summed by the grid's
  /// first CTA after its walk: part "query"'s walk, each pair's terms added
  /// to its own element (LowerAttentionGradToNVGPU.cpp).
  PairOwned,
  /// Params read in score at elements of TermClass Program or PairAffine (a per-head
  /// slope, a learnable cap, a relative-position table), those the scale reads and
  /// those the sink reads: each program of paramsGrid walks the pairs of its (b, h)
  /// as part "query" does, summing each element's terms in one order; on one CTA, or
  /// without PairAffine terms on kParamsRowSplits CTAs whose sums meet in the launch's
  /// workspace (LowerAttentionGradToNVGPU.cpp); rope's theta beside them after the
  /// walk (addRopeRowsGradient), on one CTA.
  ProgramSums,
};

/// How the GPUs add a score's terms to one tmix.accumulate's elements (ProgramSums).
enum class TermClass {
  /// Its element depends on b and h alone: a sum per thread, then the CTA's.
  Program,
  /// One index is a i + b j + c (constants a and b; c free of the pair), with b = +-1
  /// (one pair per row for each element: a relative-position table, a per-key bias)
  /// or a = +-1 and b = 0 (one per key: a per-query bias), the others depend on b and
  /// h alone: each tile's terms in shared memory, then each element's, in row (key)
  /// order, by the thread that owns it.
  PairAffine,
  /// One index is any other function of the pair (T5's buckets, (i - j) / 4, a i + b j
  /// + c with |b| > 1), the others depend on b and h alone: each tile's terms and
  /// elements in shared memory, then, window by window of kGatherWindow elements over
  /// the tile's lowest to highest, each thread's entries summed in order into a row of
  /// its own and the rows summed in thread order by the element's owner.
  Gathered,
  /// Two or more indices that depend on the pair (other than a pair bias's own
  /// element, ParamsKernelKind::PairOwned): not run on the GPUs.
  Other,
};

/// A tmix.accumulate's class, and for PairAffine and Gathered its index that depends
/// on the pair (and for PairAffine the coefficients of i and j in it).
struct AccumulateClass {
  TermClass kind = TermClass::Other;
  unsigned pairDim = 0;
  struct {
    int64_t row = 0, key = 0; // a and b
  } affine;
};

/// The class of `accumulate`, in a tmix.score_param_grad.
AccumulateClass classifyAccumulate(AccumulateOp accumulate);

/// The most PairAffine and Gathered tmix.accumulate ops the ProgramSums kernel runs
/// (a tile of terms in shared memory each), and of those the most Gathered ones (a
/// tile of their elements each, 32 KiB).
constexpr int64_t kMaxPairAffineTerms = 4;
constexpr int64_t kMaxGatheredTerms = 2;
/// The elements a Gathered accumulate's tile sums at once (its threads' rows).
constexpr int64_t kGatherWindow = 32;

/// The kernel that runs part "params" `part` on the GPUs, or failure with why none
/// does in `why`.
FailureOr<ParamsKernelKind> gpuParamsKernel(AttentionGradOp part, std::string &why);

/// Why the GPUs cannot run part "params" `part` (gpuParamsKernel), or "" when they can.
std::string gpuParamsPartLimit(AttentionGradOp part);

/// When every param of part "params" `part` but rope's is read in score, at exactly b,
/// h, i and j of dims [B, H, N, M] (q's batch, head and length, k's length) in some
/// order, so that each pair's terms go to an element of its own: per param (in `params`
/// order), the score's block argument (0..3: b, h, i, j) that indexes each of its dims
/// (none for what rope reads).
FailureOr<SmallVector<SmallVector<unsigned>>> pairOwnedParams(AttentionGradOp part);

/// `combine` of each thread's `value` over the CTA's kParamsThreads threads, in a
/// fixed tree in `buffer` (workgroup memory of kParamsThreads elements of its type):
/// the same bits run after run. Every thread gets it; every thread must call it (it
/// has barriers).
Value reduceOverCta(KernelBuilder &kb, Value buffer, Value tid, Value value,
                    function_ref<Value(Value, Value)> combine);
/// reduceOverCta's sum of an f32 or f64 `value`.
Value sumOverCta(KernelBuilder &kb, Value sums, Value tid, Value value);

/// Thread `tid`'s share of the gradient of the sink logit of (batch, head) (index):
/// the terms P_sink,i D_i of rows tid, tid + kParamsThreads, ... in row order
/// (sinkGradTerm; d loss / d sink is minus their sum over the CTA).
Value sinkRowsTerm(KernelBuilder &kb, const AttentionGradOperands &operands, SinkOp sink,
                   Value batch, Value head, Value numDV, Value tid);

/// Runs `body` on thread 0 of the CTA alone.
void onCtaLeader(KernelBuilder &kb, Value tid, function_ref<void()> body);

/// Where a GPU kernel of part "params" `part` adds the terms of argument `argument`'s
/// gradient: its result, at the param's indices (a tensor) or at 0 (a scalar's [1]).
ParamGradTarget paramsPartTarget(KernelBuilder &kb, AttentionGradOp part,
                                 unsigned argument);

/// Zeroes, on thread 0, the elements of every param's gradient that `program` owns
/// (ParamsProgram::forEachOwned), before the CTA adds to them; thread `tid`.
void zeroOwnedSlices(KernelBuilder &kb, AttentionGradOp part,
                     const ParamsProgram &program, Value tid);

/// Adds to what `rope` (part "params" `part`'s tmix.rope_grad, with rope_rows) reads the
/// sum of its d_rope_k's and d_rope_q's rows, in f64: thread `tid` sums rows tid, tid
/// + kParamsThreads, ... of each (b, h) in order, then the CTA's fixed tree in `sums`
/// (workgroup f64 of kParamsThreads), and thread 0 runs the region. Every thread of
/// the CTA calls it, after the slices are zeroed.
void addRopeRowsGradient(KernelBuilder &kb, AttentionGradOp part, RopeGradOp rope,
                         Value sums, Value tid);

/// Lowers part "params" `part` of a sink, a rope or both (ParamsKernelKind::RowSums)
/// to a kernel of `gpuModule`.
LogicalResult lowerRowSumsKernel(AttentionGradOp part, gpu::GPUModuleOp gpuModule);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_PARAMGRADKERNEL_H
