//===- TileMaskBounds.cpp - Classifying a mask over a tile at run time ----===//
//
// Interval arithmetic on i64 values, three-valued logic on i1 values, emitted as code.
// Each rule is sound: the bounds contain every value the op takes on the tile.
//
//===----------------------------------------------------------------------===//

#include "passes/TileMaskBounds.h"

#include "dialect/TmixOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// Bounds of one value of the mask region: [lo, hi] for integers, (canBeFalse,
/// canBeTrue) in (lo, hi) for i1. A value with no entry is unbounded.
struct Bounds {
  Value lo, hi;
};

class MaskBoundsEmitter {
public:
  MaskBoundsEmitter(KernelBuilder &kb) : kb(kb), b(kb.builder()) {}

  TileClass run(Region &region, ArrayRef<Bounds> args);

private:
  std::optional<Bounds> lookup(Value value) const {
    auto it = bounds.find(value);
    if (it == bounds.end())
      return std::nullopt;
    return it->second;
  }
  Value i1(bool value) { return arith::ConstantOp::create(b, b.getBoolAttr(value)); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value max(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
  Value cmp(arith::CmpIPredicate predicate, Value x, Value y) {
    return arith::CmpIOp::create(b, predicate, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value notI(Value x) { return arith::XOrIOp::create(b, x, i1(true)); }

  std::optional<Bounds> visit(Operation &op);
  std::optional<Bounds> compare(arith::CmpIOp op, Bounds x, Bounds y);

  KernelBuilder &kb;
  ImplicitLocOpBuilder &b;
  DenseMap<Value, Bounds> bounds;
};

/// (x < y) can be true when x.lo < y.hi and false when x.hi >= y.lo; the other orders
/// follow by swapping or negating.
std::optional<Bounds> MaskBoundsEmitter::compare(arith::CmpIOp op, Bounds x, Bounds y) {
  using P = arith::CmpIPredicate;
  auto less = [&](Bounds l, Bounds r, bool orEqual) {
    Value canTrue = cmp(orEqual ? P::sle : P::slt, l.lo, r.hi);
    Value canFalse = cmp(orEqual ? P::sgt : P::sge, l.hi, r.lo);
    return Bounds{canFalse, canTrue};
  };
  switch (op.getPredicate()) {
  case P::slt: return less(x, y, false);
  case P::sle: return less(x, y, true);
  case P::sgt: return less(y, x, false);
  case P::sge: return less(y, x, true);
  case P::eq:
  case P::ne: {
    // Equal somewhere when the ranges overlap; different somewhere unless both are the
    // same single value.
    Value overlap = andI(cmp(P::sle, x.lo, y.hi), cmp(P::sle, y.lo, x.hi));
    Value single = andI(andI(cmp(P::eq, x.lo, x.hi), cmp(P::eq, y.lo, y.hi)),
                        cmp(P::eq, x.lo, y.lo));
    Value canDiffer = notI(single);
    if (op.getPredicate() == P::eq)
      return Bounds{canDiffer, overlap};
    return Bounds{overlap, canDiffer};
  }
  default: return std::nullopt; // unsigned orders: not tracked
  }
}

std::optional<Bounds> MaskBoundsEmitter::visit(Operation &op) {
  auto operand = [&](unsigned index) { return lookup(op.getOperand(index)); };
  return llvm::TypeSwitch<Operation *, std::optional<Bounds>>(&op)
      .Case([&](arith::ConstantOp constant) -> std::optional<Bounds> {
        Value value = b.clone(op)->getResult(0);
        if (value.getType().isInteger(1))
          return Bounds{notI(value), value};
        return Bounds{value, value};
      })
      .Case([&](arith::ExtSIOp ext) -> std::optional<Bounds> {
        auto x = operand(0);
        if (!x || ext.getIn().getType().isInteger(1))
          return std::nullopt;
        return Bounds{arith::ExtSIOp::create(b, ext.getType(), x->lo),
                      arith::ExtSIOp::create(b, ext.getType(), x->hi)};
      })
      .Case([&](arith::AddIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        return Bounds{arith::AddIOp::create(b, x->lo, y->lo),
                      arith::AddIOp::create(b, x->hi, y->hi)};
      })
      .Case([&](arith::SubIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        return Bounds{arith::SubIOp::create(b, x->lo, y->hi),
                      arith::SubIOp::create(b, x->hi, y->lo)};
      })
      .Case([&](arith::MulIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        Value p[] = {arith::MulIOp::create(b, x->lo, y->lo),
                     arith::MulIOp::create(b, x->lo, y->hi),
                     arith::MulIOp::create(b, x->hi, y->lo),
                     arith::MulIOp::create(b, x->hi, y->hi)};
        return Bounds{min(min(p[0], p[1]), min(p[2], p[3])),
                      max(max(p[0], p[1]), max(p[2], p[3]))};
      })
      .Case([&](arith::FloorDivSIOp) -> std::optional<Bounds> {
        // Monotonic in the dividend for a divisor that is one positive value.
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        Value one = arith::ConstantOp::create(b, b.getI64IntegerAttr(1));
        Value positive = andI(cmp(arith::CmpIPredicate::eq, y->lo, y->hi),
                              cmp(arith::CmpIPredicate::sge, y->lo, one));
        Value divisor = arith::SelectOp::create(b, positive, y->lo, one);
        Value lo = arith::FloorDivSIOp::create(b, x->lo, divisor);
        Value hi = arith::FloorDivSIOp::create(b, x->hi, divisor);
        // Otherwise: the widest range, which classifies every tile as partial.
        Value minValue = arith::ConstantOp::create(
            b, b.getI64IntegerAttr(std::numeric_limits<int64_t>::min() / 2));
        Value maxValue = arith::ConstantOp::create(
            b, b.getI64IntegerAttr(std::numeric_limits<int64_t>::max() / 2));
        return Bounds{arith::SelectOp::create(b, positive, lo, minValue),
                      arith::SelectOp::create(b, positive, hi, maxValue)};
      })
      .Case([&](arith::MinSIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        return Bounds{min(x->lo, y->lo), min(x->hi, y->hi)};
      })
      .Case([&](arith::MaxSIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y)
          return std::nullopt;
        return Bounds{max(x->lo, y->lo), max(x->hi, y->hi)};
      })
      .Case([&](arith::CmpIOp cmpOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y || cmpOp.getLhs().getType().isInteger(1))
          return std::nullopt;
        return compare(cmpOp, *x, *y);
      })
      .Case([&](arith::AndIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y || !op.getResult(0).getType().isInteger(1))
          return std::nullopt;
        return Bounds{orI(x->lo, y->lo), andI(x->hi, y->hi)};
      })
      .Case([&](arith::OrIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y || !op.getResult(0).getType().isInteger(1))
          return std::nullopt;
        return Bounds{andI(x->lo, y->lo), orI(x->hi, y->hi)};
      })
      .Case([&](arith::XOrIOp) -> std::optional<Bounds> {
        auto x = operand(0), y = operand(1);
        if (!x || !y || !op.getResult(0).getType().isInteger(1))
          return std::nullopt;
        Value canTrue = orI(andI(x->hi, y->lo), andI(x->lo, y->hi));
        Value canFalse = orI(andI(x->hi, y->hi), andI(x->lo, y->lo));
        return Bounds{canFalse, canTrue};
      })
      .Case([&](arith::SelectOp select) -> std::optional<Bounds> {
        auto c = operand(0), x = operand(1), y = operand(2);
        if (!c || !x || !y)
          return std::nullopt;
        // Either branch may be taken: the union (tighter when the condition is fixed).
        if (select.getType().isInteger(1))
          return Bounds{orI(andI(c->hi, x->lo), andI(c->lo, y->lo)),
                        orI(andI(c->hi, x->hi), andI(c->lo, y->hi))};
        return Bounds{min(x->lo, y->lo), max(x->hi, y->hi)};
      })
      .Case([&](SizeOp size) -> std::optional<Bounds> {
        Value value = kb.toI64(kb.sizeValue(size.getSymbol()));
        return Bounds{value, value};
      })
      .Default([](Operation *) { return std::nullopt; });
}

TileClass MaskBoundsEmitter::run(Region &region, ArrayRef<Bounds> args) {
  Block &block = region.front();
  for (auto [arg, range] : llvm::zip(block.getArguments(), args))
    bounds[arg] = range;
  // Scalar arguments of the spec read inside the mask: one value over the tile.
  IRMapping scalars = kb.scalarMapping();
  for (Operation &op : block) {
    if (auto yield = dyn_cast<YieldOp>(op)) {
      if (auto result = lookup(yield.getValues()[0]))
        return {result->lo, result->hi};
      return {i1(true), i1(true)}; // unknown: partial
    }
    for (Value value : op.getOperands())
      if (!bounds.count(value) && scalars.contains(value)) {
        Value v = scalars.lookup(value);
        if (v.getType().isInteger(1))
          bounds[value] = Bounds{notI(v), v};
        else if (isa<IntegerType>(v.getType()))
          bounds[value] = Bounds{v, v};
      }
    if (op.getNumResults() == 1)
      if (std::optional<Bounds> result = visit(op))
        bounds[op.getResult(0)] = *result;
  }
  return {i1(true), i1(true)};
}

} // namespace

TileClass mlir::tmix::classifyMaskTile(KernelBuilder &kb, Region &maskRegion, Value bIdx,
                                       Value hIdx, Value iLo, Value iHi, Value jLo,
                                       Value jHi) {
  MaskBoundsEmitter emitter(kb);
  return emitter.run(maskRegion, {Bounds{bIdx, bIdx}, Bounds{hIdx, hIdx},
                                  Bounds{iLo, iHi}, Bounds{jLo, jHi}});
}
