//===- ReferenceTestUtils.h - Helpers of the reference tests ----*- C++ -*-===//
//
// Compiles a spec from a string, builds bindings argument by argument and runs the
// reference evaluator, so that each test reads as the spec plus its hand-computed
// expectation.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TEST_CODEGEN_REFERENCE_REFERENCETESTUTILS_H
#define TMIX_TEST_CODEGEN_REFERENCE_REFERENCETESTUTILS_H

#include "runtime/Bindings.h"
#include "runtime/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace tmix::testing {

/// A row-major tensor of `shape` holding `values` (converted to `dtype`). F64 by
/// default, so that hand-computed values such as log(3) reach the evaluator exactly.
rt::HostTensor makeTensor(std::vector<int64_t> shape, std::vector<double> values,
                          rt::DType dtype = rt::DType::F64);

/// Bindings built one argument at a time, in the spec's argument order.
class Call {
public:
  Call &tensor(rt::HostTensor value);
  Call &scalar(double value);
  Call &size(const std::string &symbol, int64_t value);
  const rt::Bindings &bindings() const { return bindings_; }

private:
  rt::Bindings bindings_;
};

/// Owns a context and the module of one compiled source.
class SpecFixture {
public:
  SpecFixture();
  /// Compiles `source` (one spec) with the frontend and verifies it; returns the spec
  /// op, or null after reporting a test failure.
  mlir::Operation *compile(const std::string &source);
  /// Parses spec-level MLIR text (for IR the frontend never emits).
  mlir::Operation *parseIR(const std::string &text);

private:
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// Runs the reference evaluator; reports a test failure and returns no outputs on an
/// error.
std::vector<rt::HostTensor> evaluate(mlir::Operation *spec, const Call &call);

/// Runs the reference evaluator expecting an error; returns its message ("" when the
/// evaluation succeeded).
std::string evaluateError(mlir::Operation *spec, const Call &call);

/// The row-major linear index of `index` in `tensor`.
int64_t linearIndex(const rt::HostTensor &tensor, std::initializer_list<int64_t> index);

/// Element `index` of `tensor`.
double at(const rt::HostTensor &tensor, std::initializer_list<int64_t> index);

} // namespace tmix::testing

#endif // TMIX_TEST_CODEGEN_REFERENCE_REFERENCETESTUTILS_H
