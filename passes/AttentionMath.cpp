//===- AttentionMath.cpp - The formulas of attention, written once --------===//

#include "passes/AttentionMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tmix;

AttentionProgram tmix::readAttentionProgram(KernelBuilder &kb, AttentionOp op) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto types = op.getSpecArgTypes();
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(types[0]).getDims();
  ArrayRef<Attribute> kDims = cast<SpecTensorType>(types[1]).getDims();
  AttentionProgram program;
  program.batch = kb.gridIndex(0);
  program.head = kb.gridIndex(1);
  program.queryTile = kb.gridIndex(2);
  Value numH = kb.dimValue(qDims[1]);
  Value numHK = kb.dimValue(kDims[1]);
  program.numN = kb.dimValue(qDims[2]);
  program.numM = kb.dimValue(kDims[2]);
  program.kvHead =
      arith::DivUIOp::create(b, program.head, arith::DivUIOp::create(b, numH, numHK));
  program.q = kb.argMemRef(0);
  program.k = kb.argMemRef(1);
  program.v = kb.argMemRef(2);
  program.o = kb.resultMemRef(0);
  program.lse = op.getNumSpecResults() > 1 ? kb.resultMemRef(1) : Value();
  return program;
}

AttentionGradOperands tmix::readAttentionGradOperands(KernelBuilder &kb,
                                                      AttentionGradOp op) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto types = op.getSpecArgTypes();
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(types[0]).getDims();
  ArrayRef<Attribute> kDims = cast<SpecTensorType>(types[1]).getDims();
  AttentionGradOperands operands;
  operands.numN = kb.dimValue(qDims[2]);
  operands.numM = kb.dimValue(kDims[2]);
  operands.group =
      arith::DivUIOp::create(b, kb.dimValue(qDims[1]), kb.dimValue(kDims[1]));
  operands.q = kb.argMemRef(0);
  operands.k = kb.argMemRef(1);
  operands.v = kb.argMemRef(2);
  operands.o = kb.argMemRef(op.getOutputArg());
  operands.lse = kb.argMemRef(op.getLseArg());
  operands.outputGrad = kb.argMemRef(op.getOutputGradArg());
  operands.lseGrad = op.getLseGrad() ? kb.argMemRef(op.getLseGradArg()) : Value();
  return operands;
}

Value tmix::outputDelta(KernelBuilder &kb, const AttentionGradOperands &operands,
                        Value batch, Value head, Value i, Value numDV,
                        arith::FastMathFlags flags) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value delta = kb.loop(
      kb.index(0), numDV, kb.index(1), {kb.f32(0.0)}, [&](Value d, ValueRange sum) {
        Value product =
            arith::MulFOp::create(b, kb.loadF32(operands.outputGrad, {batch, head, i, d}),
                                  kb.loadF32(operands.o, {batch, head, i, d}), flags);
        return SmallVector<Value>{arith::AddFOp::create(b, sum[0], product, flags)};
      })[0];
  if (operands.lseGrad)
    delta =
        arith::SubFOp::create(b, delta, kb.loadF32(operands.lseGrad, {batch, head, i}));
  return delta;
}

SmallVector<GridDim> tmix::paramsGrid(AttentionGradOp op) {
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(op.getSpecArgTypes()[0]).getDims();
  SmallVector<GridDim> grid;
  for (unsigned which : {0u, 1u})
    if (op.splitsParamsBy(which))
      grid.push_back({qDims[which], 1});
  if (grid.empty())
    grid.push_back({IntegerAttr::get(IntegerType::get(op.getContext(), 64), 1), 1});
  return grid;
}

ParamsProgram tmix::readParamsProgram(KernelBuilder &kb, AttentionGradOp op) {
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(op.getSpecArgTypes()[0]).getDims();
  ParamsProgram program;
  unsigned gridDim = 0;
  for (unsigned which : {0u, 1u}) {
    program.split[which] = op.splitsParamsBy(which);
    if (program.split[which]) {
      program.begin[which] = kb.gridIndex(gridDim++);
      program.end[which] =
          arith::AddIOp::create(kb.builder(), program.begin[which], kb.index(1));
    } else {
      program.begin[which] = kb.index(0);
      program.end[which] = kb.dimValue(qDims[which]);
    }
  }
  return program;
}

void ParamsProgram::forEachOwned(KernelBuilder &kb, AttentionGradOp op, unsigned position,
                                 Value out,
                                 function_ref<void(ValueRange element)> leaf) const {
  ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
  kb.forEachIndex(
      out, {}, 0,
      [&](unsigned dim) -> std::pair<Value, Value> {
        for (unsigned which : {0u, 1u})
          if (split[which] && owned[2 * position + which] == static_cast<int64_t>(dim))
            return {begin[which], Value()};
        return {kb.index(0), memref::DimOp::create(kb.builder(), out, dim)};
      },
      leaf);
}

void tmix::inlineParamGradTerms(
    KernelBuilder &kb, Region &region, ValueRange args,
    function_ref<void(AccumulateOp accumulate, Value value, ValueRange indices)> term) {
  IRMapping mapping = kb.scalarMapping();
  for (auto [arg, value] : llvm::zip(region.front().getArguments(), args))
    mapping.map(arg, value);
  for (Operation &inner : region.front().without_terminator()) {
    auto accumulate = dyn_cast<AccumulateOp>(inner);
    if (!accumulate) {
      kb.cloneScalarOp(inner, mapping);
      continue;
    }
    SmallVector<Value> indices;
    for (Value index : accumulate.getIndices())
      indices.push_back(mapping.lookup(index));
    term(accumulate, mapping.lookup(accumulate.getValue()), indices);
  }
}

void tmix::addParamGradTerm(KernelBuilder &kb, const ParamGradTarget &target,
                            ValueRange indices, Value value) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type element = cast<MemRefType>(target.memref.getType()).getElementType();
  if (element != value.getType())
    value = isa<Float64Type>(element)
                ? arith::ExtFOp::create(b, element, value).getResult()
                : arith::TruncFOp::create(b, element, value).getResult();
  SmallVector<Value> at(target.prefix);
  Value inBounds;
  for (Value i64 : indices) {
    Value extent = kb.toI64(memref::DimOp::create(b, target.memref, at.size()));
    Value fits = arith::AndIOp::create(
        b,
        arith::CmpIOp::create(b, arith::CmpIPredicate::sge, i64, kb.toI64(kb.index(0))),
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, i64, extent));
    inBounds = inBounds ? arith::AndIOp::create(b, inBounds, fits).getResult() : fits;
    at.push_back(kb.toIndex(i64));
  }
  auto add = [&] {
    Value old = memref::LoadOp::create(b, target.memref, at);
    memref::StoreOp::create(b, arith::AddFOp::create(b, old, value), target.memref, at);
    return SmallVector<Value>{};
  };
  if (inBounds)
    kb.ifElse(inBounds, {}, add, [] { return SmallVector<Value>{}; });
  else
    add();
}

void tmix::inlineParamGradRegion(
    KernelBuilder &kb, Region &region, ValueRange args,
    function_ref<ParamGradTarget(unsigned argument)> targetOf) {
  inlineParamGradTerms(
      kb, region, args, [&](AccumulateOp accumulate, Value value, ValueRange indices) {
        addParamGradTerm(kb, targetOf(accumulate.getTargetArgument()), indices, value);
      });
}

Value tmix::f32ConstantOf(ImplicitLocOpBuilder &b, Type type, double value) {
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b,
                                     DenseElementsAttr::get(vector, static_cast<float>(value)));
  return arith::ConstantOp::create(b, b.getF32FloatAttr(static_cast<float>(value)));
}

Value tmix::scoreScale(KernelBuilder &kb, Operation *op, OpFoldResult headDim) {
  Value scale = naturalScale(kb, op, headDim);
  if (findStatement<ScoreOp>(op))
    return scale;
  return arith::MulFOp::create(kb.builder(), scale, kb.f32(kLog2e));
}

Value tmix::naturalScale(KernelBuilder &kb, Operation *op, OpFoldResult headDim) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value scale;
  if (ScaleOp scaleOp = findStatement<ScaleOp>(op)) {
    scale = kb.inlineRegion(scaleOp.getBody(), {})[0];
  } else if (auto literal = dyn_cast<Attribute>(headDim)) {
    scale = kb.f32(1.0 / std::sqrt(static_cast<double>(cast<IntegerAttr>(literal).getInt())));
  } else {
    Value d = arith::UIToFPOp::create(b, b.getF32Type(), kb.toI64(cast<Value>(headDim)));
    scale = arith::DivFOp::create(b, kb.f32(1.0), math::SqrtOp::create(b, d));
  }
  return scale;
}

Value tmix::scoreElement(KernelBuilder &kb, Operation *op, Value batch, Value head,
                         Value i, Value j, Value s, bool masked,
                         function_ref<Value()> keyBound) {
  ImplicitLocOpBuilder &b = kb.builder();
  if (ScoreOp scoreOp = findStatement<ScoreOp>(op)) {
    s = kb.inlineRegion(scoreOp.getBody(), {batch, head, i, j, s})[0];
    s = arith::MulFOp::create(b, s, kb.f32(kLog2e));
  }
  if (!masked)
    return s;
  Value keep = keyBound ? keyBound() : Value();
  // Past the keys the mask's tensor reads give 0: never out of bounds.
  if (MaskOp maskOp = findStatement<MaskOp>(op)) {
    Value maskValue = kb.inlineRegion(maskOp.getBody(), {batch, head, i, j})[0];
    keep = keep ? arith::AndIOp::create(b, keep, maskValue) : maskValue;
  }
  if (!keep)
    return s;
  return arith::SelectOp::create(b, keep, s, kb.f32(-INFINITY));
}

RunningMax tmix::updateRunningMax(ImplicitLocOpBuilder &b, Value max, Value tileMax,
                                  UnaryMathFn exp2) {
  Type type = max.getType();
  RunningMax update;
  update.max = arith::MaximumFOp::create(b, max, tileMax);
  update.anyKept = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, update.max,
                                         f32ConstantOf(b, type, -INFINITY));
  update.alpha = arith::SelectOp::create(
      b, update.anyKept, exp2(b, arith::SubFOp::create(b, max, update.max)),
      f32ConstantOf(b, type, 1.0));
  return update;
}

Value tmix::softmaxProbability(ImplicitLocOpBuilder &b, const RunningMax &update, Value s,
                               UnaryMathFn exp2) {
  return arith::SelectOp::create(b, update.anyKept,
                                 exp2(b, arith::SubFOp::create(b, s, update.max)),
                                 f32ConstantOf(b, s.getType(), 0.0));
}

Value tmix::updateRunningSum(ImplicitLocOpBuilder &b, Value sum, Value alpha,
                             Value tileSum) {
  return arith::AddFOp::create(b, arith::MulFOp::create(b, sum, alpha), tileSum);
}

Value tmix::sinkLogit(KernelBuilder &kb, SinkOp sink, Value batch, Value head) {
  Value logit = kb.inlineRegion(sink.getBody(), {batch, head})[0];
  return arith::MulFOp::create(kb.builder(), logit, kb.f32(kLog2e));
}

Value tmix::sinkGradTerm(ImplicitLocOpBuilder &b, Value sinkLog2, Value lseLog2,
                         Value delta, UnaryMathFn exp2) {
  Value emptyRow = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, lseLog2,
                                         f32ConstantOf(b, lseLog2.getType(), -INFINITY));
  Value probability =
      arith::SelectOp::create(b, emptyRow, f32ConstantOf(b, lseLog2.getType(), 0.0),
                              exp2(b, arith::SubFOp::create(b, sinkLog2, lseLog2)));
  return arith::MulFOp::create(b, probability, delta);
}

RowResult tmix::finishRow(ImplicitLocOpBuilder &b, Value max, Value sum, Value sink,
                          UnaryMathFn exp2) {
  Type type = max.getType();
  RowResult row{Value(), Value(), max, sum};
  Value alpha = f32ConstantOf(b, type, 1.0);
  if (sink) {
    RunningMax update = updateRunningMax(b, max, sink, exp2);
    alpha = update.alpha;
    row.sum = updateRunningSum(b, sum, alpha, softmaxProbability(b, update, sink, exp2));
    row.max = update.max;
  }
  row.empty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, row.sum,
                                    f32ConstantOf(b, type, 0.0));
  // The sink's rescale of the accumulator folds into the factor.
  row.factor = arith::SelectOp::create(b, row.empty, f32ConstantOf(b, type, 0.0),
                                       arith::DivFOp::create(b, alpha, row.sum));
  return row;
}

Value tmix::rowLogSumExp(ImplicitLocOpBuilder &b, const RowResult &row, UnaryMathFn log2) {
  Type type = row.max.getType();
  Value value = arith::MulFOp::create(
      b, arith::AddFOp::create(b, row.max, log2(b, row.sum)), f32ConstantOf(b, type, kLn2));
  return arith::SelectOp::create(b, row.empty, f32ConstantOf(b, type, -INFINITY), value);
}

/// -(2p/D) in f32: the exponent of theta in pair p's frequency.
static Value ropeExponent(KernelBuilder &kb, Value p, OpFoldResult headDim) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f32 = b.getF32Type();
  Value pf = arith::UIToFPOp::create(b, f32, kb.toI64(p));
  Value df;
  if (auto literal = dyn_cast<Attribute>(headDim))
    df = kb.f32(static_cast<double>(cast<IntegerAttr>(literal).getInt()));
  else
    df = arith::UIToFPOp::create(b, f32, kb.toI64(cast<Value>(headDim)));
  return arith::DivFOp::create(b, arith::MulFOp::create(b, kb.f32(-2.0), pf), df);
}

Value tmix::ropeFrequency(KernelBuilder &kb, Value p, OpFoldResult headDim, Value theta) {
  ImplicitLocOpBuilder &b = kb.builder();
  return math::Exp2Op::create(b, arith::MulFOp::create(b, ropeExponent(kb, p, headDim),
                                                       math::Log2Op::create(b, theta)));
}

Value tmix::ropeAngleAt(KernelBuilder &kb, Value pos, Value frequency) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value position = arith::UIToFPOp::create(b, b.getF32Type(), kb.toI64(pos));
  return arith::MulFOp::create(b, position, frequency);
}

Value tmix::ropeAngle(KernelBuilder &kb, Value pos, Value p, OpFoldResult headDim,
                      Value theta) {
  return ropeAngleAt(kb, pos, ropeFrequency(kb, p, headDim, theta));
}

std::pair<Value, Value> tmix::rotatePair(ImplicitLocOpBuilder &b, Value a, Value c,
                                         Value angle) {
  Value cos = math::CosOp::create(b, angle), sin = math::SinOp::create(b, angle);
  Value first = arith::SubFOp::create(b, arith::MulFOp::create(b, a, cos),
                                      arith::MulFOp::create(b, c, sin));
  Value second = arith::AddFOp::create(b, arith::MulFOp::create(b, c, cos),
                                       arith::MulFOp::create(b, a, sin));
  return {first, second};
}

Value tmix::ropeThetaSlope(KernelBuilder &kb, Value p, OpFoldResult headDim,
                           Value theta) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f64 = b.getF64Type();
  return arith::DivFOp::create(
      b, arith::ExtFOp::create(b, f64, ropeExponent(kb, p, headDim)),
      arith::ExtFOp::create(b, f64, theta));
}

Value tmix::ropeThetaTerm(ImplicitLocOpBuilder &b, Value angle, Value slope, Value y1,
                          Value y2, Value dy1, Value dy2) {
  auto wide = [&](Value x) {
    return arith::ExtFOp::create(b, b.getF64Type(), x).getResult();
  };
  // d a / d theta = -(2p/D) a / theta = slope a.
  Value byAngle = arith::SubFOp::create(b, arith::MulFOp::create(b, wide(dy2), wide(y1)),
                                        arith::MulFOp::create(b, wide(dy1), wide(y2)));
  return arith::MulFOp::create(b, byAngle, arith::MulFOp::create(b, slope, wide(angle)));
}

PairGradient tmix::pairGradient(KernelBuilder &kb, Operation *op, Value scale,
                                Value softmaxScale, Value batch, Value head, Value i,
                                Value j, Value qk, Value dp, Value lseLog2, Value delta,
                                bool masked, UnaryMathFn exp2,
                                function_ref<Value()> keyBound) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type type = qk.getType();
  Value s = arith::MulFOp::create(b, scale, qk); // natural units
  // scoreElement reads the score in the units of the forward's softmax (scoreScale's)
  // and gives it in the log2 domain, -inf where dropped.
  Value scoreInput = arith::MulFOp::create(b, softmaxScale, qk);
  Value t = scoreElement(kb, op, batch, head, i, j, scoreInput, masked, keyBound);
  // A row that kept nothing has lse = -inf: its probabilities are 0, not NaN.
  Value emptyRow = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, lseLog2,
                                         f32ConstantOf(b, type, -INFINITY));
  Value p = arith::SelectOp::create(b, emptyRow, f32ConstantOf(b, type, 0.0),
                                    exp2(b, arith::SubFOp::create(b, t, lseLog2)));
  Value scoreGradValue = arith::MulFOp::create(b, p, arith::SubFOp::create(b, dp, delta));
  ScoreGradOp scoreGrad = findStatement<ScoreGradOp>(op);
  Value sGrad = scoreGrad ? kb.inlineRegion(scoreGrad.getBody(),
                                            {batch, head, i, j, s, scoreGradValue})[0]
                          : scoreGradValue;
  PairGradient pair;
  pair.probability = p;
  pair.scaled = s;
  pair.scoreGrad = scoreGradValue;
  pair.scaledGrad = sGrad;
  pair.dotGrad = arith::MulFOp::create(b, sGrad, scale);
  pair.scaleTerm = arith::MulFOp::create(b, sGrad, qk);
  return pair;
}
