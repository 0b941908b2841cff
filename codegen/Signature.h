//===- Signature.h - The runtime's view of a spec op ------------*- C++ -*-===//
//
// Translates a spec op's signature (argument and output names, element types, shapes,
// scalar defaults) into the runtime's MLIR-free SpecSignature.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_SIGNATURE_H
#define TMIX_CODEGEN_SIGNATURE_H

#include "runtime/Bindings.h"

namespace mlir {
class Operation;
} // namespace mlir

namespace tmix {

/// The signature of a tmix.attention or tmix.recurrence op.
rt::SpecSignature signatureOf(mlir::Operation *specOp);

} // namespace tmix

#endif // TMIX_CODEGEN_SIGNATURE_H
