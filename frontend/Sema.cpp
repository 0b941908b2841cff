//===- Sema.cpp - Semantic checks of .tmix specs --------------------------===//
//
// One SpecChecker per spec: the signature first (names, size symbols, the shape rules
// of attention, the time dimension of a recurrence), then the statements in order.
// Expressions are typed in SemaExpr.cpp. An expression that failed to type gets the
// Invalid type, which silences the errors that would only echo the first one.
//
//===----------------------------------------------------------------------===//

#include "frontend/Sema.h"
#include "frontend/SpecChecker.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Casting.h"

using namespace tmix;
using namespace tmix::sema;

//===----------------------------------------------------------------------===//
// Names and signatures
//===----------------------------------------------------------------------===//

const char *SpecChecker::reservedMeaning(llvm::StringRef name) const {
  if (!isAttention())
    return name == "t" ? "the step index" : nullptr;
  for (const IndexName &index : kIndexNames)
    if (name == index.name)
      return index.meaning;
  return nullptr;
}

/// Declares a name of the spec's scope; false (after an error) when it is taken.
bool SpecChecker::declareName(llvm::StringRef name, SMLoc loc, const char *what) {
  if (const char *meaning = reservedMeaning(name)) {
    error(loc, Twine("'") + name + "' is reserved for " + meaning +
                   " and can't be declared as " + what);
    return false;
  }
  auto [it, inserted] = declared.try_emplace(name, what);
  if (!inserted) {
    error(loc, Twine("'") + name + "' is already declared as " + it->second);
    return false;
  }
  return true;
}

void SpecChecker::checkSignatureNames() {
  for (auto [index, param] : llvm::enumerate(spec.params))
    if (declareName(param.name, param.loc, "an argument"))
      params[param.name] = index;
  for (auto [index, result] : llvm::enumerate(spec.results))
    if (declareName(result.name, result.loc, "an output"))
      results[result.name] = index;

  // Size symbols are bound by the arguments' shapes.
  // A rejected symbol is reported once and then treated as bound, so that its other
  // uses do not echo the error.
  for (const Param &param : spec.params)
    for (const Dim &dim : param.type.dims) {
      if (!dim.isSymbol() || sizeSymbols.contains(dim.symbol) ||
          rejectedSymbols.contains(dim.symbol))
        continue;
      if (declared.contains(dim.symbol)) {
        error(dim.loc, "size symbol '" + dim.symbol + "' is already declared as " +
                           declared[dim.symbol]);
        rejectedSymbols.insert(dim.symbol);
        continue;
      }
      if (const char *meaning = reservedMeaning(dim.symbol)) {
        error(dim.loc, "'" + dim.symbol + "' is reserved for " + meaning +
                           " and can't name a size symbol");
        rejectedSymbols.insert(dim.symbol);
        continue;
      }
      sizeSymbols.insert(dim.symbol);
    }
  for (const Param &param : spec.params)
    for (const Dim &dim : param.type.dims)
      if (dim.isSymbol())
        declared.try_emplace(dim.symbol, "a size symbol");
  for (const ResultDecl &result : spec.results)
    checkBoundSymbols(result.type, "output '" + result.name + "'");
}

void SpecChecker::checkBoundSymbols(const TypeDecl &type, const Twine &what) {
  for (const Dim &dim : type.dims)
    if (!isBound(dim)) {
      error(dim.loc, "size symbol '" + dim.symbol + "' of " + what +
                         " is not bound by any argument's shape");
      rejectedSymbols.insert(dim.symbol);
    }
}

bool SpecChecker::isBound(const Dim &dim) const {
  return !dim.isSymbol() || sizeSymbols.contains(dim.symbol) ||
         rejectedSymbols.contains(dim.symbol);
}

bool SpecChecker::allValid(const std::vector<Dim> &dims) const {
  return llvm::none_of(
      dims, [&](const Dim &dim) { return rejectedSymbols.contains(dim.symbol); });
}

void SpecChecker::checkDefaults() {
  for (const Param &param : spec.params) {
    if (!param.defaultValue)
      continue;
    const Literal &lit = *param.defaultValue;
    if (param.type.isTensor) {
      error(lit.loc, "tensor argument '" + param.name + "' can't have a default value");
      continue;
    }
    ElemType elem = param.type.elem;
    bool ok =
        (elem == ElemType::Bool && lit.kind == Literal::Bool) ||
        (isFloat(elem) && lit.kind != Literal::Bool) ||
        ((elem == ElemType::I32 || elem == ElemType::I64) && lit.kind == Literal::Int);
    if (!ok) {
      const char *got = lit.kind == Literal::Bool    ? "a bool"
                        : lit.kind == Literal::Float ? "a non-integer number"
                                                     : "an integer";
      error(lit.loc, Twine("default of '") + param.name + "' is " + got + " but '" +
                         param.name + "' is " + spelling(elem));
      continue;
    }
    if (elem == ElemType::I32 && (lit.intValue < INT32_MIN || lit.intValue > INT32_MAX))
      error(lit.loc, "default of '" + param.name + "' does not fit in i32");
  }
}

/// Checks that dimension `dimA` of `a` and `dimB` of `b` agree (DSL.md's shape rules).
void SpecChecker::checkSameDim(const Param &a, size_t dimA, const TypeDecl &b,
                               const std::string &nameB, size_t dimB, const char *role) {
  const Dim &da = a.type.dims[dimA], &db = b.dims[dimB];
  if (da != db && !rejectedSymbols.contains(da.symbol) &&
      !rejectedSymbols.contains(db.symbol))
    error(db.loc, Twine("'") + nameB + "' has " + role + " " + db.str() + " but '" +
                      a.name + "' has " + da.str() +
                      "; they must be the same symbol or literal");
}

void SpecChecker::checkAttentionSignature() {
  static const char *const kRoles[] = {"q", "k", "v"};
  if (spec.params.size() < 3) {
    error(spec.nameLoc,
          "attention '" + spec.name + "' needs at least the arguments q, k and v");
    return;
  }
  bool shapesOk = true;
  for (unsigned index = 0; index < 3; ++index) {
    const Param &param = spec.params[index];
    if (!param.type.isTensor || param.type.dims.size() != 4) {
      error(param.type.loc, Twine("argument ") + Twine(index + 1) + " ('" + param.name +
                                "') is attention's " + kRoles[index] +
                                " and must be a tensor [batch, head, seq, dim]");
      shapesOk = false;
    } else if (!isFloat(param.type.elem)) {
      error(param.type.loc, Twine("attention's ") + kRoles[index] + " ('" + param.name +
                                "') must be f32, f16 or bf16, not " +
                                spelling(param.type.elem));
      shapesOk = false;
    }
  }
  const Param &q = spec.params[0], &k = spec.params[1], &v = spec.params[2];
  if (shapesOk && (k.type.elem != q.type.elem || v.type.elem != q.type.elem))
    error((k.type.elem != q.type.elem ? k : v).type.loc,
          Twine("q, k and v must have the same element type; '") + q.name + "' is " +
              spelling(q.type.elem));

  if (spec.results.empty() || spec.results.size() > 2) {
    error(spec.nameLoc, "attention '" + spec.name + "' has outputs o or (o, lse)");
    return;
  }
  const ResultDecl &o = spec.results[0];
  if (!o.type.isTensor || o.type.dims.size() != 4) {
    error(o.type.loc, "output '" + o.name + "' must be a tensor [batch, head, seq, dim]");
    shapesOk = false;
  } else if (shapesOk && o.type.elem != q.type.elem) {
    error(o.type.loc, Twine("output '") + o.name + "' must have q's element type " +
                          spelling(q.type.elem));
  }
  const ResultDecl *lse = spec.results.size() == 2 ? &spec.results[1] : nullptr;
  if (lse && (!lse->type.isTensor || lse->type.dims.size() != 3 ||
              lse->type.elem != ElemType::F32)) {
    error(lse->type.loc,
          "output '" + lse->name + "' is the log-sum-exp and must be f32[B, H, N]");
    lse = nullptr;
  }
  if (!shapesOk)
    return;

  checkSameDim(q, 0, k.type, k.name, 0, "batch size");
  checkSameDim(q, 0, v.type, v.name, 0, "batch size");
  checkSameDim(q, 3, k.type, k.name, 3, "head dim");
  checkSameDim(k, 1, v.type, v.name, 1, "KV head count");
  checkSameDim(k, 2, v.type, v.name, 2, "key length");
  checkSameDim(q, 0, o.type, o.name, 0, "batch size");
  checkSameDim(q, 1, o.type, o.name, 1, "head count");
  checkSameDim(q, 2, o.type, o.name, 2, "query length");
  checkSameDim(v, 3, o.type, o.name, 3, "value head dim");
  if (lse) {
    checkSameDim(q, 0, lse->type, lse->name, 0, "batch size");
    checkSameDim(q, 1, lse->type, lse->name, 1, "head count");
    checkSameDim(q, 2, lse->type, lse->name, 2, "query length");
  }
  const Dim &heads = q.type.dims[1], &kvHeads = k.type.dims[1];
  if (!heads.isSymbol() && !kvHeads.isSymbol() && heads.size % kvHeads.size != 0)
    error(kvHeads.loc, "the KV head count " + kvHeads.str() +
                           " must divide the head count " + heads.str());
}

/// The time dimension of a recurrence is the last dimension of its first per-step
/// output whose symbol appears in every argument read at step t (docs/language.md).
bool SpecChecker::inferTimeDimension() {
  const ResultDecl *out = nullptr;
  for (const Stmt &stmt : spec.body)
    if (stmt.kind == Stmt::StepAssign && results.contains(stmt.name)) {
      out = &spec.results[results[stmt.name]];
      break;
    }
  // With a broken statement the missing piece may be in it: stay silent.
  if (!out) {
    if (!spec.hasBrokenStatements)
      error(spec.nameLoc, "recurrence '" + spec.name +
                              "' has no per-step output; write one as 'OUT[t] = ...'");
    return false;
  }

  // Arguments read as x[t] anywhere in the body.
  llvm::SmallVector<const Param *> stepArgs;
  std::function<void(const Expr &)> collect = [&](const Expr &e) {
    if (auto *index = llvm::dyn_cast<IndexExpr>(&e)) {
      if (params.contains(index->name)) {
        const Param *param = &spec.params[params[index->name]];
        if (param->type.isTensor && !llvm::is_contained(stepArgs, param))
          stepArgs.push_back(param);
      }
      for (const ExprPtr &i : index->indices)
        collect(*i);
    } else if (auto *call = llvm::dyn_cast<CallExpr>(&e)) {
      for (const ExprPtr &a : call->args)
        collect(*a);
    } else if (auto *unary = llvm::dyn_cast<UnaryExpr>(&e)) {
      collect(*unary->operand);
    } else if (auto *binary = llvm::dyn_cast<BinaryExpr>(&e)) {
      collect(*binary->lhs);
      collect(*binary->rhs);
    } else if (auto *ternary = llvm::dyn_cast<TernaryExpr>(&e)) {
      collect(*ternary->cond);
      collect(*ternary->thenExpr);
      collect(*ternary->elseExpr);
    }
  };
  for (const Stmt &stmt : spec.body)
    if (stmt.value && !stmt.broken)
      collect(*stmt.value);
  if (stepArgs.empty()) {
    if (spec.hasBrokenStatements)
      return false;
    error(spec.nameLoc, "recurrence '" + spec.name +
                            "' reads no argument at step t ('x[t]'), so its time "
                            "dimension is unknown");
    return false;
  }

  // Candidates, from the right. With several (`o: [B, H, T, D]` and arguments
  // `[B, H, T, D]`: T and D), the time dimension is the rightmost under which the whole
  // spec checks; when none does, the rightmost, and its errors are reported.
  const std::vector<Dim> &dims = out->type.dims;
  llvm::SmallVector<size_t> candidates;
  for (size_t pos = dims.size(); pos-- > 0;) {
    const Dim &dim = dims[pos];
    bool inAll = dim.isSymbol() && llvm::all_of(stepArgs, [&](const Param *p) {
                   return llvm::is_contained(p->type.dims, dim);
                 });
    if (inAll)
      candidates.push_back(pos);
  }
  std::optional<size_t> chosen = timePosition;
  if (!chosen && candidates.size() > 1) {
    for (size_t pos : candidates)
      if (SpecChecker(spec, diags, /*silent=*/true, pos).run()) {
        chosen = pos;
        break;
      }
    resetAnnotations(spec);
  }
  if (!chosen && !candidates.empty())
    chosen = candidates.front();
  if (chosen) {
    spec.timeSymbol = dims[*chosen].symbol;
    spec.parallelDims.assign(dims.begin(), dims.begin() + *chosen);
  }
  if (spec.timeSymbol.empty()) {
    std::string names;
    for (const Param *p : stepArgs)
      names += (names.empty() ? "'" : ", '") + p->name + "'";
    error(out->loc, "no dimension of output '" + out->name +
                        "' appears in every argument read at step t (" + names +
                        "); the time dimension must");
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

bool SpecChecker::run() {
  resetAnnotations(spec);
  checkSignatureNames();
  checkDefaults();
  if (isAttention()) {
    checkAttentionSignature();
    checkAttentionBody();
  } else {
    for (const ResultDecl &result : spec.results)
      if (!isFloat(result.type.elem))
        error(result.type.loc, Twine("output '") + result.name +
                                   "' must be f32, f16 or bf16, not " +
                                   spelling(result.type.elem));
    if (inferTimeDimension())
      checkRecurrenceBody();
  }
  return numErrors == 0;
}

void SpecChecker::checkAttentionBody() {
  llvm::StringMap<SMLoc> given;
  for (Stmt &stmt : spec.body) {
    if (stmt.broken) {
      if (stmt.kind == Stmt::Let)
        broken.insert(stmt.name);
      continue;
    }
    switch (stmt.kind) {
    case Stmt::State:
      error(stmt.loc, "'state' is only allowed in a recurrence");
      continue;
    case Stmt::Assign:
    case Stmt::StepAssign:
      error(stmt.loc, "unknown statement '" + stmt.name +
                          " ='; attention has scale, mask, score, rope, sink and let");
      continue;
    case Stmt::Let: {
      Context ctx{"'let " + stmt.name + "'", kAllIndices};
      ValueType type = check(*stmt.value, ctx);
      (void)type;
      if (declareName(stmt.name, stmt.nameLoc, "a let")) {
        lets[stmt.name] = &stmt;
        letIndexUse[stmt.name] = ctx.used;
      }
      continue;
    }
    default: break;
    }

    const char *keyword = Stmt::keyword(stmt.kind);
    auto [it, first] = given.try_emplace(keyword, stmt.loc);
    if (!first) {
      unsigned line = diags.getSourceMgr().getLineAndColumn(it->second).first;
      error(stmt.loc, Twine("'") + keyword + "' is given twice (first at line " +
                          Twine(line) + ")");
      continue;
    }
    unsigned available = 0;
    switch (stmt.kind) {
    case Stmt::Mask: available = kB | kH | kI | kJ; break;
    case Stmt::Score: available = kAllIndices; break;
    case Stmt::Sink: available = kB | kH; break;
    default: break; // scale and rope read only sizes, scalars and literals
    }
    Context ctx{Twine("'").concat(keyword).concat("'").str(), available};
    ValueType type = check(*stmt.value, ctx);
    if (type.isInvalid())
      continue;
    if (stmt.kind == Stmt::Mask) {
      if (type.kind != ValueType::Bool)
        error(stmt.value->getLoc(),
              Twine("'mask' must be a bool expression, got ") + type.str());
    } else if (!type.isNumber()) {
      error(stmt.value->getLoc(),
            Twine("'") + keyword + "' must be a number, got " + type.str());
    }
    if (stmt.kind == Stmt::Rope) {
      const TypeDecl &q = spec.params.size() ? spec.params[0].type : TypeDecl{};
      if (q.dims.size() == 4 && !q.dims[3].isSymbol() && q.dims[3].size % 2 != 0)
        error(stmt.loc, "'rope' needs an even head dim, but it is " + q.dims[3].str());
    }
  }
}

void SpecChecker::checkRecurrenceBody() {
  // States may only be read after their declaration; remember the later ones to say so.
  for (const Stmt &stmt : spec.body)
    if (stmt.kind == Stmt::State)
      laterStates[stmt.name] = &stmt;

  for (Stmt &stmt : spec.body) {
    if (stmt.broken) {
      if (stmt.kind == Stmt::Let || stmt.kind == Stmt::State)
        broken.insert(stmt.name);
      continue;
    }
    switch (stmt.kind) {
    case Stmt::Invalid: continue;
    case Stmt::Scale:
    case Stmt::Mask:
    case Stmt::Score:
    case Stmt::Rope:
    case Stmt::Sink:
      error(stmt.loc,
            Twine("'") + Stmt::keyword(stmt.kind) + "' is only allowed in attention");
      continue;
    case Stmt::Let: {
      Context ctx{"'let " + stmt.name + "'", 0};
      check(*stmt.value, ctx);
      if (declareName(stmt.name, stmt.nameLoc, "a let"))
        lets[stmt.name] = &stmt;
      continue;
    }
    case Stmt::State: checkStateDecl(stmt); continue;
    case Stmt::Assign: checkAssign(stmt); continue;
    case Stmt::StepAssign: checkStepAssign(stmt); continue;
    }
  }
  checkRecurrenceOutputs();
}

void SpecChecker::checkStateDecl(Stmt &stmt) {
  laterStates.erase(stmt.name);
  const TypeDecl &type = stmt.stateType;
  bool ok = true;
  if (type.elem != ElemType::F32) {
    error(type.loc, Twine("state '") + stmt.name +
                        "' must be f32 (states are kept in "
                        "f32), not " +
                        spelling(type.elem));
    ok = false;
  }
  if (type.dims.size() > 2) {
    error(type.loc, "state '" + stmt.name + "' has " + Twine(type.dims.size()) +
                        " dimensions; a state is a scalar, a vector or a matrix");
    ok = false;
  }
  unsigned before = numErrors;
  checkBoundSymbols(type, "state '" + stmt.name + "'");
  ok &= numErrors == before;
  if (!stmt.init.empty()) {
    auto it = params.find(stmt.init);
    if (it == params.end()) {
      error(stmt.initLoc, "initial state '" + stmt.init + "' of '" + stmt.name +
                              "' is not an argument");
      ok = false;
    } else {
      const Param &init = spec.params[it->second];
      std::vector<Dim> expected = spec.parallelDims;
      expected.insert(expected.end(), type.dims.begin(), type.dims.end());
      if (!init.type.isTensor || init.type.dims != expected || !isFloat(init.type.elem)) {
        error(stmt.initLoc, "initial state '" + stmt.init + "' must be a float tensor " +
                                dimList(expected) +
                                " (the parallel dimensions, then the state's)");
        ok = false;
      }
      stmt.target = it->second;
    }
  }
  if (!declareName(stmt.name, stmt.nameLoc, "a state"))
    return;
  if (!ok) {
    broken.insert(stmt.name); // its uses would only echo the error
    return;
  }
  states[stmt.name] = stateDecls.size();
  stateDecls.push_back(&stmt);
}

/// `S = E` updates a state; `FINAL = S` names the state an output takes at the end.
void SpecChecker::checkAssign(Stmt &stmt) {
  if (auto it = results.find(stmt.name); it != results.end()) {
    ResultDecl &result = spec.results[it->second];
    stmt.target = it->second;
    auto *name = llvm::dyn_cast<NameExpr>(stmt.value.get());
    // On an error the output counts as assigned: "never assigned" would only echo it.
    stmt.broken = true;
    if (name && broken.contains(name->name))
      return;
    if (llvm::is_contained(result.type.dims, Dim{{}, spec.timeSymbol, 0})) {
      error(stmt.nameLoc, "output '" + stmt.name + "' has the time dimension " +
                              spec.timeSymbol + ": write it per step as '" + stmt.name +
                              "[t] = ...'");
      stmt.broken = false; // not an assignment of the output
      return;
    }
    if (!name || !states.contains(name->name)) {
      error(stmt.value->getLoc(), "output '" + stmt.name +
                                      "' is a final state: its value must be a state's "
                                      "name");
      return;
    }
    unsigned state = states[name->name];
    name->ref = NameRef{NameRef::State, state, nullptr};
    std::vector<Dim> expected = spec.parallelDims;
    const TypeDecl &stateType = stateDecls[state]->stateType;
    expected.insert(expected.end(), stateType.dims.begin(), stateType.dims.end());
    if (result.type.dims != expected || result.type.elem != ElemType::F32) {
      error(result.type.loc, "output '" + result.name + "' holds final state '" +
                                 name->name + "' and must be f32" + dimList(expected));
      return;
    }
    if (result.finalState >= 0) {
      error(stmt.loc, "output '" + stmt.name + "' is assigned twice");
      stmt.broken = false; // the first assignment counts
      return;
    }
    result.finalState = state;
    stmt.isFinal = true;
    stmt.broken = false;
    return;
  }

  auto it = states.find(stmt.name);
  if (it == states.end()) {
    if (broken.contains(stmt.name))
      return;
    if (laterStates.contains(stmt.name))
      error(stmt.nameLoc, "state '" + stmt.name + "' is updated before its declaration");
    else
      error(stmt.nameLoc, "'" + stmt.name + "' is not a state or an output");
    return;
  }
  stmt.target = it->second;
  Context ctx{"the update of '" + stmt.name + "'", 0};
  ValueType type = check(*stmt.value, ctx);
  if (type.isInvalid())
    return;
  const TypeDecl &stateType = stateDecls[it->second]->stateType;
  ValueType expected{ValueType::Float, stateType.dims};
  if (!type.isNumber() || type.dims != stateType.dims)
    error(stmt.value->getLoc(), "the update of state '" + stmt.name + "' is " +
                                    type.str() + " but the state is " + expected.str());
}

/// `OUT[t] = E`: the output at each step.
void SpecChecker::checkStepAssign(Stmt &stmt) {
  auto it = results.find(stmt.name);
  if (it == results.end()) {
    if (states.contains(stmt.name))
      error(stmt.nameLoc, "state '" + stmt.name + "' is updated without an index: '" +
                              stmt.name + " = ...'");
    else
      error(stmt.nameLoc, "'" + stmt.name + "' is not an output");
    return;
  }
  stmt.target = it->second;
  ResultDecl &result = spec.results[it->second];
  auto *index = stmt.indices.size() == 1 ? llvm::dyn_cast<NameExpr>(stmt.indices[0].get())
                                         : nullptr;
  if (!index || index->name != "t") {
    error(stmt.indices.empty() ? stmt.nameLoc : stmt.indices[0]->getLoc(),
          "an output is written at the current step only: '" + stmt.name + "[t] = ...'");
    return;
  }
  index->ref.kind = NameRef::Time;
  index->type = ValueType::scalar(ValueType::Int);

  Context ctx{"output '" + stmt.name + "'", 0};
  ValueType type = check(*stmt.value, ctx);
  const std::vector<Dim> &dims = result.type.dims;
  auto time = llvm::find(dims, Dim{{}, spec.timeSymbol, 0});
  if (time == dims.end() || !std::equal(spec.parallelDims.begin(),
                                        spec.parallelDims.end(), dims.begin(), time)) {
    error(result.type.loc,
          "output '" + result.name + "' must have the parallel dimensions " +
              dimList(spec.parallelDims) + " then the time dimension " + spec.timeSymbol);
    return;
  }
  if (type.isInvalid() || !allValid(dims))
    return;
  ValueType expected{ValueType::Float, std::vector<Dim>(time + 1, dims.end())};
  if (!type.isNumber() || type.dims != expected.dims)
    error(stmt.value->getLoc(), "output '" + stmt.name + "' at a step is " +
                                    expected.str() + " but the expression is " +
                                    type.str());
}

void SpecChecker::checkRecurrenceOutputs() {
  llvm::SmallVector<unsigned> assigned(spec.results.size(), 0);
  for (const Stmt &stmt : spec.body) {
    auto it = results.find(stmt.name);
    if (it == results.end())
      continue;
    // A broken assignment to an output counts: its error is already reported.
    if (stmt.kind == Stmt::StepAssign || (stmt.kind == Stmt::Assign && stmt.broken))
      ++assigned[it->second];
    else if (stmt.kind == Stmt::Assign && stmt.isFinal)
      ++assigned[it->second];
  }
  for (auto [index, result] : llvm::enumerate(spec.results)) {
    if (assigned[index] == 0)
      error(result.loc, "output '" + result.name + "' is never assigned");
    else if (assigned[index] > 1)
      error(result.loc, "output '" + result.name + "' is assigned more than once");
  }
}

bool tmix::checkSpec(Spec &spec, SourceDiagnostics &diags) {
  return SpecChecker(spec, diags).run();
}
