//===- StepElements.cpp - A recurrence step's values, element by element --===//

#include "codegen/nvidia/StepElements.h"
#include "passes/ChunkMath.h"
#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::tmix;

StepElements::StepElements(RecurrenceOp op, KernelBuilder &kb)
    : kb(kb), point(ParallelPoint::of(op, kb)),
      timeSymbol(StringAttr::get(op.getContext(), op.getTimeSymbol())),
      scalarArgs(kb.scalarMapping()) {}

SmallVector<Value> StepElements::outerIndices(ArrayRef<Attribute> dims, Value time,
                                              ValueRange inner) {
  return recurrenceIndices(kb.builder(), dims, point, timeSymbol, time, inner);
}

StepElements::StepElements(RecurrenceOp op, KernelBuilder &kb, RecurrenceOp host)
    : kb(kb), point(ParallelPoint::of(host, kb)),
      timeSymbol(StringAttr::get(op.getContext(), op.getTimeSymbol())) {
  IRMapping hostScalars = kb.scalarMapping();
  Block &own = op.getBodyBlock(), &hostBody = host.getBodyBlock();
  for (unsigned index = 0; index < own.getNumArguments(); ++index)
    if (Value value = hostScalars.lookupOrNull(hostBody.getArgument(index)))
      scalarArgs.map(own.getArgument(index), value);
}

Value StepElements::at(Value value, ValueRange indices) {
  if (Value bound = bindings.lookupOrNull(value))
    return bound;
  if (auto element = elementBindings.find(value); element != elementBindings.end())
    return element->second(indices);
  if (Value scalar = scalarArgs.lookupOrNull(value))
    return scalar; // a scalar argument of the spec
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    assert(arg.getArgNumber() == 0 && "only the step index is read here");
    return kb.toI64(stepTime);
  }
  Operation *def = value.getDefiningOp();
  if (auto slice = dyn_cast<SliceOp>(def)) {
    auto source = cast<BlockArgument>(slice.getSource());
    ArrayRef<Attribute> sourceDims = cast<SpecTensorType>(source.getType()).getDims();
    return kb.loadF32(
        kb.argMemRef(source.getArgNumber()),
        outerIndices(sourceDims, slice.getTime() ? stepTime : Value(), indices));
  }
  // A reduction of vectors (l2norm's sum of squares, a dot): a loop over the vector,
  // each element evaluated as above. It is recomputed wherever it is read, as every
  // value here is: cheap next to the chunk's products at the vector lengths the kernel
  // takes.
  if (isa<SumOp, DotOp>(def)) {
    ImplicitLocOpBuilder &b = kb.builder();
    Value lhs = def->getOperand(0);
    Value rhs = isa<DotOp>(def) ? def->getOperand(1) : Value();
    Attribute length = cast<SpecTensorType>(lhs.getType()).getDims()[0];
    return kb.loop(kb.index(0), kb.dimValue(length), kb.index(1), {kb.f32(0.0)},
                   [&](Value k, ValueRange sum) {
                     Value term = at(lhs, {k});
                     if (rhs)
                       term = arith::MulFOp::create(b, term, at(rhs, {k}));
                     return SmallVector<Value>{arith::AddFOp::create(b, sum[0], term)};
                   })[0];
  }
  if (auto map = dyn_cast<MapOp>(def)) {
    IRMapping mapping = scalarArgs;
    Block &mapBody = map.getBody().front();
    for (auto [arg, input] : llvm::zip(mapBody.getArguments(), map.getInputs())) {
      auto type = dyn_cast<SpecTensorType>(input.getType());
      // A vector input of a matrix map is indexed by the row.
      ValueRange inputIndices = !type ? ValueRange{} : indices.take_front(type.getRank());
      mapping.map(arg, at(input, inputIndices));
    }
    for (Operation &inner : mapBody) {
      // Scalars of the step that the body reads from above.
      for (Value operand : inner.getOperands())
        if (!mapping.contains(operand) && operand.getParentRegion() != &map.getBody())
          mapping.map(operand, at(operand, {}));
      if (auto yield = dyn_cast<YieldOp>(inner))
        return mapping.lookup(yield.getValues()[0]);
      kb.cloneScalarOp(inner, mapping);
    }
    llvm_unreachable("a map body ends in tmix.yield");
  }
  // A scalar op of the step: its scalar operands first.
  IRMapping mapping = scalarArgs;
  for (Value operand : def->getOperands())
    if (!mapping.contains(operand))
      mapping.map(operand, at(operand, {}));
  kb.cloneScalarOp(*def, mapping);
  return mapping.lookup(value);
}

Value StepElements::factorProduct(ArrayRef<ChunkFactor> factors, Value k, Value init) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value product = init;
  for (const ChunkFactor &factor : factors) {
    bool vector = isa<SpecTensorType>(factor.value.getType());
    Value value = at(factor.value, vector ? ValueRange{k} : ValueRange{});
    if (factor.isExp)
      value = math::ExpOp::create(b, value);
    product = factor.inverse ? Value(arith::DivFOp::create(b, product, value))
                             : Value(arith::MulFOp::create(b, product, value));
  }
  return product;
}

/// Whether `op` reads, through the step's ops up to the leaves, a state (a step
/// argument past t).
static bool readsState(Block &body, Operation *op,
                       function_ref<bool(Operation *)> isLeaf) {
  SmallVector<Value> worklist(op->getOperands().begin(), op->getOperands().end());
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() == &body && arg.getArgNumber() > 0)
        return true;
      continue;
    }
    Operation *def = value.getDefiningOp();
    if (def->getBlock() != &body || isLeaf(def))
      continue;
    llvm::append_range(worklist, def->getOperands());
    // Values a map's body reads from the step.
    def->walk([&](Operation *inner) {
      for (Value operand : inner->getOperands())
        if (operand.getParentBlock() == &body)
          worklist.push_back(operand);
    });
  }
  return false;
}

Operation *StepElements::firstNonElementwise(Block &body, ArrayRef<Value> roots,
                                             function_ref<bool(Operation *)> isLeaf) {
  SmallVector<Value> worklist(roots.begin(), roots.end());
  DenseSet<Operation *> seen;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val().getDefiningOp();
    if (!op || op->getBlock() != &body || isLeaf(op) || !seen.insert(op).second)
      continue;
    if (isa<OuterOp, VecMatOp, MatVecOp>(op))
      return op;
    // A reduction of vectors is a loop of `at`, when what it reduces reads no state
    // (`at` has one element of a state bound at a time, not the vector).
    if (isa<SumOp, DotOp>(op) &&
        (cast<SpecTensorType>(op->getOperand(0).getType()).getRank() != 1 ||
         readsState(body, op, isLeaf)))
      return op;
    if (auto map = dyn_cast<MapOp>(op)) {
      if (map.getResult().getType().getRank() > 1)
        return op;
    } else if (!isa<SliceOp>(op) &&
               llvm::any_of(op->getResultTypes(), llvm::IsaPred<SpecTensorType>)) {
      return op;
    }
    llvm::append_range(worklist, op->getOperands());
  }
  return nullptr;
}

void mlir::tmix::stageChunkGateLogs(KernelBuilder &kb, StepElements &elements,
                                    const ChunkForm &form, int64_t gateColumns,
                                    int64_t chunk, Value tid, int64_t threads,
                                    Value start, Value length, Value logGate,
                                    Value signs) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Value zero64 = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  kb.loop(
      tid, kb.index(gateColumns), kb.index(threads), {}, [&](Value column, ValueRange) {
        kb.loop(kb.index(0), kb.index(chunk), kb.index(1), {zero64, kb.f32(1.0)},
                [&](Value row, ValueRange carried) {
                  Value inChunk =
                      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, length);
                  SmallVector<Value> step = kb.ifElse(
                      inChunk, {f32, f32},
                      [&] {
                        elements.setStep(arith::AddIOp::create(b, start, row));
                        StepGateLog gate =
                            stepGateLog(kb, form, [&](const ChunkFactor &factor) {
                              bool vector = isa<SpecTensorType>(factor.value.getType());
                              return elements.at(factor.value, vector ? ValueRange{column}
                                                                      : ValueRange{});
                            });
                        return SmallVector<Value>{gate.log, gate.sign};
                      },
                      // Past the last step: log 1 = 0, so the last row's Γ carries on.
                      [&] {
                        return SmallVector<Value>{kb.f32(0.0), kb.f32(1.0)};
                      });
                  Value sum = arith::AddFOp::create(
                      b, carried[0], arith::ExtFOp::create(b, f64, step[0]));
                  memref::StoreOp::create(b, arith::TruncFOp::create(b, f32, sum),
                                          logGate, ValueRange{row, column});
                  Value sign = arith::MulFOp::create(b, carried[1], step[1]);
                  if (signs)
                    memref::StoreOp::create(b, sign, signs, ValueRange{row, column});
                  return SmallVector<Value>{sum, sign};
                });
        return SmallVector<Value>{};
      });
}

void mlir::tmix::scanChunkVectorState(KernelBuilder &kb, StepElements &elements,
                                      Value arg, Value next, int64_t size, int64_t chunk,
                                      Value tid, int64_t threads, Value start,
                                      Value length, Value history) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value end = kb.index(chunk);
  kb.loop(tid, kb.index(size), kb.index(threads), {}, [&](Value k, ValueRange) {
    Value before = memref::LoadOp::create(b, history, ValueRange{end, k});
    memref::StoreOp::create(b, before, history, ValueRange{kb.index(0), k});
    kb.loop(kb.index(0), end, kb.index(1), {before}, [&](Value row, ValueRange carried) {
      Value inChunk = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, length);
      Value after = kb.ifElse(
          inChunk, {b.getF32Type()},
          [&] {
            elements.setStep(arith::AddIOp::create(b, start, row));
            elements.bind(arg, carried[0]);
            return SmallVector<Value>{elements.at(next, k)};
          },
          [&] { return SmallVector<Value>{carried[0]}; })[0];
      memref::StoreOp::create(b, after, history,
                              ValueRange{arith::AddIOp::create(b, row, kb.index(1)), k});
      return SmallVector<Value>{after};
    });
    return SmallVector<Value>{};
  });
}
