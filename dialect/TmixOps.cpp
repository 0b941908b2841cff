//===- TmixOps.cpp - Spec and statement ops of the tmix dialect -----------===//
//
// Builders, the custom assembly and the verifiers of tmix.attention,
// tmix.recurrence and their statement ops. The expression ops are in
// TmixExprOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"

#include "dialect/DimList.h"
#include "dialect/TmixOpsSupport.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::tmix;

#define GET_OP_CLASSES
#include "dialect/TmixOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared helpers (declared in TmixOpsSupport.h)
//===----------------------------------------------------------------------===//

std::string mlir::tmix::formatTypes(TypeRange types) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '(';
  llvm::interleaveComma(types, os);
  os << ')';
  return text;
}

std::string mlir::tmix::formatDim(Attribute dim) {
  if (auto symbol = llvm::dyn_cast<StringAttr>(dim))
    return symbol.getValue().str();
  if (auto size = llvm::dyn_cast<IntegerAttr>(dim))
    return std::to_string(size.getInt());
  return "?";
}

std::string mlir::tmix::formatDims(ArrayRef<Attribute> dims) {
  std::string text = "[";
  llvm::interleave(
      dims, [&](Attribute dim) { text += formatDim(dim); }, [&] { text += ", "; });
  return text + "]";
}

Type mlir::tmix::getF32Value(MLIRContext *context, ArrayRef<Attribute> dims) {
  Type f32 = Float32Type::get(context);
  if (dims.empty())
    return f32;
  return SpecTensorType::get(context, dims, f32);
}

LogicalResult mlir::tmix::verifyRegionSignature(Operation *op, Region &region,
                                                TypeRange arguments, TypeRange yields) {
  Block &block = region.front();
  if (!llvm::equal(block.getArgumentTypes(), arguments))
    return op->emitOpError() << "block arguments must be " << formatTypes(arguments)
                             << ", got " << formatTypes(block.getArgumentTypes());
  auto yield = block.empty() ? YieldOp() : llvm::dyn_cast<YieldOp>(block.back());
  if (!yield)
    return op->emitOpError("region must end with tmix.yield");
  if (!llvm::equal(yield.getOperandTypes(), yields))
    return op->emitOpError() << "must yield " << formatTypes(yields) << ", got "
                             << formatTypes(yield.getOperandTypes());
  return success();
}

Operation *mlir::tmix::getEnclosingSpec(Operation *op) {
  for (Operation *parent = op->getParentOp(); parent; parent = parent->getParentOp())
    if (llvm::isa<AttentionOp, AttentionGradOp, RecurrenceOp>(parent))
      return parent;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Spec ops: builders, assembly, signature
//===----------------------------------------------------------------------===//

/// Adds the signature properties and the body block (with one argument per spec
/// argument) shared by tmix.attention and tmix.recurrence.
template <typename SpecOp>
static void buildSpec(OpBuilder &builder, OperationState &state, StringRef name,
                      ArrayRef<StringRef> argNames, ArrayRef<Type> argTypes,
                      ArrayRef<Attribute> argDefaults, ArrayRef<StringRef> resultNames,
                      ArrayRef<Type> resultTypes) {
  OperationName opName = state.name;
  SmallVector<Attribute> defaults(argDefaults);
  if (defaults.size() < argTypes.size())
    defaults.resize(argTypes.size(), builder.getUnitAttr());
  state.addAttribute(SpecOp::getSymNameAttrName(opName), builder.getStringAttr(name));
  state.addAttribute(SpecOp::getFunctionTypeAttrName(opName),
                     TypeAttr::get(builder.getFunctionType(argTypes, resultTypes)));
  state.addAttribute(SpecOp::getArgNamesAttrName(opName), builder.getStrArrayAttr(argNames));
  state.addAttribute(SpecOp::getArgDefaultsAttrName(opName), builder.getArrayAttr(defaults));
  state.addAttribute(SpecOp::getResultNamesAttrName(opName),
                     builder.getStrArrayAttr(resultNames));
  Block *body = new Block();
  state.addRegion()->push_back(body);
  body->addArguments(argTypes, SmallVector<Location>(argTypes.size(), state.location));
}

void AttentionOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                        ArrayRef<StringRef> argNames, ArrayRef<Type> argTypes,
                        ArrayRef<Attribute> argDefaults, ArrayRef<StringRef> resultNames,
                        ArrayRef<Type> resultTypes) {
  buildSpec<AttentionOp>(builder, state, name, argNames, argTypes, argDefaults, resultNames,
                         resultTypes);
}

void RecurrenceOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                         ArrayRef<StringRef> argNames, ArrayRef<Type> argTypes,
                         ArrayRef<Attribute> argDefaults, ArrayRef<StringRef> resultNames,
                         ArrayRef<Type> resultTypes, StringRef timeSymbol) {
  buildSpec<RecurrenceOp>(builder, state, name, argNames, argTypes, argDefaults, resultNames,
                          resultTypes);
  state.addAttribute(getTimeSymbolAttrName(state.name), builder.getStringAttr(timeSymbol));
}

/// spec ::= `@`name `(` arg (`,` arg)* `)` `->` `(` result (`,` result)* `)`
///          [`time` string [`groups` dict] [`offsets` string]
///           [`forward` string]]                                 (tmix.recurrence)
///          [`forward` string `part` string [`lse_grad`] [`recompute_dq`]
///           [`rope_rows`] [`params` array `owned` array
///           [`split` array]]]                                   (tmix.attention_grad)
///          [`attributes` dict]
///          region
/// arg ::= `%`name `:` type [`=` literal]
/// result ::= name `:` type
template <typename SpecOp>
static ParseResult parseSpec(OpAsmParser &parser, OperationState &result, bool hasTime) {
  Builder &builder = parser.getBuilder();
  OperationName opName = result.name;
  StringAttr name;
  if (parser.parseSymbolName(name))
    return failure();

  SmallVector<OpAsmParser::Argument> args;
  SmallVector<Attribute> argNames, defaults;
  auto parseArg = [&]() -> ParseResult {
    OpAsmParser::Argument &arg = args.emplace_back();
    if (parser.parseArgument(arg, /*allowType=*/true))
      return failure();
    argNames.push_back(builder.getStringAttr(arg.ssaName.name.drop_front()));
    Attribute value = builder.getUnitAttr();
    if (succeeded(parser.parseOptionalEqual())) {
      // A default on a tensor parses with its own type; the verifier rejects it.
      if (isSpecScalarType(arg.type) ? parser.parseAttribute(value, arg.type)
                                     : parser.parseAttribute(value))
        return failure();
    }
    defaults.push_back(value);
    return success();
  };

  SmallVector<Attribute> resultNames;
  SmallVector<Type> resultTypes;
  auto parseResult = [&]() -> ParseResult {
    std::string resultName;
    Type type;
    if (parser.parseKeywordOrString(&resultName) || parser.parseColonType(type))
      return failure();
    resultNames.push_back(builder.getStringAttr(resultName));
    resultTypes.push_back(type);
    return success();
  };

  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren, parseArg) ||
      parser.parseArrow() ||
      parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren, parseResult))
    return failure();
  if (hasTime) {
    std::string time;
    if (parser.parseKeyword("time") || parser.parseString(&time))
      return failure();
    result.addAttribute(RecurrenceOp::getTimeSymbolAttrName(opName),
                        builder.getStringAttr(time));
    DictionaryAttr groups;
    if (succeeded(parser.parseOptionalKeyword("groups"))) {
      if (parser.parseAttribute(groups))
        return failure();
      result.addAttribute(RecurrenceOp::getGroupsAttrName(opName), groups);
    }
    std::string offsets;
    if (succeeded(parser.parseOptionalKeyword("offsets"))) {
      if (parser.parseString(&offsets))
        return failure();
      result.addAttribute(RecurrenceOp::getOffsetsAttrName(opName),
                          builder.getStringAttr(offsets));
    }
    std::string forward;
    if (succeeded(parser.parseOptionalKeyword("forward"))) {
      if (parser.parseString(&forward))
        return failure();
      result.addAttribute(RecurrenceOp::getForwardAttrName(opName),
                          builder.getStringAttr(forward));
    }
  }
  if constexpr (std::is_same_v<SpecOp, AttentionGradOp>) {
    std::string forward, part;
    if (parser.parseKeyword("forward") || parser.parseString(&forward) ||
        parser.parseKeyword("part") || parser.parseString(&part))
      return failure();
    result.addAttribute(AttentionGradOp::getForwardAttrName(opName),
                        builder.getStringAttr(forward));
    result.addAttribute(AttentionGradOp::getPartAttrName(opName), builder.getStringAttr(part));
    if (succeeded(parser.parseOptionalKeyword("lse_grad")))
      result.addAttribute(AttentionGradOp::getLseGradAttrName(opName), builder.getUnitAttr());
    if (succeeded(parser.parseOptionalKeyword("recompute_dq")))
      result.addAttribute(AttentionGradOp::getRecomputeDqAttrName(opName),
                          builder.getUnitAttr());
    if (succeeded(parser.parseOptionalKeyword("rope_rows")))
      result.addAttribute(AttentionGradOp::getRopeRowsAttrName(opName),
                          builder.getUnitAttr());
    if (succeeded(parser.parseOptionalKeyword("params"))) {
      Attribute params, owned;
      if (!(params = DenseI64ArrayAttr::parse(parser, Type())) ||
          parser.parseKeyword("owned") ||
          !(owned = DenseI64ArrayAttr::parse(parser, Type())))
        return failure();
      result.addAttribute(AttentionGradOp::getParamsAttrName(opName), params);
      result.addAttribute(AttentionGradOp::getOwnedAttrName(opName), owned);
      if (succeeded(parser.parseOptionalKeyword("split"))) {
        Attribute split = DenseI64ArrayAttr::parse(parser, Type());
        if (!split)
          return failure();
        result.addAttribute(AttentionGradOp::getSplitAttrName(opName), split);
      }
    }
  }
  if (parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();

  SmallVector<Type> argTypes;
  for (const OpAsmParser::Argument &arg : args)
    argTypes.push_back(arg.type);
  result.addAttribute(SpecOp::getSymNameAttrName(opName), name);
  result.addAttribute(SpecOp::getFunctionTypeAttrName(opName),
                      TypeAttr::get(builder.getFunctionType(argTypes, resultTypes)));
  result.addAttribute(SpecOp::getArgNamesAttrName(opName), builder.getArrayAttr(argNames));
  result.addAttribute(SpecOp::getArgDefaultsAttrName(opName), builder.getArrayAttr(defaults));
  result.addAttribute(SpecOp::getResultNamesAttrName(opName),
                      builder.getArrayAttr(resultNames));
  return parser.parseRegion(*result.addRegion(), args);
}

template <typename SpecOp>
static void printSpec(OpAsmPrinter &printer, SpecOp op) {
  printer << ' ';
  printer.printSymbolName(op.getSymName());
  printer << '(';
  Block &body = op.getBodyBlock();
  ArrayRef<Attribute> defaults = op.getArgDefaults().getValue();
  llvm::interleaveComma(llvm::enumerate(body.getArguments()), printer, [&](auto item) {
    printer.printRegionArgument(item.value());
    if (item.index() < defaults.size() && !llvm::isa<UnitAttr>(defaults[item.index()])) {
      printer << " = ";
      printer.printAttributeWithoutType(defaults[item.index()]);
    }
  });
  printer << ") -> (";
  llvm::interleaveComma(llvm::seq<unsigned>(0, op.getNumSpecResults()), printer,
                        [&](unsigned index) {
                          printer.printKeywordOrString(op.getResultName(index));
                          printer << ": " << op.getSpecResultTypes()[index];
                        });
  printer << ')';
  if constexpr (std::is_same_v<SpecOp, RecurrenceOp>) {
    printer << " time ";
    printer.printString(op.getTimeSymbol());
    if (DictionaryAttr groups = op.getGroupsAttr()) {
      printer << " groups ";
      printer.printAttribute(groups);
    }
    if (StringAttr offsets = op.getOffsetsAttr()) {
      printer << " offsets ";
      printer.printString(offsets.getValue());
    }
    if (StringAttr forward = op.getForwardAttr()) {
      printer << " forward ";
      printer.printString(forward.getValue());
    }
  }
  if constexpr (std::is_same_v<SpecOp, AttentionGradOp>) {
    printer << " forward ";
    printer.printString(op.getForward());
    printer << " part ";
    printer.printString(op.getPart());
    if (op.getLseGrad())
      printer << " lse_grad";
    if (op.getRecomputeDq())
      printer << " recompute_dq";
    if (op.getRopeRows())
      printer << " rope_rows";
    if (op.getParamsAttr()) {
      printer << " params ";
      op.getParamsAttr().print(printer);
      printer << " owned ";
      if (op.getOwnedAttr())
        op.getOwnedAttr().print(printer);
      else
        printer << "[]";
      if (op.getSplitAttr()) {
        printer << " split ";
        op.getSplitAttr().print(printer);
      }
    }
  }
  SmallVector<StringRef> elided{
      "sym_name",     "function_type", "arg_names",    "arg_defaults",
      "result_names", "time_symbol",   "groups",       "offsets",
      "forward",      "part",          "params",       "owned",
      "split",        "lse_grad",      "recompute_dq", "rope_rows"};
  printer.printOptionalAttrDictWithKeyword(op->getDiscardableAttrDictionary().getValue(),
                                           elided);
  printer << ' ';
  printer.printRegion(op.getBody(), /*printEntryBlockArgs=*/false,
                      /*printBlockTerminators=*/false);
}

ParseResult AttentionOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseSpec<AttentionOp>(parser, result, /*hasTime=*/false);
}
void AttentionOp::print(OpAsmPrinter &printer) { printSpec(printer, *this); }
ParseResult AttentionGradOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseSpec<AttentionGradOp>(parser, result, /*hasTime=*/false);
}
void AttentionGradOp::print(OpAsmPrinter &printer) { printSpec(printer, *this); }
ParseResult RecurrenceOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseSpec<RecurrenceOp>(parser, result, /*hasTime=*/true);
}
void RecurrenceOp::print(OpAsmPrinter &printer) { printSpec(printer, *this); }

/// Names the body's block arguments after the spec's arguments.
static void nameSpecArguments(Region &region, ArrayAttr argNames,
                              OpAsmSetValueNameFn setNameFn) {
  if (region.empty())
    return;
  for (auto [arg, name] : llvm::zip(region.front().getArguments(), argNames))
    if (auto text = llvm::dyn_cast<StringAttr>(name); text && !text.getValue().empty())
      setNameFn(arg, text.getValue());
}

void AttentionOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameSpecArguments(region, getArgNames(), setNameFn);
}
void RecurrenceOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameSpecArguments(region, getArgNames(), setNameFn);
}
void AttentionGradOp::getAsmBlockArgumentNames(Region &region,
                                               OpAsmSetValueNameFn setNameFn) {
  nameSpecArguments(region, getArgNames(), setNameFn);
}

#define TMIX_SPEC_ACCESSORS(SpecOp)                                                     \
  StringRef SpecOp::getArgName(unsigned index) {                                        \
    return llvm::cast<StringAttr>(getArgNames()[index]).getValue();                     \
  }                                                                                      \
  StringRef SpecOp::getResultName(unsigned index) {                                     \
    return llvm::cast<StringAttr>(getResultNames()[index]).getValue();                  \
  }                                                                                      \
  unsigned SpecOp::getNumSpecResults() { return getFunctionType().getNumResults(); }    \
  ArrayRef<Type> SpecOp::getSpecArgTypes() { return getFunctionType().getInputs(); }    \
  ArrayRef<Type> SpecOp::getSpecResultTypes() { return getFunctionType().getResults(); } \
  Block &SpecOp::getBodyBlock() { return getBody().front(); }
TMIX_SPEC_ACCESSORS(AttentionOp)
TMIX_SPEC_ACCESSORS(RecurrenceOp)
TMIX_SPEC_ACCESSORS(AttentionGradOp)
#undef TMIX_SPEC_ACCESSORS

/// A dim with an offset (`S + 1`) is the offsets of packed sequences: only the
/// argument `allowed` names them (a recurrence's `offsets`; ragged attention is to come).
static LogicalResult verifyOffsetDims(Operation *op, FunctionType type,
                                      std::optional<unsigned> allowed) {
  auto check = [&](Type type, StringRef role, unsigned position) -> LogicalResult {
    auto tensor = llvm::dyn_cast<SpecTensorType>(type);
    if (!tensor)
      return success();
    for (Attribute dim : tensor.getDims())
      if (auto symbol = llvm::dyn_cast<StringAttr>(dim)) {
        std::optional<SymbolicDim> split = splitSymbolicDim(symbol.getValue());
        if (split && split->offset != 0)
          return op->emitOpError()
                 << role << " #" << position << " has the dim '" << symbol.getValue()
                 << "'; a dim with an offset is only the [S + 1] offsets of packed "
                    "sequences (a recurrence's offsets)";
      }
    return success();
  };
  for (auto [position, input] : llvm::enumerate(type.getInputs()))
    if (position != allowed && failed(check(input, "argument", position)))
      return failure();
  for (auto [position, output] : llvm::enumerate(type.getResults()))
    if (failed(check(output, "result", position)))
      return failure();
  return success();
}

/// Checks what both spec ops share: property lengths, unique names, argument and
/// result types, defaults (only on scalars, of the argument's type).
static LogicalResult verifySignature(Operation *op, FunctionType type, ArrayAttr argNames,
                                     ArrayAttr argDefaults, ArrayAttr resultNames,
                                     Region &body, unsigned firstExtraArg) {
  ArrayRef<Type> inputs = type.getInputs();
  if (argNames.size() != inputs.size())
    return op->emitOpError() << "arg_names has " << argNames.size() << " entries for "
                             << inputs.size() << " arguments";
  if (argDefaults.size() != inputs.size())
    return op->emitOpError() << "arg_defaults has " << argDefaults.size()
                             << " entries for " << inputs.size() << " arguments";
  if (resultNames.size() != type.getNumResults())
    return op->emitOpError() << "result_names has " << resultNames.size()
                             << " entries for " << type.getNumResults() << " results";
  TypeRange blockTypes = body.front().getArgumentTypes();
  if (!llvm::equal(blockTypes, inputs))
    return op->emitOpError() << "body arguments " << formatTypes(blockTypes)
                             << " do not match the signature " << formatTypes(inputs);

  llvm::StringSet<> seen;
  for (Attribute name : llvm::concat<const Attribute>(argNames.getValue(),
                                                      resultNames.getValue())) {
    StringRef text = llvm::cast<StringAttr>(name).getValue();
    if (!seen.insert(text).second)
      return op->emitOpError() << "name '" << text << "' is used twice";
  }

  for (auto [index, argType] : llvm::enumerate(inputs)) {
    StringRef name = llvm::cast<StringAttr>(argNames[index]).getValue();
    bool isTensor = llvm::isa<SpecTensorType>(argType);
    if (index >= firstExtraArg && !isTensor && !isSpecScalarType(argType))
      return op->emitOpError() << "argument '" << name
                               << "' must be a !tmix.tensor or a scalar (f32, f16, bf16, "
                                  "i32, i64, i1), got "
                               << argType;
    Attribute value = argDefaults[index];
    if (llvm::isa<UnitAttr>(value))
      continue;
    if (isTensor)
      return op->emitOpError() << "tensor argument '" << name << "' cannot have a default";
    auto typed = llvm::dyn_cast<TypedAttr>(value);
    if (!typed || typed.getType() != argType)
      return op->emitOpError() << "default of argument '" << name
                               << "' must be a literal of type " << argType << ", got " << value;
  }
  for (auto [index, resultType] : llvm::enumerate(type.getResults()))
    if (!llvm::isa<SpecTensorType>(resultType))
      return op->emitOpError() << "result '"
                               << llvm::cast<StringAttr>(resultNames[index]).getValue()
                               << "' must be a !tmix.tensor, got " << resultType;
  return success();
}

//===----------------------------------------------------------------------===//
// tmix.attention
//===----------------------------------------------------------------------===//

namespace {
/// One of q, k, v, o, lse, with its type.
struct Role {
  StringRef name;
  SpecTensorType type;
};
} // namespace

/// Dimension `index` of `a` must equal dimension `otherIndex` of `b`.
static LogicalResult checkAgree(AttentionOp op, Role a, unsigned index, Role b,
                                unsigned otherIndex, StringRef what) {
  Attribute lhs = a.type.getDims()[index], rhs = b.type.getDims()[otherIndex];
  if (lhs == rhs)
    return success();
  return op.emitOpError() << "'" << a.name << "' " << what << " " << formatDim(lhs)
                          << " does not match '" << b.name << "' " << what << " "
                          << formatDim(rhs);
}

/// The statements: only statement ops, each at most once; rope needs an even D.
/// A tmix.attention_grad's body also holds the derived statements of its part:
/// tmix.score_grad (query, key_value), tmix.score_param_grad, tmix.sink_grad and
/// tmix.scale_grad and tmix.rope_grad (params; there with the tmix.score_grad that the
/// scale's gradient needs); a part "key_value" that sums params per key split,
/// tmix.score_param_grad or tmix.rope_grad or both.
static LogicalResult verifyAttentionBody(Operation *op, Block &body, Role q) {
  auto grad = llvm::dyn_cast<AttentionGradOp>(op);
  bool params = grad && grad.isParamsPart();
  bool splitParams = grad && !params && grad.getParamsAttr();
  llvm::StringSet<> seen;
  for (Operation &statement : body) {
    StringRef name = statement.getName().getStringRef();
    bool derived = llvm::isa<ScoreGradOp>(statement);
    if (params)
      derived |=
          llvm::isa<ScoreParamGradOp, SinkGradOp, ScaleGradOp, RopeGradOp>(statement);
    if (splitParams)
      derived |= llvm::isa<ScoreParamGradOp, RopeGradOp>(statement);
    derived &= bool(grad);
    if (!llvm::isa<ScaleOp, MaskOp, ScoreOp, SinkOp, RopeOp>(statement) && !derived)
      return op->emitOpError()
             << "body may only hold statements (tmix.scale, tmix.mask, "
                "tmix.score, tmix.sink, tmix.rope"
             << (!grad    ? ""
                 : params ? ", tmix.score_param_grad, tmix.sink_grad, tmix.scale_grad, "
                            "tmix.rope_grad, tmix.score_grad"
                 : splitParams
                     ? ", tmix.score_grad, tmix.score_param_grad, tmix.rope_grad"
                     : ", tmix.score_grad")
             << "), found '" << name << "'";
    if (!seen.insert(name).second)
      return op->emitOpError() << "'" << name << "' appears more than once";
    std::optional<int64_t> headDim = q.type.getStaticSize(3);
    if (llvm::isa<RopeOp>(statement) && headDim && *headDim % 2 != 0)
      return op->emitOpError() << "rope needs an even head dim, got " << *headDim;
  }
  if (grad && !params &&
      seen.contains(ScoreOp::getOperationName()) !=
          seen.contains(ScoreGradOp::getOperationName()))
    return op->emitOpError("needs a tmix.score_grad exactly when it has a tmix.score");
  if (splitParams && !seen.contains(ScoreParamGradOp::getOperationName()) &&
      !seen.contains(RopeGradOp::getOperationName()))
    return op->emitOpError("sums params per key split, but has no tmix.score_param_grad "
                           "or tmix.rope_grad");
  if (seen.contains(RopeGradOp::getOperationName()) &&
      !seen.contains(RopeOp::getOperationName()))
    return op->emitOpError("holds a tmix.rope_grad without a tmix.rope");
  if (params && seen.contains(ScoreGradOp::getOperationName()) &&
      !(seen.contains(ScaleGradOp::getOperationName()) &&
        seen.contains(ScoreOp::getOperationName())))
    return op->emitOpError("holds a tmix.score_grad in part \"params\" only beside a "
                           "tmix.scale_grad and a tmix.score");
  return success();
}

LogicalResult AttentionOp::verify() {
  FunctionType type = getFunctionType();
  if (type.getNumInputs() < 3)
    return emitOpError() << "expects at least 3 arguments (q, k, v), got "
                         << type.getNumInputs();
  if (type.getNumResults() < 1 || type.getNumResults() > 2)
    return emitOpError() << "expects results (o) or (o, lse), got " << type.getNumResults()
                         << " results";
  if (failed(verifySignature(*this, type, getArgNames(), getArgDefaults(), getResultNames(),
                             getBody(), /*firstExtraArg=*/3)) ||
      failed(verifyOffsetDims(*this, type, /*allowed=*/std::nullopt)))
    return failure();

  // q, k, v and o: rank-4 float tensors of one element type.
  SmallVector<Role> roles;
  Type roleTypes[] = {type.getInput(0), type.getInput(1), type.getInput(2),
                      type.getResult(0)};
  // A named array: the elements of a braced temporary would die before the loop body.
  static constexpr llvm::StringLiteral roleNames[] = {"q", "k", "v", "o"};
  for (auto [name, roleType] : llvm::zip(roleNames, roleTypes)) {
    auto tensor = llvm::dyn_cast<SpecTensorType>(roleType);
    if (!tensor || tensor.getRank() != 4 || !tensor.isFloat())
      return emitOpError() << "'" << name
                           << "' must be a rank-4 !tmix.tensor of f32, f16 or bf16, got "
                           << roleType;
    if (!roles.empty() && tensor.getElementType() != roles[0].type.getElementType())
      return emitOpError() << "'" << name << "' element type " << tensor.getElementType()
                           << " does not match 'q' element type "
                           << roles[0].type.getElementType();
    roles.push_back({name, tensor});
  }
  Role q = roles[0], k = roles[1], v = roles[2], o = roles[3];
  std::optional<Role> lse;
  if (type.getNumResults() == 2) {
    auto tensor = llvm::dyn_cast<SpecTensorType>(type.getResult(1));
    if (!tensor || tensor.getRank() != 3 || !tensor.getElementType().isF32())
      return emitOpError() << "'lse' must be a rank-3 f32 !tmix.tensor, got "
                           << type.getResult(1);
    lse = Role{"lse", tensor};
  }

  // q [B, H, N, D], k [B, HK, M, D], v [B, HK, M, DV], o [B, H, N, DV], lse [B, H, N].
  if (failed(checkAgree(*this, k, 0, q, 0, "batch dim")) ||
      failed(checkAgree(*this, v, 0, q, 0, "batch dim")) ||
      failed(checkAgree(*this, o, 0, q, 0, "batch dim")) ||
      failed(checkAgree(*this, k, 3, q, 3, "head dim")) ||
      failed(checkAgree(*this, v, 1, k, 1, "head count")) ||
      failed(checkAgree(*this, v, 2, k, 2, "key length")) ||
      failed(checkAgree(*this, o, 1, q, 1, "head count")) ||
      failed(checkAgree(*this, o, 2, q, 2, "query length")) ||
      failed(checkAgree(*this, o, 3, v, 3, "value dim")))
    return failure();
  if (lse && (failed(checkAgree(*this, *lse, 0, q, 0, "batch dim")) ||
              failed(checkAgree(*this, *lse, 1, q, 1, "head count")) ||
              failed(checkAgree(*this, *lse, 2, q, 2, "query length"))))
    return failure();
  std::optional<int64_t> heads = q.type.getStaticSize(1), kvHeads = k.type.getStaticSize(1);
  if (heads && kvHeads && *heads % *kvHeads != 0)
    return emitOpError() << "'q' head count " << *heads
                         << " is not a multiple of 'k' head count " << *kvHeads;
  return verifyAttentionBody(*this, getBodyBlock(), q);
}

//===----------------------------------------------------------------------===//
// tmix.attention_grad
//===----------------------------------------------------------------------===//

/// The params `op` lists: extra float arguments of the forward (tensors or scalars),
/// two owned positions each, -1 or one of the param's dims.
static bool verifyParamList(AttentionGradOp op) {
  ArrayRef<int64_t> params = op.getParamArgs();
  ArrayRef<int64_t> owned = op.getOwnedAttr() ? op.getOwnedAttr().asArrayRef()
                                              : ArrayRef<int64_t>();
  if (params.empty() || owned.size() != 2 * params.size()) {
    op.emitOpError() << "needs two owned positions per param, got " << params.size()
                     << " params and " << owned.size() << " owned positions";
    return false;
  }
  for (auto [position, argument] : llvm::enumerate(params)) {
    if (argument < 3 || argument >= op.getNumForwardArgs()) {
      op.emitOpError() << "param " << argument
                       << " is not an extra argument of the forward (3 to "
                       << op.getNumForwardArgs() - 1 << ")";
      return false;
    }
    Type argType = op.getFunctionType().getInput(argument);
    auto tensor = llvm::dyn_cast<SpecTensorType>(argType);
    if (tensor ? !tensor.isFloat() : !llvm::isa<FloatType>(argType)) {
      op.emitOpError() << "param '" << op.getArgName(argument)
                       << "' is not a float tensor or scalar";
      return false;
    }
    unsigned rank = tensor ? tensor.getRank() : 0;
    for (int64_t slot : owned.slice(2 * position, 2))
      if (slot < -1 || slot >= static_cast<int64_t>(rank)) {
        op.emitOpError() << "owned position " << slot << " of '"
                         << op.getArgName(argument) << "' is not -1 or one of its "
                         << rank << " dims";
        return false;
      }
  }
  return true;
}

/// The partial of param `position` (of `op`'s `params`) for `splits` key splits.
static SpecTensorType paramPartialType(AttentionGradOp op, unsigned position,
                                       int64_t splits) {
  ArrayRef<int64_t> owned = op.getOwnedAttr().asArrayRef();
  FunctionType type = op.getFunctionType();
  return AttentionGradOp::getParamPartialType(
      AttentionGradOp::getParamGradType(type.getInput(op.getParamArgs()[position])),
      llvm::cast<SpecTensorType>(type.getInput(1)), splits, owned[2 * position],
      owned[2 * position + 1]);
}

/// Part "params": one f32 result per param (its dims, or [1] for a scalar); the
/// `split` params (tensors among `params`, in its order) take their partials last.
static bool verifyParams(AttentionGradOp op) {
  if (!verifyParamList(op))
    return false;
  ArrayRef<int64_t> params = op.getParamArgs();
  FunctionType type = op.getFunctionType();
  if (params.size() != type.getNumResults()) {
    op.emitOpError() << "part \"params\" needs one result per param, got "
                     << params.size() << " params and " << type.getNumResults()
                     << " results";
    return false;
  }
  for (auto [position, argument] : llvm::enumerate(params)) {
    Type expected = AttentionGradOp::getParamGradType(type.getInput(argument));
    if (type.getResult(position) != expected) {
      op.emitOpError() << "the gradient of '" << op.getArgName(argument) << "' must be "
                       << expected << ", got " << type.getResult(position);
      return false;
    }
  }
  const int64_t *next = params.begin();
  for (auto [index, argument] : llvm::enumerate(op.getSplitParams())) {
    next = std::find(next, params.end(), argument);
    if (next == params.end()) {
      op.emitOpError() << "split param " << argument
                       << " is not among its params, in their order";
      return false;
    }
    unsigned position = next++ - params.begin();
    Type partial = type.getInput(op.getParamPartialArg() + index);
    auto partialTensor = llvm::dyn_cast<SpecTensorType>(partial);
    std::optional<int64_t> splits = partialTensor && partialTensor.getRank() > 0
                                        ? partialTensor.getStaticSize(0)
                                        : std::nullopt;
    if (!splits || *splits < 1 || partial != paramPartialType(op, position, *splits)) {
      op.emitOpError() << "takes the partial of '" << op.getArgName(argument) << "' as "
                       << paramPartialType(op, position, 4) << " for 4 key splits, got "
                       << partial;
      return false;
    }
  }
  if (op.getRopeRows()) {
    for (auto [offset, name, role] :
         {std::tuple{0u, "d_rope_k", 1u}, {1u, "d_rope_q", 0u}}) {
      Type expected = AttentionGradOp::getRopeRowsType(
          llvm::cast<SpecTensorType>(type.getInput(role)));
      Type got = type.getInput(op.getRopeRowsArg() + offset);
      if (got != expected) {
        op.emitOpError() << "takes '" << name << "' as " << expected << ", got " << got;
        return false;
      }
    }
  }
  return true;
}

bool AttentionGradOp::sumsScoreParams() {
  return !getBodyBlock().getOps<ScoreParamGradOp>().empty();
}

SpecTensorType AttentionGradOp::getParamGradType(Type param) {
  MLIRContext *context = param.getContext();
  Type f32 = Float32Type::get(context);
  if (auto tensor = llvm::dyn_cast<SpecTensorType>(param))
    return SpecTensorType::get(context, tensor.getDims(), f32);
  return SpecTensorType::get(context,
                             {IntegerAttr::get(IntegerType::get(context, 64), 1)}, f32);
}

SpecTensorType AttentionGradOp::getParamPartialType(SpecTensorType param,
                                                    SpecTensorType k, int64_t splits,
                                                    int64_t ownedBatch,
                                                    int64_t ownedHead) {
  MLIRContext *context = param.getContext();
  SmallVector<Attribute> dims = {IntegerAttr::get(IntegerType::get(context, 64), splits)};
  if (ownedBatch < 0)
    dims.push_back(k.getDims()[0]);
  if (ownedHead < 0)
    dims.push_back(k.getDims()[1]);
  llvm::append_range(dims, param.getDims());
  return SpecTensorType::get(context, dims, Float32Type::get(context));
}

SpecTensorType AttentionGradOp::getQueryPartialType(SpecTensorType q, int64_t splits) {
  MLIRContext *context = q.getContext();
  ArrayRef<Attribute> qDims = q.getDims();
  SmallVector<Attribute> dims = {IntegerAttr::get(IntegerType::get(context, 64), splits),
                                 qDims[0], qDims[1], qDims[2], qDims[3]};
  return SpecTensorType::get(context, dims, Float32Type::get(context));
}

SpecTensorType AttentionGradOp::getRopeRowsType(SpecTensorType x) {
  MLIRContext *context = x.getContext();
  return SpecTensorType::get(context, x.getDims().take_front(3),
                             Float32Type::get(context));
}

/// Whether `type` is a d_q_partial of q's: f32 [S, B, H, N, D] (q's logical dims after
/// the splits), S a positive literal, stored in that order.
static bool isQueryPartial(Type type, SpecTensorType q) {
  auto partial = llvm::dyn_cast<SpecTensorType>(type);
  if (!partial || partial.getRank() != 5 || partial.isPermuted() ||
      !partial.getElementType().isF32() ||
      partial != AttentionGradOp::getQueryPartialType(
                     q, partial.getStaticSize(0).value_or(1)))
    return false;
  std::optional<int64_t> splits = partial.getStaticSize(0);
  return splits && *splits > 0;
}

LogicalResult AttentionGradOp::verify() {
  FunctionType type = getFunctionType();
  bool query = isQueryPart();
  // The query part reads d_q_partial unless it recomputes dq from the pairs.
  bool partial = !getRecomputeDq();
  bool ropeRowsIn = isParamsPart() && getRopeRows();
  unsigned least = (getLseGrad() ? 7 : 6) + (query && partial ? 1 : 0) +
                   static_cast<unsigned>(getSplitParams().size()) + (ropeRowsIn ? 2 : 0);
  if (type.getNumInputs() < least)
    return emitOpError() << "expects at least " << least
                         << " arguments (q, k, v, o, lse, d_o"
                         << (getLseGrad() ? ", d_lse" : "")
                         << (query && partial ? ", d_q_partial" : "")
                         << (getSplitAttr() ? ", the split params' partials" : "")
                         << (ropeRowsIn ? ", d_rope_k, d_rope_q" : "") << "), got "
                         << type.getNumInputs();
  if (failed(verifySignature(*this, type, getArgNames(), getArgDefaults(), getResultNames(),
                             getBody(), /*firstExtraArg=*/3)))
    return failure();
  if (!query && !isParamsPart() && getPart() != kKeyValuePart)
    return emitOpError() << "part must be \"" << kQueryPart << "\", \"" << kKeyValuePart
                         << "\" or \"" << kParamsPart << "\", got \"" << getPart() << "\"";
  if (getSplitAttr() && !isParamsPart())
    return emitOpError("has split params only in part \"params\"");
  // rope_rows: the GPUs' form (no d_q_partial to sum theta's terms into) of a rope
  // whose theta has a gradient.
  if (getRopeRows()) {
    if (isParamsPart() ? static_cast<bool>(getSplitAttr()) : !getRecomputeDq())
      return emitOpError("has rope_rows only with recompute_dq (part \"params\": "
                         "without split params)");
    if (isParamsPart() ? getBodyBlock().getOps<RopeGradOp>().empty()
                       : getBodyBlock().getOps<RopeOp>().empty())
      return emitOpError() << "has rope_rows but no "
                           << (isParamsPart() ? "tmix.rope_grad" : "tmix.rope");
  }
  // q [B, H, N, D], k [B, HK, M, D], v [B, HK, M, DV]; o and d_o [B, H, N, DV] of one
  // element type; lse [B, H, N] f32. The forward's verifier checked the rest.
  auto tensorAt = [&](unsigned index) {
    return llvm::dyn_cast<SpecTensorType>(type.getInput(index));
  };
  SpecTensorType q = tensorAt(0), k = tensorAt(1), v = tensorAt(2);
  SpecTensorType o = tensorAt(getOutputArg()), lse = tensorAt(getLseArg());
  for (auto [name, tensor] : {std::pair{"q", q}, {"k", k}, {"v", v}, {"o", o}})
    if (!tensor || tensor.getRank() != 4 || !tensor.isFloat())
      return emitOpError() << "'" << name << "' must be a rank-4 float !tmix.tensor";
  if (type.getInput(getOutputGradArg()) != o)
    return emitOpError() << "'d_o' must have o's type " << o << ", got "
                         << type.getInput(getOutputGradArg());
  if (!lse || lse.getRank() != 3 || !lse.getElementType().isF32() ||
      lse.getDims() != o.getDims().take_front(3))
    return emitOpError() << "'lse' must be an f32 !tmix.tensor of o's first three dims, got "
                         << type.getInput(getLseArg());
  if (getLseGrad() && type.getInput(getLseGradArg()) != lse)
    return emitOpError() << "'d_lse' must have lse's type " << lse << ", got "
                         << type.getInput(getLseGradArg());
  if (isParamsPart())
    return verifyParams(*this) ? verifyAttentionBody(*this, getBodyBlock(), Role{"q", q})
                               : failure();
  if ((getParamsAttr() || getOwnedAttr()) && (query || !partial))
    return emitOpError("has params only in part \"params\" and in part \"key_value\" "
                       "with d_q_partial");
  if (getParamsAttr() && !verifyParamList(*this))
    return failure();
  if (!partial) {
    SmallVector<Type> expected = query ? SmallVector<Type>{q} : SmallVector<Type>{k, v};
    if (getRopeRows())
      expected.push_back(getRopeRowsType(query ? q : k));
    if (!llvm::equal(type.getResults(), expected))
      return emitOpError() << "part \"" << getPart() << "\" with recompute_dq"
                           << (getRopeRows() ? " and rope_rows" : "") << " must produce "
                           << formatTypes(expected) << ", got "
                           << formatTypes(type.getResults());
    return verifyAttentionBody(*this, getBodyBlock(), Role{"q", q});
  }
  if (query && !isQueryPartial(type.getInput(getQueryPartialArg()), q))
    return emitOpError()
           << "part \"query\" takes d_q_partial last: an f32 !tmix.tensor of a "
              "literal count of key splits and q's dims [B, H, N, D], "
           << getQueryPartialType(q, 4) << " for 4, got "
           << type.getInput(getQueryPartialArg());
  // Part "key_value": dk, dv, d_q_partial, then its params' partials of as many splits.
  size_t numParams = getParamArgs().size();
  bool expectedTypes = query ? llvm::equal(type.getResults(), SmallVector<Type>{q})
                             : type.getNumResults() == 3 + numParams &&
                                   type.getResult(0) == k && type.getResult(1) == v &&
                                   isQueryPartial(type.getResult(2), q);
  if (!expectedTypes)
    return emitOpError() << "part \"" << getPart() << "\" must produce "
                         << (query ? formatTypes(SmallVector<Type>{q})
                                   : formatTypes(SmallVector<Type>{
                                         k, v, getQueryPartialType(q, 4)}) +
                                         " (any positive count of key splits)" +
                                         (numParams ? " and its params' partials" : ""))
                         << ", got " << formatTypes(type.getResults());
  for (unsigned position = 0; position < numParams; ++position) {
    int64_t splits = *cast<SpecTensorType>(type.getResult(2)).getStaticSize(0);
    SpecTensorType expected = paramPartialType(*this, position, splits);
    if (type.getResult(3 + position) != expected)
      return emitOpError() << "the partial of '" << getArgName(getParamArgs()[position])
                           << "' must be " << expected << ", got "
                           << type.getResult(3 + position);
  }
  return verifyAttentionBody(*this, getBodyBlock(), Role{"q", q});
}

//===----------------------------------------------------------------------===//
// tmix.recurrence
//===----------------------------------------------------------------------===//

/// The index of the time symbol among `type`'s dims, if it is a tensor that has it.
static std::optional<unsigned> findTimeDim(Type type, StringRef timeSymbol) {
  auto tensor = llvm::dyn_cast<SpecTensorType>(type);
  if (!tensor)
    return std::nullopt;
  for (unsigned index = 0; index < tensor.getRank(); ++index)
    if (tensor.getSymbol(index) == timeSymbol)
      return index;
  return std::nullopt;
}

SmallVector<StateOp, 4> RecurrenceOp::getStateOps() {
  return llvm::to_vector(getBodyBlock().getOps<StateOp>());
}

StepOp RecurrenceOp::getStepOp() {
  auto steps = getBodyBlock().getOps<StepOp>();
  return steps.empty() ? StepOp() : *steps.begin();
}

FinalOp RecurrenceOp::getFinalOp(unsigned index) {
  for (FinalOp final : getBodyBlock().getOps<FinalOp>())
    if (StringAttr result = final.getResultAttr(); result && result == getResultNames()[index])
      return final;
  return {};
}

SmallVector<unsigned> RecurrenceOp::getPerStepResults() {
  SmallVector<unsigned> indices;
  for (unsigned index = 0; index < getNumSpecResults(); ++index)
    if (!getFinalOp(index))
      indices.push_back(index);
  return indices;
}

SmallVector<Attribute> RecurrenceOp::getParallelDims() {
  SmallVector<unsigned> perStep = getPerStepResults();
  if (perStep.empty())
    return {};
  Type type = getSpecResultTypes()[perStep.front()];
  std::optional<unsigned> time = findTimeDim(type, getTimeSymbol());
  if (!time)
    return {};
  SmallVector<Attribute> dims;
  if (StringAttr sequences = getSequenceDim())
    dims.push_back(sequences);
  llvm::append_range(dims, llvm::cast<SpecTensorType>(type).getDims().take_front(*time));
  return dims;
}

std::optional<unsigned> RecurrenceOp::getOffsetsArgument() {
  StringAttr offsets = getOffsetsAttr();
  if (!offsets)
    return std::nullopt;
  auto found = llvm::find(getArgNames(), offsets);
  if (found == getArgNames().end())
    return std::nullopt;
  return found - getArgNames().begin();
}

StringAttr RecurrenceOp::getSequenceDim() {
  std::optional<unsigned> offsets = getOffsetsArgument();
  if (!offsets)
    return {};
  auto type = llvm::dyn_cast<SpecTensorType>(getSpecArgTypes()[*offsets]);
  if (!type || type.getRank() != 1)
    return {};
  auto spelling = llvm::dyn_cast<StringAttr>(type.getDims()[0]);
  std::optional<SymbolicDim> dim =
      spelling ? splitSymbolicDim(spelling.getValue()) : std::nullopt;
  if (!dim || dim->offset != 1)
    return {};
  return StringAttr::get(getContext(), dim->symbol);
}

Attribute RecurrenceOp::resolveGroup(Attribute dim) {
  auto symbol = llvm::dyn_cast<StringAttr>(dim);
  if (!symbol || !getGroupsAttr())
    return dim;
  if (auto grouped = getGroupsAttr().getAs<StringAttr>(symbol.getValue()))
    return grouped;
  return dim;
}

std::optional<unsigned> RecurrenceOp::getTimeDim(Type type) {
  return findTimeDim(type, getTimeSymbol());
}

Type RecurrenceOp::getPerStepType(unsigned index) {
  Type type = getSpecResultTypes()[index];
  std::optional<unsigned> time = findTimeDim(type, getTimeSymbol());
  if (!time)
    return {};
  return getF32Value(getContext(),
                     llvm::cast<SpecTensorType>(type).getDims().drop_front(*time + 1));
}

static LogicalResult verifyGroups(RecurrenceOp op);
static LogicalResult verifyOffsets(RecurrenceOp op);

LogicalResult RecurrenceOp::verify() {
  // The groups and offsets first: the slices of the body read their dims through them.
  if (failed(verifySignature(*this, getFunctionType(), getArgNames(), getArgDefaults(),
                             getResultNames(), getBody(), /*firstExtraArg=*/0)) ||
      failed(verifyGroups(*this)) || failed(verifyOffsets(*this)))
    return failure();
  return verifyOffsetDims(*this, getFunctionType(), getOffsetsArgument());
}

/// The body's shape: states, then one step, then finals naming a result and a state.
static LogicalResult verifyRecurrenceBody(RecurrenceOp op) {
  llvm::StringSet<> states;
  unsigned numSteps = 0;
  for (Operation &statement : op.getBodyBlock()) {
    if (auto state = llvm::dyn_cast<StateOp>(statement)) {
      if (numSteps)
        return op.emitOpError() << "tmix.state '" << state.getSymName()
                                << "' must come before tmix.step";
      if (!states.insert(state.getSymName()).second)
        return op.emitOpError() << "state '" << state.getSymName() << "' is declared twice";
    } else if (llvm::isa<StepOp>(statement)) {
      ++numSteps;
    } else if (!llvm::isa<FinalOp>(statement)) {
      return op.emitOpError() << "body may only hold tmix.state, tmix.step and "
                                 "tmix.final, found '"
                              << statement.getName() << "'";
    }
  }
  if (numSteps != 1)
    return op.emitOpError() << "expects exactly one tmix.step, found " << numSteps;

  llvm::StringSet<> finalResults;
  for (FinalOp final : op.getBodyBlock().getOps<FinalOp>()) {
    if (!llvm::is_contained(op.getResultNames(), final.getResultAttr()))
      return op.emitOpError() << "tmix.final names '" << final.getResult()
                              << "', which is not a result";
    if (!states.contains(final.getState()))
      return op.emitOpError() << "tmix.final reads '" << final.getState()
                              << "', which is not a declared state";
    if (!finalResults.insert(final.getResult()).second)
      return op.emitOpError() << "result '" << final.getResult()
                              << "' is produced by more than one tmix.final";
  }
  return success();
}

/// Per-step outputs: each has the time dimension, and all share the parallel dims.
static LogicalResult verifyPerStepOutputs(RecurrenceOp op) {
  SmallVector<unsigned> perStep = op.getPerStepResults();
  if (perStep.empty())
    return op.emitOpError("needs at least one per-step output (a result that is not a "
                          "tmix.final)");
  SmallVector<Attribute> parallel;
  for (unsigned index : perStep) {
    Type type = op.getSpecResultTypes()[index];
    std::optional<unsigned> time = findTimeDim(type, op.getTimeSymbol());
    if (!time)
      return op.emitOpError() << "per-step output '" << op.getResultName(index)
                              << "' has no time dimension '" << op.getTimeSymbol() << "'";
    ArrayRef<Attribute> dims = llvm::cast<SpecTensorType>(type).getDims().take_front(*time);
    if (index == perStep.front())
      parallel.assign(dims.begin(), dims.end());
    else if (dims != ArrayRef<Attribute>(parallel))
      return op.emitOpError() << "per-step output '" << op.getResultName(index)
                              << "' has parallel dims " << formatDims(dims) << " but '"
                              << op.getResultName(perStep.front()) << "' has "
                              << formatDims(parallel);
  }
  return success();
}

/// Whether `dims` are the parallel dims then `stateDims`, where a parallel dim that is
/// the literal 1 may be left out (fla's [1, T, H, K] packing beside [N, H, K, V]
/// states: the same data).
static bool isParallelThenState(ArrayRef<Attribute> dims, ArrayRef<Attribute> parallel,
                                ArrayRef<Attribute> stateDims) {
  if (dims.size() < stateDims.size() || dims.take_back(stateDims.size()) != stateDims)
    return false;
  ArrayRef<Attribute> lead = dims.drop_back(stateDims.size());
  size_t next = 0;
  for (Attribute dim : parallel) {
    if (next < lead.size() && lead[next] == dim)
      ++next;
    else if (auto literal = llvm::dyn_cast<IntegerAttr>(dim); !literal || literal.getInt() != 1)
      return false;
  }
  return next == lead.size();
}

/// The dims of a state value: its tensor dims, none for a scalar.
static ArrayRef<Attribute> getStateDims(StateOp state) {
  if (auto tensor = llvm::dyn_cast<SpecTensorType>(state.getType()))
    return tensor.getDims();
  return {};
}

/// Inits and finals are the parallel dims followed by the state's dims.
static LogicalResult verifyStatesAndFinals(RecurrenceOp op) {
  SmallVector<Attribute> parallel = op.getParallelDims();
  llvm::StringMap<StateOp> states;
  for (StateOp state : op.getStateOps()) {
    states[state.getSymName()] = state;
    SmallVector<Attribute> dims(parallel);
    llvm::append_range(dims, getStateDims(state));
    if (!state.getInit())
      continue;
    Type initType = state.getInit().getType();
    auto tensor = llvm::dyn_cast<SpecTensorType>(initType);
    ArrayRef<Attribute> initDims = tensor ? tensor.getDims() : ArrayRef<Attribute>();
    if (!isParallelThenState(initDims, parallel, getStateDims(state)))
      return op.emitOpError() << "init of state '" << state.getSymName() << "' must have dims "
                              << formatDims(dims)
                              << " (the parallel dims then the state's), got " << initType;
    Type element = tensor ? tensor.getElementType() : initType;
    if (!llvm::isa<FloatType>(element))
      return op.emitOpError() << "init of state '" << state.getSymName()
                              << "' must have a float element type, got " << element;
  }
  for (FinalOp final : op.getBodyBlock().getOps<FinalOp>()) {
    unsigned index = llvm::find(op.getResultNames(), final.getResultAttr()) -
                     op.getResultNames().begin();
    SmallVector<Attribute> dims(parallel);
    ArrayRef<Attribute> stateDims = getStateDims(states[final.getState()]);
    llvm::append_range(dims, stateDims);
    Type expected = getF32Value(op.getContext(), dims);
    // The logical type: a final state may be stored in another order (a layout).
    auto actual = llvm::dyn_cast<SpecTensorType>(op.getSpecResultTypes()[index]);
    if (!actual || !actual.getElementType().isF32() ||
        !isParallelThenState(actual.getDims(), parallel, stateDims))
      return op.emitOpError() << "final result '" << final.getResult() << "' must be "
                              << expected << " (the parallel dims then the state's), got "
                              << op.getSpecResultTypes()[index];
  }
  return success();
}

/// The step maps (t, states...) to (new states..., per-step outputs...).
static LogicalResult verifyStep(RecurrenceOp op) {
  SmallVector<Type> arguments{IntegerType::get(op.getContext(), 64)};
  SmallVector<Type> yields;
  for (StateOp state : op.getStateOps()) {
    arguments.push_back(state.getType());
    yields.push_back(state.getType());
  }
  for (unsigned index : op.getPerStepResults())
    yields.push_back(op.getPerStepType(index));
  StepOp step = op.getStepOp();
  return verifyRegionSignature(step, step.getBody(), arguments, yields);
}

/// Each group symbol is a size symbol that is no parallel or time dim, and groups one
/// parallel dim.
static LogicalResult verifyGroups(RecurrenceOp op) {
  DictionaryAttr groups = op.getGroupsAttr();
  if (!groups)
    return success();
  SmallVector<Attribute> parallel = op.getParallelDims();
  for (NamedAttribute group : groups) {
    auto grouped = llvm::dyn_cast<StringAttr>(group.getValue());
    if (!grouped || !llvm::is_contained(parallel, Attribute(grouped)))
      return op.emitOpError() << "group '" << group.getName().getValue()
                              << "' must name one of the parallel dims "
                              << formatDims(parallel) << ", got " << group.getValue();
    if (llvm::is_contained(parallel, Attribute(group.getName())) ||
        group.getName().getValue() == op.getTimeSymbol())
      return op.emitOpError() << "group '" << group.getName().getValue()
                              << "' is a parallel or time dim itself";
  }
  return success();
}

/// Packed sequences: `offsets` names an i32 or i64 [S + 1] argument; S is a new dim,
/// and no tensor that has the time dimension (which holds every sequence) has it.
static LogicalResult verifyOffsets(RecurrenceOp op) {
  StringAttr offsets = op.getOffsetsAttr();
  if (!offsets)
    return success();
  std::optional<unsigned> index = op.getOffsetsArgument();
  if (!index)
    return op.emitOpError() << "offsets names '" << offsets.getValue()
                            << "', which is not an argument";
  Type type = op.getSpecArgTypes()[*index];
  auto tensor = llvm::dyn_cast<SpecTensorType>(type);
  StringAttr sequences = op.getSequenceDim();
  if (!sequences || !tensor.getElementType().isSignlessInteger() ||
      tensor.getElementType().isInteger(1))
    return op.emitOpError() << "offsets '" << offsets.getValue()
                            << "' must be an i32 or i64 tensor [S + 1] (the starts of S "
                               "sequences, then their end), got "
                            << type;
  if (sequences.getValue() == op.getTimeSymbol())
    return op.emitOpError() << "the sequence dim '" << sequences.getValue()
                            << "' is the time dim itself";
  if (DictionaryAttr groups = op.getGroupsAttr())
    for (NamedAttribute group : groups)
      if (group.getName() == sequences || group.getValue() == sequences)
        return op.emitOpError() << "the sequence dim '" << sequences.getValue()
                                << "' can't be in a head group";
  auto check = [&](Type type, StringRef role, StringRef name) -> LogicalResult {
    auto tensor = llvm::dyn_cast<SpecTensorType>(type);
    if (!tensor || !findTimeDim(tensor, op.getTimeSymbol()) ||
        !llvm::is_contained(tensor.getDims(), Attribute(sequences)))
      return success();
    return op.emitOpError() << role << " '" << name << "' " << formatDims(tensor.getDims())
                            << " has the time dim '" << op.getTimeSymbol()
                            << "', which holds every sequence, and the sequence dim '"
                            << sequences.getValue() << "' too";
  };
  for (auto [position, argType] : llvm::enumerate(op.getSpecArgTypes()))
    if (failed(check(argType, "argument", op.getArgName(position))))
      return failure();
  for (auto [position, resultType] : llvm::enumerate(op.getSpecResultTypes()))
    if (failed(check(resultType, "result", op.getResultName(position))))
      return failure();
  return success();
}

LogicalResult RecurrenceOp::verifyRegions() {
  if (failed(verifyRecurrenceBody(*this)) || failed(verifyPerStepOutputs(*this)) ||
      failed(verifyStatesAndFinals(*this)))
    return failure();
  return verifyStep(*this);
}

//===----------------------------------------------------------------------===//
// Statement ops
//===----------------------------------------------------------------------===//

void ScaleOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void MaskOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void ScoreOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void SinkOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void ScoreGradOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void ScoreParamGradOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void SinkGradOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void ScaleGradOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void RopeOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void RopeGradOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }
void StepOp::build(OpBuilder &, OperationState &state) { state.addRegion(); }

/// The index names of attention statement regions: b h i j, then s for score, then g
/// for score_grad.
static void nameIndexArguments(Region &region, OpAsmSetValueNameFn setNameFn) {
  static constexpr StringRef kNames[] = {"b", "h", "i", "j", "s", "g"};
  if (region.empty())
    return;
  for (auto [arg, name] : llvm::zip(region.front().getArguments(), kNames))
    setNameFn(arg, name);
}

void MaskOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameIndexArguments(region, setNameFn);
}
void ScoreOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameIndexArguments(region, setNameFn);
}
void SinkOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameIndexArguments(region, setNameFn);
}
void ScoreGradOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  nameIndexArguments(region, setNameFn);
}
void ScoreParamGradOp::getAsmBlockArgumentNames(Region &region,
                                                OpAsmSetValueNameFn setNameFn) {
  nameIndexArguments(region, setNameFn);
}
/// b, h, then g.
void SinkGradOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  static constexpr StringRef kNames[] = {"b", "h", "g"};
  if (region.empty())
    return;
  for (auto [arg, name] : llvm::zip(region.front().getArguments(), kNames))
    setNameFn(arg, name);
}

/// g.
void ScaleGradOp::getAsmBlockArgumentNames(Region &region,
                                           OpAsmSetValueNameFn setNameFn) {
  if (!region.empty() && region.front().getNumArguments() == 1)
    setNameFn(region.front().getArgument(0), "g");
}

/// g.
void RopeGradOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  if (!region.empty() && region.front().getNumArguments() == 1)
    setNameFn(region.front().getArgument(0), "g");
}

/// The step's arguments: t, then the state names.
void StepOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  auto recurrence = llvm::dyn_cast_or_null<RecurrenceOp>((*this)->getParentOp());
  if (region.empty() || region.front().getNumArguments() == 0 || !recurrence)
    return;
  setNameFn(region.front().getArgument(0), "t");
  for (auto [arg, state] :
       llvm::zip(region.front().getArguments().drop_front(), recurrence.getStateOps()))
    if (StringAttr name = state.getSymNameAttr(); name && !name.getValue().empty())
      setNameFn(arg, name.getValue());
}

LogicalResult ScaleOp::verify() {
  Builder builder(getContext());
  return verifyRegionSignature(*this, getBody(), {}, {builder.getF32Type()});
}

LogicalResult MaskOp::verify() {
  Builder builder(getContext());
  SmallVector<Type> indices(4, builder.getI64Type());
  return verifyRegionSignature(*this, getBody(), indices, {builder.getI1Type()});
}

LogicalResult ScoreOp::verify() {
  Builder builder(getContext());
  SmallVector<Type> arguments(4, builder.getI64Type());
  arguments.push_back(builder.getF32Type());
  return verifyRegionSignature(*this, getBody(), arguments, {builder.getF32Type()});
}

LogicalResult ScoreGradOp::verify() {
  Builder builder(getContext());
  SmallVector<Type> arguments(4, builder.getI64Type());
  arguments.append(2, builder.getF32Type());
  return verifyRegionSignature(*this, getBody(), arguments, {builder.getF32Type()});
}

LogicalResult ScoreParamGradOp::verify() {
  Builder builder(getContext());
  SmallVector<Type> arguments(4, builder.getI64Type());
  arguments.append(2, builder.getF32Type());
  return verifyRegionSignature(*this, getBody(), arguments, {});
}

LogicalResult SinkGradOp::verify() {
  Builder builder(getContext());
  return verifyRegionSignature(
      *this, getBody(), {builder.getI64Type(), builder.getI64Type(), builder.getF32Type()},
      {});
}

LogicalResult ScaleGradOp::verify() {
  Builder builder(getContext());
  return verifyRegionSignature(*this, getBody(), {builder.getF32Type()}, {});
}

LogicalResult RopeGradOp::verify() {
  Builder builder(getContext());
  return verifyRegionSignature(*this, getBody(), {builder.getF32Type()}, {});
}

LogicalResult SinkOp::verify() {
  Builder builder(getContext());
  SmallVector<Type> indices(2, builder.getI64Type());
  return verifyRegionSignature(*this, getBody(), indices, {builder.getF32Type()});
}

LogicalResult RopeOp::verify() {
  Builder builder(getContext());
  return verifyRegionSignature(*this, getBody(), {}, {builder.getF32Type()});
}

LogicalResult StateOp::verify() {
  Type type = getType();
  auto tensor = llvm::dyn_cast<SpecTensorType>(type);
  if (!(tensor ? tensor.getElementType().isF32() : type.isF32()))
    return emitOpError() << "state type must be f32 or an f32 !tmix.tensor, got " << type;
  return success();
}

LogicalResult ForwardStateOp::verify() {
  auto recurrence = (*this)->getParentOfType<RecurrenceOp>();
  if (!recurrence || !recurrence.getForwardAttr())
    return emitOpError() << "reads a forward state, so its recurrence must be the adjoint "
                            "of one (`forward \"X\"`)";
  Type type = getType();
  auto tensor = llvm::dyn_cast<SpecTensorType>(type);
  if (!(tensor ? tensor.getElementType().isF32() : type.isF32()))
    return emitOpError() << "state type must be f32 or an f32 !tmix.tensor, got " << type;
  return success();
}
