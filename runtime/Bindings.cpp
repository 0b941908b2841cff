//===- Bindings.cpp - Values bound to a spec's arguments ------------------===//
//
// Binds size symbols from the shapes of the tensors a call gets and checks them
// against the declarations, so that a shape mismatch is one clear message naming both
// places instead of a kernel reading out of bounds.
//
//===----------------------------------------------------------------------===//

#include "runtime/Bindings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <cassert>

using namespace tmix::rt;

namespace {

/// Where a size symbol got its value, to name both places in a conflict.
struct SymbolSource {
  int64_t value = 0;
  std::string argument; // empty: given by --sizes
  size_t dim = 0;
  int64_t offset = 0; // the dim is the symbol plus this (`S + 1`)
};

/// "S + 1", "H" or "128", as written.
std::string spelling(const DimDecl &dim) {
  if (dim.symbol.empty())
    return std::to_string(dim.size);
  return dim.offset ? dim.symbol + " + " + std::to_string(dim.offset) : dim.symbol;
}

/// The shortest text that reads back as `value` ("1e+300", "2147483648", "0.5").
std::string shortestNumber(double value) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return error == std::errc() ? std::string(buffer, end) : std::string("?");
}

/// "argument 'cu' (dim 0, N + 1 = 3)", for messages.
std::string describeSource(const SymbolSource &source, const std::string &symbol) {
  std::string text = "argument '" + source.argument + "' (dim " + std::to_string(source.dim);
  if (source.offset)
    text += ", " + spelling(DimDecl{symbol, 0, source.offset}) + " = " +
            std::to_string(source.value + source.offset);
  return text + ")";
}

/// Checks that every size symbol a declaration uses is bound.
std::string checkBound(const ParamDecl &decl, const char *role,
                       const std::map<std::string, int64_t> &sizes) {
  for (const DimDecl &dim : decl.dims) {
    if (!dim.symbol.empty() && !sizes.count(dim.symbol))
      return "size symbol '" + dim.symbol + "' of " + role + " '" + decl.name +
             "' is not bound by any argument; give it with --sizes";
  }
  return "";
}

/// A symbol's value plus a dim's offset; -1, which no size is, when that overflows.
int64_t withOffset(int64_t value, int64_t offset) {
  int64_t sum = 0;
  return __builtin_add_overflow(value, offset, &sum) ? -1 : sum;
}

/// A bound dim's value.
int64_t valueOf(const DimDecl &dim, const std::map<std::string, int64_t> &sizes) {
  return dim.symbol.empty() ? dim.size : withOffset(sizes.at(dim.symbol), dim.offset);
}

/// "H=8" (or "8" for a literal), for messages.
std::string spell(const DimDecl &dim, const std::map<std::string, int64_t> &sizes) {
  std::string value = std::to_string(valueOf(dim, sizes));
  return dim.symbol.empty() ? value : dim.symbol + "=" + value;
}

} // namespace

std::string tmix::rt::declaredShapeString(const ParamDecl &decl) {
  std::string text = "[";
  for (size_t i = 0; i < decl.dims.size(); ++i) {
    if (i)
      text += ", ";
    text += spelling(decl.dims[i]);
  }
  return text + "]";
}

static std::string trimmed(const std::string &text) {
  size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string
tmix::rt::parseNamePairs(const std::string &text, const std::string &option,
                         std::vector<std::pair<std::string, std::string>> &pairs) {
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    begin = end + 1;
    if (item.empty())
      continue;
    size_t equals = item.find('=');
    std::string name = trimmed(item.substr(0, equals));
    std::string value = equals == std::string::npos ? "" : trimmed(item.substr(equals + 1));
    if (equals == std::string::npos || name.empty() || value.empty())
      return "bad " + option + " entry '" + item + "' (expected NAME=VALUE)";
    pairs.emplace_back(std::move(name), std::move(value));
  }
  return {};
}

std::string tmix::rt::bindSizes(const SpecSignature &signature, Bindings &bindings) {
  if (bindings.tensors.size() < signature.args.size())
    return "spec '" + signature.name + "' has " + std::to_string(signature.args.size()) +
           " arguments but the call binds " + std::to_string(bindings.tensors.size());
  std::vector<const std::vector<int64_t> *> shapes;
  for (const HostTensor &tensor : bindings.tensors)
    shapes.push_back(&tensor.shape());
  if (std::string error = bindShapeSizes(signature, shapes, bindings.sizes); !error.empty())
    return error;
  if (signature.sequenceOffsets)
    return checkSequenceOffsets(signature, bindings.tensors[*signature.sequenceOffsets],
                                bindings.sizes);
  return "";
}

std::string
tmix::rt::bindShapeSizes(const SpecSignature &signature,
                         const std::vector<const std::vector<int64_t> *> &shapes,
                         std::map<std::string, int64_t> &sizes) {
  std::map<std::string, SymbolSource> sources;
  for (const auto &[symbol, value] : sizes) {
    if (value <= 0)
      return "--sizes gives " + symbol + "=" + std::to_string(value) +
             "; sizes must be positive";
    sources[symbol] = SymbolSource{value, "", 0};
  }

  if (shapes.size() < signature.args.size())
    return "spec '" + signature.name + "' has " + std::to_string(signature.args.size()) +
           " arguments but the call binds " + std::to_string(shapes.size());

  for (size_t argIndex = 0; argIndex < signature.args.size(); ++argIndex) {
    const ParamDecl &decl = signature.args[argIndex];
    if (!decl.isTensor)
      continue; // scalars have no shape to bind
    const std::vector<int64_t> &shape = *shapes[argIndex];
    if (shape.size() != decl.dims.size())
      return "argument '" + decl.name + "' has rank " + std::to_string(shape.size()) +
             " but is declared " + declaredShapeString(decl);

    for (size_t dimIndex = 0; dimIndex < shape.size(); ++dimIndex) {
      const DimDecl &dim = decl.dims[dimIndex];
      int64_t actual = shape[dimIndex];
      if (actual <= 0)
        return "argument '" + decl.name + "' has size " + std::to_string(actual) +
               " at dim " + std::to_string(dimIndex) + " (declared " +
               declaredShapeString(decl) + "); sizes must be positive";
      if (dim.symbol.empty()) {
        if (actual != dim.size)
          return "argument '" + decl.name + "' has " + std::to_string(actual) +
                 " at dim " + std::to_string(dimIndex) + " but is declared " +
                 declaredShapeString(decl);
        continue;
      }
      // `S + 1` binds S to one less; S must stay positive.
      int64_t value = actual - dim.offset;
      if (value <= 0)
        return "argument '" + decl.name + "' has " + std::to_string(actual) + " at dim " +
               std::to_string(dimIndex) + " (declared " + declaredShapeString(decl) +
               "), so " + dim.symbol + " = " + std::to_string(value) +
               "; sizes must be positive";
      auto [it, inserted] =
          sources.try_emplace(dim.symbol, SymbolSource{value, decl.name, dimIndex, dim.offset});
      if (inserted || it->second.value == value)
        continue;
      const SymbolSource &first = it->second;
      if (first.argument.empty())
        return "--sizes gives " + dim.symbol + "=" + std::to_string(first.value) +
               " but argument '" + decl.name + "' has " + std::to_string(actual) +
               (dim.offset ? " (" + spelling(dim) + ")" : "");
      return "size symbol '" + dim.symbol + "' is " + std::to_string(first.value) +
             " from " + describeSource(first, dim.symbol) + " but " +
             std::to_string(value) + " from " +
             describeSource(SymbolSource{value, decl.name, dimIndex, dim.offset}, dim.symbol);
    }
  }

  for (const auto &[symbol, source] : sources)
    sizes[symbol] = source.value;

  // Results take their shapes from the bound symbols, so each must have a value now.
  for (const ParamDecl &result : signature.results) {
    if (std::string error = checkBound(result, "result", sizes); !error.empty())
      return error;
  }

  // Grouped-query attention: the KV head count must divide the head count (the
  // kernels map head h to KV head h / (H / HK)). A caller binding in stages may not
  // know both counts yet; the check then waits for the binding that does.
  auto isBound = [&](const DimDecl &dim) {
    return dim.symbol.empty() || sizes.count(dim.symbol);
  };
  if (signature.isAttention && signature.args.size() >= 2 &&
      signature.args[0].dims.size() > 1 && signature.args[1].dims.size() > 1 &&
      isBound(signature.args[0].logicalDim(1)) && isBound(signature.args[1].logicalDim(1))) {
    const DimDecl &heads = signature.args[0].logicalDim(1),
                  &kvHeads = signature.args[1].logicalDim(1);
    if (valueOf(kvHeads, sizes) <= 0 ||
        valueOf(heads, sizes) % valueOf(kvHeads, sizes) != 0)
      return "the KV head count " + spell(kvHeads, sizes) +
             " must divide the head count " + spell(heads, sizes) +
             " (grouped-query attention)";
  }
  if (std::string error = checkGroupCounts(signature, sizes); !error.empty())
    return error;
  return "";
}

std::string tmix::rt::checkSequenceOffsets(const SpecSignature &signature,
                                           const HostTensor &offsets,
                                           const std::map<std::string, int64_t> &sizes) {
  if (offsets.shape().size() != 1)
    return ""; // shaped in a later stage
  // HostTensor::get gives a double: exact for every offset up to 2^53, far above any T.
  std::vector<double> values(static_cast<size_t>(offsets.numElements()));
  for (size_t index = 0; index < values.size(); ++index)
    values[index] = offsets.get(static_cast<int64_t>(index));
  return checkSequenceOffsets(signature, values, sizes);
}

std::string tmix::rt::checkSequenceOffsets(const SpecSignature &signature,
                                           const std::vector<double> &offsets,
                                           const std::map<std::string, int64_t> &sizes) {
  const ParamDecl &decl = signature.args[*signature.sequenceOffsets];
  auto steps = sizes.find(signature.timeSymbol);
  if (steps == sizes.end())
    return ""; // bound in a later stage
  std::string name = "the sequence offsets '" + decl.name + "'";
  int64_t previous = 0;
  for (size_t index = 0; index < offsets.size(); ++index) {
    double value = offsets[index];
    std::string at = name + "[" + std::to_string(index) + "] = ";
    if (index == 0 && value != 0)
      return at + shortestNumber(value) + ": the first offset must be 0";
    if (value < static_cast<double>(previous))
      return at + shortestNumber(value) + " is less than the offset before it (" +
             std::to_string(previous) + "); offsets must not decrease";
    if (value > static_cast<double>(steps->second))
      return at + shortestNumber(value) + " is beyond " + signature.timeSymbol + " = " +
             std::to_string(steps->second);
    previous = static_cast<int64_t>(value);
  }
  if (previous != steps->second)
    return name + " end at " + std::to_string(previous) + " but " + signature.timeSymbol +
           " = " + std::to_string(steps->second) + ": the last offset must be " +
           signature.timeSymbol + " (every step belongs to a sequence)";
  return "";
}

std::string tmix::rt::checkGroupCounts(const SpecSignature &signature,
                                       const std::map<std::string, int64_t> &sizes) {
  // Recurrence groups: point p of P reads index p / (P / G) of G.
  for (const auto &[group, grouped] : signature.groups) {
    DimDecl groupDim{group, 0}, groupedDim{grouped, 0};
    if (!sizes.count(group) || !sizes.count(grouped))
      continue; // bound in a later stage
    if (valueOf(groupDim, sizes) <= 0 ||
        valueOf(groupedDim, sizes) % valueOf(groupDim, sizes) != 0)
      return "the group count " + spell(groupDim, sizes) + " must divide " +
             spell(groupedDim, sizes) +
             " (" + grouped + " index p reads " + group + " index p / (" + grouped + " / " +
             group + "))";
  }
  return "";
}

std::vector<int64_t> tmix::rt::shapeOf(const ParamDecl &decl,
                                       const std::map<std::string, int64_t> &sizes) {
  std::vector<int64_t> shape;
  shape.reserve(decl.dims.size());
  for (const DimDecl &dim : decl.dims) {
    if (dim.symbol.empty()) {
      shape.push_back(dim.size);
      continue;
    }
    auto it = sizes.find(dim.symbol);
    assert(it != sizes.end() && "shapeOf with an unbound size symbol");
    // Without assertions an unbound symbol gives -1, which no tensor accepts; so does a
    // symbol whose offset overflows.
    shape.push_back(it == sizes.end() ? -1 : withOffset(it->second, dim.offset));
  }
  return shape;
}


std::string tmix::rt::checkScalarValue(const ParamDecl &param, double value) {
  std::string name = "scalar '" + param.name + "'";
  if (std::isnan(value))
    return name + " is NaN";
  std::string spelled = name + " = " + shortestNumber(value);
  if (isFloat(param.dtype)) {
    double largest = largestFinite(param.dtype);
    // An infinity is a value the kernel computes with (a bound of +-inf); a finite value
    // that the dtype cannot hold would silently become one.
    if (std::isfinite(value) && std::fabs(value) > largest)
      return spelled + " is out of range for " + dtypeName(param.dtype);
    return {};
  }
  if (param.dtype == DType::Bool) {
    if (value != 0.0 && value != 1.0)
      return spelled + " is not a bool (0 or 1)";
    return {};
  }
  // The exact limits as doubles: -2^31 and 2^31 for i32, -2^63 and 2^63 for i64.
  double low = param.dtype == DType::I32 ? double(std::numeric_limits<int32_t>::min())
                                         : double(std::numeric_limits<int64_t>::min());
  double high = -low;
  if (!std::isfinite(value) || value < low || value >= high)
    return spelled + " is out of range for " + dtypeName(param.dtype);
  if (std::trunc(value) != value)
    return spelled + " is not an integer (" + dtypeName(param.dtype) + ")";
  return {};
}

size_t tmix::rt::ParamDecl::storedPosition(size_t logical) const {
  for (size_t position = 0; position < layout.size(); ++position)
    if (layout[position] == static_cast<int64_t>(logical))
      return position;
  return logical;
}

std::vector<int64_t> tmix::rt::rowMajorStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t dim = shape.size(); dim-- > 0;) {
    strides[dim] = stride;
    if (__builtin_mul_overflow(stride, shape[dim], &stride))
      stride = INT64_MAX;
  }
  return strides;
}

tmix::rt::StridedView tmix::rt::logicalView(const ParamDecl &param,
                                            const std::vector<int64_t> &storedShape) {
  return logicalView(param, storedShape, rowMajorStrides(storedShape));
}

tmix::rt::StridedView tmix::rt::logicalView(const ParamDecl &param,
                                            const std::vector<int64_t> &storedShape,
                                            const std::vector<int64_t> &storedStrides) {
  size_t rank = storedShape.size();
  if (param.layout.size() != rank)
    return {storedShape, storedStrides};
  StridedView view{std::vector<int64_t>(rank), std::vector<int64_t>(rank)};
  for (size_t position = 0; position < rank; ++position) {
    view.sizes[param.layout[position]] = storedShape[position];
    view.strides[param.layout[position]] = storedStrides[position];
  }
  return view;
}

bool tmix::rt::isValidLayout(const std::vector<int64_t> &layout, size_t rank) {
  if (layout.empty())
    return true;
  if (layout.size() != rank)
    return false;
  std::vector<bool> seen(rank, false);
  for (int64_t dim : layout) {
    if (dim < 0 || dim >= static_cast<int64_t>(rank) || seen[dim])
      return false;
    seen[dim] = true;
  }
  return true;
}
