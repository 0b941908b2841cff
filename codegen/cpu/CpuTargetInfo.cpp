//===- CpuTargetInfo.cpp - The host CPU as a schedule target --------------===//
//
// The CPU programs run any tile sizes and vector shape within the schedule's ranges
// (a narrower shape than the host's is correct, only slower), so the check only asks
// for a vector shape and refuses the GPU's values.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/ChunkedAdjoint.h"

#include "passes/ChunkForm.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// Query rows per program: two AVX-512 row vectors, which leave room for register
/// blocks of 9 keys or value columns.
constexpr int64_t kDefaultBlockM = 32;
/// Keys per KV tile.
constexpr int64_t kDefaultBlockN = 64;
/// Steps per chunk of a chunked recurrence.
constexpr int64_t kDefaultChunk = 64;
/// The chunked form from T = 1: measured faster than step by step at every T.
constexpr int64_t kDefaultChunkedMinSteps = 1;
constexpr llvm::StringLiteral kDefaultForm = "auto";

class CpuTargetInfo final : public TargetInfo {
public:
  explicit CpuTargetInfo(VectorShape shape) : shape(shape) {}

  StringRef getName() const override { return kCpuTarget; }
  TargetKind getKind() const override { return TargetKind::Cpu; }

  AttentionScheduleAttr getDefaultSchedule(AttentionOp op,
                                           const FixedSizes &) const override {
    return AttentionScheduleAttr::get(op.getContext(), kDefaultBlockM, kDefaultBlockN,
                                      shape.lanes, shape.registers, /*warps=*/0,
                                      /*stages=*/0);
  }

  RecurrenceScheduleAttr getDefaultSchedule(RecurrenceOp op,
                                            const FixedSizes &) const override {
    return RecurrenceScheduleAttr::get(op.getContext(), kDefaultForm, kDefaultChunk,
                                       kDefaultChunkedMinSteps);
  }

  std::string checkSchedule(AttentionOp, AttentionScheduleAttr schedule,
                            const FixedSizes &) const override {
    auto refuse = [](StringRef key, int64_t value, StringRef why) {
      return ("schedule " + key + "=" + std::to_string(value) +
              " does not fit the CPU's attention program: " + why)
          .str();
    };
    if (schedule.getLanes() == 0)
      return refuse("lanes", 0,
                    "its micro-kernels need a vector shape (lanes and "
                    "vector_registers, e.g. 16 and 32)");
    if (schedule.getVectorRegisters() == 0)
      return refuse("vector_registers", 0,
                    "its micro-kernels need a vector shape (lanes and vector_registers, "
                    "e.g. 16 and 32)");
    if (schedule.getWarps() != 0)
      return refuse("warps", schedule.getWarps(), "warps is a GPU value (0 on the CPU)");
    if (schedule.getStages() != 0)
      return refuse("stages", schedule.getStages(),
                    "stages is a GPU value (0 on the CPU)");
    return {};
  }

  std::string checkSchedule(RecurrenceOp op, RecurrenceScheduleAttr schedule,
                            const FixedSizes &) const override {
    // Every form and chunk in range runs, but the chunked form only with a state that
    // has one: asked for, it must not quietly run step by step. An adjoint runs chunked
    // where tmix-derive-recurrence-grad marked it so (its forward's states).
    if (schedule.getForm() == "chunked" && op.getForward()) {
      if (runsChunkedAdjointOnCpu(op))
        return {};
      return ("schedule form=chunked does not fit '" + op.getSymName() +
              "': its forward '" + *op.getForward() +
              "' has a state without a chunked adjoint form, so its adjoint runs step "
              "by step; use form=auto or form=recurrent")
          .str();
    }
    if (schedule.getForm() == "chunked" && getChunkForms(op).empty())
      return ("schedule form=chunked does not fit '" + op.getSymName() +
              "': no state has a chunk-parallel form (" + explainMissingChunkForms(op) +
              "); use form=auto or form=recurrent")
          .str();
    return {};
  }

private:
  VectorShape shape;
};

} // namespace

VectorShape tmix::vectorShapeOf(bool hasAvx512, bool hasAvx2) {
  if (hasAvx512)
    return {16, 32};
  if (hasAvx2)
    return {8, 16};
  return {4, 16};
}

VectorShape tmix::hostVectorShape() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  return vectorShapeOf(features.lookup("avx512f"), features.lookup("avx2"));
}

void tmix::preferLaneWidth(func::FuncOp program, VectorShape shape) {
  // LLVM's function attribute, carried to the llvm.func by the func-to-llvm lowering.
  MLIRContext *context = program.getContext();
  Builder b(context);
  std::string bits = std::to_string(shape.lanes * 32);
  program->setAttr("passthrough",
                   b.getArrayAttr({b.getStrArrayAttr({"prefer-vector-width", bits})}));
}

const TargetInfo &tmix::getCpuTargetInfo() {
  static const CpuTargetInfo host(hostVectorShape());
  return host;
}

void tmix::registerCpuTargetInfo() { registerTargetInfo(getCpuTargetInfo()); }
