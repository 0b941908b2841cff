//===- TmixDialect.td - The tmix dialect ---------------------*- tablegen -*-===//
//
// The spec-level dialect: what a .tmix attention or recurrence spec means, and
// nothing about how it runs.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TD
#define TMIX_DIALECT_TD

include "mlir/IR/OpBase.td"

def Tmix_Dialect : Dialect {
  let name = "tmix";
  let cppNamespace = "::mlir::tmix";
  let summary = "Attention and token-mixer specs";
  let description = [{
    One spec is one op, `tmix.attention` or `tmix.recurrence`: a symbol with a
    signature and a body of statement ops. Expressions inside statements are upstream
    `arith`/`math` ops on scalars plus the tmix ops for tensor reads and the
    vector/matrix algebra of recurrences. Tensor arguments have the type
    `!tmix.tensor<[DIMS], ELT>`, whose dimensions are literals or size symbols.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  // `tmix.kernel` on a function: the kernel ABI (TmixAttrs.cpp).
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Adds the dialect's types (in TmixTypes.cpp, beside their storage classes).
    void registerTypes();
    /// Adds the dialect's attributes (in TmixAttrs.cpp).
    void registerAttributes();
  }];
}

class Tmix_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tmix_Dialect, mnemonic, traits>;

#endif // TMIX_DIALECT_TD
