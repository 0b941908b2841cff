//===- TmixOps.h - Ops of the tmix dialect --------------------*- C++ -*-===//
//
// Declares the spec ops (AttentionOp, RecurrenceOp), their statement ops and the
// expression ops of the tmix dialect.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXOPS_H
#define TMIX_DIALECT_TMIXOPS_H

#include "dialect/TmixDialect.h"
#include "dialect/TmixTypes.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/TmixOps.h.inc"

#endif // TMIX_DIALECT_TMIXOPS_H
