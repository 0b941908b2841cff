//===- RegionInterpreter.h - Walks the regions of a spec op -----*- C++ -*-===//
//
// The reference evaluator's interpreter for statement and step regions: it runs the
// ops of a block in order on double / int64 / bool scalars and on the f32 vectors and
// matrices of recurrences (held as doubles), reading the spec's arguments from the
// bindings. Internal to codegen/reference.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_REFERENCE_REGIONINTERPRETER_H
#define TMIX_CODEGEN_REFERENCE_REGIONINTERPRETER_H

#include "runtime/Bindings.h"
#include "runtime/HostTensor.h"

#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <vector>

namespace mlir::tmix {
class SpecTensorType;
} // namespace mlir::tmix

namespace tmix::reference {

/// A vector or matrix value of a recurrence step, row-major. Elements are doubles
/// whatever the IR element type (integers up to 2^53 are exact).
struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
};

/// One SSA value: a scalar of the kind its MLIR type says (f32/f16/bf16 -> Float,
/// i32/i64 -> Int, i1 -> Bool) or a tensor. Tensors are shared and immutable, so that
/// copying a value is cheap.
struct RefValue {
  enum class Kind { Float, Int, Bool, Tensor };
  Kind kind = Kind::Float;
  double f = 0.0;
  int64_t i = 0;
  bool b = false;
  std::shared_ptr<const RefTensor> tensor;

  static RefValue ofFloat(double value);
  static RefValue ofInt(int64_t value);
  static RefValue ofBool(bool value);
  static RefValue ofTensor(RefTensor value);
  /// A scalar of `type` (f*, i1, i*) holding `value` (bools: nonzero, ints: truncated).
  static RefValue ofScalar(mlir::Type type, double value);
  /// The value as a double (bool -> 0/1); tensors are not scalars.
  double asDouble() const;
};

/// An error carrying `message`, prefixed so that a user sees where it comes from.
llvm::Error makeError(const llvm::Twine &message);

/// The element count of a row-major shape (1 for rank 0).
int64_t numElements(llvm::ArrayRef<int64_t> shape);

/// Evaluates one arith or math op on scalar operands. Returns std::nullopt when the op
/// is not one the interpreter knows (the caller reports it), an error for a run-time
/// fault (integer division by zero).
std::optional<llvm::Expected<RefValue>>
evaluateScalarOp(mlir::Operation &op, llvm::ArrayRef<RefValue> operands);

/// Runs regions of one spec op on one set of bindings.
class RegionInterpreter {
public:
  RegionInterpreter(mlir::Operation *specOp, const rt::Bindings &bindings);

  /// Checks the bindings against the signature (one tensor of the declared shape per
  /// tensor argument, every size symbol bound) and binds the scalar arguments.
  llvm::Error initialize();

  /// The run-time size of a literal or symbolic dimension.
  llvm::Expected<int64_t> resolveDim(mlir::Attribute dim) const;
  /// The run-time shape of a declared tensor type.
  llvm::Expected<std::vector<int64_t>>
  resolveShape(mlir::tmix::SpecTensorType type) const;

  /// The tensor bound to spec argument `index`.
  const rt::HostTensor &argumentTensor(unsigned index) const {
    return bindings.tensors[index];
  }

  /// Inside a recurrence: the parallel dims, the point being evaluated, the time
  /// symbol, which tmix.slice needs, and the point's first step in T (its sequence's
  /// offset with packed sequences, else 0).
  void setRecurrencePoint(llvm::ArrayRef<mlir::Attribute> parallelDims,
                          llvm::ArrayRef<int64_t> point, llvm::StringRef timeSymbol,
                          int64_t firstStep);

  /// Where the block of a tensor with `dims` (logical) and `shape` at the current point
  /// (and, given `time`, at that step of the point) starts, row-major: its leading
  /// parallel dims (a group symbol for its dim, the literal 1 at 0) take the point's
  /// coordinates, then the time dim the packed step; `blockDims` gets the number of
  /// dims so indexed (the rest is the block). `what` names the tensor in errors.
  llvm::Expected<int64_t> blockOffset(llvm::ArrayRef<mlir::Attribute> dims,
                                      llvm::ArrayRef<int64_t> shape,
                                      std::optional<int64_t> time, size_t &blockDims,
                                      const llvm::Twine &what) const;

  /// The value of spec argument `argument` (a tensor) at the current parallel point and,
  /// when `time` is given, at that step (tmix.slice semantics). `resultType` is the
  /// expected value type: it fixes the scalar kind and is checked against the rank left.
  llvm::Expected<RefValue> sliceArgument(mlir::BlockArgument argument,
                                         std::optional<int64_t> time,
                                         mlir::Type resultType) const;

  /// Runs `block` with `arguments` bound to its block arguments; returns the operands of
  /// its tmix.yield.
  llvm::Expected<llvm::SmallVector<RefValue, 4>> run(mlir::Block &block,
                                                     llvm::ArrayRef<RefValue> arguments);

  /// Runs a single-block statement region that yields one scalar.
  llvm::Expected<RefValue> runScalar(mlir::Region &region,
                                     llvm::ArrayRef<RefValue> arguments);

private:
  llvm::Expected<RefValue> lookup(mlir::Value value) const;
  llvm::Error evaluate(mlir::Operation &op);
  llvm::Expected<RefValue> evaluateTmixOp(mlir::Operation &op,
                                          llvm::ArrayRef<RefValue> operands);
  llvm::Expected<RefValue> evaluateRead(mlir::Operation &op,
                                        llvm::ArrayRef<RefValue> operands) const;
  llvm::Expected<RefValue> evaluateMap(mlir::Operation &op,
                                       llvm::ArrayRef<RefValue> operands);

  mlir::Operation *specOp;
  mlir::Block &specBody;
  const rt::Bindings &bindings;
  llvm::DenseMap<mlir::Value, RefValue> env;

  llvm::SmallVector<mlir::Attribute> parallelDims;
  llvm::SmallVector<int64_t> parallelPoint;
  std::string timeSymbol;
  int64_t firstStep = 0;
};

} // namespace tmix::reference

#endif // TMIX_CODEGEN_REFERENCE_REGIONINTERPRETER_H
