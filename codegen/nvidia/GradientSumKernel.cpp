//===- GradientSumKernel.cpp - Summing a recurrence adjoint's shared gradients --===//

#include "codegen/nvidia/GradientSumKernel.h"

#include "runtime/cuda/GpuManifest.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace {

/// The plan's words (rt::GradientSum::encode): [rank, summed rank, sizes,
/// gradientStrides, partialStrides, summedSizes, summedStrides], as index values.
class PlanWords {
public:
  PlanWords(ImplicitLocOpBuilder &b, Value plan) : b(b), plan(plan) {
    rank = word(index(0));
    summedRank = word(index(1));
  }
  Value index(int64_t value) { return arith::ConstantIndexOp::create(b, value); }
  Value word(Value at) {
    Value loaded = memref::LoadOp::create(b, plan, at);
    return arith::IndexCastOp::create(b, b.getIndexType(), loaded);
  }
  /// Entry `dim` of list `list` (0: sizes, 1: gradient strides, 2: partial strides) of
  /// the argument's dims, and of the summed dims' (0: sizes, 1: strides).
  Value argumentList(int64_t list, Value dim) {
    return word(add(add(index(2), mul(index(list), rank)), dim));
  }
  Value summedList(int64_t list, Value dim) {
    Value start = add(index(2), mul(index(3), rank));
    return word(add(add(start, mul(index(list), summedRank)), dim));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }

  Value rank, summedRank;

private:
  ImplicitLocOpBuilder &b;
  Value plan;
};

} // namespace

gpu::GPUFuncOp mlir::tmix::getOrCreateGradientSumKernel(gpu::GPUModuleOp gpuModule) {
  if (auto existing = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          gpuModule,
          StringAttr::get(gpuModule.getContext(), ::tmix::rt::kGradientSumKernel)))
    return existing;
  MLIRContext *ctx = gpuModule.getContext();
  ImplicitLocOpBuilder b(gpuModule.getLoc(), ctx);
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto f32s = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
  auto words = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
  auto kernel = gpu::GPUFuncOp::create(b, ::tmix::rt::kGradientSumKernel,
                                       FunctionType::get(ctx, {f32s, f32s, words}, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  int32_t threads = static_cast<int32_t>(::tmix::rt::kGradientSumThreads);
  kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({threads, 1, 1}));
  Block &entry = kernel.getBody().front();
  Value partial = entry.getArgument(0), gradient = entry.getArgument(1),
        plan = entry.getArgument(2);
  b.setInsertionPointToStart(&entry);
  PlanWords w(b, plan);
  Value zero = w.index(0), one = w.index(1);

  // This thread's element e, as its index over the argument's dims (row-major, the
  // last dim first): its partial's first term and its place in the gradient. What is
  // left of e after the dims is 0 exactly when e is below the count.
  Value element = w.add(w.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                              w.index(::tmix::rt::kGradientSumThreads)),
                        gpu::ThreadIdOp::create(b, gpu::Dimension::x));
  auto walk = scf::ForOp::create(b, zero, w.rank, one, ValueRange{element, zero, zero});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(walk.getBody());
    Value dim = arith::SubIOp::create(b, arith::SubIOp::create(b, w.rank, one),
                                      walk.getInductionVar());
    Value left = walk.getRegionIterArg(0), size = w.argumentList(0, dim);
    Value at = arith::RemUIOp::create(b, left, size);
    Value base = w.add(walk.getRegionIterArg(1), w.mul(at, w.argumentList(2, dim)));
    Value place = w.add(walk.getRegionIterArg(2), w.mul(at, w.argumentList(1, dim)));
    scf::YieldOp::create(b,
                         ValueRange{arith::DivUIOp::create(b, left, size), base, place});
  }
  Value inRange =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, walk.getResult(0), zero);
  auto ifInRange = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifInRange.thenBlock());
  Value terms = one;
  {
    auto count = scf::ForOp::create(b, zero, w.summedRank, one, ValueRange{one});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(count.getBody());
    scf::YieldOp::create(
        b, w.mul(count.getRegionIterArg(0), w.summedList(0, count.getInductionVar())));
    terms = count.getResult(0);
  }
  // The terms in the plan's order (the last summed dim fastest), added in double.
  Value start = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  auto sum = scf::ForOp::create(b, zero, terms, one, ValueRange{start});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(sum.getBody());
    auto offset = scf::ForOp::create(
        b, zero, w.summedRank, one, ValueRange{sum.getInductionVar(), walk.getResult(1)});
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(offset.getBody());
      Value dim = arith::SubIOp::create(b, arith::SubIOp::create(b, w.summedRank, one),
                                        offset.getInductionVar());
      Value left = offset.getRegionIterArg(0), size = w.summedList(0, dim);
      Value at = arith::RemUIOp::create(b, left, size);
      scf::YieldOp::create(b, ValueRange{arith::DivUIOp::create(b, left, size),
                                         w.add(offset.getRegionIterArg(1),
                                               w.mul(at, w.summedList(1, dim)))});
    }
    Value term = memref::LoadOp::create(b, partial, offset.getResult(1));
    Value wide = arith::ExtFOp::create(b, b.getF64Type(), term);
    scf::YieldOp::create(
        b, arith::AddFOp::create(b, sum.getRegionIterArg(0), wide).getResult());
  }
  Value narrow = arith::TruncFOp::create(b, b.getF32Type(), sum.getResult(0));
  memref::StoreOp::create(b, narrow, gradient, walk.getResult(2));
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b);
  return kernel;
}
