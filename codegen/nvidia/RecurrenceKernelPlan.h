//===- RecurrenceKernelPlan.h - What the GPU recurrence kernel runs -*- C++ -*-===//
//
// The analysis behind tmix-lower-recurrence-to-nvgpu, apart from the pass: the matrix
// state the kernel chunks (its chunk form, its readouts of one query), the vector
// states it runs step by step beside it and the dot products the outputs read, the
// dims fixed at compile time, the block of value columns per CTA, the MMA element type
// and the shared-memory layout. A spec the kernel cannot run gets one error at the op.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_RECURRENCEKERNELPLAN_H
#define TMIX_CODEGEN_NVIDIA_RECURRENCEKERNELPLAN_H

#include "dialect/TmixOps.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "passes/ChunkForm.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::tmix {

namespace recurrence_kernel {
constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = kWarps * kWarpSize;
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
/// Steps per chunk: one 16-row m-tile per warp (what the TargetInfo allows).
constexpr int64_t kChunk = kWarps * kMmaM;
static_assert(kChunk == kChunkSteps && kWarps == kChunkWarps,
              "the kernel is the one NvidiaTargetInfo.h describes");
/// Sub-chunks of the row-gate scores: one per warp, of one m-tile.
static_assert(kSubChunk == kMmaM, "the row-gate scores take one sub-chunk per warp");
/// State rows: K / 4 per warp, a multiple of the m-tile.
constexpr int64_t kStateRowMultiple = kWarps * kMmaM;
constexpr int64_t kMaxStateRows = 256;
/// f32 state accumulator fragments per thread: Vb = kStateFragments * 8 * 64 / K.
constexpr int64_t kStateFragments = 8;
/// Elements of padding per row of an ldmatrix tile (16 bytes: conflict-free rows).
constexpr int64_t kPad = 8;
/// The most dynamic shared memory an sm_80 CTA may opt in to (A100: 163 KiB).
constexpr int64_t kMaxSharedBytesSm80 = sm80::kMaxSharedBytes;
} // namespace recurrence_kernel

struct RecurrenceKernelPlan {
  /// A vector state run step by step beside the matrix state.
  struct VectorState {
    unsigned index;
    BlockArgument arg; // before the step
    Value next;        // after it
    int64_t size;
  };

  unsigned matrixIndex = 0;
  ChunkForm form;
  SpecTensorType stateType;
  /// The first readout; every readout reads the same query.
  VecMatOp readoutOp;
  SmallVector<VectorState> vectorStates;
  /// The dot products the outputs read, computed per step before the outputs.
  SmallVector<DotOp> dots;
  int64_t keyDim = 0, valueDim = 0, valueBlock = 0;
  /// K for a row gate, 1 for a scalar gate.
  int64_t gateColumns = 1;
  /// The size symbols fixed at compile time that the kernel relies on.
  SmallVector<NamedAttribute> specialized;
  /// bf16, or f16 for f16 specs.
  Type mmaType;
  /// Shared memory, in the order of the kernel's views: the ldmatrix tiles (v, the
  /// state copy), q and k (`rows`), the outputs, the log gates (and signs), the vector
  /// states' histories ([C + 1, size]), the dots ([dots, C]); for a delta rule b, the
  /// system and the pseudo-values (`outputs`' type).
  MemRefType valuesType, stateTileType, rowsType, outputsType, logGateType;
  MemRefType strengthsType, gramType, dotRowsType;
  SmallVector<MemRefType> historyTypes;
  int64_t sharedBytes = 0;

  bool isReadout(Operation *op) const {
    return llvm::is_contained(form.readouts, dyn_cast<VecMatOp>(op));
  }
  /// The rank-one term's (or the delta rule's) key and value.
  Value updateKey() const { return form.delta ? form.delta->key : form.terms[0].key; }
  Value updateValue() const {
    return form.delta ? form.delta->value : form.terms[0].value;
  }
};

/// The plan of `op`'s kernel, `fixed` giving the size symbols fixed at compile time;
/// failure (after an error at the op) when the kernel cannot run it.
FailureOr<RecurrenceKernelPlan>
planRecurrenceKernel(RecurrenceOp op, const llvm::StringMap<int64_t> &fixed);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_RECURRENCEKERNELPLAN_H
