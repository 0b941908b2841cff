//===- WarpMma.cpp - Warp-level tensor-core vocabulary for sm_80 ----------===//

#include "codegen/nvidia/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace {
constexpr int64_t kM = 16, kN = 8, kK = 16;
constexpr int32_t kLanes = 32;
} // namespace

Value tmix::warp::ldmatrixX4(ImplicitLocOpBuilder &b, Type element, Value tile,
                             ValueRange indices, bool transpose) {
  return nvgpu::LdMatrixOp::create(b, VectorType::get({4, 2}, element), tile, indices,
                                   transpose, /*numTiles=*/4);
}

Value tmix::warp::fragmentPair(ImplicitLocOpBuilder &b, Value x4, int64_t half) {
  return vector::ShuffleOp::create(b, x4, x4, ArrayRef<int64_t>{2 * half, 2 * half + 1});
}

Value tmix::warp::mmaM16N8K16(ImplicitLocOpBuilder &b, Value a, Value bFragment, Value c) {
  Type element = cast<VectorType>(a.getType()).getElementType();
  if (element.isF16())
    return nvgpu::MmaSyncOp::create(b, a, bFragment, c, ArrayRef<int64_t>{kM, kN, kK});
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto words = [&](Value fragment, int64_t count) {
    SmallVector<Value> out;
    for (int64_t index = 0; index < count; ++index)
      out.push_back(LLVM::BitcastOp::create(
          b, i32, vector::ExtractOp::create(b, fragment, ArrayRef<int64_t>{index})));
    return out;
  };
  SmallVector<Value> cs;
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t col = 0; col < 2; ++col)
      cs.push_back(vector::ExtractOp::create(b, c, ArrayRef<int64_t>{row, col}));
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, resultType, words(a, 4), words(bFragment, 2), cs, ArrayRef<int64_t>{kM, kN, kK},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value> ds;
  for (int64_t index = 0; index < 4; ++index)
    ds.push_back(LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{index}));
  return vector::FromElementsOp::create(b, c.getType(), ds);
}

static Value inlinePtx(ImplicitLocOpBuilder &b, StringRef code, Value x) {
  return NVVM::InlinePtxOp::create(b, TypeRange{b.getF32Type()}, ValueRange{x},
                                   ValueRange{}, code, Value())
      ->getResult(0);
}

Value tmix::warp::exp2Approx(ImplicitLocOpBuilder &b, Value x) {
  return inlinePtx(b, "ex2.approx.ftz.f32 $0, $1;", x);
}

Value tmix::warp::log2Approx(ImplicitLocOpBuilder &b, Value x) {
  return inlinePtx(b, "lg2.approx.f32 $0, $1;", x);
}

Value tmix::warp::quadReduce(ImplicitLocOpBuilder &b, Value x, bool isMax) {
  for (int32_t offset : {1, 2}) {
    Value other = gpu::ShuffleOp::create(b, x, offset, kLanes, gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    x = isMax ? Value(arith::MaximumFOp::create(b, x, other))
              : Value(arith::AddFOp::create(b, x, other));
  }
  return x;
}
