//===- AttentionStatements.h - What the attention lowerings share -*- C++ -*-===//
//
// The CPU and GPU lowerings of tmix.attention read the same statements and run the
// same log2-domain online softmax: the statement lookup and its constants live here,
// so that the two targets cannot drift apart on them.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_ATTENTIONSTATEMENTS_H
#define TMIX_PASSES_ATTENTIONSTATEMENTS_H

#include "dialect/TmixOps.h"

namespace mlir::tmix {

/// log2(e): scores are kept in the log2 domain so that every exponential is an exp2.
inline constexpr double kLog2e = 1.4426950408889634;
/// ln(2): lse = (m + log2(l)) * ln(2) back in natural units.
inline constexpr double kLn2 = 0.6931471805599453;

/// The statement of kind OpTy (mask, score, scale, sink, rope, score_grad) of a
/// tmix.attention or tmix.attention_grad, or null.
template <typename OpTy> OpTy findStatement(Operation *spec) {
  auto range = spec->getRegion(0).front().getOps<OpTy>();
  return range.empty() ? OpTy() : *range.begin();
}

} // namespace mlir::tmix

#endif // TMIX_PASSES_ATTENTIONSTATEMENTS_H
