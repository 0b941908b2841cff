//===- ChunkedLowering.h - Decaying recurrences, chunk by chunk -*- C++ -*-===//
//
// The chunk-parallel form of the states that have a chunk form (ChunkForm.h): the
// steps run in chunks of C; within a chunk the readouts are an intra-chunk quadratic
// part plus the chunk's start state, and the state moves to the chunk's end in one
// update. Everything else of the step (other states, the outputs around the
// readouts) still runs step by step inside the chunk. The chunk work itself
// (ChunkedSteps: staging, readouts, the update) also serves the chunked adjoint
// (ChunkedAdjoint.h), which reruns the forward a chunk at a time.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H
#define TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H

#include "passes/RecurrenceProgramForm.h"
#include "passes/StepLowering.h"

namespace mlir::tmix {

/// Emits steps 0 .. T-1 of `steps`' recurrence in chunks of `chunkSize` at the
/// builder's insertion point: the chunk loop of `program` (matched by
/// RecurrenceProgramForm.h), one step of the chunk's work per op, the states of its
/// chunk forms in chunk-parallel form.
void lowerChunked(StepLowering &steps, const RecurrenceProgramForm &program,
                  int64_t chunkSize);

/// The chunk buffers of one state: one row per step of the chunk.
struct StateChunk {
  const ChunkForm *form;
  Value kSize, vSize, gateSize; // gateSize: K for a row gate, 1 for a scalar gate
  // [C, gateSize]: the cumulative log of Γ as hi + lo (a float-float pair, so that the
  // difference of two large cumulative logs keeps its low bits), and the sign of Γ.
  Value logGate, logGateLow, sign;
  SmallVector<Value> keys, values; // per term: [C, K], [C, V]
  // Per term: [K, C], the keys transposed (scalar gate), or [C, K], the keys decayed
  // to the row before the current sub-chunk (row gate).
  SmallVector<Value> keysByColumn;
  Value decayedKeys; // [C, K]: one term's keys decayed to the chunk's end
  Value scores;      // [1, C]: the intra-chunk scores of one row
  SmallVector<Value> queries, outputs; // per readout: [C, K], [C, V]
  Value weights;                       // [max(C, K)]: the weights of one row sum
  Value strengths;                     // delta rule: [C], b_i
};

/// The chunk-level work of the chunk forms of a step lowering, for the forward
/// (lowerChunked) and for an adjoint that reruns the forward a chunk at a time
/// (ChunkedAdjoint.h).
class ChunkedSteps {
public:
  ChunkedSteps(StepLowering &steps, ArrayRef<ChunkForm> forms, int64_t chunkSize);

  /// The chunk buffers; the caller then guards the scratch (KernelBuilder).
  void allocate();
  /// Runs the ops the chunk forms read for steps start .. start + length - 1 and
  /// stages their rows (keys, values, queries, cumulative gate logs); without
  /// `readouts`, only what the state update reads (not the queries).
  void stageChunk(Value start, Value length, bool readouts = true);
  /// outputs[index] of `chunk`: its readout's rows from the staged chunk and the
  /// state's buffer (the chunk's start state).
  void readout(StateChunk &chunk, unsigned index, Value length);
  /// Moves the state's buffer to the chunk's end.
  void update(StateChunk &chunk, Value length);
  void solveDelta(StateChunk &chunk, Value length);

  MutableArrayRef<StateChunk> chunks() { return stateChunks; }
  /// The step ops the chunk forms read (staged), and those the rest of the step needs.
  const DenseSet<Operation *> &stagedOps() const { return staged; }
  const DenseSet<Operation *> &stepOps() const { return rest; }
  const DenseSet<unsigned> &chunkedStates() const { return chunked; }

  /// log Γ_row at gate index g.
  Value logOf(const StateChunk &chunk, Value row, Value g);
  /// log(Γ_to / Γ_from) at gate index g (exact for nearby rows after large decays).
  Value logRatio(const StateChunk &chunk, Value to, Value from, Value g);
  /// The log-gate row index of column k: k for a row gate, 0 for a scalar one.
  Value gateIndex(const StateChunk &chunk, Value k);
  /// The element of an independent factor of the current step, vector or scalar, at
  /// row k: its exp when the factor is exp(x) (not inverted).
  Value factorValue(const ChunkFactor &factor, Value k);

private:
  void collectOps();
  void stage(StateChunk &chunk, Value row, bool readouts);
  void stageDelta(StateChunk &chunk, Value row);
  void rowGateScores(StateChunk &chunk, unsigned term, Value queries, Value i);
  // Arithmetic with the flags that let LLVM vectorise and contract.
  Value add(Value x, Value y);
  Value sub(Value x, Value y);
  Value mul(Value x, Value y);
  Value exp(Value x);
  Value load(Value buffer, ValueRange indices);
  void store(Value value, Value buffer, ValueRange indices);
  void forRange(Value ub, function_ref<void(Value)> body);
  Value sumRange(Value ub, function_ref<Value(Value)> term);

  StepLowering &steps;
  KernelBuilder &kb;
  ImplicitLocOpBuilder &b;
  ArrayRef<ChunkForm> forms;
  int64_t chunkSize;
  SmallVector<StateChunk, 1> stateChunks;
  DenseSet<Operation *> staged, stateStaged, rest;
  DenseSet<unsigned> chunked;
};

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H
