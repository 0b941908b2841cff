//===- SemaExpr.cpp - Typing the expressions of .tmix specs ---------------===//
//
// Bottom-up typing of expressions: names, tensor reads and per-step slices, built-in
// functions, operators with their broadcasting rules. Each error is reported once, and
// its expression gets the Invalid type.
//
//===----------------------------------------------------------------------===//

#include "frontend/SpecChecker.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Casting.h"

using namespace tmix;
using namespace tmix::sema;

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ValueType SpecChecker::check(Expr &expr, Context &ctx) {
  ValueType type;
  switch (expr.getKind()) {
  case Expr::Number:
    type = ValueType::scalar(llvm::cast<NumberExpr>(expr).isInt ? ValueType::Int
                                                                : ValueType::Float);
    break;
  case Expr::BoolLiteral: type = ValueType::scalar(ValueType::Bool); break;
  case Expr::Name: type = checkName(llvm::cast<NameExpr>(expr), ctx); break;
  case Expr::Index: type = checkIndex(llvm::cast<IndexExpr>(expr), ctx); break;
  case Expr::Call: type = checkCall(llvm::cast<CallExpr>(expr), ctx); break;
  case Expr::Unary: type = checkUnary(llvm::cast<UnaryExpr>(expr), ctx); break;
  case Expr::Binary: type = checkBinary(llvm::cast<BinaryExpr>(expr), ctx); break;
  case Expr::Ternary: type = checkTernary(llvm::cast<TernaryExpr>(expr), ctx); break;
  }
  expr.type = type;
  return type;
}

ValueType SpecChecker::checkName(NameExpr &expr, Context &ctx) {
  const std::string &name = expr.name;
  ValueType invalid;

  if (broken.contains(name))
    return invalid; // declared by a statement whose error is already reported
  if (auto it = lets.find(name); it != lets.end()) {
    expr.ref = NameRef{NameRef::Let, 0, it->second};
    if (isAttention()) {
      unsigned uses = letIndexUse[name];
      ctx.used |= uses;
      for (const IndexName &index : kIndexNames)
        if (uses & index.bit & ~ctx.available) {
          error(expr.getLoc(), "'" + name + "' reads '" + index.name + "' (" +
                                   index.meaning + "), which " + ctx.where +
                                   " can't read");
          return invalid;
        }
    }
    return it->second->value->type;
  }

  if (isAttention()) {
    for (auto [number, index] : llvm::enumerate(kIndexNames)) {
      if (name != index.name)
        continue;
      if (!(ctx.available & index.bit)) {
        error(expr.getLoc(), Twine("'") + name + "' (" + index.meaning +
                                 ") can't be read in " + ctx.where);
        return invalid;
      }
      ctx.used |= index.bit;
      if (index.bit == kS) {
        expr.ref.kind = NameRef::Score;
        return ValueType::scalar(ValueType::Float);
      }
      expr.ref = NameRef{NameRef::Index, static_cast<unsigned>(number), nullptr};
      return ValueType::scalar(ValueType::Int);
    }
  } else if (name == "t") {
    expr.ref.kind = NameRef::Time;
    return ValueType::scalar(ValueType::Int);
  }

  if (auto it = states.find(name); it != states.end()) {
    expr.ref = NameRef{NameRef::State, it->second, nullptr};
    return ValueType{ValueType::Float, stateDecls[it->second]->stateType.dims};
  }
  if (laterStates.contains(name)) {
    error(expr.getLoc(), "state '" + name + "' is read before its declaration");
    return invalid;
  }
  if (auto it = params.find(name); it != params.end()) {
    const Param &param = spec.params[it->second];
    expr.ref = NameRef{NameRef::Param, it->second, nullptr};
    if (!param.type.isTensor)
      return ValueType::scalar(kindOf(param.type.elem));
    if (isAttention()) {
      error(expr.getLoc(),
            "'" + name + "' is a tensor; read one element of it, as '" + name + "[...]'");
      return invalid;
    }
    if (std::optional<ValueType> slice =
            stepSlice(param, /*atStep=*/false, expr.getLoc()))
      return *slice;
    return invalid;
  }
  if (sizeSymbols.contains(name)) {
    expr.ref = NameRef{NameRef::SizeSymbol, 0, nullptr};
    return ValueType::scalar(ValueType::Int);
  }
  if (results.contains(name)) {
    error(expr.getLoc(), "'" + name + "' is an output and can't be read");
    return invalid;
  }
  if (!isAttention() && name == "h" && !specDeclares("h")) {
    // As in attention: the head index, where the parallel dims are [batch, head]; with
    // packed sequences the sequence is the batch, and fla's batch of 1 ([1, T, H, K])
    // is no dimension of the grid.
    std::vector<Dim> point = spec.pointDims();
    bool unitBatch = !spec.sequenceSymbol.empty() && point.size() == 3 &&
                     point[1] == Dim{{}, {}, 1};
    if (point.size() == 2 || unitBatch) {
      expr.ref = NameRef{NameRef::ParallelIndex, unsigned(point.size() - 1), nullptr};
      return ValueType::scalar(ValueType::Int);
    }
    error(expr.getLoc(), "'h' is the head index of a recurrence whose parallel dimensions "
                         "are [batch, head]; '" + spec.name + "' has the parallel "
                         "dimensions " + dimList(point));
    return invalid;
  }
  error(expr.getLoc(), "unknown name '" + name + "'");
  return invalid;
}

/// The per-step view of a recurrence argument: its dims minus the parallel ones (a
/// subset, in order) and the time one (when read at a step).
std::optional<ValueType> SpecChecker::stepSlice(const Param &param, bool atStep,
                                                SMLoc use) {
  const std::vector<Dim> &dims = param.type.dims;
  // The sequence dim of packed sequences is a parallel dim of the tensors without T.
  const std::vector<Dim> pointDims = spec.pointDims();
  size_t pos = 0;
  size_t parallel = 0;
  while (pos < dims.size()) {
    auto found = std::find_if(pointDims.begin() + parallel, pointDims.end(),
                              [&](const Dim &dim) { return standsFor(dims[pos], dim); });
    if (found == pointDims.end())
      break;
    parallel = found - pointDims.begin() + 1;
    ++pos;
  }
  bool hasTime =
      pos < dims.size() && dims[pos].isSymbol() && dims[pos].symbol == spec.timeSymbol;
  if (hasTime)
    ++pos;
  std::vector<Dim> rest(dims.begin() + pos, dims.end());
  for (const Dim &dim : rest)
    if (dim.isSymbol() &&
        (dim.symbol == spec.timeSymbol || llvm::is_contained(pointDims, dim) ||
         !spec.groupedDim(dim.symbol).empty())) {
      error(use, "'" + param.name + "' " + dimList(dims) +
                     " must list its parallel dimensions (of " + dimList(pointDims) +
                     ", in that order) first, then the time dimension " +
                     spec.timeSymbol + ", then its per-step dimensions");
      return std::nullopt;
    }
  if (hasTime && !spec.sequenceSymbol.empty() &&
      llvm::is_contained(dims, Dim{{}, spec.sequenceSymbol, 0})) {
    const TypeDecl &type = param.type;
    error(use, "'" + param.name + "' " + dimList(type.stored.empty() ? dims : type.stored) +
                   " has the time dimension " +
                   spec.timeSymbol + ", which packs every sequence, and the sequence "
                   "dimension " + spec.sequenceSymbol + " too");
    return std::nullopt;
  }
  if (atStep && !hasTime) {
    error(use, "'" + param.name + "' has no time dimension " + spec.timeSymbol +
                   "; read it without '[t]'");
    return std::nullopt;
  }
  if (!atStep && hasTime) {
    error(use, "'" + param.name + "' has the time dimension " + spec.timeSymbol +
                   "; read it at the current step as '" + param.name + "[t]'");
    return std::nullopt;
  }
  if (rest.size() > 2) {
    error(use, "'" + param.name + "' has " + Twine(rest.size()) +
                   " per-step dimensions; a value at a step is a scalar, a vector or a "
                   "matrix");
    return std::nullopt;
  }
  if (!rest.empty() && !isFloat(param.type.elem)) {
    error(use, "'" + param.name + "' is " + spelling(param.type.elem) +
                   "; only float tensors give vectors or matrices at a step");
    return std::nullopt;
  }
  return ValueType{kindOf(param.type.elem), rest};
}

ValueType SpecChecker::checkIndex(IndexExpr &expr, Context &ctx) {
  ValueType invalid;
  auto it = params.find(expr.name);
  if (it == params.end() || !spec.params[it->second].type.isTensor) {
    for (ExprPtr &index : expr.indices)
      check(*index, ctx);
    if (it != params.end())
      error(expr.getLoc(), "'" + expr.name + "' is a scalar and can't be indexed");
    else if (lets.contains(expr.name) || states.contains(expr.name) ||
             sizeSymbols.contains(expr.name) || reservedMeaning(expr.name))
      error(expr.getLoc(),
            "'" + expr.name + "' is not a tensor argument and can't be indexed");
    else if (results.contains(expr.name))
      error(expr.getLoc(), "'" + expr.name + "' is an output and can't be read");
    else
      error(expr.getLoc(), "unknown name '" + expr.name + "'");
    return invalid;
  }
  expr.param = it->second;
  const Param &param = spec.params[it->second];

  if (!isAttention()) {
    auto *index = expr.indices.size() == 1
                      ? llvm::dyn_cast<NameExpr>(expr.indices[0].get())
                      : nullptr;
    if (!index || index->name != "t") {
      error(expr.getLoc(),
            "a recurrence reads its arguments at the current step only: '" + expr.name +
                "[t]'");
      return invalid;
    }
    check(*index, ctx);
    if (std::optional<ValueType> slice = stepSlice(param, /*atStep=*/true, expr.getLoc()))
      return *slice;
    return invalid;
  }

  bool ok = true;
  for (auto [position, index] : llvm::enumerate(expr.indices)) {
    ValueType type = check(*index, ctx);
    if (type.isInvalid()) {
      ok = false;
    } else if (type.kind != ValueType::Int) {
      error(index->getLoc(), "index " + Twine(position + 1) + " of '" + expr.name +
                                 "' must be an integer, got " + type.str());
      ok = false;
    }
  }
  if (expr.indices.size() != param.type.dims.size()) {
    error(expr.getLoc(), "'" + expr.name + "' has " + Twine(param.type.dims.size()) +
                             " dimensions but is read with " +
                             Twine(expr.indices.size()) +
                             (expr.indices.size() == 1 ? " index" : " indices"));
    return invalid;
  }
  return ok ? ValueType::scalar(kindOf(param.type.elem)) : invalid;
}

/// Element-wise operands broadcast: a scalar over anything, equal shapes, and a vector
/// [K] over the rows of a matrix [K, V] (a diagonal gate).
std::optional<ValueType> SpecChecker::broadcast(const ValueType &a, const ValueType &b,
                                                SMLoc loc, const Twine &what) {
  ValueType::Kind kind = a.kind == ValueType::Int && b.kind == ValueType::Int
                             ? ValueType::Int
                             : ValueType::Float;
  if (a.isScalar() && b.isScalar())
    return ValueType::scalar(kind);
  if (a.isScalar() || a.dims == b.dims)
    return ValueType{ValueType::Float, b.dims};
  if (b.isScalar())
    return ValueType{ValueType::Float, a.dims};
  const ValueType &vec = a.dims.size() == 1 ? a : b;
  const ValueType &mat = a.dims.size() == 1 ? b : a;
  if (vec.dims.size() == 1 && mat.dims.size() == 2 && vec.dims[0] == mat.dims[0])
    return ValueType{ValueType::Float, mat.dims};
  error(loc, what + " can't combine " + a.str() + " and " + b.str());
  return std::nullopt;
}

ValueType SpecChecker::checkCall(CallExpr &expr, Context &ctx) {
  ValueType invalid;
  std::vector<ValueType> args;
  bool ok = true;
  for (ExprPtr &arg : expr.args) {
    args.push_back(check(*arg, ctx));
    ok &= !args.back().isInvalid();
  }
  const std::string &name = expr.callee;
  unsigned arity = 0;
  std::optional<Builtin> builtin = lookupBuiltin(name);
  bool isAlgebra = name == "outer" || name == "dot" || name == "sum" || name == "l2norm";
  if (builtin)
    arity = builtin->arity;
  else if (isAlgebra)
    arity = name == "sum" || name == "l2norm" ? 1 : 2;
  else {
    error(expr.getLoc(), "unknown function '" + name + "'");
    return invalid;
  }
  if (args.size() != arity) {
    error(expr.getLoc(), "'" + name + "' takes " + Twine(arity) +
                             (arity == 1 ? " argument" : " arguments") + ", got " +
                             Twine(args.size()));
    return invalid;
  }
  if (!ok)
    return invalid;
  for (auto [position, arg] : llvm::enumerate(args))
    if (!arg.isNumber()) {
      error(expr.args[position]->getLoc(),
            "'" + name + "' takes numbers, got " + arg.str());
      return invalid;
    }

  if (isAlgebra) {
    if (name == "l2norm") {
      if (args[0].dims.size() != 1) {
        error(expr.args[0]->getLoc(), "'l2norm' takes a vector, got " + args[0].str());
        return invalid;
      }
      return ValueType{ValueType::Float, args[0].dims};
    }
    if (name == "sum") {
      if (args[0].isScalar()) {
        error(expr.args[0]->getLoc(),
              "'sum' takes a vector or a matrix, got " + args[0].str());
        return invalid;
      }
      return ValueType::scalar(ValueType::Float);
    }
    if (args[0].dims.size() != 1 || args[1].dims.size() != 1) {
      error(expr.getLoc(), "'" + name + "' takes two vectors, got " + args[0].str() +
                               " and " + args[1].str());
      return invalid;
    }
    if (name == "outer")
      return ValueType{ValueType::Float, {args[0].dims[0], args[1].dims[0]}};
    if (args[0].dims != args[1].dims) {
      error(expr.getLoc(), "'dot' takes vectors of the same length, got " +
                               args[0].str() + " and " + args[1].str());
      return invalid;
    }
    return ValueType::scalar(ValueType::Float);
  }

  if (name == "alibi" && (!args[0].isScalar() || !args[1].isScalar())) {
    error(expr.getLoc(), "'alibi' takes a head index and a head count, as scalars");
    return invalid;
  }
  ValueType shape = args[0];
  if (args.size() == 2) {
    std::optional<ValueType> joined =
        broadcast(args[0], args[1], expr.getLoc(), "'" + name + "'");
    if (!joined)
      return invalid;
    shape = *joined;
  }
  ValueType::Kind kind = ValueType::Float;
  if (builtin->result == Builtin::IntResult) {
    // An index computed in the kernel (T5's buckets): a scalar, as indices are.
    if (!shape.isScalar()) {
      error(expr.getLoc(), "'int' takes a scalar, got " + shape.str());
      return invalid;
    }
    return ValueType::scalar(ValueType::Int);
  }
  if (shape.isScalar() && builtin->result == Builtin::SameKind)
    kind = args[0].kind;
  if (shape.isScalar() && builtin->result == Builtin::PromoteKind)
    kind = shape.kind;
  return ValueType{kind, shape.dims};
}

ValueType SpecChecker::checkUnary(UnaryExpr &expr, Context &ctx) {
  ValueType operand = check(*expr.operand, ctx);
  if (operand.isInvalid())
    return operand;
  if (expr.op == UnaryExpr::Not) {
    if (operand.kind != ValueType::Bool || !operand.isScalar()) {
      error(expr.getLoc(), "'!' takes a bool, got " + operand.str());
      return ValueType();
    }
    return operand;
  }
  if (!operand.isNumber()) {
    error(expr.getLoc(), Twine("unary '") + (expr.op == UnaryExpr::Neg ? "-" : "+") +
                             "' takes a number, got " + operand.str());
    return ValueType();
  }
  return operand;
}

ValueType SpecChecker::checkBinary(BinaryExpr &expr, Context &ctx) {
  ValueType lhs = check(*expr.lhs, ctx);
  ValueType rhs = check(*expr.rhs, ctx);
  if (lhs.isInvalid() || rhs.isInvalid())
    return ValueType();
  std::string op = Twine("'").concat(BinaryExpr::spelling(expr.op)).concat("'").str();
  ValueType invalid;

  switch (expr.op) {
  case BinaryExpr::And:
  case BinaryExpr::Or:
    if (lhs.kind != ValueType::Bool || rhs.kind != ValueType::Bool || !lhs.isScalar() ||
        !rhs.isScalar()) {
      error(expr.getLoc(), op + " takes bools, got " + lhs.str() + " and " + rhs.str());
      return invalid;
    }
    return lhs;
  case BinaryExpr::Eq:
  case BinaryExpr::Ne:
  case BinaryExpr::Lt:
  case BinaryExpr::Le:
  case BinaryExpr::Gt:
  case BinaryExpr::Ge: {
    bool equality = expr.op == BinaryExpr::Eq || expr.op == BinaryExpr::Ne;
    bool bothBool = lhs.kind == ValueType::Bool && rhs.kind == ValueType::Bool;
    if (!lhs.isScalar() || !rhs.isScalar() ||
        !((lhs.isNumber() && rhs.isNumber()) || (equality && bothBool))) {
      error(expr.getLoc(), op +
                               (equality ? " compares two numbers or two bools, got "
                                         : " compares numbers, got ") +
                               lhs.str() + " and " + rhs.str());
      return invalid;
    }
    return ValueType::scalar(ValueType::Bool);
  }
  case BinaryExpr::MatMul: {
    if (!lhs.isNumber() || !rhs.isNumber()) {
      error(expr.getLoc(),
            "'@' takes a vector and a matrix, got " + lhs.str() + " and " + rhs.str());
      return invalid;
    }
    if (lhs.dims.size() == 1 && rhs.dims.size() == 2 && lhs.dims[0] == rhs.dims[0])
      return ValueType{ValueType::Float, {rhs.dims[1]}};
    if (lhs.dims.size() == 2 && rhs.dims.size() == 1 && lhs.dims[1] == rhs.dims[0])
      return ValueType{ValueType::Float, {lhs.dims[0]}};
    error(expr.getLoc(), "'@' multiplies a vector [K] by a matrix [K, V] or a matrix "
                         "[K, V] by a vector [V], got " +
                             lhs.str() + " @ " + rhs.str());
    return invalid;
  }
  default: break;
  }

  if (!lhs.isNumber() || !rhs.isNumber()) {
    error(expr.getLoc(), op + " takes numbers, got " + lhs.str() + " and " + rhs.str());
    return invalid;
  }
  std::optional<ValueType> type = broadcast(lhs, rhs, expr.getLoc(), op);
  return type ? *type : invalid;
}

ValueType SpecChecker::checkTernary(TernaryExpr &expr, Context &ctx) {
  ValueType cond = check(*expr.cond, ctx);
  ValueType thenType = check(*expr.thenExpr, ctx);
  ValueType elseType = check(*expr.elseExpr, ctx);
  if (cond.isInvalid() || thenType.isInvalid() || elseType.isInvalid())
    return ValueType();
  if (cond.kind != ValueType::Bool || !cond.isScalar()) {
    error(expr.cond->getLoc(), "the condition of '?:' must be a bool, got " + cond.str());
    return ValueType();
  }
  if (!thenType.isScalar() || !elseType.isScalar()) {
    error(expr.getLoc(), "the branches of '?:' must be scalars, got " + thenType.str() +
                             " and " + elseType.str());
    return ValueType();
  }
  if (thenType.kind == elseType.kind)
    return thenType;
  if (thenType.isNumber() && elseType.isNumber())
    return ValueType::scalar(ValueType::Float);
  error(expr.getLoc(), "the branches of '?:' have different types, " + thenType.str() +
                           " and " + elseType.str());
  return ValueType();
}
