//===- LowerAttentionToHopper.cpp - tmix.attention to an sm_90a kernel ----===//
//
// FlashAttention-3's shape: one CTA per (batch, head, query tile of 128 rows) with
// three warpgroups. Warpgroup 0 is the producer: one thread issues TMA bulk tensor
// copies (cp.async.bulk.tensor) of Q once and of every K/V tile that is not empty for
// the CTA's rows into a ring of `stages` shared-memory buffers, each completing on the
// stage's "full" mbarrier. Warpgroups 1 and 2 are consumers, 64 query rows each: per
// tile they wait on "full", compute S = Q K^T with wgmma (A = Q, B = K, both from
// shared memory, K-major), run the online softmax in registers exactly as
// LowerAttentionToNVGPU.cpp does, then O += P V with wgmma (A = P from registers, B = V
// from shared memory, MN-major), and arrive on the stage's "empty" mbarrier, which the
// producer waits on before reusing the buffer. setmaxnreg moves registers from the
// producer (24) to the consumers (240). KV tiles have 64 keys.
//
// Both sides walk the same sequence of KV tiles, skipping the tiles that
// TileMaskBounds proves empty for the CTA's 128 rows, and count the tiles they do
// process: the n-th such tile uses stage n % stages, and its "full" phase parity is
// (n / stages) % 2. The producer waits on "empty" with the opposite parity, which a
// freshly initialised mbarrier satisfies at once (its "previous" phase counts as
// complete), so the first `stages` tiles do not wait.
//
// Shared memory (from a 1024-byte-aligned base; the swizzle pattern of a 128B-swizzled
// TMA box and of the wgmma descriptor is a function of address bits 4-9):
//   [0, 1024)  mbarriers: Q full, full[stages], empty[stages] (8 bytes each)
//   Q          D / 64 column blocks of 128 rows x 128 bytes (64 elements)
//   K[stage]   D / 64 column blocks of BLOCK_N rows x 128 bytes
//   V[stage]   DV / 64 column blocks of BLOCK_N rows x 128 bytes
//   raw tiles  of the staged operands (below), after the operand tiles
// Each column block is one TMA box {64 elements, rows, 1, 1} of the 4-D tensor
// [B, H, N, D] with 128-byte swizzle: 16-byte chunk c of row r lands at chunk c ^ (r % 8)
// of row r. Rows past N or M are zero-filled by TMA; keys past M are masked (j < M) and
// their zero V rows meet P = 0. Head dims that are not multiples of 64 are read as
// whole boxes: the zero-filled columns add nothing to Q K^T, O's are not stored.
//
// Staging: an f32 operand, or q and k under RoPE, is TMA'd raw (its own dtype, no
// swizzle) into a staging buffer; after the "full" wait the 256 consumer threads write
// the 16-bit operand from it (rounded, rotated) with ordinary stores in the swizzled
// layout, then fence.proxy.async (the wgmmas read through the async proxy) and meet at
// a named barrier of the consumers only.
//
// Descriptors (Wgmma.h), 128B swizzle, stride byte offset 1024 (8 rows of 128 bytes):
//   Q (A, K-major): k step kk at block kk / 4, +32 bytes per 16 elements inside the
//     128-byte row; consumer c's 64 rows start 64 * 128 bytes in.
//   K (B, K-major): same stepping; N = BLOCK_N keys = BLOCK_N / 8 atoms.
//   V (B, MN-major): k step kc (16 keys) is +16 rows (2048 bytes); the leading byte
//     offset BLOCK_N * 128 steps from one 64-wide DV block to the next.
// Leading byte offset of the K-major operands is unused by 128B swizzle (set to 1, as
// CUTLASS does).
//
// The TMA descriptors (CUtensorMap, 128 bytes each) are encoded on the host by
// runtime/cuda from the kernel ABI's tensor maps (#tmix.tensor_map) and passed as one
// extra kernel argument: a pointer to them in device memory (map 0: q, 1: k, 2: v).
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
#include "codegen/nvidia/Wgmma.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <cmath>

namespace mlir::tmix {
#define GEN_PASS_DEF_LOWERATTENTIONTOHOPPER
#include "codegen/nvidia/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

// The kernel's geometry (warpgroups, the rows each consumer owns) is sm_90a's
// TargetInfo's (NvidiaTargetInfo.h); its tile sizes and stages are the schedule's.
constexpr int64_t kWarpSize = kWarpThreads;
constexpr int64_t kWarpgroupThreads = sm90a::kWarpgroupWarps * kWarpSize;
constexpr int64_t kConsumers = sm90a::kConsumerWarpgroups;
using sm90a::kWarpgroupRows;
constexpr int64_t kMmaK = 16;
constexpr int64_t kMmaN = 8;
/// setmaxnreg: 128 * 24 + 256 * 240 = 64512 of the SM's 65536 registers.
constexpr int32_t kProducerRegisters = 24;
constexpr int32_t kConsumerRegisters = 240;
using sm90a::kMaxSharedBytes;
/// Alignment of the 128B-swizzled tiles, and the slack allocated to reach it.
constexpr int64_t kTileAlignment = 1024;
constexpr int64_t kBarrierBytes = 8;
/// Suspend-time hint of mbarrier.try_wait (ns), as upstream MLIR's tests use.
constexpr int32_t kWaitTicks = 10000000;
/// Named barrier of the two consumer warpgroups (0 is the CTA's barrier).
constexpr int32_t kConsumerBarrier = 1;

/// q, k or v as the kernel stages it: TMA straight into the 128B-swizzled wgmma operand
/// layout, or (`staged`: an f32 tensor, or RoPE) TMA of the raw tile into a staging
/// buffer, unswizzled, from which the consumer threads write the operand (converted,
/// rotated) with ordinary stores.
struct Operand {
  int64_t arg = 0;   // spec argument, and index of its tensor map
  int64_t rows = 0;  // rows per tile
  int64_t dim = 0;   // head dim
  int64_t width = 0; // head dim rounded up to whole 64-column boxes
  Type rawType;      // the tensor's element type
  bool staged = false, rotate = false;
  int64_t tileOffset = 0, rawOffset = 0; // stage 0's buffers

  int64_t rawElementBytes() const { return rawType.getIntOrFloatBitWidth() / 8; }
  /// Bytes of one operand tile (16-bit) and of one raw tile (0 when not staged).
  int64_t tileBytes() const { return rows * width * 2; }
  int64_t rawBytes() const { return staged ? rows * width * rawElementBytes() : 0; }
  /// Bytes the TMA of one tile writes (what its mbarrier expects).
  int64_t copyBytes() const { return staged ? rawBytes() : tileBytes(); }
};


class HopperAttentionLowering : FragmentAttentionKernel {
public:
  HopperAttentionLowering(AttentionOp op, AttentionScheduleAttr schedule,
                         gpu::GPUModuleOp gpuModule, const llvm::StringMap<int64_t> &fixed)
      : FragmentAttentionKernel(op, schedule, gpuModule, fixed) {}

  LogicalResult lower();

private:
  /// A consumer thread's online-softmax state: max and partial sum of its rows g and
  /// g + 8 (log2 domain), then DV / 8 accumulator tiles (Wgmma.h).
  using State = SmallVector<Value>;

  void buildKernelBody();
  void producer();
  void consumer();
  void moveIntoGpuModule();

  // ---- small vocabulary ----
  Value idx(int64_t v) { return kb->index(v); }
  Value cst(double v) { return kb->f32(v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(kb->builder(), kb->builder().getI32Type(), v);
  }
  Value i64(int64_t v) {
    return arith::ConstantIntOp::create(kb->builder(), kb->builder().getI64Type(), v);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(kb->builder(), x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(kb->builder(), x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(kb->builder(), arith::CmpIPredicate::ult, x, y);
  }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(kb->builder(), arith::CmpIPredicate::eq, x, y);
  }
  Value toI32(Value index) {
    return arith::IndexCastOp::create(kb->builder(), kb->builder().getI32Type(), index);
  }
  void when(Value cond, function_ref<void()> body) { kb->ifThen(cond, body); }

  // ---- shared memory ----
  /// The shared-window address (i64) of byte `offset` past the aligned base, plus
  /// `dynamic` bytes (an index, or null).
  Value sharedAddress(int64_t offset, Value dynamic = Value());
  Value sharedPointer(int64_t offset, Value dynamic = Value());
  Value fullBarrier(Value stage) { return sharedPointer(fullOffset, mul(stage, idx(kBarrierBytes))); }
  Value emptyBarrier(Value stage) { return sharedPointer(emptyOffset, mul(stage, idx(kBarrierBytes))); }
  void waitParity(Value barrier, Value parity);

  /// TMA of the width/64 boxes {64, rows} of `operand` at (0, row, head, batch) into
  /// consecutive column blocks of its buffer (raw when staged) of stage `stage` (null
  /// for q), completing on `barrier`.
  void copyTile(const Operand &operand, Value row, Value head, Value stage, Value barrier);
  /// The consumers write a staged operand's tile (stage `stage`, null for q) from its
  /// raw tile: converted to the MMA type, rotated at positions pos0 + row when RoPE
  /// applies, stored 128B-swizzled; then the async-proxy fence and the consumers'
  /// named barrier, so that every consumer's wgmma sees every consumer's stores.
  void stageOperands(ArrayRef<const Operand *> operands, Value stage, Value pos0);
  Value rawElement(const Operand &operand, Value raw, Value row, Value column);

  /// Whether KV tile `tile` can hold a kept key for the CTA's rows (i1).
  Value ctaNonEmpty(Value tile);
  /// One consumer warpgroup's work on KV tile `tile` in stage `stage`: skipped when
  /// empty for its 64 rows, without mask code when full and all keys are in range.
  State warpgroupTile(Value tile, Value stage, ValueRange state);
  State computeTile(Value tile, Value stage, ValueRange state, bool masked);

  // The schedule's rows per CTA, keys per KV tile, the CTA's warps (and their
  // threads), the stages of the K/V ring.
  int64_t blockM = 0, blockN = 0, threads = 0, stages = 0;
  /// The head dims rounded up to whole 64-column TMA boxes.
  int64_t qkWidth = 0, vWidth = 0;
  Type mmaType;
  // Shared-memory layout (offsets from the aligned base).
  int64_t qFullOffset = 0, fullOffset = 0, emptyOffset = 0;
  Operand q, k, v;
  int64_t sharedBytes = 0;

  Value tensorMaps, sharedBase, tid;
  SmallVector<Type> stateTypes;
  // Consumer geometry.
  Value consumerIdx;
  Value wgBegin, wgLast, wgHasRows;
};

LogicalResult HopperAttentionLowering::lower() {
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  FailureOr<std::pair<int64_t, int64_t>> dims =
      gpuHeadDims(op, op.getSpecArgTypes(), fixed, specialized);
  if (failed(dims))
    return failure();
  std::tie(headDim, valueDim) = *dims;
  // Tiles are whole 64-column TMA boxes: a head dim that is not a multiple of 64 reads
  // zeros past its end (TMA's out-of-range fill), which add nothing to Q K^T, and O's
  // extra columns are not stored.
  qkWidth = llvm::alignTo(headDim, wgmma::kSwizzleElements);
  vWidth = llvm::alignTo(valueDim, wgmma::kSwizzleElements);
  // f16 specs run in f16; bf16 and f32 specs in bf16 (f32 inputs are rounded to bf16
  // when staged: the range of f32, 8 bits of mantissa), as on sm_80.
  MLIRContext *ctx = op.getContext();
  mmaType = qType.getElementType().isF16() ? Type(Float16Type::get(ctx))
                                           : Type(BFloat16Type::get(ctx));
  blockM = schedule.getBlockM();
  blockN = schedule.getBlockN();
  threads = schedule.getWarps() * kWarpSize;
  stages = schedule.getStages();
  bool rope = findStatement<RopeOp>(op) != nullptr;
  auto describe = [&](Operand &operand, int64_t arg, int64_t rows, int64_t dim,
                      bool rotate) {
    operand.arg = arg;
    operand.rows = rows;
    operand.dim = dim;
    operand.width = llvm::alignTo(dim, wgmma::kSwizzleElements);
    operand.rawType = cast<SpecTensorType>(types[arg]).getElementType();
    operand.rotate = rotate;
    operand.staged = rotate || operand.rawType != mmaType;
  };
  describe(q, 0, blockM, headDim, rope);
  describe(k, 1, blockN, headDim, rope);
  describe(v, 2, blockN, valueDim, /*rotate=*/false);
  maskOp = findStatement<MaskOp>(op);
  scoreOp = findStatement<ScoreOp>(op);
  sinkOp = findStatement<SinkOp>(op);
  scaleOp = findStatement<ScaleOp>(op);

  // ---- shared memory ----
  qFullOffset = 0;
  fullOffset = qFullOffset + kBarrierBytes;
  emptyOffset = fullOffset + stages * kBarrierBytes;
  // Operand tiles, then raw tiles; every size is a multiple of 1024 bytes (rows * 128
  // bytes per 64-column block, rows a multiple of 8).
  int64_t offset = kTileAlignment;
  for (Operand *operand : {&q, &k, &v}) {
    operand->tileOffset = offset;
    offset += (operand == &q ? 1 : stages) * operand->tileBytes();
  }
  for (Operand *operand : {&q, &k, &v}) {
    operand->rawOffset = offset;
    offset += (operand == &q ? 1 : stages) * operand->rawBytes();
  }
  sharedBytes = offset + kTileAlignment; // + the slack of the base's alignment
  if (sharedBytes > kMaxSharedBytes)
    return op.emitOpError("the sm_90a kernel needs ")
           << sharedBytes
           << " bytes of shared memory (f32 and rotated operands are staged twice), more "
              "than the 227 KiB of a CTA; use --target=sm_80";

  ArrayRef<Attribute> qDims = qType.getDims();
  kb = std::make_unique<KernelBuilder>(
      op, ArrayRef<GridDim>{{qDims[0], 1}, {qDims[1], 1}, {qDims[2], blockM}});
  buildKernelBody();
  moveIntoGpuModule();
  return success();
}

Value HopperAttentionLowering::sharedAddress(int64_t offset, Value dynamic) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value address = add(sharedBase, i64(offset));
  if (dynamic)
    address = add(address, kb->toI64(dynamic));
  return address;
}

Value HopperAttentionLowering::sharedPointer(int64_t offset, Value dynamic) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto sharedPtr = LLVM::LLVMPointerType::get(
      b.getContext(), static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared));
  return LLVM::IntToPtrOp::create(b, sharedPtr, sharedAddress(offset, dynamic));
}

void HopperAttentionLowering::waitParity(Value barrier, Value parity) {
  NVVM::MBarrierTryWaitParityOp::create(kb->builder(), barrier, parity, i32(kWaitTicks));
}

void HopperAttentionLowering::buildKernelBody() {
  ImplicitLocOpBuilder &b = kb->builder();
  MLIRContext *ctx = b.getContext();
  auto types = op.getSpecArgTypes();
  auto qType = cast<SpecTensorType>(types[0]);
  auto kType = cast<SpecTensorType>(types[1]);
  ArrayRef<Attribute> qDims = qType.getDims();
  Value qTileIdx = readProgram().queryTile;
  rowBegin = mul(qTileIdx, idx(blockM));
  rowEnd = arith::MinUIOp::create(b, add(rowBegin, idx(blockM)), numN);
  // The tensor maps: one pointer argument after the loop program's ABI.
  Block &entry = kb->function().getBody().front();
  tensorMaps = entry.addArgument(LLVM::LLVMPointerType::get(ctx), op.getLoc());

  // ---- shared memory: the dynamic allocation, aligned up to 1024 bytes ----
  auto sharedSpace = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value dynamicShared = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface(),
                         sharedSpace));
  Value rawBase = kb->toI64(memref::ExtractAlignedPointerAsIndexOp::create(b, dynamicShared));
  sharedBase = arith::AndIOp::create(b, add(rawBase, i64(kTileAlignment - 1)),
                                     i64(~(kTileAlignment - 1)));

  // ---- one thread initialises the mbarriers; the fence and the CTA barrier make them
  // visible to every thread and to the TMA unit before any use ----
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  when(eq(tid, idx(0)), [&] {
    NVVM::MBarrierInitOp::create(b, sharedPointer(qFullOffset), i32(1), Value());
    for (int64_t stage = 0; stage < stages; ++stage) {
      // full: the producer's arrive.expect_tx, then the TMA bytes.
      NVVM::MBarrierInitOp::create(b, fullBarrier(idx(stage)), i32(1), Value());
      // empty: every consumer thread, once its wgmmas have read the stage.
      NVVM::MBarrierInitOp::create(b, emptyBarrier(idx(stage)),
                                   i32(kConsumers * kWarpgroupThreads), Value());
    }
    NVVM::FenceMbarrierInitOp::create(b);
  });
  gpu::BarrierOp::create(b);

  // ---- warp specialisation: one branch per role, each with its setmaxnreg ----
  Value warpgroup = arith::DivUIOp::create(b, tid, idx(kWarpgroupThreads));
  kb->ifElse(
      eq(warpgroup, idx(0)), {},
      [&] {
        producer();
        return SmallVector<Value>{};
      },
      [&] {
        consumer();
        return SmallVector<Value>{};
      });
}

void HopperAttentionLowering::copyTile(const Operand &operand, Value row, Value head,
                                       Value stage, Value barrier) {
  ImplicitLocOpBuilder &b = kb->builder();
  auto generic = LLVM::LLVMPointerType::get(b.getContext());
  auto clusterPtr = LLVM::LLVMPointerType::get(
      b.getContext(), static_cast<unsigned>(NVVM::NVVMMemorySpace::SharedCluster));
  // CUtensorMap is 128 bytes; the runtime uploads them 64-byte aligned.
  Value mapPointer = LLVM::GEPOp::create(b, generic, b.getI8Type(), tensorMaps,
                                         ArrayRef<LLVM::GEPArg>{int32_t(operand.arg * 128)});
  int64_t elementBytes = operand.staged ? operand.rawElementBytes() : 2;
  int64_t base = operand.staged ? operand.rawOffset : operand.tileOffset;
  int64_t stageBytes = operand.staged ? operand.rawBytes() : operand.tileBytes();
  Value stageOffset = stage ? mul(stage, idx(stageBytes)) : Value();
  for (int64_t block = 0; block < operand.width / wgmma::kSwizzleElements; ++block) {
    // Coordinates, innermost first: column, row, head, batch.
    SmallVector<Value> coordinates{i32(block * wgmma::kSwizzleElements), toI32(row),
                                   toI32(head), toI32(bIdx)};
    int64_t blockOffset = block * operand.rows * wgmma::kSwizzleElements * elementBytes;
    // A shared::cta address is a shared::cluster address of this CTA (PTX ISA 8.0's form
    // of the copy names shared::cluster; the shared::cta form needs PTX 8.6).
    Value destination = LLVM::AddrSpaceCastOp::create(
        b, clusterPtr, sharedPointer(base + blockOffset, stageOffset));
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        b, destination, mapPointer, coordinates, barrier, ValueRange{}, Value(), Value(),
        NVVM::TMALoadMode::TILE, /*isCTAOnly=*/false, NVVM::CTAGroupKindAttr(), Value());
  }
}

/// Element (row, column) of a raw tile at `raw` (a shared offset in bytes, index):
/// unswizzled 64-column blocks of rows x 64 elements. As f32.
Value HopperAttentionLowering::rawElement(const Operand &operand, Value raw, Value row,
                                          Value column) {
  ImplicitLocOpBuilder &b = kb->builder();
  constexpr int64_t kColumns = wgmma::kSwizzleElements;
  Value block = arith::DivUIOp::create(b, column, idx(kColumns));
  Value inBlock = arith::RemUIOp::create(b, column, idx(kColumns));
  Value element = add(mul(block, idx(operand.rows * kColumns)),
                      add(mul(row, idx(kColumns)), inBlock));
  Value pointer = sharedPointer(0, add(raw, mul(element, idx(operand.rawElementBytes()))));
  Value x = LLVM::LoadOp::create(b, operand.rawType, pointer);
  return operand.rawType.isF32() ? x : Value(arith::ExtFOp::create(b, b.getF32Type(), x));
}

void HopperAttentionLowering::stageOperands(ArrayRef<const Operand *> operands, Value stage,
                                            Value pos0) {
  ImplicitLocOpBuilder &b = kb->builder();
  Type f32 = b.getF32Type();
  Value ctid = arith::SubIOp::create(b, tid, idx(kWarpgroupThreads));
  constexpr int64_t kConsumerThreads = kConsumers * kWarpgroupThreads;
  for (const Operand *operand : operands) {
    Value raw = idx(operand->rawOffset), tile = idx(operand->tileOffset);
    if (stage) {
      raw = add(raw, mul(stage, idx(operand->rawBytes())));
      tile = add(tile, mul(stage, idx(operand->tileBytes())));
    }
    int64_t width = operand->width, half = operand->dim / 2;
    kb->loop(ctid, idx(operand->rows * width), idx(kConsumerThreads), {},
             [&](Value e, ValueRange) -> SmallVector<Value> {
      Value r = arith::DivUIOp::create(b, e, idx(width));
      Value c = arith::RemUIOp::create(b, e, idx(width));
      Value x = rawElement(*operand, raw, r, c);
      if (operand->rotate) {
        // Half-split RoPE at position pos0 + r, as LowerAttentionToNVGPU.cpp: for
        // p < D/2, a = x[p], c = x[p + D/2] at angle pos * theta^(-2p/D): a cos - c sin
        // at p, c cos + a sin at p + D/2; the zero columns past D stay zero.
        Value low = ult(c, idx(half));
        Value p = arith::SelectOp::create(b, low, c, arith::SubIOp::create(b, c, idx(half)));
        Value a = rawElement(*operand, raw, r, p);
        Value partner = rawElement(*operand, raw, r, add(p, idx(half)));
        auto [first, second] = rotatePair(
            b, a, partner,
            ropeAngle(*kb, add(pos0, r), p, b.getI64IntegerAttr(operand->dim), theta));
        x = arith::SelectOp::create(
            b, ult(c, idx(operand->dim)),
            arith::SelectOp::create(b, low, first, second), x);
      }
      // 128B swizzle: 16-byte chunk j of row r of a 64-column block at chunk j ^ (r % 8).
      Value block = arith::DivUIOp::create(b, c, idx(wgmma::kSwizzleElements));
      Value inBlock = arith::RemUIOp::create(b, c, idx(wgmma::kSwizzleElements));
      Value chunk = arith::XOrIOp::create(b, arith::DivUIOp::create(b, inBlock, idx(8)),
                                          arith::RemUIOp::create(b, r, idx(8)));
      Value byte = add(add(mul(block, idx(operand->rows * wgmma::kSwizzleBytes)),
                           mul(r, idx(wgmma::kSwizzleBytes))),
                       add(mul(chunk, idx(16)),
                           mul(arith::RemUIOp::create(b, inBlock, idx(8)), idx(2))));
      LLVM::StoreOp::create(b, arith::TruncFOp::create(b, mmaType, x),
                            sharedPointer(0, add(tile, byte)));
      return {};
    });
  }
  // The stores (generic proxy) are read next by wgmma (async proxy): each writer
  // fences, then the consumers meet (the producer warpgroup is not part of it).
  NVVM::FenceProxyOp::create(
      b, NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
  NVVM::BarrierOp::create(b, TypeRange{}, i32(kConsumerBarrier), i32(kConsumerThreads),
                          NVVM::BarrierReductionAttr(), Value());
}

Value HopperAttentionLowering::ctaNonEmpty(Value tile) {
  ImplicitLocOpBuilder &b = kb->builder();
  if (!maskOp)
    return arith::ConstantIntOp::create(b, b.getI1Type(), 1);
  Value tileEnd = arith::MinUIOp::create(b, add(tile, idx(blockN)), numM);
  return classifyKeyTile(*kb, op, bIdx, hIdx, rowBegin,
                         arith::SubIOp::create(b, rowEnd, idx(1)), tile,
                         arith::SubIOp::create(b, tileEnd, idx(1)))
      .run;
}

void HopperAttentionLowering::producer() {
  ImplicitLocOpBuilder &b = kb->builder();
  NVVM::SetMaxRegisterOp::create(b, kProducerRegisters, NVVM::SetMaxRegisterAction::decrease);
  // One elected thread issues every copy; the rest of the warpgroup is done.
  when(eq(tid, idx(0)), [&] {
    Value qFull = sharedPointer(qFullOffset);
    NVVM::MBarrierArriveExpectTxOp::create(
        b, Type(), qFull, i32(q.copyBytes()), NVVM::MemScopeKind::CTA, false, Value());
    copyTile(q, rowBegin, hIdx, Value(), qFull);
    int32_t tileBytes = static_cast<int32_t>(k.copyBytes() + v.copyBytes());
    kb->loop(idx(0), numM, idx(blockN), {idx(0)},
             [&](Value tile, ValueRange carried) -> SmallVector<Value> {
               Value count = carried[0];
               return kb->ifElse(
                   ctaNonEmpty(tile), {b.getIndexType()},
                   [&] {
                     Value stage = arith::RemUIOp::create(b, count, idx(stages));
                     Value parity = arith::RemUIOp::create(
                         b, arith::DivUIOp::create(b, count, idx(stages)), idx(2));
                     // The consumers are done with this stage's previous tile.
                     waitParity(emptyBarrier(stage),
                                toI32(arith::XOrIOp::create(b, parity, idx(1))));
                     Value full = fullBarrier(stage);
                     NVVM::MBarrierArriveExpectTxOp::create(b, Type(), full, i32(tileBytes),
                                                            NVVM::MemScopeKind::CTA, false,
                                                            Value());
                     copyTile(k, tile, hkIdx, stage, full);
                     copyTile(v, tile, hkIdx, stage, full);
                     return SmallVector<Value>{add(count, idx(1))};
                   },
                   [&] { return SmallVector<Value>{count}; });
             });
  });
}

void HopperAttentionLowering::consumer() {
  ImplicitLocOpBuilder &b = kb->builder();
  NVVM::SetMaxRegisterOp::create(b, kConsumerRegisters, NVVM::SetMaxRegisterAction::increase);
  Value ctid = arith::SubIOp::create(b, tid, idx(kWarpgroupThreads));
  consumerIdx = arith::DivUIOp::create(b, ctid, idx(kWarpgroupThreads));
  Value wgThread = arith::RemUIOp::create(b, ctid, idx(kWarpgroupThreads));
  Value warp = arith::DivUIOp::create(b, wgThread, idx(kWarpSize));
  Value lane = arith::RemUIOp::create(b, wgThread, idx(kWarpSize));
  Value g = arith::DivUIOp::create(b, lane, idx(4));
  Value t = arith::RemUIOp::create(b, lane, idx(4));
  groupCol2 = mul(t, idx(2));
  wgBegin = add(rowBegin, mul(consumerIdx, idx(kWarpgroupRows)));
  wgHasRows = ult(wgBegin, numN);
  wgLast = arith::SubIOp::create(
      b, arith::MinUIOp::create(b, add(wgBegin, idx(kWarpgroupRows)), numN), idx(1));
  for (int r = 0; r < 2; ++r) {
    rowPos[r] = add(add(wgBegin, mul(warp, idx(16))), add(g, idx(8 * r)));
    rowValid[r] = ult(rowPos[r], numN);
  }

  // ---- scale (default 1 / sqrt(D)); log2(e) folded in unless a score statement needs
  // the natural-domain score ----
  scaleLog2 = scoreScale(*kb, op, b.getI64IntegerAttr(headDim));

  // ---- state: m = -inf, l = 0, O = 0 ----
  auto accType = VectorType::get({2, 2}, b.getF32Type());
  Value zeroAcc = arith::ConstantOp::create(b, DenseElementsAttr::get(accType, 0.0f));
  State init{cst(-INFINITY), cst(-INFINITY), cst(0.0), cst(0.0)};
  init.append(vWidth / kMmaN, zeroAcc);
  stateTypes.clear();
  for (Value value : init)
    stateTypes.push_back(value.getType());

  if (RopeOp ropeOp = findStatement<RopeOp>(op))
    theta = kb->inlineRegion(ropeOp.getBody(), {})[0];
  waitParity(sharedPointer(qFullOffset), i32(0));
  if (q.staged)
    stageOperands({&q}, Value(), rowBegin);
  State carried(init);
  carried.push_back(idx(0));
  SmallVector<Type> carriedTypes(stateTypes);
  carriedTypes.push_back(b.getIndexType());
  State result = kb->loop(
      idx(0), numM, idx(blockN), carried,
      [&](Value tile, ValueRange st) -> SmallVector<Value> {
        ValueRange state = st.drop_back();
        Value count = st.back();
        return kb->ifElse(
            ctaNonEmpty(tile), carriedTypes,
            [&] {
              Value stage = arith::RemUIOp::create(b, count, idx(stages));
              Value parity = arith::RemUIOp::create(
                  b, arith::DivUIOp::create(b, count, idx(stages)), idx(2));
              waitParity(fullBarrier(stage), toI32(parity));
              SmallVector<const Operand *> staged;
              for (const Operand *operand : {&k, &v})
                if (operand->staged)
                  staged.push_back(operand);
              if (!staged.empty())
                stageOperands(staged, stage, tile);
              State next = warpgroupTile(tile, stage, state);
              // This thread's wgmmas that read the stage have completed (wait_group 0).
              NVVM::MBarrierArriveOp::create(b, Type(), emptyBarrier(stage), Value());
              next.push_back(add(count, idx(1)));
              return next;
            },
            [&] { return State(st.begin(), st.end()); });
      });
  result.pop_back();
  epilogue(result);
}

HopperAttentionLowering::State
HopperAttentionLowering::warpgroupTile(Value tile, Value stage, ValueRange state) {
  ImplicitLocOpBuilder &b = kb->builder();
  Value tileEnd = arith::MinUIOp::create(b, add(tile, idx(blockN)), numM);
  Value lastKey = arith::SubIOp::create(b, tileEnd, idx(1));
  Value fullKeys = eq(arith::SubIOp::create(b, tileEnd, tile), idx(blockN));
  // Keys past M in a last, short tile are dropped by the mask code.
  Value keysPartial =
      arith::XOrIOp::create(b, fullKeys, arith::ConstantIntOp::create(b, b.getI1Type(), 1));
  KeyTileClass wgClass = classifyKeyTile(*kb, op, bIdx, hIdx, wgBegin, wgLast, tile,
                                         lastKey, wgHasRows, keysPartial);
  // Both conditions are uniform over the warpgroup, as wgmma requires.
  return runKeyTile(*kb, wgClass, stateTypes, state, [&](bool masked) {
    return computeTile(tile, stage, state, masked);
  });
}

HopperAttentionLowering::State
HopperAttentionLowering::computeTile(Value tile, Value stage, ValueRange state,
                                     bool masked) {
  ImplicitLocOpBuilder &b = kb->builder();
  constexpr int64_t kStepsPerRow = wgmma::kSwizzleBytes / (kMmaK * 2); // 4 k16 per row

  // ---- S = Q K^T: D / 16 wgmmas m64 n BLOCK_N k16, both operands K-major ----
  Value qBase = add(i64(q.tileOffset), mul(kb->toI64(consumerIdx),
                                      i64(kWarpgroupRows * wgmma::kSwizzleBytes)));
  Value kBase = add(i64(k.tileOffset), kb->toI64(mul(stage, idx(k.tileBytes()))));
  NVVM::WgmmaFenceAlignedOp::create(b);
  SmallVector<Value> s;
  for (int64_t kk = 0; kk < qkWidth / kMmaK; ++kk) {
    int64_t block = kk / kStepsPerRow, inRow = (kk % kStepsPerRow) * kMmaK * 2;
    Value descQ = wgmma::sharedDescriptor(
        b,
        add(add(sharedBase, qBase), i64(block * blockM * wgmma::kSwizzleBytes + inRow)),
        /*leadingBytes=*/16, wgmma::kAtomBytes);
    Value descK = wgmma::sharedDescriptor(
        b, add(add(sharedBase, kBase), i64(block * blockN * wgmma::kSwizzleBytes + inRow)),
        /*leadingBytes=*/16, wgmma::kAtomBytes);
    s = wgmma::mmaSharedShared(b, mmaType, blockN, descQ, descK, s, /*accumulate=*/kk > 0);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);

  // ---- softmax (FragmentSoftmax.h); P in pairs is one A register each ----
  SoftmaxTile softmax = softmaxTile(*kb, fragmentRows(), s, tile, {state[0], state[1]},
                                    {state[2], state[3]}, masked, mmaType);
  State next(state.begin(), state.end());
  for (int r = 0; r < 2; ++r) {
    next[r] = softmax.m[r];
    next[2 + r] = softmax.l[r];
  }
  SmallVector<Value> pWords;
  for (Value pair : softmax.p)
    pWords.push_back(wgmma::packWord(b, pair));

  // ---- O = alpha O + P V: BLOCK_N / 16 wgmmas m64 n DV k16, A = P from registers
  // (k slice kc: a0..a3 = (n-tile 2kc, rows g / g+8), (n-tile 2kc+1, rows g / g+8)),
  // B = V MN-major ----
  SmallVector<Value> acc = rescaleRows(*kb, llvm::to_vector(state.drop_front(4)), softmax.alpha);
  Value vBase = add(add(sharedBase, i64(v.tileOffset)),
                    kb->toI64(mul(stage, idx(v.tileBytes()))));
  NVVM::WgmmaFenceAlignedOp::create(b);
  for (int64_t kc = 0; kc < blockN / kMmaK; ++kc) {
    Value descV = wgmma::sharedDescriptor(
        b, add(vBase, i64(kc * kMmaK * wgmma::kSwizzleBytes)),
        /*leadingBytes=*/blockN * wgmma::kSwizzleBytes, wgmma::kAtomBytes);
    SmallVector<Value> aWords{pWords[(2 * kc) * 2], pWords[(2 * kc) * 2 + 1],
                              pWords[(2 * kc + 1) * 2], pWords[(2 * kc + 1) * 2 + 1]};
    acc = wgmma::mmaRegisterShared(b, mmaType, vWidth, aWords, descV, acc,
                                   /*transposeB=*/true);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  for (auto [dt, value] : llvm::enumerate(acc))
    next[4 + dt] = value;
  return next;
}

/// The program function becomes a gpu.func kernel: the program id is the block id; the
/// tensor-map pointer is the last argument. Launch parameters travel as attributes for
/// the manifest; nvvm.maxntid + nvvm.minctasm give ptxas the register cap at entry that
/// setmaxnreg needs.
void HopperAttentionLowering::moveIntoGpuModule() {
  MLIRContext *ctx = op.getContext();
  Builder b(ctx);
  gpu::GPUFuncOp kernel = moveProgramToKernel(
      kb->function(), gpuModule, {threads, sharedBytes, schedule, specialized},
      {LLVM::LLVMPointerType::get(ctx)});
  // One tensor map per operand, in map order (q, k, v); swizzle 0: a raw tile for
  // staging.
  auto tensorMap = [&](const Operand &operand) {
    return TensorMapAttr::get(ctx, operand.arg, wgmma::kSwizzleElements, operand.rows,
                              operand.staged ? 0 : wgmma::kSwizzleBytes);
  };
  setKernelAbi(kernel, getKernelAbi(kernel).withTensorMaps(
                           {tensorMap(q), tensorMap(k), tensorMap(v)}));
  kernel->setAttr("nvvm.maxntid",
                  b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  kernel->setAttr("nvvm.minctasm", b.getI32IntegerAttr(1));
}

struct LowerAttentionToHopper
    : tmix::impl::LowerAttentionToHopperBase<LowerAttentionToHopper> {
  using LowerAttentionToHopperBase::LowerAttentionToHopperBase;
  void runOnOperation() override {
    FailureOr<int64_t> lowered = lowerAttentionKernels<HopperAttentionLowering>(
        getOperation(), specialize, getSm90aTargetInfo());
    if (failed(lowered))
      return signalPassFailure();
    numLowered += *lowered;
  }
};

} // namespace
