//===- NvidiaTargetInfo.cpp - sm_80 and sm_90a as schedule targets --------===//
//
// Each kernel runs the schedule values its geometry fixes (its warps, the rows each
// owns, the KV tile its fragment loops are unrolled for); the check names the value
// that does not fit and what does. sm_80's K/V stages are the one free choice: two
// when the next tile's cp.async copies can overlap this tile's work and both buffers
// fit in shared memory, else one.
//
//===----------------------------------------------------------------------===//

#include "codegen/nvidia/NvidiaTargetInfo.h"

#include "passes/AttentionStatements.h"

using namespace mlir;
using namespace mlir::tmix;

/// 16-bit operands in shared memory.
static constexpr int64_t kOperandBytes = 2;

bool sm80::copiesKVAsync(AttentionOp op) {
  // f16 and bf16 specs run in their own type; f32 ones are rounded when staged.
  Type element = cast<SpecTensorType>(op.getSpecArgTypes()[0]).getElementType();
  return !findStatement<RopeOp>(op) && (element.isF16() || element.isBF16());
}

int64_t sm80::attentionSharedBytes(int64_t blockM, int64_t blockN, int64_t stages,
                                   int64_t headDim, int64_t valueDim) {
  return kOperandBytes * (blockM * (headDim + kPad) + stages * blockN * (headDim + kPad) +
                          stages * blockN * (valueDim + kPad));
}

namespace {

enum class Chip { Sm80, Sm90a };

class NvidiaTargetInfo final : public TargetInfo {
public:
  explicit NvidiaTargetInfo(Chip chip) : chip(chip) {}

  StringRef getName() const override {
    return chip == Chip::Sm80 ? kSm80Target : kSm90aTarget;
  }
  TargetKind getKind() const override { return TargetKind::NvidiaGpu; }

  AttentionScheduleAttr getDefaultSchedule(AttentionOp op,
                                           const FixedSizes &fixed) const override {
    MLIRContext *ctx = op.getContext();
    if (chip == Chip::Sm90a)
      return AttentionScheduleAttr::get(ctx, sm90a::kBlockM, sm90a::kBlockN, 0, 0,
                                        sm90a::kWarps, sm90a::kStages);
    // Two stages when the copies are asynchronous and both buffers fit (head dims not
    // known yet: the lowering reports that).
    int64_t stages = 1;
    if (sm80::copiesKVAsync(op)) {
      std::optional<int64_t> bytes =
          sm80SharedBytes(op, fixed, sm80::kBlockM, sm80::kBlockN, sm80::kPipelineStages);
      if (!bytes || *bytes <= sm80::kMaxSharedBytes)
        stages = sm80::kPipelineStages;
    }
    return AttentionScheduleAttr::get(ctx, sm80::kBlockM, sm80::kBlockN, 0, 0,
                                      sm80::kWarps, stages);
  }

  RecurrenceScheduleAttr getDefaultSchedule(RecurrenceOp op,
                                            const FixedSizes &) const override {
    return RecurrenceScheduleAttr::get(op.getContext(), kChunkedForm,
                                       recurrence_kernel::kChunkSteps,
                                       /*chunked_min_steps=*/1);
  }

  std::string checkSchedule(AttentionOp op, AttentionScheduleAttr schedule,
                            const FixedSizes &fixed) const override {
    auto refuse = [&](StringRef key, int64_t value, const Twine &why) {
      return ("schedule " + key + "=" + Twine(value) + " does not fit " + getName() +
              "'s attention kernel: " + why)
          .str();
    };
    if (schedule.getLanes() != 0)
      return refuse("lanes", schedule.getLanes(), "lanes is a CPU value (0 on a GPU)");
    if (schedule.getVectorRegisters() != 0)
      return refuse("vector_registers", schedule.getVectorRegisters(),
                    "vector_registers is a CPU value (0 on a GPU)");
    if (chip == Chip::Sm90a) {
      if (schedule.getBlockM() != sm90a::kBlockM)
        return refuse("block_m", schedule.getBlockM(),
                      "block_m must be " + Twine(sm90a::kBlockM) + " (" +
                          Twine(sm90a::kConsumerWarpgroups) + " consumer warpgroups of " +
                          Twine(sm90a::kWarpgroupRows) + " rows)");
      if (schedule.getWarps() != sm90a::kWarps)
        return refuse("warps", schedule.getWarps(),
                      "warps must be " + Twine(sm90a::kWarps) + " (a producer and " +
                          Twine(sm90a::kConsumerWarpgroups) + " consumer warpgroups of " +
                          Twine(sm90a::kWarpgroupWarps) + " warps)");
      if (schedule.getBlockN() != sm90a::kBlockN)
        return refuse("block_n", schedule.getBlockN(),
                      "block_n must be " + Twine(sm90a::kBlockN) +
                          " (the n of its m64nNk16 wgmma for S = Q K^T)");
      if (schedule.getStages() != sm90a::kStages)
        return refuse("stages", schedule.getStages(),
                      "stages must be " + Twine(sm90a::kStages) +
                          " (its ring of K/V buffers and mbarriers)");
      return {}; // its shared memory is counted by the lowering (TMA boxes, staging)
    }
    if (schedule.getBlockM() != sm80::kBlockM)
      return refuse("block_m", schedule.getBlockM(),
                    "block_m must be " + Twine(sm80::kBlockM) + " (" +
                        Twine(sm80::kWarps) + " warps of " + Twine(sm80::kWarpRows) +
                        " rows)");
    if (schedule.getWarps() != sm80::kWarps)
      return refuse("warps", schedule.getWarps(),
                    "warps must be " + Twine(sm80::kWarps) + " (" + Twine(sm80::kWarps) +
                        " warps of " + Twine(sm80::kWarpRows) + " rows)");
    if (schedule.getBlockN() != sm80::kBlockN && schedule.getBlockN() != sm80::kWideBlockN)
      return refuse("block_n", schedule.getBlockN(),
                    "block_n must be " + Twine(sm80::kBlockN) + " or " +
                        Twine(sm80::kWideBlockN) +
                        " (its fragment loops are unrolled for 8 or 16 mma n-tiles of 8 "
                        "keys)");
    int64_t stages = schedule.getStages();
    if (stages < 1 || stages > sm80::kPipelineStages)
      return refuse("stages", stages,
                    "stages must be 1 or " + Twine(sm80::kPipelineStages));
    if (stages > 1 && !sm80::copiesKVAsync(op))
      return refuse("stages", stages,
                    "a second stage needs K and V copied with cp.async (bf16 or f16 "
                    "operands, no rope); use stages=1");
    std::optional<int64_t> bytes =
        sm80SharedBytes(op, fixed, schedule.getBlockM(), schedule.getBlockN(), stages);
    // Both values make the buffers: name both, and the smaller choice that helps.
    if (bytes && *bytes > sm80::kMaxSharedBytes)
      return ("schedule block_n=" + Twine(schedule.getBlockN()) +
              ", stages=" + Twine(stages) + " does not fit " + getName() +
              "'s attention kernel: it needs " + Twine(*bytes) +
              " bytes of shared memory, more than the " + Twine(sm80::kMaxSharedBytes) +
              " (163 KiB) of an sm_80 CTA; use " +
              (stages > 1 ? Twine("stages=1") : "block_n=" + Twine(sm80::kBlockN)))
          .str();
    return {};
  }

  std::string checkSchedule(RecurrenceOp, RecurrenceScheduleAttr schedule,
                            const FixedSizes &) const override {
    auto refuse = [&](StringRef key, const Twine &value, const Twine &why) {
      return ("schedule " + key + "=" + value + " does not fit " + getName() +
              "'s recurrence kernel: " + why)
          .str();
    };
    if (schedule.getForm() != kChunkedForm)
      return refuse("form", schedule.getForm(),
                    "it runs the chunked form only (form=chunked)");
    if (schedule.getChunk() != recurrence_kernel::kChunkSteps)
      return refuse("chunk", Twine(schedule.getChunk()),
                    "chunk must be " + Twine(recurrence_kernel::kChunkSteps) + " (" +
                        Twine(recurrence_kernel::kChunkWarps) + " warps of " +
                        Twine(recurrence_kernel::kChunkWarpRows) + " steps)");
    return {};
  }

private:
  static constexpr llvm::StringLiteral kChunkedForm = "chunked";

  /// The sm_80 kernel's shared memory for these tiles, when the head dims are known.
  static std::optional<int64_t> sm80SharedBytes(AttentionOp op, const FixedSizes &fixed,
                                                int64_t blockM, int64_t blockN,
                                                int64_t stages) {
    auto types = op.getSpecArgTypes();
    std::optional<int64_t> d =
        fixedDim(cast<SpecTensorType>(types[0]).getDims()[3], fixed);
    std::optional<int64_t> dv =
        fixedDim(cast<SpecTensorType>(types[2]).getDims()[3], fixed);
    if (!d || !dv)
      return std::nullopt;
    return sm80::attentionSharedBytes(blockM, blockN, stages, *d, *dv);
  }

  Chip chip;
};

} // namespace

const TargetInfo &tmix::getSm80TargetInfo() {
  static const NvidiaTargetInfo sm80(Chip::Sm80);
  return sm80;
}

const TargetInfo &tmix::getSm90aTargetInfo() {
  static const NvidiaTargetInfo sm90a(Chip::Sm90a);
  return sm90a;
}

void tmix::registerNvidiaTargetInfos() {
  registerTargetInfo(getSm80TargetInfo());
  registerTargetInfo(getSm90aTargetInfo());
}
