//===- TmixAttrs.cpp - Attributes of the tmix dialect ---------------------===//
//
// Registers, parses, prints and verifies the schedule and kernel-ABI attributes.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixAttrs.h"

#include "dialect/ScheduleBounds.h"
#include "dialect/TmixDialect.h"
#include "dialect/TmixTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tmix;

#define GET_ATTRDEF_CLASSES
#include "dialect/TmixAttrs.cpp.inc"

void TmixDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/TmixAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

/// Checks `value` of the parameter `key` against its range (ScheduleBounds.h); 0 is
/// allowed where `unused` (a parameter the target does not use).
static LogicalResult verifyRange(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef key, int64_t value, bool unused = false) {
  if (unused && value == 0)
    return success();
  std::string error = scheduleRangeError(*scheduleRange(key), value);
  if (error.empty())
    return success();
  return emitError() << "schedule " << key << "=" << value << ": " << error;
}

LogicalResult
AttentionScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t blockM,
                              int64_t blockN, int64_t lanes, int64_t vectorRegisters,
                              int64_t warps, int64_t stages) {
  if (failed(verifyRange(emitError, "block_m", blockM)) ||
      failed(verifyRange(emitError, "block_n", blockN)) ||
      failed(verifyRange(emitError, "lanes", lanes, /*unused=*/true)) ||
      failed(verifyRange(emitError, "vector_registers", vectorRegisters, true)) ||
      failed(verifyRange(emitError, "warps", warps, true)) ||
      failed(verifyRange(emitError, "stages", stages, true)))
    return failure();
  // The lane vectors of a query tile are unrolled in every micro-kernel step.
  if (lanes > 0)
    if (std::string error = rowVectorsError(blockM, lanes); !error.empty())
      return emitError() << "schedule " << error;
  return success();
}

LogicalResult RecurrenceScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                             StringRef form, int64_t chunk,
                                             int64_t chunkedMinSteps) {
  if (!llvm::is_contained(kRecurrenceForms, form))
    return emitError() << "unknown recurrence form '" << form
                       << "' (expected auto, chunked or recurrent)";
  if (failed(verifyRange(emitError, "chunk", chunk)) ||
      failed(verifyRange(emitError, "chunked_min_steps", chunkedMinSteps)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Kernel ABI
//===----------------------------------------------------------------------===//

namespace limits = mlir::tmix::kernel_abi_limits;

/// grid-dim-body ::= dim `:` tile, dim ::= integer-literal | size-symbol
static GridDimAttr parseGridDimBody(AsmParser &parser) {
  MLIRContext *context = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  Attribute dim;
  int64_t size = 0;
  OptionalParseResult integer = parser.parseOptionalInteger(size);
  if (integer.has_value()) {
    if (failed(*integer))
      return {};
    dim = IntegerAttr::get(IntegerType::get(context, 64), size);
  } else {
    std::string symbol;
    if (parser.parseKeywordOrString(&symbol))
      return {};
    dim = StringAttr::get(context, symbol);
  }
  int64_t tile = 0;
  if (parser.parseColon() || parser.parseInteger(tile))
    return {};
  return GridDimAttr::getChecked([&] { return parser.emitError(loc); }, context, dim,
                                 tile);
}

static void printGridDimBody(AsmPrinter &printer, GridDimAttr dim) {
  if (auto symbol = dyn_cast<StringAttr>(dim.getDim()))
    printer.printKeywordOrString(symbol.getValue());
  else
    printer << cast<IntegerAttr>(dim.getDim()).getInt();
  printer << ":" << dim.getTile();
}

/// grid-dim ::= `<` grid-dim-body `>`
Attribute GridDimAttr::parse(AsmParser &parser, Type) {
  GridDimAttr dim;
  if (parser.parseLess() || !(dim = parseGridDimBody(parser)) || parser.parseGreater())
    return {};
  return dim;
}

void GridDimAttr::print(AsmPrinter &printer) const {
  printer << "<";
  printGridDimBody(printer, *this);
  printer << ">";
}

LogicalResult GridDimAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  Attribute dim, int64_t tile) {
  auto size = dyn_cast_or_null<IntegerAttr>(dim);
  if ((!size || !size.getType().isInteger(64)) && !isa_and_nonnull<StringAttr>(dim))
    return emitError() << "grid dimension must be an i64 size or a size symbol, got "
                       << dim;
  if (size && (size.getInt() < 1 || size.getInt() > limits::kMaxLiteral))
    return emitError() << "grid dimension size must be in 1.." << limits::kMaxLiteral
                       << ", got " << size.getInt();
  if (tile < 1 || tile > limits::kMaxLiteral)
    return emitError() << "grid tile must be in 1.." << limits::kMaxLiteral << ", got "
                       << tile;
  return success();
}

LogicalResult TensorMapAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                    int64_t arg, int64_t boxColumns, int64_t boxRows,
                                    int64_t swizzle) {
  if (arg < 0)
    return emitError() << "tensor map argument must not be negative, got " << arg;
  if (boxColumns < 1 || boxColumns > limits::kMaxBoxDim || boxRows < 1 ||
      boxRows > limits::kMaxBoxDim)
    return emitError() << "tensor map box must be in 1.." << limits::kMaxBoxDim
                       << " along each dimension, got [" << boxColumns << ", " << boxRows
                       << "]";
  // The swizzle modes of cuTensorMapEncodeTiled (0: none).
  if (!llvm::is_contained({0, 32, 64, 128}, swizzle))
    return emitError() << "tensor map swizzle must be 0, 32, 64 or 128 bytes, got "
                       << swizzle;
  return success();
}

/// kernel ::= `<` `sizes` `=` `[` symbols `]` `,` `grid` `=` `[` grid-dim-bodies `]`
///            (`,` `threads` `=` integer)? (`,` `shared_bytes` `=` integer)?
///            (`,` `specialized` `=` `{` (symbol `=` integer),* `}`)?
///            (`,` `tensor_maps` `=` `[` tensor-map,* `]`)? `>`
Attribute KernelAttr::parse(AsmParser &parser, Type) {
  MLIRContext *context = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<StringAttr> sizes;
  SmallVector<GridDimAttr> grid;
  std::optional<int64_t> threads;
  int64_t sharedBytes = 0;
  SmallVector<NamedAttribute> specialized;
  SmallVector<TensorMapAttr> tensorMaps;
  int64_t workspaceWords = 0;
  SmallVector<StringAttr> workspacePer;

  // `[A, "B", ...]`: size symbols, bare or quoted, into `symbols`.
  auto parseSymbols = [&](SmallVectorImpl<StringAttr> &symbols) {
    return parser.parseCommaSeparatedList(
        AsmParser::Delimiter::Square, [&]() -> ParseResult {
          std::string symbol;
          if (parser.parseKeywordOrString(&symbol))
            return failure();
          symbols.push_back(StringAttr::get(context, symbol));
          return success();
        });
  };
  auto parseGridDim = [&]() -> ParseResult {
    GridDimAttr dim = parseGridDimBody(parser);
    if (!dim)
      return failure();
    grid.push_back(dim);
    return success();
  };
  auto parseSpecialized = [&]() -> ParseResult {
    SMLoc entryLoc = parser.getCurrentLocation();
    std::string symbol;
    int64_t value = 0;
    if (parser.parseKeywordOrString(&symbol) || parser.parseEqual() ||
        parser.parseInteger(value))
      return failure();
    auto name = StringAttr::get(context, symbol);
    if (llvm::any_of(specialized,
                     [&](NamedAttribute entry) { return entry.getName() == name; }))
      return parser.emitError(entryLoc)
             << "specialized size '" << symbol << "' appears twice";
    specialized.emplace_back(name,
                             IntegerAttr::get(IntegerType::get(context, 64), value));
    return success();
  };
  auto parseTensorMap = [&]() -> ParseResult {
    TensorMapAttr map;
    if (parser.parseAttribute(map))
      return failure();
    tensorMaps.push_back(map);
    return success();
  };

  if (parser.parseLess() || parser.parseKeyword("sizes") || parser.parseEqual() ||
      parseSymbols(sizes) || parser.parseComma() || parser.parseKeyword("grid") ||
      parser.parseEqual() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseGridDim))
    return {};
  // The GPU launch parts, each optional, in their printed order.
  if (succeeded(parser.parseOptionalComma())) {
    bool more = true;
    auto next = [&] { more = succeeded(parser.parseOptionalComma()); };
    if (succeeded(parser.parseOptionalKeyword("threads"))) {
      threads = 0;
      if (parser.parseEqual() || parser.parseInteger(*threads))
        return {};
      next();
    }
    if (more && succeeded(parser.parseOptionalKeyword("shared_bytes"))) {
      if (parser.parseEqual() || parser.parseInteger(sharedBytes))
        return {};
      next();
    }
    if (more && succeeded(parser.parseOptionalKeyword("specialized"))) {
      if (parser.parseEqual() ||
          parser.parseCommaSeparatedList(AsmParser::Delimiter::Braces, parseSpecialized))
        return {};
      next();
    }
    if (more && succeeded(parser.parseOptionalKeyword("tensor_maps"))) {
      if (parser.parseEqual() ||
          parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseTensorMap))
        return {};
      next();
    }
    if (more && (parser.parseKeyword("workspace") || parser.parseEqual() ||
                 parser.parseInteger(workspaceWords)))
      return {};
    if (more && succeeded(parser.parseOptionalKeyword("per")) &&
        parseSymbols(workspacePer))
      return {};
  }
  if (parser.parseGreater())
    return {};
  DictionaryAttr specializedAttr =
      specialized.empty() ? DictionaryAttr() : DictionaryAttr::get(context, specialized);
  return getChecked([&] { return parser.emitError(loc); }, context, sizes, grid, threads,
                    sharedBytes, specializedAttr, tensorMaps, workspaceWords,
                    workspacePer);
}

void KernelAttr::print(AsmPrinter &printer) const {
  auto printSymbols = [&](ArrayRef<StringAttr> symbols) {
    printer << "[";
    llvm::interleaveComma(symbols, printer, [&](StringAttr symbol) {
      printer.printKeywordOrString(symbol);
    });
    printer << "]";
  };
  printer << "<sizes = ";
  printSymbols(getSizes());
  printer << ", grid = [";
  llvm::interleaveComma(getGrid(), printer,
                        [&](GridDimAttr dim) { printGridDimBody(printer, dim); });
  printer << "]";
  if (getThreads())
    printer << ", threads = " << *getThreads();
  if (getThreads() || getSharedBytes() != 0)
    printer << ", shared_bytes = " << getSharedBytes();
  if (getSpecialized() && !getSpecialized().empty()) {
    printer << ", specialized = {";
    llvm::interleaveComma(getSpecialized(), printer, [&](NamedAttribute entry) {
      printer.printKeywordOrString(entry.getName());
      printer << " = ";
      if (auto value = dyn_cast<IntegerAttr>(entry.getValue()))
        printer << value.getInt();
      else
        printer.printAttribute(entry.getValue());
    });
    printer << "}";
  }
  if (!getTensorMaps().empty()) {
    printer << ", tensor_maps = [";
    llvm::interleaveComma(getTensorMaps(), printer,
                          [&](TensorMapAttr map) { printer.printAttribute(map); });
    printer << "]";
  }
  if (getWorkspaceWords() != 0) {
    printer << ", workspace = " << getWorkspaceWords();
    if (!getWorkspacePer().empty()) {
      printer << " per ";
      printSymbols(getWorkspacePer());
    }
  }
  printer << ">";
}

LogicalResult KernelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<StringAttr> sizes, ArrayRef<GridDimAttr> grid,
                                 std::optional<int64_t> threads, int64_t sharedBytes,
                                 DictionaryAttr specialized,
                                 ArrayRef<TensorMapAttr> tensorMaps,
                                 int64_t workspaceWords,
                                 ArrayRef<StringAttr> workspacePer) {
  auto isSizeSymbol = [&](StringAttr symbol) {
    return llvm::is_contained(sizes, symbol);
  };
  for (auto [index, symbol] : llvm::enumerate(sizes)) {
    if (!symbol || !isSizeSymbolName(symbol.getValue()))
      return emitError() << "size symbol '" << (symbol ? symbol.getValue() : StringRef())
                         << "' is not an identifier";
    if (llvm::is_contained(sizes.take_front(index), symbol))
      return emitError() << "size symbol '" << symbol.getValue() << "' appears twice";
  }

  if (grid.size() > limits::kMaxGridRank)
    return emitError() << "grid has " << grid.size() << " dimensions; at most "
                       << limits::kMaxGridRank;
  for (GridDimAttr dim : grid) {
    // Built by a lowering, a grid dim has not been verified yet.
    if (!dim || failed(GridDimAttr::verify(emitError, dim.getDim(), dim.getTile())))
      return failure();
    auto symbol = dyn_cast<StringAttr>(dim.getDim());
    if (symbol && !isSizeSymbol(symbol))
      return emitError() << "grid dimension '" << symbol.getValue()
                         << "' is not a size symbol of the kernel";
  }

  // ---- the GPU launch ----
  bool hasGpuParts = sharedBytes != 0 || (specialized && !specialized.empty()) ||
                     !tensorMaps.empty() || workspaceWords != 0;
  if (!threads && hasGpuParts)
    return emitError()
           << "shared_bytes, specialized, tensor_maps and workspace are parts "
              "of a GPU launch: they need threads";
  // The runtime launches (blocks, 1, 1) from the grid's product, never an empty one.
  if (threads && grid.empty())
    return emitError() << "a GPU kernel's grid needs at least one dimension";
  if (threads && (*threads < 1 || *threads > limits::kMaxThreads))
    return emitError() << "threads must be in 1.." << limits::kMaxThreads << ", got "
                       << *threads;
  if (sharedBytes < 0 || sharedBytes > limits::kMaxSharedBytes)
    return emitError() << "shared_bytes must be in 0.." << limits::kMaxSharedBytes
                       << ", got " << sharedBytes;
  if (specialized)
    for (NamedAttribute entry : specialized) {
      if (!isSizeSymbol(entry.getName()))
        return emitError() << "specialized size '" << entry.getName().getValue()
                           << "' is not a size symbol of the kernel";
      auto value = dyn_cast<IntegerAttr>(entry.getValue());
      if (!value || !value.getType().isInteger(64))
        return emitError() << "specialized size '" << entry.getName().getValue()
                           << "' must be an i64, got " << entry.getValue();
      if (value.getInt() < 1 || value.getInt() > limits::kMaxLiteral)
        return emitError() << "specialized size '" << entry.getName().getValue()
                           << "' must be in 1.." << limits::kMaxLiteral << ", got "
                           << value.getInt();
    }
  for (auto [index, map] : llvm::enumerate(tensorMaps)) {
    if (!map || failed(TensorMapAttr::verify(emitError, map.getArg(), map.getBoxColumns(),
                                             map.getBoxRows(), map.getSwizzle())))
      return failure();
    // The runtime encodes one descriptor per argument.
    for (auto [earlier, other] : llvm::enumerate(tensorMaps.take_front(index)))
      if (other.getArg() == map.getArg())
        return emitError() << "tensor maps #" << earlier << " and #" << index
                           << " read the same argument " << map.getArg();
  }
  if (workspaceWords < 0 || workspaceWords > limits::kMaxLiteral ||
      (workspaceWords == 0 && !workspacePer.empty()))
    return emitError() << "workspace words must be in 1.." << limits::kMaxLiteral
                       << ", got " << workspaceWords;
  for (auto [index, symbol] : llvm::enumerate(workspacePer)) {
    if (!symbol || !isSizeSymbol(symbol))
      return emitError() << "workspace size '"
                         << (symbol ? symbol.getValue() : StringRef())
                         << "' is not a size symbol of the kernel";
    if (llvm::is_contained(workspacePer.take_front(index), symbol))
      return emitError() << "workspace size '" << symbol.getValue() << "' appears twice";
  }
  return success();
}

KernelAttr KernelAttr::getProgram(MLIRContext *context, ArrayRef<StringRef> sizes,
                                  ArrayRef<GridDimAttr> grid) {
  SmallVector<StringAttr> symbols;
  for (StringRef symbol : sizes)
    symbols.push_back(StringAttr::get(context, symbol));
  return get(context, symbols, grid, /*threads=*/std::nullopt, /*shared_bytes=*/0,
             /*specialized=*/DictionaryAttr(), /*tensor_maps=*/{}, /*workspace_words=*/0,
             /*workspace_per=*/{});
}

KernelAttr KernelAttr::withLaunch(int64_t threads, int64_t sharedBytes,
                                  ArrayRef<NamedAttribute> specialized) const {
  DictionaryAttr specializedAttr = specialized.empty()
                                       ? DictionaryAttr()
                                       : DictionaryAttr::get(getContext(), specialized);
  return get(getContext(), getSizes(), getGrid(), threads, sharedBytes, specializedAttr,
             getTensorMaps(), getWorkspaceWords(), getWorkspacePer());
}

KernelAttr KernelAttr::withTensorMaps(ArrayRef<TensorMapAttr> maps) const {
  return get(getContext(), getSizes(), getGrid(), getThreads(), getSharedBytes(),
             getSpecialized(), maps, getWorkspaceWords(), getWorkspacePer());
}

KernelAttr KernelAttr::withWorkspace(int64_t words, ArrayRef<StringAttr> per) const {
  return get(getContext(), getSizes(), getGrid(), getThreads(), getSharedBytes(),
             getSpecialized(), getTensorMaps(), words, per);
}

KernelAttr mlir::tmix::getKernelAbi(Operation *op) {
  return op->getAttrOfType<KernelAttr>(kKernelAttrName);
}

void mlir::tmix::setKernelAbi(Operation *op, KernelAttr abi) {
  op->setAttr(kKernelAttrName, abi);
}

/// `tmix.kernel` on a function: the attribute is verified again (a lowering builds it
/// unchecked), and its tensor maps name arguments of the function.
static LogicalResult verifyKernelAbi(Operation *op, Attribute value) {
  auto abi = dyn_cast<KernelAttr>(value);
  if (!abi)
    return op->emitOpError() << "'" << kKernelAttrName
                             << "' must be a #tmix.kernel attribute, got " << value;
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!function)
    return op->emitOpError() << "'" << kKernelAttrName << "' is the ABI of a function";
  auto emitError = [&] { return op->emitOpError(); };
  if (failed(KernelAttr::verify(emitError, abi.getSizes(), abi.getGrid(),
                                abi.getThreads(), abi.getSharedBytes(),
                                abi.getSpecialized(), abi.getTensorMaps(),
                                abi.getWorkspaceWords(), abi.getWorkspacePer())))
    return failure();
  unsigned arguments = function.getNumArguments();
  for (TensorMapAttr map : abi.getTensorMaps())
    if (map.getArg() >= static_cast<int64_t>(arguments))
      return op->emitOpError() << "tensor map argument " << map.getArg()
                               << " is not an argument of the kernel (it has "
                               << arguments << ")";
  return success();
}

LogicalResult TmixDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attribute) {
  if (attribute.getName() == kKernelAttrName)
    return verifyKernelAbi(op, attribute.getValue());
  return success();
}
