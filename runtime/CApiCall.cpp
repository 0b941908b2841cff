//===- CApiCall.cpp - A call through tmix.h, checked and run on the CPU ---===//

#include "runtime/CApiCall.h"

#include "runtime/GradientReduction.h"

#include <algorithm>

using namespace tmix::rt;

namespace {

CallError failWith(tmix_status status, std::string message) {
  return CallError{status, std::move(message)};
}

std::vector<const std::vector<int64_t> *> shapesOf(const std::vector<TensorView> &views) {
  std::vector<const std::vector<int64_t> *> shapes;
  for (const TensorView &view : views)
    shapes.push_back(&view.shape);
  return shapes;
}

/// A tmix_tensor as a runtime view; an error when its fields cannot describe a tensor.
CallError viewOf(const tmix_tensor &tensor, const std::string &name, TensorView &view) {
  if (tensor.rank < 0 || tensor.rank > 16)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    "'" + name + "' has rank " + std::to_string(tensor.rank) +
                        " (tmix tensors have at most 16 dims)");
  if (tensor.rank > 0 && !tensor.shape)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "'" + name + "' has no shape");
  if (tensor.dtype < TMIX_F32 || tensor.dtype > TMIX_BOOL)
    return failWith(TMIX_ERROR_TYPE, "'" + name + "' has an unknown dtype code " +
                                         std::to_string(static_cast<int>(tensor.dtype)));
  view.data = tensor.data;
  view.dtype = dtypeOf(tensor.dtype);
  view.shape.assign(tensor.shape, tensor.shape + tensor.rank);
  if (tensor.strides)
    view.strides.assign(tensor.strides, tensor.strides + tensor.rank);
  view.device = tensor.device == TMIX_DEVICE_CUDA ? DeviceKind::Cuda : DeviceKind::Cpu;
  return {};
}

tmix_status statusOf(ViewProblem problem) {
  switch (problem) {
  case ViewProblem::Type: return TMIX_ERROR_TYPE;
  case ViewProblem::Layout: return TMIX_ERROR_UNSUPPORTED;
  default: return TMIX_ERROR_INVALID_ARGUMENT;
  }
}

const char *deviceName(DeviceKind device) {
  return device == DeviceKind::Cpu ? "the CPU" : "a CUDA device";
}

/// `tensor` as a view a kernel for `device` can read (or, for outputs, write) as
/// `param`. The GPU kernels read tensors row-major in their stored order and 16-byte
/// aligned (their vector loads).
CallError viewFor(const tmix_tensor &tensor, const ParamDecl &param, const char *role,
                  DeviceKind device, TensorView &view) {
  if (CallError error = viewOf(tensor, param.name, view))
    return error;
  if (view.device != device)
    return failWith(TMIX_ERROR_TYPE, std::string(role) + " '" + param.name + "' is on " +
                                         deviceName(view.device) +
                                         " but the kernel was compiled for " +
                                         deviceName(device));
  ViewProblem problem;
  if (std::string error = checkView(param, view, role, &problem); !error.empty())
    return failWith(statusOf(problem), error);
  if (device == DeviceKind::Cuda) {
    bool contiguous = true;
    std::vector<int64_t> strides = view.storedStrides(), dense = rowMajorStrides(view.shape);
    for (size_t dim = 0; dim < strides.size(); ++dim)
      contiguous &= view.shape[dim] == 1 || strides[dim] == dense[dim];
    if (!contiguous)
      return failWith(TMIX_ERROR_UNSUPPORTED,
                      std::string(role) + " '" + param.name + "' is not contiguous: the "
                      "GPU kernels read tensors row-major as declared (call .contiguous())");
    if (reinterpret_cast<uintptr_t>(view.data) % 16 != 0)
      return failWith(TMIX_ERROR_UNSUPPORTED,
                      std::string(role) + " '" + param.name + "' is not 16-byte aligned, "
                      "which the GPU kernels' vector loads need");
  }
  return {};
}

} // namespace

DType tmix::rt::dtypeOf(tmix_dtype dtype) {
  switch (dtype) {
  case TMIX_F32: return DType::F32;
  case TMIX_F16: return DType::F16;
  case TMIX_BF16: return DType::BF16;
  case TMIX_I32: return DType::I32;
  case TMIX_I64: return DType::I64;
  case TMIX_BOOL: return DType::Bool;
  }
  return DType::F64; // no spec declares it: refused as a wrong dtype
}

tmix_dtype tmix::rt::publicDtype(DType dtype) {
  switch (dtype) {
  case DType::F16: return TMIX_F16;
  case DType::BF16: return TMIX_BF16;
  case DType::I32: return TMIX_I32;
  case DType::I64: return TMIX_I64;
  case DType::Bool: return TMIX_BOOL;
  default: return TMIX_F32;
  }
}

CallError tmix::rt::bindCall(const SpecSignature &signature, const tmix_arg *args,
                             size_t numArgs, BoundCall &call, DeviceKind device) {
  if (numArgs != signature.args.size())
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    "'" + signature.name + "' takes " +
                        std::to_string(signature.args.size()) + " arguments, not " +
                        std::to_string(numArgs));
  if (numArgs > 0 && !args)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "the arguments are a null pointer");
  call.tensors.assign(numArgs, TensorView());
  call.scalars.assign(numArgs, 0.0);
  for (size_t index = 0; index < numArgs; ++index) {
    const ParamDecl &param = signature.args[index];
    const tmix_arg &arg = args[index];
    if (!param.isTensor) {
      if (arg.tensor)
        return failWith(TMIX_ERROR_TYPE, "argument '" + param.name + "' is a scalar (" +
                                             dtypeName(param.dtype) +
                                             "), not a tensor");
      if (!arg.has_scalar && !param.defaultValue)
        return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                        "scalar '" + param.name + "' has no default: give its value");
      double value = arg.has_scalar ? arg.scalar : *param.defaultValue;
      if (std::string error = checkScalarValue(param, value); !error.empty())
        return failWith(TMIX_ERROR_INVALID_ARGUMENT, error);
      call.scalars[index] = value;
      continue;
    }
    if (!arg.tensor)
      return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                      "argument '" + param.name + "' is a tensor " +
                          declaredShapeString(param) + "; none was given");
    if (CallError error =
            viewFor(*arg.tensor, param, "argument", device, call.tensors[index]))
      return error;
  }
  // Offsets on a device are checked there, by the CUDA launcher.
  std::string error = device == DeviceKind::Cpu
                          ? bindViewSizes(signature, call.tensors, call.sizes)
                          : bindShapeSizes(signature, shapesOf(call.tensors), call.sizes);
  if (!error.empty())
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, error);
  return {};
}

CallError tmix::rt::checkOutputs(const SpecSignature &signature, const BoundCall &call,
                                 const tmix_tensor *outputs, size_t numOutputs,
                                 DeviceKind device, std::vector<TensorView> &views) {
  if (numOutputs != signature.results.size())
    return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                    "'" + signature.name + "' has " +
                        std::to_string(signature.results.size()) + " outputs, not " +
                        std::to_string(numOutputs));
  if (numOutputs > 0 && !outputs)
    return failWith(TMIX_ERROR_INVALID_ARGUMENT, "the outputs are a null pointer");
  views.assign(numOutputs, TensorView());
  for (size_t index = 0; index < numOutputs; ++index) {
    const ParamDecl &result = signature.results[index];
    if (!outputs[index].data && !outputs[index].shape)
      return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                      "output '" + result.name + "' was not given (a null tensor)");
    if (CallError error = viewFor(outputs[index], result, "output", device, views[index]))
      return error;
    std::vector<int64_t> expected = shapeOf(result, call.sizes);
    if (views[index].shape != expected)
      return failWith(TMIX_ERROR_INVALID_ARGUMENT,
                      "output '" + result.name + "' has shape " +
                          shapeString(views[index].shape) + " but the call gives " +
                          declaredShapeString(result) + " = " + shapeString(expected));
  }
  return {};
}

CallError tmix::rt::launchCall(ProgramFn program, const KernelManifest &manifest,
                               const BoundCall &call, const tmix_tensor *outputs,
                               size_t numOutputs) {
  std::vector<TensorView> outputViews;
  if (CallError error = checkOutputs(manifest.signature, call, outputs, numOutputs,
                                     DeviceKind::Cpu, outputViews))
    return error;
  if (std::string error = launchOnCpu(program, manifest, call.tensors, call.scalars,
                                      call.sizes, outputViews, defaultThreadPool());
      !error.empty())
    return failWith(TMIX_ERROR_RUNTIME, error);
  return {};
}

CallError tmix::rt::launchReducedGradientCall(ProgramFn program,
                                              const KernelManifest &manifest,
                                              const SpecSignature &reduced,
                                              const BoundCall &call,
                                              const tmix_tensor *outputs,
                                              size_t numOutputs) {
  std::vector<TensorView> outputViews;
  if (CallError error =
          checkOutputs(reduced, call, outputs, numOutputs, DeviceKind::Cpu, outputViews))
    return error;
  const SpecSignature &signature = manifest.signature;
  // The argument of each result's gradient.
  std::vector<size_t> arguments;
  for (const ParamDecl &result : signature.results)
    arguments.push_back(gradientArgument(signature, result));
  // A gradient that shares nothing (most: a per-step input's) is written by the program
  // into the caller's output; the others into host buffers, summed after.
  std::vector<bool> direct;
  for (size_t index = 0; index < signature.results.size(); ++index) {
    const ParamDecl &result = signature.results[index];
    direct.push_back(arguments[index] < signature.args.size() &&
                     result.dtype == DType::F32 &&
                     sharesNothing(signature.args[arguments[index]], result));
  }
  std::vector<HostTensor> partials;
  std::vector<TensorView> partialViews;
  partials.reserve(signature.results.size());
  for (size_t index = 0; index < signature.results.size(); ++index) {
    if (direct[index]) {
      partials.emplace_back();
      partialViews.push_back(outputViews[index]);
      continue;
    }
    const ParamDecl &result = signature.results[index];
    partials.emplace_back(result.dtype, shapeOf(result, call.sizes));
    partialViews.push_back(TensorView::of(partials.back()));
  }
  if (std::string error = launchOnCpu(program, manifest, call.tensors, call.scalars,
                                      call.sizes, partialViews, defaultThreadPool());
      !error.empty())
    return failWith(TMIX_ERROR_RUNTIME, error);
  for (size_t index = 0; index < partials.size(); ++index) {
    if (direct[index])
      continue;
    const ParamDecl &result = signature.results[index];
    HostTensor gradient;
    if (std::string error = reduceSharedGradient(signature, arguments[index], result,
                                                 partials[index], call.sizes, gradient);
        !error.empty())
      return failWith(TMIX_ERROR_RUNTIME, error);
    // Into the caller's (possibly strided) f32 output.
    const TensorView &view = outputViews[index];
    std::vector<int64_t> strides = view.storedStrides(), at(view.shape.size(), 0);
    auto *data = static_cast<float *>(view.data);
    const auto *sums = static_cast<const float *>(gradient.data()); // F32
    for (int64_t e = 0; e < gradient.numElements(); ++e) {
      int64_t offset = 0;
      for (size_t dim = 0; dim < at.size(); ++dim)
        offset += at[dim] * strides[dim];
      data[offset] = sums[e];
      for (size_t dim = at.size(); dim-- > 0;) {
        if (++at[dim] < view.shape[dim])
          break;
        at[dim] = 0;
      }
    }
  }
  return {};
}
