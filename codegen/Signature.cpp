//===- Signature.cpp - The runtime's view of a spec op --------------------===//
//
// One ParamDecl per argument and output, read from the spec op's properties.
//
//===----------------------------------------------------------------------===//

#include "codegen/Signature.h"

#include "dialect/DimList.h"
#include "dialect/TmixOps.h"

using namespace mlir;
namespace rt = ::tmix::rt;
using mlir::tmix::AttentionOp;
using mlir::tmix::SpecTensorType;

static rt::DType dtypeOf(Type type) {
  if (type.isF16())
    return rt::DType::F16;
  if (type.isBF16())
    return rt::DType::BF16;
  if (type.isF32())
    return rt::DType::F32;
  if (type.isInteger(1))
    return rt::DType::Bool;
  if (type.isInteger(32))
    return rt::DType::I32;
  if (type.isInteger(64))
    return rt::DType::I64;
  return rt::DType::F64;
}

static rt::ParamDecl paramOf(StringRef name, Type type, Attribute defaultValue) {
  rt::ParamDecl param;
  param.name = name.str();
  auto tensor = dyn_cast<SpecTensorType>(type);
  param.isTensor = static_cast<bool>(tensor);
  param.dtype = dtypeOf(tensor ? tensor.getElementType() : type);
  // The dims as stored (what a caller's tensor has), and the layout that maps them to
  // the logical order the kernel's memref reads.
  if (tensor) {
    for (unsigned position = 0; position < tensor.getRank(); ++position) {
      Attribute dim = tensor.getDims()[tensor.getLogicalDim(position)];
      rt::DimDecl decl;
      if (auto symbol = dyn_cast<StringAttr>(dim)) {
        std::optional<mlir::tmix::SymbolicDim> split =
            mlir::tmix::splitSymbolicDim(symbol.getValue());
        decl.symbol = (split ? split->symbol : symbol.getValue()).str();
        decl.offset = split ? split->offset : 0;
      } else
        decl.size = cast<IntegerAttr>(dim).getInt();
      param.dims.push_back(decl);
    }
    param.layout.assign(tensor.getLayout().begin(), tensor.getLayout().end());
  }
  // A BoolAttr is an i1 IntegerAttr (whose signed value is -1 for true): test it first.
  if (auto flag = dyn_cast_or_null<BoolAttr>(defaultValue))
    param.defaultValue = flag.getValue() ? 1.0 : 0.0;
  else if (auto real = dyn_cast_or_null<FloatAttr>(defaultValue))
    param.defaultValue = real.getValueAsDouble();
  else if (auto integer = dyn_cast_or_null<IntegerAttr>(defaultValue))
    param.defaultValue = static_cast<double>(integer.getValue().getSExtValue());
  return param;
}

rt::SpecSignature(::tmix::signatureOf)(Operation *specOp) {
  rt::SpecSignature signature;
  signature.name = SymbolTable::getSymbolName(specOp).getValue().str();
  // The backward kernels read q, k and v as the forward does: the same GQA check.
  signature.isAttention = isa<AttentionOp, mlir::tmix::AttentionGradOp>(specOp);
  auto functionType =
      cast<FunctionType>(cast<TypeAttr>(specOp->getAttr("function_type")).getValue());
  auto argNames = cast<ArrayAttr>(specOp->getAttr("arg_names"));
  auto defaults = cast<ArrayAttr>(specOp->getAttr("arg_defaults"));
  auto resultNames = cast<ArrayAttr>(specOp->getAttr("result_names"));
  for (auto [index, type] : llvm::enumerate(functionType.getInputs()))
    signature.args.push_back(
        paramOf(cast<StringAttr>(argNames[index]).getValue(), type,
                index < defaults.size() ? defaults[index] : Attribute()));
  for (auto [index, type] : llvm::enumerate(functionType.getResults()))
    signature.results.push_back(
        paramOf(cast<StringAttr>(resultNames[index]).getValue(), type, Attribute()));
  if (auto recurrence = dyn_cast<mlir::tmix::RecurrenceOp>(specOp)) {
    if (DictionaryAttr groups = recurrence.getGroupsAttr())
      for (NamedAttribute group : groups)
        signature.groups.emplace_back(group.getName().str(),
                                      cast<StringAttr>(group.getValue()).str());
    signature.sequenceOffsets = recurrence.getOffsetsArgument();
    signature.timeSymbol = recurrence.getTimeSymbol().str();
  }
  return signature;
}
