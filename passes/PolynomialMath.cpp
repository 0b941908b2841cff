//===- PolynomialMath.cpp - Inline polynomials for transcendental math ----===//
//
// Libm calls in an inner loop stop LLVM's vectoriser and cost a call per element; the
// upstream polynomial approximations are inline arithmetic instead.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <array>

namespace mlir::tmix {
#define GEN_PASS_DEF_POLYNOMIALMATH
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;

namespace {

/// f32 exp2 as 2^n 2^f, n = floor(x + 1/2), f = x - n in [-1/2, 1/2]: a degree-6
/// polynomial for 2^f (p(0) = 1 and the rest fitted in float64 by least squares of
/// the relative error p(f) / 2^f - 1 on 200001 points of [-1/2, 1/2], then rounded to
/// f32: 1.24 ulp at most in f32 Horner steps without fma), times 2^n built in the
/// exponent bits. The softmax's probabilities take one exp2 per pair: this is half the
/// instructions of exp2 as exp(x ln 2) (the upstream expansion, with its two-step
/// reduction by ln 2 and clamps). The coefficients are doubled and the exponent is
/// n - 1, so that 2^n up to 2^128 (x up to 128) needs no second scaling: x >= 128
/// gives inf, x < -125.5 gives 0 (the true value is below 2^-125.5 ~ 2e-38), NaN
/// stays NaN.
struct Exp2Polynomial : OpRewritePattern<math::Exp2Op> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(math::Exp2Op op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!getElementTypeOrSelf(type).isF32())
      return rewriter.notifyMatchFailure(op, "exp2 of f32 only");
    auto shaped = dyn_cast<ShapedType>(type);
    Type intType =
        shaped ? Type(shaped.clone(rewriter.getI32Type())) : rewriter.getI32Type();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto constant = [&](float value) -> Value {
      Attribute attr = rewriter.getF32FloatAttr(value);
      if (shaped)
        attr = DenseElementsAttr::get(shaped, attr);
      return arith::ConstantOp::create(b, type, cast<TypedAttr>(attr));
    };
    auto intConstant = [&](int32_t value) -> Value {
      Attribute attr = rewriter.getI32IntegerAttr(value);
      if (shaped)
        attr = DenseElementsAttr::get(cast<ShapedType>(intType), attr);
      return arith::ConstantOp::create(b, intType, cast<TypedAttr>(attr));
    };
    // Clamped by compares, so that NaN (no compare holds) passes through.
    auto clamp = [&](Value x, arith::CmpFPredicate beyond, float bound) -> Value {
      Value limit = constant(bound);
      Value out = arith::CmpFOp::create(b, beyond, x, limit);
      return arith::SelectOp::create(b, out, limit, x);
    };
    Value x = clamp(op.getOperand(), arith::CmpFPredicate::OLT, -126.0f);
    x = clamp(x, arith::CmpFPredicate::OGT, 128.0f);
    Value n = math::FloorOp::create(b, arith::AddFOp::create(b, x, constant(0.5f)));
    Value f = arith::SubFOp::create(b, x, n);
    // 2 * 2^f, highest power first.
    static constexpr std::array<float, 7> kTwiceCoefficients = {
        2 * 0.00015332507609855384f,
        2 * 0.0013394701527431607f,
        2 * 0.009618490934371948f,
        2 * 0.055503424257040024f,
        2 * 0.24022647738456726f,
        2 * 0.6931471824645996f,
        2 * 1.0f};
    Value p = constant(kTwiceCoefficients[0]);
    for (float coefficient : llvm::drop_begin(kTwiceCoefficients))
      p = math::FmaOp::create(b, p, f, constant(coefficient));
    // 2^(n - 1): n - 1 + 127 in the exponent field, 0 (the float 0) for n = -126.
    Value exponent = arith::AddIOp::create(b, arith::FPToSIOp::create(b, intType, n),
                                           intConstant(126));
    Value scale = arith::BitcastOp::create(
        b, type, arith::ShLIOp::create(b, exponent, intConstant(23)));
    rewriter.replaceOp(op, arith::MulFOp::create(b, p, scale));
    return success();
  }
};

struct PolynomialMath : tmix::impl::PolynomialMathBase<PolynomialMath> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // tmix's exp2 first (a higher benefit than the expansion to exp, for f32); exp2 of
    // other types still goes through exp.
    patterns.add<Exp2Polynomial>(&getContext(), /*benefit=*/2);
    math::populateExpansionPatterns(patterns, {"exp2"});
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
