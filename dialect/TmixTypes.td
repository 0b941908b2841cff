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

    The dimensions are the tensor's logical order, the one the spec's semantics and
    every lowering index by. An argument stored in another order (fla's and
    FlashAttention's `[B, T, H, D]` for a logical `[B, H, T, D]`) carries its
    `layout`: for each stored dimension, outermost first, the logical dimension it
    holds. An identity layout is written as none, so that one tensor has one type.

    ```mlir
    !tmix.tensor<[B, H, T, K], bf16, layout [0, 2, 1, 3]>  // stored as [B, T, H, K]
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "dimensions">:$dims,
                        "::mlir::Type":$elementType,
                        OptionalArrayRefParameter<"int64_t", "stored order">:$layout);
  let skipDefaultBuilders = 1;
  let builders = [
    TypeBuilder<(ins "::llvm::ArrayRef<::mlir::Attribute>":$dims,
                     "::mlir::Type":$elementType,
                     CArg<"::llvm::ArrayRef<int64_t>", "{}">:$layout), [{
      return $_get($_ctxt, dims, elementType, layout);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The number of dimensions.
    unsigned getRank() const;
    /// The size of dimension `index` when it is a literal.
    std::optional<int64_t> getStaticSize(unsigned index) const;
    /// The size symbol of dimension `index` (S of `S + 1`); empty for a literal.
    ::llvm::StringRef getSymbol(unsigned index) const;
    /// Whether the element type is f32, f16 or bf16.
    bool isFloat() const;
    /// Whether the tensor is stored in an order other than its logical one.
    bool isPermuted() const { return !getLayout().empty(); }
    /// The logical dimension held by stored dimension `position`.
    unsigned getLogicalDim(unsigned position) const;
  }];
}

#endif // TMIX_TYPES_TD
