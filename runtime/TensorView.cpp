//===- TensorView.cpp - Tensors the caller owns, as views -----------------===//

#include "runtime/TensorView.h"

#include <cstring>

using namespace tmix::rt;

TensorView TensorView::of(HostTensor &tensor) {
  TensorView view;
  view.data = tensor.data();
  view.dtype = tensor.dtype();
  view.shape = tensor.shape();
  return view;
}

std::vector<int64_t> TensorView::storedStrides() const {
  return strides.empty() ? rowMajorStrides(shape) : strides;
}

std::string tmix::rt::checkView(const ParamDecl &param, const TensorView &view,
                                const char *role, ViewProblem *problem) {
  auto refuse = [&](ViewProblem kind, std::string message) {
    if (problem)
      *problem = kind;
    return message;
  };
  std::string name = std::string(role) + " '" + param.name + "'";
  if (view.dtype != param.dtype)
    return refuse(ViewProblem::Type, name + " is " + dtypeName(view.dtype) +
                                         " but is declared " + dtypeName(param.dtype));
  if (view.shape.size() != param.dims.size())
    return refuse(ViewProblem::Other, name + " has rank " + std::to_string(view.shape.size()) +
                                          " but is declared " + declaredShapeString(param));
  if (!view.strides.empty() && view.strides.size() != view.shape.size())
    return refuse(ViewProblem::Other, name + " has " + std::to_string(view.strides.size()) +
                                          " strides for " +
                                          std::to_string(view.shape.size()) + " dims");
  if (!view.data)
    return refuse(ViewProblem::Other, name + " has no data (a null pointer)");
  std::vector<int64_t> strides = view.storedStrides();
  // The largest element offset the kernel may form, and that no two indices of an
  // output meet at one element (a stride 0 over a dim of more than one).
  int64_t extent = 0;
  for (size_t dim = 0; dim < view.shape.size(); ++dim) {
    int64_t size = view.shape[dim], stride = strides[dim];
    if (size <= 0)
      continue; // bindViewSizes says which size is wrong
    std::string at = " at dim " + std::to_string(dim);
    if (stride < 0)
      return refuse(ViewProblem::Layout, name + " has a negative stride (" +
                                             std::to_string(stride) + at +
                                             "); give a tensor with non-negative strides");
    if (std::strcmp(role, "output") == 0 && stride == 0 && size > 1)
      return refuse(ViewProblem::Layout,
                    name + " has stride 0" + at +
                        ": its elements overlap (an expanded tensor); give a tensor of its own");
    int64_t span = 0;
    if (__builtin_mul_overflow(size - 1, stride, &span) ||
        __builtin_add_overflow(extent, span, &extent))
      return refuse(ViewProblem::Layout, name + " spans more than 2^63 elements");
  }
  size_t last = view.shape.size();
  if (last > 0 && view.shape[last - 1] > 1 && strides[last - 1] != 1)
    return refuse(ViewProblem::Layout,
                  name + " has stride " + std::to_string(strides[last - 1]) +
                      " in its last dim: kernels need the last dim contiguous (stride 1); "
                      "other dims may have any strides (call .contiguous() to copy)");
  return refuse(ViewProblem::None, {});
}

std::vector<double> tmix::rt::offsetValues(const TensorView &view) {
  std::vector<double> values;
  if (view.shape.size() != 1)
    return values;
  int64_t stride = view.storedStrides()[0];
  for (int64_t index = 0; index < view.shape[0]; ++index) {
    const char *element = static_cast<const char *>(view.data) +
                          index * stride * static_cast<int64_t>(dtypeSize(view.dtype));
    if (view.dtype == DType::I32) {
      int32_t value;
      std::memcpy(&value, element, sizeof value);
      values.push_back(value);
    } else {
      int64_t value;
      std::memcpy(&value, element, sizeof value);
      values.push_back(static_cast<double>(value));
    }
  }
  return values;
}

std::string tmix::rt::bindViewSizes(const SpecSignature &signature,
                                    const std::vector<TensorView> &tensors,
                                    std::map<std::string, int64_t> &sizes) {
  if (tensors.size() < signature.args.size())
    return "spec '" + signature.name + "' has " + std::to_string(signature.args.size()) +
           " arguments but the call binds " + std::to_string(tensors.size());
  std::vector<const std::vector<int64_t> *> shapes;
  for (const TensorView &view : tensors)
    shapes.push_back(&view.shape);
  if (std::string error = bindShapeSizes(signature, shapes, sizes); !error.empty())
    return error;
  if (std::optional<size_t> offsets = signature.sequenceOffsets) {
    const TensorView &view = tensors[*offsets];
    if (view.device != DeviceKind::Cpu)
      return "the sequence offsets '" + signature.args[*offsets].name +
             "' must be in host memory";
    return checkSequenceOffsets(signature, offsetValues(view), sizes);
  }
  return {};
}
