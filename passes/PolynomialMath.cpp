//===- PolynomialMath.cpp - Inline polynomials for transcendental math ----===//
//
// Libm calls in an inner loop stop LLVM's vectoriser and cost a call per element; the
// upstream polynomial approximations are inline arithmetic instead.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_POLYNOMIALMATH
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;

namespace {
struct PolynomialMath : tmix::impl::PolynomialMathBase<PolynomialMath> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    math::populateExpansionPatterns(patterns, {"exp2"});
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
