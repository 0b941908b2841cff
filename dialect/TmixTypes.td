//===- TmixTypes.td - Types of the tmix dialect --------------*- tablegen -*-===//
//
// `!tmix.tensor<[B, H, N, 128], bf16>`: a tensor whose dimensions are integer literals
// or size symbols bound at run time.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_TYPES_TD
#define TMIX_TYPES_TD

include "dialect/TmixDialect.td"
include "mlir/IR/AttrTypeBase.td"

def Tmix_SpecTensorType : TypeDef<Tmix_Dialect, "SpecTensor"> {
  let mnemonic = "tensor";
  let summary = "a tensor with literal or symbolic dimensions";
  let description = [{
    A spec-level tensor. Each dimension is an `IntegerAttr` (i64, > 0), a size known at
    compile time, or a `StringAttr` holding an identifier, a size symbol bound at run
    time from the actual shape. Two dimensions agree when their attributes are equal.
    The element type is one of `f32 f16 bf16 i32 i64 i1`.

    ```mlir
    !tmix.tensor<[B, H, N, 128], bf16>   // q of a multi-head attention
    !tmix.tensor<[K, V], f32>            // a per-step state inside a recurrence
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "dimensions">:$dims,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The number of dimensions.
    unsigned getRank() const;
    /// The size of dimension `index` when it is a literal.
    std::optional<int64_t> getStaticSize(unsigned index) const;
    /// The size symbol of dimension `index`; empty for a literal.
    ::llvm::StringRef getSymbol(unsigned index) const;
    /// Whether the element type is f32, f16 or bf16.
    bool isFloat() const;
  }];
}

#endif // TMIX_TYPES_TD
