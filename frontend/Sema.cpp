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

bool SpecChecker::specDeclares(llvm::StringRef name) const {
  auto named = [&](const auto &decl) { return decl.name == name; };
  auto inShape = [&](const TypeDecl &type) {
    return llvm::any_of(type.dims, [&](const Dim &dim) { return dim.symbol == name; });
  };
  return llvm::any_of(spec.params, named) || llvm::any_of(spec.results, named) ||
         llvm::any_of(spec.params, [&](const Param &p) { return inShape(p.type); }) ||
         llvm::any_of(spec.body, [&](const Stmt &stmt) {
           return (stmt.kind == Stmt::State || stmt.kind == Stmt::Let) && stmt.name == name;
         });
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

//===----------------------------------------------------------------------===//
// Layouts: `seq = X`
//===----------------------------------------------------------------------===//

/// A size symbol whose name says it is a sequence axis (fla's T, Mamba's L, `seqlen`;
/// in attention also N and M). Used only to refuse a reading that would make it a head
/// or parallel dimension, never to choose one.
static bool looksLikeSequenceAxis(llvm::StringRef name, bool attention) {
  if (name == "T" || name == "L" || name.starts_with_insensitive("seq"))
    return true;
  return attention && (name == "N" || name == "M");
}

void SpecChecker::findSeqStatement() {
  // What `seq = T by cu_seqlens` says follows from the statement alone: every run (a
  // trial's too) sets it here, and resetAnnotations leaves it.
  spec.sequenceOffsets.clear();
  spec.sequenceSymbol.clear();
  for (const Stmt &stmt : spec.body) {
    if (stmt.kind != Stmt::Seq || stmt.broken)
      continue;
    if (seqStmt) {
      // The first one counts; a trial reading does not fail on this one.
      unsigned line = diags.getSourceMgr().getLineAndColumn(seqStmt->loc).first;
      if (!silent)
        error(stmt.loc, "'seq' is given twice (first at line " + Twine(line) + ")");
      continue;
    }
    seqStmt = &stmt;
    auto *name = llvm::dyn_cast<NameExpr>(stmt.value.get());
    if (name && sizeSymbols.contains(name->name)) {
      seqSymbol = name->name;
      name->ref = NameRef{NameRef::SizeSymbol, 0, nullptr};
      if (!stmt.offsets.empty())
        checkSequenceOffsets(stmt);
    } else if (!name || !rejectedSymbols.contains(name->name)) {
      error(stmt.value->getLoc(), "'seq' names the sequence axis: a size symbol of the "
                                  "arguments' shapes, such as T or N");
    }
  }
  checkOffsetDims();
}

/// `seq = T by cu_seqlens` (docs/language.md, "Variable-length sequences"): T packs S
/// sequences end to end, and cu_seqlens, an i32 or i64 [S + 1], holds the first step
/// of each and then T. S becomes the first parallel dimension.
void SpecChecker::checkSequenceOffsets(const Stmt &seq) {
  if (isAttention()) {
    error(seq.offsetsLoc, "packed sequences ('seq = " + seqSymbol + " by " + seq.offsets +
                           "') are for recurrences; ragged attention batches are not "
                           "supported yet");
    return;
  }
  auto it = params.find(seq.offsets);
  if (it == params.end()) {
    error(seq.offsetsLoc, "'by' names the sequence offsets, an argument; '" + seq.offsets +
                           "' is not one");
    return;
  }
  const Param &offsets = spec.params[it->second];
  const std::vector<Dim> &dims = offsets.type.dims;
  bool integer = offsets.type.elem == ElemType::I32 || offsets.type.elem == ElemType::I64;
  if (!offsets.type.isTensor || !integer || dims.size() != 1 || !dims[0].isSymbol() ||
      dims[0].offset != 1) {
    error(offsets.type.loc, "the sequence offsets '" + offsets.name +
                                "' must be i32[S + 1] or i64[S + 1] (the first step of "
                                "each of S sequences, then " + seqSymbol + "), not " +
                                spelling(offsets.type.elem) +
                                (offsets.type.isTensor ? dimList(dims) : std::string()));
    return;
  }
  if (dims[0].symbol == seqSymbol) {
    error(dims[0].loc, "the number of sequences needs its own size symbol, not the time "
                       "dimension " + seqSymbol);
    return;
  }
  spec.sequenceOffsets = offsets.name;
  spec.sequenceSymbol = dims[0].symbol;
}

/// A dim with an offset (`S + 1`) is the shape of sequence offsets, and nothing else.
void SpecChecker::checkOffsetDims() {
  // The offsets' own type has its check (checkSequenceOffsets); with a `by` that names
  // no argument, the error there is the one to read.
  std::string offsets = seqStmt ? seqStmt->offsets : std::string();
  if (!offsets.empty() && !params.contains(offsets))
    return;
  auto check = [&](const TypeDecl &type, const std::string &name) {
    if (name == offsets)
      return;
    for (const Dim &dim : type.dims)
      if (dim.offset != 0) {
        error(dim.loc, "'" + dim.str() + "' in '" + name +
                           "': a dimension with an offset is only the shape of the "
                           "sequence offsets of 'seq = T by OFFSETS'");
        return;
      }
  };
  for (const Param &param : spec.params)
    check(param.type, param.name);
  for (const ResultDecl &result : spec.results)
    check(result.type, result.name);
  for (const Stmt &stmt : spec.body)
    if (stmt.kind == Stmt::State)
      check(stmt.stateType, stmt.name);
}

/// Whether `dims` are the parallel dims (the sequence dim first, if any) then
/// `stateDims`; a parallel dim that is the literal 1 may be left out (fla's
/// [1, T, H, K] packing beside [N, H, K, V] states).
bool SpecChecker::isStateOf(const std::vector<Dim> &dims,
                            const std::vector<Dim> &stateDims) const {
  if (dims.size() < stateDims.size() ||
      !std::equal(stateDims.begin(), stateDims.end(), dims.end() - stateDims.size()))
    return false;
  size_t lead = dims.size() - stateDims.size(), next = 0;
  for (const Dim &dim : spec.pointDims()) {
    if (next < lead && dims[next] == dim)
      ++next;
    else if (dim.isSymbol() || dim.size != 1)
      return false;
  }
  return next == lead;
}

/// Re-reads `type` in its logical order: logical dim `i` is written at `order[i]`.
void SpecChecker::relayout(TypeDecl &type, const std::vector<unsigned> &order) {
  bool identity = true;
  for (size_t index = 0; index < order.size(); ++index)
    identity &= order[index] == index;
  if (identity)
    return;
  type.stored = type.dims;
  type.layout.assign(order.size(), 0);
  for (size_t logical = 0; logical < order.size(); ++logical) {
    type.dims[logical] = type.stored[order[logical]];
    type.layout[order[logical]] = logical;
  }
}

/// Attention reads q, k, v and o as [batch, head, seq, dim]. `seq = N` with N at
/// dimension 1 of q says that they are stored as [batch, seq, head, dim]
/// (FlashAttention's layout); lse stays [B, H, N], as FlashAttention returns it.
void SpecChecker::applyAttentionLayout() {
  if (spec.params.empty() || !spec.params[0].type.isTensor ||
      spec.params[0].type.dims.size() != 4)
    return; // the signature's check says what is wrong
  const std::vector<Dim> &q = spec.params[0].type.dims;
  if (seqSymbol.empty()) {
    if (!seqStmt && q[1].isSymbol() && q[1] != q[2] &&
        looksLikeSequenceAxis(q[1].symbol, /*attention=*/true))
      error(spec.params[0].type.loc,
            "'" + q[1].symbol + "' is at the head position of '" + spec.params[0].name +
                "' " + dimList(q) +
                " (attention reads [batch, head, seq, dim]); for tensors stored as "
                "[batch, seq, head, dim] (FlashAttention's layout), write 'seq = " +
                q[1].symbol + "'; to read " + q[1].symbol +
                " as the head count, write 'seq = " + q[2].str() + "'");
    return;
  }
  if (q[2].symbol == seqSymbol)
    return;
  if (q[1].symbol != seqSymbol) {
    error(seqStmt->value->getLoc(),
          "'seq = " + seqSymbol + "' must name the sequence axis of '" +
              spec.params[0].name + "' " + dimList(q) +
              ": its dimension 2 ([batch, head, seq, dim]) or its dimension 1 "
              "([batch, seq, head, dim])");
    return;
  }
  const std::vector<unsigned> seqBeforeHeads{0, 2, 1, 3};
  for (size_t index = 0; index < 3 && index < spec.params.size(); ++index)
    if (spec.params[index].type.isTensor && spec.params[index].type.dims.size() == 4)
      relayout(spec.params[index].type, seqBeforeHeads);
  if (!spec.results.empty() && spec.results[0].type.isTensor &&
      spec.results[0].type.dims.size() == 4)
    relayout(spec.results[0].type, seqBeforeHeads);
}

/// With `seq = T`, T is the time dimension wherever it is written. The first per-step
/// output's other dimensions are parallel, but for its last per-step ones: as many (at
/// most two) as the spec checks with, the most first (so `o: [B, T, H, V]` with
/// `o[t] = q[t] @ S` has the per-step [V], and the parallel [B, H]); when none
/// checks, the count with the fewest errors, whose errors are reported. Every tensor is
/// then re-read in the logical order: its parallel dimensions, T, its per-step ones,
/// which must be written last (the parallel ones and T may come in any order).
bool SpecChecker::applyRecurrenceLayout(const ResultDecl &out) {
  const std::vector<Dim> &dims = out.type.dims;
  auto time = llvm::find_if(dims, [&](const Dim &dim) { return dim.symbol == seqSymbol; });
  if (time == dims.end()) {
    error(seqStmt->value->getLoc(), "'seq = " + seqSymbol +
                                        "' names the time axis, which must be a "
                                        "dimension of the per-step output '" +
                                        out.name + "' " + dimList(dims));
    return false;
  }
  size_t position = time - dims.begin();
  size_t perStep = std::min<size_t>(2, dims.size() - position - 1);
  if (perStepCount) {
    perStep = *perStepCount;
  } else if (perStep > 0) {
    // The reading with the fewest errors, none if one checks; on a tie, the one with
    // more per-step dims.
    std::optional<std::pair<unsigned, size_t>> best; // (errors, count)
    for (size_t count = perStep + 1; count-- > 0;) {
      SpecChecker trial(spec, diags, /*silent=*/true, std::nullopt, count);
      trial.run();
      if (!best || trial.numErrors < best->first)
        best = {trial.numErrors, count};
      if (best->first == 0)
        break;
    }
    resetAnnotations(spec);
    perStep = best->second;
  }
  spec.timeSymbol = seqSymbol;
  spec.parallelDims.clear();
  for (size_t index = 0; index + perStep < dims.size(); ++index)
    if (index != position)
      spec.parallelDims.push_back(dims[index]);
  findHeadGroups(out, perStep);

  std::vector<Dim> parallel = spec.pointDims();
  auto toLogicalOrder = [&](TypeDecl &type, const std::string &name) {
    if (!type.isTensor)
      return true;
    const std::vector<Dim> &written = type.dims;
    std::vector<std::optional<unsigned>> parallelAt(parallel.size());
    std::optional<unsigned> timeAt;
    std::vector<unsigned> rest;
    for (unsigned index = 0; index < written.size(); ++index) {
      if (written[index].symbol == seqSymbol && !timeAt) {
        timeAt = index;
        continue;
      }
      bool matched = false;
      for (size_t p = 0; p < parallel.size() && !matched; ++p)
        if (!parallelAt[p] && standsFor(written[index], parallel[p])) {
          parallelAt[p] = index;
          matched = true;
        }
      if (!matched)
        rest.push_back(index);
    }
    for (size_t index = 0; index < rest.size(); ++index)
      if (rest[index] != written.size() - rest.size() + index) {
        error(type.loc, "'" + name + "' " + dimList(written) +
                            " must write its per-step dimensions last, after the time "
                            "dimension " + seqSymbol +
                            " and its parallel dimensions (those in any order)");
        return false;
      }
    std::vector<unsigned> order;
    for (const std::optional<unsigned> &at : parallelAt)
      if (at)
        order.push_back(*at);
    if (timeAt)
      order.push_back(*timeAt);
    order.insert(order.end(), rest.begin(), rest.end());
    relayout(type, order);
    return true;
  };
  bool ok = true;
  for (Param &param : spec.params)
    ok &= toLogicalOrder(param.type, param.name);
  for (ResultDecl &result : spec.results)
    ok &= toLogicalOrder(result.type, result.name);
  return ok;
}

/// Without `seq`, the time dimension is inferred from the canonical layout; a reading
/// that makes a dimension named as a sequence axis parallel is refused, as it is most
/// likely fla's [B, T, H, D] read over the heads. (Only for a spec that otherwise
/// checks, as such a misreading does.)
void SpecChecker::checkInferredTime(const ResultDecl &out) {
  if (timePosition || seqStmt)
    return;
  for (const Dim &dim : spec.parallelDims)
    if (dim.isSymbol() && dim.symbol != spec.timeSymbol &&
        looksLikeSequenceAxis(dim.symbol, /*attention=*/false)) {
      error(out.type.loc,
            "the time dimension of '" + spec.name + "' is inferred as " + spec.timeSymbol +
                " (the dimension of '" + out.name + "' " + dimList(out.type.dims) +
                " before its per-step ones), which makes " + dim.symbol +
                " a parallel dimension; if " + dim.symbol +
                " is the sequence axis (flash-linear-attention's [B, T, H, D] layout), "
                "write 'seq = " + dim.symbol + "'; to run over " + spec.timeSymbol +
                ", write 'seq = " + spec.timeSymbol + "'");
      return;
    }
}

bool SpecChecker::standsFor(const Dim &dim, const Dim &parallel) const {
  return dim == parallel ||
         (dim.isSymbol() && parallel.isSymbol() && spec.groupedDim(dim.symbol) == parallel.symbol);
}

/// Head groups (docs/language.md): a tensor with the time dimension, of the first
/// per-step output's rank and with T at the same written position, may hold at the
/// position of a parallel dimension P another size symbol G: a group of P, so that q
/// and k may have fewer heads than v (grouped value heads) and Mamba2's B and C one
/// row per group of heads. Point p of P reads G's index p / (P / G), as attention reads
/// HK; G must divide P at run time. G must be no parallel or time dimension, no state's
/// dimension, and written nowhere else (no per-step dimension of any tensor, no
/// dimension of one that is not so aligned), so that a per-step dimension is never
/// taken for one.
void SpecChecker::findHeadGroups(const ResultDecl &out, size_t perStep) {
  const std::vector<Dim> &outDims = out.type.dims;
  auto time = llvm::find_if(outDims, [&](const Dim &dim) {
    return dim.isSymbol() && dim.symbol == spec.timeSymbol;
  });
  if (time == outDims.end())
    return;
  size_t timeAt = time - outDims.begin();
  auto aligned = [&](const Param &param) {
    return param.type.isTensor && param.type.dims.size() == outDims.size() &&
           param.type.dims[timeAt] == *time;
  };
  // Symbols written anywhere but at a parallel position of an aligned tensor.
  llvm::StringSet<> elsewhere;
  for (const Param &param : spec.params)
    for (size_t index = 0; index < param.type.dims.size(); ++index)
      if (!aligned(param) || index == timeAt || index + perStep >= outDims.size())
        elsewhere.insert(param.type.dims[index].symbol);
  auto excluded = [&](const std::string &symbol) {
    if (symbol == spec.timeSymbol || !sizeSymbols.contains(symbol) ||
        elsewhere.contains(symbol))
      return true;
    for (const Dim &dim : spec.parallelDims)
      if (dim.symbol == symbol)
        return true;
    for (size_t index = outDims.size() - perStep; index < outDims.size(); ++index)
      if (outDims[index].symbol == symbol)
        return true;
    for (const Stmt &stmt : spec.body)
      if (stmt.kind == Stmt::State)
        for (const Dim &dim : stmt.stateType.dims)
          if (dim.symbol == symbol)
            return true;
    return false;
  };
  for (const Param &param : spec.params) {
    const std::vector<Dim> &dims = param.type.dims;
    if (!aligned(param))
      continue;
    for (size_t index = 0; index + perStep < dims.size(); ++index) {
      const Dim &parallel = outDims[index], &dim = dims[index];
      if (index == timeAt || dim == parallel || !dim.isSymbol() || !parallel.isSymbol() ||
          excluded(dim.symbol))
        continue;
      std::string grouped = spec.groupedDim(dim.symbol);
      if (grouped.empty())
        spec.groups.emplace_back(dim.symbol, parallel.symbol);
      else if (grouped != parallel.symbol)
        error(dim.loc, "'" + dim.symbol + "' of '" + param.name +
                           "' stands in for the parallel dimension " + parallel.symbol +
                           ", but elsewhere for " + grouped +
                           "; a group symbol groups one parallel dimension");
    }
  }
}

const ResultDecl *SpecChecker::firstStepOutput() {
  for (const Stmt &stmt : spec.body)
    if (stmt.kind == Stmt::StepAssign && results.contains(stmt.name))
      return &spec.results[results[stmt.name]];
  return nullptr;
}

/// The time dimension of a recurrence: named by `seq`, or else the last dimension of
/// its first per-step output whose symbol appears in every argument read at step t
/// (docs/language.md).
bool SpecChecker::inferTimeDimension() {
  const ResultDecl *out = firstStepOutput();
  // With a broken statement the missing piece may be in it: stay silent.
  if (!out) {
    if (!spec.hasBrokenStatements)
      error(spec.nameLoc, "recurrence '" + spec.name +
                              "' has no per-step output; write one as 'OUT[t] = ...'");
    return false;
  }
  if (!seqSymbol.empty())
    return applyRecurrenceLayout(*out);
  if (seqStmt)
    return false; // a bad `seq`, already reported

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
    findHeadGroups(*out, dims.size() - *chosen - 1);
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
  findSeqStatement();
  if (isAttention()) {
    applyAttentionLayout();
    checkAttentionSignature();
    checkAttentionBody();
  } else {
    for (const ResultDecl &result : spec.results)
      if (!isFloat(result.type.elem))
        error(result.type.loc, Twine("output '") + result.name +
                                   "' must be f32, f16 or bf16, not " +
                                   spelling(result.type.elem));
    if (inferTimeDimension()) {
      checkRecurrenceBody();
      // Once the rest checks (the file's syntax included): an error there is the
      // better first word.
      if (numErrors == 0 && !spec.hasBrokenStatements && diags.getNumErrors() == 0)
        checkInferredTime(*firstStepOutput());
    }
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
    case Stmt::Seq: continue; // read before the signature (findSeqStatement)
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
    case Stmt::Invalid:
    case Stmt::Seq: continue;
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
      std::vector<Dim> expected = spec.pointDims();
      expected.insert(expected.end(), type.dims.begin(), type.dims.end());
      if (!init.type.isTensor || !isStateOf(init.type.dims, type.dims) ||
          !isFloat(init.type.elem)) {
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
    std::vector<Dim> expected = spec.pointDims();
    const TypeDecl &stateType = stateDecls[state]->stateType;
    expected.insert(expected.end(), stateType.dims.begin(), stateType.dims.end());
    if (!isStateOf(result.type.dims, stateType.dims) || result.type.elem != ElemType::F32) {
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
  if (!spec.sequenceSymbol.empty() &&
      llvm::is_contained(dims, Dim{{}, spec.sequenceSymbol, 0})) {
    const TypeDecl &type = result.type;
    error(result.type.loc, "output '" + result.name + "' " +
                               dimList(type.stored.empty() ? dims : type.stored) +
                               " has the time dimension " + spec.timeSymbol +
                               ", which packs every sequence, and the sequence dimension " +
                               spec.sequenceSymbol + " too");
    return;
  }
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
