//===- GradientReduction.cpp - Summing a recurrence's shared gradients ----===//

#include "runtime/GradientReduction.h"

#include <algorithm>

using namespace tmix::rt;

namespace {

bool sameDim(const DimDecl &a, const DimDecl &b) {
  return a.symbol == b.symbol && (!a.symbol.empty() || a.size == b.size) &&
         a.offset == b.offset;
}

int64_t sizeOf(const DimDecl &dim, const std::map<std::string, int64_t> &sizes) {
  if (dim.symbol.empty())
    return dim.size;
  auto found = sizes.find(dim.symbol);
  return found == sizes.end() ? -1 : found->second + dim.offset;
}

} // namespace

bool tmix::rt::sharesNothing(const ParamDecl &decl, const ParamDecl &partialDecl) {
  return decl.isTensor && decl.layout == partialDecl.layout &&
         decl.dims.size() == partialDecl.dims.size() &&
         std::equal(decl.dims.begin(), decl.dims.end(), partialDecl.dims.begin(),
                    sameDim);
}

std::string tmix::rt::reduceSharedGradient(const SpecSignature &forward, size_t argument,
                                           const ParamDecl &partialDecl,
                                           const HostTensor &partial,
                                           const std::map<std::string, int64_t> &sizes,
                                           HostTensor &gradient) {
  if (argument >= forward.args.size())
    return "no argument " + std::to_string(argument);
  const ParamDecl &decl = forward.args[argument];
  std::vector<int64_t> partialShape = shapeOf(partialDecl, sizes);
  if (partial.shape() != partialShape)
    return "the gradient of '" + decl.name + "' does not have its declared shape";
  // Nothing shared: the argument's own dims (and layout).
  if (sharesNothing(decl, partialDecl)) {
    gradient = partial.convertedTo(DType::F32);
    return {};
  }
  if (!partialDecl.layout.empty())
    return "the gradient of '" + decl.name + "' is permuted but not of its shape";

  // Each logical dim of the argument at the partial's dim it is read from: the same
  // dim, or the parallel dim P of a group symbol G (index p / (P / G)). Both orders
  // list their parallel dims first, in the same order, so one forward walk matches.
  size_t rank = decl.isTensor ? decl.dims.size() : 0;
  std::vector<size_t> source(rank);
  std::vector<int64_t> divisor(rank, 1), logicalSizes(rank);
  size_t cursor = 0;
  for (size_t dim = 0; dim < rank; ++dim) {
    const DimDecl &want = decl.logicalDim(dim);
    std::string grouped;
    for (const auto &[group, parallel] : forward.groups)
      if (group == want.symbol)
        grouped = parallel;
    logicalSizes[dim] = sizeOf(want, sizes);
    while (cursor < partialDecl.dims.size() &&
           !sameDim(partialDecl.dims[cursor], want) &&
           (grouped.empty() || partialDecl.dims[cursor].symbol != grouped))
      ++cursor;
    if (cursor == partialDecl.dims.size() || logicalSizes[dim] < 0)
      return "the gradient of '" + decl.name + "' does not cover its dims";
    source[dim] = cursor;
    if (!grouped.empty() && partialDecl.dims[cursor].symbol == grouped && logicalSizes[dim])
      divisor[dim] = std::max<int64_t>(1, partialShape[cursor] / logicalSizes[dim]);
    ++cursor;
  }

  int64_t count = 1;
  for (int64_t size : logicalSizes)
    count *= size;
  std::vector<double> sums(static_cast<size_t>(count), 0.0);
  // Element index[] of the partial adds to sums[sum_p (index[p] / divisor) * weight[p]]:
  // the argument's dim read from p weighs the logical sizes after it, a dim the
  // argument lacks nothing. The partial is walked a row (its last dim) at a time.
  size_t partialRank = partialShape.size();
  std::vector<int64_t> weight(partialRank, 0), partialDivisor(partialRank, 1);
  int64_t after = 1;
  for (size_t dim = rank; dim-- > 0;) {
    weight[source[dim]] = after;
    partialDivisor[source[dim]] = divisor[dim];
    after *= logicalSizes[dim];
  }
  int64_t rowLength = partialRank ? partialShape.back() : 1;
  int64_t lastWeight = partialRank ? weight.back() : 0;
  int64_t lastDivisor = partialRank ? partialDivisor.back() : 1;
  const float *f32 = partial.dtype() == DType::F32
                         ? static_cast<const float *>(partial.data())
                         : nullptr;
  std::vector<int64_t> index(partialRank, 0);
  for (int64_t rowStart = 0; rowLength > 0 && rowStart < partial.numElements();
       rowStart += rowLength) {
    int64_t base = 0;
    for (size_t dim = 0; dim + 1 < partialRank; ++dim)
      base += index[dim] / partialDivisor[dim] * weight[dim];
    for (int64_t x = 0; x < rowLength; ++x) {
      int64_t e = rowStart + x;
      sums[static_cast<size_t>(base + x / lastDivisor * lastWeight)] +=
          f32 ? static_cast<double>(f32[e]) : partial.get(e);
    }
    for (size_t dim = partialRank ? partialRank - 1 : 0; dim-- > 0;) {
      if (++index[dim] < partialShape[dim])
        break;
      index[dim] = 0;
    }
  }
  if (!decl.isTensor) {
    gradient = HostTensor(DType::F32, {1});
    gradient.set(0, sums[0]);
    return {};
  }
  // Into the stored order.
  std::vector<int64_t> storedShape = shapeOf(decl, sizes);
  StridedView view = logicalView(decl, storedShape);
  gradient = HostTensor(DType::F32, storedShape);
  auto *stored = static_cast<float *>(gradient.data());
  std::vector<int64_t> at(rank, 0);
  for (int64_t logical = 0; logical < count; ++logical) {
    int64_t offset = 0;
    for (size_t dim = 0; dim < rank; ++dim)
      offset += at[dim] * view.strides[dim];
    stored[offset] = static_cast<float>(sums[static_cast<size_t>(logical)]);
    for (size_t dim = rank; dim-- > 0;) {
      if (++at[dim] < view.sizes[dim])
        break;
      at[dim] = 0;
    }
  }
  return {};
}

SpecSignature tmix::rt::reducedGradientSignature(const SpecSignature &program) {
  SpecSignature reduced = program;
  for (ParamDecl &result : reduced.results) {
    auto argument = std::find_if(program.args.begin(), program.args.end(),
                                 [&](const ParamDecl &arg) { return "d_" + arg.name == result.name; });
    if (argument == program.args.end())
      continue;
    std::string name = result.name;
    result = *argument;
    result.name = name;
    result.dtype = DType::F32;
    result.defaultValue.reset();
    if (!result.isTensor) {
      result.isTensor = true;
      result.dims = {DimDecl{"", 1, 0}};
      result.layout.clear();
    }
  }
  return reduced;
}
