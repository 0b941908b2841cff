//===- ParamGradKernel.cpp - Part "params" of the backward on GPUs -------===//
//
// Which kernel runs a part "params" on the GPUs (gpuParamsKernel), the CTA-wide sums
// the kernels share, and the gradients of what a sink and rope read alone (pair
// biases' and the per-program sums' are part "query"'s walk,
// LowerAttentionGradToNVGPU): d loss / d sink(b, h) = -sum_i P_sink,i D_i over the rows
// of (b, h) (AttentionMath.h's sinkGradTerm), then the sink statement's derivative
// (tmix.sink_grad) adds it to the gradients of the arguments the sink reads; d loss /
// d theta = the sum of the rows' terms that parts "key_value" and "query" stored
// (rope_rows: d_rope_k, then d_rope_q, in order, in f64), then tmix.rope_grad.
//
// One CTA of kParamsThreads threads per program of part "params"'s grid: over q's
// batch (head) dim when every param owns a dim indexed by exactly b (h), as on the CPU,
// so that each CTA alone writes its slices. The CTA zeroes them, then for each (b, h)
// it covers, in order: thread t sums the terms of rows t, t + kParamsThreads, ... in
// row order, the CTA adds the threads' sums in a fixed tree in shared memory
// (sumOverCta), and thread 0 adds the total through the sink_grad region. Every sum has
// one order, fixed by the sizes: the gradients are the same bits run after run, with
// no atomics.
//
//===----------------------------------------------------------------------===//

#include "codegen/nvidia/ParamGradKernel.h"

#include "codegen/nvidia/GpuKernel.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/WarpMma.h"
#include "passes/AttentionMath.h"
#include "passes/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// The params that the tmix.rope_grad of `part` adds to (rope's theta).
SmallVector<int64_t> ropeTargets(AttentionGradOp part) {
  SmallVector<int64_t> targets;
  if (auto ropeGrad = findStatement<RopeGradOp>(part))
    ropeGrad.walk([&](AccumulateOp accumulate) {
      if (!llvm::is_contained(targets, accumulate.getTargetArgument()))
        targets.push_back(accumulate.getTargetArgument());
    });
  return targets;
}

/// pairOwnedParams for the params `params` (arguments of `part`).
FailureOr<SmallVector<SmallVector<unsigned>>> pairOwners(AttentionGradOp part,
                                                         ArrayRef<int64_t> params) {
  auto scoreParams = findStatement<ScoreParamGradOp>(part);
  if (!scoreParams)
    return failure();
  Block &body = scoreParams.getBody().front();
  ArrayRef<Type> types = part.getSpecArgTypes();
  // The extent that block argument 0..3 (b, h, i, j) runs over.
  auto qDims = cast<SpecTensorType>(types[0]).getDims();
  auto kDims = cast<SpecTensorType>(types[1]).getDims();
  Attribute extents[4] = {qDims[0], qDims[1], qDims[2], kDims[2]};
  SmallVector<SmallVector<unsigned>> owners;
  for (int64_t argument : params) {
    auto tensor = dyn_cast<SpecTensorType>(types[argument]);
    std::optional<SmallVector<unsigned>> owner;
    bool pairOwned = tensor && tensor.getRank() == 4;
    scoreParams.walk([&](AccumulateOp accumulate) {
      if (!pairOwned || accumulate.getTargetArgument() != argument)
        return;
      SmallVector<unsigned> these;
      for (auto [dim, index] : llvm::enumerate(accumulate.getIndices())) {
        auto arg = dyn_cast<BlockArgument>(index);
        if (!arg || arg.getOwner() != &body || arg.getArgNumber() > 3 ||
            tensor.getDims()[dim] != extents[arg.getArgNumber()] ||
            llvm::is_contained(these, arg.getArgNumber())) {
          pairOwned = false;
          return;
        }
        these.push_back(arg.getArgNumber());
      }
      pairOwned &= !owner || *owner == these;
      owner = these;
    });
    if (!pairOwned || !owner)
      return failure();
    owners.push_back(*owner);
  }
  return owners;
}

} // namespace

FailureOr<SmallVector<SmallVector<unsigned>>>
tmix::pairOwnedParams(AttentionGradOp part) {
  SmallVector<int64_t> rope = ropeTargets(part), pairs;
  for (int64_t argument : part.getParamArgs())
    if (!llvm::is_contained(rope, argument))
      pairs.push_back(argument);
  FailureOr<SmallVector<SmallVector<unsigned>>> owners = pairOwners(part, pairs);
  if (failed(owners))
    return failure();
  // What rope reads owns no element (and is read in no score, or it would be a pair
  // bias too): empty.
  SmallVector<SmallVector<unsigned>> all;
  auto pair = owners->begin();
  for (int64_t argument : part.getParamArgs())
    all.push_back(llvm::is_contained(rope, argument) ? SmallVector<unsigned>() : *pair++);
  return all;
}

namespace {

/// The coefficients (a, b) of i and j when `value`, an i64 of a tmix.score_param_grad's
/// region `body`, is a i + b j + c with constants a and b and c free of the pair (of i,
/// j, s and g: block arguments 2..5); none when it is not.
std::optional<std::pair<int64_t, int64_t>> pairCoefficients(Value value, Block *body) {
  using Coefficients = std::pair<int64_t, int64_t>;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    if (arg.getOwner() != body)
      return Coefficients{0, 0};
    switch (arg.getArgNumber()) {
    case 2: return Coefficients{1, 0};
    case 3: return Coefficients{0, 1};
    case 4:
    case 5: return std::nullopt;
    default: return Coefficients{0, 0};
    }
  }
  Operation *def = value.getDefiningOp();
  if (!def || !body->getParent()->isAncestor(def->getParentRegion()))
    return Coefficients{0, 0};
  SmallVector<Coefficients> operands;
  bool nested = false;
  def->walk([&](Operation *inner) { nested |= inner != def; });
  if (nested) // a region's values: free of the pair only if nothing in it reads one
    return std::nullopt;
  for (Value operand : def->getOperands()) {
    std::optional<Coefficients> of = pairCoefficients(operand, body);
    if (!of)
      return std::nullopt;
    operands.push_back(*of);
  }
  bool free = llvm::all_of(operands, [](Coefficients c) {
    return c == Coefficients{0, 0};
  });
  if (free)
    return Coefficients{0, 0};
  // Bounded, so that nothing overflows: a coefficient past a million indexes no tensor.
  auto bounded = [](int64_t x) { return x > -(1 << 20) && x < (1 << 20); };
  if (isa<arith::AddIOp, arith::SubIOp>(def)) {
    int64_t sign = isa<arith::SubIOp>(def) ? -1 : 1;
    Coefficients sum{operands[0].first + sign * operands[1].first,
                     operands[0].second + sign * operands[1].second};
    if (bounded(sum.first) && bounded(sum.second))
      return sum;
    return std::nullopt;
  }
  if (isa<arith::MulIOp>(def)) {
    for (unsigned side : {0u, 1u}) {
      IntegerAttr factor;
      if (operands[side] != Coefficients{0, 0} ||
          !matchPattern(def->getOperand(side), m_Constant(&factor)))
        continue;
      int64_t f = factor.getInt();
      if (!bounded(f))
        return std::nullopt;
      Coefficients product{operands[1 - side].first * f, operands[1 - side].second * f};
      if (bounded(product.first) && bounded(product.second))
        return product;
    }
  }
  return std::nullopt;
}

} // namespace

AccumulateClass tmix::classifyAccumulate(AccumulateOp accumulate) {
  Block *body = accumulate->getBlock();
  AccumulateClass result;
  result.kind = TermClass::Program;
  for (auto [dim, index] : llvm::enumerate(accumulate.getIndices())) {
    std::optional<std::pair<int64_t, int64_t>> of = pairCoefficients(index, body);
    if (of && *of == std::pair<int64_t, int64_t>{0, 0})
      continue;
    // A second index that depends on the pair: many elements per row, on two dims.
    if (result.kind != TermClass::Program)
      return {};
    result.kind = TermClass::Gathered;
    result.pairDim = static_cast<unsigned>(dim);
    if (!of)
      continue;
    auto [row, key] = *of;
    // One pair per row (b = +-1) or per key (b = 0, a = +-1) for each of its
    // elements: the inverse that the owner of an element needs.
    bool perRow = key == 1 || key == -1, perKey = key == 0 && (row == 1 || row == -1);
    if (perRow || perKey) {
      result.kind = TermClass::PairAffine;
      result.affine = {row, key};
    }
  }
  return result;
}

FailureOr<ParamsKernelKind> tmix::gpuParamsKernel(AttentionGradOp part,
                                                  std::string &why) {
  bool rope = static_cast<bool>(findStatement<RopeGradOp>(part));
  if (rope && !part.getRopeRows()) {
    why = "the GPUs sum the gradient of what rope reads from the rows' terms of parts "
          "\"key_value\" and \"query\": derive the backward with recompute-dq";
    return failure();
  }
  // theta's gradient sums every row: one program, which owns every param.
  if (rope && (part.splitsParamsBy(0) || part.splitsParamsBy(1))) {
    why = "sums rope's rows in a grid over b or h: theta reads neither (owned must be "
          "-1 for what rope reads)";
    return failure();
  }
  auto scoreParams = findStatement<ScoreParamGradOp>(part);
  bool sink = static_cast<bool>(findStatement<SinkGradOp>(part));
  bool scale = static_cast<bool>(findStatement<ScaleGradOp>(part));
  if (!scoreParams && !scale)
    return ParamsKernelKind::RowSums;
  bool walked = true;
  int64_t tiles = 0, gathered = 0;
  SmallVector<int64_t> scoreTargets;
  if (scoreParams)
    scoreParams.walk([&](AccumulateOp accumulate) {
      AccumulateClass of = classifyAccumulate(accumulate);
      walked &= of.kind != TermClass::Other;
      tiles += of.kind == TermClass::PairAffine || of.kind == TermClass::Gathered;
      gathered += of.kind == TermClass::Gathered;
      if (!llvm::is_contained(scoreTargets, accumulate.getTargetArgument()))
        scoreTargets.push_back(accumulate.getTargetArgument());
    });
  if (walked && tiles <= kMaxPairAffineTerms && gathered <= kMaxGatheredTerms)
    return ParamsKernelKind::ProgramSums;
  if (walked) {
    why = "the gradients of float arguments read in score (part \"params\") at more "
          "than " +
          std::to_string(kMaxPairAffineTerms) +
          " elements that depend on i or j, or at more than " +
          std::to_string(kMaxGatheredTerms) +
          " that are not a i + b j + c with b = 1 or -1 (or a = 1 or -1 and b = 0), run "
          "on the CPU only so far (the GPU kernel keeps a tile of terms per read in "
          "shared memory)";
    return failure();
  }
  if (succeeded(pairOwners(part, scoreTargets))) {
    // rope's theta beside them: the grid's first CTA sums its rows after its walk.
    bool ropeApart = llvm::none_of(ropeTargets(part), [&](int64_t argument) {
      return llvm::is_contained(scoreTargets, argument);
    });
    if (!sink && !scale && ropeApart && succeeded(pairOwnedParams(part)))
      return ParamsKernelKind::PairOwned;
    why = "the gradients of pair biases together with those of what the sink or the "
          "scale reads (part \"params\") run on the CPU only so far";
    return failure();
  }
  why = "the gradients of float arguments read in score (part \"params\") run on the "
        "GPUs where at most one index of an element depends on i or j (a relative-"
        "position table, T5's buckets, a per-key bias), or where the element is the "
        "pair's own (pair biases at exactly b, h, i and j of their [B, H, N, M]); "
        "elements with two or more indices that depend on the pair run on the CPU only "
        "so far";
  return failure();
}

std::string tmix::gpuParamsPartLimit(AttentionGradOp part) {
  std::string why;
  return succeeded(gpuParamsKernel(part, why)) ? "" : why;
}

Value tmix::reduceOverCta(KernelBuilder &kb, Value buffer, Value tid, Value value,
                          function_ref<Value(Value, Value)> combine) {
  ImplicitLocOpBuilder &b = kb.builder();
  memref::StoreOp::create(b, value, buffer, tid);
  gpu::BarrierOp::create(b);
  // buffer[t] = combine(buffer[t], buffer[t + stride]) for t < stride, halving: a
  // fixed tree.
  for (int64_t stride = kParamsThreads / 2; stride >= 1; stride /= 2) {
    Value lower =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tid, kb.index(stride));
    kb.ifElse(
        lower, {},
        [&] {
          Value other = arith::AddIOp::create(b, tid, kb.index(stride));
          Value combined = combine(memref::LoadOp::create(b, buffer, tid),
                                   memref::LoadOp::create(b, buffer, other));
          memref::StoreOp::create(b, combined, buffer, tid);
          return SmallVector<Value>{};
        },
        [] { return SmallVector<Value>{}; });
    gpu::BarrierOp::create(b);
  }
  Value total = memref::LoadOp::create(b, buffer, kb.index(0));
  // Every thread has read the total before any writes the next reduction's values.
  gpu::BarrierOp::create(b);
  return total;
}

Value tmix::sumOverCta(KernelBuilder &kb, Value sums, Value tid, Value value) {
  return reduceOverCta(kb, sums, tid, value, [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(kb.builder(), x, y);
  });
}

Value tmix::sinkRowsTerm(KernelBuilder &kb, const AttentionGradOperands &operands,
                         SinkOp sink, Value batch, Value head, Value numDV, Value tid) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value sinkLog2 = sinkLogit(kb, sink, kb.toI64(batch), kb.toI64(head));
  auto exp2 = [](ImplicitLocOpBuilder &b, Value x) { return warp::exp2Approx(b, x); };
  return kb.loop(tid, operands.numN, kb.index(kParamsThreads), {kb.f32(0.0)},
                 [&](Value i, ValueRange acc) {
                   Value lseLog2 = arith::MulFOp::create(
                       b, kb.loadF32(operands.lse, {batch, head, i}), kb.f32(kLog2e));
                   Value delta = outputDelta(kb, operands, batch, head, i, numDV);
                   Value term = sinkGradTerm(b, sinkLog2, lseLog2, delta, exp2);
                   return SmallVector<Value>{arith::AddFOp::create(b, acc[0], term)};
                 })[0];
}

ParamGradTarget tmix::paramsPartTarget(KernelBuilder &kb, AttentionGradOp part,
                                       unsigned argument) {
  ArrayRef<int64_t> params = part.getParamArgs();
  Value out = kb.resultMemRef(llvm::find(params, argument) - params.begin());
  if (isa<SpecTensorType>(part.getSpecArgTypes()[argument]))
    return ParamGradTarget{out, {}};
  return ParamGradTarget{out, {kb.index(0)}};
}

void tmix::zeroOwnedSlices(KernelBuilder &kb, AttentionGradOp part,
                           const ParamsProgram &program, Value tid) {
  onCtaLeader(kb, tid, [&] {
    for (unsigned param = 0; param < part.getParamArgs().size(); ++param) {
      Value out = kb.resultMemRef(param);
      program.forEachOwned(kb, part, param, out, [&](ValueRange at) {
        memref::StoreOp::create(kb.builder(), kb.f32(0.0), out, at);
      });
    }
  });
}

void tmix::onCtaLeader(KernelBuilder &kb, Value tid, function_ref<void()> body) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, kb.index(0));
  kb.ifThen(leader, body);
}

void tmix::addRopeRowsGradient(KernelBuilder &kb, AttentionGradOp part,
                               RopeGradOp ropeGrad, Value sums, Value tid) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f64 = b.getF64Type();
  Value one = kb.index(1);
  // Thread t sums rows t, t + kParamsThreads, ... of each (b, h) in order, of d_rope_k
  // then of d_rope_q.
  auto loopOver = [&](Attribute dim, Value from, Value step, Value acc,
                      function_ref<Value(Value at, Value acc)> body) {
    return kb.loop(from, kb.dimValue(dim), step, {acc},
                   [&](Value at, ValueRange carried) {
                     return SmallVector<Value>{body(at, carried[0])};
                   })[0];
  };
  Value thread = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  unsigned first = part.getRopeRowsArg();
  for (unsigned argument : {first, first + 1}) {
    Value rows = kb.argMemRef(argument);
    ArrayRef<Attribute> dims =
        cast<SpecTensorType>(part.getFunctionType().getInput(argument)).getDims();
    thread = loopOver(dims[0], kb.index(0), one, thread, [&](Value batch, Value acc) {
      return loopOver(dims[1], kb.index(0), one, acc, [&](Value head, Value acc) {
        return loopOver(
            dims[2], tid, kb.index(kParamsThreads), acc, [&](Value row, Value acc) {
              Value term = memref::LoadOp::create(b, rows, ValueRange{batch, head, row});
              return arith::AddFOp::create(b, acc, arith::ExtFOp::create(b, f64, term))
                  .getResult();
            });
      });
    });
  }
  Value total = sumOverCta(kb, sums, tid, thread);
  onCtaLeader(kb, tid, [&] {
    inlineParamGradRegion(
        kb, ropeGrad.getBody(), {arith::TruncFOp::create(b, b.getF32Type(), total)},
        [&](unsigned argument) { return paramsPartTarget(kb, part, argument); });
  });
}

LogicalResult tmix::lowerRowSumsKernel(AttentionGradOp part, gpu::GPUModuleOp gpuModule) {
  SinkGradOp sinkGrad = findStatement<SinkGradOp>(part);
  SinkOp sink = findStatement<SinkOp>(part);
  RopeGradOp ropeGrad = findStatement<RopeGradOp>(part);
  if (sinkGrad && !sink)
    return part.emitOpError("has a tmix.sink_grad without a tmix.sink");
  if (!sinkGrad && !ropeGrad)
    return part.emitOpError(
        "has no tmix.sink_grad or tmix.rope_grad: nothing for part \"params\" to sum");

  ArrayRef<Type> types = part.getSpecArgTypes();
  ArrayRef<Attribute> vDims = cast<SpecTensorType>(types[2]).getDims();
  MLIRContext *context = part.getContext();
  KernelBuilder kb(part, paramsGrid(part));
  ImplicitLocOpBuilder &b = kb.builder();
  AttentionGradOperands operands = readAttentionGradOperands(kb, part);
  Value one = kb.index(1);
  Value numDV = kb.dimValue(vDims[3]);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  auto shared = gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
  SharedMemoryViews views(b);
  Type f64 = b.getF64Type();
  Value sums =
      views.view(MemRefType::get({kParamsThreads}, ropeGrad ? f64 : b.getF32Type(),
                                 MemRefLayoutAttrInterface(), shared));

  ParamsProgram program = readParamsProgram(kb, part);
  auto targetOf = [&](unsigned argument) { return paramsPartTarget(kb, part, argument); };
  // Thread 0 adds to the slices below.
  zeroOwnedSlices(kb, part, program, tid);

  if (sinkGrad)
    kb.loop(program.begin[0], program.end[0], one, {}, [&](Value batch, ValueRange) {
      kb.loop(program.begin[1], program.end[1], one, {}, [&](Value head, ValueRange) {
        Value own = sinkRowsTerm(kb, operands, sink, batch, head, numDV, tid);
        if (ropeGrad) // one buffer for both sums
          own = arith::ExtFOp::create(b, f64, own);
        Value total = sumOverCta(kb, sums, tid, own);
        if (ropeGrad)
          total = arith::TruncFOp::create(b, b.getF32Type(), total);
        // The CTA owns the slices it adds to: the element at each param's owned dims.
        onCtaLeader(kb, tid, [&] {
          inlineParamGradRegion(
              kb, sinkGrad.getBody(),
              {kb.toI64(batch), kb.toI64(head), arith::NegFOp::create(b, total)},
              targetOf);
        });
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });

  if (ropeGrad)
    addRopeRowsGradient(kb, part, ropeGrad, sums, tid);

  // The schedule attribute records the CTA's shape (the grad kernels' blocks, 4 warps).
  auto schedule =
      AttentionScheduleAttr::get(context, 64, 64, 0, 0, kParamsThreads / kWarpThreads, 1);
  moveProgramToKernel(kb.function(), gpuModule,
                      {kParamsThreads, views.bytes(), schedule, {}});
  return success();
}
