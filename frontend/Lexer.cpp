//===- Lexer.cpp - Tokens of the .tmix language ---------------------------===//
//
// Turns a buffer into tokens. Every byte sequence lexes to something: bad bytes become
// one Error token each (after a diagnostic), so the parser never sees garbage.
//
//===----------------------------------------------------------------------===//

#include "frontend/Lexer.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace tmix;

llvm::StringRef tmix::describe(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof: return "end of file";
  case TokenKind::Error: return "invalid token";
  case TokenKind::Identifier: return "identifier";
  case TokenKind::Integer: return "integer";
  case TokenKind::Float: return "number";
  case TokenKind::KwAttention: return "'attention'";
  case TokenKind::KwRecurrence: return "'recurrence'";
  case TokenKind::KwState: return "'state'";
  case TokenKind::KwLet: return "'let'";
  case TokenKind::KwMask: return "'mask'";
  case TokenKind::KwScore: return "'score'";
  case TokenKind::KwRope: return "'rope'";
  case TokenKind::KwSink: return "'sink'";
  case TokenKind::KwTrue: return "'true'";
  case TokenKind::KwFalse: return "'false'";
  case TokenKind::KwInf: return "'inf'";
  case TokenKind::LParen: return "'('";
  case TokenKind::RParen: return "')'";
  case TokenKind::LBracket: return "'['";
  case TokenKind::RBracket: return "']'";
  case TokenKind::LBrace: return "'{'";
  case TokenKind::RBrace: return "'}'";
  case TokenKind::Comma: return "','";
  case TokenKind::Colon: return "':'";
  case TokenKind::Question: return "'?'";
  case TokenKind::Arrow: return "'->'";
  case TokenKind::Assign: return "'='";
  case TokenKind::Plus: return "'+'";
  case TokenKind::Minus: return "'-'";
  case TokenKind::Star: return "'*'";
  case TokenKind::StarStar: return "'**'";
  case TokenKind::Slash: return "'/'";
  case TokenKind::Percent: return "'%'";
  case TokenKind::At: return "'@'";
  case TokenKind::Bang: return "'!'";
  case TokenKind::AndAnd: return "'&&'";
  case TokenKind::OrOr: return "'||'";
  case TokenKind::EqEq: return "'=='";
  case TokenKind::NotEq: return "'!='";
  case TokenKind::Less: return "'<'";
  case TokenKind::LessEq: return "'<='";
  case TokenKind::Greater: return "'>'";
  case TokenKind::GreaterEq: return "'>='";
  }
  return "token";
}

static bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool isDigit(char c) { return c >= '0' && c <= '9'; }
static bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

void Lexer::skipWhitespaceAndComments(bool &sawNewline) {
  while (cur != buffer.end()) {
    char c = *cur;
    if (c == '\n') {
      sawNewline = true;
      ++cur;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++cur;
    } else if (c == '#') {
      while (cur != buffer.end() && *cur != '\n')
        ++cur;
    } else {
      return;
    }
  }
}

Token Lexer::make(TokenKind kind, const char *start, bool startsLine) {
  Token tok;
  tok.kind = kind;
  tok.spelling = llvm::StringRef(start, cur - start);
  tok.loc = llvm::SMLoc::getFromPointer(start);
  tok.startsLine = startsLine;
  return tok;
}

Token Lexer::next() {
  bool sawNewline = false;
  skipWhitespaceAndComments(sawNewline);
  bool startsLine = atLineStart || sawNewline;
  atLineStart = false;
  const char *start = cur;
  if (cur == buffer.end())
    return make(TokenKind::Eof, start, true);

  char c = *cur++;
  auto peekIs = [&](char expected) {
    if (cur != buffer.end() && *cur == expected) {
      ++cur;
      return true;
    }
    return false;
  };

  if (isIdentStart(c)) {
    Token tok = lexIdentifier(start);
    tok.startsLine = startsLine;
    return tok;
  }
  if (isDigit(c) || (c == '.' && cur != buffer.end() && isDigit(*cur))) {
    Token tok = lexNumber(start);
    tok.startsLine = startsLine;
    return tok;
  }
  switch (c) {
  case '(': return make(TokenKind::LParen, start, startsLine);
  case ')': return make(TokenKind::RParen, start, startsLine);
  case '[': return make(TokenKind::LBracket, start, startsLine);
  case ']': return make(TokenKind::RBracket, start, startsLine);
  case '{': return make(TokenKind::LBrace, start, startsLine);
  case '}': return make(TokenKind::RBrace, start, startsLine);
  case ',': return make(TokenKind::Comma, start, startsLine);
  case ':': return make(TokenKind::Colon, start, startsLine);
  case '?': return make(TokenKind::Question, start, startsLine);
  case '+': return make(TokenKind::Plus, start, startsLine);
  case '*':
    return make(peekIs('*') ? TokenKind::StarStar : TokenKind::Star, start, startsLine);
  case '/': return make(TokenKind::Slash, start, startsLine);
  case '%': return make(TokenKind::Percent, start, startsLine);
  case '@': return make(TokenKind::At, start, startsLine);
  case '-':
    return make(peekIs('>') ? TokenKind::Arrow : TokenKind::Minus, start, startsLine);
  case '=':
    return make(peekIs('=') ? TokenKind::EqEq : TokenKind::Assign, start, startsLine);
  case '!':
    return make(peekIs('=') ? TokenKind::NotEq : TokenKind::Bang, start, startsLine);
  case '<':
    return make(peekIs('=') ? TokenKind::LessEq : TokenKind::Less, start, startsLine);
  case '>':
    return make(peekIs('=') ? TokenKind::GreaterEq : TokenKind::Greater, start,
                startsLine);
  case '&':
    if (peekIs('&'))
      return make(TokenKind::AndAnd, start, startsLine);
    report(cookie, llvm::SMLoc::getFromPointer(start),
           "unexpected '&'; did you mean '&&'?");
    return make(TokenKind::Error, start, startsLine);
  case '|':
    if (peekIs('|'))
      return make(TokenKind::OrOr, start, startsLine);
    report(cookie, llvm::SMLoc::getFromPointer(start),
           "unexpected '|'; did you mean '||'?");
    return make(TokenKind::Error, start, startsLine);
  default: break;
  }
  unsigned char byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f)
    report(cookie, llvm::SMLoc::getFromPointer(start),
           llvm::Twine("unexpected character '") + llvm::Twine(c) + "'");
  else
    report(cookie, llvm::SMLoc::getFromPointer(start),
           llvm::Twine("unexpected byte 0x") + llvm::Twine::utohexstr(byte) +
               " (tmix source is ASCII)");
  // A multi-byte UTF-8 character is one mistake: skip its continuation bytes.
  constexpr unsigned char kUtf8LeadMin = 0xC0, kUtf8ContinuationMask = 0xC0,
                          kUtf8Continuation = 0x80;
  if (byte >= kUtf8LeadMin)
    while (cur != buffer.end() && (static_cast<unsigned char>(*cur) &
                                   kUtf8ContinuationMask) == kUtf8Continuation)
      ++cur;
  return make(TokenKind::Error, start, startsLine);
}

Token Lexer::lexIdentifier(const char *start) {
  while (cur != buffer.end() && isIdentChar(*cur))
    ++cur;
  llvm::StringRef text(start, cur - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(text)
                       .Case("attention", TokenKind::KwAttention)
                       .Case("recurrence", TokenKind::KwRecurrence)
                       .Case("state", TokenKind::KwState)
                       .Case("let", TokenKind::KwLet)
                       .Case("mask", TokenKind::KwMask)
                       .Case("score", TokenKind::KwScore)
                       .Case("rope", TokenKind::KwRope)
                       .Case("sink", TokenKind::KwSink)
                       .Case("true", TokenKind::KwTrue)
                       .Case("false", TokenKind::KwFalse)
                       .Case("inf", TokenKind::KwInf)
                       .Default(TokenKind::Identifier);
  Token tok = make(kind, start, false);
  if (kind == TokenKind::KwInf)
    tok.floatValue = INFINITY;
  return tok;
}

/// number ::= digits ('.' digits?)? ([eE] [+-]? digits)? | '.' digits ...
Token Lexer::lexNumber(const char *start) {
  bool isFloat = false;
  auto digits = [&] {
    while (cur != buffer.end() && isDigit(*cur))
      ++cur;
  };
  digits();
  if (cur != buffer.end() && *cur == '.') {
    isFloat = true;
    ++cur;
    digits();
  }
  if (cur != buffer.end() && (*cur == 'e' || *cur == 'E')) {
    const char *expStart = cur++;
    if (cur != buffer.end() && (*cur == '+' || *cur == '-'))
      ++cur;
    if (cur == buffer.end() || !isDigit(*cur)) {
      cur = expStart + 1;
      while (cur != buffer.end() && isIdentChar(*cur))
        ++cur;
      report(cookie, llvm::SMLoc::getFromPointer(start),
             llvm::Twine("malformed number '") + llvm::StringRef(start, cur - start) +
                 "': the exponent has no digits");
      return make(TokenKind::Error, start, false);
    }
    isFloat = true;
    digits();
  }
  if (cur != buffer.end() && (isIdentChar(*cur) || *cur == '.')) {
    while (cur != buffer.end() && (isIdentChar(*cur) || *cur == '.'))
      ++cur;
    report(cookie, llvm::SMLoc::getFromPointer(start),
           llvm::Twine("malformed number '") + llvm::StringRef(start, cur - start) + "'");
    return make(TokenKind::Error, start, false);
  }

  Token tok = make(isFloat ? TokenKind::Float : TokenKind::Integer, start, false);
  std::string text = tok.spelling.str();
  if (isFloat) {
    tok.floatValue = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(tok.floatValue)) {
      report(cookie, tok.loc,
             llvm::Twine("number '") + tok.spelling + "' is out of range");
      tok.kind = TokenKind::Error;
    }
    return tok;
  }
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE || value > static_cast<unsigned long long>(INT64_MAX)) {
    report(cookie, tok.loc,
           llvm::Twine("integer '") + tok.spelling + "' is out of range");
    tok.kind = TokenKind::Error;
    return tok;
  }
  tok.intValue = static_cast<int64_t>(value);
  tok.floatValue = static_cast<double>(value);
  return tok;
}
