//===- TmixExtension.cpp - tmix._tmix: the C API for Python (nanobind) ----===//
//
// A thin layer: tensors arrive through DLPack (numpy arrays, torch tensors, anything
// with __dlpack__) as nanobind ndarrays and reach libtmix as views, without a copy.
// Argument binding by name, output allocation and the PyTorch op live in Python
// (tmix/__init__.py); this file only converts and calls. Built with exceptions and RTTI
// (nanobind needs both), unlike the rest of tmix, and sees only tmix.h.
//
//===----------------------------------------------------------------------===//

#include "tmix/tmix.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace {

/// A spec error; raised in Python as tmix.CompileError (a ValueError).
struct CompileFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Raises the Python exception for a failed status.
void check(tmix_status status) {
  if (status == TMIX_OK)
    return;
  std::string message = tmix_last_error();
  switch (status) {
  case TMIX_ERROR_COMPILE: throw CompileFailure(message);
  case TMIX_ERROR_TYPE: throw nb::type_error(message.c_str());
  case TMIX_ERROR_INVALID_ARGUMENT:
  case TMIX_ERROR_UNSUPPORTED: throw nb::value_error(message.c_str());
  default: throw std::runtime_error(message);
  }
}

using Array = nb::ndarray<nb::ro>;

/// The dtype of a DLPack tensor, or an error naming it.
tmix_dtype dtypeOf(const Array &array, const std::string &name) {
  nb::dlpack::dtype type = array.dtype();
  auto code = static_cast<nb::dlpack::dtype_code>(type.code);
  if (type.lanes == 1) {
    if (code == nb::dlpack::dtype_code::Float && type.bits == 32) return TMIX_F32;
    if (code == nb::dlpack::dtype_code::Float && type.bits == 16) return TMIX_F16;
    if (code == nb::dlpack::dtype_code::Bfloat && type.bits == 16) return TMIX_BF16;
    if (code == nb::dlpack::dtype_code::Int && type.bits == 32) return TMIX_I32;
    if (code == nb::dlpack::dtype_code::Int && type.bits == 64) return TMIX_I64;
    if (code == nb::dlpack::dtype_code::Bool && type.bits == 8) return TMIX_BOOL;
  }
  throw nb::type_error(("'" + name + "' has a dtype tmix does not take (code " +
                        std::to_string(type.code) + ", " + std::to_string(type.bits) +
                        " bits); tmix tensors are f32, f16, bf16, i32, i64 or bool")
                           .c_str());
}

/// The views of one call: tmix_tensor structs and the shapes and strides they point to.
struct CallViews {
  std::vector<tmix_tensor> tensors;
  std::vector<std::vector<int64_t>> shapes, strides;
  std::vector<Array> arrays; // keep the DLPack exports alive during the call

  explicit CallViews(size_t count) : tensors(count), shapes(count), strides(count) {
    arrays.reserve(count);
  }

  const tmix_tensor *add(size_t slot, nb::handle object, const std::string &name) {
    if (PyTuple_Check(object.ptr()))
      return addDescribed(slot, nb::borrow<nb::tuple>(object), name);
    Array array;
    if (!nb::try_cast(object, array))
      throw nb::type_error(("'" + name + "' must be a tensor (numpy array, torch tensor or "
                            "any DLPack tensor), not " +
                            std::string(nb::str(nb::handle(object.type())).c_str()))
                               .c_str());
    tmix_tensor &tensor = tensors[slot];
    tensor.data = const_cast<void *>(array.data());
    tensor.dtype = dtypeOf(array, name);
    tensor.rank = static_cast<int32_t>(array.ndim());
    for (size_t dim = 0; dim < array.ndim(); ++dim) {
      shapes[slot].push_back(static_cast<int64_t>(array.shape(dim)));
      strides[slot].push_back(array.stride(dim));
    }
    tensor.shape = shapes[slot].data();
    tensor.strides = strides[slot].data();
    tensor.device = array.device_type() == nb::device::cuda::value ? TMIX_DEVICE_CUDA
                                                                   : TMIX_DEVICE_CPU;
    if (array.device_type() != nb::device::cpu::value &&
        array.device_type() != nb::device::cuda::value)
      throw nb::type_error(("'" + name + "' is on a device tmix does not run on (DLPack "
                            "device type " + std::to_string(array.device_type()) + ")")
                               .c_str());
    tensor.device_index = array.device_id();
    arrays.push_back(std::move(array));
    return &tensors[slot];
  }

  /// A tensor the package described itself (its torch fast path, tmix/__init__.py's
  /// _describe): (data pointer, dtype code, shape, strides, device, device index).
  /// Cheaper than a DLPack export per call; the caller keeps the tensor alive.
  const tmix_tensor *addDescribed(size_t slot, nb::tuple described, const std::string &name) {
    if (nb::len(described) != 6)
      throw nb::type_error(("'" + name + "' must be a tensor, not a tuple").c_str());
    tmix_tensor &tensor = tensors[slot];
    tensor.data = reinterpret_cast<void *>(nb::cast<uintptr_t>(described[0]));
    tensor.dtype = static_cast<tmix_dtype>(nb::cast<int>(described[1])); // tmix.h checks
    for (nb::handle size : nb::borrow<nb::tuple>(described[2]))
      shapes[slot].push_back(nb::cast<int64_t>(size));
    for (nb::handle stride : nb::borrow<nb::tuple>(described[3]))
      strides[slot].push_back(nb::cast<int64_t>(stride));
    tensor.rank = static_cast<int32_t>(shapes[slot].size());
    tensor.shape = shapes[slot].data();
    tensor.strides = strides[slot].data();
    tensor.device = nb::cast<int>(described[4]) ? TMIX_DEVICE_CUDA : TMIX_DEVICE_CPU;
    tensor.device_index = nb::cast<int>(described[5]);
    return &tensors[slot];
  }
};

class Kernel {
public:
  explicit Kernel(tmix_kernel *kernel) : kernel(kernel) {}
  Kernel(const Kernel &) = delete;
  ~Kernel() { tmix_kernel_free(kernel); }

  std::string name() const { return tmix_kernel_name(kernel); }

  /// (name, is_tensor, dtype code, dims, has_default, default) per argument or output;
  /// dims are (symbol or None, value) pairs.
  nb::list params(bool outputs) const {
    nb::list list;
    size_t count = outputs ? tmix_kernel_num_outputs(kernel) : tmix_kernel_num_args(kernel);
    for (size_t index = 0; index < count; ++index) {
      tmix_param_info info;
      check(outputs ? tmix_kernel_output_info(kernel, index, &info)
                    : tmix_kernel_arg_info(kernel, index, &info));
      nb::list dims;
      for (int32_t dim = 0; dim < info.rank; ++dim)
        dims.append(nb::make_tuple(info.dim_symbols[dim] ? nb::object(nb::str(info.dim_symbols[dim]))
                                                         : nb::none(),
                                   info.dim_values[dim]));
      list.append(nb::make_tuple(info.name, bool(info.is_tensor), int(info.dtype), dims,
                                 bool(info.has_default), info.default_value));
    }
    return list;
  }

  /// Runs the kernel on `values` (one per argument, in order: a tensor, a number, or
  /// None for a scalar's default) into `outputs`.
  void launch(nb::sequence values, nb::sequence outputs, uintptr_t stream) const {
    std::vector<tmix_arg> args;
    CallViews views(nb::len(values));
    bind(values, args, views);
    size_t count = nb::len(outputs);
    CallViews outputViews(count);
    std::vector<tmix_tensor> results;
    for (size_t index = 0; index < count; ++index) {
      tmix_param_info info;
      std::string name = "output " + std::to_string(index);
      if (tmix_kernel_output_info(kernel, index, &info) == TMIX_OK)
        name = info.name;
      results.push_back(*outputViews.add(index, outputs[index], name));
    }
    tmix_status status;
    {
      // Kernels run on libtmix's thread pool; other Python threads go on meanwhile.
      nb::gil_scoped_release release;
      status = tmix_kernel_launch(kernel, args.data(), args.size(), results.data(),
                                  results.size(), reinterpret_cast<void *>(stream));
    }
    check(status);
  }

private:
  void bind(nb::sequence values, std::vector<tmix_arg> &args, CallViews &views) const {
    size_t count = nb::len(values);
    args.assign(count, tmix_arg{nullptr, 0.0, 0});
    for (size_t index = 0; index < count; ++index) {
      nb::handle value = values[index];
      tmix_param_info info;
      std::string name = "argument " + std::to_string(index);
      if (tmix_kernel_arg_info(kernel, index, &info) == TMIX_OK)
        name = info.name;
      if (value.is_none())
        continue; // the scalar's default
      if (PyBool_Check(value.ptr()) || PyLong_Check(value.ptr()) ||
          PyFloat_Check(value.ptr())) {
        double scalar = PyFloat_AsDouble(value.ptr());
        if (scalar == -1.0 && PyErr_Occurred())
          throw nb::python_error();
        args[index].scalar = scalar;
        args[index].has_scalar = 1;
        continue;
      }
      args[index].tensor = views.add(index, value, name);
    }
  }

  tmix_kernel *kernel;
};

class Module {
public:
  explicit Module(tmix_module *module) : module(module) {}
  Module(const Module &) = delete;
  ~Module() { tmix_module_free(module); }

  std::vector<std::string> names() const {
    std::vector<std::string> list;
    for (size_t index = 0; index < tmix_module_num_kernels(module); ++index)
      list.emplace_back(tmix_module_kernel_name(module, index));
    return list;
  }

  Kernel *kernel(const std::string &name, const std::string &target) {
    tmix_kernel *handle = nullptr;
    tmix_status status;
    {
      nb::gil_scoped_release release; // the first request compiles (tens of ms)
      status = tmix_module_kernel(module, name.c_str(), target.c_str(), &handle);
    }
    check(status);
    return new Kernel(handle);
  }

private:
  tmix_module *module;
};

Module *compileSource(const std::string &source, const std::string &filename) {
  tmix_module *module = nullptr;
  tmix_status status;
  {
    nb::gil_scoped_release release;
    status = tmix_compile(source.data(), source.size(), filename.c_str(), &module);
  }
  check(status);
  return new Module(module);
}

} // namespace

NB_MODULE(_tmix, m) {
  m.doc() = "tmix's C API for Python; use the tmix package, not this module.";
  nb::exception<CompileFailure>(m, "CompileError", PyExc_ValueError);
  // A kernel registered as a torch op lives in torch's operator registry until the
  // interpreter ends: a reference held on purpose, not a leak worth a report at exit.
  nb::set_leak_warnings(false);
  m.def("version", [] { return std::string(tmix_version()); });
  m.def("cache_stats", [] {
    tmix_cache_stats stats;
    check(tmix_get_cache_stats(&stats));
    nb::dict info;
    info["compiled"] = stats.compiled;
    info["disk_hits"] = stats.disk_hits;
    info["disk_misses"] = stats.disk_misses;
    info["disk_stores"] = stats.disk_stores;
    info["disk_damaged"] = stats.disk_damaged;
    info["disk_directory"] = stats.disk_directory ? nb::object(nb::str(stats.disk_directory))
                                                  : nb::none();
    return info;
  });
  m.def("compile", &compileSource, nb::arg("source"), nb::arg("filename"));
  nb::class_<Module>(m, "Module")
      .def("names", &Module::names)
      .def("kernel", &Module::kernel, nb::arg("name"), nb::arg("target"));
  nb::class_<Kernel>(m, "Kernel")
      .def_prop_ro("name", &Kernel::name)
      .def("params", &Kernel::params, nb::arg("outputs"))
      .def("launch", &Kernel::launch, nb::arg("values"), nb::arg("outputs"),
           nb::arg("stream") = 0);
}
