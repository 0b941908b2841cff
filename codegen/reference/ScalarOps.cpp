//===- ScalarOps.cpp - arith and math ops of the reference evaluator ------===//
//
// The scalar ops the frontend emits, evaluated in double (every float type) and in
// 64-bit two's complement (every integer type, results wrapped to their width), with
// the semantics of upstream arith and math.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/RegionInterpreter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using ::tmix::reference::RefValue;

namespace {

using Result = std::optional<llvm::Expected<RefValue>>;

/// An integer operand as a signed 64-bit value. i1 is signed in arith, so `true` is -1
/// (as extsi and the signed predicates see it).
int64_t signedValue(const RefValue &value) {
  if (value.kind == RefValue::Kind::Bool)
    return value.b ? -1 : 0;
  return value.i;
}

/// An integer operand of `type` as an unsigned value of its width.
uint64_t unsignedValue(const RefValue &value, Type type) {
  unsigned width = type.getIntOrFloatBitWidth();
  uint64_t bits = static_cast<uint64_t>(signedValue(value));
  return width >= 64 ? bits : bits & ((uint64_t{1} << width) - 1);
}

/// `value` wrapped to the width of the integer `type`, as arith's results are.
RefValue makeInteger(Type type, uint64_t value) {
  unsigned width = type.getIntOrFloatBitWidth();
  if (width == 1)
    return RefValue::ofBool(value & 1);
  if (width < 64) {
    // Sign-extend the low `width` bits.
    uint64_t sign = uint64_t{1} << (width - 1);
    value &= (sign << 1) - 1;
    value = (value ^ sign) - sign;
  }
  return RefValue::ofInt(static_cast<int64_t>(value));
}

/// arith.minimumf / maximumf: NaN propagates and -0 < +0.
double minimumF(double a, double b, bool isMax) {
  if (std::isnan(a) || std::isnan(b))
    return std::numeric_limits<double>::quiet_NaN();
  if (a == b) // equal, or zeros of different signs
    return std::signbit(a) == isMax ? b : a;
  return isMax ? std::max(a, b) : std::min(a, b);
}

bool compareF(arith::CmpFPredicate predicate, double a, double b) {
  bool unordered = std::isnan(a) || std::isnan(b);
  using P = arith::CmpFPredicate;
  switch (predicate) {
  case P::AlwaysFalse: return false;
  case P::OEQ: return !unordered && a == b;
  case P::OGT: return !unordered && a > b;
  case P::OGE: return !unordered && a >= b;
  case P::OLT: return !unordered && a < b;
  case P::OLE: return !unordered && a <= b;
  case P::ONE: return !unordered && a != b;
  case P::ORD: return !unordered;
  case P::UEQ: return unordered || a == b;
  case P::UGT: return unordered || a > b;
  case P::UGE: return unordered || a >= b;
  case P::ULT: return unordered || a < b;
  case P::ULE: return unordered || a <= b;
  case P::UNE: return unordered || a != b;
  case P::UNO: return unordered;
  case P::AlwaysTrue: return true;
  }
  return false;
}

bool compareI(arith::CmpIPredicate predicate, const RefValue &lhs, const RefValue &rhs,
              Type type) {
  int64_t a = signedValue(lhs), b = signedValue(rhs);
  uint64_t ua = unsignedValue(lhs, type), ub = unsignedValue(rhs, type);
  using P = arith::CmpIPredicate;
  switch (predicate) {
  case P::eq: return a == b;
  case P::ne: return a != b;
  case P::slt: return a < b;
  case P::sle: return a <= b;
  case P::sgt: return a > b;
  case P::sge: return a >= b;
  case P::ult: return ua < ub;
  case P::ule: return ua <= ub;
  case P::ugt: return ua > ub;
  case P::uge: return ua >= ub;
  }
  return false;
}

/// arith.floordivsi: the quotient rounded toward negative infinity.
llvm::Expected<RefValue> floorDiv(Type type, int64_t a, int64_t b) {
  if (b == 0) // defined as 0 (docs/language.md), as the kernels do
    return makeInteger(type, 0);
  if (a == std::numeric_limits<int64_t>::min() && b == -1)
    return makeInteger(type, static_cast<uint64_t>(a)); // overflows: wraps
  int64_t quotient = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0)))
    --quotient;
  return makeInteger(type, static_cast<uint64_t>(quotient));
}

/// arith.remsi: C's remainder, with the sign of the dividend.
llvm::Expected<RefValue> remainder(Type type, int64_t a, int64_t b) {
  if (b == 0) // defined as 0 (docs/language.md), as the kernels do
    return makeInteger(type, 0);
  if (b == -1)
    return makeInteger(type, 0); // avoids the INT64_MIN % -1 overflow
  return makeInteger(type, static_cast<uint64_t>(a % b));
}

} // namespace

namespace tmix::reference {

Result evaluateScalarOp(Operation &op, llvm::ArrayRef<RefValue> x) {
  for (const RefValue &operand : x)
    if (operand.kind == RefValue::Kind::Tensor)
      return Result(makeError("'" + op.getName().getStringRef() +
                              "' applied to a vector or matrix"));
  Type type = op.getNumResults() == 1 ? op.getResult(0).getType() : Type();
  auto f = [&](unsigned index) { return x[index].asDouble(); };
  auto u = [&](unsigned index) { return static_cast<uint64_t>(signedValue(x[index])); };
  auto fl = [](double value) { return Result(RefValue::ofFloat(value)); };
  auto in = [&](uint64_t value) { return Result(makeInteger(type, value)); };

  return llvm::TypeSwitch<Operation *, Result>(&op)
      .Case([&](arith::ConstantOp constant) -> Result {
        Attribute value = constant.getValue();
        if (auto floatAttr = llvm::dyn_cast<FloatAttr>(value))
          return fl(floatAttr.getValueAsDouble());
        if (auto intAttr = llvm::dyn_cast<IntegerAttr>(value))
          return in(intAttr.getValue().getSExtValue());
        return Result(makeError("unsupported constant in 'arith.constant'"));
      })
      // Integer arithmetic wraps, as in arith (computed unsigned to avoid C++ UB).
      .Case([&](arith::AddIOp) { return in(u(0) + u(1)); })
      .Case([&](arith::SubIOp) { return in(u(0) - u(1)); })
      .Case([&](arith::MulIOp) { return in(u(0) * u(1)); })
      .Case([&](arith::FloorDivSIOp) {
        return Result(floorDiv(type, signedValue(x[0]), signedValue(x[1])));
      })
      .Case([&](arith::RemSIOp) {
        return Result(remainder(type, signedValue(x[0]), signedValue(x[1])));
      })
      .Case([&](arith::AndIOp) { return in(u(0) & u(1)); })
      .Case([&](arith::OrIOp) { return in(u(0) | u(1)); })
      .Case([&](arith::XOrIOp) { return in(u(0) ^ u(1)); })
      .Case([&](arith::MinSIOp) {
        return in(static_cast<uint64_t>(std::min(signedValue(x[0]), signedValue(x[1]))));
      })
      .Case([&](arith::MaxSIOp) {
        return in(static_cast<uint64_t>(std::max(signedValue(x[0]), signedValue(x[1]))));
      })
      .Case([&](arith::CmpIOp cmp) {
        return Result(RefValue::ofBool(
            compareI(cmp.getPredicate(), x[0], x[1], cmp.getLhs().getType())));
      })
      .Case([&](arith::ExtSIOp) { return in(u(0)); })
      .Case([&](arith::SIToFPOp) { return fl(static_cast<double>(signedValue(x[0]))); })
      // Floats: every float type is computed in double.
      .Case([&](arith::AddFOp) { return fl(f(0) + f(1)); })
      .Case([&](arith::SubFOp) { return fl(f(0) - f(1)); })
      .Case([&](arith::MulFOp) { return fl(f(0) * f(1)); })
      .Case([&](arith::DivFOp) { return fl(f(0) / f(1)); })
      .Case([&](arith::RemFOp) { return fl(std::fmod(f(0), f(1))); })
      .Case([&](arith::NegFOp) { return fl(-f(0)); })
      .Case([&](arith::ExtFOp) { return fl(f(0)); })
      .Case([&](arith::MinimumFOp) { return fl(minimumF(f(0), f(1), /*isMax=*/false)); })
      .Case([&](arith::MaximumFOp) { return fl(minimumF(f(0), f(1), /*isMax=*/true)); })
      .Case([&](arith::MinNumFOp) { return fl(std::fmin(f(0), f(1))); })
      .Case([&](arith::MaxNumFOp) { return fl(std::fmax(f(0), f(1))); })
      .Case([&](arith::CmpFOp cmp) {
        return Result(RefValue::ofBool(compareF(cmp.getPredicate(), f(0), f(1))));
      })
      .Case([&](arith::SelectOp) { return Result(x[0].b ? x[1] : x[2]); })
      .Case([&](math::ExpOp) { return fl(std::exp(f(0))); })
      .Case([&](math::Exp2Op) { return fl(std::exp2(f(0))); })
      .Case([&](math::LogOp) { return fl(std::log(f(0))); })
      .Case([&](math::Log2Op) { return fl(std::log2(f(0))); })
      .Case([&](math::Log1pOp) { return fl(std::log1p(f(0))); })
      .Case([&](math::ExpM1Op) { return fl(std::expm1(f(0))); })
      // In range by construction (the frontend's int() saturates first).
      .Case([&](arith::FPToSIOp) { return in(static_cast<uint64_t>(static_cast<int64_t>(f(0)))); })
      .Case([&](math::SqrtOp) { return fl(std::sqrt(f(0))); })
      .Case([&](math::RsqrtOp) { return fl(1.0 / std::sqrt(f(0))); })
      .Case([&](math::TanhOp) { return fl(std::tanh(f(0))); })
      .Case([&](math::AbsFOp) { return fl(std::fabs(f(0))); })
      .Case([&](math::FloorOp) { return fl(std::floor(f(0))); })
      .Case([&](math::CeilOp) { return fl(std::ceil(f(0))); })
      .Case([&](math::AbsIOp) {
        int64_t value = signedValue(x[0]);
        return in(value < 0 ? uint64_t{0} - u(0) : u(0)); // |INT64_MIN| wraps
      })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace tmix::reference
