//===- IRGen.cpp - Spec-level tmix IR from a checked AST ------------------===//
//
// One generator per spec, one `gen` per expression node, as in the Toy tutorial.
// Scalars are i64 (integers, indices, sizes), f32 (floats) and i1 (bools); recurrence
// vectors and matrices are f32 !tmix.tensor values. An element-wise operation with a
// vector or matrix operand becomes a tmix.map whose region is the same scalar code.
//
//===----------------------------------------------------------------------===//

#include "frontend/IRGen.h"

#include "dialect/DimList.h"

#include "dialect/TmixOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Casting.h"

#include <cmath>
#include <functional>
#include <limits>

using namespace tmix;
using namespace mlir;
using mlir::tmix::SpecTensorType;

namespace {

/// ALiBi slopes: head h of H gets 2^(-kAlibiExponent (h + 1) / H).
constexpr double kAlibiExponent = 8.0;

/// A scalar or a tensor value together with the type Sema gave it.
struct Typed {
  Value value;
  ValueType type;
};

/// The values an expression can read in the region being built.
struct Scope {
  llvm::SmallVector<Value, 4> indices; // b, h, i, j (attention)
  Value score;                         // s (score)
  Value time;                          // t (recurrence step)
  llvm::SmallVector<Value> states;     // current state values (recurrence step)
  llvm::DenseMap<const Stmt *, Typed> lets;
  llvm::StringMap<Value> sizes;
};

class SpecGenerator {
public:
  SpecGenerator(const Spec &spec, const llvm::SourceMgr &sourceMgr, OpBuilder &builder)
      : spec(spec), sourceMgr(sourceMgr), builder(builder), ctx(builder.getContext()) {}

  void generate();

private:
  Location loc(llvm::SMLoc where);
  Type elementType(ElemType elem);
  Attribute dimAttr(const Dim &dim);
  Type declaredType(const TypeDecl &decl);
  Type valueType(const ValueType &type);
  Attribute defaultAttr(const Param &param);

  void generateAttention(Operation *specOp);
  void generateStatement(const Stmt &stmt);
  void generateRecurrence(Operation *specOp);

  // Expressions.
  Typed gen(const Expr &expr, Scope &scope);
  Typed genName(const NameExpr &expr, Scope &scope);
  Typed genIndex(const IndexExpr &expr, Scope &scope);
  Typed genCall(const CallExpr &expr, Scope &scope);
  Typed genUnary(const UnaryExpr &expr, Scope &scope);
  Typed genBinary(const BinaryExpr &expr, Scope &scope);
  Typed genTernary(const TernaryExpr &expr, Scope &scope);

  using ScalarFn = std::function<Value(ArrayRef<Value>, ArrayRef<ValueType::Kind>)>;
  Value elementwise(Location loc, ArrayRef<Typed> operands, const ValueType &result,
                    const ScalarFn &fn);
  Value sigmoid(Location loc, Value x);
  Value power(Location loc, Value x, Value y);
  Value l2norm(Location loc, const Typed &x);
  Value truncateToInt(Location loc, Value x);
  Value scalarCall(Location loc, llvm::StringRef callee, ArrayRef<Value> args,
                   ArrayRef<ValueType::Kind> kinds, ValueType::Kind result);
  Value scalarBinary(Location loc, BinaryExpr::Op op, Value lhs, ValueType::Kind lk,
                     Value rhs, ValueType::Kind rk, ValueType::Kind result);
  Value toFloat(Location loc, Value value, ValueType::Kind kind);
  Value toKind(Location loc, Value value, ValueType::Kind from, ValueType::Kind to);
  Value widenScalar(Location loc, Value value);
  Value floatConstant(Location loc, double value);
  Value sizeOf(llvm::StringRef symbol, Scope &scope, Location loc);
  void yield(Location loc, ValueRange values);

  const Spec &spec;
  const llvm::SourceMgr &sourceMgr;
  OpBuilder &builder;
  MLIRContext *ctx;
  Block *body = nullptr; // the spec op's body: its arguments are the spec's
};

} // namespace

//===----------------------------------------------------------------------===//
// Types and locations
//===----------------------------------------------------------------------===//

Location SpecGenerator::loc(llvm::SMLoc where) {
  unsigned bufferId = sourceMgr.getMainFileID();
  auto [line, column] = sourceMgr.getLineAndColumn(where, bufferId);
  llvm::StringRef file = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
  return FileLineColLoc::get(ctx, file, line, column);
}

Type SpecGenerator::elementType(ElemType elem) {
  switch (elem) {
  case ElemType::F32: return builder.getF32Type();
  case ElemType::F16: return builder.getF16Type();
  case ElemType::BF16: return builder.getBF16Type();
  case ElemType::I32: return builder.getI32Type();
  case ElemType::I64: return builder.getI64Type();
  case ElemType::Bool: return builder.getI1Type();
  }
  return {};
}

Attribute SpecGenerator::dimAttr(const Dim &dim) {
  if (dim.isSymbol())
    return builder.getStringAttr(mlir::tmix::symbolicDimSpelling(dim.symbol, dim.offset));
  return builder.getI64IntegerAttr(dim.size);
}

Type SpecGenerator::declaredType(const TypeDecl &decl) {
  if (!decl.isTensor)
    return elementType(decl.elem);
  llvm::SmallVector<Attribute> dims;
  for (const Dim &dim : decl.dims)
    dims.push_back(dimAttr(dim));
  return SpecTensorType::get(ctx, dims, elementType(decl.elem), decl.layout);
}

/// The IR type of a value Sema typed: i1, i64, f32, or an f32 tensor.
Type SpecGenerator::valueType(const ValueType &type) {
  if (!type.isScalar()) {
    llvm::SmallVector<Attribute> dims;
    for (const Dim &dim : type.dims)
      dims.push_back(dimAttr(dim));
    return SpecTensorType::get(ctx, dims, builder.getF32Type());
  }
  switch (type.kind) {
  case ValueType::Bool: return builder.getI1Type();
  case ValueType::Int: return builder.getI64Type();
  default: return builder.getF32Type();
  }
}

Attribute SpecGenerator::defaultAttr(const Param &param) {
  if (!param.defaultValue)
    return builder.getUnitAttr();
  const Literal &lit = *param.defaultValue;
  Type type = elementType(param.type.elem);
  if (param.type.elem == ElemType::Bool)
    return builder.getBoolAttr(lit.boolValue);
  if (isFloat(param.type.elem))
    return builder.getFloatAttr(type, lit.floatValue);
  return builder.getIntegerAttr(type, lit.intValue);
}

//===----------------------------------------------------------------------===//
// Specs and statements
//===----------------------------------------------------------------------===//

void SpecGenerator::generate() {
  llvm::SmallVector<llvm::StringRef> argNames, resultNames;
  llvm::SmallVector<Type> argTypes, resultTypes;
  llvm::SmallVector<Attribute> defaults;
  for (const Param &param : spec.params) {
    argNames.push_back(param.name);
    argTypes.push_back(declaredType(param.type));
    defaults.push_back(defaultAttr(param));
  }
  for (const ResultDecl &result : spec.results) {
    resultNames.push_back(result.name);
    resultTypes.push_back(declaredType(result.type));
  }

  Location specLoc = loc(spec.loc);
  if (spec.kind == Spec::Attention) {
    auto op =
        mlir::tmix::AttentionOp::create(builder, specLoc, spec.name, argNames, argTypes,
                                        defaults, resultNames, resultTypes);
    generateAttention(op);
  } else {
    auto op = mlir::tmix::RecurrenceOp::create(builder, specLoc, spec.name, argNames,
                                               argTypes, defaults, resultNames,
                                               resultTypes, spec.timeSymbol);
    if (!spec.groups.empty()) {
      llvm::SmallVector<mlir::NamedAttribute> groups;
      for (const auto &[group, dim] : spec.groups)
        groups.emplace_back(builder.getStringAttr(group), builder.getStringAttr(dim));
      op.setGroupsAttr(builder.getDictionaryAttr(groups));
    }
    if (!spec.sequenceOffsets.empty())
      op.setOffsetsAttr(builder.getStringAttr(spec.sequenceOffsets));
    generateRecurrence(op);
  }
}

void SpecGenerator::yield(Location where, ValueRange values) {
  mlir::tmix::YieldOp::create(builder, where, values);
}

void SpecGenerator::generateAttention(Operation *specOp) {
  body = &specOp->getRegion(0).front();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(body);
  for (const Stmt &stmt : spec.body)
    if (stmt.kind != Stmt::Let)
      generateStatement(stmt);
}

/// One attention statement: an op whose region computes the statement's value from
/// the index names it may read.
void SpecGenerator::generateStatement(const Stmt &stmt) {
  Location where = loc(stmt.loc);
  Type i64 = builder.getI64Type(), f32 = builder.getF32Type();
  Operation *op = nullptr;
  llvm::SmallVector<Type> argTypes;
  switch (stmt.kind) {
  case Stmt::Scale: op = mlir::tmix::ScaleOp::create(builder, where); break;
  case Stmt::Rope: op = mlir::tmix::RopeOp::create(builder, where); break;
  case Stmt::Mask:
    op = mlir::tmix::MaskOp::create(builder, where);
    argTypes.assign(4, i64);
    break;
  case Stmt::Score:
    op = mlir::tmix::ScoreOp::create(builder, where);
    argTypes.assign(4, i64);
    argTypes.push_back(f32);
    break;
  case Stmt::Sink:
    op = mlir::tmix::SinkOp::create(builder, where);
    argTypes.assign(2, i64);
    break;
  default: return;
  }
  OpBuilder::InsertionGuard guard(builder);
  llvm::SmallVector<Location> argLocs(argTypes.size(), where);
  Block *block = builder.createBlock(&op->getRegion(0), {}, argTypes, argLocs);
  Scope scope;
  unsigned numIndices = stmt.kind == Stmt::Sink ? 2 : argTypes.size() >= 4 ? 4 : 0;
  for (unsigned index = 0; index < numIndices; ++index)
    scope.indices.push_back(block->getArgument(index));
  if (stmt.kind == Stmt::Score)
    scope.score = block->getArgument(4);

  Typed value = gen(*stmt.value, scope);
  Value result = value.value;
  if (stmt.kind != Stmt::Mask)
    result = toFloat(where, result, value.type.kind);
  yield(where, result);
}

void SpecGenerator::generateRecurrence(Operation *specOp) {
  body = &specOp->getRegion(0).front();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(body);

  // States first, in declaration order.
  llvm::SmallVector<Type> stateTypes;
  for (const Stmt &stmt : spec.body) {
    if (stmt.kind != Stmt::State)
      continue;
    Type type = valueType(ValueType{ValueType::Float, stmt.stateType.dims});
    Value init = stmt.init.empty() ? Value() : body->getArgument(stmt.target);
    mlir::tmix::StateOp::create(builder, loc(stmt.loc), stmt.name, type, init);
    stateTypes.push_back(type);
  }

  // The step: (t, states...) -> (new states..., per-step outputs in result order).
  Location stepLoc = loc(spec.loc);
  auto step = mlir::tmix::StepOp::create(builder, stepLoc);
  llvm::SmallVector<Type> argTypes{builder.getI64Type()};
  argTypes.append(stateTypes);
  llvm::SmallVector<Location> argLocs(argTypes.size(), stepLoc);
  {
    OpBuilder::InsertionGuard stepGuard(builder);
    Block *block = builder.createBlock(&step->getRegion(0), {}, argTypes, argLocs);
    Scope scope;
    scope.time = block->getArgument(0);
    for (unsigned index = 0; index < stateTypes.size(); ++index)
      scope.states.push_back(block->getArgument(index + 1));

    llvm::SmallVector<Value> outputs(spec.results.size());
    for (const Stmt &stmt : spec.body) {
      Location where = loc(stmt.loc);
      switch (stmt.kind) {
      case Stmt::Let: scope.lets[&stmt] = gen(*stmt.value, scope); break;
      case Stmt::Assign:
        if (!stmt.isFinal) {
          Typed value = gen(*stmt.value, scope);
          scope.states[stmt.target] = toFloat(where, value.value, value.type.kind);
        }
        break;
      case Stmt::StepAssign: {
        Typed value = gen(*stmt.value, scope);
        outputs[stmt.target] = toFloat(where, value.value, value.type.kind);
        break;
      }
      default: break;
      }
    }
    llvm::SmallVector<Value> yielded(scope.states);
    for (auto [result, value] : llvm::zip(spec.results, outputs))
      if (result.finalState < 0)
        yielded.push_back(value);
    yield(loc(spec.closeLoc), yielded);
  }

  // Final states.
  for (const Stmt &stmt : spec.body)
    if (stmt.kind == Stmt::Assign && stmt.isFinal)
      mlir::tmix::FinalOp::create(builder, loc(stmt.loc), stmt.name,
                                  llvm::cast<NameExpr>(*stmt.value).name);
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Value SpecGenerator::floatConstant(Location where, double value) {
  return arith::ConstantOp::create(builder, where,
                                   builder.getF32FloatAttr(static_cast<float>(value)));
}

Value SpecGenerator::toFloat(Location where, Value value, ValueType::Kind kind) {
  if (kind != ValueType::Int || !value.getType().isInteger(64))
    return value;
  return arith::SIToFPOp::create(builder, where, builder.getF32Type(), value);
}

Value SpecGenerator::toKind(Location where, Value value, ValueType::Kind from,
                            ValueType::Kind to) {
  if (from == ValueType::Int && to == ValueType::Float)
    return toFloat(where, value, from);
  return value;
}

/// Scalars enter expressions as i64, f32 or i1 whatever their storage type.
Value SpecGenerator::widenScalar(Location where, Value value) {
  Type type = value.getType();
  if (type.isInteger(32))
    return arith::ExtSIOp::create(builder, where, builder.getI64Type(), value);
  if (type.isF16() || type.isBF16())
    return arith::ExtFOp::create(builder, where, builder.getF32Type(), value);
  return value;
}

Value SpecGenerator::sizeOf(llvm::StringRef symbol, Scope &scope, Location where) {
  Value &cached = scope.sizes[symbol];
  if (!cached)
    cached = mlir::tmix::SizeOp::create(builder, where, builder.getI64Type(), symbol);
  return cached;
}

Typed SpecGenerator::gen(const Expr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  switch (expr.getKind()) {
  case Expr::Number: {
    const auto &number = llvm::cast<NumberExpr>(expr);
    if (expr.type.kind == ValueType::Int)
      return {arith::ConstantOp::create(builder, where,
                                        builder.getI64IntegerAttr(number.intValue)),
              expr.type};
    return {floatConstant(where, number.floatValue), expr.type};
  }
  case Expr::BoolLiteral:
    return {
        arith::ConstantOp::create(
            builder, where, builder.getBoolAttr(llvm::cast<BoolLiteralExpr>(expr).value)),
        expr.type};
  case Expr::Name: return genName(llvm::cast<NameExpr>(expr), scope);
  case Expr::Index: return genIndex(llvm::cast<IndexExpr>(expr), scope);
  case Expr::Call: return genCall(llvm::cast<CallExpr>(expr), scope);
  case Expr::Unary: return genUnary(llvm::cast<UnaryExpr>(expr), scope);
  case Expr::Binary: return genBinary(llvm::cast<BinaryExpr>(expr), scope);
  case Expr::Ternary: return genTernary(llvm::cast<TernaryExpr>(expr), scope);
  }
  return {};
}

Typed SpecGenerator::genName(const NameExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  const NameRef &ref = expr.ref;
  switch (ref.kind) {
  case NameRef::Index: return {scope.indices[ref.number], expr.type};
  case NameRef::Score: return {scope.score, expr.type};
  case NameRef::Time: return {scope.time, expr.type};
  case NameRef::ParallelIndex:
    return {mlir::tmix::ParallelIndexOp::create(builder, where, builder.getI64Type(),
                                                ref.number),
            expr.type};
  case NameRef::SizeSymbol: return {sizeOf(expr.name, scope, where), expr.type};
  case NameRef::State: return {scope.states[ref.number], expr.type};
  case NameRef::Let: {
    // Attention lets are pure functions of the indices: each region computes its own
    // copy, once. Recurrence lets were computed where they stand in the step.
    auto it = scope.lets.find(ref.stmt);
    if (it != scope.lets.end())
      return it->second;
    Typed value = gen(*ref.stmt->value, scope);
    scope.lets[ref.stmt] = value;
    return value;
  }
  case NameRef::Param: {
    Value arg = body->getArgument(ref.number);
    if (!llvm::isa<SpecTensorType>(arg.getType()))
      return {widenScalar(where, arg), expr.type};
    // A recurrence argument without a time dimension: its per-point value.
    Type sliceType = expr.type.isScalar() && expr.type.kind != ValueType::Float
                         ? llvm::cast<SpecTensorType>(arg.getType()).getElementType()
                         : valueType(expr.type);
    Value slice = mlir::tmix::SliceOp::create(builder, where, sliceType, arg, Value());
    return {widenScalar(where, slice), expr.type};
  }
  case NameRef::Unresolved: break;
  }
  return {};
}

Typed SpecGenerator::genIndex(const IndexExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  Value tensor = body->getArgument(expr.param);
  auto tensorType = llvm::cast<SpecTensorType>(tensor.getType());
  Type elem = tensorType.getElementType();
  Type scalarType = llvm::isa<FloatType>(elem) ? builder.getF32Type() : elem;
  if (spec.kind == Spec::Recurrence) {
    Type sliceType = expr.type.isScalar() ? scalarType : valueType(expr.type);
    Value slice =
        mlir::tmix::SliceOp::create(builder, where, sliceType, tensor, scope.time);
    return {widenScalar(where, slice), expr.type};
  }
  llvm::SmallVector<Value> indices;
  for (const ExprPtr &index : expr.indices)
    indices.push_back(gen(*index, scope).value);
  Value read = mlir::tmix::ReadOp::create(builder, where, scalarType, tensor, indices);
  return {widenScalar(where, read), expr.type};
}

/// Applies `fn` to scalars directly, or element-wise through a tmix.map when an
/// operand is a vector or matrix.
Value SpecGenerator::elementwise(Location where, ArrayRef<Typed> operands,
                                 const ValueType &result, const ScalarFn &fn) {
  llvm::SmallVector<Value> values;
  llvm::SmallVector<ValueType::Kind> kinds;
  for (const Typed &operand : operands) {
    values.push_back(operand.value);
    kinds.push_back(operand.type.kind);
  }
  if (result.isScalar())
    return fn(values, kinds);

  auto map = mlir::tmix::MapOp::create(builder, where, valueType(result), values);
  OpBuilder::InsertionGuard guard(builder);
  llvm::SmallVector<Type> argTypes;
  for (const Typed &operand : operands) {
    Type type = operand.value.getType();
    if (auto tensor = llvm::dyn_cast<SpecTensorType>(type))
      type = tensor.getElementType();
    argTypes.push_back(type);
  }
  llvm::SmallVector<Location> argLocs(argTypes.size(), where);
  Block *block = builder.createBlock(&map->getRegion(0), {}, argTypes, argLocs);
  llvm::SmallVector<Value> args(block->getArguments().begin(),
                                block->getArguments().end());
  // Inside the map every tensor operand is an f32 element.
  for (size_t index = 0; index < operands.size(); ++index)
    if (!operands[index].type.isScalar())
      kinds[index] = ValueType::Float;
  Value element = toFloat(where, fn(args, kinds), ValueType::Int);
  yield(where, element);
  return map->getResult(0);
}

/// l2norm(x) = x / sqrt(sum(x^2) + 1e-6), as flash-linear-attention's l2norm. Where
/// sum(x^2) overflows f32 (|x| above about 1.8e19), it is computed from x scaled by
/// 2^-70 instead, whose squares cannot overflow; a zero vector gives 0, tiny vectors
/// x / sqrt(1e-6), and an infinity or a NaN gives NaN. The scaled branch is computed
/// always: its sum is kept at least FLT_MIN, so that it stays finite where it is not
/// taken (its gradient there is 0, not 0 * inf = NaN).
Value SpecGenerator::l2norm(Location where, const Typed &x) {
  constexpr double kEpsilon = 1e-6;
  const double kDown = std::ldexp(1.0, -70);
  ValueType scalar = ValueType::scalar(ValueType::Float);
  auto squared = [&](const Typed &v) {
    Value squares = elementwise(where, {v}, v.type, [&](ArrayRef<Value> e, auto) {
      return Value(arith::MulFOp::create(builder, where, e[0], e[0]));
    });
    return Value(mlir::tmix::SumOp::create(builder, where, builder.getF32Type(), squares));
  };
  Typed scaled{elementwise(where, {x}, x.type,
                           [&](ArrayRef<Value> e, auto) {
                             return Value(arith::MulFOp::create(
                                 builder, where, e[0], floatConstant(where, kDown)));
                           }),
               x.type};
  Value sum = squared(x), scaledSum = squared(scaled);
  Value direct = math::RsqrtOp::create(
      builder, where, arith::AddFOp::create(builder, where, sum, floatConstant(where, kEpsilon)));
  Value rescaled = math::RsqrtOp::create(
      builder, where,
      arith::MaximumFOp::create(builder, where, scaledSum,
                                floatConstant(where, std::numeric_limits<float>::min())));
  Value overflow = arith::CmpFOp::create(builder, where, arith::CmpFPredicate::OEQ, sum,
                                         floatConstant(where, INFINITY));
  Value useScaled = arith::SelectOp::create(builder, where, overflow, floatConstant(where, 1.0),
                                           floatConstant(where, 0.0));
  return elementwise(
      where, {x, scaled, {direct, scalar}, {rescaled, scalar}, {useScaled, scalar}}, x.type,
      [&](ArrayRef<Value> e, auto) {
        Value fromScaled = arith::MulFOp::create(builder, where, e[1], e[3]);
        Value fromDirect = arith::MulFOp::create(builder, where, e[0], e[2]);
        Value choose = arith::CmpFOp::create(builder, where, arith::CmpFPredicate::OGT, e[4],
                                             floatConstant(where, 0.5));
        return Value(arith::SelectOp::create(builder, where, choose, fromScaled, fromDirect));
      });
}

/// pow(x, y) = 2^(y log2 |x|), with C's special cases: pow(x, 0) = 1 and pow(1, y) = 1
/// (NaN included), pow(-1, ±inf) = 1; a negative x gives the sign (-1)^y for an integer
/// y, and NaN for a finite x and a non-integer y.
/// One formula for every target (no libm on the GPU); in f32 the relative error is
/// about |y log2 |x|| · 2^-24, under 1e-5 wherever the result is a finite f32.
Value SpecGenerator::power(Location where, Value x, Value y) {
  auto cmp = [&](arith::CmpFPredicate p, Value lhs, Value rhs) {
    return arith::CmpFOp::create(builder, where, p, lhs, rhs);
  };
  auto select = [&](Value c, Value a, Value b) {
    return arith::SelectOp::create(builder, where, c, a, b);
  };
  Value zero = floatConstant(where, 0.0), one = floatConstant(where, 1.0);
  Value magnitude = math::Exp2Op::create(
      builder, where,
      arith::MulFOp::create(
          builder, where, y,
          math::Log2Op::create(builder, where, math::AbsFOp::create(builder, where, x))));
  // y is odd when y - 2 floor(y / 2) == 1 (the infinities count as even).
  Value half = math::FloorOp::create(
      builder, where, arith::MulFOp::create(builder, where, y, floatConstant(where, 0.5)));
  Value odd = cmp(arith::CmpFPredicate::OEQ,
                  arith::SubFOp::create(
                      builder, where, y,
                      arith::AddFOp::create(builder, where, half, half)),
                  one);
  Value negative = cmp(arith::CmpFPredicate::OLT, x, zero);
  Value signedResult =
      select(arith::AndIOp::create(builder, where, negative, odd),
             arith::NegFOp::create(builder, where, magnitude), magnitude);
  // A finite negative x with a non-integer y has no real power (-inf has: inf or 0).
  Value nan = floatConstant(where, std::numeric_limits<double>::quiet_NaN());
  Value inf = floatConstant(where, std::numeric_limits<double>::infinity());
  Value noRealPower = arith::AndIOp::create(
      builder, where, cmp(arith::CmpFPredicate::OGT, x, arith::NegFOp::create(builder, where, inf)),
      arith::AndIOp::create(builder, where, negative,
                            cmp(arith::CmpFPredicate::UNE,
                                math::FloorOp::create(builder, where, y), y)));
  Value result = select(noRealPower, nan, signedResult);
  // pow(x, 0) = 1 and pow(1, y) = 1 for every x and y, NaN included; pow(-1, ±inf) = 1.
  Value minusOneToInfinity = arith::AndIOp::create(
      builder, where,
      cmp(arith::CmpFPredicate::OEQ, x, arith::NegFOp::create(builder, where, one)),
      cmp(arith::CmpFPredicate::OEQ, math::AbsFOp::create(builder, where, y), inf));
  Value trivial = arith::OrIOp::create(
      builder, where,
      arith::OrIOp::create(builder, where, cmp(arith::CmpFPredicate::OEQ, y, zero),
                           cmp(arith::CmpFPredicate::OEQ, x, one)),
      minusOneToInfinity);
  return select(trivial, one, result);
}

/// sigmoid(x) = 1 / (1 + exp(-x)): 0 and 1 at the infinities, NaN for NaN.
Value SpecGenerator::sigmoid(Location where, Value x) {
  Value one = floatConstant(where, 1.0);
  Value e = math::ExpOp::create(builder, where, arith::NegFOp::create(builder, where, x));
  return arith::DivFOp::create(builder, where, one,
                               arith::AddFOp::create(builder, where, one, e));
}

/// int(x) of an f32: toward zero, as C and Python truncate; NaN gives 0, and values
/// beyond the i64 range saturate (inf included), where a bare fptosi would be
/// undefined.
Value SpecGenerator::truncateToInt(Location where, Value x) {
  Type i64 = builder.getI64Type();
  auto predicate = [&](arith::CmpFPredicate p, Value lhs, double rhs) {
    return arith::CmpFOp::create(builder, where, p, lhs, floatConstant(where, rhs));
  };
  auto integer = [&](int64_t value) {
    return arith::ConstantOp::create(builder, where, builder.getI64IntegerAttr(value));
  };
  // 2^63 is exact in f32: the first value past INT64_MAX.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  Value tooLarge = predicate(arith::CmpFPredicate::OGE, x, kTwoTo63);
  Value tooSmall = predicate(arith::CmpFPredicate::OLT, x, -kTwoTo63);
  Value notANumber = arith::CmpFOp::create(builder, where, arith::CmpFPredicate::UNO, x, x);
  Value outside = arith::OrIOp::create(
      builder, where, arith::OrIOp::create(builder, where, tooLarge, tooSmall), notANumber);
  Value safe = arith::SelectOp::create(builder, where, outside, floatConstant(where, 0.0), x);
  Value value = arith::FPToSIOp::create(builder, where, i64, safe);
  value = arith::SelectOp::create(builder, where, tooLarge,
                                  integer(std::numeric_limits<int64_t>::max()), value);
  return arith::SelectOp::create(builder, where, tooSmall,
                                 integer(std::numeric_limits<int64_t>::min()), value);
}

Value SpecGenerator::scalarCall(Location where, llvm::StringRef callee,
                                ArrayRef<Value> args, ArrayRef<ValueType::Kind> kinds,
                                ValueType::Kind result) {
  if (result == ValueType::Int) {
    if (callee == "int")
      return kinds[0] == ValueType::Int ? args[0] : truncateToInt(where, args[0]);
    // Integer abs, min, max, floor and ceil stay integers.
    if (callee == "abs")
      return math::AbsIOp::create(builder, where, args[0]);
    if (callee == "min")
      return arith::MinSIOp::create(builder, where, args[0], args[1]);
    if (callee == "max")
      return arith::MaxSIOp::create(builder, where, args[0], args[1]);
    return args[0]; // floor, ceil
  }
  llvm::SmallVector<Value> floats;
  for (auto [arg, kind] : llvm::zip(args, kinds))
    floats.push_back(toFloat(where, arg, kind));
  Value x = floats[0];
  if (callee == "exp")
    return math::ExpOp::create(builder, where, x);
  if (callee == "exp2")
    return math::Exp2Op::create(builder, where, x);
  if (callee == "log")
    return math::LogOp::create(builder, where, x);
  if (callee == "log1p")
    return math::Log1pOp::create(builder, where, x);
  if (callee == "sqrt")
    return math::SqrtOp::create(builder, where, x);
  if (callee == "rsqrt")
    return math::RsqrtOp::create(builder, where, x);
  if (callee == "tanh")
    return math::TanhOp::create(builder, where, x);
  if (callee == "abs")
    return math::AbsFOp::create(builder, where, x);
  if (callee == "floor")
    return math::FloorOp::create(builder, where, x);
  if (callee == "ceil")
    return math::CeilOp::create(builder, where, x);
  if (callee == "min")
    return arith::MinimumFOp::create(builder, where, x, floats[1]);
  if (callee == "max")
    return arith::MaximumFOp::create(builder, where, x, floats[1]);
  if (callee == "sigmoid")
    return sigmoid(where, x);
  if (callee == "relu") // max(x, 0), NaN propagated
    return arith::MaximumFOp::create(builder, where, x, floatConstant(where, 0.0));
  if (callee == "elu") { // x > 0 ? x : exp(x) - 1
    Value positive = arith::CmpFOp::create(builder, where, arith::CmpFPredicate::OGT, x,
                                           floatConstant(where, 0.0));
    return arith::SelectOp::create(builder, where, positive, x,
                                   math::ExpM1Op::create(builder, where, x));
  }
  if (callee == "silu") {
    // x * sigmoid(x); where sigmoid underflows to 0 (x below about -88, -inf included)
    // the product is 0, not -inf * 0 = NaN.
    Value gate = sigmoid(where, x);
    Value vanished = arith::CmpFOp::create(builder, where, arith::CmpFPredicate::OEQ, gate,
                                           floatConstant(where, 0.0));
    return arith::SelectOp::create(builder, where, vanished, floatConstant(where, 0.0),
                                   arith::MulFOp::create(builder, where, x, gate));
  }
  if (callee == "softplus" || callee == "logsigmoid") {
    // softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), and logsigmoid(x) =
    // -softplus(-x) = min(x, 0) - log1p(e^-|x|): e^-|x| <= 1 never overflows, and
    // log1p keeps the tail (softplus(-100) = e^-100, not 0).
    Value tail = math::Log1pOp::create(
        builder, where,
        math::ExpOp::create(builder, where,
                            arith::NegFOp::create(builder, where,
                                                  math::AbsFOp::create(builder, where, x))));
    Value zero = floatConstant(where, 0.0);
    if (callee == "softplus")
      return arith::AddFOp::create(builder, where,
                                   arith::MaximumFOp::create(builder, where, x, zero), tail);
    return arith::SubFOp::create(builder, where,
                                 arith::MinimumFOp::create(builder, where, x, zero), tail);
  }
  if (callee == "pow")
    return power(where, x, floats[1]);
  if (callee == "softcap") {
    // softcap(x, c) = c * tanh(x / c)
    Value c = floats[1];
    Value t =
        math::TanhOp::create(builder, where, arith::DivFOp::create(builder, where, x, c));
    return arith::MulFOp::create(builder, where, c, t);
  }
  // alibi(h, H) = 2^(-8 (h + 1) / H)
  Value one = floatConstant(where, 1.0);
  Value heads = floats[1];
  Value exponent = arith::DivFOp::create(
      builder, where,
      arith::MulFOp::create(builder, where, floatConstant(where, -kAlibiExponent),
                            arith::AddFOp::create(builder, where, x, one)),
      heads);
  return math::Exp2Op::create(builder, where, exponent);
}

Typed SpecGenerator::genCall(const CallExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  llvm::SmallVector<Typed> args;
  for (const ExprPtr &arg : expr.args)
    args.push_back(gen(*arg, scope));
  const std::string &callee = expr.callee;
  Type f32 = builder.getF32Type();
  if (callee == "outer")
    return {mlir::tmix::OuterOp::create(builder, where, valueType(expr.type),
                                        args[0].value, args[1].value),
            expr.type};
  if (callee == "dot")
    return {mlir::tmix::DotOp::create(builder, where, f32, args[0].value, args[1].value),
            expr.type};
  if (callee == "sum")
    return {mlir::tmix::SumOp::create(builder, where, f32, args[0].value), expr.type};
  if (callee == "l2norm")
    return {l2norm(where, args[0]), expr.type};
  ValueType::Kind result = expr.type.kind;
  Value value =
      elementwise(where, args, expr.type,
                  [&](ArrayRef<Value> scalars, ArrayRef<ValueType::Kind> kinds) {
                    return scalarCall(where, callee, scalars, kinds, result);
                  });
  return {value, expr.type};
}

Typed SpecGenerator::genUnary(const UnaryExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  Typed operand = gen(*expr.operand, scope);
  switch (expr.op) {
  case UnaryExpr::Plus: return operand;
  case UnaryExpr::Not: {
    Value one = arith::ConstantOp::create(builder, where, builder.getBoolAttr(true));
    return {arith::XOrIOp::create(builder, where, operand.value, one), expr.type};
  }
  case UnaryExpr::Neg: break;
  }
  Value value =
      elementwise(where, {operand}, expr.type,
                  [&](ArrayRef<Value> x, ArrayRef<ValueType::Kind> kinds) {
                    if (kinds[0] == ValueType::Int) {
                      Value zero = arith::ConstantOp::create(
                          builder, where, builder.getI64IntegerAttr(0));
                      return Value(arith::SubIOp::create(builder, where, zero, x[0]));
                    }
                    return Value(arith::NegFOp::create(builder, where, x[0]));
                  });
  return {value, expr.type};
}

Value SpecGenerator::scalarBinary(Location where, BinaryExpr::Op op, Value lhs,
                                  ValueType::Kind lk, Value rhs, ValueType::Kind rk,
                                  ValueType::Kind result) {
  bool integer = lk == ValueType::Int && rk == ValueType::Int;
  switch (op) {
  case BinaryExpr::And: return arith::AndIOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Or: return arith::OrIOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Eq:
  case BinaryExpr::Ne:
  case BinaryExpr::Lt:
  case BinaryExpr::Le:
  case BinaryExpr::Gt:
  case BinaryExpr::Ge: {
    bool boolean = lk == ValueType::Bool;
    if (integer || boolean) {
      static constexpr arith::CmpIPredicate kPredicates[] = {
          arith::CmpIPredicate::eq,  arith::CmpIPredicate::ne,
          arith::CmpIPredicate::slt, arith::CmpIPredicate::sle,
          arith::CmpIPredicate::sgt, arith::CmpIPredicate::sge};
      return arith::CmpIOp::create(builder, where, kPredicates[op - BinaryExpr::Eq], lhs,
                                   rhs);
    }
    // Ordered comparisons, but != is true for NaN, as in C.
    static constexpr arith::CmpFPredicate kPredicates[] = {
        arith::CmpFPredicate::OEQ, arith::CmpFPredicate::UNE, arith::CmpFPredicate::OLT,
        arith::CmpFPredicate::OLE, arith::CmpFPredicate::OGT, arith::CmpFPredicate::OGE};
    return arith::CmpFOp::create(builder, where, kPredicates[op - BinaryExpr::Eq],
                                 toFloat(where, lhs, lk), toFloat(where, rhs, rk));
  }
  default: break;
  }
  if (result == ValueType::Int) {
    switch (op) {
    case BinaryExpr::Add: return arith::AddIOp::create(builder, where, lhs, rhs);
    case BinaryExpr::Sub: return arith::SubIOp::create(builder, where, lhs, rhs);
    case BinaryExpr::Mul: return arith::MulIOp::create(builder, where, lhs, rhs);
    case BinaryExpr::Div: return arith::FloorDivSIOp::create(builder, where, lhs, rhs);
    case BinaryExpr::Rem: return arith::RemSIOp::create(builder, where, lhs, rhs);
    default: break;
    }
  }
  lhs = toFloat(where, lhs, lk);
  rhs = toFloat(where, rhs, rk);
  switch (op) {
  case BinaryExpr::Add: return arith::AddFOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Sub: return arith::SubFOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Mul: return arith::MulFOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Div: return arith::DivFOp::create(builder, where, lhs, rhs);
  case BinaryExpr::Rem: return arith::RemFOp::create(builder, where, lhs, rhs);
  default: break;
  }
  return {};
}

Typed SpecGenerator::genBinary(const BinaryExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  Typed lhs = gen(*expr.lhs, scope);
  Typed rhs = gen(*expr.rhs, scope);
  if (expr.op == BinaryExpr::MatMul) {
    Type type = valueType(expr.type);
    if (lhs.type.dims.size() == 1)
      return {mlir::tmix::VecMatOp::create(builder, where, type, lhs.value, rhs.value),
              expr.type};
    return {mlir::tmix::MatVecOp::create(builder, where, type, lhs.value, rhs.value),
            expr.type};
  }
  ValueType::Kind result = expr.type.kind;
  Value value = elementwise(where, {lhs, rhs}, expr.type,
                            [&](ArrayRef<Value> x, ArrayRef<ValueType::Kind> kinds) {
                              return scalarBinary(where, expr.op, x[0], kinds[0], x[1],
                                                  kinds[1], result);
                            });
  return {value, expr.type};
}

Typed SpecGenerator::genTernary(const TernaryExpr &expr, Scope &scope) {
  Location where = loc(expr.getLoc());
  Typed cond = gen(*expr.cond, scope);
  Typed thenValue = gen(*expr.thenExpr, scope);
  Typed elseValue = gen(*expr.elseExpr, scope);
  ValueType::Kind kind = expr.type.kind;
  Value t = toKind(where, thenValue.value, thenValue.type.kind, kind);
  Value e = toKind(where, elseValue.value, elseValue.type.kind, kind);
  return {arith::SelectOp::create(builder, where, cond.value, t, e), expr.type};
}

void ::tmix::buildSpecOps(llvm::ArrayRef<const Spec *> specs, ModuleOp module,
                          const llvm::SourceMgr &sourceMgr) {
  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  for (const Spec *spec : specs)
    SpecGenerator(*spec, sourceMgr, builder).generate();
}
