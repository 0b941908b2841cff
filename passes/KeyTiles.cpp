//===- KeyTiles.cpp - Which KV tiles run, and which need the mask ---------===//

#include "passes/KeyTiles.h"

#include "passes/AttentionStatements.h"
#include "passes/TileMaskBounds.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::tmix;

KeyTileClass tmix::classifyKeyTile(KernelBuilder &kb, Operation *op, Value batch,
                                   Value head, Value rowFirst, Value rowLast,
                                   Value keyFirst, Value keyLast, Value rowsExist,
                                   Value keysPartial) {
  KeyTileClass tileClass{rowsExist, keysPartial};
  MaskOp mask = findStatement<MaskOp>(op);
  if (!mask)
    return tileClass;
  ImplicitLocOpBuilder &b = kb.builder();
  TileClass bounds =
      classifyMaskTile(kb, mask.getBody(), kb.toI64(batch), kb.toI64(head),
                       kb.toI64(rowFirst), kb.toI64(rowLast), kb.toI64(keyFirst),
                       kb.toI64(keyLast));
  tileClass.run = rowsExist ? arith::AndIOp::create(b, rowsExist, bounds.canBeTrue)
                            : bounds.canBeTrue;
  tileClass.needMask = keysPartial
                           ? arith::OrIOp::create(b, keysPartial, bounds.canBeFalse)
                           : bounds.canBeFalse;
  return tileClass;
}

/// Names the class branches of the scf.if just built.
static void tagClasses(ImplicitLocOpBuilder &b, ArrayRef<StringRef> names) {
  std::prev(b.getInsertionPoint())->setAttr("tmix.tile_classes", b.getStrArrayAttr(names));
}

SmallVector<Value> tmix::runKeyTile(KernelBuilder &kb, const KeyTileClass &tileClass,
                                    TypeRange types, ValueRange carried,
                                    function_ref<SmallVector<Value>(bool masked)> body) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto nonEmpty = [&] {
    if (!tileClass.needMask)
      return body(/*masked=*/false);
    SmallVector<Value> results = kb.ifElse(
        tileClass.needMask, types, [&] { return body(/*masked=*/true); },
        [&] { return body(/*masked=*/false); });
    tagClasses(b, {"partial", "full"});
    return results;
  };
  if (!tileClass.run)
    return nonEmpty();
  SmallVector<Value> results = kb.ifElse(tileClass.run, types, nonEmpty, [&] {
    return SmallVector<Value>(carried.begin(), carried.end());
  });
  tagClasses(b, {"non-empty", "empty"});
  return results;
}
