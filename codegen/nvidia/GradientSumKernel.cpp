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

  /// Decomposes `linear` row-major (the last dim fastest) over the sizes of the
  /// argument's dims (`summed` false) or of the summed dims: what is left of it (0
  /// exactly when it was below their product), then per (list, start) of `strides`
  /// start + sum_d index[d] * list[d] over the same dims.
  SmallVector<Value> walk(bool summed, Value linear,
                          ArrayRef<std::pair<int64_t, Value>> strides) {
    Value dims = summed ? summedRank : rank;
    auto entry = [&](int64_t list, Value dim) {
      return summed ? summedList(list, dim) : argumentList(list, dim);
    };
    SmallVector<Value> inits = {linear};
    for (const auto &[list, start] : strides)
      inits.push_back(start);
    Value one = index(1);
    auto loop = scf::ForOp::create(b, index(0), dims, one, inits);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value dim = arith::SubIOp::create(b, arith::SubIOp::create(b, dims, one),
                                      loop.getInductionVar());
    Value left = loop.getRegionIterArg(0), size = entry(0, dim);
    Value at = arith::RemUIOp::create(b, left, size);
    SmallVector<Value> next = {arith::DivUIOp::create(b, left, size)};
    for (auto [position, stride] : llvm::enumerate(strides))
      next.push_back(
          add(loop.getRegionIterArg(position + 1), mul(at, entry(stride.first, dim))));
    scf::YieldOp::create(b, next);
    return SmallVector<Value>(loop.getResults());
  }

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

  // This thread's element e of the gradient, as its index over the argument's dims:
  // its first term in the partial and its place in the gradient (lists 2 and 1).
  Value element = w.add(w.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                              w.index(::tmix::rt::kGradientSumThreads)),
                        gpu::ThreadIdOp::create(b, gpu::Dimension::x));
  SmallVector<Value> at = w.walk(/*summed=*/false, element, {{2, zero}, {1, zero}});
  Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, at[0], zero);
  auto ifInRange = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifInRange.thenBlock());
  auto count = scf::ForOp::create(b, zero, w.summedRank, one, ValueRange{one});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(count.getBody());
    scf::YieldOp::create(
        b, w.mul(count.getRegionIterArg(0), w.summedList(0, count.getInductionVar())));
  }
  // The terms in the plan's order (the last summed dim fastest), added in double.
  Value start = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  auto sum = scf::ForOp::create(b, zero, count.getResult(0), one, ValueRange{start});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(sum.getBody());
    Value offset = w.walk(/*summed=*/true, sum.getInductionVar(), {{1, at[1]}})[1];
    Value term = memref::LoadOp::create(b, partial, offset);
    Value wide = arith::ExtFOp::create(b, b.getF64Type(), term);
    scf::YieldOp::create(
        b, arith::AddFOp::create(b, sum.getRegionIterArg(0), wide).getResult());
  }
  Value narrow = arith::TruncFOp::create(b, b.getF32Type(), sum.getResult(0));
  memref::StoreOp::create(b, narrow, gradient, at[2]);
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b);
  return kernel;
}
