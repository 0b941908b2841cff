//===- Passes.h - the NVIDIA lowerings -*- C++ -*-===//
//
// Declarations of the sm_80 / sm_90a lowering passes (generated from Passes.td) and
// their registration.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_PASSES_H
#define TMIX_CODEGEN_NVIDIA_PASSES_H

#include "passes/Passes.h"

namespace mlir::tmix {

#define GEN_PASS_DECL
#include "codegen/nvidia/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/nvidia/Passes.h.inc"

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_NVIDIA_PASSES_H
