//===- ScheduleBounds.h - The ranges of the schedule's values ---*- C++ -*-===//
//
// Every value of a `tmix.schedule` becomes a tile size, a loop step, an unrolled
// register block or a buffer size, so each has a range, kept here, in one place for
// the attributes' verifiers (#tmix.attention_schedule, #tmix.recurrence_schedule: a
// hand-written schedule is checked when it is parsed), the command line (`tmixc
// --schedule`), the tmix-schedule pass and the CPU lowerings (docs/cpu-kernels.md,
// "Schedule bounds"). These are the target-independent ranges; what one target's
// kernels can run is its TargetInfo's to say (passes/TargetInfo.h). The bounds leave
// room above every schedule that is fast, and keep the compile time, the code size and
// the per-program buffers of any allowed one modest.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_SCHEDULEBOUNDS_H
#define TMIX_DIALECT_SCHEDULEBOUNDS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::tmix {

/// Query rows per attention program: the rows of Q^T, S^T and O^T in the buffers.
inline constexpr int64_t kMaxBlockM = 4096;
/// Keys per KV tile: the rows of the staged K and V tiles and of S^T.
inline constexpr int64_t kMaxBlockN = 4096;
/// f32 lanes of a vector register (AVX-512 has 16).
inline constexpr int64_t kMaxLanes = 64;
/// Vector registers the micro-kernels are blocked for; fewer than 4 leave no room for
/// one accumulator, one row vector and one broadcast.
inline constexpr int64_t kMinVectorRegisters = 4;
inline constexpr int64_t kMaxVectorRegisters = 256;
/// ceil(block_m / lanes): the lane vectors that every step of the micro-kernels unrolls.
/// Compile time grows faster than linearly with it: 64 take 1 s, 256 take 10 s.
inline constexpr int64_t kMaxRowVectors = 256;
/// Steps per chunk: the rows of every chunk buffer ([C, K], [K, C], ...).
inline constexpr int64_t kMaxChunk = 1024;
/// The T from which `auto` takes the chunked form: any T past this is "never".
inline constexpr int64_t kMaxChunkedMinSteps = int64_t{1} << 32;
/// Warps per GPU program: a CTA has at most 1024 threads.
inline constexpr int64_t kMaxWarps = 32;
/// Buffers of a GPU kernel's K/V ring (each a whole KV tile in shared memory).
inline constexpr int64_t kMaxStages = 8;

/// Per program, the bytes of scratch buffers that the lowerings can count at compile
/// time (from the schedule and the fixed dims; a dim known only at run time counts as
/// 1). This bounds the product of the tile sizes: S^T alone is block_n x block_m f32,
/// 64 MiB for the largest tiles; the default tiles need 20 KiB at D = 64.
inline constexpr int64_t kMaxProgramScratchBytes = int64_t{64} << 20;

/// The forms of a recurrence: a run-time choice on T, always chunked, step by step.
inline constexpr llvm::StringLiteral kRecurrenceForms[] = {"auto", "chunked",
                                                           "recurrent"};

/// The range of one integer parameter of a schedule attribute; the key is the
/// attribute's (snake_case) and the command line's name. A parameter that a target
/// does not use is 0 in the attribute, outside its range.
struct ScheduleRange {
  llvm::StringLiteral key;
  int64_t min, max;
};

inline constexpr ScheduleRange kScheduleRanges[] = {
    {"block_m", 1, kMaxBlockM},
    {"block_n", 1, kMaxBlockN},
    {"lanes", 1, kMaxLanes},
    {"vector_registers", kMinVectorRegisters, kMaxVectorRegisters},
    {"warps", 1, kMaxWarps},
    {"stages", 1, kMaxStages},
    {"chunk", 1, kMaxChunk},
    {"chunked_min_steps", 1, kMaxChunkedMinSteps},
};

/// The range of the integer schedule entry `key`, or none for another key.
inline std::optional<ScheduleRange> scheduleRange(llvm::StringRef key) {
  for (const ScheduleRange &range : kScheduleRanges)
    if (range.key == key)
      return range;
  return std::nullopt;
}

/// What is wrong with `value` in `range` ("at most 4096", "at least 1", "between 4
/// and 256"), or empty.
inline std::string scheduleRangeError(const ScheduleRange &range, int64_t value) {
  if (value >= range.min && value <= range.max)
    return {};
  if (range.min > 1)
    return "between " + std::to_string(range.min) + " and " + std::to_string(range.max);
  if (value < range.min)
    return "at least " + std::to_string(range.min);
  return "at most " + std::to_string(range.max);
}

/// What is wrong with block_m rows in vectors of `lanes` (ceil(block_m / lanes) lane
/// vectors, at most kMaxRowVectors), or empty. Both must be in range already.
inline std::string rowVectorsError(int64_t blockM, int64_t lanes) {
  if ((blockM + lanes - 1) / lanes <= kMaxRowVectors)
    return {};
  return "block_m=" + std::to_string(blockM) + " with lanes=" + std::to_string(lanes) +
         " needs more than " + std::to_string(kMaxRowVectors) +
         " lane vectors per tile: at most block_m=" +
         std::to_string(kMaxRowVectors * lanes);
}

} // namespace mlir::tmix

#endif // TMIX_DIALECT_SCHEDULEBOUNDS_H
