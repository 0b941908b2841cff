//===- RecurrenceKernelPlan.cpp - What the GPU recurrence kernel runs -----===//

#include "codegen/nvidia/RecurrenceKernelPlan.h"
#include "codegen/nvidia/GpuKernel.h"
#include "passes/RecurrenceClasses.h"
#include "codegen/nvidia/StepElements.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::tmix;
using namespace mlir::tmix::recurrence_kernel;

namespace {


/// The same value, or slices of one argument at the same step.
bool sameVector(Value lhs, Value rhs) {
  if (lhs == rhs)
    return true;
  auto a = lhs.getDefiningOp<SliceOp>(), b = rhs.getDefiningOp<SliceOp>();
  return a && b && a.getSource() == b.getSource() && a.getTime() == b.getTime() &&
         lhs.getType() == rhs.getType();
}

/// Fills the plan's fields, checking each condition of the kernel in turn.
struct PlanBuilder : RecurrenceKernelPlan {
  PlanBuilder(RecurrenceOp op, const llvm::StringMap<int64_t> &fixed)
      : op(op), fixed(fixed) {}
  LogicalResult build();
  /// Each vector state's update is element-wise and reads no other state.
  LogicalResult analyseVectorStates();
  /// Whether `roots` need `value` (not looking through `isLeaf` ops).
  static bool readsValue(ArrayRef<Value> roots, Value value,
                         function_ref<bool(Operation *)> isLeaf);

  RecurrenceOp op;
  const llvm::StringMap<int64_t> &fixed;
};

} // namespace

LogicalResult PlanBuilder::build() {
  SmallVector<StateOp, 4> states = op.getStateOps();
  Block &body = op.getStepOp().getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  std::optional<unsigned> matrix;
  for (auto [index, state] : llvm::enumerate(states)) {
    auto type = dyn_cast<SpecTensorType>(state.getType());
    if (!type)
      return op.emitOpError("state '")
             << state.getSymName()
             << "' is a scalar: the GPU code generator runs one matrix state chunked "
                "and vector states step by step (the CPU path runs scalar states)";
    if (type.getRank() == 1) {
      vectorStates.push_back(
          {unsigned(index), body.getArgument(1 + index), yield.getValues()[index], 0});
      continue;
    }
    if (matrix)
      return op.emitOpError("the GPU code generator chunks one matrix state, not '")
             << states[*matrix].getSymName() << "' and '" << state.getSymName() << "'";
    matrix = index;
  }
  if (!matrix)
    return op.emitOpError("the GPU code generator needs a matrix state to chunk; state '")
           << states.front().getSymName()
           << "' is a vector (the CPU path runs such recurrences step by step)";
  matrixIndex = *matrix;
  for (RecurrenceKernelPlan::VectorState &vector : vectorStates) {
    auto type = cast<SpecTensorType>(states[vector.index].getType());
    std::optional<int64_t> size = fixedDim(type.getDims()[0], fixed);
    if (!size)
      return op.emitOpError("vector state '")
             << states[vector.index].getSymName()
             << "' needs its size fixed at compile time (a literal, or tmixc --sizes)";
    vector.size = *size;
  }
  if (LogicalResult checked = analyseVectorStates(); failed(checked))
    return checked;
  RecurrenceClasses classes(op);
  UpdateClass updateClass = classes.getClass(matrixIndex);
  StringRef name = states[matrixIndex].getSymName();
  if (updateClass == UpdateClass::General)
    return op.emitOpError("state '")
           << name << "' has update class 'general': no chunk-parallel form for the GPU";
  std::optional<ChunkForm> chunkForm = getChunkForm(op, matrixIndex);
  if (!chunkForm)
    return op.emitOpError("state '")
           << name << "' of class '" << stringifyUpdateClass(updateClass)
           << "' has no chunk form (a row-gated delta rule, or the state read outside "
              "its update and readouts)";
  form = std::move(*chunkForm);
  if (!form.delta && form.terms.size() != 1)
    return op.emitOpError("the GPU code generator needs one rank-one term outer(k, v) "
                          "in the update of state '")
           << name << "', not " << form.terms.size();
  if (form.readouts.empty())
    return op.emitOpError("the GPU code generator needs a readout q @ S of state '")
           << name << "' in the per-step outputs";
  // Readouts of one query (q[t] @ S written twice) share the kernel's output tile.
  readoutOp = form.readouts.front();
  for (VecMatOp readout : form.readouts)
    if (!sameVector(readout.getLhs(), readoutOp.getLhs()))
      return op.emitOpError("the GPU code generator needs one query q in the readouts "
                            "q @ S of state '")
             << name << "'";

  stateType = cast<SpecTensorType>(states[matrixIndex].getType());
  ArrayRef<Attribute> dims = stateType.getDims();
  std::optional<int64_t> k = fixedDim(dims[0], fixed), v = fixedDim(dims[1], fixed);
  if (!k || !v)
    return op.emitOpError("the GPU code generator needs the state dims (K and V of S: "
                          "[K, V]) fixed at compile time; write them as literals "
                          "(state S: f32[64, 64]) or fix the symbols (tmixc "
                          "--sizes=K=64,V=64)");
  // The symbols the kernel's shapes rely on, recorded for the runtime to check.
  SmallVector<Attribute> fixedDims(dims.begin(), dims.end());
  for (const RecurrenceKernelPlan::VectorState &vector : vectorStates)
    fixedDims.push_back(
        cast<SpecTensorType>(states[vector.index].getType()).getDims()[0]);
  recordSpecialized(op.getContext(), fixedDims, fixed, specialized);
  if (*k % kStateRowMultiple != 0 || *k > kMaxStateRows || *v % kMmaK != 0)
    return op.emitOpError("the GPU code generator supports states [K, V] with K a "
                          "multiple of 64 up to 256 and V a multiple of 16, not [")
           << *k << ", " << *v << "]";
  keyDim = *k;
  valueDim = *v;
  // Vb: the widest of 64, 32, 16 dividing V that keeps the state at kStateFragments
  // accumulators per thread (64 at K = 64, 32 at K = 128, 16 at K = 256).
  int64_t widest = kStateFragments * kMmaN * kStateRowMultiple / keyDim;
  for (int64_t candidate : {int64_t(64), int64_t(32), int64_t(16)})
    if (candidate <= widest && valueDim % candidate == 0) {
      valueBlock = candidate;
      break;
    }
  gateColumns = form.hasRowGate() ? keyDim : 1;

  // ---- every value the kernel evaluates element by element ----
  SmallVector<Value> staged{updateKey(), updateValue(), readoutOp.getLhs()};
  for (const ChunkFactor &factor : form.gate)
    staged.push_back(factor.value);
  for (const ChunkFactor &factor :
       form.delta ? form.delta->strength : form.terms[0].factors)
    staged.push_back(factor.value);
  SmallVector<Value> perStep;
  for (auto [position, result] : llvm::enumerate(op.getPerStepResults())) {
    Value value = yield.getValues()[states.size() + position];
    auto type = dyn_cast<SpecTensorType>(value.getType());
    if (!type || type.getRank() != 1 || type.getDims()[0] != dims[1])
      return op.emitOpError("per-step output '")
             << op.getResultName(result)
             << "' is not a vector over the state's value dim: the GPU kernel computes "
                "outputs per block of value columns";
    perStep.push_back(value);
  }
  // The outputs may read the readout and dot products, computed per step before.
  llvm::SetVector<Operation *> outputDots;
  auto outputLeaf = [&](Operation *inner) {
    if (isa<DotOp>(inner))
      outputDots.insert(inner);
    return isReadout(inner) || isa<DotOp>(inner);
  };
  auto none = [](Operation *) { return false; };
  Operation *bad = StepElements::firstNonElementwise(body, staged, none);
  if (!bad)
    bad = StepElements::firstNonElementwise(body, perStep, outputLeaf);
  for (Operation *dot : outputDots)
    if (!bad)
      bad = StepElements::firstNonElementwise(body, llvm::to_vector(dot->getOperands()),
                                              none);
  if (bad)
    return op.emitOpError("the GPU code generator evaluates the step's gates, keys, "
                          "values, queries and outputs element by element; '")
           << bad->getName() << "' in them is not supported";
  for (Operation *dot : outputDots)
    dots.push_back(cast<DotOp>(dot));
  for (const RecurrenceKernelPlan::VectorState &vector : vectorStates)
    if (readsValue(perStep, vector.arg, outputLeaf) ||
        readsValue(perStep, vector.next, outputLeaf))
      return op.emitOpError("a per-step output reads vector state '")
             << states[vector.index].getSymName()
             << "' other than through dot(): not supported by the GPU code generator";

  // ---- the MMA type and the shared memory ----
  MLIRContext *ctx = op.getContext();
  bool anyF16 = false, anyBF16 = false;
  for (Type type : op.getSpecArgTypes())
    if (auto tensor = dyn_cast<SpecTensorType>(type)) {
      anyF16 |= tensor.getElementType().isF16();
      anyBF16 |= tensor.getElementType().isBF16();
    }
  // f16 specs run in f16; bf16, f32 and mixed specs in bf16 (the range of f32).
  mmaType =
      anyF16 && !anyBF16 ? Type(Float16Type::get(ctx)) : Type(BFloat16Type::get(ctx));
  auto shared = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto sharedType = [&](int64_t rows, int64_t cols, Type element) {
    return MemRefType::get({rows, cols}, element, MemRefLayoutAttrInterface(), shared);
  };
  Type f32 = Float32Type::get(ctx);
  logGateType = sharedType(kChunk, gateColumns, f32);
  rowsType = sharedType(kChunk, keyDim, f32);
  valuesType = sharedType(kChunk, valueBlock + kPad, mmaType);
  stateTileType = sharedType(keyDim, valueBlock + kPad, mmaType);
  outputsType = sharedType(kChunk, valueBlock, f32);
  auto bytes = [](MemRefType type) {
    return type.getNumElements() * type.getElementTypeBitWidth() / 8;
  };
  strengthsType = sharedType(kChunk, 1, f32);
  gramType = sharedType(kChunk, kChunk, f32);
  sharedBytes = bytes(logGateType) * (form.needsSign() ? 2 : 1) + 2 * bytes(rowsType) +
                bytes(valuesType) + bytes(stateTileType) + bytes(outputsType);
  if (form.delta) // b, the strictly lower system, the pseudo-values w
    sharedBytes += bytes(strengthsType) + bytes(gramType) + bytes(outputsType);
  for (const RecurrenceKernelPlan::VectorState &vector : vectorStates) {
    historyTypes.push_back(sharedType(kChunk + 1, vector.size, f32));
    sharedBytes += bytes(historyTypes.back());
  }
  if (!dots.empty()) {
    dotRowsType = sharedType(dots.size(), kChunk, f32);
    sharedBytes += bytes(dotRowsType);
  }
  if (sharedBytes > kMaxSharedBytesSm80)
    return op.emitOpError("the GPU kernel of state [")
           << keyDim << ", " << valueDim << "] needs " << sharedBytes
           << " bytes of shared memory, more than the 163 KiB of an sm_80 CTA";
  return success();
}

bool PlanBuilder::readsValue(ArrayRef<Value> roots, Value value,
                             function_ref<bool(Operation *)> isLeaf) {
  SmallVector<Value> worklist(roots.begin(), roots.end());
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value next = worklist.pop_back_val();
    if (next == value)
      return true;
    Operation *def = next.getDefiningOp();
    if (!def || isLeaf(def) || !seen.insert(next).second)
      continue;
    def->walk(
        [&](Operation *nested) { llvm::append_range(worklist, nested->getOperands()); });
  }
  return false;
}

LogicalResult PlanBuilder::analyseVectorStates() {
  Block &body = op.getStepOp().getBody().front();
  SmallVector<StateOp, 4> states = op.getStateOps();
  auto none = [](Operation *) { return false; };
  for (const RecurrenceKernelPlan::VectorState &vector : vectorStates) {
    StringRef name = states[vector.index].getSymName();
    if (Operation *bad = StepElements::firstNonElementwise(body, vector.next, none))
      return op.emitOpError("vector state '")
             << name << "' is updated through '" << bad->getName()
             << "': the GPU kernel runs vector states element by element";
    for (auto [index, state] : llvm::enumerate(states))
      if (index != vector.index &&
          readsValue(vector.next, body.getArgument(1 + index), none))
        return op.emitOpError("vector state '")
               << name << "' reads state '" << state.getSymName()
               << "': not supported by the GPU code generator";
  }
  return success();
}

FailureOr<RecurrenceKernelPlan>
mlir::tmix::planRecurrenceKernel(RecurrenceOp op, const llvm::StringMap<int64_t> &fixed) {
  PlanBuilder builder(op, fixed);
  if (failed(builder.build()))
    return failure();
  return RecurrenceKernelPlan(std::move(builder));
}
