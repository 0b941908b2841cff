//===- ReferenceTestUtils.cpp - Helpers of the reference tests ------------===//
//
// Spec compilation, bindings and evaluation wrappers that turn errors into test
// failures with their messages.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestUtils.h"

#include "codegen/reference/ReferenceEvaluator.h"
#include "frontend/Frontend.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace tmix;
using namespace tmix::testing;

rt::HostTensor tmix::testing::makeTensor(std::vector<int64_t> shape,
                                         std::vector<double> values, rt::DType dtype) {
  rt::HostTensor tensor(dtype, std::move(shape));
  EXPECT_EQ(static_cast<int64_t>(values.size()), tensor.numElements())
      << "test tensor has the wrong number of values";
  for (size_t index = 0;
       index < values.size() && static_cast<int64_t>(index) < tensor.numElements();
       ++index)
    tensor.set(static_cast<int64_t>(index), values[index]);
  return tensor;
}

Call &Call::tensor(rt::HostTensor value) {
  bindings_.tensors.push_back(std::move(value));
  bindings_.scalars.push_back(0.0);
  return *this;
}

Call &Call::scalar(double value) {
  bindings_.tensors.emplace_back();
  bindings_.scalars.push_back(value);
  return *this;
}

Call &Call::size(const std::string &symbol, int64_t value) {
  bindings_.sizes[symbol] = value;
  return *this;
}

SpecFixture::SpecFixture() { loadFrontendDialects(context); }

/// The single spec op of a module, or null after a test failure.
static mlir::Operation *singleSpec(mlir::ModuleOp module) {
  if (!module) {
    ADD_FAILURE() << "the source did not compile";
    return nullptr;
  }
  if (mlir::failed(mlir::verify(module))) {
    ADD_FAILURE() << "the compiled module does not verify";
    return nullptr;
  }
  mlir::Block &body = module.getBodyRegion().front();
  if (body.empty()) {
    ADD_FAILURE() << "the module holds no spec";
    return nullptr;
  }
  return &body.front();
}

mlir::Operation *SpecFixture::compile(const std::string &source) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "test.tmix"),
                               llvm::SMLoc());
  module = compileSpecs(sourceMgr, context);
  return singleSpec(module.get());
}

mlir::Operation *SpecFixture::parseIR(const std::string &text) {
  module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  return singleSpec(module.get());
}

std::vector<rt::HostTensor> tmix::testing::evaluate(mlir::Operation *spec,
                                                    const Call &call) {
  if (!spec)
    return {};
  auto outputs = evaluateReference(spec, call.bindings());
  if (!outputs) {
    ADD_FAILURE() << llvm::toString(outputs.takeError());
    return {};
  }
  for (const rt::HostTensor &output : *outputs)
    EXPECT_EQ(output.dtype(), rt::DType::F64);
  return std::move(*outputs);
}

std::string tmix::testing::evaluateError(mlir::Operation *spec, const Call &call) {
  if (!spec)
    return "";
  auto outputs = evaluateReference(spec, call.bindings());
  if (outputs)
    return "";
  return llvm::toString(outputs.takeError());
}

int64_t tmix::testing::linearIndex(const rt::HostTensor &tensor,
                                   std::initializer_list<int64_t> index) {
  EXPECT_EQ(static_cast<int64_t>(index.size()), tensor.rank());
  int64_t linear = 0, dim = 0;
  for (int64_t each : index)
    linear = linear * tensor.shape()[dim++] + each;
  return linear;
}

double tmix::testing::at(const rt::HostTensor &tensor,
                         std::initializer_list<int64_t> index) {
  return tensor.get(linearIndex(tensor, index));
}
