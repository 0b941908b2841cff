//===- CudaKernels.cpp - libtmix's GPU kernels, compiled on first launch --===//

#include "codegen/library/CudaKernels.h"

#include "codegen/ErrorCollector.h"
#include "codegen/nvidia/NvidiaCompiler.h"
#include "dialect/TmixOps.h"
#include "runtime/cuda/tmix_cuda.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <algorithm>
#include <cstdlib>

using namespace tmix;
using library::CudaKernel;

namespace {

rt::CallError failWith(tmix_status status, std::string message) {
  return rt::CallError{status, std::move(message)};
}

/// The process's folder for GPU artifacts, made on first use and removed at exit.
rt::CallError artifactFolder(std::string &folder) {
  static std::string made, error;
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::SmallString<128> path;
    if (std::error_code code = llvm::sys::fs::createUniqueDirectory("tmix-cuda", path)) {
      error = "cannot create a folder for the GPU kernels: " + code.message();
      return;
    }
    made = path.str().str();
    std::atexit([] { llvm::sys::fs::remove_directories(made); });
  });
  if (!error.empty())
    return failWith(TMIX_ERROR_RUNTIME, error);
  folder = made;
  return {};
}

} // namespace

rt::CallError library::resolveCudaTarget(const std::string &target, std::string &resolved) {
  if (target != "cuda") {
    resolved = target;
    return {};
  }
  char name[256];
  int major = 0, minor = 0;
  if (tmix_cuda_device(name, sizeof name, &major, &minor) != 0)
    return failWith(TMIX_ERROR_RUNTIME, std::string("target 'cuda': ") + name);
  if (major == 9) {
    resolved = "sm_90a";
    return {};
  }
  if (major == 8) {
    resolved = "sm_80";
    return {};
  }
  return failWith(TMIX_ERROR_UNSUPPORTED,
                  std::string("target 'cuda': device 0 (") + name + ") has compute "
                  "capability " + std::to_string(major) + "." + std::to_string(minor) +
                  "; tmix's GPU kernels are for 8.x (sm_80) and 9.x (sm_90a)");
}

rt::CallError CudaKernel::artifactFor(const std::map<std::string, int64_t> &sizes,
                                      std::string &manifestPath,
                                      std::vector<std::string> &sizeOrder) {
  // The head and state dims: the symbols that are some tensor's last dim.
  std::vector<std::string> specialize;
  std::string key;
  for (const auto *params : {&signature.args, &signature.results})
    for (const rt::ParamDecl &param : *params) {
      if (!param.isTensor || param.dims.empty() || param.dims.back().symbol.empty())
        continue;
      const std::string &symbol = param.dims.back().symbol;
      auto bound = sizes.find(symbol);
      if (bound == sizes.end())
        return failWith(TMIX_ERROR_INVALID_ARGUMENT, "size '" + symbol + "' is not bound");
      std::string entry = symbol + "=" + std::to_string(bound->second);
      if (std::find(specialize.begin(), specialize.end(), entry) == specialize.end()) {
        specialize.push_back(entry);
        key += entry + ",";
      }
    }
  std::lock_guard<std::mutex> lock(mutex);
  if (auto found = artifacts.find(key); found != artifacts.end()) {
    manifestPath = found->second.manifestPath;
    sizeOrder = found->second.sizeSymbols;
    return {};
  }
  // A private context: compileToPtx registers dialects and translations into it.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  context.loadDialect<mlir::tmix::TmixDialect, mlir::arith::ArithDialect,
                      mlir::math::MathDialect>();
  ErrorCollector errors(&context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(spec.sourceText, &context);
  if (!module)
    return failWith(TMIX_ERROR_RUNTIME, "internal error: the spec of '" + signature.name +
                                            "' does not parse in a private context");
  // The spec is the text's last op (a recurrence's adjoint has its forward before it:
  // cpu::printSpec).
  mlir::FailureOr<nvidia::GpuKernels> kernels =
      nvidia::compileSpecToPtx(&module->getBody()->back(), target, specialize, {});
  if (mlir::failed(kernels))
    return failWith(TMIX_ERROR_COMPILE, "cannot compile '" + signature.name + "' for " +
                                            target + ": " +
                                            (errors.str().empty() ? "internal error"
                                                                  : errors.str()));
  std::string folder;
  if (rt::CallError error = artifactFolder(folder))
    return error;
  std::string stem = signature.name + "." + target + "." + std::to_string(artifacts.size());
  Artifact artifact{"", kernels->kernels.front().kernel.sizeSymbols};
  if (std::string error =
          nvidia::writePtxArtifact(*kernels, folder, stem, artifact.manifestPath);
      !error.empty())
    return failWith(TMIX_ERROR_RUNTIME, error);
  manifestPath = artifact.manifestPath;
  sizeOrder = artifact.sizeSymbols;
  artifacts.emplace(key, std::move(artifact));
  return {};
}

rt::CallError CudaKernel::launch(const tmix_arg *args, size_t numArgs,
                                 const tmix_tensor *outputs, size_t numOutputs,
                                 void *stream) {
  rt::BoundCall call;
  if (rt::CallError error = rt::bindCall(signature, args, numArgs, call, rt::DeviceKind::Cuda))
    return error;
  std::vector<rt::TensorView> outputViews;
  if (rt::CallError error = rt::checkOutputs(signature, call, outputs, numOutputs,
                                             rt::DeviceKind::Cuda, outputViews))
    return error;
  std::string manifestPath;
  std::vector<std::string> sizeOrder;
  if (rt::CallError error = artifactFor(call.sizes, manifestPath, sizeOrder))
    return error;
  std::vector<uint64_t> addresses;
  for (const rt::TensorView &view : call.tensors)
    addresses.push_back(reinterpret_cast<uintptr_t>(view.data));
  for (const rt::TensorView &view : outputViews)
    addresses.push_back(reinterpret_cast<uintptr_t>(view.data));
  std::vector<int64_t> sizes;
  for (const std::string &symbol : sizeOrder) {
    auto bound = call.sizes.find(symbol);
    if (bound == call.sizes.end())
      return failWith(TMIX_ERROR_INVALID_ARGUMENT, "size '" + symbol + "' is not bound");
    sizes.push_back(bound->second);
  }
  char message[1024];
  if (tmix_cuda_launch(manifestPath.c_str(), addresses.data(), call.scalars.data(),
                       sizes.data(), stream, message, sizeof message) != 0)
    return failWith(TMIX_ERROR_RUNTIME, message);
  return {};
}
