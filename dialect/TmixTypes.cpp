//===- TmixTypes.cpp - Types of the tmix dialect --------------------------===//
//
// Parses, prints and verifies !tmix.tensor<[B, H, N, 128], bf16>.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixTypes.h"

#include "dialect/DimList.h"
#include "dialect/TmixDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tmix;

#define GET_TYPEDEF_CLASSES
#include "dialect/TmixTypes.cpp.inc"

void TmixDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/TmixTypes.cpp.inc"
      >();
}

bool mlir::tmix::isSpecScalarType(Type type) {
  return type.isF32() || type.isF16() || type.isBF16() || type.isInteger(32) ||
         type.isInteger(64) || type.isInteger(1);
}

bool mlir::tmix::isSizeSymbolName(StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

ParseResult mlir::tmix::parseDimList(AsmParser &parser, SmallVectorImpl<Attribute> &dims,
                                     StringRef context) {
  MLIRContext *ctx = parser.getContext();
  auto parseDim = [&]() -> ParseResult {
    int64_t size;
    OptionalParseResult integer = parser.parseOptionalInteger(size);
    if (integer.has_value()) {
      if (failed(*integer))
        return failure();
      dims.push_back(IntegerAttr::get(IntegerType::get(ctx, 64), size));
      return success();
    }
    StringRef symbol;
    if (parser.parseKeyword(&symbol))
      return failure();
    int64_t offset = 0;
    if (succeeded(parser.parseOptionalPlus())) {
      SMLoc at = parser.getCurrentLocation();
      if (parser.parseInteger(offset))
        return failure();
      if (offset <= 0)
        return parser.emitError(at, "the offset of a dimension must be positive");
    }
    dims.push_back(StringAttr::get(ctx, symbolicDimSpelling(symbol, offset)));
    return success();
  };
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseDim, context);
}

void mlir::tmix::printDimList(raw_ostream &os, ArrayRef<Attribute> dims) {
  os << "[";
  llvm::interleaveComma(dims, os, [&](Attribute dim) {
    if (auto symbol = llvm::dyn_cast<StringAttr>(dim))
      os << symbol.getValue();
    else
      os << llvm::cast<IntegerAttr>(dim).getInt();
  });
  os << "]";
}

LogicalResult mlir::tmix::verifyDimList(function_ref<InFlightDiagnostic()> emitError,
                                        ArrayRef<Attribute> dims) {
  for (auto [index, dim] : llvm::enumerate(dims)) {
    // Only builders can make other attributes; the parser makes i64s and strings.
    auto size = llvm::dyn_cast<IntegerAttr>(dim);
    auto symbol = llvm::dyn_cast<StringAttr>(dim);
    if ((!size || !size.getType().isInteger(64)) && !symbol)
      return emitError() << "dimension #" << index
                         << " must be an i64 integer or a size symbol, got " << dim;
    if (size) {
      if (size.getInt() <= 0)
        return emitError() << "dimension #" << index << " is " << size.getInt()
                           << "; sizes must be positive";
      continue;
    }
    std::optional<SymbolicDim> split = splitSymbolicDim(symbol.getValue());
    if (!split)
      return emitError() << "dimension #" << index << " '" << symbol.getValue()
                         << "' is not a size symbol (an identifier, or one plus a "
                            "positive integer)";
  }
  return success();
}

std::optional<SymbolicDim> mlir::tmix::splitSymbolicDim(StringRef spelling) {
  auto [symbol, rest] = spelling.split(" + ");
  if (!isSizeSymbolName(symbol))
    return std::nullopt;
  if (rest.empty())
    return spelling.contains('+') ? std::nullopt
                                  : std::optional<SymbolicDim>(SymbolicDim{symbol, 0});
  int64_t offset = 0;
  // Canonical digits only (no sign, no leading zero), so that one dim has one spelling.
  if (rest.getAsInteger(10, offset) || offset <= 0 || rest.front() == '0' ||
      !llvm::all_of(rest, llvm::isDigit))
    return std::nullopt;
  return SymbolicDim{symbol, offset};
}

std::string mlir::tmix::symbolicDimSpelling(StringRef symbol, int64_t offset) {
  return offset == 0 ? symbol.str() : (symbol + " + " + Twine(offset)).str();
}

/// tensor-type ::= `<` dim-list `,` element-type (`,` `layout` `[` int-list `]`)? `>`
Type SpecTensorType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<Attribute> dims;
  SmallVector<int64_t> layout;
  Type elementType;
  if (parser.parseLess() ||
      parseDimList(parser, dims, " in a !tmix.tensor dimension list") ||
      parser.parseComma() || parser.parseType(elementType))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    auto parsePosition = [&]() -> ParseResult {
      return parser.parseInteger(layout.emplace_back());
    };
    if (parser.parseKeyword("layout") ||
        parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parsePosition,
                                       " in a !tmix.tensor layout"))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(), dims,
                    elementType, layout);
}

void SpecTensorType::print(AsmPrinter &printer) const {
  printer << "<";
  printDimList(printer.getStream(), getDims());
  printer << ", " << getElementType();
  if (isPermuted()) {
    printer << ", layout [";
    llvm::interleaveComma(getLayout(), printer);
    printer << "]";
  }
  printer << ">";
}

unsigned SpecTensorType::getLogicalDim(unsigned position) const {
  return isPermuted() ? getLayout()[position] : position;
}

/// A layout is a permutation of the dims that is not the identity (written as no
/// layout, so that one tensor has one type).
static LogicalResult verifyLayout(function_ref<InFlightDiagnostic()> emitError,
                                  size_t rank, ArrayRef<int64_t> layout) {
  if (layout.empty())
    return success();
  if (layout.size() != rank)
    return emitError() << "layout has " << layout.size() << " positions for " << rank
                       << " dimensions";
  SmallVector<bool> seen(rank, false);
  for (int64_t dim : layout) {
    if (dim < 0 || dim >= static_cast<int64_t>(rank) || seen[dim])
      return emitError() << "layout must be a permutation of 0.." << rank - 1;
    seen[dim] = true;
  }
  if (llvm::equal(layout, llvm::seq<int64_t>(0, rank)))
    return emitError() << "an identity layout is written as none";
  return success();
}

LogicalResult SpecTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                                     ArrayRef<Attribute> dims, Type elementType,
                                     ArrayRef<int64_t> layout) {
  if (dims.empty())
    return emitError() << "!tmix.tensor needs at least one dimension (use a scalar type "
                          "for rank 0)";
  if (failed(verifyDimList(emitError, dims)))
    return failure();
  if (!isSpecScalarType(elementType))
    return emitError() << "element type must be one of f32 f16 bf16 i32 i64 i1, got "
                       << elementType;
  return verifyLayout(emitError, dims.size(), layout);
}

unsigned SpecTensorType::getRank() const { return getDims().size(); }

std::optional<int64_t> SpecTensorType::getStaticSize(unsigned index) const {
  if (auto size = llvm::dyn_cast<IntegerAttr>(getDims()[index]))
    return size.getInt();
  return std::nullopt;
}

StringRef SpecTensorType::getSymbol(unsigned index) const {
  if (auto symbol = llvm::dyn_cast<StringAttr>(getDims()[index]))
    if (std::optional<SymbolicDim> split = splitSymbolicDim(symbol.getValue()))
      return split->symbol;
  return {};
}

bool SpecTensorType::isFloat() const {
  Type type = getElementType();
  return type.isF32() || type.isF16() || type.isBF16();
}
