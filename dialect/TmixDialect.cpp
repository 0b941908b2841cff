//===- TmixDialect.cpp - The tmix dialect ---------------------------------===//
//
// Registers the tmix types and ops with the dialect.
//
//===----------------------------------------------------------------------===//

#include "dialect/TmixDialect.h"

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"
#include "dialect/TmixTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Interfaces/FoldInterfaces.h"

using namespace mlir;
using namespace mlir::tmix;

#include "dialect/TmixDialect.cpp.inc"

namespace {
/// Folded constants stay in the statement, step or map region that uses them: the
/// spec body itself holds only statements, so they must not be hoisted up to it.
struct TmixFoldInterface : public DialectFoldInterface {
  using DialectFoldInterface::DialectFoldInterface;

  bool shouldMaterializeInto(Region *region) const final {
    return llvm::isa<ScaleOp, MaskOp, ScoreOp, SinkOp, RopeOp, StepOp, MapOp>(
        region->getParentOp());
  }
};
} // namespace

void TmixDialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "dialect/TmixOps.cpp.inc"
      >();
  addInterfaces<TmixFoldInterface>();
}
