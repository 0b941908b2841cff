//===- AST.h - Syntax tree of a .tmix file ----------------------*- C++ -*-===//
//
// What the parser builds and Sema annotates: specs, their signatures, statements and
// expressions, each with the source location it came from. Sema writes each
// expression's type into it; IRGen reads the annotated tree.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_AST_H
#define TMIX_FRONTEND_AST_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tmix {

/// A dimension of a declared shape: a literal size, a size symbol, or a size symbol
/// plus an offset (`S + 1`, the offsets of S packed sequences).
struct Dim {
  llvm::SMLoc loc;
  std::string symbol; // empty for a literal
  int64_t size = 0;
  int64_t offset = 0; // added to the symbol's value

  bool isSymbol() const { return !symbol.empty(); }
  bool operator==(const Dim &o) const {
    return symbol == o.symbol && offset == o.offset && (isSymbol() || size == o.size);
  }
  bool operator!=(const Dim &o) const { return !(*this == o); }
  std::string str() const {
    if (!isSymbol())
      return std::to_string(size);
    return offset ? symbol + " + " + std::to_string(offset) : symbol;
  }
};

enum class ElemType { F32, F16, BF16, I32, I64, Bool };
const char *spelling(ElemType type);
inline bool isFloat(ElemType type) {
  return type == ElemType::F32 || type == ElemType::F16 || type == ElemType::BF16;
}

/// `f32` or `bf16[B, H, N, 128]`.
struct TypeDecl {
  llvm::SMLoc loc;
  ElemType elem = ElemType::F32;
  bool isTensor = false;
  /// The dims: as written, until Sema puts a tensor stored in another order (`seq = T`
  /// with fla's `[B, T, H, D]`) into its logical order.
  std::vector<Dim> dims;
  /// Set by Sema for such a tensor: the dims as written, and for each written (stored)
  /// position the logical dim it holds.
  std::vector<Dim> stored;
  std::vector<int64_t> layout;
};

/// A literal default of a scalar argument.
struct Literal {
  llvm::SMLoc loc;
  enum Kind { Int, Float, Bool } kind = Int;
  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
};

struct Param {
  llvm::SMLoc loc;
  std::string name;
  TypeDecl type;
  std::optional<Literal> defaultValue;
};

struct ResultDecl {
  llvm::SMLoc loc;
  std::string name;
  TypeDecl type;
  int finalState = -1; // recurrence: the state this output takes at the end (Sema)
};

//===----------------------------------------------------------------------===//
// Value types (filled in by Sema)
//===----------------------------------------------------------------------===//

/// The type of an expression: a bool, int or float scalar, or an f32 vector or
/// matrix (recurrences only) with symbolic dims.
struct ValueType {
  enum Kind { Invalid, Bool, Int, Float } kind = Invalid;
  std::vector<Dim> dims; // empty: a scalar

  static ValueType scalar(Kind kind) { return ValueType{kind, {}}; }
  bool isScalar() const { return dims.empty(); }
  bool isInvalid() const { return kind == Invalid; }
  bool isNumber() const { return kind == Int || kind == Float; }
  bool sameShape(const ValueType &o) const { return dims == o.dims; }
  std::string str() const;
};

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

class Expr {
public:
  enum Kind { Number, BoolLiteral, Name, Index, Call, Unary, Binary, Ternary };
  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;

  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

  /// Written by Sema.
  ValueType type;
  /// The height of this expression's tree; the parser bounds it so that the recursive
  /// passes over expressions cannot exhaust the stack.
  unsigned height = 1;

private:
  Kind kind;
  llvm::SMLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberExpr : Expr {
  NumberExpr(llvm::SMLoc loc, bool isInt, int64_t intValue, double floatValue)
      : Expr(Number, loc), isInt(isInt), intValue(intValue), floatValue(floatValue) {}
  bool isInt;
  int64_t intValue;
  double floatValue;
  static bool classof(const Expr *e) { return e->getKind() == Number; }
};

struct BoolLiteralExpr : Expr {
  BoolLiteralExpr(llvm::SMLoc loc, bool value) : Expr(BoolLiteral, loc), value(value) {}
  bool value;
  static bool classof(const Expr *e) { return e->getKind() == BoolLiteral; }
};

struct Stmt;

/// What a name refers to; Sema resolves it, IRGen reads it.
struct NameRef {
  enum Kind {
    Unresolved,
    Index,      // b, h, i, j (number: 0..3)
    Score,      // s
    Time,       // t
    ParallelIndex, // h in a recurrence (number: the parallel dim it indexes)
    SizeSymbol, // a dimension symbol (symbol: its name)
    Param,      // an argument (number: its position)
    Let,        // let (stmt)
    State,      // a recurrence state (number: its declaration index)
  } kind = Unresolved;
  unsigned number = 0;
  const Stmt *stmt = nullptr;
};

struct NameExpr : Expr {
  NameExpr(llvm::SMLoc loc, std::string name) : Expr(Name, loc), name(std::move(name)) {}
  std::string name;
  NameRef ref;
  static bool classof(const Expr *e) { return e->getKind() == Name; }
};

/// `doc[b, i]` in attention, `x[t]` in a recurrence.
struct IndexExpr : Expr {
  IndexExpr(llvm::SMLoc loc, std::string name, std::vector<ExprPtr> indices)
      : Expr(Index, loc), name(std::move(name)), indices(std::move(indices)) {}
  std::string name;
  unsigned param = 0; // the argument read, set by Sema
  std::vector<ExprPtr> indices;
  static bool classof(const Expr *e) { return e->getKind() == Index; }
};

struct CallExpr : Expr {
  CallExpr(llvm::SMLoc loc, std::string callee, std::vector<ExprPtr> args)
      : Expr(Call, loc), callee(std::move(callee)), args(std::move(args)) {}
  std::string callee;
  std::vector<ExprPtr> args;
  static bool classof(const Expr *e) { return e->getKind() == Call; }
};

struct UnaryExpr : Expr {
  enum Op { Neg, Plus, Not };
  UnaryExpr(llvm::SMLoc loc, Op op, ExprPtr operand)
      : Expr(Unary, loc), op(op), operand(std::move(operand)) {}
  Op op;
  ExprPtr operand;
  static bool classof(const Expr *e) { return e->getKind() == Unary; }
};

struct BinaryExpr : Expr {
  enum Op { Add, Sub, Mul, Div, Rem, MatMul, And, Or, Eq, Ne, Lt, Le, Gt, Ge };
  BinaryExpr(llvm::SMLoc loc, Op op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Binary, loc), op(op), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  Op op;
  ExprPtr lhs, rhs;
  static const char *spelling(Op op);
  static bool classof(const Expr *e) { return e->getKind() == Binary; }
};

struct TernaryExpr : Expr {
  TernaryExpr(llvm::SMLoc loc, ExprPtr cond, ExprPtr thenExpr, ExprPtr elseExpr)
      : Expr(Ternary, loc), cond(std::move(cond)), thenExpr(std::move(thenExpr)),
        elseExpr(std::move(elseExpr)) {}
  ExprPtr cond, thenExpr, elseExpr;
  static bool classof(const Expr *e) { return e->getKind() == Ternary; }
};

//===----------------------------------------------------------------------===//
// Statements and specs
//===----------------------------------------------------------------------===//

struct Stmt {
  enum Kind {
    Invalid, // not a statement (only while parsing)
    // Attention: `scale = E`, `mask = E`, `score = E`, `rope = E`, `sink = E`.
    Scale,
    Mask,
    Score,
    Rope,
    Sink,
    Seq,        // seq = SYMBOL: the sequence (time) axis, which fixes the layouts
    Let,        // let NAME = E
    State,      // state NAME: TYPE [= INIT]
    Assign,     // NAME = E           (a state update, or FINAL = S)
    StepAssign, // NAME[INDICES] = E  (a per-step output)
  };
  Kind kind = Invalid;
  llvm::SMLoc loc;          // the statement's first token
  bool broken = false;      // had an error already reported: Sema neither checks it
                            // nor reports what only its absence would cause
  bool syntaxError = false; // the parser's part of `broken`
  std::string name;         // Let, State, Assign, StepAssign
  llvm::SMLoc nameLoc;
  ExprPtr value;                // all but State
  std::vector<ExprPtr> indices; // StepAssign
  TypeDecl stateType;           // State
  std::string init;             // State: argument name, or empty
  llvm::SMLoc initLoc;
  std::string offsets;          // Seq: the offsets of packed sequences (`by NAME`), or empty
  llvm::SMLoc offsetsLoc;
  unsigned target = 0;  // Sema: the state updated (Assign), the output (StepAssign),
                        // or the argument holding the initial state (State with init)
  bool isFinal = false; // Sema: an Assign that names the final value of a state

  static const char *keyword(Kind kind);
};

struct Spec {
  enum Kind { Attention, Recurrence } kind = Attention;
  llvm::SMLoc loc;
  std::string name;
  llvm::SMLoc nameLoc;
  std::vector<Param> params;
  std::vector<ResultDecl> results;
  std::vector<Stmt> body;
  llvm::SMLoc closeLoc; // the closing '}'
  bool hasBrokenStatements = false;

  // Recurrences, filled in by Sema.
  std::string timeSymbol;
  /// The dims of the first per-step output before the time dimension (the parallel
  /// dims, but for the sequence dim of packed sequences, which comes first).
  std::vector<Dim> parallelDims;
  /// Packed sequences (`seq = T by cu_seqlens`): the offsets argument and its S.
  std::string sequenceOffsets;
  std::string sequenceSymbol;
  /// Every parallel dim: the sequence dim S, if any, then parallelDims.
  std::vector<Dim> pointDims() const {
    std::vector<Dim> dims;
    if (!sequenceSymbol.empty())
      dims.push_back(Dim{{}, sequenceSymbol, 0});
    dims.insert(dims.end(), parallelDims.begin(), parallelDims.end());
    return dims;
  }
  /// Head groups: a size symbol G read in place of parallel dim P (G -> P), as
  /// attention reads HK in place of H.
  std::vector<std::pair<std::string, std::string>> groups;
  /// The parallel dim a group symbol stands for, or empty.
  std::string groupedDim(const std::string &symbol) const {
    for (const auto &[group, dim] : groups)
      if (group == symbol)
        return dim;
    return {};
  }
};

struct Module {
  // Specs hold their own addresses (NameRef::stmt), so they never move.
  std::vector<std::unique_ptr<Spec>> specs;
};

} // namespace tmix

#endif // TMIX_FRONTEND_AST_H
