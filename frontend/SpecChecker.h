//===- SpecChecker.h - Sema's checker of one spec (internal) ----*- C++ -*-===//
//
// The class behind checkSpec (Sema.h), shared by Sema.cpp (names, signatures,
// statements) and SemaExpr.cpp (expressions). Not part of the frontend's interface.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_SPECCHECKER_H
#define TMIX_FRONTEND_SPECCHECKER_H

#include "frontend/AST.h"
#include "frontend/SourceDiagnostics.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"

#include <optional>
#include <string>
#include <vector>

namespace tmix::sema {

using llvm::SMLoc;
using llvm::Twine;

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
  enum Result { FloatResult, SameKind, PromoteKind, IntResult } result;
};

inline std::optional<Builtin> lookupBuiltin(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Builtin>>(name)
      .Cases({"exp", "exp2", "log", "log1p", "sqrt", "rsqrt", "tanh", "sigmoid",
              "softplus", "logsigmoid", "silu", "relu", "elu"},
             Builtin{1, Builtin::FloatResult})
      .Case("int", Builtin{1, Builtin::IntResult})
      .Cases({"abs", "floor", "ceil"}, Builtin{1, Builtin::SameKind})
      .Cases({"min", "max"}, Builtin{2, Builtin::PromoteKind})
      .Cases({"softcap", "pow"}, Builtin{2, Builtin::FloatResult})
      .Case("alibi", Builtin{2, Builtin::FloatResult})
      .Default(std::nullopt);
}

inline std::string dimList(const std::vector<Dim> &dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + dims[i].str();
  return out + "]";
}

inline ValueType::Kind kindOf(ElemType elem) {
  if (isFloat(elem))
    return ValueType::Float;
  return elem == ElemType::Bool ? ValueType::Bool : ValueType::Int;
}

/// Clears what a run of the checker writes into the spec, so that another run (a
/// silent trial, then the real one) starts from what the parser built.
inline void resetAnnotations(Spec &spec) {
  spec.timeSymbol.clear();
  spec.parallelDims.clear();
  spec.groups.clear();
  auto restoreWrittenOrder = [](TypeDecl &type) {
    if (type.layout.empty())
      return;
    type.dims = std::move(type.stored);
    type.stored.clear();
    type.layout.clear();
  };
  for (Param &param : spec.params)
    restoreWrittenOrder(param.type);
  for (ResultDecl &result : spec.results)
    restoreWrittenOrder(result.type);
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
  /// ambiguous spec (a candidate time dimension; with `seq`, a count of per-step dims
  /// of the first per-step output).
  SpecChecker(Spec &spec, SourceDiagnostics &diags, bool silent = false,
              std::optional<size_t> timePosition = std::nullopt,
              std::optional<size_t> perStepCount = std::nullopt)
      : spec(spec), diags(diags), silent(silent), timePosition(timePosition),
        perStepCount(perStepCount) {}
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
  /// Whether the spec declares `name` anywhere (an argument, output, size symbol,
  /// state or let, before or after the point being checked).
  bool specDeclares(llvm::StringRef name) const;

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
  const ResultDecl *firstStepOutput();

  // Layouts (`seq = X`).
  void findSeqStatement();
  void applyAttentionLayout();
  bool applyRecurrenceLayout(const ResultDecl &out);
  void relayout(TypeDecl &type, const std::vector<unsigned> &order);
  void checkInferredTime(const ResultDecl &out);
  void checkSequenceOffsets(const Stmt &seq);
  void checkOffsetDims();
  bool isStateOf(const std::vector<Dim> &dims, const std::vector<Dim> &stateDims) const;
  void findHeadGroups(const ResultDecl &out, size_t perStep);
  /// Whether `dim` is parallel dim `parallel`, or a group read in its place.
  bool standsFor(const Dim &dim, const Dim &parallel) const;

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
  std::optional<size_t> perStepCount; // of the first per-step output, when forced
  std::string seqSymbol;              // `seq = X`, when given (and valid)
  const Stmt *seqStmt = nullptr;
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

} // namespace tmix::sema

#endif // TMIX_FRONTEND_SPECCHECKER_H
