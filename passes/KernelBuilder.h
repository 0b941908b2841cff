//===- KernelBuilder.h - Building the loop program of a spec ----*- C++ -*-===//
//
// Shared by the lowerings of tmix.attention and tmix.recurrence to loops: the program
// function (one program of the grid, its signature being the kernel ABI below), the
// decomposition of the program id, access to arguments and sizes, loops and ifs, and
// the inlining of a spec's scalar regions (mask, score, map bodies, ...).
//
// Kernel ABI of `func.func @<spec>` (with llvm.emit_c_interface):
//   (%pid: i64, one memref per tensor argument (declared rank, dynamic dims, storage
//    element type), one f64 (float) or i64 (int, bool) per scalar argument, one memref
//    per output, %sizes: memref<?xi64>)
// with the attribute `tmix.kernel` (#tmix.kernel, dialect/TmixAttrs.td): the size
// symbols (the order of %sizes) and the grid (one dim:tile per grid dimension,
// outermost first: extent = ceil(dim / tile)).
//
// The status word: a program with per-program scratch buffers on the heap (the CPU
// programs) also takes %sizes[number of size symbols], one i64 that the caller sets to
// 0 before the grid and reads after it. A program that could not allocate its buffers
// skips its work and raises the word to their byte count (an atomic max), so that the
// caller reports out of memory rather than a wrong result. The GPU programs have no
// such buffers: they never touch it, and their callers pass the sizes alone.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_KERNELBUILDER_H
#define TMIX_PASSES_KERNELBUILDER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::tmix {

/// A dimension of the grid: ceil(size of `dim` / tile) programs.
struct GridDim {
  Attribute dim; // IntegerAttr or StringAttr, as in SpecTensorType
  int64_t tile = 1;
};

class KernelBuilder {
public:
  /// Creates the program function of `specOp` right before it.
  KernelBuilder(Operation *specOp, ArrayRef<GridDim> grid);

  ImplicitLocOpBuilder &builder() { return b; }
  func::FuncOp function() { return func; }

  /// The index of grid dimension `dim` of this program.
  Value gridIndex(unsigned dim) { return gridIndices[dim]; }
  unsigned numGridDims() const { return gridIndices.size(); }
  /// The value of a dimension (literal or size symbol) as an index.
  Value dimValue(Attribute dim);
  Value sizeValue(StringRef symbol);
  /// The memref of tensor argument / output `index`.
  Value argMemRef(unsigned index);
  Value resultMemRef(unsigned index);

  // Arithmetic shorthands on index and f32 values.
  Value index(int64_t value);
  Value f32(double value);
  Value toIndex(Value i64Value);
  Value toI64(Value indexValue);
  /// Loads `memref[indices]` and widens floats to f32.
  Value loadF32(Value memref, ValueRange indices);
  /// Stores an f32 `value` at `memref[indices]`, narrowed to the storage type.
  void storeF32(Value value, Value memref, ValueRange indices);

  // ---- per-program scratch buffers, on the heap (see the status word above) ----
  /// A heap buffer of this program (memref.alloc). Its allocation may fail: the code
  /// that touches it goes between guardScratch() and freeScratch().
  Value allocateScratch(MemRefType type, ValueRange dynamicSizes);
  /// Emits `if (every buffer allocated since the last guard is non-null)` and moves the
  /// builder into it; otherwise the program skips that work and raises the status word
  /// to those buffers' byte count.
  void guardScratch();
  /// Leaves the innermost guard and frees its buffers (allocated or not).
  void freeScratch();
  /// The scratch bytes of every buffer allocated so far, as far as they are known at
  /// compile time: a dim known only at run time counts as 1. Saturates.
  uint64_t knownScratchBytes() const { return staticScratchBytes; }

  /// for (iv = lb; iv < ub; iv += step) with loop-carried values; `body` returns the
  /// values carried to the next iteration. Returns the final carried values.
  SmallVector<Value>
  loop(Value lb, Value ub, Value step, ValueRange inits,
       function_ref<SmallVector<Value>(Value iv, ValueRange carried)> body);
  /// if (cond) then-values else else-values.
  SmallVector<Value> ifElse(Value cond, TypeRange types,
                            function_ref<SmallVector<Value>()> thenBody,
                            function_ref<SmallVector<Value>()> elseBody);
  /// if (cond) body(), no values.
  void ifThen(Value cond, function_ref<void()> body);

  /// Calls `leaf` at every index of `memref` whose dims before `first` are `indices`'
  /// and whose dim d from `first` on runs over span(d) = [begin, end), or is begin alone
  /// where end is null: nested loops, the outermost dim first.
  void forEachIndex(Value memref, SmallVector<Value> indices, unsigned first,
                    function_ref<std::pair<Value, Value>(unsigned dim)> span,
                    function_ref<void(ValueRange indices)> leaf);

  /// Inlines a single-block scalar region of the spec (mask, score, sink, scale, rope,
  /// a map body, ...) at the insertion point, with its block arguments bound to `args`;
  /// returns the yielded values. tmix.size and tmix.read become loads; spec arguments
  /// read inside become the program's scalar values.
  SmallVector<Value> inlineRegion(Region &region, ValueRange args);
  /// Clones one op of a region, resolving tmix.size and tmix.read, with `mapping`.
  void cloneScalarOp(Operation &op, IRMapping &mapping);
  /// A mapping that binds the spec's scalar arguments to the program's values.
  IRMapping scalarMapping() const { return scalarArgs; }

private:
  Value readElement(Operation *readOp, IRMapping &mapping);
  void cloneIntegerDivision(Operation &op, IRMapping &mapping);

  Operation *specOp;
  Block *specBody;
  ImplicitLocOpBuilder b;
  func::FuncOp func;
  SmallVector<Value> gridIndices;
  llvm::StringMap<unsigned> sizePositions;
  llvm::StringMap<Value> sizes;
  IRMapping scalarArgs; // spec body block arguments (scalars) -> program values
  unsigned firstResultArg = 0;
  Value sizesMemRef;
  int64_t statusPosition = 0; // of the status word in %sizes

  /// Scratch buffers not yet guarded, and the guards open, innermost last.
  SmallVector<Value> unguardedScratch;
  struct ScratchGuard {
    Operation *ifOp;
    SmallVector<Value> buffers;
  };
  SmallVector<ScratchGuard> scratchGuards;
  uint64_t staticScratchBytes = 0;
};

} // namespace mlir::tmix

#endif // TMIX_PASSES_KERNELBUILDER_H
