//===- Passes.h - the CPU lowerings -*- C++ -*-===//
//
// Declarations of the CPU lowering passes (generated from Passes.td) and their
// registration.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_PASSES_H
#define TMIX_CODEGEN_CPU_PASSES_H

#include "passes/Passes.h"

namespace mlir::tmix {

#define GEN_PASS_DECL
#include "codegen/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/cpu/Passes.h.inc"

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_PASSES_H
