//===- Lexer.h - Tokens of the .tmix language -------------------*- C++ -*-===//
//
// A hand-written lexer in the style of the Toy tutorial: it records where each token
// starts (an SMLoc into the SourceMgr's buffer) so that every diagnostic can point at
// its cause, and whether the token opens a line, which the parser uses to recover.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_FRONTEND_LEXER_H
#define TMIX_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <string>

namespace tmix {

enum class TokenKind {
  Eof,
  Error, // a bad character or malformed number; already reported
  Identifier,
  Integer,
  Float,
  // Keywords.
  KwAttention,
  KwRecurrence,
  KwState,
  KwLet,
  KwMask,
  KwScore,
  KwRope,
  KwSink,
  KwTrue,
  KwFalse,
  KwInf,
  // Punctuation and operators.
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Question,
  Arrow, // ->
  Assign,
  Plus,
  Minus,
  Star,
  StarStar,
  Slash,
  Percent,
  At,
  Bang,
  AndAnd,
  OrOr,
  EqEq,
  NotEq,
  Less,
  LessEq,
  Greater,
  GreaterEq,
};

struct Token {
  TokenKind kind = TokenKind::Eof;
  llvm::StringRef spelling;
  llvm::SMLoc loc;
  bool startsLine = false;
  int64_t intValue = 0;
  double floatValue = 0.0;

  bool is(TokenKind k) const { return kind == k; }
  llvm::SMLoc endLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data() + spelling.size());
  }
};

/// The spelling of a token kind for diagnostics ("'->'", "identifier").
llvm::StringRef describe(TokenKind kind);

class Lexer {
public:
  /// `report` is called for bad characters and malformed numbers.
  using ErrorFn = void (*)(void *cookie, llvm::SMLoc, const llvm::Twine &);
  Lexer(llvm::StringRef buffer, ErrorFn report, void *cookie)
      : buffer(buffer), cur(buffer.begin()), report(report), cookie(cookie) {}

  Token next();

private:
  void skipWhitespaceAndComments(bool &sawNewline);
  Token lexIdentifier(const char *start);
  Token lexNumber(const char *start);
  Token make(TokenKind kind, const char *start, bool startsLine);

  llvm::StringRef buffer;
  const char *cur;
  bool atLineStart = true;
  ErrorFn report;
  void *cookie;
};

} // namespace tmix

#endif // TMIX_FRONTEND_LEXER_H
