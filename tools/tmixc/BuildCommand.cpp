//===- BuildCommand.cpp - `tmixc build`: ahead-of-time GPU artifacts ------===//

#include "tools/tmixc/BuildCommand.h"

#include "codegen/nvidia/NvidiaCompiler.h"
#include "dialect/TmixOps.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>

using namespace mlir;
namespace rt = ::tmix::rt;

namespace {
constexpr int kExitError = 1;

int fail(const llvm::Twine &message) {
  llvm::errs() << "tmixc: error: " << message << "\n";
  return kExitError;
}

std::string pathIn(const std::string &dir, const std::string &name) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  return path.str().str();
}

bool writeFile(const std::string &path, llvm::StringRef contents) {
  std::error_code error;
  llvm::raw_fd_ostream out(path, error);
  if (error) {
    fail("cannot write '" + path + "': " + error.message());
    return false;
  }
  out << contents;
  return true;
}

const char *cScalarType(rt::DType dtype) {
  switch (dtype) {
  case rt::DType::F32: return "float";
  case rt::DType::F64: return "double";
  case rt::DType::I32: return "int32_t";
  case rt::DType::Bool: return "int";
  default: return "int64_t";
  }
}

std::string declString(const rt::ParamDecl &decl) {
  std::string text = std::string(rt::dtypeName(decl.dtype));
  if (!decl.isTensor)
    return text;
  text += "[";
  for (size_t index = 0; index < decl.dims.size(); ++index) {
    const rt::DimDecl &dim = decl.dims[index];
    text += (index ? ", " : "") + (dim.symbol.empty() ? std::to_string(dim.size) : dim.symbol);
  }
  return text + "]";
}

/// The C header: one static inline function that packs device pointers, scalars and
/// sizes for tmix_cuda_launch.
std::string headerOf(const rt::GpuManifest &manifest, const std::string &stem) {
  const rt::SpecSignature &signature = manifest.kernel.signature;
  std::string guard = "TMIX_KERNEL_" + stem + "_H";
  for (char &c : guard)
    c = std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "/* " << stem << ".h: written by `tmixc build`; launches kernel '" << signature.name
     << "' (" << manifest.target << ") through libtmix_cuda (runtime/cuda/tmix_cuda.h).\n"
     << " * Tensors are device pointers, row-major, of the declared dtypes; sizes are the\n"
     << " * values of the size symbols; `manifest_path` is " << stem << ".manifest. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include \"runtime/cuda/tmix_cuda.h\"\n\n#include <stdint.h>\n\n";
  for (const rt::ParamDecl &decl : signature.args)
    os << "/* " << decl.name << ": " << declString(decl) << " */\n";
  for (const rt::ParamDecl &decl : signature.results)
    os << "/* -> " << decl.name << ": " << declString(decl) << " */\n";
  os << "static inline int tmix_launch_" << signature.name << "(const char *manifest_path";
  for (const rt::ParamDecl &decl : signature.args)
    os << ", " << (decl.isTensor ? "const void *" : std::string(cScalarType(decl.dtype)) + " ")
       << decl.name;
  for (const rt::ParamDecl &decl : signature.results)
    os << ", void *" << decl.name;
  for (const std::string &symbol : manifest.kernel.sizeSymbols)
    os << ", int64_t " << symbol;
  os << ",\n    void *stream, char *error, size_t error_size) {\n";
  os << "  const uint64_t tensors[] = {";
  size_t count = 0;
  for (const rt::ParamDecl &decl : signature.args)
    os << (count++ ? ", " : "")
       << (decl.isTensor ? "(uint64_t)(uintptr_t)" + decl.name : std::string("0"));
  for (const rt::ParamDecl &decl : signature.results)
    os << ", (uint64_t)(uintptr_t)" << decl.name;
  os << "};\n  const double scalars[] = {";
  count = 0;
  for (const rt::ParamDecl &decl : signature.args)
    os << (count++ ? ", " : "") << (decl.isTensor ? "0" : "(double)" + decl.name);
  os << "};\n  const int64_t sizes[] = {";
  count = 0;
  for (const std::string &symbol : manifest.kernel.sizeSymbols)
    os << (count++ ? ", " : "") << symbol;
  if (manifest.kernel.sizeSymbols.empty())
    os << "0";
  os << "};\n  return tmix_cuda_launch(manifest_path, tensors, scalars, sizes, stream, "
        "error, error_size);\n}\n\n#endif /* "
     << guard << " */\n";
  return out;
}
} // namespace

int ::tmix::buildGpuArtifacts(ModuleOp module, const std::string &file,
                            const std::string &target, const std::string &dir,
                            const std::vector<std::string> &specialize) {
  if (std::error_code error = llvm::sys::fs::create_directories(dir))
    return fail("cannot create '" + dir + "': " + error.message());
  std::optional<std::string> ptxas = ::tmix::nvidia::findPtxas();
  if (!ptxas)
    llvm::errs() << "tmixc: note: ptxas not found (CUDA_HOME, /usr/local/cuda/bin, PATH): "
                    "writing PTX only, no cubin\n";

  SmallVector<SymbolOpInterface> specs;
  for (Operation &op : *module.getBody())
    if (isa<mlir::tmix::AttentionOp, mlir::tmix::RecurrenceOp>(op))
      specs.push_back(cast<SymbolOpInterface>(op));
  for (SymbolOpInterface spec : specs) {
    // Each spec is compiled alone: one PTX module, cubin and manifest per kernel.
    OwningOpRef<ModuleOp> single = ModuleOp::create(module.getLoc());
    single->getBody()->push_back(spec->clone());
    FailureOr<::tmix::nvidia::GpuKernels> kernels = ::tmix::nvidia::compileToPtx(*single, target, specialize);
    if (failed(kernels))
      return fail("cannot generate PTX for '" + file + "' (see above)");
    rt::GpuManifest manifest = kernels->kernels.front();
    std::string stem = spec.getName().str() + "." + target;
    manifest.ptxFile = stem + ".ptx";
    if (!writeFile(pathIn(dir, manifest.ptxFile), kernels->ptx))
      return kExitError;
    if (ptxas) {
      manifest.cubinFile = stem + ".cubin";
      if (std::string error = ::tmix::nvidia::runPtxas(*ptxas, pathIn(dir, manifest.ptxFile), target,
                                               pathIn(dir, manifest.cubinFile));
          !error.empty())
        return fail("kernel '" + spec.getName() + "': " + error);
    }
    if (!writeFile(pathIn(dir, stem + ".manifest"), rt::writeGpuManifest(manifest)) ||
        !writeFile(pathIn(dir, stem + ".h"), headerOf(manifest, stem)))
      return kExitError;
  }
  return 0;
}
