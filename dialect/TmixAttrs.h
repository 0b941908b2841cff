//===- TmixAttrs.h - Attributes of the tmix dialect -----------*- C++ -*-===//
//
// Declares the schedule and kernel-ABI attributes (TmixAttrs.td).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_DIALECT_TMIXATTRS_H
#define TMIX_DIALECT_TMIXATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"

#define GET_ATTRDEF_CLASSES
#include "dialect/TmixAttrs.h.inc"

#endif // TMIX_DIALECT_TMIXATTRS_H
