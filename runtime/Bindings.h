//===- Bindings.h - Values bound to a spec's arguments ----------*- C++ -*-===//
//
// What a call of a compiled spec (or of the reference evaluator) gets: one tensor or
// scalar per spec argument, and the value of every size symbol. The kernel signature
// describes the arguments without MLIR, so that the runtime can bind and check shapes
// on its own.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_BINDINGS_H
#define TMIX_RUNTIME_BINDINGS_H

#include "runtime/HostTensor.h"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tmix::rt {

/// A dimension of a declared shape: a literal, a size symbol, or a symbol plus an
/// offset (`S + 1`: the S + 1 offsets of S packed sequences).
struct DimDecl {
  std::string symbol; // empty for a literal
  int64_t size = 0;   // the literal
  int64_t offset = 0; // added to the symbol's value
};

/// One argument or output of a spec, as declared.
struct ParamDecl {
  std::string name;
  DType dtype = DType::F32;
  bool isTensor = false;
  /// The dims in the order the tensor is stored (as written in the spec).
  std::vector<DimDecl> dims;
  std::optional<double> defaultValue; // scalars only
  /// For each stored dim, the logical dim it holds (the order kernels index by); empty
  /// when the two orders agree (docs/language.md, "Layouts").
  std::vector<int64_t> layout;

  /// The stored position of logical dim `logical`.
  size_t storedPosition(size_t logical) const;
  /// Logical dim `logical` as declared.
  const DimDecl &logicalDim(size_t logical) const { return dims[storedPosition(logical)]; }
};

/// A tensor as the kernels see it: sizes and element strides in the logical order.
struct StridedView {
  std::vector<int64_t> sizes, strides;
};

/// The element strides of a row-major tensor of `shape` (saturated at INT64_MAX where
/// the product overflows: no tensor of such a shape exists to be read).
std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &shape);

/// The logical view of a row-major tensor of `storedShape` laid out as `param`
/// declares: a permutation of its sizes and strides, no copy.
StridedView logicalView(const ParamDecl &param, const std::vector<int64_t> &storedShape);
/// The same for a tensor stored with element strides `storedStrides` (a view).
StridedView logicalView(const ParamDecl &param, const std::vector<int64_t> &storedShape,
                        const std::vector<int64_t> &storedStrides);

/// Whether `layout` is one a ParamDecl may hold for `rank` dims: empty, or a
/// permutation of 0..rank-1.
bool isValidLayout(const std::vector<int64_t> &layout, size_t rank);

struct SpecSignature {
  std::string name;
  bool isAttention = true;
  std::vector<ParamDecl> args;
  std::vector<ParamDecl> results;
  /// Recurrences: (G, P) for a group symbol G read in place of parallel dim P; G must
  /// divide P (point p of P reads index p / (P / G) of G).
  std::vector<std::pair<std::string, std::string>> groups;
  /// Recurrences over packed sequences (`seq = T by cu_seqlens`): the index of the
  /// offsets argument (an i32 or i64 [S + 1] tensor), and the time symbol T.
  std::optional<size_t> sequenceOffsets;
  std::string timeSymbol;
};

/// Values for every argument of one call.
struct Bindings {
  std::vector<HostTensor> tensors; // per argument; empty for scalar arguments
  std::vector<double> scalars;     // per argument; unused for tensor arguments
  std::map<std::string, int64_t> sizes;
};

/// Binds size symbols from the tensors' actual shapes and checks every literal and
/// every repeated symbol. `sizes` may hold values given by the user (--sizes) for
/// symbols no tensor binds or to check against. Returns an error message, or empty.
std::string bindSizes(const SpecSignature &signature, Bindings &bindings);

/// bindSizes from the arguments' shapes alone (`shapes`: one per argument, read for
/// tensor arguments only): every check but that of the packed-sequence offsets, whose
/// values the caller reads wherever they live.
std::string bindShapeSizes(const SpecSignature &signature,
                           const std::vector<const std::vector<int64_t> *> &shapes,
                           std::map<std::string, int64_t> &sizes);

/// That the offsets of a recurrence over packed sequences (`seq = T by cu_seqlens`)
/// split its T steps: offsets[0] = 0, non-decreasing, offsets[S] = T (so every sequence
/// lies within T, and none overlaps another). bindSizes calls it once T is bound; a
/// launcher whose offsets live on a device checks a host copy. Returns an error, or
/// empty.
std::string checkSequenceOffsets(const SpecSignature &signature, const HostTensor &offsets,
                                 const std::map<std::string, int64_t> &sizes);
std::string checkSequenceOffsets(const SpecSignature &signature,
                                 const std::vector<double> &offsets,
                                 const std::map<std::string, int64_t> &sizes);

/// That each group count of a recurrence divides the dim it groups (point p of P reads
/// index p / (P / G) of G), for every launcher once `sizes` are bound; groups with a
/// symbol not yet bound are skipped. Returns an error, or empty.
std::string checkGroupCounts(const SpecSignature &signature,
                             const std::map<std::string, int64_t> &sizes);

/// Splits a command-line list "A=1, B=2" (--sizes, --set, --schedule) into trimmed
/// (name, value) pairs in order; empty items are skipped. Returns an error naming
/// `option` for an item without a name or a value, or empty.
std::string parseNamePairs(const std::string &text, const std::string &option,
                           std::vector<std::pair<std::string, std::string>> &pairs);

/// Whether `value` is one a scalar of `param`'s dtype can take: not NaN; for integers
/// (and bool) finite, integral and in the dtype's range (no cast of 1e300 to i64); for
/// floats within the dtype's finite range or an infinity. Returns an error naming the
/// scalar ("scalar 'window' = 1e+300 is out of range for i32"), or empty. Every
/// launcher checks its scalars with it before they reach a kernel's ABI.
std::string checkScalarValue(const ParamDecl &param, double value);

/// "[B, HK, M, 128]": a declared shape as written in the spec, for messages.
std::string declaredShapeString(const ParamDecl &decl);

/// The shape of a declared tensor under bound sizes (all symbols must be bound).
std::vector<int64_t> shapeOf(const ParamDecl &decl,
                             const std::map<std::string, int64_t> &sizes);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_BINDINGS_H
