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

size_t tmix::rt::gradientArgument(const SpecSignature &signature,
                                  const ParamDecl &result) {
  auto argument =
      std::find_if(signature.args.begin(), signature.args.end(),
                   [&](const ParamDecl &arg) { return "d_" + arg.name == result.name; });
  return static_cast<size_t>(argument - signature.args.begin());
}

bool tmix::rt::sharesNothing(const ParamDecl &decl, const ParamDecl &partialDecl) {
  return decl.isTensor && decl.layout == partialDecl.layout &&
         decl.dims.size() == partialDecl.dims.size() &&
         std::equal(decl.dims.begin(), decl.dims.end(), partialDecl.dims.begin(),
                    sameDim);
}

int64_t GradientSum::count() const {
  int64_t count = 1;
  for (int64_t size : sizes)
    count *= size;
  return count;
}

int64_t GradientSum::terms() const {
  int64_t terms = 1;
  for (int64_t size : summedSizes)
    terms *= size;
  return terms;
}

std::vector<int64_t> GradientSum::encode() const {
  std::vector<int64_t> words = {static_cast<int64_t>(sizes.size()),
                                static_cast<int64_t>(summedSizes.size())};
  for (const auto *list :
       {&sizes, &gradientStrides, &partialStrides, &summedSizes, &summedStrides})
    words.insert(words.end(), list->begin(), list->end());
  return words;
}

std::string tmix::rt::planGradientSum(const SpecSignature &forward, size_t argument,
                                      const ParamDecl &partialDecl,
                                      const std::map<std::string, int64_t> &sizes,
                                      GradientSum &plan) {
  if (argument >= forward.args.size())
    return "no argument " + std::to_string(argument);
  const ParamDecl &decl = forward.args[argument];
  if (!partialDecl.layout.empty())
    return "the gradient of '" + decl.name + "' is permuted but not of its shape";
  std::vector<int64_t> partialShape = shapeOf(partialDecl, sizes);
  std::vector<int64_t> partialStrides = rowMajorStrides(partialShape);

  // Each logical dim of the argument at the partial's dim it is read from: the same
  // dim, or the parallel dim P of a group symbol G (index p / (P / G)). Both orders
  // list their parallel dims first, in the same order, so one forward walk matches.
  size_t rank = decl.isTensor ? decl.dims.size() : 0;
  std::vector<int64_t> groupSize(partialShape.size(), 0); // 0: a dim summed whole
  plan = GradientSum();
  size_t cursor = 0;
  for (size_t dim = 0; dim < rank; ++dim) {
    const DimDecl &want = decl.logicalDim(dim);
    std::string grouped;
    for (const auto &[group, parallel] : forward.groups)
      if (group == want.symbol)
        grouped = parallel;
    int64_t size = sizeOf(want, sizes);
    while (cursor < partialDecl.dims.size() &&
           !sameDim(partialDecl.dims[cursor], want) &&
           (grouped.empty() || partialDecl.dims[cursor].symbol != grouped))
      ++cursor;
    if (cursor == partialDecl.dims.size() || size < 0)
      return "the gradient of '" + decl.name + "' does not cover its dims";
    bool isGroup = !grouped.empty() && partialDecl.dims[cursor].symbol == grouped && size;
    groupSize[cursor] = isGroup ? std::max<int64_t>(1, partialShape[cursor] / size) : 1;
    plan.sizes.push_back(size);
    plan.partialStrides.push_back(groupSize[cursor] * partialStrides[cursor]);
    ++cursor;
  }
  // Summed: the dims the argument lacks, and the points of each group.
  for (size_t dim = 0; dim < partialShape.size(); ++dim) {
    int64_t summed = groupSize[dim] == 0 ? partialShape[dim] : groupSize[dim];
    if (groupSize[dim] == 1)
      continue;
    plan.summedSizes.push_back(summed);
    plan.summedStrides.push_back(partialStrides[dim]);
  }
  if (decl.isTensor)
    plan.gradientStrides = logicalView(decl, shapeOf(decl, sizes)).strides;
  return {};
}

std::string tmix::rt::reduceSharedGradient(const SpecSignature &forward, size_t argument,
                                           const ParamDecl &partialDecl,
                                           const HostTensor &partial,
                                           const std::map<std::string, int64_t> &sizes,
                                           HostTensor &gradient) {
  if (argument >= forward.args.size())
    return "no argument " + std::to_string(argument);
  const ParamDecl &decl = forward.args[argument];
  if (partial.shape() != shapeOf(partialDecl, sizes))
    return "the gradient of '" + decl.name + "' does not have its declared shape";
  // Nothing shared: the argument's own dims (and layout).
  if (sharesNothing(decl, partialDecl)) {
    gradient = partial.convertedTo(DType::F32);
    return {};
  }
  GradientSum plan;
  if (std::string error = planGradientSum(forward, argument, partialDecl, sizes, plan);
      !error.empty())
    return error;
  gradient = HostTensor(DType::F32,
                        decl.isTensor ? shapeOf(decl, sizes) : std::vector<int64_t>{1});
  auto *stored = static_cast<float *>(gradient.data());
  const float *f32 = partial.dtype() == DType::F32
                         ? static_cast<const float *>(partial.data())
                         : nullptr;
  // The offsets of the terms, the same for every element.
  std::vector<int64_t> terms;
  terms.reserve(static_cast<size_t>(plan.terms()));
  std::vector<int64_t> at(plan.summedSizes.size(), 0);
  for (int64_t term = 0; term < plan.terms(); ++term) {
    int64_t offset = 0;
    for (size_t dim = 0; dim < at.size(); ++dim)
      offset += at[dim] * plan.summedStrides[dim];
    terms.push_back(offset);
    for (size_t dim = at.size(); dim-- > 0;) {
      if (++at[dim] < plan.summedSizes[dim])
        break;
      at[dim] = 0;
    }
  }
  std::vector<int64_t> index(plan.sizes.size(), 0);
  for (int64_t element = 0; element < plan.count(); ++element) {
    int64_t base = 0, offset = 0;
    for (size_t dim = 0; dim < index.size(); ++dim) {
      base += index[dim] * plan.partialStrides[dim];
      offset += index[dim] * plan.gradientStrides[dim];
    }
    double sum = 0;
    for (int64_t term : terms)
      sum += f32 ? static_cast<double>(f32[base + term]) : partial.get(base + term);
    stored[offset] = static_cast<float>(sum);
    for (size_t dim = index.size(); dim-- > 0;) {
      if (++index[dim] < plan.sizes[dim])
        break;
      index[dim] = 0;
    }
  }
  return {};
}

SpecSignature tmix::rt::reducedGradientSignature(const SpecSignature &program) {
  SpecSignature reduced = program;
  for (ParamDecl &result : reduced.results) {
    size_t argument = gradientArgument(program, result);
    if (argument == program.args.size())
      continue;
    std::string name = result.name;
    result = program.args[argument];
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
