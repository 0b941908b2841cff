//===- ChunkForm.h - A decaying state update, term by term ------*- C++ -*-===//
//
// The chunk-parallel form of a matrix state S: [K, V] whose update class is
// scalar_decay or diagonal_decay (RecurrenceClasses.h) needs the parts of
//
//   S_t = G_t ⊙ S_{t-1} + sum_j c_tj ⊙ outer(k_tj, v_tj),     o_tr = q_tr @ S_t
//
// and for delta / gated_delta (a scalar gate G_t, possibly 1), those of
//
//   S_t = Y + b_t outer(k_t, v_t - k_t @ Y),   Y = G_t S_{t-1}
//
// as values of the step region: the factors of the gate G_t (scalars or [K] row gates;
// exp(x) factors keep x, so that the log of a decay near 0 is exact), the rank-one
// terms with their scale factors, and the readouts q @ S_t. Found by following the
// chain of tmix.map ops from the state's block argument to the value the step yields;
// any other use of the state (a matrix gate, S @ a, an output reading an
// intermediate value, a coupled state) gives no chunk form: the state then runs step
// by step.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_CHUNKFORM_H
#define TMIX_PASSES_CHUNKFORM_H

#include "dialect/TmixOps.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::tmix {

/// One factor of a product: `value` (a scalar, or a [K] vector over the rows), or
/// 1 / value. When `isExp`, the factor is exp(value) and `value` is its log.
struct ChunkFactor {
  Value value;
  bool inverse = false;
  bool isExp = false;
};

/// sign * (product of `factors`) ⊙ outer(key, value).
struct RankOneTerm {
  Value key, value;
  SmallVector<ChunkFactor> factors;
  bool negated = false;
};

/// The delta rule's part of S_t = (I - b_t k_t k_t^T) (G_t S_{t-1}) + b_t k_t v_t^T,
/// b_t the product of `strength`.
struct DeltaTerm {
  Value key, value;
  SmallVector<ChunkFactor> strength;
  /// The k of k_t^T (G_t S_{t-1}): `key`, or another slice of the same argument at
  /// the same step.
  Value projectionKey;
};

struct ChunkForm {
  unsigned stateIndex = 0;
  /// G_t = sign * product of the factors (the empty product: 1).
  SmallVector<ChunkFactor> gate;
  bool negatedGate = false;
  SmallVector<RankOneTerm> terms;
  /// A delta rule (then `terms` is empty and the gate a scalar).
  std::optional<DeltaTerm> delta;
  /// q @ S_t for each readout (its lhs is q).
  SmallVector<VecMatOp> readouts;
  /// The ops of the update chain, replaced by the chunked loops.
  llvm::SetVector<Operation *> chain;

  /// Whether some gate factor is a [K] row gate (else G_t is a scalar per step).
  bool hasRowGate() const;
  /// Whether the gate may be negative, so that the chunked form tracks its sign.
  bool needsSign() const;
};

/// The numerics every target's chunked form shares.
///
/// Per step, a decay's log is clamped from below here: exp(-30) ≈ 1e-13 is below
/// f32 resolution against the new terms, and the bound keeps the cumulative logs of a
/// chunk small enough that their differences stay accurate.
inline constexpr double kLogDecayFloor = -30.0;

/// Rows per sub-chunk of the intra-chunk scores under a row gate: keys of earlier
/// sub-chunks go through one reference row (a row combination), keys of the same
/// sub-chunk take an exp per element.
inline constexpr int64_t kSubChunk = 16;

/// The chunk form of state `stateIndex` of `op`, when it has one; else, in `whyNot`
/// when given, which part of its update breaks the pattern.
std::optional<ChunkForm> getChunkForm(RecurrenceOp op, unsigned stateIndex,
                                      std::string *whyNot = nullptr);

/// Why the states of `op` without a chunk form have none, one clause per state
/// ("state 'S': its update ..."; empty when every state has one).
std::string explainMissingChunkForms(RecurrenceOp op);

/// The chunk forms of the states of `op` whose update class has a chunk-parallel
/// algorithm (RecurrenceClasses.h), in declaration order: what every target's chunked
/// form advances a chunk at a time.
SmallVector<ChunkForm, 1> getChunkForms(RecurrenceOp op);

/// The chunk forms with which the adjoint of `forward` runs chunk by chunk: one for
/// every state, each a decay or a delta rule (a scalar gate, or none) whose gate is a
/// scalar (given by value or in log space) or a row gate of exp factors (log space, as
/// flash-linear-attention's). None otherwise: the adjoint then runs step by step.
///
/// With `vectorStatesBeside`, states that are vectors (linear attention's normaliser)
/// may have none: their adjoint runs step by step beside the chunks (the GPU kernel,
/// codegen/nvidia/LowerRecurrenceGradToNVGPU.cpp); the CPU's chunked adjoint takes
/// only forwards without them.
std::optional<SmallVector<ChunkForm, 1>>
getChunkedAdjointForms(RecurrenceOp forward, bool vectorStatesBeside = false);

/// The values of the step that the chunk forms `forms` read (each once, in order: per
/// form its gate factors, each term's key, value and factors, the delta rule's key,
/// projection key, value and strength factors, each readout's query):
/// what a chunked adjoint computes the gradients of, chunk by chunk, before the rest
/// of the step's adjoint takes them over.
SmallVector<Value> getChunkRoots(ArrayRef<ChunkForm> forms);

/// Adds to `ops` the ops of `block` that `roots` need, transitively (operands of ops
/// nested in their regions included), not looking through the ops in `stop`.
void collectProducers(Block &block, ArrayRef<Value> roots,
                      const llvm::DenseSet<Operation *> &stop,
                      llvm::DenseSet<Operation *> &ops);

/// The readouts of `forms`, in order.
SmallVector<VecMatOp> getChunkReadouts(ArrayRef<ChunkForm> forms);

/// How tmix-derive-recurrence-grad marks the adjoint step of a forward with chunked
/// adjoint forms, for a target that runs it chunk by chunk (the CPU's
/// codegen/cpu/ChunkedAdjoint.cpp); a step-by-step lowering ignores the marks.
///
/// On X's ops recomputed in the adjoint that only the chunk loops replace (the update
/// chains, the readouts, tmix.forward_state): unit.
inline constexpr llvm::StringLiteral kChunkPrimalAttr = "tmix.chunk_primal";
/// On a recomputed readout: its index in getChunkReadouts.
inline constexpr llvm::StringLiteral kChunkReadoutAttr = "tmix.chunk_readout";
/// On the adjoint ops of the update chains and readouts: unit.
inline constexpr llvm::StringLiteral kChunkAdjointAttr = "tmix.chunk_adjoint";
/// On the op whose result is the chains' gradient of some roots (getChunkRoots): their
/// indices (an i64 array).
inline constexpr llvm::StringLiteral kChunkSeedsAttr = "tmix.chunk_seeds";
/// On the op whose result is the gradient of some readouts' results: their indices.
inline constexpr llvm::StringLiteral kChunkReadoutGradsAttr = "tmix.chunk_readout_grads";

} // namespace mlir::tmix

#endif // TMIX_PASSES_CHUNKFORM_H
