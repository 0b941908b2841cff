//===- LowerAttentionToNVGPU.cpp - tmix.attention to an sm_80 tensor-core kernel -===//
//
// One CTA per (batch, head, query tile of 64 rows): 4 warps, each owning 16 query rows.
// The query tile and then each KV tile (block_n keys: 64, or 128) are staged through
// shared memory as the MMA element type (bf16, or f16 for f16 specs), rows padded by 8
// elements so that the eight row addresses of an ldmatrix fall in different banks. Per
// KV tile each warp computes S = Q K^T with nvgpu.ldmatrix + m16n8k16 mma.sync (f32
// accumulators), applies scale, score and mask per element in registers, updates its
// online-softmax state (running max and sum in the log2 domain, exactly as
// LowerAttentionToLoops.cpp does), reuses the S accumulators as the A operand of P V
// (the m16n8k16 C and A fragment layouts line up) and accumulates O in registers.
//
// Fragment layouts (PTX ISA, mma.m16n8k16; lane = 4 g + t):
//   A (16x16): [0] (g, 2t..2t+1)  [1] (g+8, 2t..)  [2] (g, 2t+8..)  [3] (g+8, 2t+8..)
//   B (16x8):  [0] (k = 2t..2t+1, n = g)  [1] (k = 2t+8.., n = g)
//   C (16x8):  [0] (g, 2t..2t+1)  [1] (g+8, 2t..2t+1)
// so each thread holds two query rows, g and g + 8, and a row's statistics are reduced
// over the four lanes of a group with two xor shuffles.
//
// Block classes come from TileMaskBounds: a KV tile empty for the whole CTA is neither
// loaded nor computed; per warp, empty tiles are skipped and full ones (all keys in
// range) run without any mask code.
//
// 16-bit operands without RoPE are copied with cp.async (16 bytes, zero-filled past the
// last row); then, if two K/V buffers fit, the next tile's copies fly while this one is
// computed (pipelinedLoop). f32 inputs and RoPE go through registers, one buffer.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixOps.h"
#include "passes/AttentionMath.h"
#include "codegen/nvidia/FragmentSoftmax.h"
#include "codegen/nvidia/GpuKernel.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "passes/KernelBuilder.h"
#include "passes/KeyTiles.h"
#include "codegen/nvidia/Passes.h"
#include "codegen/nvidia/WarpMma.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONTONVGPU
#include "codegen/nvidia/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

// The kernel's geometry (warps of 16 rows, the padding of shared rows) is sm_80's
// TargetInfo's (NvidiaTargetInfo.h); its tile sizes, warps and stages are the schedule's.
using sm80::kPad;
using sm80::kWarpRows;
constexpr int64_t kMmaK = 16;
constexpr int64_t kMmaN = 8;

/// The value of a head dim: a literal, or a size symbol fixed by `specialize`.

class NvgpuAttentionLowering : FragmentAttentionKernel {
public:
  NvgpuAttentionLowering(AttentionOp op, AttentionScheduleAttr schedule,
                         gpu::GPUModuleOp gpuModule, const llvm::StringMap<int64_t> &fixed)
      : FragmentAttentionKernel(op, schedule, gpuModule, fixed) {}

  LogicalResult lower();

private:
  /// Online-softmax state of one thread: max and partial sum of rows g and g + 8 (log2
  /// domain), then DV / 8 accumulator fragments.
  using State = SmallVector<Value>;

  void buildKernelBody();
  void moveIntoGpuModule();

  // ---- small vocabulary ----
  Value idx(int64_t v) { return kb->index(v); }
  Value cst(double v) { return kb->f32(v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(kb->builder(), x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(kb->builder(), x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(kb->builder(), arith::CmpIPredicate::ult, x, y);
  }
  /// ldmatrix.x4 at tile[row, col] (Q) or tile[buffer, row, col] (K, V).
  Value ldmatrix(Value tile, Value buffer, Value row, Value col, bool transpose) {
    SmallVector<Value> indices;
    if (buffer)
      indices.push_back(buffer);
    indices.append({row, col});
    return warp::ldmatrixX4(kb->builder(), mmaType, tile, indices, transpose);
  }
  /// The two B fragments of an x4 ldmatrix: `half` 0 or 1.
  Value bPair(Value x4, int64_t half) { return warp::fragmentPair(kb->builder(), x4, half); }
  /// D = A B + C for one m16n8k16 tile.
  Value mma(Value a, Value bFrag, Value c) { return warp::mmaM16N8K16(kb->builder(), a, bFrag, c); }

  /// Copies rows [pos0, pos0 + count) of src[prefix..., pos, :] (zeros past count) into
  /// `tile` as the MMA type; RoPE-rotated at each row's position when `rotate`.
  /// 16-bit operands without RoPE are copied with cp.async: their tokens are appended
  /// to `tokens`, for one waitAsync after all the copies of a tile are issued.
  /// `buffer` (null for Q) selects the K/V buffer.
  void stage(Value src, ValueRange prefix, Value pos0, Value count, Value tile,
             Value buffer, int64_t dim, bool rotate, SmallVectorImpl<Value> &tokens);
  /// Commits the copies of `tokens` as one group and waits for it.
  void waitAsync(ArrayRef<Value> tokens);
  /// One KV tile for this warp's 16 rows; `masked` applies the bounds and the mask.
  State computeTile(Value tile, Value buffer, ValueRange state, bool masked);
  /// This warp's part of KV tile `tile` (in K/V buffer `buffer`): skipped when empty for
  /// its rows, without mask code when full and all keys are in range.
  State warpTile(Value tile, Value buffer, ValueRange state);
  /// Whether KV tile `tile` can hold a kept key for the CTA's rows (i1).
  Value ctaNonEmpty(Value tile);
  /// Issues the copies of K and V tile `tile` into buffer `buffer`.
  void stageKV(Value tile, Value buffer, SmallVectorImpl<Value> &tokens);
  /// The KV loop, one buffer: stage a tile, wait, compute.
  State singleStageLoop(ValueRange init);
  /// The KV loop, two buffers: tile t + 1's copies fly while tile t is computed.
  State pipelinedLoop(ValueRange init);

  RopeOp ropeOp;
  // The schedule's rows per CTA, keys per KV tile, warps (and their threads), K/V
  // buffers.
  int64_t blockM = 0, blockN = 0, warps = 0, threads = 0, stages = 0;
  Type mmaType;
  MemRefType qTileType, kTileType, vTileType;
  int64_t sharedBytes = 0;

  Value warpBegin, warpLast, warpHasRows; // this warp's query rows
  SmallVector<Type> stateTypes;
  Value q, k, v;
  Value qTile, kTile, vTile;
  // Lane geometry.
  Value warpRow, groupRow; // warp * 16, g
  Value aRow, aCol, kRow, kCol, vRow, vCol;
};

LogicalResult NvgpuAttentionLowering::lower() {
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  FailureOr<std::pair<int64_t, int64_t>> dims =
      gpuHeadDims(op, op.getSpecArgTypes(), fixed, specialized);
  if (failed(dims))
    return failure();
  std::tie(headDim, valueDim) = *dims;
  ropeOp = findStatement<RopeOp>(op);
  Type element = qType.getElementType();
  MLIRContext *ctx = op.getContext();
  // f16 specs run in f16; bf16 and f32 specs in bf16 (f32 inputs are rounded to bf16
  // when staged: the range of f32, 8 bits of mantissa).
  mmaType = element.isF16() ? Type(Float16Type::get(ctx)) : Type(BFloat16Type::get(ctx));
  auto shared = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t rows, int64_t dim) {
    return MemRefType::get({rows, dim + kPad}, mmaType, MemRefLayoutAttrInterface(),
                           shared);
  };
  auto buffersType = [&](int64_t buffers, int64_t rows, int64_t dim) {
    return MemRefType::get({buffers, rows, dim + kPad}, mmaType, MemRefLayoutAttrInterface(),
                           shared);
  };
  auto bytes = [](MemRefType type) {
    return type.getNumElements() * type.getElementTypeBitWidth() / 8;
  };
  blockM = schedule.getBlockM();
  blockN = schedule.getBlockN();
  warps = schedule.getWarps();
  threads = warps * kWarpThreads;
  // Two K/V buffers (when the copies are cp.async and they fit: the TargetInfo's
  // choice) let the next tile's copies overlap this tile's tensor-core work.
  stages = schedule.getStages();
  qTileType = tileType(blockM, headDim);
  kTileType = buffersType(stages, blockN, headDim);
  vTileType = buffersType(stages, blockN, valueDim);
  sharedBytes = sm80::attentionSharedBytes(blockM, blockN, stages, headDim, valueDim);
  assert(sharedBytes == bytes(qTileType) + bytes(kTileType) + bytes(vTileType) &&
         "the TargetInfo counts the buffers the kernel allocates");
  (void)bytes;

  maskOp = findStatement<MaskOp>(op);
  scoreOp = findStatement<ScoreOp>(op);
  sinkOp = findStatement<SinkOp>(op);
  ropeOp = findStatement<RopeOp>(op);
  scaleOp = findStatement<ScaleOp>(op);
  ArrayRef<Attribute> qDims = qType.getDims();
  kb = std::make_unique<KernelBuilder>(
      op, ArrayRef<GridDim>{{qDims[0], 1}, {qDims[1], 1}, {qDims[2], blockM}});
  buildKernelBody();
  moveIntoGpuModule();
  return success();
}

void NvgpuAttentionLowering::buildKernelBody() {
  ImplicitLocOpBuilder &b = kb->builder();
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  auto kType = cast<SpecTensorType>(types[1]);
  ArrayRef<Attribute> qDims = qType.getDims();
  AttentionProgram program = readProgram();
  Value qTileIdx = program.queryTile;
  q = program.q;
  k = program.k;
  v = program.v;

  // ---- scale (default 1 / sqrt(D), D being fixed here); log2(e) folded in unless a
  // score statement needs the natural-domain score ----
  scaleLog2 = scoreScale(*kb, op, b.getI64IntegerAttr(headDim));
  if (ropeOp)
    theta = kb->inlineRegion(ropeOp.getBody(), {})[0];

  // ---- lane geometry ----
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(kWarpSize));
  Value lane = arith::RemUIOp::create(b, tid, idx(kWarpSize));
  Value g = arith::DivUIOp::create(b, lane, idx(4));
  Value t = arith::RemUIOp::create(b, lane, idx(4));
  Value lane8 = arith::RemUIOp::create(b, lane, idx(8));
  Value lane16 = arith::RemUIOp::create(b, lane, idx(16));
  Value half16 = mul(arith::DivUIOp::create(b, lane, idx(16)), idx(8)); // (lane/16)*8
  Value half8 = mul(arith::RemUIOp::create(b, arith::DivUIOp::create(b, lane, idx(8)),
                                           idx(2)),
                    idx(8)); // ((lane/8)%2)*8
  warpRow = mul(warp, idx(kWarpRows));
  groupRow = g;
  groupCol2 = mul(t, idx(2));
  // ldmatrix x4 row addresses (see the fragment table above).
  aRow = add(warpRow, lane16); // Q: rows 0-15 of the warp, column halves by lane/16
  aCol = half16;
  kRow = add(half16, lane8); // K: two n-tiles of 8 keys, column halves by (lane/8)%2
  kCol = half8;
  vRow = add(half8, lane8); // V (transposed): key halves by (lane/8)%2, n-tiles by lane/16
  vCol = half16;

  rowBegin = mul(qTileIdx, idx(blockM));
  rowEnd = arith::MinUIOp::create(b, add(rowBegin, idx(blockM)), numN);
  for (int r = 0; r < 2; ++r) {
    rowPos[r] = add(add(rowBegin, warpRow), add(g, idx(8 * r)));
    rowValid[r] = ult(rowPos[r], numN);
  }

  // ---- shared memory: Q, K and V tiles in one dynamic allocation ----
  SharedMemoryViews shared(b);
  qTile = shared.view(qTileType);
  kTile = shared.view(kTileType);
  vTile = shared.view(vTileType);

  // ---- the query tile, staged once ----
  SmallVector<Value> qTokens;
  stage(q, {bIdx, hIdx}, rowBegin, arith::SubIOp::create(b, rowEnd, rowBegin), qTile,
        Value(), headDim, /*rotate=*/ropeOp != nullptr, qTokens);
  waitAsync(qTokens);

  // ---- state: m = -inf, l = 0, O = 0 ----
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({2, 2}, f32);
  Value zeroAcc = arith::ConstantOp::create(b, DenseElementsAttr::get(accType, 0.0f));
  State init{cst(-INFINITY), cst(-INFINITY), cst(0.0), cst(0.0)};
  init.append(valueDim / kMmaN, zeroAcc);
  SmallVector<Type> stateTypes;
  for (Value value : init)
    stateTypes.push_back(value.getType());

  warpBegin = add(rowBegin, warpRow);
  warpHasRows = ult(warpBegin, numN);
  warpLast = arith::SubIOp::create(
      b, arith::MinUIOp::create(b, add(warpBegin, idx(kWarpRows)), numN), idx(1));
  this->stateTypes = stateTypes;

  // ---- walk the KV tiles ----
  State final = stages > 1 ? pipelinedLoop(init) : singleStageLoop(init);
  epilogue(final);
}

/// The range [tile, tileEnd) of a KV tile of `blockN` keys and its last key.
static std::pair<Value, Value> tileRange(KernelBuilder &kb, Value tile, Value numM,
                                         int64_t blockN) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value tileEnd =
      arith::MinUIOp::create(b, arith::AddIOp::create(b, tile, kb.index(blockN)), numM);
  return {tileEnd, arith::SubIOp::create(b, tileEnd, kb.index(1))};
}

Value NvgpuAttentionLowering::ctaNonEmpty(Value tile) {
  ImplicitLocOpBuilder &b = kb->builder();
  if (!maskOp)
    return arith::ConstantIntOp::create(b, b.getI1Type(), 1);
  Value lastKey = tileRange(*kb, tile, numM, blockN).second;
  return classifyKeyTile(*kb, op, bIdx, hIdx, rowBegin,
                         arith::SubIOp::create(b, rowEnd, idx(1)), tile, lastKey)
      .run;
}

void NvgpuAttentionLowering::stageKV(Value tile, Value buffer,
                                     SmallVectorImpl<Value> &tokens) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value count = arith::SubIOp::create(b, tileRange(*kb, tile, numM, blockN).first, tile);
  stage(k, {bIdx, hkIdx}, tile, count, kTile, buffer, headDim,
        /*rotate=*/ropeOp != nullptr, tokens);
  stage(v, {bIdx, hkIdx}, tile, count, vTile, buffer, valueDim, /*rotate=*/false, tokens);
}

NvgpuAttentionLowering::State
NvgpuAttentionLowering::warpTile(Value tile, Value buffer, ValueRange state) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto [tileEnd, lastKey] = tileRange(*kb, tile, numM, blockN);
  Value fullKeys = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq, arith::SubIOp::create(b, tileEnd, tile), idx(blockN));
  // Keys past M in a last, short tile are dropped by the mask code.
  Value keysPartial = arith::XOrIOp::create(
      b, fullKeys, arith::ConstantIntOp::create(b, b.getI1Type(), 1));
  KeyTileClass warpClass = classifyKeyTile(*kb, op, bIdx, hIdx, warpBegin, warpLast, tile,
                                           lastKey, warpHasRows, keysPartial);
  return runKeyTile(*kb, warpClass, stateTypes, state, [&](bool masked) {
    return computeTile(tile, buffer, state, masked);
  });
}

NvgpuAttentionLowering::State NvgpuAttentionLowering::singleStageLoop(ValueRange init) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value buffer = idx(0);
  return kb->loop(idx(0), numM, idx(blockN), init,
                  [&](Value tile, ValueRange st) -> SmallVector<Value> {
                    return kb->ifElse(
                        ctaNonEmpty(tile), stateTypes,
                        [&] {
                          // Every warp is done with the previous tile before it is
                          // overwritten; the copies land before any warp reads them.
                          gpu::BarrierOp::create(b);
                          SmallVector<Value> tokens;
                          stageKV(tile, buffer, tokens);
                          waitAsync(tokens);
                          gpu::BarrierOp::create(b);
                          return warpTile(tile, buffer, st);
                        },
                        [&] { return State(st); });
                  });
}

/// Two K/V buffers. Every iteration commits exactly one cp.async group (empty when
/// there is no next tile to prefetch, or it is empty for the CTA), so "wait until at
/// most one group is pending" always means "this tile has landed". Barriers run only
/// when needed, so that runs of empty tiles (outside a window) cost no
/// synchronisation: before copies into the other buffer (every warp has left the
/// computes that read it), and before computing a tile (its copies are visible). All
/// conditions here are uniform over the CTA, so every thread reaches every barrier.
NvgpuAttentionLowering::State NvgpuAttentionLowering::pipelinedLoop(ValueRange init) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto prefetchIf = [&](Value cond, Value tile, Value buffer) {
    kb->ifElse(
        cond, {},
        [&] {
          SmallVector<Value> tokens;
          stageKV(tile, buffer, tokens);
          return SmallVector<Value>{};
        },
        [&] { return SmallVector<Value>{}; });
    // The group's tokens live inside the if; the commit needs none.
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, ValueRange{});
  };
  // ---- prologue: tile 0 into buffer 0 ----
  Value firstNonEmpty = ctaNonEmpty(idx(0));
  prefetchIf(firstNonEmpty, idx(0), idx(0));

  State carried(init.begin(), init.end());
  carried.append({firstNonEmpty, idx(0)});
  State result = kb->loop(
      idx(0), numM, idx(blockN), carried,
      [&](Value tile, ValueRange st) -> SmallVector<Value> {
        ValueRange state = st.drop_back(2);
        Value nonEmpty = st[st.size() - 2], buffer = st.back();
        Value other = arith::SubIOp::create(b, idx(1), buffer);
        auto barrierIf = [&](Value cond) {
          kb->ifElse(
              cond, {},
              [&] {
                gpu::BarrierOp::create(b);
                return SmallVector<Value>{};
              },
              [&] { return SmallVector<Value>{}; });
        };
        Value next = add(tile, idx(blockN));
        Value nextNonEmpty = kb->ifElse(
            ult(next, numM), {b.getI1Type()},
            [&] { return SmallVector<Value>{ctaNonEmpty(next)}; },
            [&] {
              return SmallVector<Value>{arith::ConstantIntOp::create(b, b.getI1Type(), 0)};
            })[0];
        barrierIf(nextNonEmpty);
        Value group = prefetchIf(nextNonEmpty, next, other);
        nvgpu::DeviceAsyncWaitOp::create(b, group, b.getI32IntegerAttr(1));
        barrierIf(nonEmpty);
        State updated = kb->ifElse(
            nonEmpty, stateTypes, [&] { return warpTile(tile, buffer, state); },
            [&] { return State(state); });
        updated.append({nextNonEmpty, other});
        return updated;
      });
  result.resize(init.size());
  return result;
}

void NvgpuAttentionLowering::stage(Value src, ValueRange prefix, Value pos0, Value count,
                                   Value tile, Value buffer, int64_t dim, bool rotate,
                                   SmallVectorImpl<Value> &tokens) {
  auto rotated = [&](Value pos, Value d) {
    return ropeElement(*kb, src, prefix, pos, d, dim, theta);
  };
  stageRows(*kb, threads, mmaType, src, prefix, pos0, count, tile, buffer, dim,
            rotate ? function_ref<Value(Value, Value)>(rotated) : nullptr, tokens);
}

void NvgpuAttentionLowering::waitAsync(ArrayRef<Value> tokens) {
  waitAsyncCopies(kb->builder(), tokens);
}

NvgpuAttentionLowering::State
NvgpuAttentionLowering::computeTile(Value tile, Value buffer, ValueRange state,
                                    bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({2, 2}, f32);
  Value zeroAcc = arith::ConstantOp::create(b, DenseElementsAttr::get(accType, 0.0f));
  const int64_t tilesN = blockN / kMmaN;

  // ---- S = Q K^T: per 16-wide slice of D, one A fragment and four x4 B loads ----
  SmallVector<Value> s(tilesN, zeroAcc);
  for (int64_t kk = 0; kk < headDim / kMmaK; ++kk) {
    Value a = ldmatrix(qTile, Value(), aRow, add(aCol, idx(kk * kMmaK)),
                       /*transpose=*/false);
    for (int64_t np = 0; np < tilesN / 2; ++np) {
      Value bx4 = ldmatrix(kTile, buffer, add(kRow, idx(np * 16)), add(kCol, idx(kk * kMmaK)),
                           /*transpose=*/false);
      s[2 * np] = mma(a, bPair(bx4, 0), s[2 * np]);
      s[2 * np + 1] = mma(a, bPair(bx4, 1), s[2 * np + 1]);
    }
  }

  // ---- softmax (FragmentSoftmax.h), then O = alpha O + P V; P's C fragments are the A
  // fragments of the product ----
  SoftmaxTile softmax = softmaxTile(*kb, fragmentRows(), s, tile, {state[0], state[1]},
                                    {state[2], state[3]}, masked, mmaType);
  State next(state.begin(), state.end());
  for (int r = 0; r < 2; ++r) {
    next[r] = softmax.m[r];
    next[2 + r] = softmax.l[r];
  }
  ArrayRef<Value> pFrag = softmax.p;
  SmallVector<Value> acc = rescaleRows(*kb, llvm::to_vector(state.drop_front(4)), softmax.alpha);
  auto aType = VectorType::get({4, 2}, mmaType);
  for (int64_t kc = 0; kc < blockN / kMmaK; ++kc) {
    Value a = arith::ConstantOp::create(b, DenseElementsAttr::get(aType, 0.0f));
    int64_t order[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}; // (n-tile, row half)
    for (int64_t slot = 0; slot < 4; ++slot)
      a = vector::InsertOp::create(
          b, pFrag[(2 * kc + order[slot][0]) * 2 + order[slot][1]], a,
          ArrayRef<int64_t>{slot});
    for (int64_t np = 0; np < valueDim / 16; ++np) {
      Value bx4 = ldmatrix(vTile, buffer, add(vRow, idx(kc * kMmaK)), add(vCol, idx(np * 16)),
                           /*transpose=*/true);
      acc[2 * np] = mma(a, bPair(bx4, 0), acc[2 * np]);
      acc[2 * np + 1] = mma(a, bPair(bx4, 1), acc[2 * np + 1]);
    }
  }
  for (auto [dt, value] : llvm::enumerate(acc))
    next[4 + dt] = value;
  return next;
}

/// The program function becomes a gpu.func kernel: the program id is the block id, and
/// the launch parameters travel as attributes for the manifest.
void NvgpuAttentionLowering::moveIntoGpuModule() {
  moveProgramToKernel(kb->function(), gpuModule,
                      {threads, sharedBytes, schedule, specialized});
}

struct LowerAttentionToNVGPU
    : tmix::impl::LowerAttentionToNVGPUBase<LowerAttentionToNVGPU> {
  using LowerAttentionToNVGPUBase::LowerAttentionToNVGPUBase;
  void runOnOperation() override {
    FailureOr<int64_t> lowered = lowerAttentionKernels<NvgpuAttentionLowering>(
        getOperation(), specialize, getSm80TargetInfo());
    if (failed(lowered))
      return signalPassFailure();
    numLowered += *lowered;
  }
};

} // namespace
