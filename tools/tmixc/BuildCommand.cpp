//===- BuildCommand.cpp - `tmixc build`: ahead-of-time GPU artifacts ------===//
//
// Writes, per spec and target, the PTX, the cubin (with ptxas), the manifest and a C
// header, as one all-or-nothing set of files.
//
//===----------------------------------------------------------------------===//

#include "tools/tmixc/BuildCommand.h"

#include "codegen/ErrorCollector.h"
#include "codegen/cpu/CpuCompiler.h"
#include "codegen/nvidia/NvidiaCompiler.h"
#include "dialect/TmixOps.h"
#include "runtime/AtomicFiles.h"
#include "runtime/GradientReduction.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>

using namespace mlir;
namespace rt = ::tmix::rt;

namespace tmix {

int failBuild(const llvm::Twine &message) {
  llvm::errs() << "tmixc: error: " << message << "\n";
  return 1;
}

std::string pathIn(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  return path.str().str();
}

const char *cScalarType(rt::DType dtype) {
  switch (dtype) {
  case rt::DType::F32: return "float";
  case rt::DType::F16:
  case rt::DType::BF16:
  case rt::DType::F64: return "double";
  case rt::DType::I32: return "int32_t";
  case rt::DType::Bool: return "int";
  default: return "int64_t";
  }
}

} // namespace tmix

namespace {
using ::tmix::cScalarType;
using ::tmix::pathIn;

int fail(const llvm::Twine &message) { return ::tmix::failBuild(message); }

std::string declString(const rt::ParamDecl &decl) {
  std::string text = std::string(rt::dtypeName(decl.dtype));
  if (!decl.isTensor)
    return text;
  return text + rt::declaredShapeString(decl);
}

/// The C header: one static inline function that packs device pointers, scalars and
/// sizes for tmix_cuda_launch.
std::string headerOf(const rt::GpuManifest &manifest, const std::string &stem) {
  // A recurrence's adjoint takes and gives its gradients in the arguments' shapes.
  rt::SpecSignature signature =
      manifest.kernel.sumsGradients
          ? rt::reducedGradientSignature(manifest.kernel.signature)
          : manifest.kernel.signature;
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
                              const std::vector<std::string> &specialize,
                              const mlir::tmix::ScheduleOverride &schedule) {
  // Every artifact of every spec is staged beside its final path and renamed into
  // place only once all of them are written: a failure (a spec that does not compile,
  // ptxas, a header path that is a directory) leaves `dir` as it was, and a link at an
  // artifact's path is replaced, not followed.
  rt::AtomicFileSet artifacts;
  if (std::string error = artifacts.createDirectories(dir); !error.empty())
    return fail(error);
  std::optional<std::string> ptxas = ::tmix::nvidia::findPtxas();
  if (!ptxas)
    llvm::errs() << "tmixc: note: ptxas not found (CUDA_HOME, /usr/local/cuda/bin, PATH): "
                    "writing PTX only, no cubin\n";

  SmallVector<SymbolOpInterface> specs;
  for (Operation &op : *module.getBody())
    if (isa<mlir::tmix::AttentionOp, mlir::tmix::AttentionGradOp,
            mlir::tmix::RecurrenceOp>(op))
      specs.push_back(cast<SymbolOpInterface>(op));
  for (SymbolOpInterface spec : specs) {
    // Each spec is compiled alone: one PTX module, cubin and manifest per kernel.
    // A pass's error (a head dim not fixed, a schedule the kernel cannot run): one line.
    ::tmix::ErrorCollector errors(module.getContext());
    FailureOr<::tmix::nvidia::GpuKernels> kernels =
        ::tmix::nvidia::compileSpecToPtx(spec, target, specialize, schedule);
    if (failed(kernels))
      return fail("cannot generate PTX for '" + file + "'" +
                  (errors.str().empty() ? " (internal error)" : ": " + errors.str()));
    rt::GpuManifest manifest = kernels->kernels.front();
    std::string stem = spec.getName().str() + "." + target;
    manifest.ptxFile = stem + ".ptx";
    std::string ptxTemp;
    if (std::string error =
            artifacts.write(pathIn(dir, manifest.ptxFile), kernels->ptx, &ptxTemp);
        !error.empty())
      return fail(error);
    if (ptxas) {
      // ptxas reads and writes the staged files; the manifest names the final ones.
      manifest.cubinFile = stem + ".cubin";
      std::string cubinTemp;
      if (std::string error =
              artifacts.reserve(pathIn(dir, manifest.cubinFile), cubinTemp);
          !error.empty())
        return fail(error);
      if (std::string error =
              ::tmix::nvidia::runPtxas(*ptxas, ptxTemp, target, cubinTemp);
          !error.empty())
        return fail("kernel '" + spec.getName() + "': " + error);
    }
    for (auto [name, contents] :
         {std::pair{stem + ".manifest", rt::writeGpuManifest(manifest)},
          std::pair{stem + ".h", headerOf(manifest, stem)}})
      if (std::string error = artifacts.write(pathIn(dir, name), contents);
          !error.empty())
        return fail(error);
  }
  if (std::string error = artifacts.commit(); !error.empty())
    return fail(error);
  return 0;
}
