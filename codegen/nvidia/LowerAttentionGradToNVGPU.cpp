//===- LowerAttentionGradToNVGPU.cpp - Attention backward as mma.sync kernels ===//
//
// The GPU kernels of the tmix.attention_grad parts that tmix-derive-attention-grad
// writes with recompute-dq: FlashAttention-2's backward with the probabilities
// recomputed from the saved lse, deterministic without float atomics because each
// gradient element is summed in one order, by one CTA:
//
//   part "key_value", one CTA per (batch, KV head, tile of 64 keys), 4 warps of 16 keys:
//     K and V staged once; for each query head of the group, for each tile of 64
//     query rows that the mask does not empty for the CTA: Q, d_o, the rows' lse and
//     D_i = d_o_i . o_i (- d_lse_i) staged, then per warp
//       S^T = K Q^T, dP^T = V d_o^T        the keys as the mma's rows
//       P^T, dS^T per element               AttentionMath.h's pairGradient
//       dv += P^T d_o, dk += dS^T Q        P^T and dS^T's C fragments are A fragments
//   part "query", one CTA per (batch, head, tile of 64 query rows), 4 warps of 16 rows:
//     Q, d_o, lse and D staged once; for each KV tile not empty for the CTA:
//       S = Q K^T, dP = d_o V^T, dS per element, dq += dS K
//   part "params" of pair biases (ParamGradKernel.h's pairOwnedParams): part "query"'s
//     walk, its rows' elements zeroed first, each pair's term added to its own element
//     instead of dq += dS K
//   part "params" summed per program (ParamsKernelKind::ProgramSums), one CTA per
//     program of paramsGrid: for each (b, h) it covers, the sink's rows, then part
//     "query"'s walk over every tile of rows, instead of dq += dS K each pair's terms
//     summed by the thread (an element of b and h alone, and the scale's; the CTA's
//     fixed tree after the walk) or stored to a tile in shared memory (an element
//     a i + b j + c, summed after the tile by the thread that owns it, row by row; any
//     other element of the pair, with it, summed window by window of elements);
//     without the latter, kParamsRowSplits CTAs per program, each walking a piece of
//     its (b, h, tile of rows), their sums through the launch's workspace, added in
//     piece order by the program's last CTA (the one atomic: a counter)
//   (a sink's part "params" alone is ParamGradKernel.cpp's)
//
// Head dims up to 256: an accumulator wider than 128 columns is summed a block of
// columns per walk (ColumnBlocks), each walk recomputing S and dP.
//
// Both run on the forward's vocabulary (WarpMma.h: ldmatrix, m16n8k16 mma.sync with
// f32 accumulators, the C fragments of one product reused as the A fragments of the
// next) and classify tiles as the forward does (KeyTiles.h): a tile empty for the CTA
// is not staged, one empty for a warp is skipped, a full one runs without mask code;
// a tile with keys past M or rows past N runs the mask code, which drops them. Rows
// past N have lse = +inf, so that their probabilities are 0 in part "key_value". With
// rope, q and k are rotated as they are staged (through registers) and dq and dk
// rotated back by rope's transpose as they are stored.
//
// Fragment layouts as in LowerAttentionToNVGPU.cpp (lane = 4 g + t): a thread holds
// rows g and g + 8 of its warp's 16 (query rows in part "query", keys in part
// "key_value") and, per 8 columns, the two columns 2t and 2t + 1.
//
//===----------------------------------------------------------------------===//

#include "codegen/nvidia/GpuKernel.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/ParamGradKernel.h"
#include "codegen/nvidia/Passes.h"
#include "codegen/nvidia/WarpMma.h"
#include "dialect/TmixOps.h"
#include "passes/AttentionGradProgramForm.h"
#include "passes/AttentionMath.h"
#include "passes/KernelBuilder.h"
#include "passes/KeyTiles.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONGRADTONVGPU
#include "codegen/nvidia/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

using sm80::kPad;
using sm80::kWarpRows;
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = kWarps * kWarpThreads;
/// Rows (part "query") or keys (part "key_value") per CTA, and the tile of the other
/// side that one staging and one classification cover.
constexpr int64_t kBlock = kWarps * kWarpRows;
constexpr int64_t kMmaK = 16;
constexpr int64_t kMmaN = 8;
/// A Gathered accumulate's element where no pair of a tile was walked.
constexpr int64_t kNoElement = std::numeric_limits<int64_t>::max();
/// Head dims the kernels run: the forward's (their accumulators, dk and dv or dq, in
/// registers a block of columns at a time above kMaxAccumulatorColumns).
constexpr int64_t kMaxHeadDim = 256;
/// The widest accumulator a walk keeps in registers: dq, dk or dv wider than this are
/// summed a block of columns per walk (columnBlocks), each walk recomputing S and dP.
constexpr int64_t kMaxAccumulatorColumns = 128;
/// Part "key_value" sums dk and dv in one walk over the query rows up to this D + DV;
/// above it, in two walks (dv, then dk), so that only one of them is in registers
/// (ptxas spilled at D = DV = 128 with both, with tiles of 16 to 64 rows alike). The
/// second walk recomputes S^T: 5 products per tile instead of 4, and takes the tile's
/// rows 32 at a time.
constexpr int64_t kOneWalkHeadDims = 128;

Value exp2Approx(ImplicitLocOpBuilder &b, Value x) { return warp::exp2Approx(b, x); }

/// How a `dim`-wide accumulator (dq, dk or dv) is summed: in `count` blocks of columns,
/// one walk over the other side per block. Block b holds the 16-column groups `groups`
/// moved right by b * `step` columns. Up to kMaxAccumulatorColumns, one block of every
/// group; above, the widest equal blocks that fit, whose walks are one loop (one copy
/// of their code). With `pairHalves` (rope's dq and dk) a block takes the same groups
/// of each half of the row, so that the columns p and p + dim / 2 that rope rotates
/// together are fragments nt and nt + (its fragments / 2) of one thread (storeRows);
/// prepare() keeps dim / 16 even there.
struct ColumnBlocks {
  SmallVector<int64_t> groups; // block 0's
  int64_t step = 0;            // columns from one block to the next
  int64_t count = 1;
};

ColumnBlocks columnBlocks(int64_t dim, bool pairHalves) {
  ColumnBlocks blocks;
  int64_t groups = dim / 16;
  if (dim <= kMaxAccumulatorColumns) {
    blocks.groups = llvm::to_vector(llvm::seq<int64_t>(0, groups));
    return blocks;
  }
  int64_t halves = pairHalves ? 2 : 1, perHalf = groups / halves;
  int64_t width = perHalf; // groups of each half per block: a divisor of perHalf
  while (perHalf % width != 0 || halves * width * 16 > kMaxAccumulatorColumns)
    --width;
  for (int64_t half = 0; half < halves; ++half)
    for (int64_t group = 0; group < width; ++group)
      blocks.groups.push_back(half * perHalf + group);
  blocks.step = width * 16;
  blocks.count = perHalf / width;
  return blocks;
}

/// Fails after an error on a part derived without recompute-dq: a part "query" or
/// "key_value" whose dq is summed per key split, or a part "params" that takes the
/// partials of its params summed so.
LogicalResult checkGpuPart(AttentionGradOp op) {
  if (op.isParamsPart() ? !op.getSplitParams().empty() : !op.getRecomputeDq())
    return op.emitOpError("the GPU kernels sum dq by recomputing it in part \"query\": "
                          "derive the backward with recompute-dq");
  return success();
}

/// The shared part of the two kernels: operands, shared tiles, the lane geometry and
/// the tile products in fragments.
class AttentionGradKernel : AttentionGradOperands {
public:
  /// `paramsKind`: how part "params" `op` runs (gpuParamsKernel); none for the other
  /// parts.
  AttentionGradKernel(AttentionGradOp op, gpu::GPUModuleOp gpuModule,
                      const llvm::StringMap<int64_t> &fixed,
                      std::optional<ParamsKernelKind> paramsKind = std::nullopt)
      : op(op), gpuModule(gpuModule), fixed(fixed), paramsKind(paramsKind) {}
  LogicalResult lower();

private:
  using Fragments = SmallVector<Value>;

  Value idx(int64_t v) { return kb->index(v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(kb->builder(), x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(kb->builder(), x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(kb->builder(), arith::CmpIPredicate::ult, x, y);
  }
  Value minIndex(Value x, Value y) { return arith::MinUIOp::create(kb->builder(), x, y); }
  Value ldmatrix(Value tile, Value row, Value col, bool transpose) {
    return warp::ldmatrixX4(kb->builder(), mmaType, tile, ValueRange{row, col},
                            transpose);
  }
  Value mma(Value a, Value bFragment, Value c) {
    return warp::mmaM16N8K16(kb->builder(), a, bFragment, c);
  }
  Fragments zeros(int64_t count);

  /// Reads the operands, the head dims and the statements; checks what the kernels
  /// run. Failure after an error on `op`.
  LogicalResult prepare();
  /// The thread's lane geometry and the shared tiles.
  void buildGeometry();
  /// Stages rows [pos0, pos0 + count) of src[batch, head, :, :] into `tile`, rotated
  /// by rope at each row's position when `rotate` (q and k) and the spec has one.
  void stageTile(Value src, Value head, Value pos0, Value count, Value tile, int64_t dim,
                 SmallVectorImpl<Value> &tokens, bool rotate = false);
  /// Stages the lse (log2 domain; +inf past N) and, `withDelta`, D (0 past N) of query
  /// rows [pos0, pos0 + kBlock) of `head` into `rowLse` and `rowDelta`. dv's walk needs
  /// no D (it reads P alone), and it is DV loads of d_o and o per row.
  void stageRowStats(Value head, Value pos0, bool withDelta = true);
  /// The end of the tile of kBlock positions from `first` clipped to `length`, and its
  /// last position.
  std::pair<Value, Value> tileEnd(Value first, Value length);
  /// A B^T, the scores' product: the warp's 16 rows of `aTile` (from `aRow`) times
  /// rows [first, first + count) of `bTile` (the n side), summing over `dim` columns.
  Fragments rowsTimesRowsT(Value aTile, Value bTile, int64_t dim, int64_t first = 0,
                           int64_t count = kBlock);
  /// acc += A B for A the columns of `frags` (C fragments rounded to the MMA type: 2
  /// per 8 columns, [2 nt + r] the row half r) and B as many rows of `bTile` from
  /// `first`, restricted to the 16-column groups `groups` moved right by `base`
  /// columns (acc: 2 fragments per group).
  void accumulateProduct(ArrayRef<Value> frags, Value bTile, ArrayRef<int64_t> groups,
                         Value base, MutableArrayRef<Value> acc, int64_t first = 0);
  /// The CTA's own kBlock positions (query rows or keys) from `first` of `length`, and
  /// its warp's 16.
  struct OwnBlock {
    Value first, end, last;     // the CTA's [first, end), last = end - 1
    Value warpFirst, warpLast;  // the warp's, clipped to `length`
    Value warpAny, warpPartial; // i1: the warp has any; some are past `length`
  };
  OwnBlock ownBlock(Value first, Value length);
  /// One tile of the other side for the whole CTA, of rows [rowFirst, rowLast] against
  /// keys [keyFirst, keyLast] of query head `head`: skipped (`state` passed on) where
  /// the mask empties it for the CTA; else `stage` issues its copies, between two
  /// barriers (every warp is done with the previous tile before it is overwritten; the
  /// copies land before any warp reads them), and `compute` gives the new state.
  Fragments ctaTile(Value head, Value rowFirst, Value rowLast, Value keyFirst,
                    Value keyLast, ValueRange state,
                    function_ref<void(SmallVectorImpl<Value> &tokens)> stage,
                    function_ref<Fragments()> compute);
  /// Stores accumulator fragments `acc` (rows g and g + 8 of the warp from `rowBase`;
  /// the 16-column groups `groups` moved right by `base` columns of a `dim`-wide row) to
  /// dst[batch, head, row, :] where row < `rows`; with `rotateBack` (dq and dk, when
  /// the spec has rope) rotated by rope's transpose at each row's position: columns p
  /// and p + dim / 2 are fragments nt and nt + (its fragments / 2) of the same thread
  /// (columnBlocks pairs them so). `thetaRows` (rope_rows; with rotateBack): each row's
  /// term of the gradient of rope's theta goes to thetaRows[batch, head, row], from the
  /// pairs rotated back and the row of `source` (q or k) at them; a block of columns
  /// after the first (base > 0) adds its pairs' to the earlier blocks'.
  void storeRows(ArrayRef<Value> acc, Value dst, Value head, Value rowBase, Value rows,
                 int64_t dim, ArrayRef<int64_t> groups, Value base,
                 bool rotateBack = false, Value source = nullptr,
                 Value thetaRows = nullptr);
  /// `walk(base)` for each block of `blocks` (base: its first column), in a loop when
  /// there are several.
  void forEachBlock(const ColumnBlocks &blocks, function_ref<void(Value base)> walk);

  /// The pairs of one tile: `s` and `dp` are the products (rows x columns), the
  /// element (nt, r, c) is row `rowBase` + the warp's g + 8 r and column `columnBase` +
  /// `first` + 8 nt + 2t + c (`rowStat`'s column: `first` + 8 nt + 2t + c). Returns P
  /// and the q.k gradient, rounded to the MMA type, 2 per 8 columns.
  struct TileGrads {
    Fragments probabilities, dotGrads;
  };
  /// Where a pair of a tile is: its indices i and j, and its row and column among the
  /// tile's (those of the products, rows x columns).
  struct PairAt {
    Value i, j, tileRow, tileColumn;
  };
  /// `pairWork(at, pair)`, when given, runs for each element.
  TileGrads pairGrads(
      ArrayRef<Value> s, ArrayRef<Value> dp, Value head, bool keysAreRows, Value rowBase,
      Value columnBase, int64_t first, bool masked,
      function_ref<Value(Value column, int64_t r, bool lse)> rowStat,
      function_ref<void(const PairAt &at, const PairGradient &pair)> pairWork = nullptr);

  /// Part "query"'s rows: Q (rotated), d_o, lse and D of the `rows` rows from
  /// `rowBegin` of `head`, staged, then a barrier; `stats[r]`: the thread's row r's lse
  /// and D.
  void stageQueryRows(Value head, Value rowBegin, Value rows, Value (&stats)[2][2]);
  /// What runs for each pair of a tile in walkKeyTiles, on the walk's state.
  using PairWork =
      function_ref<void(const PairAt &at, const PairGradient &pair, Fragments &state)>;
  /// Part "query"'s walk over the key tiles for the CTA's rows `own` of `head` (staged
  /// by stageQueryRows): each tile not empty for the CTA staged, under each warp's
  /// class, S, dP and the pairs' gradients (`pairWork` per pair, on the state), then
  /// `step(grads, state)` the next state, from `init`. `beforeTile()` and
  /// `afterTile(keyBegin)`, when given, run on every thread of the CTA around each tile
  /// it does not skip (afterTile may hold barriers).
  Fragments
  walkKeyTiles(Value head, const OwnBlock &own, const Value (&stats)[2][2],
               ValueRange init,
               function_ref<Fragments(const TileGrads &grads, ValueRange state)> step,
               PairWork pairWork = nullptr, function_ref<void()> beforeTile = nullptr,
               function_ref<void(Value keyBegin)> afterTile = nullptr);
  void lowerKeyValuePart();
  void lowerQueryPart();
  /// Part "params" of pair biases (pairOwnedParams): part "query"'s walk, each pair's
  /// terms added to its own element by the thread that holds the pair.
  void lowerPairParamsPart();
  /// Part "params" summed per program (ParamsKernelKind::ProgramSums): the program's
  /// (b, h, tile of rows) in one flat loop; the sink's rows on a (b, h)'s first tile;
  /// part "query"'s walk of each tile, each pair's terms summed by its thread in f64
  /// (TermClass::Program, and the scale's: the CTA's sumOverCta on the (b, h)'s last
  /// tile, thread 0 adding the totals) or stored to a tile of terms (PairAffine and
  /// Gathered: addPairAffineTerms and addGatheredTerms after each key tile). With
  /// Program terms alone (splitRows), each CTA walks a piece of the program's tiles and
  /// its sums go through the workspace (sumPieces).
  void lowerProgramSumsPart();
  /// Split rows: counts the CTA in (thread 0, an atomic add to the program's counter);
  /// the program's last CTA sums each (b, h)'s pieces from the workspace in split
  /// order, group by group, and hands the totals to `addTotals` (with the scale's
  /// running total), then the scale's total to `addScaleTotal`.
  void sumPieces(
      const ParamsProgram &program, Value groups, Value rowTiles, Value programTiles,
      Value programIndex,
      function_ref<Value(Value group, Value piece, unsigned slot)> slotWord, Value tid,
      function_ref<void(Value b64, Value h64, ArrayRef<Value> totals, Value &scaleTotal)>
          addTotals,
      function_ref<void(Value scaleTotal)> addScaleTotal);
  /// The terms of PairAffine accumulate `of` in `tile` (64 rows from `rowBegin` x 64
  /// keys from `keyBegin`) added to their elements of `target`: each element e = a i +
  /// b j + c that the tile touches (`elementAtOrigin`: the element's indices at i = j =
  /// 0, so c at the affine dim) is owned by thread (e - the lowest) % kThreads, which
  /// sums its terms over the tile's rows (keys where b = 0) in order.
  void addPairAffineTerms(const AccumulateClass &of, Value tile,
                          ArrayRef<Value> elementAtOrigin, const ParamGradTarget &target,
                          Value rowBegin, Value keyBegin, Value tid);
  /// The element `index` of a Gathered accumulate as its tile of elements keeps it:
  /// kNoElement outside [0, `extent`) of the param's dim (the read gave 0, and the add
  /// would drop it), so that a tile's elements span at most the dim.
  Value gatheredElement(Value index, Value extent);
  /// The terms of Gathered accumulate `of` in `tile`, at their elements of the dim
  /// that depends on the pair in `elements` (kNoElement where no pair was walked),
  /// added to their elements of `target`: from the tile's lowest element to its
  /// highest (the CTA's min and max trees), kGatherWindow at a time, each thread sums
  /// its entries (t + kThreads m, m in order) into its row of the window; after a
  /// barrier, thread t sums the rows' column t in thread order and adds it to element
  /// lowest + kGatherWindow x window + t.
  void addGatheredTerms(const AccumulateClass &of, Value tile, Value elements,
                        ArrayRef<Value> elementAtOrigin, const ParamGradTarget &target,
                        Value tid);

  AttentionGradOp op;
  gpu::GPUModuleOp gpuModule;
  const llvm::StringMap<int64_t> &fixed;
  std::optional<ParamsKernelKind> paramsKind;
  SmallVector<NamedAttribute> specialized;
  std::unique_ptr<KernelBuilder> kb;
  Type mmaType;
  int64_t headDim = 0, valueDim = 0;
  Value batch;
  Value scale, softmaxScale;
  Value theta; // rope's base, null without rope
  // Shared memory: the 16-bit tiles, and the staged rows' lse and D.
  Value qTile, outputGradTile, kTile, vTile, rowLse, rowDelta;
  Value ctaSums; // part "params": sumOverCta's, f64
  // ProgramSums: the score's accumulates' classes, and a tile of terms per PairAffine
  // or Gathered one.
  SmallVector<AccumulateClass> termClasses;
  // ProgramSums with Program terms alone: rows split over kParamsRowSplits CTAs per
  // program, each piece's sums (workspaceSlots of them) in the launch's workspace.
  bool splitRows = false;
  Value workspace;
  int64_t workspaceSlots = 0;
  SmallVector<Value> pairTerms;
  // Gathered: per tile of terms its tile of elements (null for PairAffine), the
  // threads' window sums and the CTA's reductions of elements.
  SmallVector<Value> pairElements;
  Value windowSums, ctaElements;
  int64_t sharedBytes = 0;
  // Lane geometry (see LowerAttentionToNVGPU.cpp's table).
  Value warpRow, g, groupCol2;
  Value aRow, aCol, bRow, bCol, tRow, tCol;
};

AttentionGradKernel::Fragments AttentionGradKernel::zeros(int64_t count) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  Value zero = arith::ConstantOp::create(b, DenseElementsAttr::get(accType, 0.0f));
  return Fragments(count, zero);
}

LogicalResult AttentionGradKernel::prepare() {
  if (failed(checkGpuPart(op)))
    return failure();
  auto types = op.getSpecArgTypes();
  FailureOr<std::pair<int64_t, int64_t>> dims =
      gpuHeadDims(op, types, fixed, specialized, kMaxHeadDim);
  if (failed(dims))
    return failure();
  std::tie(headDim, valueDim) = *dims;
  // Wider than one walk's accumulator, rope's dq and dk are summed in blocks that take
  // both columns of each rotated pair: whole 16-column groups of each half.
  if (findStatement<RopeOp>(op) && headDim > kMaxAccumulatorColumns && headDim % 32 != 0)
    return op.emitOpError("has rope and D = ")
           << headDim << ": the GPU backward needs D a multiple of 32 above D = "
           << kMaxAccumulatorColumns;
  Type element = cast<SpecTensorType>(types[0]).getElementType();
  MLIRContext *ctx = op.getContext();
  // As the forward: f16 specs run in f16, bf16 and f32 specs in bf16.
  mmaType = element.isF16() ? Type(Float16Type::get(ctx)) : Type(BFloat16Type::get(ctx));
  return success();
}

LogicalResult AttentionGradKernel::lower() {
  if (failed(prepare()))
    return failure();
  auto types = op.getSpecArgTypes();
  ArrayRef<Attribute> qDims = cast<SpecTensorType>(types[0]).getDims();
  ArrayRef<Attribute> kDims = cast<SpecTensorType>(types[1]).getDims();
  // Part "params" walks the keys of its rows as part "query" does: pair biases in
  // part "query"'s grid, per-program sums in paramsGrid's (a CTA walks every row).
  bool query = op.isQueryPart() || op.isParamsPart();
  bool programSums = paramsKind == ParamsKernelKind::ProgramSums;
  if (programSums)
    if (auto scoreParams = findStatement<ScoreParamGradOp>(op))
      scoreParams.walk([&](AccumulateOp accumulate) {
        termClasses.push_back(classifyAccumulate(accumulate));
      });
  // rope's theta sums every row after the walk, on the CTA that owns it: no pieces.
  splitRows = programSums && !findStatement<RopeGradOp>(op) &&
              llvm::all_of(termClasses, [](const AccumulateClass &of) {
                return of.kind == TermClass::Program;
              });
  ArrayRef<Attribute> own = query ? qDims : kDims;
  SmallVector<GridDim> grid =
      programSums ? paramsGrid(op)
                  : SmallVector<GridDim>{{own[0], 1}, {own[1], 1}, {own[2], kBlock}};
  if (splitRows)
    grid.push_back(
        {IntegerAttr::get(IntegerType::get(op.getContext(), 64), kParamsRowSplits), 1});
  kb = std::make_unique<KernelBuilder>(op, grid);
  ImplicitLocOpBuilder &b = kb->builder();
  auto workspaceType = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
  if (!programSums)
    batch = kb->gridIndex(0);
  if (splitRows)
    workspace = kb->function().getBody().front().addArgument(workspaceType, op.getLoc());
  static_cast<AttentionGradOperands &>(*this) = readAttentionGradOperands(*kb, op);
  scale = naturalScale(*kb, op, b.getI64IntegerAttr(headDim));
  softmaxScale = scoreScale(*kb, op, b.getI64IntegerAttr(headDim));
  if (RopeOp rope = findStatement<RopeOp>(op))
    theta = kb->inlineRegion(rope.getBody(), {})[0];
  buildGeometry();
  if (programSums)
    lowerProgramSumsPart();
  else if (op.isParamsPart())
    lowerPairParamsPart();
  else if (query)
    lowerQueryPart();
  else
    lowerKeyValuePart();
  auto schedule =
      AttentionScheduleAttr::get(op.getContext(), kBlock, kBlock, 0, 0, kWarps, 1);
  gpu::GPUFuncOp kernel = moveProgramToKernel(
      kb->function(), gpuModule, {kThreads, sharedBytes, schedule, specialized},
      splitRows ? ArrayRef<Type>(workspaceType) : ArrayRef<Type>());
  if (splitRows) {
    // The pieces' sums: kParamsRowSplits x workspaceSlots words per (b, h) (literal
    // batch and head dims folded into the count).
    int64_t words = kParamsRowSplits * workspaceSlots;
    SmallVector<StringAttr> per;
    for (Attribute dim : qDims.take_front(2)) {
      if (auto symbol = dyn_cast<StringAttr>(dim))
        per.push_back(symbol);
      else
        words *= cast<IntegerAttr>(dim).getInt();
    }
    setKernelAbi(kernel, getKernelAbi(kernel).withWorkspace(words, per));
  }
  // .maxnreg 255: without it ptxas settled on fewer registers and spilled in part
  // "key_value" (168 registers and 16 bytes of spills for logit_softcap).
  kernel->setAttr(
      NVVM::NVVMDialect::getMaxnregAttrName(),
      IntegerAttr::get(IntegerType::get(op.getContext(), 32), sm80::kMaxRegisters));
  return success();
}

void AttentionGradKernel::buildGeometry() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(kWarpThreads));
  Value lane = arith::RemUIOp::create(b, tid, idx(kWarpThreads));
  g = arith::DivUIOp::create(b, lane, idx(4));
  Value t = arith::RemUIOp::create(b, lane, idx(4));
  Value lane8 = arith::RemUIOp::create(b, lane, idx(8));
  Value lane16 = arith::RemUIOp::create(b, lane, idx(16));
  Value half16 = mul(arith::DivUIOp::create(b, lane, idx(16)), idx(8));
  Value half8 = mul(
      arith::RemUIOp::create(b, arith::DivUIOp::create(b, lane, idx(8)), idx(2)), idx(8));
  warpRow = mul(warp, idx(kWarpRows));
  groupCol2 = mul(t, idx(2));
  // ldmatrix x4 row addresses: A (16 rows of the warp, column halves by lane / 16); B
  // from rows of the n side (two n-tiles of 8, column halves by (lane / 8) % 2); B
  // from rows of the k side, transposed (k halves by (lane / 8) % 2, n-tiles by
  // lane / 16).
  aRow = add(warpRow, lane16);
  aCol = half16;
  bRow = add(half16, lane8);
  bCol = half8;
  tRow = add(half8, lane8);
  tCol = half16;

  auto shared = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t dim) {
    return MemRefType::get({kBlock, dim + kPad}, mmaType, MemRefLayoutAttrInterface(),
                           shared);
  };
  auto rowsType =
      MemRefType::get({kBlock}, b.getF32Type(), MemRefLayoutAttrInterface(), shared);
  SharedMemoryViews views(b);
  qTile = views.view(tileType(headDim));
  outputGradTile = views.view(tileType(valueDim));
  kTile = views.view(tileType(headDim));
  vTile = views.view(tileType(valueDim));
  rowLse = views.view(rowsType);
  rowDelta = views.view(rowsType);
  if (op.isParamsPart())
    ctaSums = views.view(
        MemRefType::get({kThreads}, b.getF64Type(), MemRefLayoutAttrInterface(), shared));
  // Rows of 65: an owner walks its element's diagonal, row by row. A Gathered
  // accumulate's elements beside its terms; the rows of the threads' window sums
  // padded to an odd length (an owner reads a column of them).
  bool gathers = false;
  for (const AccumulateClass &of : termClasses) {
    if (of.kind != TermClass::PairAffine && of.kind != TermClass::Gathered)
      continue;
    pairTerms.push_back(views.view(MemRefType::get({kBlock, kBlock + 1}, b.getF32Type(),
                                                   MemRefLayoutAttrInterface(), shared)));
    bool gathered = of.kind == TermClass::Gathered;
    gathers |= gathered;
    pairElements.push_back(
        gathered ? views.view(MemRefType::get({kBlock, kBlock}, b.getI64Type(),
                                              MemRefLayoutAttrInterface(), shared))
                 : Value());
  }
  if (gathers) {
    windowSums = views.view(MemRefType::get({kThreads, kGatherWindow + 1}, b.getF32Type(),
                                            MemRefLayoutAttrInterface(), shared));
    ctaElements = views.view(
        MemRefType::get({kThreads}, b.getI64Type(), MemRefLayoutAttrInterface(), shared));
  }
  sharedBytes = views.bytes();
}

void AttentionGradKernel::stageTile(Value src, Value head, Value pos0, Value count,
                                    Value tile, int64_t dim,
                                    SmallVectorImpl<Value> &tokens, bool rotate) {
  auto rotated = [&](Value pos, Value d) {
    return ropeElement(*kb, src, {batch, head}, pos, d, dim, theta);
  };
  stageRows(*kb, kThreads, mmaType, src, {batch, head}, pos0, count, tile, Value(), dim,
            rotate && theta ? function_ref<Value(Value, Value)>(rotated) : nullptr,
            tokens);
}

std::pair<Value, Value> AttentionGradKernel::tileEnd(Value first, Value length) {
  Value end = minIndex(add(first, idx(kBlock)), length);
  return {end, arith::SubIOp::create(kb->builder(), end, idx(1))};
}

void AttentionGradKernel::stageRowStats(Value head, Value pos0, bool withDelta) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  kb->loop(tid, idx(kBlock), idx(kThreads), {}, [&](Value r, ValueRange) {
    Value i = add(pos0, r);
    SmallVector<Value> stats = kb->ifElse(
        ult(i, numN), {f32, f32},
        [&] {
          Value lseLog2 = arith::MulFOp::create(b, kb->loadF32(lse, {batch, head, i}),
                                                kb->f32(kLog2e));
          if (!withDelta)
            return SmallVector<Value>{lseLog2, kb->f32(0.0)};
          Value delta = outputDelta(*kb, *this, batch, head, i, idx(valueDim));
          return SmallVector<Value>{lseLog2, delta};
        },
        [&] {
          return SmallVector<Value>{kb->f32(INFINITY), kb->f32(0.0)};
        });
    memref::StoreOp::create(b, stats[0], rowLse, r);
    memref::StoreOp::create(b, stats[1], rowDelta, r);
    return SmallVector<Value>{};
  });
}

AttentionGradKernel::Fragments
AttentionGradKernel::rowsTimesRowsT(Value aTile, Value bTile, int64_t dim, int64_t first,
                                    int64_t count) {
  Fragments acc = zeros(count / kMmaN);
  for (int64_t kk = 0; kk < dim / kMmaK; ++kk) {
    Value a = ldmatrix(aTile, aRow, add(aCol, idx(kk * kMmaK)), /*transpose=*/false);
    for (int64_t np = 0; np < count / 16; ++np) {
      Value bx4 =
          ldmatrix(bTile, add(bRow, idx(first + np * 16)), add(bCol, idx(kk * kMmaK)),
                   /*transpose=*/false);
      acc[2 * np] = mma(a, warp::fragmentPair(kb->builder(), bx4, 0), acc[2 * np]);
      acc[2 * np + 1] =
          mma(a, warp::fragmentPair(kb->builder(), bx4, 1), acc[2 * np + 1]);
    }
  }
  return acc;
}

void AttentionGradKernel::accumulateProduct(ArrayRef<Value> frags, Value bTile,
                                            ArrayRef<int64_t> groups, Value base,
                                            MutableArrayRef<Value> acc, int64_t first) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto aType = VectorType::get({4, 2}, mmaType);
  for (int64_t kc = 0; kc < static_cast<int64_t>(frags.size()) / 4; ++kc) {
    // The C fragments of n-tiles 2 kc and 2 kc + 1 are the A fragment of k-slice kc:
    // slots (n-tile, row half) (0, 0), (0, 1), (1, 0), (1, 1).
    Value a = arith::ConstantOp::create(b, DenseElementsAttr::get(aType, 0.0f));
    for (int64_t slot = 0; slot < 4; ++slot)
      a = vector::InsertOp::create(b, frags[(2 * kc + slot / 2) * 2 + slot % 2], a,
                                   ArrayRef<int64_t>{slot});
    for (int64_t np = 0; np < static_cast<int64_t>(groups.size()); ++np) {
      Value bx4 =
          ldmatrix(bTile, add(tRow, idx(first + kc * kMmaK)),
                   add(tCol, add(base, idx(groups[np] * 16))), /*transpose=*/true);
      acc[2 * np] = mma(a, warp::fragmentPair(b, bx4, 0), acc[2 * np]);
      acc[2 * np + 1] = mma(a, warp::fragmentPair(b, bx4, 1), acc[2 * np + 1]);
    }
  }
}

void AttentionGradKernel::forEachBlock(const ColumnBlocks &blocks,
                                       function_ref<void(Value base)> walk) {
  if (blocks.count == 1)
    return walk(idx(0));
  kb->loop(idx(0), idx(blocks.count * blocks.step), idx(blocks.step), {},
           [&](Value base, ValueRange) {
             walk(base);
             return SmallVector<Value>{};
           });
}

AttentionGradKernel::OwnBlock AttentionGradKernel::ownBlock(Value first, Value length) {
  ImplicitLocOpBuilder &b = kb->builder();
  OwnBlock own;
  own.first = first;
  std::tie(own.end, own.last) = tileEnd(own.first, length);
  own.warpFirst = add(own.first, warpRow);
  own.warpAny = ult(own.warpFirst, length);
  Value warpEnd = add(own.warpFirst, idx(kWarpRows));
  own.warpLast = arith::SubIOp::create(b, minIndex(warpEnd, length), idx(1));
  own.warpPartial = ult(length, warpEnd);
  return own;
}

AttentionGradKernel::Fragments
AttentionGradKernel::ctaTile(Value head, Value rowFirst, Value rowLast, Value keyFirst,
                             Value keyLast, ValueRange state,
                             function_ref<void(SmallVectorImpl<Value> &tokens)> stage,
                             function_ref<Fragments()> compute) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value run =
      classifyKeyTile(*kb, op, batch, head, rowFirst, rowLast, keyFirst, keyLast).run;
  if (!run)
    run = arith::ConstantIntOp::create(b, b.getI1Type(), 1);
  return kb->ifElse(
      run, TypeRange(state),
      [&]() -> Fragments {
        gpu::BarrierOp::create(b);
        SmallVector<Value> tokens;
        stage(tokens);
        waitAsyncCopies(b, tokens);
        gpu::BarrierOp::create(b);
        return compute();
      },
      [&] { return Fragments(state); });
}

void AttentionGradKernel::storeRows(ArrayRef<Value> acc, Value dst, Value head,
                                    Value rowBase, Value rows, int64_t dim,
                                    ArrayRef<int64_t> groups, Value base, bool rotateBack,
                                    Value source, Value thetaRows) {
  ImplicitLocOpBuilder &b = kb->builder();
  rotateBack &= theta != nullptr;
  assert((!thetaRows || (rotateBack && source)) && "theta's rows need rope and a source");
  int64_t tiles = static_cast<int64_t>(acc.size()), halfTiles = tiles / 2;
  // Fragment nt holds 8 columns of 16-column group groups[nt / 2], from `base`.
  auto firstColumn = [&](int64_t nt) { return groups[nt / 2] * 16 + nt % 2 * kMmaN; };
  Type f32 = b.getF32Type();
  for (int64_t r = 0; r < 2; ++r) {
    Value row = add(add(rowBase, warpRow), add(g, idx(8 * r)));
    Value inRange = ult(row, rows);
    // The row's elements, rotated back, and (thetaRows) its term of theta's gradient.
    SmallVector<std::pair<Value, Value>> elements; // (column, value)
    Value thetaTerm;
    // The row of `source` that theta's terms read: rows past the end read row 0.
    Value sourceRow = thetaRows
                          ? arith::SelectOp::create(b, inRange, row, idx(0)).getResult()
                          : Value();
    auto rowElements = [&] {
      for (int64_t nt = 0; nt < (rotateBack ? halfTiles : tiles); ++nt)
        for (int64_t c = 0; c < 2; ++c) {
          Value column = add(base, add(groupCol2, idx(firstColumn(nt) + c)));
          Value x = vector::ExtractOp::create(b, acc[nt], ArrayRef<int64_t>{r, c});
          if (!rotateBack) {
            elements.push_back({column, x});
            continue;
          }
          assert(firstColumn(nt + halfTiles) == firstColumn(nt) + dim / 2 &&
                 "a block pairs the columns that rope rotates together");
          Value partner =
              vector::ExtractOp::create(b, acc[nt + halfTiles], ArrayRef<int64_t>{r, c});
          Value angle = ropeAngle(*kb, row, column, b.getI64IntegerAttr(dim), theta);
          // The rotation is orthogonal: its transpose rotates by the opposite angle.
          auto [first, second] =
              rotatePair(b, x, partner, arith::NegFOp::create(b, angle));
          Value partnerColumn = add(column, idx(dim / 2));
          elements.append({{column, first}, {partnerColumn, second}});
          if (!thetaRows)
            continue;
          // ropeThetaTerm's cross product of the rotated pair and its gradient is that
          // of the pair before rotation and the gradient rotated back (one rotation of
          // both): q or k as read, and dq or dk as stored.
          Value y1 = kb->loadF32(source, {batch, head, sourceRow, column});
          Value y2 = kb->loadF32(source, {batch, head, sourceRow, partnerColumn});
          Value slope = ropeThetaSlope(*kb, column, b.getI64IntegerAttr(dim), theta);
          Value term = ropeThetaTerm(b, angle, slope, y1, y2, first, second);
          thetaTerm = thetaTerm ? arith::AddFOp::create(b, thetaTerm, term) : term;
        }
    };
    // theta's rows: every lane computes its row's, since the quad's shuffles need all
    // of them; else the elements are computed where they are stored (ptxas allocated
    // registers worse for dk with them computed before the branch: 24 bytes spilled by
    // part "key_value" at D = 128 on sm_90a).
    Value rowTerm;
    if (thetaRows) {
      rowElements();
      rowTerm = warp::quadReduce(b, arith::TruncFOp::create(b, f32, thetaTerm),
                                 /*isMax=*/false);
    }
    kb->ifThen(inRange, [&] {
      if (!thetaRows)
        rowElements();
      for (auto [column, value] : elements)
        kb->storeF32(value, dst, {batch, head, row, column});
      if (!thetaRows)
        return;
      // Lane 4g of the quad stores the row's term, the same bits in every lane.
      Value leader =
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq, groupCol2, idx(0));
      kb->ifThen(leader, [&] {
        if (isConstantIntValue(base, 0))
          return kb->storeF32(rowTerm, thetaRows, {batch, head, row});
        Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, base, idx(0));
        Value earlier = kb->ifElse(
            first, {f32}, [&]() -> SmallVector<Value> { return {kb->f32(0.0)}; },
            [&]() -> SmallVector<Value> {
              return {kb->loadF32(thetaRows, {batch, head, row})};
            })[0];
        kb->storeF32(arith::AddFOp::create(b, earlier, rowTerm), thetaRows,
                     {batch, head, row});
      });
    });
  }
}

AttentionGradKernel::TileGrads AttentionGradKernel::pairGrads(
    ArrayRef<Value> s, ArrayRef<Value> dp, Value head, bool keysAreRows, Value rowBase,
    Value columnBase, int64_t first, bool masked,
    function_ref<Value(Value column, int64_t r, bool lse)> rowStat,
    function_ref<void(const PairAt &at, const PairGradient &pair)> pairWork) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  auto pairType = VectorType::get({2}, f32);
  auto roundedType = VectorType::get({2}, mmaType);
  Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
  TileGrads grads;
  for (int64_t nt = 0; nt < static_cast<int64_t>(s.size()); ++nt)
    for (int64_t r = 0; r < 2; ++r) {
      Value row = add(add(rowBase, warpRow), add(g, idx(8 * r)));
      Value p[2], ds[2];
      for (int64_t c = 0; c < 2; ++c) {
        Value offset = add(groupCol2, idx(first + nt * kMmaN + c));
        Value column = add(columnBase, offset);
        Value i = keysAreRows ? column : row, j = keysAreRows ? row : column;
        auto inRange = [&] {
          return arith::AndIOp::create(b, ult(i, numN), ult(j, numM));
        };
        Value qk = vector::ExtractOp::create(b, s[nt], ArrayRef<int64_t>{r, c});
        Value dpValue = vector::ExtractOp::create(b, dp[nt], ArrayRef<int64_t>{r, c});
        PairGradient pair =
            pairGradient(*kb, op, scale, softmaxScale, b64, h64, kb->toI64(i),
                         kb->toI64(j), qk, dpValue, rowStat(offset, r, /*lse=*/true),
                         rowStat(offset, r, /*lse=*/false), masked, exp2Approx, inRange);
        p[c] = pair.probability;
        ds[c] = pair.dotGrad;
        if (pairWork)
          pairWork(PairAt{i, j, add(warpRow, add(g, idx(8 * r))), offset}, pair);
      }
      auto round = [&](Value x[2]) {
        Value pairValue =
            vector::FromElementsOp::create(b, pairType, ValueRange{x[0], x[1]});
        return arith::TruncFOp::create(b, roundedType, pairValue);
      };
      grads.probabilities.push_back(round(p));
      grads.dotGrads.push_back(round(ds));
    }
  return grads;
}

void AttentionGradKernel::lowerKeyValuePart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value kvHead = kb->gridIndex(1);
  OwnBlock own = ownBlock(mul(kb->gridIndex(2), idx(kBlock)), numM);
  Value keyBegin = own.first, keyEnd = own.end, keyLast = own.last;

  SmallVector<Value> tokens;
  stageTile(k, kvHead, keyBegin, arith::SubIOp::create(b, keyEnd, keyBegin), kTile,
            headDim, tokens, /*rotate=*/true);
  stageTile(v, kvHead, keyBegin, arith::SubIOp::create(b, keyEnd, keyBegin), vTile,
            valueDim, tokens);
  waitAsyncCopies(b, tokens);

  // One walk over the query heads of the group and their tiles of rows: sums the
  // columns `keyBlock` of dk and `valueBlock` of dv (either may be empty), in that order
  // in the state, and stores them.
  auto walk = [&](ArrayRef<int64_t> keyBlock, Value keyBase, ArrayRef<int64_t> valueBlock,
                  Value valueBase, int64_t columns) {
    bool keys = !keyBlock.empty(), values = !valueBlock.empty();
    int64_t keyTiles = 2 * keyBlock.size(), valueTiles = 2 * valueBlock.size();
    Fragments init = zeros(keyTiles + valueTiles);
    SmallVector<Type> stateTypes(init.size(), init.front().getType());
    auto tile = [&](Value head, Value rowBegin, ValueRange st) -> Fragments {
      Value rowEnd, rowLast;
      std::tie(rowEnd, rowLast) = tileEnd(rowBegin, numN);
      auto stage = [&](SmallVectorImpl<Value> &tokens) {
        Value count = arith::SubIOp::create(b, rowEnd, rowBegin);
        stageTile(q, head, rowBegin, count, qTile, headDim, tokens, /*rotate=*/true);
        stageTile(outputGrad, head, rowBegin, count, outputGradTile, valueDim, tokens);
        stageRowStats(head, rowBegin, /*withDelta=*/keys);
      };
      auto compute = [&]() -> Fragments {
        // Rows past N in a last, short tile are dropped by the mask code.
        Value partial = arith::OrIOp::create(b, own.warpPartial,
                                             ult(numN, add(rowBegin, idx(kBlock))));
        KeyTileClass warpClass =
            classifyKeyTile(*kb, op, batch, head, rowBegin, rowLast, own.warpFirst,
                            own.warpLast, own.warpAny, partial);
        return runKeyTile(*kb, warpClass, stateTypes, st, [&](bool masked) {
          auto rowStat = [&](Value column, int64_t, bool isLse) -> Value {
            return memref::LoadOp::create(b, isLse ? rowLse : rowDelta, column);
          };
          Fragments next(st.begin(), st.end());
          MutableArrayRef<Value> state(next);
          // The rows [first, first + columns) of the staged tile.
          for (int64_t first = 0; first < kBlock; first += columns) {
            Fragments sT = rowsTimesRowsT(kTile, qTile, headDim, first, columns);
            // dv reads P alone: without dk, dP^T is not needed (its uses fold away).
            Fragments dpT =
                keys ? rowsTimesRowsT(vTile, outputGradTile, valueDim, first, columns)
                     : zeros(sT.size());
            TileGrads grads = pairGrads(sT, dpT, head, /*keysAreRows=*/true, keyBegin,
                                        rowBegin, first, masked, rowStat);
            if (values)
              accumulateProduct(grads.probabilities, outputGradTile, valueBlock,
                                valueBase, state.take_back(valueTiles), first);
            if (keys)
              accumulateProduct(grads.dotGrads, qTile, keyBlock, keyBase,
                                state.take_front(keyTiles), first);
          }
          return next;
        });
      };
      return ctaTile(head, rowBegin, rowLast, keyBegin, keyLast, st, stage, compute);
    };
    Fragments final = kb->loop(idx(0), group, idx(1), init,
                               [&](Value member, ValueRange perHead) -> Fragments {
                                 Value head = add(mul(kvHead, group), member);
                                 return kb->loop(idx(0), numN, idx(kBlock), perHead,
                                                 [&](Value rowBegin, ValueRange st) {
                                                   return tile(head, rowBegin, st);
                                                 });
                               });
    ArrayRef<Value> state(final);
    if (keys)
      storeRows(state.take_front(keyTiles), kb->resultMemRef(0), kvHead, keyBegin, numM,
                headDim, keyBlock, keyBase, /*rotateBack=*/true, k,
                op.getRopeRows() ? kb->resultMemRef(2) : Value());
    if (values)
      storeRows(state.take_back(valueTiles), kb->resultMemRef(1), kvHead, keyBegin, numM,
                valueDim, valueBlock, valueBase);
  };
  ColumnBlocks keyBlocks = columnBlocks(headDim, theta != nullptr);
  ColumnBlocks valueBlocks = columnBlocks(valueDim, false);
  if (headDim + valueDim <= kOneWalkHeadDims) {
    walk(keyBlocks.groups, idx(0), valueBlocks.groups, idx(0), kBlock);
    return;
  }
  forEachBlock(valueBlocks,
               [&](Value base) { walk({}, Value(), valueBlocks.groups, base, kBlock); });
  // dk's walks hold S^T and dP^T: half a tile of rows at a time.
  forEachBlock(keyBlocks, [&](Value base) {
    walk(keyBlocks.groups, base, {}, Value(), kBlock / 2);
  });
}

void AttentionGradKernel::stageQueryRows(Value head, Value rowBegin, Value rows,
                                         Value (&stats)[2][2]) {
  ImplicitLocOpBuilder &b = kb->builder();
  SmallVector<Value> tokens;
  stageTile(q, head, rowBegin, rows, qTile, headDim, tokens, /*rotate=*/true);
  stageTile(outputGrad, head, rowBegin, rows, outputGradTile, valueDim, tokens);
  stageRowStats(head, rowBegin);
  waitAsyncCopies(b, tokens);
  gpu::BarrierOp::create(b);
  for (int64_t r = 0; r < 2; ++r) {
    Value at = add(warpRow, add(g, idx(8 * r)));
    stats[r][0] = memref::LoadOp::create(b, rowLse, at);
    stats[r][1] = memref::LoadOp::create(b, rowDelta, at);
  }
}

AttentionGradKernel::Fragments AttentionGradKernel::walkKeyTiles(
    Value head, const OwnBlock &own, const Value (&stats)[2][2], ValueRange init,
    function_ref<Fragments(const TileGrads &grads, ValueRange state)> step,
    PairWork pairWork, function_ref<void()> beforeTile,
    function_ref<void(Value keyBegin)> afterTile) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value kvHead = arith::DivUIOp::create(b, head, group);
  SmallVector<Type> stateTypes(init.getTypes());
  return kb->loop(
      idx(0), numM, idx(kBlock), init, [&](Value keyBegin, ValueRange st) -> Fragments {
        Value keyEnd, keyLast;
        std::tie(keyEnd, keyLast) = tileEnd(keyBegin, numM);
        auto stage = [&](SmallVectorImpl<Value> &tokens) {
          Value keys = arith::SubIOp::create(b, keyEnd, keyBegin);
          stageTile(k, kvHead, keyBegin, keys, kTile, headDim, tokens, /*rotate=*/true);
          stageTile(v, kvHead, keyBegin, keys, vTile, valueDim, tokens);
        };
        auto compute = [&]() -> Fragments {
          // Keys past M in a last, short tile are dropped by the mask code.
          Value keysPartial = ult(numM, add(keyBegin, idx(kBlock)));
          KeyTileClass warpClass =
              classifyKeyTile(*kb, op, batch, head, own.warpFirst, own.warpLast, keyBegin,
                              keyLast, own.warpAny, keysPartial);
          if (beforeTile)
            beforeTile();
          Fragments next = runKeyTile(*kb, warpClass, stateTypes, st, [&](bool masked) {
            auto rowStat = [&](Value, int64_t r, bool isLse) {
              return stats[r][isLse ? 0 : 1];
            };
            Fragments state(st.begin(), st.end());
            auto eachPair = [&](const PairAt &at, const PairGradient &pair) {
              pairWork(at, pair, state);
            };
            Fragments s = rowsTimesRowsT(qTile, kTile, headDim);
            Fragments dp = rowsTimesRowsT(outputGradTile, vTile, valueDim);
            TileGrads grads = pairGrads(
                s, dp, head, /*keysAreRows=*/false, own.first, keyBegin, /*first=*/0,
                masked, rowStat,
                pairWork
                    ? function_ref<void(const PairAt &, const PairGradient &)>(eachPair)
                    : nullptr);
            return step(grads, state);
          });
          if (afterTile)
            afterTile(keyBegin);
          return next;
        };
        return ctaTile(head, own.first, own.last, keyBegin, keyLast, st, stage, compute);
      });
}

void AttentionGradKernel::lowerQueryPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value head = kb->gridIndex(1);
  OwnBlock own = ownBlock(mul(kb->gridIndex(2), idx(kBlock)), numN);
  Value stats[2][2];
  stageQueryRows(head, own.first, arith::SubIOp::create(b, own.end, own.first), stats);
  // dq a block of columns per walk over the keys (all of them up to D = 128).
  ColumnBlocks blocks = columnBlocks(headDim, theta != nullptr);
  forEachBlock(blocks, [&](Value base) {
    Fragments final = walkKeyTiles(head, own, stats, zeros(2 * blocks.groups.size()),
                                   [&](const TileGrads &grads, ValueRange st) {
                                     Fragments next(st.begin(), st.end());
                                     accumulateProduct(grads.dotGrads, kTile,
                                                       blocks.groups, base, next);
                                     return next;
                                   });
    storeRows(final, kb->resultMemRef(0), head, own.first, numN, headDim, blocks.groups,
              base, /*rotateBack=*/true, q,
              op.getRopeRows() ? kb->resultMemRef(1) : Value());
  });
}

void AttentionGradKernel::lowerPairParamsPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  Value head = kb->gridIndex(1);
  OwnBlock own = ownBlock(mul(kb->gridIndex(2), idx(kBlock)), numN);
  SmallVector<SmallVector<unsigned>> owners = *pairOwnedParams(op);
  Region &terms = findStatement<ScoreParamGradOp>(op).getBody();

  // The CTA's elements of each param, (batch, head, its rows, every key), start at 0
  // (stageQueryRows's barrier orders this before any thread adds to them): a key tile
  // the mask skips leaves its pairs' elements so.
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value rows = arith::SubIOp::create(b, own.end, own.first);
  for (unsigned position = 0; position < owners.size(); ++position) {
    Value out = kb->resultMemRef(position);
    ArrayRef<unsigned> owner = owners[position];
    if (owner.empty())
      continue; // rope's theta, below
    kb->loop(tid, mul(rows, numM), idx(kThreads), {}, [&](Value e, ValueRange) {
      Value coordinates[4] = {batch, head,
                              add(own.first, arith::DivUIOp::create(b, e, numM)),
                              arith::RemUIOp::create(b, e, numM)};
      SmallVector<Value> at;
      for (unsigned argument : owner)
        at.push_back(coordinates[argument]);
      memref::StoreOp::create(b, kb->f32(0.0), out, at);
      return SmallVector<Value>{};
    });
  }

  Value stats[2][2];
  stageQueryRows(head, own.first, rows, stats);
  Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
  // Each pair's terms, into its own element (the region's reads check bounds).
  walkKeyTiles(
      head, own, stats, {}, [](const TileGrads &, ValueRange) { return Fragments{}; },
      [&](const PairAt &at, const PairGradient &pair, Fragments &) {
        inlineParamGradRegion(
            *kb, terms,
            {b64, h64, kb->toI64(at.i), kb->toI64(at.j), pair.scaled, pair.scoreGrad},
            [&](unsigned argument) { return paramsPartTarget(*kb, op, argument); });
      });

  // rope's theta (a scalar) sums every row of rope_rows: the grid's first CTA, after
  // its walk, from 0.
  RopeGradOp ropeGrad = findStatement<RopeGradOp>(op);
  if (!ropeGrad)
    return;
  auto isZero = [&](Value index) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, index, idx(0));
  };
  Value first = arith::AndIOp::create(
      b, isZero(kb->gridIndex(0)),
      arith::AndIOp::create(b, isZero(kb->gridIndex(1)), isZero(kb->gridIndex(2))));
  kb->ifThen(first, [&] {
    onCtaLeader(*kb, tid, [&] {
      ArrayRef<int64_t> params = op.getParamArgs();
      for (unsigned position = 0; position < owners.size(); ++position)
        if (owners[position].empty()) {
          ParamGradTarget target = paramsPartTarget(*kb, op, params[position]);
          memref::StoreOp::create(b, kb->f32(0.0), target.memref, target.prefix);
        }
    });
    addRopeRowsGradient(*kb, op, ropeGrad, ctaSums, tid);
  });
}

void AttentionGradKernel::lowerProgramSumsPart() {
  ImplicitLocOpBuilder &b = kb->builder();
  auto scoreParams = findStatement<ScoreParamGradOp>(op);
  auto scaleParams = findStatement<ScaleGradOp>(op);
  auto sinkParams = findStatement<SinkGradOp>(op);
  SinkOp sink = findStatement<SinkOp>(op);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i64 = b.getI64Type();
  Value zero64 = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  auto targetOf = [&](unsigned argument) { return paramsPartTarget(*kb, op, argument); };

  // The slices the CTA owns start at 0 (thread 0 writes them; the others add to them
  // after stageQueryRows's barrier, thread 0 after sumOverCta's). Split rows: the CTA
  // that sums the pieces zeroes them, below.
  ParamsProgram program = readParamsProgram(*kb, op);
  if (!splitRows)
    zeroOwnedSlices(*kb, op, program, tid);

  // The score's tmix.accumulate ops, in region order, and where each keeps its terms:
  // a TermClass::Program one in the walk's state (a sum per thread), a PairAffine or
  // Gathered one in its tile of shared memory (pairTerms). The scale's sum follows the
  // Program ones; split rows add the sink's (each thread's rows of it) after them.
  SmallVector<AccumulateOp> accumulates;
  if (scoreParams)
    scoreParams.walk([&](AccumulateOp accumulate) { accumulates.push_back(accumulate); });
  SmallVector<unsigned> slotOf;
  unsigned numSums = 0, numTiles = 0;
  for (const AccumulateClass &of : termClasses)
    slotOf.push_back(of.kind == TermClass::Program ? numSums++ : numTiles++);
  if (scaleParams)
    ++numSums;
  // A Gathered accumulate's extent along its pair dim, read once (by tile slot).
  SmallVector<Value> gatheredExtents(numTiles);
  for (auto [k, accumulate] : llvm::enumerate(accumulates))
    if (termClasses[k].kind == TermClass::Gathered) {
      ParamGradTarget target = targetOf(accumulate.getTargetArgument());
      gatheredExtents[slotOf[k]] = kb->toI64(memref::DimOp::create(
          b, target.memref, target.prefix.size() + termClasses[k].pairDim));
    }
  unsigned scaleSlot = numSums - 1, sinkSlot = numSums;
  bool sinkInState = splitRows && sinkParams;
  workspaceSlots = numSums + (sinkInState ? 1 : 0);
  Value one = idx(1);

  // One flat loop over (b, h, tile of rows), in that order: nested loops kept some 25
  // more registers live across them (ptxas spilled), as LLVM derived values of their
  // induction variables; divisions of one index give it none. The first tile of a
  // (b, h) runs the sink's rows and starts the sums, its last adds their totals (the
  // branches are the same for every thread). Split rows: the CTA walks its piece of
  // the program's tiles, [split * tiles / splits, (split + 1) * tiles / splits), and
  // a piece of a (b, h) starts and ends its sums where the range does too.
  Value batches = arith::SubIOp::create(b, program.end[0], program.begin[0]);
  Value heads = arith::SubIOp::create(b, program.end[1], program.begin[1]);
  Value rowTiles = arith::CeilDivUIOp::create(b, numN, idx(kBlock));
  Value perBatch = mul(heads, rowTiles);
  Value programTiles = mul(batches, perBatch);
  Value splits = idx(kParamsRowSplits);
  Value split, rangeBegin = idx(0), rangeEnd = programTiles, programIndex, blocks;
  if (splitRows) {
    split = kb->gridIndex(kb->numGridDims() - 1);
    rangeBegin = arith::DivUIOp::create(b, mul(split, programTiles), splits);
    rangeEnd = arith::DivUIOp::create(b, mul(add(split, one), programTiles), splits);
    programIndex =
        arith::DivUIOp::create(b, gpu::BlockIdOp::create(b, gpu::Dimension::x), splits);
    blocks = gpu::GridDimOp::create(b, gpu::Dimension::x);
  }
  Value groups = mul(batches, heads);
  // The workspace word of a piece's slot: after a counter per CTA, the slots of
  // (program, group of the program (b, h), split).
  auto slotWord = [&](Value group, Value piece, unsigned slot) {
    Value row = add(mul(add(mul(programIndex, groups), group), splits), piece);
    return add(blocks, add(mul(row, idx(workspaceSlots)), idx(slot)));
  };
  // Each accumulate's element at (b, h) and i = j = 0: a Program one's element, and
  // a PairAffine one's other indices and its c.
  auto elementsAt = [&](Value b64, Value h64) {
    SmallVector<SmallVector<Value>> elementAt;
    if (scoreParams) {
      Value zero32 = kb->f32(0.0), zeroI64 = arith::ConstantIntOp::create(b, i64, 0);
      inlineParamGradTerms(*kb, scoreParams.getBody(),
                           {b64, h64, zeroI64, zeroI64, zero32, zero32},
                           [&](AccumulateOp, Value, ValueRange indices) {
                             elementAt.emplace_back(indices.begin(), indices.end());
                           });
    }
    return elementAt;
  };
  auto addSinkTotal = [&](Value b64, Value h64, Value total) {
    Value negated = arith::NegFOp::create(b, arith::TruncFOp::create(b, f32, total));
    inlineParamGradRegion(*kb, sinkParams.getBody(), {b64, h64, negated}, targetOf);
  };
  auto walkTile = [&](Value index, ValueRange carried) -> Fragments {
    Value group = arith::DivUIOp::create(b, index, rowTiles);
    batch = add(program.begin[0], arith::DivUIOp::create(b, index, perBatch));
    Value head = add(program.begin[1], arith::RemUIOp::create(b, group, heads));
    Value rowTile = arith::RemUIOp::create(b, index, rowTiles);
    Value rowBegin = mul(rowTile, idx(kBlock));
    Value firstTile = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rowTile, idx(0));
    Value lastTile = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rowTile,
                                           arith::SubIOp::create(b, rowTiles, one));
    Value pieceStarts = firstTile, pieceEnds = lastTile;
    if (splitRows) {
      pieceStarts = arith::OrIOp::create(
          b, firstTile,
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq, index, rangeBegin));
      pieceEnds = arith::OrIOp::create(
          b, lastTile,
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq, index,
                                arith::SubIOp::create(b, rangeEnd, one)));
    }
    Value b64 = kb->toI64(batch), h64 = kb->toI64(head);
    auto noResults = [] { return SmallVector<Value>{}; };
    // The sink's rows: summed and added at once, or (split rows) each thread's share
    // kept in the state, 0 in the (b, h)'s other pieces.
    Value sinkShare;
    if (sinkParams && !splitRows)
      kb->ifElse(
          firstTile, {},
          [&] {
            Value own = sinkRowsTerm(*kb, *this, sink, batch, head, idx(valueDim), tid);
            Value total =
                sumOverCta(*kb, ctaSums, tid, arith::ExtFOp::create(b, f64, own));
            onCtaLeader(*kb, tid, [&] { addSinkTotal(b64, h64, total); });
            return SmallVector<Value>{};
          },
          noResults);
    if (sinkInState)
      sinkShare = kb->ifElse(
          firstTile, {f64},
          [&]() -> SmallVector<Value> {
            return {arith::ExtFOp::create(
                b, f64, sinkRowsTerm(*kb, *this, sink, batch, head, idx(valueDim), tid))};
          },
          [&]() -> SmallVector<Value> { return {zero64}; })[0];
    if (numSums == 0 && numTiles == 0 && !sinkInState)
      return Fragments(carried);
    // Split rows add their totals in sumPieces, which reads the elements itself.
    SmallVector<SmallVector<Value>> elementAt;
    if (!splitRows)
      elementAt = elementsAt(b64, h64);
    // The sums start at 0 on a piece's first tile; the scale's total runs on.
    Fragments st;
    for (unsigned slot = 0; slot < numSums; ++slot)
      st.push_back(arith::SelectOp::create(b, pieceStarts, zero64, carried[slot]));
    if (sinkInState)
      st.push_back(arith::SelectOp::create(b, pieceStarts, sinkShare, carried[sinkSlot]));

    // Every warp is done with the last tile of rows before the next is staged.
    gpu::BarrierOp::create(b);
    OwnBlock own = ownBlock(rowBegin, numN);
    Value stats[2][2];
    stageQueryRows(head, rowBegin, arith::SubIOp::create(b, own.end, own.first), stats);
    auto pairWork = [&](const PairAt &at, const PairGradient &pair, Fragments &state) {
      auto addTo = [&](Value &sum, Value term) {
        sum = arith::AddFOp::create(b, sum, arith::ExtFOp::create(b, f64, term));
      };
      unsigned term = 0;
      if (scoreParams)
        inlineParamGradTerms(
            *kb, scoreParams.getBody(),
            {b64, h64, kb->toI64(at.i), kb->toI64(at.j), pair.scaled, pair.scoreGrad},
            [&](AccumulateOp, Value value, ValueRange indices) {
              unsigned slot = slotOf[term];
              const AccumulateClass &of = termClasses[term++];
              if (of.kind == TermClass::Program) {
                addTo(state[slot], value);
                return;
              }
              Value tileAt[] = {at.tileRow, at.tileColumn};
              memref::StoreOp::create(b, value, pairTerms[slot], tileAt);
              if (of.kind == TermClass::Gathered)
                memref::StoreOp::create(
                    b, gatheredElement(indices[of.pairDim], gatheredExtents[slot]),
                    pairElements[slot], tileAt);
            });
      if (scaleParams)
        addTo(state[scaleSlot], pair.scaleTerm);
    };
    // A warp that skips a tile leaves its pairs' terms at 0: each thread zeroes its
    // own before the warp's class decides.
    // A Gathered accumulate's elements there are kNoElement (none).
    auto beforeTile = [&] {
      Value none = arith::ConstantIntOp::create(b, i64, kNoElement);
      for (auto [tile, elements] : llvm::zip(pairTerms, pairElements))
        for (int64_t nt = 0; nt < kBlock / kMmaN; ++nt)
          for (int64_t r = 0; r < 2; ++r)
            for (int64_t c = 0; c < 2; ++c) {
              Value at[] = {add(warpRow, add(g, idx(8 * r))),
                            add(groupCol2, idx(nt * kMmaN + c))};
              memref::StoreOp::create(b, kb->f32(0.0), tile, at);
              if (elements)
                memref::StoreOp::create(b, none, elements, at);
            }
    };
    auto afterTile = [&](Value keyBegin) {
      gpu::BarrierOp::create(b);
      for (auto [k, accumulate] : llvm::enumerate(accumulates)) {
        TermClass kind = termClasses[k].kind;
        if (kind == TermClass::PairAffine)
          addPairAffineTerms(termClasses[k], pairTerms[slotOf[k]], elementAt[k],
                             targetOf(accumulate.getTargetArgument()), rowBegin, keyBegin,
                             tid);
        else if (kind == TermClass::Gathered)
          addGatheredTerms(termClasses[k], pairTerms[slotOf[k]], pairElements[slotOf[k]],
                           elementAt[k], targetOf(accumulate.getTargetArgument()), tid);
        else
          continue;
        // The next accumulate's owners may add to the same elements.
        gpu::BarrierOp::create(b);
      }
    };
    Fragments sums =
        numSums + numTiles == 0
            ? st
            : walkKeyTiles(
                  head, own, stats, st,
                  [](const TileGrads &, ValueRange state) { return Fragments(state); },
                  pairWork, numTiles ? function_ref<void()>(beforeTile) : nullptr,
                  numTiles ? function_ref<void(Value)>(afterTile) : nullptr);
    if (splitRows) {
      // The piece's last tile: its sums over the CTA, stored by thread 0 in its slots.
      kb->ifElse(
          pieceEnds, {},
          [&] {
            SmallVector<Value> totals;
            for (Value sum : sums)
              totals.push_back(sumOverCta(*kb, ctaSums, tid, sum));
            onCtaLeader(*kb, tid, [&] {
              for (auto [slot, total] : llvm::enumerate(totals))
                memref::StoreOp::create(
                    b, arith::BitcastOp::create(b, i64, total), workspace,
                    slotWord(group, split, static_cast<unsigned>(slot)));
            });
            return SmallVector<Value>{};
          },
          noResults);
      return sums;
    }
    if (numSums == 0)
      return Fragments(carried);
    // The last tile of a (b, h): the sums over the CTA, the Program elements' totals by
    // thread 0 at their elements, and the scale's into its total.
    Fragments ended = kb->ifElse(
        lastTile, TypeRange(ValueRange(carried)),
        [&]() -> Fragments {
          SmallVector<Value> totals;
          for (Value sum : sums)
            totals.push_back(sumOverCta(*kb, ctaSums, tid, sum));
          onCtaLeader(*kb, tid, [&] {
            for (auto [k, accumulate] : llvm::enumerate(accumulates))
              if (termClasses[k].kind == TermClass::Program)
                addParamGradTerm(*kb, targetOf(accumulate.getTargetArgument()),
                                 elementAt[k], totals[slotOf[k]]);
          });
          Fragments next(sums);
          if (scaleParams)
            next.push_back(arith::AddFOp::create(b, carried[numSums], totals.back()));
          return next;
        },
        [&]() -> Fragments {
          Fragments next(sums);
          if (scaleParams)
            next.push_back(carried[numSums]);
          return next;
        });
    return ended;
  };

  if (splitRows) {
    // The state: each piece's sums (no total runs over the pieces).
    kb->loop(rangeBegin, rangeEnd, one, Fragments(workspaceSlots, zero64), walkTile);
    sumPieces(
        program, groups, rowTiles, programTiles, programIndex, slotWord, tid,
        [&](Value b64, Value h64, ArrayRef<Value> totals, Value &scaleTotal) {
          if (sinkParams)
            addSinkTotal(b64, h64, totals[sinkSlot]);
          SmallVector<SmallVector<Value>> elementAt = elementsAt(b64, h64);
          for (auto [k, accumulate] : llvm::enumerate(accumulates))
            addParamGradTerm(*kb, targetOf(accumulate.getTargetArgument()), elementAt[k],
                             totals[slotOf[k]]);
          if (scaleParams)
            scaleTotal = arith::AddFOp::create(b, scaleTotal, totals[scaleSlot]);
        },
        [&](Value scaleTotal) {
          if (scaleParams)
            inlineParamGradRegion(*kb, scaleParams.getBody(),
                                  {arith::TruncFOp::create(b, f32, scaleTotal)},
                                  targetOf);
        });
    return;
  }
  // The state: the sums, then the scale's total over the program.
  Fragments init(numSums, zero64);
  if (scaleParams)
    init.push_back(zero64);
  Fragments final = kb->loop(idx(0), programTiles, one, init, walkTile);
  // The scale's gradient: the sum over every pair of the program, once.
  if (scaleParams)
    onCtaLeader(*kb, tid, [&] {
      inlineParamGradRegion(*kb, scaleParams.getBody(),
                            {arith::TruncFOp::create(b, f32, final.back())}, targetOf);
    });
  // rope's theta (rope_rows; one program, paramsGrid's, as theta reads no b or h): the
  // rows' terms that parts "key_value" and "query" stored.
  if (auto ropeGrad = findStatement<RopeGradOp>(op))
    addRopeRowsGradient(*kb, op, ropeGrad, ctaSums, tid);
}

void AttentionGradKernel::sumPieces(
    const ParamsProgram &program, Value groups, Value rowTiles, Value programTiles,
    Value programIndex,
    function_ref<Value(Value group, Value piece, unsigned slot)> slotWord, Value tid,
    function_ref<void(Value b64, Value h64, ArrayRef<Value> totals, Value &scaleTotal)>
        addTotals,
    function_ref<void(Value scaleTotal)> addScaleTotal) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f64 = b.getF64Type(), i64 = b.getI64Type();
  Value zero64 = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
  Value one = idx(1), splits = idx(kParamsRowSplits);
  // Thread 0, which stored the CTA's slots, counts it in; the last of the program's
  // CTAs sums. A fence before the count and one after it (PTX's release and acquire
  // patterns around a relaxed atom.add) make every slot stored before a count visible
  // to the CTA that counts last.
  onCtaLeader(*kb, tid, [&] {
    Value last = countCtaIn(b, workspace, programIndex, kParamsRowSplits);
    kb->ifElse(
        last, {},
        [&] {
          gpuFence(b);
          // Thread 0 alone: no other thread of this CTA writes the slices.
          zeroOwnedSlices(*kb, op, program, tid);
          Value heads = arith::SubIOp::create(b, program.end[1], program.begin[1]);
          // Group by group in order; in each, the pieces of the splits whose ranges
          // meet its tiles [first, last], in split order: tile x lies in split
          // floor(((x + 1) * splits - 1) / tiles) (the last whose range starts at or
          // before x; the empty ones before it start there too).
          auto splitOf = [&](Value tile) {
            return arith::DivUIOp::create(
                b, arith::SubIOp::create(b, mul(add(tile, one), splits), one),
                programTiles);
          };
          Value scaleTotal = kb->loop(
              idx(0), groups, one, {zero64},
              [&](Value group, ValueRange carried) -> SmallVector<Value> {
                Value first = mul(group, rowTiles);
                Value lastTile = arith::SubIOp::create(b, add(first, rowTiles), one);
                SmallVector<Value> totals =
                    kb->loop(splitOf(first), add(splitOf(lastTile), one), one,
                             SmallVector<Value>(workspaceSlots, zero64),
                             [&](Value piece, ValueRange sums) -> SmallVector<Value> {
                               SmallVector<Value> next;
                               for (auto [slot, sum] : llvm::enumerate(sums)) {
                                 Value word = memref::LoadOp::create(
                                     b, workspace,
                                     slotWord(group, piece, static_cast<unsigned>(slot)));
                                 next.push_back(arith::AddFOp::create(
                                     b, sum, arith::BitcastOp::create(b, f64, word)));
                               }
                               return next;
                             });
                Value batch =
                    add(program.begin[0], arith::DivUIOp::create(b, group, heads));
                Value head =
                    add(program.begin[1], arith::RemUIOp::create(b, group, heads));
                Value total = carried[0];
                addTotals(kb->toI64(batch), kb->toI64(head), totals, total);
                return {total};
              })[0];
          addScaleTotal(scaleTotal);
          return SmallVector<Value>{};
        },
        [] { return SmallVector<Value>{}; });
  });
}

Value AttentionGradKernel::gatheredElement(Value index, Value extent) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value inside = arith::AndIOp::create(
      b,
      arith::CmpIOp::create(b, arith::CmpIPredicate::sge, index,
                            arith::ConstantIntOp::create(b, b.getI64Type(), 0)),
      arith::CmpIOp::create(b, arith::CmpIPredicate::slt, index, extent));
  return arith::SelectOp::create(
      b, inside, index, arith::ConstantIntOp::create(b, b.getI64Type(), kNoElement));
}

void AttentionGradKernel::addGatheredTerms(const AccumulateClass &of, Value tile,
                                           Value elements,
                                           ArrayRef<Value> elementAtOrigin,
                                           const ParamGradTarget &target, Value tid) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, i64, v).getResult();
  };
  Value none = constant(kNoElement);
  // Thread t's entries of the tile: k = t + kThreads m (row-major), m in order.
  constexpr int64_t kEntries = kBlock * kBlock / kThreads;
  auto entry = [&](Value m) -> std::pair<Value, Value> {
    Value k = add(tid, mul(m, idx(kThreads)));
    return {arith::DivUIOp::create(b, k, idx(kBlock)),
            arith::RemUIOp::create(b, k, idx(kBlock))};
  };
  // The tile's lowest and highest elements (those of the pairs walked).
  Fragments bounds = kb->loop(
      idx(0), idx(kEntries), idx(1),
      {none, constant(std::numeric_limits<int64_t>::min())},
      [&](Value m, ValueRange range) -> Fragments {
        auto [row, column] = entry(m);
        Value e = memref::LoadOp::create(b, elements, ValueRange{row, column});
        Value walked = arith::CmpIOp::create(b, arith::CmpIPredicate::ne, e, none);
        return {arith::MinSIOp::create(b, range[0], e),
                arith::SelectOp::create(b, walked, arith::MaxSIOp::create(b, range[1], e),
                                        range[1])};
      });
  Value lowest = reduceOverCta(*kb, ctaElements, tid, bounds[0], [&](Value x, Value y) {
    return arith::MinSIOp::create(b, x, y).getResult();
  });
  Value highest = reduceOverCta(*kb, ctaElements, tid, bounds[1], [&](Value x, Value y) {
    return arith::MaxSIOp::create(b, x, y).getResult();
  });
  // Windows of kGatherWindow elements from the lowest (none when no pair was walked).
  Value windows = arith::SelectOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::sle, lowest, highest),
      arith::AddIOp::create(
          b,
          arith::DivUIOp::create(b, arith::SubIOp::create(b, highest, lowest),
                                 constant(kGatherWindow)),
          constant(1)),
      constant(0));
  kb->loop(idx(0), kb->toIndex(windows), idx(1), {}, [&](Value window, ValueRange) {
    Value base = arith::AddIOp::create(
        b, lowest, arith::MulIOp::create(b, kb->toI64(window), constant(kGatherWindow)));
    // The thread's row: its entries in the window, summed in order.
    for (int64_t w = 0; w < kGatherWindow; ++w)
      memref::StoreOp::create(b, kb->f32(0.0), windowSums, ValueRange{tid, idx(w)});
    kb->loop(idx(0), idx(kEntries), idx(1), {}, [&](Value m, ValueRange) {
      Value row, column; // (C++17: no captures of structured bindings)
      std::tie(row, column) = entry(m);
      Value offset = arith::SubIOp::create(
          b, memref::LoadOp::create(b, elements, ValueRange{row, column}), base);
      // Unsigned: below the window is past it, and so is kNoElement.
      Value inWindow = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, offset,
                                             constant(kGatherWindow));
      kb->ifElse(
          inWindow, {},
          [&] {
            Value at[] = {tid, kb->toIndex(offset)};
            Value sum = arith::AddFOp::create(
                b, memref::LoadOp::create(b, windowSums, at),
                memref::LoadOp::create(b, tile, ValueRange{row, column}));
            memref::StoreOp::create(b, sum, windowSums, at);
            return Fragments{};
          },
          [] { return Fragments{}; });
      return Fragments{};
    });
    gpu::BarrierOp::create(b);
    // Element base + t: the rows' column t summed in thread order, by thread t.
    Value element = arith::AddIOp::create(b, base, kb->toI64(tid));
    Value owner = arith::AndIOp::create(
        b, ult(tid, idx(kGatherWindow)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::sle, element, highest));
    kb->ifElse(
        owner, {},
        [&] {
          Value sum = kb->loop(
              idx(0), idx(kThreads), idx(1), {kb->f32(0.0)},
              [&](Value thread, ValueRange acc) -> Fragments {
                return {arith::AddFOp::create(
                    b, acc[0],
                    memref::LoadOp::create(b, windowSums, ValueRange{thread, tid}))};
              })[0];
          SmallVector<Value> at(elementAtOrigin);
          at[of.pairDim] = element;
          addParamGradTerm(*kb, target, at, sum);
          return Fragments{};
        },
        [] { return Fragments{}; });
    // Every owner has read the rows before they are zeroed for the next window.
    gpu::BarrierOp::create(b);
    return Fragments{};
  });
}

void AttentionGradKernel::addPairAffineTerms(const AccumulateClass &of, Value tile,
                                             ArrayRef<Value> elementAtOrigin,
                                             const ParamGradTarget &target,
                                             Value rowBegin, Value keyBegin, Value tid) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, i64, v).getResult();
  };
  auto plus = [&](Value x, Value y) {
    return arith::AddIOp::create(b, x, y).getResult();
  };
  auto minus = [&](Value x, Value y) {
    return arith::SubIOp::create(b, x, y).getResult();
  };
  auto times = [&](Value x, int64_t f) {
    return arith::MulIOp::create(b, x, constant(f)).getResult();
  };
  auto max = [&](Value x, Value y) {
    return arith::MaxSIOp::create(b, x, y).getResult();
  };
  auto min = [&](Value x, Value y) {
    return arith::MinSIOp::create(b, x, y).getResult();
  };
  int64_t a = of.affine.row, bj = of.affine.key;
  Value c = elementAtOrigin[of.pairDim];
  Value i0 = kb->toI64(rowBegin), j0 = kb->toI64(keyBegin);
  // The tile's elements run between its corners' e = a i + b j + c.
  auto element = [&](int64_t di, int64_t dj) {
    return plus(plus(times(plus(i0, constant(di)), a), times(plus(j0, constant(dj)), bj)),
                c);
  };
  Value lowest = element(0, 0), highest = lowest;
  for (auto [di, dj] : {std::pair<int64_t, int64_t>{0, kBlock - 1},
                        {kBlock - 1, 0},
                        {kBlock - 1, kBlock - 1}}) {
    Value corner = element(di, dj);
    lowest = min(lowest, corner);
    highest = max(highest, corner);
  }
  Value count = kb->toIndex(plus(minus(highest, lowest), constant(1)));
  Value last = constant(kBlock - 1);
  kb->loop(tid, count, idx(kThreads), {}, [&](Value o, ValueRange) {
    Value e = plus(lowest, kb->toI64(o));
    Value offset = minus(e, c); // a i + b j
    // Its terms in the tile, one per row (per key where b = 0), in order: the tile's
    // column (row) of row (key) x is start - step x, for x in [first, end).
    Value start, first = constant(0), end = constant(kBlock);
    int64_t step = 0;
    if (bj != 0) {
      // j = b (e - c - a i) at i = i0 + x: column b (offset - a i0) - j0 - a b x.
      start = minus(times(minus(offset, times(i0, a)), bj), j0);
      step = a * bj;
      if (step > 0) { // 0 <= start - step x <= 63
        first = arith::CeilDivSIOp::create(b, minus(start, last), constant(step));
        end = plus(arith::FloorDivSIOp::create(b, start, constant(step)), constant(1));
      } else if (step < 0) { // 0 <= start + |step| x <= 63
        first = arith::CeilDivSIOp::create(b, minus(constant(0), start), constant(-step));
        end = plus(arith::FloorDivSIOp::create(b, minus(last, start), constant(-step)),
                   constant(1));
      } else { // a = 0: column start on every row, if in the tile
        Value inTile = arith::AndIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, start, constant(0)),
            arith::CmpIOp::create(b, arith::CmpIPredicate::sle, start, last));
        end = arith::SelectOp::create(b, inTile, end, constant(0));
      }
    } else {
      // i = a (e - c): row a offset - i0 on every key, if in the tile.
      start = minus(times(offset, a), i0);
      Value inTile = arith::AndIOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, start, constant(0)),
          arith::CmpIOp::create(b, arith::CmpIPredicate::sle, start, last));
      end = arith::SelectOp::create(b, inTile, end, constant(0));
    }
    first = max(first, constant(0));
    end = max(min(end, constant(kBlock)), first);
    Value sum = kb->loop(kb->toIndex(first), kb->toIndex(end), idx(1), {kb->f32(0.0)},
                         [&](Value x, ValueRange acc) -> Fragments {
                           Value other =
                               kb->toIndex(minus(start, times(kb->toI64(x), step)));
                           Value at[2] = {x, other};
                           if (bj == 0)
                             std::swap(at[0], at[1]);
                           Value term = memref::LoadOp::create(b, tile, ValueRange(at));
                           return {arith::AddFOp::create(b, acc[0], term)};
                         })[0];
    SmallVector<Value> at(elementAtOrigin);
    at[of.pairDim] = e;
    addParamGradTerm(*kb, target, at, sum);
    return SmallVector<Value>{};
  });
}

struct LowerAttentionGradToNVGPU
    : tmix::impl::LowerAttentionGradToNVGPUBase<LowerAttentionGradToNVGPU> {
  using LowerAttentionGradToNVGPUBase::LowerAttentionGradToNVGPUBase;
  void runOnOperation() override {
    // Each part's tile program, matched, then its part emitted as an mma.sync kernel
    // valid on both chips (its form is checked under sm_80's name).
    ModuleOp module = getOperation();
    FailureOr<int64_t> lowered = lowerProgramsToKernels<tile::AttentionGradProgramOp>(
        module, specialize, getSm80TargetInfo(), /*reportEvery=*/false,
        [](const AttentionGradProgramForm &form, gpu::GPUModuleOp gpuModule,
           const llvm::StringMap<int64_t> &fixed) {
          return AttentionGradKernel(form.spec, gpuModule, fixed).lower();
        });
    if (failed(lowered))
      return signalPassFailure();
    numLowered += *lowered;
    // What is left has no program: part "params" (ParamGradKernel.h), or a part that
    // the GPUs do not run.
    for (AttentionGradOp grad : llvm::to_vector(module.getOps<AttentionGradOp>())) {
      if (failed(checkGpuPart(grad)))
        return signalPassFailure();
      std::string why;
      FailureOr<ParamsKernelKind> kind = gpuParamsKernel(grad, why);
      if (failed(kind)) {
        grad.emitOpError(why);
        return signalPassFailure();
      }
      FailureOr<KernelModule> kernels = prepareKernelModule(module, specialize);
      if (failed(kernels))
        return signalPassFailure();
      // A sink's or rope's alone: sums over rows; else part "query"'s walk.
      if (*kind == ParamsKernelKind::RowSums
              ? failed(lowerRowSumsKernel(grad, kernels->gpuModule))
              : failed(
                    AttentionGradKernel(grad, kernels->gpuModule, kernels->fixed, *kind)
                        .lower()))
        return signalPassFailure();
      grad.erase();
      ++numLowered;
    }
  }
};

} // namespace
