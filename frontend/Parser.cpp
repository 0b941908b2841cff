//===- Parser.cpp - Recursive-descent parser for .tmix --------------------===//
//
// One function per grammar rule, each documented with its rule. Statements are not
// terminated: an expression ends at the first token that cannot continue it, and a
// statement starts a line with a keyword or a name, which is where recovery resumes.
//
//===----------------------------------------------------------------------===//

#include "frontend/Parser.h"

#include "llvm/ADT/StringSwitch.h"

#include <algorithm>

using namespace tmix;

/// Deeper expressions are rejected: every later walk over an expression recurses.
static constexpr unsigned kMaxExprHeight = 256;

static void reportLexError(void *cookie, llvm::SMLoc loc, const llvm::Twine &msg) {
  static_cast<SourceDiagnostics *>(cookie)->error(loc, msg);
}

Parser::Parser(llvm::StringRef buffer, SourceDiagnostics &diags)
    : lexer(buffer, reportLexError, &diags), diags(diags) {
  consume();
}

//===----------------------------------------------------------------------===//
// Token stream
//===----------------------------------------------------------------------===//

void Parser::consume() { tok = lexer.next(); }

bool Parser::consumeIf(TokenKind kind) {
  if (!tok.is(kind))
    return false;
  consume();
  return true;
}

void Parser::errorHere(const llvm::Twine &message) {
  // The lexer has already reported a bad token, and a second error at the place of the
  // last one (an unfinished statement at the end of the file) only echoes it.
  if (tok.is(TokenKind::Error) || tok.loc == lastErrorLoc)
    return;
  lastErrorLoc = tok.loc;
  diags.error(tok.loc, message);
}

static std::string found(const Token &tok) {
  if (tok.is(TokenKind::Eof))
    return "end of file";
  return "'" + tok.spelling.str() + "'";
}

bool Parser::expect(TokenKind kind, const llvm::Twine &context) {
  if (consumeIf(kind))
    return true;
  errorHere("expected " + describe(kind) + " " + context + ", found " + found(tok));
  return false;
}

bool Parser::parseName(std::string &name, llvm::SMLoc &loc, const llvm::Twine &what) {
  if (!tok.is(TokenKind::Identifier)) {
    errorHere("expected " + what + ", found " + found(tok));
    return false;
  }
  name = tok.spelling.str();
  loc = tok.loc;
  consume();
  return true;
}

static bool isStatementKeyword(TokenKind kind) {
  switch (kind) {
  case TokenKind::KwState:
  case TokenKind::KwLet:
  case TokenKind::KwMask:
  case TokenKind::KwScore:
  case TokenKind::KwRope:
  case TokenKind::KwSink: return true;
  default: return false;
  }
}

bool Parser::atStatementStart() const {
  return tok.startsLine &&
         (isStatementKeyword(tok.kind) || tok.is(TokenKind::Identifier));
}

void Parser::skipToStatementStart() {
  // The spec's closing brace ends recovery: it is not part of the broken statement.
  if (tok.is(TokenKind::RBrace) || tok.is(TokenKind::Eof))
    return;
  consume();
  while (!tok.is(TokenKind::Eof) && !tok.is(TokenKind::RBrace) && !atStatementStart() &&
         !(tok.startsLine &&
           (tok.is(TokenKind::KwAttention) || tok.is(TokenKind::KwRecurrence))))
    consume();
}

void Parser::skipToSpecStart() {
  while (!tok.is(TokenKind::Eof) &&
         !(tok.startsLine &&
           (tok.is(TokenKind::KwAttention) || tok.is(TokenKind::KwRecurrence))))
    consume();
}

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

bool Parser::parseNextSpec(Spec &spec) {
  while (!tok.is(TokenKind::Eof)) {
    if (!tok.is(TokenKind::KwAttention) && !tok.is(TokenKind::KwRecurrence)) {
      errorHere("expected 'attention' or 'recurrence' to start a spec, found " +
                found(tok));
      consume();
      skipToSpecStart();
      continue;
    }
    spec = Spec();
    if (parseSpec(spec))
      return true;
    skipToSpecStart();
  }
  return false;
}

/// spec ::= ('attention' | 'recurrence') IDENT '(' (param (',' param)*)? ')'
///          '->' results '{' statement* '}'
bool Parser::parseSpec(Spec &spec) {
  spec.kind = tok.is(TokenKind::KwAttention) ? Spec::Attention : Spec::Recurrence;
  spec.loc = tok.loc;
  consume();
  if (!parseName(spec.name, spec.nameLoc, "the spec's name"))
    return false;
  if (!expect(TokenKind::LParen, "to open the argument list"))
    return false;
  if (!tok.is(TokenKind::RParen)) {
    do {
      Param param;
      if (!parseParam(param))
        return false;
      spec.params.push_back(std::move(param));
    } while (consumeIf(TokenKind::Comma));
  }
  if (!expect(TokenKind::RParen, "to close the argument list"))
    return false;
  if (!expect(TokenKind::Arrow, "before the outputs"))
    return false;
  if (!parseResults(spec))
    return false;
  return parseBody(spec);
}

/// param ::= IDENT ':' type ('=' literal)?
bool Parser::parseParam(Param &param) {
  if (!tok.is(TokenKind::Identifier)) {
    errorHere("expected an argument name, found " + found(tok));
    return false;
  }
  param.loc = tok.loc;
  param.name = tok.spelling.str();
  consume();
  if (!expect(TokenKind::Colon, "after argument '" + param.name + "'"))
    return false;
  if (!parseType(param.type, "argument '" + param.name + "'"))
    return false;
  if (consumeIf(TokenKind::Assign)) {
    Literal literal;
    if (!parseLiteral(literal))
      return false;
    param.defaultValue = literal;
  }
  return true;
}

/// results ::= result | '(' result (',' result)* ')'
bool Parser::parseResults(Spec &spec) {
  bool parenthesised = consumeIf(TokenKind::LParen);
  do {
    ResultDecl result;
    if (!parseResult(result))
      return false;
    spec.results.push_back(std::move(result));
  } while (parenthesised && consumeIf(TokenKind::Comma));
  return !parenthesised || expect(TokenKind::RParen, "to close the outputs");
}

/// result ::= IDENT ':' type
bool Parser::parseResult(ResultDecl &result) {
  if (!tok.is(TokenKind::Identifier)) {
    errorHere("expected an output name, found " + found(tok));
    return false;
  }
  result.loc = tok.loc;
  result.name = tok.spelling.str();
  consume();
  if (!expect(TokenKind::Colon, "after output '" + result.name + "'"))
    return false;
  return parseType(result.type, "output '" + result.name + "'");
}

/// type ::= elemtype ('[' dim (',' dim)* ']')?
/// elemtype ::= 'f32' | 'f16' | 'bf16' | 'i32' | 'i64' | 'bool'
bool Parser::parseType(TypeDecl &type, llvm::StringRef what) {
  type.loc = tok.loc;
  std::optional<ElemType> elem;
  if (tok.is(TokenKind::Identifier))
    elem = llvm::StringSwitch<std::optional<ElemType>>(tok.spelling)
               .Case("f32", ElemType::F32)
               .Case("f16", ElemType::F16)
               .Case("bf16", ElemType::BF16)
               .Case("i32", ElemType::I32)
               .Case("i64", ElemType::I64)
               .Case("bool", ElemType::Bool)
               .Default(std::nullopt);
  if (!elem) {
    errorHere("expected an element type (f32, f16, bf16, i32, i64, bool) for " + what +
              ", found " + found(tok));
    return false;
  }
  type.elem = *elem;
  consume();
  if (!tok.is(TokenKind::LBracket))
    return true;
  type.isTensor = true;
  return parseDims(type);
}

/// dims ::= '[' dim (',' dim)* ']'      dim ::= INTEGER | IDENT ('+' INTEGER)?
bool Parser::parseDims(TypeDecl &type) {
  consume(); // '['
  do {
    Dim dim;
    dim.loc = tok.loc;
    if (tok.is(TokenKind::Integer)) {
      if (tok.intValue <= 0) {
        errorHere("a dimension must be positive, found " + found(tok));
        return false;
      }
      dim.size = tok.intValue;
    } else if (tok.is(TokenKind::Identifier)) {
      dim.symbol = tok.spelling.str();
    } else {
      errorHere("expected a dimension (an integer or a size symbol), found " +
                found(tok));
      return false;
    }
    consume();
    // `S + 1`: the offsets of S packed sequences (Sema says where it may stand).
    if (dim.isSymbol() && consumeIf(TokenKind::Plus)) {
      if (!tok.is(TokenKind::Integer) || tok.intValue <= 0) {
        errorHere("expected a positive integer after '" + dim.symbol + " +', found " +
                  found(tok));
        return false;
      }
      dim.offset = tok.intValue;
      consume();
    }
    type.dims.push_back(std::move(dim));
  } while (consumeIf(TokenKind::Comma));
  return expect(TokenKind::RBracket, "to close the dimensions");
}

/// literal ::= '-'? (INTEGER | NUMBER | 'inf') | 'true' | 'false'
bool Parser::parseLiteral(Literal &literal) {
  literal.loc = tok.loc;
  if (tok.is(TokenKind::KwTrue) || tok.is(TokenKind::KwFalse)) {
    literal.kind = Literal::Bool;
    literal.boolValue = tok.is(TokenKind::KwTrue);
    consume();
    return true;
  }
  bool negative = consumeIf(TokenKind::Minus);
  if (tok.is(TokenKind::Integer)) {
    literal.kind = Literal::Int;
    literal.intValue = negative ? -tok.intValue : tok.intValue;
    literal.floatValue = negative ? -tok.floatValue : tok.floatValue;
  } else if (tok.is(TokenKind::Float) || tok.is(TokenKind::KwInf)) {
    literal.kind = Literal::Float;
    literal.floatValue = negative ? -tok.floatValue : tok.floatValue;
  } else {
    errorHere("expected a literal default value, found " + found(tok));
    return false;
  }
  consume();
  return true;
}

/// body ::= '{' statement* '}'
bool Parser::parseBody(Spec &spec) {
  if (!expect(TokenKind::LBrace, "to open the spec's body"))
    return false;
  while (!tok.is(TokenKind::RBrace)) {
    if (tok.is(TokenKind::Eof)) {
      errorHere("expected '}' to close spec '" + spec.name + "', found end of file");
      return false;
    }
    if (tok.startsLine &&
        (tok.is(TokenKind::KwAttention) || tok.is(TokenKind::KwRecurrence))) {
      errorHere("expected '}' to close spec '" + spec.name + "' before the next spec");
      return false;
    }
    if (!parseStatement(spec)) {
      skipToStatementStart();
      continue;
    }
  }
  spec.closeLoc = tok.loc;
  consume();
  return true;
}

/// statement ::= ('scale' | 'seq' | 'mask' | 'score' | 'rope' | 'sink') '=' expr
///             | 'seq' '=' IDENT 'by' IDENT
///             | 'let' IDENT '=' expr
///             | 'state' IDENT ':' type ('=' IDENT)?
///             | IDENT ('[' expr (',' expr)* ']')? '=' expr
bool Parser::parseStatement(Spec &spec) {
  Stmt stmt;
  stmt.loc = tok.loc;
  bool ok = parseStatementInto(stmt, spec);
  // A statement that failed after its kind was known stays in the body, marked broken,
  // so that Sema neither checks it nor reports what only its absence would cause.
  if (!ok && stmt.kind != Stmt::Invalid) {
    stmt.broken = stmt.syntaxError = true;
    spec.hasBrokenStatements = true;
  }
  if (stmt.kind != Stmt::Invalid)
    spec.body.push_back(std::move(stmt));
  return ok;
}

/// `scale` and `seq` are contextual keywords, as fla's and FlashAttention's APIs name
/// arguments so: at the start of a statement each is its statement, unless a
/// recurrence declares an argument, output or (earlier) state of that name, which the
/// statement then assigns.
static Stmt::Kind contextualStatement(const Token &tok, const Spec &spec) {
  if (!tok.is(TokenKind::Identifier) || (tok.spelling != "scale" && tok.spelling != "seq"))
    return Stmt::Invalid;
  Stmt::Kind kind = tok.spelling == "scale" ? Stmt::Scale : Stmt::Seq;
  if (spec.kind == Spec::Attention)
    return kind;
  auto named = [&](const auto &decl) { return decl.name == tok.spelling; };
  auto namedState = [&](const Stmt &stmt) {
    return stmt.kind == Stmt::State && stmt.name == tok.spelling;
  };
  if (llvm::any_of(spec.params, named) || llvm::any_of(spec.results, named) ||
      llvm::any_of(spec.body, namedState))
    return Stmt::Invalid;
  return kind;
}

bool Parser::parseStatementInto(Stmt &stmt, const Spec &spec) {
  if (Stmt::Kind kind = contextualStatement(tok, spec); kind != Stmt::Invalid) {
    stmt.kind = kind;
  } else {
    switch (tok.kind) {
    case TokenKind::KwMask: stmt.kind = Stmt::Mask; break;
    case TokenKind::KwScore: stmt.kind = Stmt::Score; break;
    case TokenKind::KwRope: stmt.kind = Stmt::Rope; break;
    case TokenKind::KwSink: stmt.kind = Stmt::Sink; break;
    case TokenKind::KwLet: stmt.kind = Stmt::Let; break;
    case TokenKind::KwState: stmt.kind = Stmt::State; break;
    case TokenKind::Identifier: stmt.kind = Stmt::Assign; break;
    default: errorHere("expected a statement, found " + found(tok)); return false;
    }
  }

  if (stmt.kind == Stmt::Let || stmt.kind == Stmt::State) {
    consume();
    if (!tok.is(TokenKind::Identifier)) {
      errorHere(llvm::Twine("expected a name after '") + Stmt::keyword(stmt.kind) +
                "', found " + found(tok));
      stmt.kind = Stmt::Invalid; // nothing to remember of it
      return false;
    }
  }
  if (stmt.kind == Stmt::Let || stmt.kind == Stmt::State || stmt.kind == Stmt::Assign) {
    stmt.name = tok.spelling.str();
    stmt.nameLoc = tok.loc;
  }
  consume();

  if (stmt.kind == Stmt::State) {
    if (!expect(TokenKind::Colon, "after state '" + stmt.name + "'"))
      return false;
    if (!parseType(stmt.stateType, "state '" + stmt.name + "'"))
      return false;
    if (consumeIf(TokenKind::Assign) &&
        !parseName(stmt.init, stmt.initLoc,
                   "the name of an argument holding the initial state"))
      return false;
    return true;
  }

  if (stmt.kind == Stmt::Assign && tok.is(TokenKind::LBracket)) {
    consume();
    stmt.kind = Stmt::StepAssign;
    if (!parseExprList(TokenKind::RBracket, stmt.indices))
      return false;
  }
  std::string target = stmt.kind == Stmt::Assign || stmt.kind == Stmt::StepAssign
                           ? stmt.name
                       : stmt.kind == Stmt::Let ? "let " + stmt.name
                                                : Stmt::keyword(stmt.kind);
  if (!expect(TokenKind::Assign, "after '" + target + "'"))
    return false;
  stmt.value = parseExpr();
  if (!stmt.value)
    return false;
  // `seq = T by cu_seqlens`: T packs sequences that start at the offsets cu_seqlens.
  if (stmt.kind == Stmt::Seq && tok.is(TokenKind::Identifier) && tok.spelling == "by" &&
      !tok.startsLine) {
    consume();
    if (!parseName(stmt.offsets, stmt.offsetsLoc,
                   "the name of the sequence offsets after 'by'"))
      return false;
  }
  if (!tok.is(TokenKind::RBrace) && !tok.is(TokenKind::Eof) && !tok.startsLine) {
    errorHere("unexpected " + found(tok) + " after the expression");
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

/// Sets the height of a new node and rejects trees too deep to walk safely.
ExprPtr Parser::withHeight(ExprPtr node, unsigned childHeight) {
  node->height = childHeight + 1;
  if (node->height <= kMaxExprHeight)
    return node;
  errorTooDeep(node->getLoc());
  return nullptr;
}

void Parser::errorTooDeep(llvm::SMLoc loc) {
  diags.error(loc, "expression is nested too deeply (more than " +
                       llvm::Twine(kMaxExprHeight) + " levels)");
}

/// Bounds the parser's own recursion (parentheses, unary chains).
struct Parser::DepthGuard {
  DepthGuard(Parser &parser) : parser(parser) { ++parser.depth; }
  ~DepthGuard() { --parser.depth; }
  /// Whether this level is past the limit, after saying so at the current token.
  bool tooDeep() const {
    if (parser.depth <= kMaxExprHeight)
      return false;
    parser.errorTooDeep(parser.tok.loc);
    return true;
  }
  Parser &parser;
};

/// expr ::= or ('?' expr ':' expr)?
ExprPtr Parser::parseExpr() {
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  ExprPtr cond = parseOr();
  if (!cond || !tok.is(TokenKind::Question))
    return cond;
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr thenExpr = parseExpr();
  if (!thenExpr)
    return nullptr;
  if (!expect(TokenKind::Colon, "in the conditional expression"))
    return nullptr;
  ExprPtr elseExpr = parseExpr();
  if (!elseExpr)
    return nullptr;
  unsigned height = std::max({cond->height, thenExpr->height, elseExpr->height});
  return withHeight(std::make_unique<TernaryExpr>(
                        loc, std::move(cond), std::move(thenExpr), std::move(elseExpr)),
                    height);
}

/// Parses `next (op next)*` left-associatively for the operators `opFor` maps.
ExprPtr Parser::parseLeftAssoc(ExprPtr (Parser::*next)(),
                               std::optional<BinaryExpr::Op> (*opFor)(TokenKind)) {
  ExprPtr lhs = (this->*next)();
  while (lhs) {
    std::optional<BinaryExpr::Op> op = opFor(tok.kind);
    if (!op)
      break;
    llvm::SMLoc loc = tok.loc;
    consume();
    ExprPtr rhs = (this->*next)();
    if (!rhs)
      return nullptr;
    unsigned height = std::max(lhs->height, rhs->height);
    lhs = withHeight(
        std::make_unique<BinaryExpr>(loc, *op, std::move(lhs), std::move(rhs)), height);
  }
  return lhs;
}

/// or ::= and ('||' and)*
ExprPtr Parser::parseOr() {
  return parseLeftAssoc(&Parser::parseAnd, [](TokenKind k) {
    return k == TokenKind::OrOr ? std::optional(BinaryExpr::Or) : std::nullopt;
  });
}

/// and ::= comparison ('&&' comparison)*
ExprPtr Parser::parseAnd() {
  return parseLeftAssoc(&Parser::parseComparison, [](TokenKind k) {
    return k == TokenKind::AndAnd ? std::optional(BinaryExpr::And) : std::nullopt;
  });
}

static std::optional<BinaryExpr::Op> comparisonOp(TokenKind k) {
  switch (k) {
  case TokenKind::EqEq: return BinaryExpr::Eq;
  case TokenKind::NotEq: return BinaryExpr::Ne;
  case TokenKind::Less: return BinaryExpr::Lt;
  case TokenKind::LessEq: return BinaryExpr::Le;
  case TokenKind::Greater: return BinaryExpr::Gt;
  case TokenKind::GreaterEq: return BinaryExpr::Ge;
  default: return std::nullopt;
  }
}

/// comparison ::= additive (('==' | '!=' | '<' | '<=' | '>' | '>=') additive)?
/// Comparisons do not chain: `a < b < c` is an error, not `(a < b) < c`.
ExprPtr Parser::parseComparison() {
  ExprPtr lhs = parseAdditive();
  if (!lhs)
    return nullptr;
  std::optional<BinaryExpr::Op> op = comparisonOp(tok.kind);
  if (!op)
    return lhs;
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr rhs = parseAdditive();
  if (!rhs)
    return nullptr;
  if (comparisonOp(tok.kind)) {
    errorHere("comparisons do not chain; combine them with '&&'");
    return nullptr;
  }
  unsigned height = std::max(lhs->height, rhs->height);
  return withHeight(
      std::make_unique<BinaryExpr>(loc, *op, std::move(lhs), std::move(rhs)), height);
}

/// additive ::= multiplicative (('+' | '-') multiplicative)*
ExprPtr Parser::parseAdditive() {
  return parseLeftAssoc(&Parser::parseMultiplicative,
                        [](TokenKind k) -> std::optional<BinaryExpr::Op> {
                          if (k == TokenKind::Plus)
                            return BinaryExpr::Add;
                          if (k == TokenKind::Minus)
                            return BinaryExpr::Sub;
                          return std::nullopt;
                        });
}

/// multiplicative ::= unary (('*' | '/' | '%' | '@') unary)*
ExprPtr Parser::parseMultiplicative() {
  return parseLeftAssoc(&Parser::parseUnary,
                        [](TokenKind k) -> std::optional<BinaryExpr::Op> {
                          switch (k) {
                          case TokenKind::Star: return BinaryExpr::Mul;
                          case TokenKind::Slash: return BinaryExpr::Div;
                          case TokenKind::Percent: return BinaryExpr::Rem;
                          case TokenKind::At: return BinaryExpr::MatMul;
                          default: return std::nullopt;
                          }
                        });
}

/// power ::= primary ('**' unary)?
/// As in Python: `**` binds tighter than a unary minus on its left (`-2 ** 2` is -4)
/// and groups to the right (`2 ** 3 ** 2` is 2^9); `a ** b` is `pow(a, b)`.
ExprPtr Parser::parsePower() {
  ExprPtr base = parsePrimary();
  if (!base || !tok.is(TokenKind::StarStar))
    return base;
  // The exponent recurses (`2 ** 2 ** ...`): bounded, as every recursion here is.
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr exponent = parseUnary();
  if (!exponent)
    return nullptr;
  unsigned height = std::max(base->height, exponent->height);
  std::vector<ExprPtr> args;
  args.push_back(std::move(base));
  args.push_back(std::move(exponent));
  return withHeight(std::make_unique<CallExpr>(loc, "pow", std::move(args)), height);
}

/// unary ::= ('-' | '+' | '!') unary | power
ExprPtr Parser::parseUnary() {
  std::optional<UnaryExpr::Op> op;
  if (tok.is(TokenKind::Minus))
    op = UnaryExpr::Neg;
  else if (tok.is(TokenKind::Plus))
    op = UnaryExpr::Plus;
  else if (tok.is(TokenKind::Bang))
    op = UnaryExpr::Not;
  if (!op)
    return parsePower();
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  llvm::SMLoc loc = tok.loc;
  consume();
  ExprPtr operand = parseUnary();
  if (!operand)
    return nullptr;
  unsigned height = operand->height;
  return withHeight(std::make_unique<UnaryExpr>(loc, *op, std::move(operand)), height);
}

/// exprlist ::= expr (',' expr)* CLOSE
bool Parser::parseExprList(TokenKind close, std::vector<ExprPtr> &out) {
  if (consumeIf(close))
    return true;
  do {
    ExprPtr e = parseExpr();
    if (!e)
      return false;
    out.push_back(std::move(e));
  } while (consumeIf(TokenKind::Comma));
  return expect(close, close == TokenKind::RParen ? "to close the call"
                                                  : "to close the indices");
}

/// primary ::= INTEGER | NUMBER | 'inf' | 'true' | 'false' | '(' expr ')'
///           | IDENT | IDENT '(' exprlist ')' | IDENT '[' exprlist ']'
ExprPtr Parser::parsePrimary() {
  llvm::SMLoc loc = tok.loc;
  switch (tok.kind) {
  case TokenKind::Integer: {
    auto e = std::make_unique<NumberExpr>(loc, true, tok.intValue, tok.floatValue);
    consume();
    return e;
  }
  case TokenKind::Float:
  case TokenKind::KwInf: {
    auto e = std::make_unique<NumberExpr>(loc, false, 0, tok.floatValue);
    consume();
    return e;
  }
  case TokenKind::KwTrue:
  case TokenKind::KwFalse: {
    auto e = std::make_unique<BoolLiteralExpr>(loc, tok.is(TokenKind::KwTrue));
    consume();
    return e;
  }
  case TokenKind::LParen: {
    consume();
    ExprPtr inner = parseExpr();
    if (!inner || !expect(TokenKind::RParen, "to close the parenthesis"))
      return nullptr;
    return inner;
  }
  case TokenKind::Identifier: {
    std::string name = tok.spelling.str();
    consume();
    if (tok.is(TokenKind::LParen) || tok.is(TokenKind::LBracket)) {
      bool isCall = tok.is(TokenKind::LParen);
      consume();
      std::vector<ExprPtr> list;
      if (!parseExprList(isCall ? TokenKind::RParen : TokenKind::RBracket, list))
        return nullptr;
      unsigned height = 0;
      for (const ExprPtr &e : list)
        height = std::max(height, e->height);
      ExprPtr node;
      if (isCall)
        node = std::make_unique<CallExpr>(loc, std::move(name), std::move(list));
      else
        node = std::make_unique<IndexExpr>(loc, std::move(name), std::move(list));
      return withHeight(std::move(node), height);
    }
    return std::make_unique<NameExpr>(loc, std::move(name));
  }
  default: errorHere("expected an expression, found " + found(tok)); return nullptr;
  }
}
