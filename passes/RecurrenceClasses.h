//===- RecurrenceClasses.h - The update class of each recurrent state -*- C++ -*-===//
//
// The chunk-parallel algorithms of linear recurrences depend on how a state's update
// reads the old state. Following the SSA chain of a state inside the step region, from
// its block argument to the value the step yields, the update is normalised to
// S' = A_t(S) + U_t with U_t independent of every state, and classified:
//
//   class            A_t(S)                                      models
//   scalar_decay     a_t * S (a_t = 1: plain accumulation)       RetNet, Mamba2/SSD
//   diagonal_decay   g_t ⊙ S, g_t a [K] row gate or a matrix     GLA, HGRN2, Mamba1
//   delta            (I - b_t k_t k_t^T) S, U_t = k_t u_t^T      DeltaNet
//   gated_delta      (I - b_t k_t k_t^T) (g_t ⊙ S), g_t a        Gated DeltaNet, KDA
//                    scalar or a row gate
//   general          anything else                               step by step
//
// The analysis is conservative: what it cannot follow (a nonlinear use of a state, a
// state read by another state's update, S @ q, a map region of more than one op) is
// `general`, never a wrong fast class.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_RECURRENCECLASSES_H
#define TMIX_PASSES_RECURRENCECLASSES_H

#include "dialect/TmixOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::tmix {

/// The discardable attribute (a string: the class's name) that
/// ClassifyRecurrences attaches to each tmix.state.
inline constexpr llvm::StringLiteral kUpdateClassAttr = "tmix.update_class";

enum class UpdateClass { ScalarDecay, DiagonalDecay, Delta, GatedDelta, General };

/// "scalar_decay", "diagonal_decay", "delta", "gated_delta" or "general".
llvm::StringRef stringifyUpdateClass(UpdateClass updateClass);

/// The update class of every state of one recurrence, in declaration order.
class RecurrenceClasses {
public:
  explicit RecurrenceClasses(RecurrenceOp op);

  llvm::ArrayRef<UpdateClass> getClasses() const { return classes; }
  UpdateClass getClass(unsigned stateIndex) const { return classes[stateIndex]; }

private:
  llvm::SmallVector<UpdateClass, 4> classes;
};

} // namespace mlir::tmix

#endif // TMIX_PASSES_RECURRENCECLASSES_H
