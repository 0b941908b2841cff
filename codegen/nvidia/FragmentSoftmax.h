//===- FragmentSoftmax.h - Online softmax on accumulator fragments -*- C++ -*-===//
//
// The softmax half of the GPU attention kernels, shared by the sm_80 (mma.sync) and
// sm_90a (wgmma) lowerings so that the two cannot drift apart on semantics: both keep
// S and O in 16-row accumulator fragments where a thread (lane 4 g + t) holds rows g and
// g + 8 and, per 8 columns, the two columns 2t and 2t + 1 (vector<2x2xf32>, [r][c]).
// Per KV tile: scale (log2 e folded in unless a score statement needs natural units),
// score, mask and `j < M` (partial tiles only), the running max over the 4 lanes of a
// row, alpha = exp2(m - m_new), P = exp2(S - m_new), per-lane partial row sums; at the
// end the sink, o = O / l (0 for a row that kept nothing) and lse = (m + log2 l) ln 2
// (-inf for such a row): the formulas of passes/AttentionMath.h, which the CPU's
// LowerAttentionToLoops.cpp uses too. What is here is the fragment layout.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_FRAGMENTSOFTMAX_H
#define TMIX_CODEGEN_NVIDIA_FRAGMENTSOFTMAX_H

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionMath.h"
#include "passes/KernelBuilder.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/StringMap.h"

#include <memory>

namespace mlir::tmix {

/// One thread's two rows of a 16-row fragment, and the spec's statements (passed by
/// value: op handles are values).
struct FragmentRows {
  Value batch, head;  // index
  Value rowPos[2];    // query positions of rows g and g + 8 (index)
  Value rowValid[2];  // rowPos < N (i1)
  Value groupCol2;    // 2t (index)
  Value numM;         // keys (index)
  Value scaleLog2;    // the score scale, log2 e folded in unless `score` is set
  AttentionOp spec;  // its score and mask statements
  SinkOp sink;
};

/// The softmax of one KV tile for a thread's two rows.
struct SoftmaxTile {
  Value m[2], l[2]; // the updated running max and partial sum
  Value alpha[2];   // the rescale of the accumulator rows
  /// P rounded to `element`, per 8 keys nt and row half r at [2 nt + r]: vector<2 x T>
  /// (columns 2t, 2t + 1).
  SmallVector<Value> p;
};

/// The softmax of S (one vector<2x2xf32> per 8 keys from `tile`) given the running
/// (m, l); `masked` applies the bounds and the mask.
SoftmaxTile softmaxTile(KernelBuilder &kb, FragmentRows rows, ArrayRef<Value> s,
                        Value tile, ArrayRef<Value> m, ArrayRef<Value> l, bool masked,
                        Type element);

/// acc * alpha, row by row (tile [r][c] scaled by alpha[r]).
SmallVector<Value> rescaleRows(KernelBuilder &kb, ArrayRef<Value> acc, const Value alpha[2]);

/// The epilogue: the sink joins the denominator, o = O / l for the first `valueDim`
/// columns of `acc`, lse (when `lse` is set), rows past N skipped.
void storeRows(KernelBuilder &kb, FragmentRows rows, ArrayRef<Value> m,
               ArrayRef<Value> lPartial, ArrayRef<Value> acc, int64_t valueDim, Value o,
               Value lse);

/// What the sm_80 and sm_90a attention kernels share around their fragments: the spec
/// and its statements, the schedule, the program's coordinates and outputs, and one
/// thread's two rows; and the epilogue that stores those rows. Each kernel derives
/// from it and fills these in as it builds its body.
class FragmentAttentionKernel {
protected:
  FragmentAttentionKernel(AttentionOp op, AttentionScheduleAttr schedule,
                          gpu::GPUModuleOp gpuModule, const llvm::StringMap<int64_t> &fixed)
      : op(op), gpuModule(gpuModule), fixed(fixed), schedule(schedule) {}

  /// Reads the program's coordinates, lengths and outputs into the members below
  /// (readAttentionProgram); returns the whole, for the kernel's own operands.
  AttentionProgram readProgram();
  /// This thread's rows and the statements, for the fragment softmax.
  FragmentRows fragmentRows() const;
  /// Stores this thread's rows of o (and lse) from the final state (m[2], l[2], the
  /// accumulator fragments).
  void epilogue(ValueRange state);

  AttentionOp op;
  gpu::GPUModuleOp gpuModule;
  const llvm::StringMap<int64_t> &fixed;
  /// The symbols of `fixed` that this spec uses as head dims.
  SmallVector<NamedAttribute> specialized;
  std::unique_ptr<KernelBuilder> kb;
  MaskOp maskOp;
  ScoreOp scoreOp;
  SinkOp sinkOp;
  ScaleOp scaleOp;
  /// The schedule, checked by the target's TargetInfo.
  AttentionScheduleAttr schedule;
  int64_t headDim = 0, valueDim = 0;

  Value bIdx, hIdx, hkIdx, numN, numM, rowBegin, rowEnd;
  Value o, lse;
  Value scaleLog2, theta;
  Value groupCol2;   // 2t
  Value rowPos[2];   // the query positions of rows g and g + 8
  Value rowValid[2]; // whether they are < N
};

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_FRAGMENTSOFTMAX_H
