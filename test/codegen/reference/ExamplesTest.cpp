//===- ExamplesTest.cpp - Every example evaluates -------------------------===//
//
// Runs the reference evaluator on every spec in examples/ with small sizes and
// deterministic inputs: no op of the frontend's output is unsupported, and the
// outputs hold no NaN (lse may be -inf for a fully masked row, o never is).
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestUtils.h"

#include "codegen/reference/ReferenceEvaluator.h"
#include "dialect/DimList.h"
#include "dialect/TmixOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tmix;
using namespace tmix::testing;

namespace {

/// Every size symbol is bound to this: small, and even for rope's head dim.
constexpr int64_t kSymbolSize = 2;

/// Deterministic inputs in [-1, 1) (a linear congruential generator).
class Inputs {
public:
  double next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / static_cast<double>(1ull << 53) * 2.0 - 1.0;
  }

private:
  uint64_t state = 1;
};

rt::DType dtypeOf(mlir::Type element) {
  if (element.isInteger(1))
    return rt::DType::Bool;
  if (element.isInteger(32))
    return rt::DType::I32;
  if (element.isInteger(64))
    return rt::DType::I64;
  if (element.isF16())
    return rt::DType::F16;
  if (element.isBF16())
    return rt::DType::BF16;
  return rt::DType::F32;
}

/// Bindings for `spec`: every symbol kSymbolSize, float tensors random, integer tensors
/// small non-negative counts (sequence lengths, document ids), scalars at their default.
Call bindExample(mlir::Operation *spec) {
  auto attention = llvm::dyn_cast<mlir::tmix::AttentionOp>(spec);
  auto recurrence = llvm::dyn_cast<mlir::tmix::RecurrenceOp>(spec);
  llvm::ArrayRef<mlir::Type> argTypes =
      attention ? attention.getSpecArgTypes() : recurrence.getSpecArgTypes();
  mlir::ArrayAttr defaults =
      attention ? attention.getArgDefaults() : recurrence.getArgDefaults();
  Call call;
  Inputs inputs;
  for (auto [index, type] : llvm::enumerate(argTypes)) {
    auto tensorType = llvm::dyn_cast<mlir::tmix::SpecTensorType>(type);
    if (!tensorType) {
      // A scalar takes its default (1 without one).
      mlir::Attribute value = defaults[index];
      if (auto floatAttr = llvm::dyn_cast<mlir::FloatAttr>(value))
        call.scalar(floatAttr.getValueAsDouble());
      else if (auto intAttr = llvm::dyn_cast<mlir::IntegerAttr>(value))
        call.scalar(static_cast<double>(intAttr.getValue().getSExtValue()));
      else
        call.scalar(1.0);
      continue;
    }
    std::vector<int64_t> shape;
    for (unsigned dim = 0; dim < tensorType.getRank(); ++dim) {
      std::optional<int64_t> literal = tensorType.getStaticSize(dim);
      // `N + 1`, the offsets of packed sequences: one more than the symbol.
      std::optional<mlir::tmix::SymbolicDim> symbolic;
      if (auto spelling = llvm::dyn_cast<mlir::StringAttr>(tensorType.getDims()[dim]))
        symbolic = mlir::tmix::splitSymbolicDim(spelling.getValue());
      shape.push_back(literal ? *literal : kSymbolSize + (symbolic ? symbolic->offset : 0));
      if (!literal)
        call.size(tensorType.getSymbol(dim).str(), kSymbolSize);
    }
    rt::DType dtype = dtypeOf(tensorType.getElementType());
    rt::HostTensor tensor(dtype, shape);
    // Packed sequences' offsets split T evenly: 0, 1, ..., T (each of one step).
    bool offsets = recurrence && recurrence.getOffsetsArgument() == index;
    for (int64_t index = 0; index < tensor.numElements(); ++index)
      tensor.set(index, rt::isFloat(dtype) ? inputs.next()
                        : offsets          ? static_cast<double>(index)
                                           : static_cast<double>(index % 3));
    call.tensor(std::move(tensor));
  }
  return call;
}

TEST(ReferenceExamples, EveryExampleEvaluates) {
  std::error_code error;
  int evaluated = 0;
  for (llvm::sys::fs::directory_iterator it(TMIX_EXAMPLES_DIR, error), end;
       it != end && !error; it.increment(error)) {
    if (llvm::sys::path::extension(it->path()) != ".tmix")
      continue;
    SCOPED_TRACE(it->path());
    auto buffer = llvm::MemoryBuffer::getFile(it->path());
    ASSERT_TRUE(static_cast<bool>(buffer));
    SpecFixture fixture;
    mlir::Operation *spec = fixture.compile((*buffer)->getBuffer().str());
    ASSERT_NE(spec, nullptr);
    std::vector<rt::HostTensor> outputs = evaluate(spec, bindExample(spec));
    ASSERT_FALSE(outputs.empty());
    for (auto [index, output] : llvm::enumerate(outputs))
      for (int64_t element = 0; element < output.numElements(); ++element) {
        double value = output.get(element);
        ASSERT_FALSE(std::isnan(value)) << "output " << index << " element " << element;
        // Only lse (the second attention output) may be -inf: a fully masked row.
        if (index == 0 || llvm::isa<mlir::tmix::RecurrenceOp>(spec))
          ASSERT_TRUE(std::isfinite(value))
              << "output " << index << " element " << element;
      }
    ++evaluated;
  }
  EXPECT_FALSE(error) << error.message();
  EXPECT_GE(evaluated, 20) << "examples/ should hold every example spec";
}

} // namespace
