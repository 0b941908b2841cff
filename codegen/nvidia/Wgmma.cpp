//===- Wgmma.cpp - Warpgroup tensor-core vocabulary for sm_90a -------------===//

#include "codegen/nvidia/Wgmma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <string>

using namespace mlir;

namespace {
/// Descriptor field values (PTX ISA, "Matrix Descriptor Format").
constexpr int kLeadingShift = 16;
constexpr int kStrideShift = 32;
constexpr int kSwizzleShift = 62;
constexpr uint64_t kSwizzle128B = 1;
constexpr uint64_t kAddressMask = 0x3FFFF; // 18 bits of shared address, 14 after >> 4

std::string elementName(Type element) { return element.isF16() ? "f16" : "bf16"; }

/// The inline asm of one wgmma with n / 2 f32 accumulator outputs, tied to inputs
/// (`$0` .. `$(n/2 - 1)`), then `operands` with `constraints`; `body` is the text
/// between the accumulator list and the end, with `%N` standing for operand N of
/// `operands` (renumbered after the outputs).
SmallVector<Value> wgmmaAsm(ImplicitLocOpBuilder &b, int64_t n, StringRef shapeAndTypes,
                            ArrayRef<Value> operands, ArrayRef<StringRef> constraints,
                            StringRef arguments, Value scaleD, ArrayRef<Value> acc,
                            bool accumulate) {
  int64_t outputs = n / 2;
  Type f32 = b.getF32Type();
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" +
                     std::to_string(outputs + operands.size()) + ", 0;\n" +
                     shapeAndTypes.str() + " {";
  for (int64_t index = 0; index < outputs; ++index)
    text += (index ? ", $" : "$") + std::to_string(index);
  text += "}, ";
  // Operand references: %N -> $(outputs + N).
  for (size_t at = 0; at < arguments.size(); ++at) {
    if (arguments[at] == '%' && at + 1 < arguments.size() && isdigit(arguments[at + 1])) {
      size_t end = at + 1;
      while (end < arguments.size() && isdigit(arguments[end]))
        ++end;
      text += "$" + std::to_string(outputs + std::stoi(arguments.substr(at + 1, end - at - 1).str()));
      at = end - 1;
      continue;
    }
    text += arguments[at];
  }
  text += ";\n}\n";

  std::string constraintText;
  for (int64_t index = 0; index < outputs; ++index)
    constraintText += "=f,";
  for (StringRef constraint : constraints)
    constraintText += constraint.str() + ",";
  constraintText += "r"; // scale-d
  SmallVector<Value> values(operands.begin(), operands.end());
  values.push_back(scaleD);
  // The accumulators are read-write: inputs tied to the outputs. Without accumulate
  // (scale-d = 0) the inputs are not read, so undefined values do.
  Value undef = LLVM::UndefOp::create(b, f32);
  for (int64_t index = 0; index < outputs; ++index) {
    constraintText += "," + std::to_string(index);
    values.push_back(accumulate ? Value(vector::ExtractOp::create(
                                      b, acc[index / 4],
                                      ArrayRef<int64_t>{(index / 2) % 2, index % 2}))
                                : undef);
  }
  SmallVector<Type> resultTypes(outputs, f32);
  auto structType = LLVM::LLVMStructType::getLiteral(b.getContext(), resultTypes);
  // Side effects: the instruction reads shared memory asynchronously and must stay
  // between its wgmma.fence and wgmma.commit_group.
  auto op = LLVM::InlineAsmOp::create(
      b, structType, values, b.getStringAttr(text), b.getStringAttr(constraintText),
      b.getUnitAttr(), UnitAttr(),
      LLVM::TailCallKindAttr::get(b.getContext(), LLVM::tailcallkind::TailCallKind::None),
      LLVM::AsmDialectAttr(), ArrayAttr());
  auto tileType = VectorType::get({2, 2}, f32);
  SmallVector<Value> tiles;
  for (int64_t nt = 0; nt < n / 8; ++nt) {
    SmallVector<Value> elements;
    for (int64_t i = 0; i < 4; ++i)
      elements.push_back(LLVM::ExtractValueOp::create(b, op.getResult(0),
                                                      ArrayRef<int64_t>{4 * nt + i}));
    tiles.push_back(vector::FromElementsOp::create(b, tileType, elements));
  }
  return tiles;
}

Value i32Constant(ImplicitLocOpBuilder &b, int32_t value) {
  return arith::ConstantIntOp::create(b, b.getI32Type(), value);
}
} // namespace

Value tmix::wgmma::sharedDescriptor(ImplicitLocOpBuilder &b, Value address,
                                    int64_t leadingBytes, int64_t strideBytes) {
  Type i64 = b.getI64Type();
  auto constant = [&](uint64_t value) {
    return arith::ConstantIntOp::create(b, i64, static_cast<int64_t>(value));
  };
  Value start = arith::ShRUIOp::create(
      b, arith::AndIOp::create(b, address, constant(kAddressMask)), constant(4));
  uint64_t fields = (static_cast<uint64_t>(leadingBytes >> 4) << kLeadingShift) |
                    (static_cast<uint64_t>(strideBytes >> 4) << kStrideShift) |
                    (kSwizzle128B << kSwizzleShift);
  return arith::OrIOp::create(b, start, constant(fields));
}

SmallVector<Value> tmix::wgmma::mmaSharedShared(ImplicitLocOpBuilder &b, Type element,
                                                int64_t n, Value descA, Value descB,
                                                ArrayRef<Value> acc, bool accumulate) {
  std::string shape = "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32." +
                      elementName(element) + "." + elementName(element);
  // d, a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-a (0: K-major),
  // imm-trans-b (0: K-major).
  return wgmmaAsm(b, n, shape, {descA, descB}, {"l", "l"}, "%0, %1, p, 1, 1, 0, 0",
                  i32Constant(b, accumulate ? 1 : 0), acc, accumulate);
}

SmallVector<Value> tmix::wgmma::mmaRegisterShared(ImplicitLocOpBuilder &b, Type element,
                                                  int64_t n, ArrayRef<Value> aWords,
                                                  Value descB, ArrayRef<Value> acc,
                                                  bool transposeB) {
  std::string shape = "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32." +
                      elementName(element) + "." + elementName(element);
  // d, {a0, a1, a2, a3}, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-b.
  std::string arguments =
      std::string("{%0, %1, %2, %3}, %4, p, 1, 1, ") + (transposeB ? "1" : "0");
  SmallVector<Value> operands(aWords.begin(), aWords.end());
  operands.push_back(descB);
  return wgmmaAsm(b, n, shape, operands, {"r", "r", "r", "r", "l"}, arguments,
                  i32Constant(b, 1), acc, /*accumulate=*/true);
}

Value tmix::wgmma::packWord(ImplicitLocOpBuilder &b, Value pair) {
  return LLVM::BitcastOp::create(b, b.getI32Type(), pair);
}
