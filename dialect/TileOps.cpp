//===- TileOps.cpp - The tiled level of tmix ------------------------------===//
//
// The tmix_tile dialect: its types and the verifiers of its ops. The shapes of a
// program's tiles are checked against the spec it implements in
// AttentionProgramOp::verifySymbolUses, where the spec can be looked up.
//
//===----------------------------------------------------------------------===//

#include "dialect/TileOps.h"

#include "dialect/DimList.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using mlir::tmix::AttentionOp;
using mlir::tmix::RecurrenceOp;
using mlir::tmix::SpecTensorType;
using mlir::tmix::parseDimList;
using mlir::tmix::printDimList;
using mlir::tmix::verifyDimList;
namespace tile = mlir::tmix::tile;
using namespace mlir::tmix::tile;

#include "dialect/TileDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TileTypes.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/TileOps.cpp.inc"

void TmixTileDialect::initialize() {
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "dialect/TileOps.cpp.inc"
      >();
}

void TmixTileDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/TileTypes.cpp.inc"
      >();
}

bool tile::isScheduleExtent(Attribute dim) {
  auto name = dyn_cast<StringAttr>(dim);
  return name && (name.getValue() == kBlockM || name.getValue() == kBlockN ||
                  name.getValue() == kChunk);
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

namespace {
/// `<` dim-list `>` with `rank` dimensions.
template <typename TypeT> Type parseExtents(AsmParser &parser, StringRef name) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<Attribute> dims;
  if (parser.parseLess() || parseDimList(parser, dims, name) || parser.parseGreater())
    return {};
  return TypeT::getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                           dims);
}

LogicalResult verifyExtents(function_ref<InFlightDiagnostic()> emitError,
                            ArrayRef<Attribute> dims, size_t rank, StringRef name) {
  if (dims.size() != rank)
    return emitError() << name << " has " << rank << " extent" << (rank > 1 ? "s" : "")
                       << ", not " << dims.size();
  return verifyDimList(emitError, dims);
}
} // namespace

Type TileType::parse(AsmParser &parser) {
  return parseExtents<TileType>(parser, " in a !tmix_tile.tile extent list");
}
void TileType::print(AsmPrinter &printer) const {
  printer << "<";
  printDimList(printer.getStream(), getDims());
  printer << ">";
}
LogicalResult TileType::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<Attribute> dims) {
  return verifyExtents(emitError, dims, 2, "!tmix_tile.tile");
}

Type RowsType::parse(AsmParser &parser) {
  return parseExtents<RowsType>(parser, " in a !tmix_tile.rows extent list");
}
void RowsType::print(AsmPrinter &printer) const {
  printer << "<";
  printDimList(printer.getStream(), getDims());
  printer << ">";
}
LogicalResult RowsType::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<Attribute> dims) {
  return verifyExtents(emitError, dims, 1, "!tmix_tile.rows");
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

namespace {
Attribute rowsOf(Value tile) { return cast<TileType>(tile.getType()).getDims()[0]; }
Attribute columnsOf(Value tile) { return cast<TileType>(tile.getType()).getDims()[1]; }
Attribute extentOf(Value rows) { return cast<RowsType>(rows.getType()).getDims()[0]; }

/// `[block_m]`, `[block_m, 64]`, ...: a type's extents as written.
std::string spell(ArrayRef<Attribute> dims) {
  std::string text;
  llvm::raw_string_ostream os(text);
  printDimList(os, dims);
  return text;
}

/// Whether `block` takes exactly `count` arguments, all index values (a program's or a
/// loop's coordinates).
bool takesIndices(Block &block, unsigned count) {
  return block.getNumArguments() == count &&
         llvm::all_of(block.getArgumentTypes(), [](Type t) { return t.isIndex(); });
}

/// Checks that a tile's rows match a per-row value's extent.
LogicalResult verifySameRows(Operation *op, Value tile, Value rows, StringRef tileName,
                             StringRef rowsName) {
  if (rowsOf(tile) != extentOf(rows))
    return op->emitOpError() << tileName << " has rows " << spell(rowsOf(tile)) << " but "
                             << rowsName << " has " << spell(extentOf(rows));
  return success();
}
} // namespace

LogicalResult SoftmaxInitOp::verify() {
  return verifySameRows(*this, getAcc(), getMax(), "the accumulator", "the row state");
}

LogicalResult DotOp::verify() {
  ArrayRef<Attribute> lhs = getLhs().getType().getDims();
  ArrayRef<Attribute> rhs = getRhs().getType().getDims();
  ArrayRef<Attribute> result = getResult().getType().getDims();
  Attribute lhsOuter = getTransposeLhs() ? lhs[1] : lhs[0];
  Attribute lhsInner = getTransposeLhs() ? lhs[0] : lhs[1];
  Attribute rhsInner = getTransposeRhs() ? rhs[1] : rhs[0];
  Attribute rhsOuter = getTransposeRhs() ? rhs[0] : rhs[1];
  if (lhsInner != rhsInner)
    return emitOpError() << "contracts lhs " << spell(lhs)
                         << (getTransposeLhs() ? " (transposed)" : "") << " with rhs "
                         << spell(rhs) << (getTransposeRhs() ? " (transposed)" : "")
                         << ": the inner extents differ";
  SmallVector<Attribute> expected{lhsOuter, rhsOuter};
  if (result != ArrayRef<Attribute>(expected))
    return emitOpError() << "result must be " << spell(expected) << ", not "
                         << spell(result);
  if (getAcc() && getAcc().getType() != getResult().getType())
    return emitOpError() << "accumulator " << spell(getAcc().getType().getDims())
                         << " differs from the result " << spell(result);
  return success();
}

LogicalResult ScoreOp::verify() {
  ArrayRef<Attribute> dims = getScores().getType().getDims();
  Builder b(getContext());
  if (dims[0] != b.getStringAttr(kBlockM) || dims[1] != b.getStringAttr(kBlockN))
    return emitOpError() << "applies to a tile of scores [block_m, block_n], not "
                         << spell(dims);
  return success();
}

LogicalResult SoftmaxUpdateOp::verify() {
  return verifySameRows(*this, getScores(), getMax(), "the score tile", "the row state");
}

LogicalResult RescaleOp::verify() {
  return verifySameRows(*this, getTile(), getFactor(), "the tile", "the factor");
}

LogicalResult MergeOp::verify() {
  return verifySameRows(*this, getOutput(), getLse(), "the output", "the lse");
}

LogicalResult FinalizeOp::verify() {
  return verifySameRows(*this, getAcc(), getMax(), "the accumulator", "the row state");
}

//===----------------------------------------------------------------------===//
// Result names: what each tile is, in the printed program
//===----------------------------------------------------------------------===//

void LoadQueryOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getQuery(), "query");
}
void DotOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getResult(), getAcc() ? "acc" : "scores");
}
void ScoreOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getResult(), "scores");
}
void RescaleOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getResult(), "rescaled");
}
void GateLogsOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getLogs(), "logs");
}
void DeltaSolveOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getPseudoValues(), "pseudo_values");
}
void ChunkScoresOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getScores(), "scores");
}
void ChunkReadoutOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getOutputs(), "readout");
}
void KeyValueLoopOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getFinalAcc(), "acc");
  setNameFn(getFinalMax(), "max");
  setNameFn(getFinalSum(), "sum");
}

//===----------------------------------------------------------------------===//
// The KV walk
//===----------------------------------------------------------------------===//

void KeyValueLoopOp::getAsmBlockArgumentNames(Region &region,
                                              OpAsmSetValueNameFn setNameFn) {
  static constexpr const char *names[] = {"key", "acc", "max", "sum"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult KeyValueLoopOp::verifyRegions() {
  Block &block = getBodyBlock();
  SmallVector<Type> expected{IndexType::get(getContext()), getAcc().getType(),
                             getMax().getType(), getSum().getType()};
  if (block.getArgumentTypes() != ArrayRef<Type>(expected))
    return emitOpError("body must take (index, the accumulator, max and sum types): the "
                       "first key of the tile and the carried state");
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return emitOpError("body must end in tmix_tile.yield");
  if (yield.getValues().getTypes() != ArrayRef<Type>(expected).drop_front())
    return yield.emitOpError("must yield the carried state (accumulator, max, sum) of "
                             "the loop's types");
  return success();
}

//===----------------------------------------------------------------------===//
// The program
//===----------------------------------------------------------------------===//

void AttentionProgramOp::getAsmBlockArgumentNames(Region &region,
                                                  OpAsmSetValueNameFn setNameFn) {
  static constexpr const char *names[] = {"batch", "head", "row"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult AttentionProgramOp::verifyRegions() {
  Block &block = getBodyBlock();
  if (!takesIndices(block, 3))
    return emitOpError("body must take (batch, head, row) as three index values");
  return success();
}

AttentionOp AttentionProgramOp::getSpecOp() {
  return SymbolTable::lookupNearestSymbolFrom<AttentionOp>(*this, getSpecAttr());
}

namespace {
/// The tile shapes of an attention spec's programs (the forward's and its backward
/// parts'): the spec's head dims D (q, k) and DV (v), checked once not to be named
/// like the schedule's sizes, and each tile checked against the spec.
struct SpecTileShapes {
  Operation *program;
  FlatSymbolRefAttr spec;
  Attribute blockM, blockN, headDim, valueDim;

  /// Fails after an error on `program` when a head dim of q or v (the spec's first
  /// and third arguments, `args`) is named block_m, block_n or chunk.
  static FailureOr<SpecTileShapes> get(Operation *program, FlatSymbolRefAttr spec,
                                       ArrayRef<Type> args) {
    auto q = cast<SpecTensorType>(args[0]), v = cast<SpecTensorType>(args[2]);
    for (Attribute dim : llvm::concat<const Attribute>(q.getDims(), v.getDims()))
      if (isScheduleExtent(dim))
        return program->emitOpError()
               << "cannot tile a spec with a size symbol named " << dim
               << ": the tile types reserve block_m, block_n and chunk";
    Builder b(program->getContext());
    return SpecTileShapes{
        program,        spec,          b.getStringAttr(kBlockM), b.getStringAttr(kBlockN),
        q.getDims()[3], v.getDims()[3]};
  }

  /// Checks that `tile` (`what`, for the error) is [rows, columns].
  LogicalResult expect(Operation *op, Value tile, Attribute rows, Attribute columns,
                       StringRef what) const {
    SmallVector<Attribute> expected{rows, columns};
    ArrayRef<Attribute> dims = cast<TileType>(tile.getType()).getDims();
    if (dims != ArrayRef<Attribute>(expected))
      return op->emitOpError() << what << " of spec " << spec << " is a tile "
                               << spell(expected) << ", not " << spell(dims);
    return success();
  }
  /// A tile of keys [block_n, D] and one of values [block_n, DV] (or of their
  /// gradients: `keysName`, `valuesName`).
  LogicalResult expectKeyValue(Operation *op, Value keys, Value values,
                               StringRef keysName = "a key tile",
                               StringRef valuesName = "a value tile") const {
    if (failed(expect(op, keys, blockN, headDim, keysName)))
      return failure();
    return expect(op, values, blockN, valueDim, valuesName);
  }
  /// A tile of query rows' [block_m, D] (`what`: q or its gradient).
  LogicalResult expectRows(Operation *op, Value tile, StringRef what) const {
    return expect(op, tile, blockM, headDim, what);
  }
};
} // namespace

LogicalResult AttentionProgramOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto spec = symbolTable.lookupNearestSymbolFrom<AttentionOp>(*this, getSpecAttr());
  if (!spec)
    return emitOpError() << "names " << getSpecAttr()
                         << ", which is not a tmix.attention spec";
  // What the loads give and the store takes, against the spec's dims.
  FailureOr<SpecTileShapes> shapes =
      SpecTileShapes::get(*this, getSpecAttr(), spec.getSpecArgTypes());
  if (failed(shapes))
    return failure();
  bool specHasLse = spec.getNumSpecResults() == 2;
  WalkResult result = getBody().walk([&](Operation *op) -> WalkResult {
    LogicalResult ok =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](LoadQueryOp load) {
              return shapes->expectRows(load, load.getQuery(), "the query");
            })
            .Case([&](LoadKeyValueOp load) {
              return shapes->expectKeyValue(load, load.getKeys(), load.getValues());
            })
            .Case([&](StoreOp store) -> LogicalResult {
              if (failed(shapes->expect(store, store.getOutput(), shapes->blockM,
                                        shapes->valueDim, "the output")))
                return failure();
              if (bool(store.getLse()) != specHasLse)
                return store.emitOpError()
                       << (specHasLse ? "must store lse: spec " : "stores lse, but spec ")
                       << getSpecAttr() << (specHasLse ? " has" : " has no")
                       << " lse output";
              return success();
            })
            .Default([](Operation *) { return success(); });
    return failed(ok) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// The attention backward
//===----------------------------------------------------------------------===//

namespace {
/// Checks a loop's body: block arguments `positions` index values then the carried
/// tiles, ended by a yield of the carried tiles' types.
LogicalResult verifyCarryingLoop(Operation *op, Block &block, ValueRange inits,
                                 unsigned positions, StringRef what) {
  SmallVector<Type> expected(positions, IndexType::get(op->getContext()));
  llvm::append_range(expected, inits.getTypes());
  if (block.getArgumentTypes() != ArrayRef<Type>(expected))
    return op->emitOpError() << "body must take " << what
                             << " as index values, then the carried tiles";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError("body must end in tmix_tile.yield");
  if (yield.getValues().getTypes() != inits.getTypes())
    return yield.emitOpError("must yield the carried tiles, of the loop's types");
  if (op->getResultTypes() != inits.getTypes())
    return op->emitOpError("results must be the carried tiles' types");
  return success();
}

/// A tile of pairs [block_m, block_n] with one per-row value per row.
LogicalResult verifyPairTile(Operation *op, Value pairs, Value rows) {
  ArrayRef<Attribute> dims = cast<TileType>(pairs.getType()).getDims();
  Builder b(op->getContext());
  if (dims[0] != b.getStringAttr(kBlockM) || dims[1] != b.getStringAttr(kBlockN))
    return op->emitOpError() << "applies to a tile of pairs [block_m, block_n], not "
                             << spell(dims);
  return verifySameRows(op, pairs, rows, "the pair tile", "the row values");
}
} // namespace

void AttentionGradProgramOp::getAsmBlockArgumentNames(Region &region,
                                                      OpAsmSetValueNameFn setNameFn) {
  tmix::AttentionGradOp spec = getSpecOp();
  bool keySide = spec && !spec.isQueryPart();
  const char *names[] = {"batch", keySide ? "kv_head" : "head", keySide ? "key" : "row"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult AttentionGradProgramOp::verifyRegions() {
  Block &block = getBodyBlock();
  if (!takesIndices(block, 3))
    return emitOpError("body must take (batch, head, first key or row) as three index "
                       "values");
  return success();
}

tmix::AttentionGradOp AttentionGradProgramOp::getSpecOp() {
  return SymbolTable::lookupNearestSymbolFrom<tmix::AttentionGradOp>(*this,
                                                                     getSpecAttr());
}

LogicalResult
AttentionGradProgramOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto spec =
      symbolTable.lookupNearestSymbolFrom<tmix::AttentionGradOp>(*this, getSpecAttr());
  if (!spec)
    return emitOpError() << "names " << getSpecAttr()
                         << ", which is not a tmix.attention_grad part";
  if (spec.isParamsPart())
    return emitOpError() << "names part \"params\" of " << getSpecAttr()
                         << ", which has no tile program (the CPU runs it as it is)";
  FailureOr<SpecTileShapes> shapes =
      SpecTileShapes::get(*this, getSpecAttr(), spec.getSpecArgTypes());
  if (failed(shapes))
    return failure();
  // Which ops the part may hold: the key side's in part "key_value", the query side's
  // in part "query"; d_q_partial's only without recompute_dq.
  bool keySide = !spec.isQueryPart(), partials = !spec.getRecomputeDq();
  auto onlyIn = [&](Operation *op, bool allowed, StringRef where) -> LogicalResult {
    if (!allowed)
      return op->emitOpError() << "belongs in " << where << ", not in " << getSpecAttr();
    return success();
  };
  WalkResult result = getBody().walk([&](Operation *op) -> WalkResult {
    LogicalResult ok =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](LoadKeysOp load) {
              if (failed(onlyIn(load, keySide, "part \"key_value\"")))
                return failure();
              return shapes->expectKeyValue(load, load.getKeys(), load.getValues());
            })
            .Case([&](LoadKeyValueOp load) {
              return shapes->expectKeyValue(load, load.getKeys(), load.getValues());
            })
            .Case([&](QueryLoopOp loop) {
              return onlyIn(loop, keySide, "part \"key_value\"");
            })
            .Case([&](KeyLoopOp loop) {
              return onlyIn(loop, !keySide && !partials,
                            "part \"query\" with recompute_dq");
            })
            .Case([&](LoadQueryGradOp load) {
              if (failed(shapes->expectRows(load, load.getQuery(), "the query")))
                return failure();
              return shapes->expect(load, load.getOutputGrad(), shapes->blockM,
                                    shapes->valueDim, "the output's gradient");
            })
            .Case([&](ParamGradsOp grads) {
              return onlyIn(grads, keySide && !spec.getParamArgs().empty(),
                            "a part \"key_value\" that sums params");
            })
            .Case([&](AccumulateQueryGradOp acc) {
              if (failed(onlyIn(acc, keySide && partials,
                                "part \"key_value\" without recompute_dq")))
                return failure();
              return shapes->expectRows(acc, acc.getTerms(), "dq's terms");
            })
            .Case([&](StoreKeyGradOp store) {
              if (failed(onlyIn(store, keySide, "part \"key_value\"")))
                return failure();
              return shapes->expectKeyValue(store, store.getKeyGrad(),
                                            store.getValueGrad());
            })
            .Case([&](SumQueryPartialsOp sum) {
              if (failed(onlyIn(sum, !keySide && partials,
                                "part \"query\" without recompute_dq")))
                return failure();
              return shapes->expectRows(sum, sum.getQueryGrad(), "dq");
            })
            .Case([&](StoreQueryGradOp store) {
              if (failed(onlyIn(store, !keySide, "part \"query\"")))
                return failure();
              return shapes->expectRows(store, store.getQueryGrad(), "dq");
            })
            .Default([](Operation *) { return success(); });
    return failed(ok) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

void QueryLoopOp::getAsmBlockArgumentNames(Region &region,
                                           OpAsmSetValueNameFn setNameFn) {
  static constexpr const char *names[] = {"head", "row", "dk", "dv"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult QueryLoopOp::verifyRegions() {
  return verifyCarryingLoop(*this, getBodyBlock(), getInits(), 2,
                            "(head, row): a query head of the group and the tile's "
                            "first row,");
}

void KeyLoopOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  static constexpr const char *names[] = {"key", "dq"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult KeyLoopOp::verifyRegions() {
  return verifyCarryingLoop(*this, getBodyBlock(), getInits(), 1,
                            "(key): the tile's first key,");
}

LogicalResult LoadQueryGradOp::verify() {
  if (failed(verifySameRows(*this, getQuery(), getLse(), "the query", "the lse")))
    return failure();
  return verifySameRows(*this, getOutputGrad(), getLse(), "the output's gradient",
                        "the lse");
}

LogicalResult PairGradOp::verify() { return verifyPairTile(*this, getDots(), getLse()); }

//===----------------------------------------------------------------------===//
// Recurrences
//===----------------------------------------------------------------------===//

void ChunkLoopOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setNameFn) {
  static constexpr const char *names[] = {"start", "length"};
  for (auto [arg, name] : llvm::zip(region.getArguments(), names))
    setNameFn(arg, name);
}

LogicalResult ChunkLoopOp::verifyRegions() {
  Block &block = getBodyBlock();
  if (!takesIndices(block, 2))
    return emitOpError("body must take (start, length) as two index values: the chunk's "
                       "first step and its number of steps");
  return success();
}

LogicalResult GateLogsOp::verify() {
  Attribute rows = rowsOf(getLogs());
  if (rows != StringAttr::get(getContext(), kChunk))
    return emitOpError() << "gives one row per step of the chunk, [chunk, ...], not "
                         << spell(getLogs().getType().getDims());
  return success();
}

LogicalResult ChunkScoresOp::verify() {
  Attribute chunk = StringAttr::get(getContext(), kChunk);
  ArrayRef<Attribute> dims = getScores().getType().getDims();
  if (dims[0] != chunk || dims[1] != chunk)
    return emitOpError() << "gives the scores of the chunk's steps against its steps, "
                            "[chunk, chunk], not "
                         << spell(dims);
  return success();
}

RecurrenceOp RecurrenceProgramOp::getSpecOp() {
  return SymbolTable::lookupNearestSymbolFrom<RecurrenceOp>(*this, getSpecAttr());
}

ChunkLoopOp RecurrenceProgramOp::getChunkLoop() {
  auto loops = getBodyBlock().getOps<ChunkLoopOp>();
  return loops.empty() ? ChunkLoopOp() : *loops.begin();
}

StepLoopOp RecurrenceProgramOp::getStepLoop() {
  auto loops = getBodyBlock().getOps<StepLoopOp>();
  return loops.empty() ? StepLoopOp() : *loops.begin();
}

LogicalResult RecurrenceProgramOp::verifyRegions() {
  // [chunk_loop], [step_loop] or [chunk_loop, step_loop].
  SmallVector<Operation *> ops = llvm::map_to_vector(getBodyBlock(), [](Operation &op) {
    return &op;
  });
  bool shaped = (ops.size() == 1 && isa<ChunkLoopOp, StepLoopOp>(ops[0])) ||
                (ops.size() == 2 && isa<ChunkLoopOp>(ops[0]) && isa<StepLoopOp>(ops[1]));
  if (!shaped)
    return emitOpError("body must be a chunk_loop, a step_loop, or a chunk_loop and then "
                       "a step_loop (taken below the schedule's chunked_min_steps)");
  return success();
}

LogicalResult
RecurrenceProgramOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto spec = symbolTable.lookupNearestSymbolFrom<RecurrenceOp>(*this, getSpecAttr());
  if (!spec)
    return emitOpError() << "names " << getSpecAttr()
                         << ", which is not a tmix.recurrence spec";
  // Each state an op names is a matrix state of the spec; its gate logs have the rows
  // of a chunk and one column per key row (a row gate) or one (a scalar gate).
  llvm::StringMap<SpecTensorType> matrixStates;
  for (tmix::StateOp state : spec.getStateOps())
    if (auto type = dyn_cast<SpecTensorType>(state.getType());
        type && type.getRank() == 2)
      matrixStates[state.getSymName()] = type;
  WalkResult result = getBody().walk([&](Operation *op) -> WalkResult {
    auto name = op->getAttrOfType<StringAttr>("state");
    if (!name)
      return WalkResult::advance();
    auto it = matrixStates.find(name.getValue());
    if (it == matrixStates.end()) {
      op->emitOpError() << "names state " << name << ", which is not a matrix state of "
                        << getSpecAttr();
      return WalkResult::interrupt();
    }
    if (auto logs = dyn_cast<GateLogsOp>(op)) {
      Attribute columns = columnsOf(logs.getLogs());
      Attribute one = IntegerAttr::get(IntegerType::get(getContext(), 64), 1);
      if (columns != it->second.getDims()[0] && columns != one) {
        logs.emitOpError() << "of state " << name << " has one column per key row ("
                           << spell(it->second.getDims().take_front()) << ") or one, not "
                           << spell(columns);
        return WalkResult::interrupt();
      }
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}
