//===- NvidiaTargetInfo.h - sm_80 and sm_90a as schedule targets -*- C++ -*-===//
//
// What the schedule needs to know of the NVIDIA targets and their kernels: the shared
// memory a CTA may opt in to, and the geometry of each kernel (its warps, the rows
// each owns, the KV tile its loops are unrolled for, its K/V stages), which fixes the
// schedule values it can run. The lowerings build their kernels from the same
// constants, so that the TargetInfo and the kernel cannot disagree.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_NVIDIATARGETINFO_H
#define TMIX_CODEGEN_NVIDIA_NVIDIATARGETINFO_H

#include "passes/TargetInfo.h"

namespace mlir::tmix {

inline constexpr int64_t kWarpThreads = 32;

/// The sm_80 attention kernel (tmix-lower-attention-to-nvgpu): m16n8k16 mma.sync.
namespace sm80 {
/// The most dynamic shared memory a CTA may opt in to (A100: 163 KiB).
inline constexpr int64_t kMaxSharedBytes = 163 * 1024;
/// Registers per thread.
inline constexpr int64_t kMaxRegisters = 255;
/// Warps per CTA, each owning the 16 rows of one mma m-tile.
inline constexpr int64_t kWarps = 4;
inline constexpr int64_t kWarpRows = 16;
inline constexpr int64_t kBlockM = kWarps * kWarpRows;
/// Keys per KV tile: the S = Q K^T fragments of a warp are 8 n-tiles of 8 keys; twice
/// that (16 n-tiles, 255 registers without spills) also runs. Fewer would split a
/// tile's cp.async copies unevenly over the CTA's threads.
inline constexpr int64_t kBlockN = 64;
inline constexpr int64_t kWideBlockN = 128;
/// K/V buffers when the next tile's cp.async copies overlap this tile's work.
inline constexpr int64_t kPipelineStages = 2;
/// Elements of padding per shared-memory row (16 bytes: conflict-free ldmatrix rows).
inline constexpr int64_t kPad = 8;

/// Whether the kernel copies K and V with cp.async (16-bit operands without RoPE):
/// only then does a second stage overlap anything.
bool copiesKVAsync(AttentionOp op);

/// The kernel's dynamic shared memory: Q [block_m, D + pad], and `stages` buffers of
/// K [block_n, D + pad] and V [block_n, DV + pad], all 16-bit.
int64_t attentionSharedBytes(int64_t blockM, int64_t blockN, int64_t stages,
                             int64_t headDim, int64_t valueDim);
} // namespace sm80

/// The sm_90a attention kernel (tmix-lower-attention-to-hopper): a producer warpgroup
/// and consumer warpgroups of m64 wgmma.
namespace sm90a {
/// H100/H200 opt-in dynamic shared memory per CTA (227 KiB).
inline constexpr int64_t kMaxSharedBytes = 227 * 1024;
inline constexpr int64_t kMaxRegisters = 255;
inline constexpr int64_t kWarpgroupWarps = 4;
inline constexpr int64_t kConsumerWarpgroups = 2;
inline constexpr int64_t kWarpgroupRows = 64; // the M of wgmma
inline constexpr int64_t kWarps = (1 + kConsumerWarpgroups) * kWarpgroupWarps;
inline constexpr int64_t kBlockM = kConsumerWarpgroups * kWarpgroupRows;
/// Keys per KV tile. 128 (FlashAttention-3's choice for D = 64) made ptxas spill a few
/// words in the consumers of the masked examples (sliding window, sinks) at 240
/// registers; 64 spills nowhere, D = 256 included.
inline constexpr int64_t kBlockN = 64;
/// The ring of K/V buffers, each with a "full" and an "empty" mbarrier.
inline constexpr int64_t kStages = 2;
} // namespace sm90a

/// The chunked recurrence kernel (tmix-lower-recurrence-to-nvgpu), on both chips:
/// chunks of one 16-row m-tile per warp.
namespace recurrence_kernel {
inline constexpr int64_t kChunkWarps = 4;
inline constexpr int64_t kChunkWarpRows = 16;
inline constexpr int64_t kChunkSteps = kChunkWarps * kChunkWarpRows;
} // namespace recurrence_kernel

const TargetInfo &getSm80TargetInfo();
const TargetInfo &getSm90aTargetInfo();
/// Registers sm_80 and sm_90a (kSm80Target, kSm90aTarget).
void registerNvidiaTargetInfos();

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_NVIDIATARGETINFO_H
