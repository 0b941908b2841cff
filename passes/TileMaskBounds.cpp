//===- TileMaskBounds.cpp - Classifying a mask over a tile at run time ----===//
//
// Interval arithmetic on i64 values, three-valued logic on i1 values, emitted as code.
// Each rule is sound: the bounds contain every value the op takes on the tile.
//
//===----------------------------------------------------------------------===//

#include "passes/TileMaskBounds.h"

#include "dialect/TmixOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// The largest box of a tensor whose values a tile's classification reads (a row of
/// document ids over one KV tile is block_n elements).
constexpr int64_t kMaxBoxElements = 4096;

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
  std::optional<Bounds> readBounds(ReadOp read);
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
      .Case([&](ReadOp read) { return readBounds(read); })
      .Case([&](SizeOp size) -> std::optional<Bounds> {
        Value value = kb.toI64(kb.sizeValue(size.getSymbol()));
        return Bounds{value, value};
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// A read of an i32 or bool tensor over a box of indices: the min and max of the values
/// in the box, found by a loop when the box is small (a document-id row over one KV
/// tile), and 0 (false) included when the box leaves the tensor, since such reads give
/// 0. Larger boxes get the type's whole range. Wider integers and floats are not
/// tracked: their bounds could overflow the interval arithmetic that follows.
std::optional<Bounds> MaskBoundsEmitter::readBounds(ReadOp read) {
  auto arg = cast<BlockArgument>(read.getTensor());
  auto type = cast<SpecTensorType>(arg.getType());
  Type elem = type.getElementType();
  bool isBool = elem.isInteger(1);
  if (!isBool && !elem.isInteger(32))
    return std::nullopt;
  SmallVector<Bounds> box;
  for (Value index : read.getIndices()) {
    std::optional<Bounds> range = lookup(index);
    if (!range)
      return std::nullopt;
    box.push_back(*range);
  }

  auto i64Constant = [&](int64_t value) {
    return Value(arith::ConstantOp::create(b, b.getI64IntegerAttr(value)));
  };
  // Clamp the box to the tensor; remember whether it reaches outside.
  Value outside = i1(false), empty = i1(false), count = i64Constant(1);
  SmallVector<Value> lows, highs;
  for (auto [dim, range] : llvm::zip(type.getDims(), box)) {
    Value last = arith::SubIOp::create(b, kb.toI64(kb.dimValue(dim)), i64Constant(1));
    Value lo = max(range.lo, i64Constant(0)), hi = min(range.hi, last);
    outside = orI(outside, orI(cmp(arith::CmpIPredicate::slt, range.lo, i64Constant(0)),
                               cmp(arith::CmpIPredicate::sgt, range.hi, last)));
    empty = orI(empty, cmp(arith::CmpIPredicate::sgt, lo, hi));
    count = arith::MulIOp::create(
        b, count,
        arith::AddIOp::create(b, arith::SubIOp::create(b, hi, lo), i64Constant(1)));
    lows.push_back(lo);
    highs.push_back(hi);
  }
  Value small = andI(notI(empty),
                     cmp(arith::CmpIPredicate::sle, count, i64Constant(kMaxBoxElements)));

  // min and max in the element type (for bools: and and or).
  auto typed = [&](int64_t value) {
    return Value(arith::ConstantOp::create(b, b.getIntegerAttr(elem, value)));
  };
  int64_t typeMin = isBool ? 0 : std::numeric_limits<int32_t>::min();
  int64_t typeMax = isBool ? 1 : std::numeric_limits<int32_t>::max();
  Value memref = kb.argMemRef(arg.getArgNumber());
  SmallVector<Value> minMax = kb.ifElse(
      small, TypeRange{elem, elem},
      [&] {
        SmallVector<Value> indices;
        std::function<SmallVector<Value>(size_t, ValueRange)> nest =
            [&](size_t level, ValueRange acc) -> SmallVector<Value> {
          if (level == lows.size()) {
            Value x = memref::LoadOp::create(b, memref, indices);
            if (isBool)
              return {arith::AndIOp::create(b, acc[0], x),
                      arith::OrIOp::create(b, acc[1], x)};
            return {min(acc[0], x), max(acc[1], x)};
          }
          return kb.loop(
              kb.toIndex(lows[level]),
              kb.toIndex(arith::AddIOp::create(b, highs[level], i64Constant(1))),
              kb.index(1), acc, [&](Value iv, ValueRange carried) {
                indices.push_back(iv);
                SmallVector<Value> result = nest(level + 1, carried);
                indices.pop_back();
                return result;
              });
        };
        return nest(0, ValueRange{typed(typeMax), typed(typeMin)});
      },
      [&] {
        return SmallVector<Value>{typed(typeMin), typed(typeMax)};
      });
  Value lo = minMax[0], hi = minMax[1];
  // Reads outside the tensor give 0 (false).
  Value zero = typed(0);
  if (isBool) {
    lo = arith::AndIOp::create(b, lo, notI(orI(outside, empty)));
    return Bounds{notI(lo), hi};
  }
  Value withZero = orI(outside, empty);
  lo = arith::SelectOp::create(b, withZero, min(lo, zero), lo);
  hi = arith::SelectOp::create(b, withZero, max(hi, zero), hi);
  return Bounds{lo, hi};
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
