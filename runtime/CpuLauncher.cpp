//===- CpuLauncher.cpp - Running a compiled program grid on the CPU -------===//
//
// Builds the memref descriptors of the kernel ABI once per launch; each program call
// only adds its own program id.
//
//===----------------------------------------------------------------------===//

#include "runtime/CpuLauncher.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

using namespace tmix::rt;

namespace {

/// A strided memref descriptor of any rank, laid out as MLIR's C interface expects:
/// {T *allocated, T *aligned, int64 offset, int64 sizes[rank], int64 strides[rank]}.
class MemRefDescriptor {
public:
  MemRefDescriptor(void *data, const StridedView &view) {
    size_t rank = view.sizes.size();
    fields.resize(3 + 2 * rank);
    auto address = static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
    fields[0] = fields[1] = address;
    fields[2] = 0;
    for (size_t dim = 0; dim < rank; ++dim) {
      fields[3 + dim] = view.sizes[dim];
      fields[3 + rank + dim] = view.strides[dim];
    }
    pointer = fields.data();
  }
  /// The ABI passes a pointer to the descriptor; the packed entry a pointer to that.
  void *packed() { return &pointer; }

private:
  std::vector<int64_t> fields;
  void *pointer = nullptr;
};

int64_t dimValue(const DimDecl &dim, const std::map<std::string, int64_t> &sizes) {
  if (dim.symbol.empty())
    return dim.size;
  auto it = sizes.find(dim.symbol);
  return it == sizes.end() ? -1 : it->second;
}

} // namespace

std::optional<int64_t> tmix::rt::gridSize(const KernelManifest &manifest,
                                          const std::map<std::string, int64_t> &sizes) {
  int64_t count = 1;
  for (const GridDimDecl &dim : manifest.grid) {
    int64_t extent = dimValue(dim.dim, sizes);
    if (extent <= 0 || dim.tile <= 0)
      return std::nullopt;
    // ceil(extent / tile) without the overflow of extent + tile - 1.
    int64_t programs = extent / dim.tile + (extent % dim.tile != 0);
    if (__builtin_mul_overflow(count, programs, &count))
      return std::nullopt;
  }
  return count;
}

std::vector<int64_t> tmix::rt::longestSequencesFirst(const std::vector<int64_t> &lengths) {
  std::vector<int64_t> sequences(lengths.size());
  for (size_t index = 0; index < sequences.size(); ++index)
    sequences[index] = static_cast<int64_t>(index);
  std::stable_sort(sequences.begin(), sequences.end(),
                   [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  return sequences;
}

std::string tmix::rt::launchOnCpu(ProgramFn program, const KernelManifest &manifest,
                                  Bindings &bindings, std::vector<HostTensor> &outputs,
                                  ThreadPool &pool) {
  std::vector<TensorView> tensors, outputViews;
  for (HostTensor &tensor : bindings.tensors)
    tensors.push_back(TensorView::of(tensor));
  for (HostTensor &output : outputs)
    outputViews.push_back(TensorView::of(output));
  return launchOnCpu(program, manifest, tensors, bindings.scalars, bindings.sizes,
                     outputViews, pool);
}

std::string tmix::rt::launchOnCpu(ProgramFn program, const KernelManifest &manifest,
                                  const std::vector<TensorView> &tensors,
                                  const std::vector<double> &scalars,
                                  const std::map<std::string, int64_t> &boundSizes,
                                  const std::vector<TensorView> &outputs, ThreadPool &pool) {
  const SpecSignature &signature = manifest.signature;
  if (tensors.size() != signature.args.size() || outputs.size() != signature.results.size())
    return "internal error: the call does not match the kernel's signature";

  std::vector<int64_t> sizes;
  for (const std::string &symbol : manifest.sizeSymbols) {
    auto it = boundSizes.find(symbol);
    if (it == boundSizes.end())
      return "size symbol '" + symbol + "' is not bound";
    sizes.push_back(it->second);
  }
  // The status word after the sizes (the kernel ABI, passes/KernelBuilder.h): a program
  // that cannot allocate its scratch buffers raises it to their byte count.
  sizes.push_back(0);

  // One slot per ABI argument after the program id; descriptors own their storage.
  std::vector<MemRefDescriptor> descriptors;
  descriptors.reserve(signature.args.size() + signature.results.size() + 1);
  std::vector<double> floatScalars(signature.args.size());
  std::vector<int64_t> intScalars(signature.args.size());
  std::vector<void *> slots;
  for (size_t index = 0; index < signature.args.size(); ++index) {
    const ParamDecl &arg = signature.args[index];
    if (arg.isTensor) {
      const TensorView &tensor = tensors[index];
      descriptors.emplace_back(tensor.data,
                               logicalView(arg, tensor.shape, tensor.storedStrides()));
      slots.push_back(descriptors.back().packed());
      continue;
    }
    if (index >= scalars.size())
      return "internal error: no value for scalar '" + arg.name + "'";
    // Checked first: the cast of a double beyond int64's range is undefined.
    double value = scalars[index];
    if (std::string error = checkScalarValue(arg, value); !error.empty())
      return error;
    if (isFloat(arg.dtype)) {
      floatScalars[index] = value;
      slots.push_back(&floatScalars[index]);
    } else {
      intScalars[index] = static_cast<int64_t>(value);
      slots.push_back(&intScalars[index]);
    }
  }
  for (size_t index = 0; index < outputs.size(); ++index) {
    const TensorView &output = outputs[index];
    descriptors.emplace_back(output.data, logicalView(signature.results[index], output.shape,
                                                      output.storedStrides()));
    slots.push_back(descriptors.back().packed());
  }
  descriptors.emplace_back(sizes.data(), StridedView{{(int64_t)sizes.size()}, {1}});
  slots.push_back(descriptors.back().packed());

  std::optional<int64_t> programs = gridSize(manifest, boundSizes);
  if (!programs)
    return "the grid of '" + signature.name + "' has more than 2^63 programs";
  // Packed sequences run longest first: the grid's outermost dim is the sequence, so
  // program `index` of the launch is program index % perSequence of the sequence at
  // position index / perSequence of that order.
  std::vector<int64_t> sequences;
  int64_t perSequence = 1;
  if (std::optional<size_t> offsets = signature.sequenceOffsets) {
    // Checked by bindSizes: offsets[0] = 0 <= ... <= offsets[N] = T.
    std::vector<double> starts = offsetValues(tensors[*offsets]);
    std::vector<int64_t> lengths;
    for (size_t index = 0; index + 1 < starts.size(); ++index)
      lengths.push_back(static_cast<int64_t>(starts[index + 1] - starts[index]));
    if (!lengths.empty() && *programs % static_cast<int64_t>(lengths.size()) == 0) {
      sequences = longestSequencesFirst(lengths);
      perSequence = *programs / static_cast<int64_t>(lengths.size());
    }
  }
  pool.parallelFor(*programs, [&](int64_t index) {
    int64_t pid = sequences.empty() ? index
                                    : sequences[index / perSequence] * perSequence +
                                          index % perSequence;
    std::vector<void *> args;
    args.reserve(slots.size() + 1);
    args.push_back(&pid);
    args.insert(args.end(), slots.begin(), slots.end());
    program(args.data());
  });
  if (int64_t bytes = sizes.back())
    return "a program of '" + signature.name + "' could not allocate its " +
           std::to_string(bytes) + "-byte scratch buffers (out of memory)";
  return {};
}
