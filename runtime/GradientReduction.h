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

/// Whether a backward's result declared by `partialDecl` is already the gradient of
/// the argument declared by `decl`: a tensor of its dims and layout (one element per
/// element, nothing shared to sum).
bool sharesNothing(const ParamDecl &decl, const ParamDecl &partialDecl);

/// The gradient of argument `argument` of the recurrence `forward` from `partial`, the
/// backward's result for it declared by `partialDecl`: `partial` itself when it has the
/// argument's dims, else its sums over the dims the argument lacks and over the points
/// of each group, in the argument's stored shape ([1] for a scalar), F32 (summed in
/// double). Returns an error message, or empty.
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
