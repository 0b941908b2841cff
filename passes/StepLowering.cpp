//===- StepLowering.cpp - The ops of a recurrence step as loops -----------===//
//
// Every vector or matrix value of the step region gets an f32 buffer; the step's ops
// become loops over those buffers, and its scalar ops are cloned as they are. A state
// is written back from the value the step yields only after all outputs of the step
// are stored.
//
//===----------------------------------------------------------------------===//

#include "passes/StepLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::tmix;

Value StepLowering::allocate(ArrayRef<Attribute> dims) {
  ImplicitLocOpBuilder &b = kb->builder();
  SmallVector<int64_t> shape(dims.size(), ShapedType::kDynamic);
  SmallVector<Value> sizes;
  for (Attribute dim : dims)
    sizes.push_back(kb->dimValue(dim));
  return kb->allocateScratch(MemRefType::get(shape, b.getF32Type()), sizes);
}

void StepLowering::forEach(ArrayRef<Attribute> dims,
                           function_ref<void(ValueRange)> body) {
  SmallVector<Value> indices;
  std::function<void(size_t)> nest = [&](size_t level) {
    if (level == dims.size())
      return body(indices);
    kb->loop(kb->index(0), kb->dimValue(dims[level]), kb->index(1), {},
             [&](Value iv, ValueRange) {
               indices.push_back(iv);
               nest(level + 1);
               indices.pop_back();
               return SmallVector<Value>{};
             });
  };
  nest(0);
}

ParallelPoint ParallelPoint::of(RecurrenceOp op, KernelBuilder &kb) {
  ImplicitLocOpBuilder &b = kb.builder();
  ParallelPoint point;
  point.dims = op.getParallelDims();
  for (unsigned dim = 0; dim < point.dims.size(); ++dim)
    point.indices.push_back(kb.gridIndex(dim));
  if (DictionaryAttr groups = op.getGroupsAttr())
    for (NamedAttribute group : groups) {
      Attribute grouped = group.getValue();
      unsigned position = llvm::find(point.dims, grouped) - point.dims.begin();
      // P / G points share a group; at least 1 (the runtime checks that G divides P).
      Value perGroup = arith::MaxUIOp::create(
          b, arith::DivUIOp::create(b, kb.dimValue(grouped), kb.dimValue(group.getName())),
          kb.index(1));
      point.groups[group.getName()] = {
          grouped, arith::DivUIOp::create(b, point.indices[position], perGroup)};
    }
  // The steps: all T, or its sequence's (the runtime checked that the offsets lie in
  // 0 .. T and do not decrease).
  if (std::optional<unsigned> offsets = op.getOffsetsArgument()) {
    Value memref = kb.argMemRef(*offsets), sequence = point.indices[0];
    auto offsetAt = [&](Value position) {
      return Value(arith::IndexCastOp::create(b, b.getIndexType(),
                                              memref::LoadOp::create(b, memref, position)));
    };
    point.firstStep = offsetAt(sequence);
    point.numSteps = arith::SubIOp::create(
        b, offsetAt(arith::AddIOp::create(b, sequence, kb.index(1))), point.firstStep);
  } else {
    point.numSteps = kb.sizeValue(op.getTimeSymbol());
  }
  return point;
}

SmallVector<Value> tmix::recurrenceIndices(ImplicitLocOpBuilder &b, ArrayRef<Attribute> dims,
                                           const ParallelPoint &point, StringAttr timeSymbol,
                                           Value time, ValueRange inner) {
  SmallVector<Value> indices;
  size_t pos = 0;
  for (size_t parallel = 0; pos < dims.size(); ++pos) {
    auto group = point.groups.find(dims[pos]);
    Attribute standsFor = group == point.groups.end() ? dims[pos] : group->second.first;
    auto found = std::find(point.dims.begin() + parallel, point.dims.end(), standsFor);
    if (found == point.dims.end())
      break;
    parallel = found - point.dims.begin() + 1;
    indices.push_back(group == point.groups.end() ? point.indices[parallel - 1]
                                                   : group->second.second);
  }
  if (time && pos < dims.size() && dims[pos] == timeSymbol) {
    indices.push_back(point.firstStep ? Value(arith::AddIOp::create(b, point.firstStep, time))
                                      : time);
    ++pos;
  }
  llvm::append_range(indices, inner);
  return indices;
}

SmallVector<Value> StepLowering::outerIndices(ArrayRef<Attribute> dims, Value t,
                                              ValueRange inner) {
  return recurrenceIndices(kb->builder(), dims, point, timeSymbol, t, inner);
}

Value StepLowering::element(Value value, ArrayRef<Attribute> resultDims,
                            ValueRange indices) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto type = dyn_cast<SpecTensorType>(value.getType());
  if (!type)
    return scalars.lookup(value);
  if (fused.contains(value))
    return fusedElement(value, indices); // of the reader's shape (readsOnce)
  Value buffer = buffers.lookup(value);
  // A vector over the rows of a matrix: a diagonal gate.
  if (type.getRank() == 1 && resultDims.size() == 2)
    return memref::LoadOp::create(b, buffer, indices.take_front(1));
  return memref::LoadOp::create(b, buffer, indices);
}

Value StepLowering::fusedElement(Value value, ValueRange indices) {
  ImplicitLocOpBuilder &b = kb->builder();
  Operation *producer = value.getDefiningOp();
  if (auto outer = dyn_cast<OuterOp>(producer))
    return arith::MulFOp::create(b, element(outer.getLhs(), {}, indices.take_front(1)),
                                 element(outer.getRhs(), {}, indices.drop_front(1)));
  auto map = cast<MapOp>(producer);
  ArrayRef<Attribute> dims = map.getResult().getType().getDims();
  IRMapping mapping = scalars;
  Block &body = map.getBody().front();
  for (auto [arg, input] : llvm::zip(body.getArguments(), map.getInputs()))
    mapping.map(arg, element(input, dims, indices));
  for (Operation &inner : body.without_terminator())
    kb->cloneScalarOp(inner, mapping);
  return mapping.lookup(body.getTerminator()->getOperand(0));
}

void StepLowering::lowerSlice(SliceOp slice) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto source = cast<BlockArgument>(slice.getSource());
  Value memref = kb->argMemRef(source.getArgNumber());
  ArrayRef<Attribute> sourceDims = cast<SpecTensorType>(source.getType()).getDims();
  Value t = slice.getTime() ? time : Value();
  auto resultType = dyn_cast<SpecTensorType>(slice.getResult().getType());
  if (!resultType) {
    scalars.map(slice.getResult(), kb->loadF32(memref, outerIndices(sourceDims, t, {})));
    return;
  }
  Value buffer = buffers.lookup(slice.getResult());
  forEach(resultType.getDims(), [&](ValueRange inner) {
    memref::StoreOp::create(b, kb->loadF32(memref, outerIndices(sourceDims, t, inner)),
                            buffer, inner);
  });
}

void StepLowering::lowerMap(MapOp map) {
  ImplicitLocOpBuilder &b = kb->builder();
  ArrayRef<Attribute> dims = map.getResult().getType().getDims();
  Value buffer = buffers.lookup(map.getResult());
  forEach(dims, [&](ValueRange indices) {
    SmallVector<Value> args;
    for (Value input : map.getInputs())
      args.push_back(element(input, dims, indices));
    IRMapping mapping = scalars;
    Block &body = map.getBody().front();
    mapping.map(body.getArguments(), args);
    for (Operation &inner : body) {
      if (auto yield = dyn_cast<YieldOp>(inner)) {
        memref::StoreOp::create(b, mapping.lookup(yield.getValues()[0]), buffer, indices);
        break;
      }
      kb->cloneScalarOp(inner, mapping);
    }
  });
}

void StepLowering::lowerOp(Operation &stepOp) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value zero = kb->index(0), one = kb->index(1);
  Value fzero = kb->f32(0.0);
  auto load = [&](Value value, ValueRange indices) {
    return element(value, {}, indices); // from its buffer, or fused
  };
  auto mul = [&](Value x, Value y) { return Value(arith::MulFOp::create(b, x, y)); };
  // Sums over a vector may be reassociated: LLVM then vectorises them.
  auto add = [&](Value x, Value y) {
    return Value(arith::AddFOp::create(
        b, x, y, arith::FastMathFlags::reassoc | arith::FastMathFlags::contract));
  };
  auto vectorLength = [&](Value vector) {
    return kb->dimValue(cast<SpecTensorType>(vector.getType()).getDims()[0]);
  };

  if (auto slice = dyn_cast<SliceOp>(stepOp))
    return lowerSlice(slice);
  if (auto forwardState = dyn_cast<ForwardStateOp>(stepOp)) {
    // X's state S_t, where the adjoint's program keeps it: read in place.
    Value source = forwardStates.lookup(forwardState.getStateAttr());
    assert(source && "the adjoint's lowering binds every forward state");
    if (isa<SpecTensorType>(forwardState.getType()))
      buffers[forwardState.getResult()] = source;
    else
      scalars.map(forwardState.getResult(), memref::LoadOp::create(b, source));
    return;
  }
  if (auto map = dyn_cast<MapOp>(stepOp))
    return lowerMap(map);
  if (auto outer = dyn_cast<OuterOp>(stepOp)) {
    // out[r, c] = a[r] * b[c]
    Value out = buffers.lookup(outer.getResult());
    forEach(
        cast<SpecTensorType>(outer.getResult().getType()).getDims(), [&](ValueRange rc) {
          memref::StoreOp::create(
              b, mul(load(outer.getLhs(), rc[0]), load(outer.getRhs(), rc[1])), out, rc);
        });
    return;
  }
  if (auto vecmat = dyn_cast<VecMatOp>(stepOp)) {
    // out[c] = sum_r a[r] S[r, c]
    Value out = buffers.lookup(vecmat.getResult());
    forEach(
        cast<SpecTensorType>(vecmat.getResult().getType()).getDims(), [&](ValueRange c) {
          Value sum = kb->loop(zero, vectorLength(vecmat.getLhs()), one, {fzero},
                               [&](Value r, ValueRange acc) {
                                 return SmallVector<Value>{
                                     add(acc[0], mul(load(vecmat.getLhs(), r),
                                                     load(vecmat.getRhs(), {r, c[0]})))};
                               })[0];
          memref::StoreOp::create(b, sum, out, c);
        });
    return;
  }
  if (auto matvec = dyn_cast<MatVecOp>(stepOp)) {
    // out[r] = sum_c S[r, c] a[c]
    Value out = buffers.lookup(matvec.getResult());
    forEach(cast<SpecTensorType>(matvec.getResult().getType()).getDims(),
            [&](ValueRange r) {
              Value sum = kb->loop(zero, vectorLength(matvec.getRhs()), one, {fzero},
                                   [&](Value c, ValueRange acc) {
                                     return SmallVector<Value>{
                                         add(acc[0], mul(load(matvec.getLhs(), {r[0], c}),
                                                         load(matvec.getRhs(), c)))};
                                   })[0];
              memref::StoreOp::create(b, sum, out, r);
            });
    return;
  }
  if (auto dot = dyn_cast<DotOp>(stepOp)) {
    Value sum = kb->loop(
        zero, vectorLength(dot.getLhs()), one, {fzero}, [&](Value r, ValueRange acc) {
          return SmallVector<Value>{
              add(acc[0], mul(load(dot.getLhs(), r), load(dot.getRhs(), r)))};
        })[0];
    scalars.map(dot.getResult(), sum);
    return;
  }
  if (auto sumOp = dyn_cast<SumOp>(stepOp)) {
    // A rank-0 accumulator keeps the loop nest free of carried values.
    Value acc = memref::AllocaOp::create(b, MemRefType::get({}, b.getF32Type()));
    memref::StoreOp::create(b, fzero, acc);
    forEach(cast<SpecTensorType>(sumOp.getInput().getType()).getDims(),
            [&](ValueRange at) {
              Value current = memref::LoadOp::create(b, acc);
              memref::StoreOp::create(b, add(current, load(sumOp.getInput(), at)), acc);
            });
    scalars.map(sumOp.getResult(), memref::LoadOp::create(b, acc));
    return;
  }
  kb->cloneScalarOp(stepOp, scalars);
}

StepLowering::StepLowering(RecurrenceOp op, bool fuseElementwise)
    : op(op), fuseElementwise(fuseElementwise) {
  SmallVector<GridDim> grid;
  for (Attribute dim : op.getParallelDims())
    grid.push_back({dim, 1});
  ownedKernel = std::make_unique<KernelBuilder>(op, grid);
  kb = ownedKernel.get();
  point = ParallelPoint::of(op, *kb);
  timeSymbol = kb->builder().getStringAttr(op.getTimeSymbol());
  scalars = kb->scalarMapping();
  // The program runs only once all buffers are allocated (KernelBuilder's status word).
  allocateBuffers();
  kb->guardScratch();
  initStates();
}

StepLowering::StepLowering(RecurrenceOp forward, StepLowering &adjoint)
    : op(forward), kb(adjoint.kb), point(adjoint.point), timeSymbol(adjoint.timeSymbol),
      fuseElementwise(adjoint.fuseElementwise) {
  // forward's arguments are the adjoint's first ones: the same memrefs and scalars.
  Block &own = forward.getBodyBlock(), &host = adjoint.op.getBodyBlock();
  for (unsigned index = 0; index < own.getNumArguments(); ++index)
    if (Value value = adjoint.scalars.lookupOrNull(host.getArgument(index)))
      scalars.map(own.getArgument(index), value);
  allocateBuffers();
}

StepLowering::~StepLowering() = default;

/// A buffer for each state and for every vector or matrix value of the step: allocated
/// once per program, as shapes do not change from step to step.
void StepLowering::allocateBuffers() {
  Block &body = stepBody();
  states = op.getStateOps();
  for (auto [index, state] : llvm::enumerate(states)) {
    SmallVector<Attribute> dims;
    if (auto type = dyn_cast<SpecTensorType>(state.getType()))
      dims.assign(type.getDims().begin(), type.getDims().end());
    stateBuffers.push_back(allocate(dims));
    stateDims.push_back(dims);
    if (!dims.empty())
      buffers[body.getArgument(index + 1)] = stateBuffers.back();
  }
  // A map or outer product whose one reader takes each of its elements once, where it
  // is: a map of the same shape, a sum or dot, or the matrix of a matvec or vecmat.
  auto readsOnce = [](Value value) {
    if (!value.hasOneUse())
      return false;
    Operation *reader = *value.user_begin();
    if (auto map = dyn_cast<MapOp>(reader))
      return map.getResult().getType() == value.getType();
    if (isa<SumOp, DotOp>(reader))
      return true;
    if (auto matvec = dyn_cast<MatVecOp>(reader))
      return matvec.getLhs() == value;
    if (auto vecmat = dyn_cast<VecMatOp>(reader))
      return vecmat.getRhs() == value;
    return false;
  };
  for (Operation &inner : body) {
    if (isa<ForwardStateOp>(inner))
      continue; // read in place (bindForwardState)
    for (Value result : inner.getResults()) {
      auto type = dyn_cast<SpecTensorType>(result.getType());
      if (!type)
        continue;
      if (fuseElementwise && isa<MapOp, OuterOp>(inner) && readsOnce(result))
        fused.insert(result);
      else
        buffers[result] = allocate(type.getDims());
    }
  }
}

void StepLowering::initStates() {
  ImplicitLocOpBuilder &b = kb->builder();
  for (auto [index, state] : llvm::enumerate(states)) {
    Value init = state.getInit(), buffer = stateBuffers[index];
    ArrayRef<Attribute> initDims =
        init ? cast<SpecTensorType>(init.getType()).getDims() : ArrayRef<Attribute>();
    Value initMemRef =
        init ? kb->argMemRef(cast<BlockArgument>(init).getArgNumber()) : Value();
    forEach(stateDims[index], [&](ValueRange at) {
      Value value =
          init ? kb->loadF32(initMemRef, outerIndices(initDims, {}, at)) : kb->f32(0.0);
      memref::StoreOp::create(b, value, buffer, at);
    });
  }
}

llvm::DenseSet<Operation *> StepLowering::opsOfStates() {
  llvm::DenseSet<Operation *> needed;
  SmallVector<Value> worklist(stepYield().getValues().take_front(states.size()));
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || def->getParentOp() != op.getStepOp() || !needed.insert(def).second)
      continue;
    llvm::append_range(worklist, def->getOperands());
  }
  return needed;
}

void StepLowering::beginStep(Value t) {
  ImplicitLocOpBuilder &b = kb->builder();
  Block &body = stepBody();
  time = t;
  scalars.map(body.getArgument(0), kb->toI64(t));
  for (auto [index, buffer] : llvm::enumerate(stateBuffers))
    if (stateDims[index].empty())
      scalars.map(body.getArgument(index + 1), memref::LoadOp::create(b, buffer));
}

void StepLowering::lowerOps(function_ref<bool(Operation *)> include) {
  for (Operation &inner : stepBody().without_terminator())
    if (include(&inner) &&
        !(inner.getNumResults() == 1 && fused.contains(inner.getResult(0))))
      lowerOp(inner);
}

void StepLowering::storeOutputs() {
  auto resultTypes = op.getSpecResultTypes();
  ValueRange values = stepYield().getValues();
  for (auto [position, result] : llvm::enumerate(op.getPerStepResults())) {
    Value value = values[states.size() + position];
    Value out = kb->resultMemRef(result);
    ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
    auto valueType = dyn_cast<SpecTensorType>(value.getType());
    forEach(valueType ? valueType.getDims() : ArrayRef<Attribute>(), [&](ValueRange at) {
      kb->storeF32(element(value, {}, at), out, outerIndices(outDims, time, at));
    });
  }
}

void StepLowering::writeBackStates(function_ref<bool(unsigned)> include) {
  ImplicitLocOpBuilder &b = kb->builder();
  ValueRange values = stepYield().getValues();
  for (size_t index = 0; index < stateBuffers.size(); ++index) {
    Value value = values[index], buffer = stateBuffers[index];
    if (!include(index) || buffers.lookup(value) == buffer)
      continue; // the state is unchanged
    forEach(stateDims[index], [&](ValueRange at) {
      memref::StoreOp::create(b, element(value, {}, at), buffer, at);
    });
  }
}

void StepLowering::lowerStep(Value t) {
  beginStep(t);
  lowerOps([](Operation *) { return true; });
  // Outputs at step t first, then the states for step t + 1.
  storeOutputs();
  writeBackStates([](unsigned) { return true; });
}

void StepLowering::finish() {
  ImplicitLocOpBuilder &b = kb->builder();
  auto resultTypes = op.getSpecResultTypes();
  for (unsigned result = 0; result < resultTypes.size(); ++result) {
    FinalOp final = op.getFinalOp(result);
    if (!final)
      continue;
    auto stateIt = llvm::find_if(
        states, [&](StateOp s) { return s.getSymName() == final.getState(); });
    unsigned index = stateIt - states.begin();
    Value out = kb->resultMemRef(result);
    ArrayRef<Attribute> outDims = cast<SpecTensorType>(resultTypes[result]).getDims();
    forEach(stateDims[index], [&](ValueRange at) {
      Value value = memref::LoadOp::create(b, stateBuffers[index], at);
      kb->storeF32(value, out, outerIndices(outDims, {}, at));
    });
  }

  kb->freeScratch();
}

void StepLowering::release() { kb->freeScratch(); }
