//===- StepLowering.h - The ops of a recurrence step as loops ---*- C++ -*-===//
//
// The vocabulary of both recurrence lowerings (step by step and chunked): f32 buffers
// for the states and for every vector or matrix value of the step region (allocated
// once per program: shapes do not change from step to step), and each op of the step
// as loops over those buffers, for one step t. The chunked lowering runs a subset of
// the step's ops per step and replaces the rest by chunk-level loops.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_STEPLOWERING_H
#define TMIX_PASSES_STEPLOWERING_H

#include "dialect/TmixOps.h"
#include "passes/KernelBuilder.h"

#include "llvm/ADT/DenseSet.h"

namespace mlir::tmix {

/// The parallel point a recurrence program runs: its index along each parallel dim
/// (the program's grid coordinates), and along each group symbol read in place of one
/// (`groups {G = "H"}`: point h of H reads index h / (H / G) of G); and the steps it
/// runs: all T, or with packed sequences (`offsets`) those of its sequence s, the
/// first parallel dim: offsets[s] .. offsets[s + 1].
struct ParallelPoint {
  /// The point of the program `kb` builds for `op`; its grid dimensions 0 .. n-1 are
  /// the recurrence's parallel dims.
  static ParallelPoint of(RecurrenceOp op, KernelBuilder &kb);

  SmallVector<Attribute> dims;
  SmallVector<Value> indices;
  DenseMap<Attribute, std::pair<Attribute, Value>> groups; // G -> (P, its index)
  /// The number of steps the point runs (an index value).
  Value numSteps;
  /// Packed sequences: the point's first step in T (step t is read at firstStep + t);
  /// null otherwise.
  Value firstStep;
};

/// Indices into a recurrence argument or output with dims `dims`: the parallel dims it
/// has (a subset of the point's, in order, a group symbol standing for its dim) at the
/// point's indices, then the time dim at step `time` of the point when `time` is given,
/// then the per-step dims at `inner`. The verifier guarantees that layout.
SmallVector<Value> recurrenceIndices(ImplicitLocOpBuilder &b, ArrayRef<Attribute> dims,
                                     const ParallelPoint &point, StringAttr timeSymbol,
                                     Value time, ValueRange inner);

class StepLowering {
public:
  /// Emits the program function of `op` (one program per parallel point), with the
  /// state buffers initialised and a buffer for every value of the step. With
  /// `fuseElementwise`, a map or outer product read element by element by one op only
  /// (a same-shaped map, a sum, dot, matvec or vecmat) gets no buffer: its elements are
  /// computed where they are read (a step-by-step program only: the chunked lowering
  /// reads the step's buffers).
  explicit StepLowering(RecurrenceOp op, bool fuseElementwise = false);
  /// The steps of `forward` inside the program of `adjoint`, the recurrence whose
  /// arguments begin with forward's (`forward "X"`): the same point, forward's own
  /// buffers (fused as the adjoint's). They are allocated but not guarded: the caller
  /// allocates what else it needs, calls the kernel's guardScratch(), then initStates().
  StepLowering(RecurrenceOp forward, StepLowering &adjoint);
  ~StepLowering();

  KernelBuilder &kernel() { return *kb; }
  ImplicitLocOpBuilder &builder() { return kb->builder(); }
  RecurrenceOp recurrence() { return op; }
  Block &stepBody() { return op.getStepOp().getBody().front(); }
  YieldOp stepYield() { return cast<YieldOp>(stepBody().getTerminator()); }
  /// The number of steps this program runs: T, or its sequence's length with packed
  /// sequences (`offsets`).
  Value numSteps() { return point.numSteps; }

  /// Binds `t` (counted from the program's first step) and the scalar states for the
  /// step at `t`.
  void beginStep(Value t);
  /// Lowers the ops of the step (not the yield) for which `include` holds, in order.
  void lowerOps(function_ref<bool(Operation *)> include);
  /// Stores the per-step outputs of the current step.
  void storeOutputs();
  /// Writes back the new value of every state for which `include` holds.
  void writeBackStates(function_ref<bool(unsigned)> include);
  /// The whole step at `t`: every op, the outputs, then every state.
  void lowerStep(Value t);
  /// Copies the final states out and frees the buffers; the end of the program.
  void finish();
  /// Sets the states to their initial values (their argument, or 0).
  void initStates();
  /// Frees the buffers of a StepLowering built inside another's program.
  void release();

  /// The ops of the step the new states depend on (not those only the outputs need).
  llvm::DenseSet<Operation *> opsOfStates();
  /// An adjoint: tmix.forward_state "S" reads `buffer` (S's dims; rank 0 for a scalar).
  void bindForwardState(StringAttr state, Value buffer) { forwardStates[state] = buffer; }
  unsigned numStates() const { return states.size(); }
  ArrayRef<Attribute> stateDimsOf(unsigned index) const { return stateDims[index]; }
  StringAttr stateName(unsigned index) { return states[index].getSymNameAttr(); }

  /// The f32 buffer of a vector or matrix value of the step, or of a state.
  Value bufferOf(Value value) { return buffers.lookup(value); }
  /// Sets the scalar `value` of the step to `scalar` for the current step, in place of
  /// its op (a target that computes it otherwise).
  void bindScalar(Value value, Value scalar) { scalars.map(value, scalar); }
  Value stateBuffer(unsigned index) { return stateBuffers[index]; }
  /// The scalar of `value` (scalar values), or its element at `indices` (a [K] vector
  /// read with the indices of a [K, V] matrix uses the row index).
  Value element(Value value, ArrayRef<Attribute> resultDims, ValueRange indices);
  /// An f32 buffer with the given dims (rank 0 for a scalar).
  Value allocate(ArrayRef<Attribute> dims);
  /// Loop nest over `dims`; `body` gets the indices.
  void forEach(ArrayRef<Attribute> dims, function_ref<void(ValueRange)> body);

private:
  /// Indices into an argument or output whose dims are (some) parallel dims, then the
  /// time dim when `time` is given, then per-step dims indexed by `inner`.
  SmallVector<Value> outerIndices(ArrayRef<Attribute> dims, Value time, ValueRange inner);
  void lowerOp(Operation &stepOp);
  void lowerSlice(SliceOp slice);
  void lowerMap(MapOp map);

  void allocateBuffers();
  /// The element at `indices` of a fused value (fuseElementwise), computed from its
  /// operands.
  Value fusedElement(Value value, ValueRange indices);

  RecurrenceOp op;
  std::unique_ptr<KernelBuilder> ownedKernel;
  KernelBuilder *kb;
  ParallelPoint point;
  StringAttr timeSymbol;
  Value time;                     // the current step, counted from the point's first
  DenseMap<Value, Value> buffers; // vector/matrix values -> their buffers
  IRMapping scalars;              // scalar values of the step
  SmallVector<StateOp> states;
  SmallVector<Value> stateBuffers;
  SmallVector<SmallVector<Attribute>> stateDims;
  DenseMap<StringAttr, Value> forwardStates; // an adjoint's tmix.forward_state sources
  bool fuseElementwise = false;
  llvm::DenseSet<Value> fused; // values computed where they are read
};

} // namespace mlir::tmix

#endif // TMIX_PASSES_STEPLOWERING_H
