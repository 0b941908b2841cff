//===- GradientReduction.h - Summing a recurrence's shared gradients ---*- C++ -*-===//
//
// A recurrence's backward (tmix-derive-recurrence-grad, docs/training.md) runs one
// program per parallel point, and each writes only its own values: the gradient of an
// argument that several points read (a per-head constant under the batch, Mamba2's B
// and C under their group's heads, a scalar) comes back per point, in the logical
// order [parallel..., (T), own dims]. This sums it into the argument's shape, in a
// fixed order, so that gradients are deterministic without atomics.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_GRADIENTREDUCTION_H
#define TMIX_RUNTIME_GRADIENTREDUCTION_H

#include "runtime/Bindings.h"

namespace tmix::rt {

/// The index of the argument of `signature` whose gradient a backward's result
/// `result` is (named d_<argument>), or signature.args.size() when it is none's.
size_t gradientArgument(const SpecSignature &signature, const ParamDecl &result);

/// Whether a backward's result declared by `partialDecl` is already the gradient of
/// the argument declared by `decl`: a tensor of its dims and layout (one element per
/// element, nothing shared to sum).
bool sharesNothing(const ParamDecl &decl, const ParamDecl &partialDecl);

/// How a shared gradient sums from its per-point partial (a row-major tensor of the
/// partial's declared shape) into the argument's stored shape: element e of the
/// argument (its logical index i, row-major over `sizes`) is
///   sum over j, row-major over `summedSizes`, of
///     partial[sum_d i[d] * partialStrides[d] + sum_s j[s] * summedStrides[s]],
/// added in double in that order and stored as f32 at sum_d i[d] * gradientStrides[d].
/// The summed dims are those the argument lacks and, for a group dim, the points of
/// each group, in the partial's order: the order in which a walk over the partial
/// meets them, on the host as on the GPUs (tmix_gradient_sum), so both give the same
/// bits.
struct GradientSum {
  std::vector<int64_t> sizes, gradientStrides, partialStrides;
  std::vector<int64_t> summedSizes, summedStrides;

  /// The argument's elements (1 for a scalar) and the terms of each.
  int64_t count() const;
  int64_t terms() const;
  /// The plan as the GPU's tmix_gradient_sum reads it: [rank, summed rank, sizes,
  /// gradientStrides, partialStrides, summedSizes, summedStrides].
  std::vector<int64_t> encode() const;
};

/// The plan for the gradient of argument `argument` of the recurrence `forward` from
/// the backward's result declared by `partialDecl` (not permuted), under `sizes`.
/// Returns an error message, or empty.
std::string planGradientSum(const SpecSignature &forward, size_t argument,
                            const ParamDecl &partialDecl,
                            const std::map<std::string, int64_t> &sizes,
                            GradientSum &plan);

/// The gradient of argument `argument` of the recurrence `forward` from `partial`, the
/// backward's result for it declared by `partialDecl`: `partial` itself when it has the
/// argument's dims, else summed by planGradientSum's plan, in the argument's stored
/// shape ([1] for a scalar), F32. Returns an error message, or empty.
std::string reduceSharedGradient(const SpecSignature &forward, size_t argument,
                                 const ParamDecl &partialDecl, const HostTensor &partial,
                                 const std::map<std::string, int64_t> &sizes,
                                 HostTensor &gradient);

/// The signature a recurrence's adjoint shows its callers (the C API, Python): the
/// program's, with each result d_<x> declared as argument x is (dims and layout), F32,
/// and a scalar x's as [1]. `program`'s arguments begin with the forward's.
SpecSignature reducedGradientSignature(const SpecSignature &program);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_GRADIENTREDUCTION_H
