//===- TmixDialect.h - The tmix dialect -----------------------*- C++ -*-===//
//
// Declares mlir::tmix::TmixDialect, the spec-level dialect of attention and
// recurrence specs.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXDIALECT_H
#define TMIX_DIALECT_TMIXDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/TmixDialect.h.inc"

#endif // TMIX_DIALECT_TMIXDIALECT_H
