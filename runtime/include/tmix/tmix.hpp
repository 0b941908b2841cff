//===- tmix.hpp - The C++ API of libtmix: tmix.h with owners and exceptions ===//
//
// Header-only, over the C API (so that no C++ type crosses the library's boundary):
//
//   tmix::Module module = tmix::Module::compile(source, "swa.tmix");
//   tmix::Kernel kernel = module.kernel("swa_alibi");          // "cpu"
//   kernel.launch({tmix::arg(q), tmix::arg(k), tmix::arg(v), tmix::scalar(256)},
//                 {o, lse});
//
// Every failed call throws tmix::Error, which carries the status and tmix.h's message.
// Thread safety is tmix.h's: any thread may use any module or kernel.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_HPP
#define TMIX_HPP

#include "tmix/tmix.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmix {

class Error : public std::runtime_error {
public:
  Error(tmix_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  tmix_status status() const { return status_; }

private:
  tmix_status status_;
};

inline void check(tmix_status status) {
  if (status != TMIX_OK)
    throw Error(status, tmix_last_error());
}

/// An argument of a call: a tensor, a scalar, or a scalar's default.
inline tmix_arg arg(const tmix_tensor &tensor) { return tmix_arg{&tensor, 0.0, 0}; }
inline tmix_arg scalar(double value) { return tmix_arg{nullptr, value, 1}; }
inline tmix_arg defaulted() { return tmix_arg{nullptr, 0.0, 0}; }

class Kernel {
public:
  explicit Kernel(tmix_kernel *kernel) : kernel_(kernel, tmix_kernel_free) {}

  std::string name() const { return tmix_kernel_name(kernel_.get()); }

  /// The shapes of the outputs of a call on `args` (what to allocate).
  std::vector<std::vector<int64_t>> outputShapes(const std::vector<tmix_arg> &args) const {
    std::vector<int32_t> ranks;
    size_t total = 0;
    for (size_t index = 0; index < tmix_kernel_num_outputs(kernel_.get()); ++index) {
      tmix_param_info info;
      check(tmix_kernel_output_info(kernel_.get(), index, &info));
      ranks.push_back(info.rank);
      total += static_cast<size_t>(info.rank);
    }
    std::vector<int64_t> flat(total);
    check(tmix_kernel_output_shapes(kernel_.get(), args.data(), args.size(), flat.data()));
    std::vector<std::vector<int64_t>> shapes;
    size_t at = 0;
    for (int32_t rank : ranks) {
      shapes.emplace_back(flat.begin() + at, flat.begin() + at + rank);
      at += static_cast<size_t>(rank);
    }
    return shapes;
  }

  /// Runs the kernel on `args` (one per spec argument) into `outputs`.
  void launch(const std::vector<tmix_arg> &args,
              const std::vector<tmix_tensor> &outputs) const {
    check(tmix_kernel_launch(kernel_.get(), args.data(), args.size(), outputs.data(),
                             outputs.size(), nullptr));
  }

  tmix_kernel *get() const { return kernel_.get(); }

private:
  std::shared_ptr<tmix_kernel> kernel_;
};

class Module {
public:
  static Module compile(const std::string &source, const std::string &filename = "<source>") {
    tmix_module *module = nullptr;
    check(tmix_compile(source.data(), source.size(), filename.c_str(), &module));
    return Module(module);
  }
  static Module compileFile(const std::string &path) {
    tmix_module *module = nullptr;
    check(tmix_compile_file(path.c_str(), &module));
    return Module(module);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> names;
    for (size_t index = 0; index < tmix_module_num_kernels(module_.get()); ++index)
      names.emplace_back(tmix_module_kernel_name(module_.get(), index));
    return names;
  }

  /// The kernel of spec `name` for `target`, compiled on the first request.
  Kernel kernel(const std::string &name, const std::string &target = "cpu") const {
    tmix_kernel *kernel = nullptr;
    check(tmix_module_kernel(module_.get(), name.c_str(), target.c_str(), &kernel));
    return Kernel(kernel);
  }

private:
  explicit Module(tmix_module *module) : module_(module, tmix_module_free) {}
  std::shared_ptr<tmix_module> module_;
};

} // namespace tmix

#endif // TMIX_HPP
