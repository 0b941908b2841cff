//===- Sema.cpp - Semantic checks of .tmix specs --------------------------===//
//
// One SpecChecker per spec: the signature first (names, size symbols, the shape rules
// of attention, the time dimension of a recurrence), then the statements in order,
// typing each expression bottom-up. An expression that failed to type gets the Invalid
// type, which silences the errors that would only echo the first one.
//
//===----------------------------------------------------------------------===//

#include "frontend/Sema.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Casting.h"

#include <optional>

using namespace tmix;
using llvm::SMLoc;
using llvm::Twine;

namespace {

/// Index names an attention expression may read, as a bit set.
enum IndexBit : unsigned { kB = 1, kH = 2, kI = 4, kJ = 8, kS = 16 };
constexpr unsigned kAllIndices = kB | kH | kI | kJ | kS;

struct IndexName {
  const char *name;
  unsigned bit;
  const char *meaning;
};
constexpr IndexName kIndexNames[] = {{"b", kB, "the batch index"},
                                     {"h", kH, "the query head index"},
                                     {"i", kI, "the query position"},
                                     {"j", kJ, "the key position"},
                                     {"s", kS, "the scaled score"}};

/// Where an expression sits: what it may read.
struct Context {
  std::string where;      // "'mask'", "'let w'", ...
  unsigned available = 0; // IndexBits readable here (attention)
  unsigned used = 0;      // IndexBits read, directly or through lets
};

/// An element-wise built-in function.
struct Builtin {
  unsigned arity;
  enum Result { FloatResult, SameKind, PromoteKind } result;
};

std::optional<Builtin> lookupBuiltin(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Builtin>>(name)
      .Cases({"exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid"},
             Builtin{1, Builtin::FloatResult})
      .Cases({"abs", "floor", "ceil"}, Builtin{1, Builtin::SameKind})
      .Cases({"min", "max"}, Builtin{2, Builtin::PromoteKind})
      .Case("softcap", Builtin{2, Builtin::FloatResult})
      .Case("alibi", Builtin{2, Builtin::FloatResult})
      .Default(std::nullopt);
}

std::string dimList(const std::vector<Dim> &dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + dims[i].str();
  return out + "]";
}

ValueType::Kind kindOf(ElemType elem) {
  if (isFloat(elem))
    return ValueType::Float;
  return elem == ElemType::Bool ? ValueType::Bool : ValueType::Int;
}

/// Clears what a run of the checker writes into the spec, so that another run (a
/// silent trial, then the real one) starts from what the parser built.
void resetAnnotations(Spec &spec) {
  spec.timeSymbol.clear();
  spec.parallelDims.clear();
  for (ResultDecl &result : spec.results)
    result.finalState = -1;
  for (Stmt &stmt : spec.body) {
    stmt.isFinal = false;
    stmt.broken = stmt.syntaxError;
  }
}

class SpecChecker {
public:
  /// A silent checker counts errors without printing them: it tries one reading of an
  /// ambiguous spec (a candidate time dimension).
  SpecChecker(Spec &spec, SourceDiagnostics &diags, bool silent = false,
              std::optional<size_t> timePosition = std::nullopt)
      : spec(spec), diags(diags), silent(silent), timePosition(timePosition) {}
  bool run();

private:
  void error(SMLoc loc, const Twine &message) {
    ++numErrors;
    if (!silent)
      diags.error(loc, message);
  }
  bool isAttention() const { return spec.kind == Spec::Attention; }
  const char *reservedMeaning(llvm::StringRef name) const;
  bool declareName(llvm::StringRef name, SMLoc loc, const char *what);

  // Signature.
  void checkSignatureNames();
  void checkDefaults();
  void checkBoundSymbols(const TypeDecl &type, const Twine &what);
  bool isBound(const Dim &dim) const;
  /// False when a dimension uses a size symbol already reported as bad.
  bool allValid(const std::vector<Dim> &dims) const;
  void checkAttentionSignature();
  void checkSameDim(const Param &a, size_t dimA, const TypeDecl &b,
                    const std::string &nameB, size_t dimB, const char *role);
  bool inferTimeDimension();

  // Bodies.
  void checkAttentionBody();
  void checkRecurrenceBody();
  void checkRecurrenceOutputs();
  void checkStateDecl(Stmt &stmt);
  void checkAssign(Stmt &stmt);
  void checkStepAssign(Stmt &stmt);

  // Expressions.
  ValueType check(Expr &expr, Context &ctx);
  ValueType checkName(NameExpr &expr, Context &ctx);
  ValueType checkIndex(IndexExpr &expr, Context &ctx);
  ValueType checkCall(CallExpr &expr, Context &ctx);
  ValueType checkUnary(UnaryExpr &expr, Context &ctx);
  ValueType checkBinary(BinaryExpr &expr, Context &ctx);
  ValueType checkTernary(TernaryExpr &expr, Context &ctx);
  std::optional<ValueType> broadcast(const ValueType &a, const ValueType &b, SMLoc loc,
                                     const Twine &what);
  std::optional<ValueType> stepSlice(const Param &param, bool atStep, SMLoc use);

  Spec &spec;
  SourceDiagnostics &diags;
  bool silent;
  std::optional<size_t> timePosition; // in the first per-step output, when forced
  unsigned numErrors = 0;

  llvm::StringMap<unsigned> params;      // name -> position
  llvm::StringMap<unsigned> results;     // name -> position
  llvm::StringSet<> sizeSymbols;         // bound by the arguments
  llvm::StringMap<std::string> declared; // every declared name -> what it is
  llvm::StringMap<const Stmt *> lets;
  llvm::StringMap<unsigned> letIndexUse; // attention: IndexBits a let reads
  llvm::StringMap<unsigned> states;      // name -> declaration index
  llvm::StringMap<const Stmt *> laterStates;
  llvm::StringSet<> broken;          // names declared by statements with reported errors
  llvm::StringSet<> rejectedSymbols; // size symbols with a reported error
  std::vector<const Stmt *> stateDecls;
};

} // namespace

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
  error(expr.getLoc(), "unknown name '" + name + "'");
  return invalid;
}

/// The per-step view of a recurrence argument: its dims minus the parallel ones (a
/// subset, in order) and the time one (when read at a step).
std::optional<ValueType> SpecChecker::stepSlice(const Param &param, bool atStep,
                                                SMLoc use) {
  const std::vector<Dim> &dims = param.type.dims;
  size_t pos = 0;
  size_t parallel = 0;
  while (pos < dims.size() && dims[pos].isSymbol()) {
    auto found = std::find(spec.parallelDims.begin() + parallel, spec.parallelDims.end(),
                           dims[pos]);
    if (found == spec.parallelDims.end())
      break;
    parallel = found - spec.parallelDims.begin() + 1;
    ++pos;
  }
  bool hasTime =
      pos < dims.size() && dims[pos].isSymbol() && dims[pos].symbol == spec.timeSymbol;
  if (hasTime)
    ++pos;
  std::vector<Dim> rest(dims.begin() + pos, dims.end());
  for (const Dim &dim : rest)
    if (dim.isSymbol() &&
        (dim.symbol == spec.timeSymbol || llvm::is_contained(spec.parallelDims, dim))) {
      error(use, "'" + param.name + "' " + dimList(dims) +
                     " must list its parallel dimensions (of " +
                     dimList(spec.parallelDims) +
                     ", in that order) first, then the time dimension " +
                     spec.timeSymbol + ", then its per-step dimensions");
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
  bool isAlgebra = name == "outer" || name == "dot" || name == "sum";
  if (builtin)
    arity = builtin->arity;
  else if (isAlgebra)
    arity = name == "sum" ? 1 : 2;
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

bool tmix::checkSpec(Spec &spec, SourceDiagnostics &diags) {
  return SpecChecker(spec, diags).run();
}
