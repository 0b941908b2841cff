//===- StepElements.h - A recurrence step's values, element by element -*- C++ -*-===//
//
// The GPU recurrence kernel evaluates the values its chunks need (gates, keys, values,
// queries, the per-step outputs around a readout) one element at a time where it uses
// them, instead of materialising the step's vectors as StepLowering does: a slice is a
// load from its argument, a map or a scalar op of the step is cloned with its operands
// evaluated first, and a sum or dot of vectors is a loop of such evaluations. Only
// slices, maps of rank <= 1, scalar ops and reductions of vectors that read no state
// can be evaluated so; `firstNonElementwise` names the first other op a value needs.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_STEPELEMENTS_H
#define TMIX_CODEGEN_NVIDIA_STEPELEMENTS_H

#include "dialect/TmixOps.h"
#include "passes/ChunkForm.h"
#include "passes/KernelBuilder.h"
#include "passes/StepLowering.h"

#include <functional>

namespace mlir::tmix {

class StepElements {
public:
  /// For the step region of `op` in the program `kb` builds, whose grid dimensions
  /// 0 .. n-1 are the recurrence's parallel dims.
  StepElements(RecurrenceOp op, KernelBuilder &kb);
  /// For the step region of `op` in the program `kb` builds for `host`, whose first
  /// arguments are op's (a forward in its adjoint's program): op's scalar arguments
  /// are host's.
  StepElements(RecurrenceOp op, KernelBuilder &kb, RecurrenceOp host);

  /// The number of steps of the program's point (T, or its packed sequence's).
  Value numSteps() const { return point.numSteps; }
  /// Binds the step index (an index value, counted from the point's first step) for
  /// the evaluations that follow.
  void setStep(Value time) { stepTime = time; }
  Value step() const { return stepTime; }
  /// Binds a step value (a readout, a dot, a vector state before or after the step) to
  /// the scalar `element`: its element at the index being evaluated.
  void bind(Value value, Value element) {
    elementBindings.erase(value);
    bindings.map(value, element);
  }
  /// Binds a step value to the function that gives its element at any indices (a
  /// vector read inside a reduction is read at the reduction's index, not the one being
  /// evaluated). Replaces an earlier binding of `value`.
  using ElementFn = std::function<Value(ValueRange indices)>;
  void bindElements(Value value, ElementFn element) {
    bindings.erase(value);
    elementBindings[value] = std::move(element);
  }

  /// The element of step value `value` at `indices` (none for a scalar), as f32 (i64
  /// for the step index).
  Value at(Value value, ValueRange indices);
  /// The product of `factors` at row `k` (exp(x) for the exp factors) times `init`.
  Value factorProduct(ArrayRef<ChunkFactor> factors, Value k, Value init);
  /// Indices into an argument or output whose dims are (some) parallel dims, then the
  /// time dim when `time` is given, then `inner` (the layout the verifier guarantees).
  SmallVector<Value> outerIndices(ArrayRef<Attribute> dims, Value time, ValueRange inner);

  /// The first op of `body` that `roots` need (not looking through the ops for which
  /// `isLeaf` holds: values bound when evaluated) that `at` cannot evaluate, or null.
  static Operation *firstNonElementwise(Block &body, ArrayRef<Value> roots,
                                        function_ref<bool(Operation *)> isLeaf);

private:
  KernelBuilder &kb;
  ParallelPoint point;
  StringAttr timeSymbol;
  IRMapping scalarArgs, bindings;
  llvm::DenseMap<Value, ElementFn> elementBindings;
  Value stepTime;
};

/// Scans a vector state over a chunk of the recurrence kernels, a thread per element
/// (the CTA's `threads` threads from `tid`): row `chunk` of `history` ([chunk + 1,
/// size]) holds the state before the chunk; row i gets it before step start + i, row
/// i + 1 after it (past `length` it stays). `arg` is the state's step argument and
/// `next` what the step yields for it, evaluated by `elements`. Each thread reads and
/// writes only its own elements.
void scanChunkVectorState(KernelBuilder &kb, StepElements &elements, Value arg,
                          Value next, int64_t size, int64_t chunk, Value tid,
                          int64_t threads, Value start, Value length, Value history);

/// Stages a chunk's cumulative gate logs and signs for the recurrence kernels (the
/// forward's and its adjoint's), a thread per gate column (the CTA's `threads` threads
/// from `tid`): LG[i, g] = sum_{j <= i} max(log |G_j[g]|, floor) and SG[i, g] = prod
/// sign(G_j[g]) for the `chunk` rows from step `start`, `elements` evaluating `form`'s
/// gate factors (rows past `length` add log 1, so the last row's Γ carries on), summed
/// in f64 and stored as f32 into `logGate` [chunk, gateColumns] and, when given,
/// `signs`: the MMA operands are 16-bit, so the CPU path's hi + lo pair would buy no
/// accuracy here.
void stageChunkGateLogs(KernelBuilder &kb, StepElements &elements, const ChunkForm &form,
                        int64_t gateColumns, int64_t chunk, Value tid, int64_t threads,
                        Value start, Value length, Value logGate, Value signs);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_STEPELEMENTS_H
