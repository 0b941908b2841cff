//===- AST.cpp - Syntax tree of a .tmix file ------------------------------===//
//
// Spellings of AST enums for diagnostics.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"

using namespace tmix;

const char *tmix::spelling(ElemType type) {
  switch (type) {
  case ElemType::F32: return "f32";
  case ElemType::F16: return "f16";
  case ElemType::BF16: return "bf16";
  case ElemType::I32: return "i32";
  case ElemType::I64: return "i64";
  case ElemType::Bool: return "bool";
  }
  return "?";
}

std::string ValueType::str() const {
  std::string base;
  switch (kind) {
  case Invalid: base = "<error>"; break;
  case Bool: base = "bool"; break;
  case Int: base = "int"; break;
  case Float: base = "float"; break;
  }
  if (dims.empty())
    return base;
  std::string out = dims.size() == 1 ? "vector [" : "matrix [";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + dims[i].str();
  return out + "]";
}

const char *BinaryExpr::spelling(Op op) {
  switch (op) {
  case Add: return "+";
  case Sub: return "-";
  case Mul: return "*";
  case Div: return "/";
  case Rem: return "%";
  case MatMul: return "@";
  case And: return "&&";
  case Or: return "||";
  case Eq: return "==";
  case Ne: return "!=";
  case Lt: return "<";
  case Le: return "<=";
  case Gt: return ">";
  case Ge: return ">=";
  }
  return "?";
}

const char *Stmt::keyword(Kind kind) {
  switch (kind) {
  case Scale: return "scale";
  case Mask: return "mask";
  case Score: return "score";
  case Rope: return "rope";
  case Sink: return "sink";
  case Seq: return "seq";
  case Let: return "let";
  case State: return "state";
  case Assign:
  case StepAssign: return "assignment";
  case Invalid: break;
  }
  return "?";
}
