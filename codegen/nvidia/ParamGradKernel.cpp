//===- ParamGradKernel.cpp - Part "params" of the backward on GPUs -------===//
//
// A sink's gradients (pair biases' are part "query"'s walk, LowerAttentionGradToNVGPU):
// d loss / d sink(b, h) = -sum_i P_sink,i D_i over the rows of (b, h)
// (AttentionMath.h's sinkGradTerm), then the sink statement's derivative
// (tmix.sink_grad) adds it to the gradients of the arguments the sink reads.
//
// One CTA of kThreads threads per program of part "params"'s grid: over q's batch
// (head) dim when every param owns a dim indexed by exactly b (h), as on the CPU, so
// that each CTA alone writes its slices. The CTA zeroes them, then for each (b, h) it
// covers, in order: thread t sums the terms of rows t, t + kThreads, ... in row order,
// the CTA adds the threads' sums in a fixed tree in shared memory, and thread 0 adds
// the total through the sink_grad region. Every sum has one order, fixed by the sizes:
// the gradients are the same bits run after run, with no atomics.
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

using namespace mlir;
using namespace mlir::tmix;

namespace {

constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = kWarps * kWarpThreads;

} // namespace

FailureOr<SmallVector<SmallVector<unsigned>>>
tmix::pairOwnedParams(AttentionGradOp part) {
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
  for (int64_t argument : part.getParamArgs()) {
    auto tensor = dyn_cast<SpecTensorType>(types[argument]);
    std::optional<SmallVector<unsigned>> owner;
    bool pairOwned = tensor && tensor.getRank() == 4;
    scoreParams.walk([&](AccumulateOp accumulate) {
      if (!pairOwned ||
          cast<BlockArgument>(accumulate.getTarget()).getArgNumber() != argument)
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

std::string tmix::gpuParamsPartLimit(AttentionGradOp part) {
  std::string perPair = ": their terms per pair need a sum in one order without atomics, "
                        "which the GPU kernels do not have yet";
  if (findStatement<ScaleGradOp>(part))
    return "the gradients of float arguments read in scale (part \"params\") run on the "
           "CPU only so far" +
           perPair;
  if (!findStatement<ScoreParamGradOp>(part))
    return "";
  if (findStatement<SinkGradOp>(part))
    return "the gradients of float arguments read in score and in sink together (part "
           "\"params\") run on the CPU only so far";
  if (failed(pairOwnedParams(part)))
    return "the gradients of float arguments read in score (part \"params\") run on the "
           "CPU only so far, but for pair biases read at exactly b, h, i and j of their "
           "[B, H, N, M] (one element per pair)" +
           perPair;
  return "";
}

LogicalResult tmix::lowerSinkGradKernel(AttentionGradOp part,
                                        gpu::GPUModuleOp gpuModule) {
  SinkGradOp sinkGrad = findStatement<SinkGradOp>(part);
  SinkOp sink = findStatement<SinkOp>(part);
  if (!sinkGrad || !sink)
    return part.emitOpError("has no tmix.sink_grad: nothing for part \"params\" to sum");

  ArrayRef<Type> types = part.getSpecArgTypes();
  ArrayRef<Attribute> vDims = cast<SpecTensorType>(types[2]).getDims();
  MLIRContext *context = part.getContext();
  KernelBuilder kb(part, paramsGrid(part));
  ImplicitLocOpBuilder &b = kb.builder();
  AttentionGradOperands operands = readAttentionGradOperands(kb, part);
  Value zero = kb.index(0), one = kb.index(1);
  Value numDV = kb.dimValue(vDims[3]);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, zero);
  auto onLeader = [&](function_ref<void()> body) {
    kb.ifElse(
        leader, {},
        [&] {
          body();
          return SmallVector<Value>{};
        },
        [] { return SmallVector<Value>{}; });
  };
  auto shared = gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
  SharedMemoryViews views(b);
  Value sums = views.view(
      MemRefType::get({kThreads}, b.getF32Type(), MemRefLayoutAttrInterface(), shared));

  ParamsProgram program = readParamsProgram(kb, part);

  // The slices the CTA owns start at 0 (thread 0 writes them, and adds to them below).
  ArrayRef<int64_t> params = part.getParamArgs();
  onLeader([&] {
    for (unsigned param = 0; param < params.size(); ++param) {
      Value out = kb.resultMemRef(param);
      program.forEachOwned(kb, part, param, out, [&](ValueRange at) {
        memref::StoreOp::create(b, kb.f32(0.0), out, at);
      });
    }
  });

  auto exp2 = [](ImplicitLocOpBuilder &b, Value x) { return warp::exp2Approx(b, x); };
  kb.loop(program.begin[0], program.end[0], one, {}, [&](Value batch, ValueRange) {
    kb.loop(program.begin[1], program.end[1], one, {}, [&](Value head, ValueRange) {
      Value b64 = kb.toI64(batch), h64 = kb.toI64(head);
      Value sinkLog2 = sinkLogit(kb, sink, b64, h64);
      Value own =
          kb.loop(tid, operands.numN, kb.index(kThreads), {kb.f32(0.0)},
                  [&](Value i, ValueRange acc) {
                    Value lseLog2 = arith::MulFOp::create(
                        b, kb.loadF32(operands.lse, {batch, head, i}), kb.f32(kLog2e));
                    Value delta = outputDelta(kb, operands, batch, head, i, numDV);
                    Value term = sinkGradTerm(b, sinkLog2, lseLog2, delta, exp2);
                    return SmallVector<Value>{arith::AddFOp::create(b, acc[0], term)};
                  })[0];
      memref::StoreOp::create(b, own, sums, tid);
      gpu::BarrierOp::create(b);
      // sums[t] += sums[t + stride] for t < stride, halving: a fixed tree.
      for (int64_t stride = kThreads / 2; stride >= 1; stride /= 2) {
        Value lower =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tid, kb.index(stride));
        kb.ifElse(
            lower, {},
            [&] {
              Value other = arith::AddIOp::create(b, tid, kb.index(stride));
              Value sum = arith::AddFOp::create(b, memref::LoadOp::create(b, sums, tid),
                                                memref::LoadOp::create(b, sums, other));
              memref::StoreOp::create(b, sum, sums, tid);
              return SmallVector<Value>{};
            },
            [] { return SmallVector<Value>{}; });
        gpu::BarrierOp::create(b);
      }
      onLeader([&] {
        Value total = memref::LoadOp::create(b, sums, zero);
        // The CTA owns the slices it adds to: the element at each param's owned dims.
        inlineParamGradRegion(
            kb, sinkGrad.getBody(), {b64, h64, arith::NegFOp::create(b, total)},
            [&](unsigned argument) {
              Value out = kb.resultMemRef(llvm::find(params, argument) - params.begin());
              if (isa<SpecTensorType>(types[argument]))
                return ParamGradTarget{out, {}};
              return ParamGradTarget{out, {zero}};
            });
      });
      // Thread 0 reads sums[0] before any thread writes the next (b, h)'s.
      gpu::BarrierOp::create(b);
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });

  // The schedule attribute records the CTA's shape (the grad kernels' blocks, 4 warps).
  auto schedule = AttentionScheduleAttr::get(context, 64, 64, 0, 0, kWarps, 1);
  moveProgramToKernel(kb.function(), gpuModule, {kThreads, views.bytes(), schedule, {}});
  return success();
}
