//===- ChunkMath.cpp - The formulas of the chunked recurrences ------------===//

#include "passes/ChunkMath.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::tmix;

StepGateLog tmix::stepGateLog(KernelBuilder &kb, const ChunkForm &form,
                              function_ref<Value(const ChunkFactor &factor)> element,
                              arith::FastMathFlags addFlags) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value log = kb.f32(0.0);
  Value sign = kb.f32(form.negatedGate ? -1.0 : 1.0);
  for (const ChunkFactor &factor : form.gate) {
    Value value = element(factor);
    Value factorLog = value;
    if (!factor.isExp) {
      factorLog = math::LogOp::create(b, math::AbsFOp::create(b, value));
      Value negative =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, value, kb.f32(0.0));
      sign = arith::SelectOp::create(b, negative, arith::NegFOp::create(b, sign), sign);
    }
    log = factor.inverse ? arith::SubFOp::create(b, log, factorLog).getResult()
                         : arith::AddFOp::create(b, log, factorLog, addFlags).getResult();
  }
  // maxnumf: a NaN or -inf log (a zero gate) becomes the floor too.
  log = arith::MaxNumFOp::create(b, log, kb.f32(kLogDecayFloor));
  return {log, sign};
}

Value tmix::deltaSystemEntry(ImplicitLocOpBuilder &b, Value strength, Value keyScore,
                             arith::FastMathFlags mulFlags) {
  return arith::MulFOp::create(b, strength, keyScore, mulFlags);
}

Value tmix::deltaRightHandSide(ImplicitLocOpBuilder &b, Value strength, Value value,
                               Value prediction, arith::FastMathFlags mulFlags) {
  Value residual = arith::SubFOp::create(b, value, prediction);
  return arith::MulFOp::create(b, strength, residual, mulFlags);
}

void tmix::substituteDeltaRows(KernelBuilder &kb, Value rows,
                               function_ref<void(Value i)> beginRow,
                               function_ref<Value(Value i, Value s)> entry,
                               DeltaRowSum sum) {
  ImplicitLocOpBuilder &b = kb.builder();
  kb.loop(kb.index(0), rows, kb.index(1), {}, [&](Value i, ValueRange) {
    if (beginRow)
      beginRow(i);
    // ---- w_i = r_i - sum_{s < i} A_is w_s, from the rows solved before it ----
    sum(
        i, i, [&](Value s) { return entry(i, s); },
        [&](Value row, Value rowSum) {
          return Value(arith::SubFOp::create(b, row, rowSum));
        });
    return SmallVector<Value>{};
  });
}
