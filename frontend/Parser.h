//===- Parser.h - Recursive-descent parser for .tmix ------------*- C++ -*-===//
//
// Builds the AST of a whole file. On an error it reports once, skips to the start of the
// next statement (or spec) and goes on, so one run reports several errors.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_PARSER_H
#define TMIX_FRONTEND_PARSER_H

#include "frontend/AST.h"
#include "frontend/Lexer.h"
#include "frontend/SourceDiagnostics.h"

namespace tmix {

class Parser {
public:
  Parser(llvm::StringRef buffer, SourceDiagnostics &diags);

  /// file ::= spec*
  /// Parses the next spec whose signature is well formed into `spec` and returns true;
  /// false at the end of the file. Errors are reported; a statement with a syntax error
  /// stays in the body marked `broken`, and a spec whose signature or braces are broken
  /// is skipped.
  bool parseNextSpec(Spec &spec);

private:
  // Token stream.
  void consume();
  bool consumeIf(TokenKind kind);
  bool expect(TokenKind kind, const llvm::Twine &context);
  /// An identifier into `name` and `loc`, or an error "expected WHAT, found ...".
  bool parseName(std::string &name, llvm::SMLoc &loc, const llvm::Twine &what);
  void errorHere(const llvm::Twine &message);
  bool atStatementStart() const;
  void skipToStatementStart();
  void skipToSpecStart();

  // Declarations.
  bool parseSpec(Spec &spec);
  bool parseParam(Param &param);
  bool parseResults(Spec &spec);
  bool parseResult(ResultDecl &result);
  bool parseType(TypeDecl &type, llvm::StringRef what);
  bool parseDims(TypeDecl &type);
  bool parseLiteral(Literal &literal);
  bool parseBody(Spec &spec);
  bool parseStatement(Spec &spec);
  bool parseStatementInto(Stmt &stmt, const Spec &spec);

  // Expressions, lowest precedence first.
  ExprPtr parseExpr();
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePower();
  ExprPtr parsePrimary();
  bool parseExprList(TokenKind close, std::vector<ExprPtr> &out);
  ExprPtr parseLeftAssoc(ExprPtr (Parser::*next)(),
                         std::optional<BinaryExpr::Op> (*opFor)(TokenKind));
  ExprPtr withHeight(ExprPtr node, unsigned childHeight);
  void errorTooDeep(llvm::SMLoc loc);
  struct DepthGuard;

  Lexer lexer;
  SourceDiagnostics &diags;
  Token tok;
  unsigned depth = 0;
  llvm::SMLoc lastErrorLoc; // of parseExpr/parseUnary recursion
};

} // namespace tmix

#endif // TMIX_FRONTEND_PARSER_H
