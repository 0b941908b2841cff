//===- CpuBuildCommand.cpp - `tmixc build --target=cpu`: a shared library -===//
//
// Per spec, the program's object file (<spec>.cpu.o) and manifest; for the file, a C
// header declaring one typed function per spec (<stem>.h), the shared library that
// defines them (lib<stem>.so: the objects plus a generated C file that hands each call
// to tmix_cpu_kernel_launch), and beside them tmix.h and libtmix_runtime.so, which the
// library finds through its $ORIGIN run path. The folder then needs nothing else: no
// MLIR, no compiler. The library is linked by the system's C compiler ($CC, else cc) in
// a scratch folder; everything reaches DIR as one all-or-nothing set of files.
//
//===----------------------------------------------------------------------===//

#include "tools/tmixc/CpuBuildCommand.h"
#include "tools/tmixc/BuildCommand.h"

#include "codegen/cpu/CpuCompiler.h"
#include "dialect/TmixOps.h"
#include "runtime/AtomicFiles.h"
#include "runtime/GradientReduction.h"
#include "runtime/cuda/GpuManifest.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>

using namespace mlir;
namespace rt = ::tmix::rt;
namespace cpu = ::tmix::cpu;

namespace {

/// tmix.h's text, as the build embedded it: written into every CPU build folder.
constexpr char kTmixHeader[] =
#include "tools/tmixc/TmixHeader.inc"
    ;

using ::tmix::cScalarType;
using ::tmix::pathIn;

int fail(const llvm::Twine &message) { return ::tmix::failBuild(message); }

/// `text` as a C string literal.
std::string cString(llvm::StringRef text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n')
      out += "\\n\"\n    \"";
    else if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else
      out += c;
  }
  return out + "\"";
}

struct BuiltKernel {
  rt::GpuManifest manifest; // target cpu
  cpu::CpuObject object;
};

std::string functionName(const BuiltKernel &kernel) {
  return "tmix_run_" + kernel.manifest.kernel.signature.name;
}

/// The typed function's parameter list: tensors as views, scalars as C values, then
/// the outputs.
std::string parameters(const rt::SpecSignature &signature) {
  std::string out;
  llvm::raw_string_ostream os(out);
  for (const rt::ParamDecl &arg : signature.args)
    os << (out.empty() ? "" : ", ")
       << (arg.isTensor ? "const tmix_tensor *" : std::string(cScalarType(arg.dtype)) + " ")
       << arg.name;
  for (const rt::ParamDecl &result : signature.results)
    os << ", const tmix_tensor *" << result.name;
  return out;
}

std::string headerOf(const std::vector<BuiltKernel> &kernels, const std::string &stem,
                     const std::string &cpu) {
  std::string guard = "TMIX_KERNELS_" + stem + "_H";
  for (char &c : guard)
    c = std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "/* " << stem << ".h: written by `tmixc build --target=cpu --cpu=" << cpu
     << "`; link lib" << stem << ".so and libtmix_runtime.so.\n"
     << " * One function per kernel. Tensors are views (tmix_tensor, tmix.h) of the\n"
     << " * declared dtype and shape; strides may be any with the last dim contiguous.\n"
     << " * Each returns TMIX_OK, or a status with tmix_runtime_last_error() saying why. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n#include \"tmix.h\"\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
  for (const BuiltKernel &kernel : kernels) {
    // A recurrence's adjoint returns its gradients in the arguments' shapes.
    const rt::KernelManifest &manifest = kernel.manifest.kernel;
    rt::SpecSignature signature = manifest.sumsGradients
                                      ? rt::reducedGradientSignature(manifest.signature)
                                      : manifest.signature;
    os << "\n/* " << signature.name << "(";
    bool first = true;
    for (const rt::ParamDecl &arg : signature.args) {
      os << (first ? "" : ", ") << arg.name << ": " << rt::dtypeName(arg.dtype)
         << (arg.isTensor ? rt::declaredShapeString(arg) : "");
      if (arg.defaultValue)
        os << " (default " << *arg.defaultValue << ")";
      first = false;
    }
    os << ") -> (";
    first = true;
    for (const rt::ParamDecl &result : signature.results) {
      os << (first ? "" : ", ") << result.name << ": " << rt::dtypeName(result.dtype)
         << rt::declaredShapeString(result);
      first = false;
    }
    os << ") */\ntmix_status " << functionName(kernel) << "(" << parameters(signature)
       << ");\n";
  }
  os << "\n#ifdef __cplusplus\n} /* extern \"C\" */\n#endif\n\n#endif /* " << guard << " */\n";
  return out;
}

/// The C file of the library: each typed function packs its call for
/// tmix_cpu_kernel_launch with its kernel's manifest and packed entry point.
std::string sourceOf(const std::vector<BuiltKernel> &kernels, const std::string &stem) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "/* Written by `tmixc build --target=cpu`: the typed functions of " << stem
     << ".h. */\n#include \"" << stem << ".h\"\n";
  for (const BuiltKernel &kernel : kernels) {
    const rt::SpecSignature &signature = kernel.manifest.kernel.signature;
    const std::string &name = signature.name;
    os << "\nvoid " << kernel.object.entry << "(void **);\n"
       << "static const char " << name << "_manifest[] =\n    "
       << cString(rt::writeGpuManifest(kernel.manifest)) << ";\n"
       << "static const tmix_cpu_kernel " << name << "_kernel = {" << name << "_manifest, "
       << kernel.object.entry << "};\n\n"
       << "tmix_status " << functionName(kernel) << "(" << parameters(signature) << ") {\n"
       << "  tmix_arg args[] = {";
    bool first = true;
    for (const rt::ParamDecl &arg : signature.args) {
      os << (first ? "" : ", ")
         << (arg.isTensor ? "{" + arg.name + ", 0, 0}" : "{0, (double)" + arg.name + ", 1}");
      first = false;
    }
    // A null output becomes a tensor with neither data nor shape: the launch names it.
    os << "};\n  static const tmix_tensor missing;\n  tmix_tensor outputs[] = {";
    first = true;
    for (const rt::ParamDecl &result : signature.results) {
      os << (first ? "" : ", ") << result.name << " ? *" << result.name << " : missing";
      first = false;
    }
    os << "};\n";
    os << "  return tmix_cpu_kernel_launch(&" << name << "_kernel, args, "
       << signature.args.size() << ", outputs, " << signature.results.size() << ");\n}\n";
  }
  return out;
}

/// Reads `path` whole; empty with `error` set when it cannot.
std::string readAll(const std::string &path, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer) {
    error = "cannot read '" + path + "': " + buffer.getError().message();
    return {};
  }
  return (*buffer)->getBuffer().str();
}

/// libtmix_runtime.so of this tmixc: in the lib/ beside its bin/.
std::string runtimeLibrary() {
  std::string self = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&::tmix::buildCpuArtifacts));
  llvm::SmallString<256> path(llvm::sys::path::parent_path(llvm::sys::path::parent_path(self)));
  llvm::sys::path::append(path, "lib", "libtmix_runtime.so");
  return path.str().str();
}

/// Links the library in `scratch` (which holds the objects, the C file and the headers)
/// with the system's C compiler. Returns an error, or empty.
std::string linkLibrary(const std::string &scratch, const std::string &library,
                        const std::vector<std::string> &objects, const std::string &source) {
  // $CC when set; else cc, or the clang tools/setup.sh installs (a fresh Debian may
  // have no cc).
  const char *cc = std::getenv("CC");
  std::vector<std::string> candidates =
      cc && *cc ? std::vector<std::string>{cc}
                : std::vector<std::string>{"cc", "clang-22", "clang", "gcc"};
  llvm::ErrorOr<std::string> compiler = std::make_error_code(std::errc::no_such_file_or_directory);
  for (const std::string &candidate : candidates)
    if ((compiler = llvm::sys::findProgramByName(candidate)))
      break;
  if (!compiler)
    return "no C compiler to link the library with: none of " +
           llvm::join(candidates, ", ") + " is on PATH (set CC)";
  std::vector<std::string> args = {*compiler, "-shared", "-fPIC", "-O2", "-o", library,
                                   "-I" + scratch, source};
  args.insert(args.end(), objects.begin(), objects.end());
  // libtmix_runtime.so from the folder the library will sit in.
  // Only the typed functions are exported: the programs' own symbols (named after their
  // specs) must not interpose anything of the process that loads the library.
  std::string exports = pathIn(scratch, "exports.map");
  {
    std::error_code code;
    llvm::raw_fd_ostream out(exports, code);
    if (code)
      return "cannot write '" + exports + "': " + code.message();
    out << "{\n  global: tmix_run_*;\n  local: *;\n};\n";
  }
  args.insert(args.end(), {"-L" + scratch, "-ltmix_runtime", "-Wl,-rpath,$ORIGIN",
                           "-Wl,--no-undefined", "-Wl,--version-script=" + exports});
  std::vector<llvm::StringRef> argv(args.begin(), args.end());
  std::string log = pathIn(scratch, "link.log");
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*compiler, argv, std::nullopt, redirects,
                                         /*SecondsToWait=*/300, /*MemoryLimit=*/0, &message);
  if (status != 0) {
    std::string error, output = readAll(log, error);
    return "linking the kernels' library with " + *compiler + " failed" +
           (message.empty() ? "" : " (" + message + ")") + ":\n" + output;
  }
  return {};
}

} // namespace

int ::tmix::buildCpuArtifacts(ModuleOp module, const std::string &file,
                              const std::string &dir, const std::string &cpu,
                              const mlir::tmix::ScheduleOverride &schedule) {
  std::string stem = llvm::sys::path::stem(file).str();
  for (char &c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      c = '_';
  std::string runtime = runtimeLibrary();
  if (!llvm::sys::fs::exists(runtime))
    return fail("'" + runtime + "' is missing: build the target tmix_runtime");

  std::vector<BuiltKernel> kernels;
  for (Operation &op : *module.getBody()) {
    if (!isa<mlir::tmix::AttentionOp, mlir::tmix::AttentionGradOp,
             mlir::tmix::RecurrenceOp>(op))
      continue;
    llvm::Expected<cpu::CpuObject> object =
        cpu::compileObjectForCpu(cpu::printSpec(&op), schedule, cpu);
    if (!object)
      return fail(llvm::toString(object.takeError()));
    BuiltKernel kernel;
    kernel.manifest.kernel = object->manifest;
    kernel.manifest.target = "cpu";
    kernel.manifest.objectFile = kernel.manifest.kernel.signature.name + ".cpu.o";
    kernel.manifest.schedule = object->schedule;
    kernel.object = std::move(*object);
    if (std::string error = rt::validateGpuManifest(kernel.manifest); !error.empty())
      return fail("internal error: the manifest of '" +
                  kernel.manifest.kernel.signature.name + "' does not hold: " + error);
    kernels.push_back(std::move(kernel));
  }
  if (kernels.empty())
    return fail("'" + file + "' has no spec to build");

  // The library is linked in a scratch folder, from the files it is made of.
  llvm::SmallString<128> scratch;
  if (std::error_code error = llvm::sys::fs::createUniqueDirectory("tmix-cpu-build", scratch))
    return fail("cannot create a scratch folder: " + error.message());
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(scratch); });
  std::vector<std::pair<std::string, std::string>> files = {
      {"tmix.h", kTmixHeader}, {stem + ".h", headerOf(kernels, stem, cpu)}};
  std::string source = sourceOf(kernels, stem);
  std::vector<std::string> objects;
  for (const BuiltKernel &kernel : kernels) {
    files.emplace_back(kernel.manifest.objectFile, kernel.object.object);
    objects.push_back(pathIn(scratch, kernel.manifest.objectFile));
  }
  std::string error, runtimeBytes = readAll(runtime, error);
  if (!error.empty())
    return fail(error);
  files.emplace_back("libtmix_runtime.so", runtimeBytes);
  for (const auto &[name, contents] : files) {
    std::error_code code;
    llvm::raw_fd_ostream out(pathIn(scratch, name), code);
    if (code)
      return fail("cannot write '" + pathIn(scratch, name) + "': " + code.message());
    out << contents;
  }
  {
    std::error_code code;
    llvm::raw_fd_ostream out(pathIn(scratch, stem + ".kernels.c"), code);
    if (code)
      return fail("cannot write the library's C file: " + code.message());
    out << source;
  }
  std::string library = "lib" + stem + ".so";
  if (std::string error = linkLibrary(scratch.str().str(), pathIn(scratch, library), objects,
                                      pathIn(scratch, stem + ".kernels.c"));
      !error.empty())
    return fail(error);
  std::string libraryBytes = readAll(pathIn(scratch, library), error);
  if (!error.empty())
    return fail(error);

  // Every file reaches DIR at once, or none does.
  rt::AtomicFileSet artifacts;
  if (std::string error = artifacts.createDirectories(dir); !error.empty())
    return fail(error);
  files.emplace_back(library, libraryBytes);
  for (const BuiltKernel &kernel : kernels)
    files.emplace_back(kernel.manifest.kernel.signature.name + ".cpu.manifest",
                       rt::writeGpuManifest(kernel.manifest));
  for (const auto &[name, contents] : files)
    if (std::string error = artifacts.write(pathIn(dir, name), contents); !error.empty())
      return fail(error);
  if (std::string error = artifacts.commit(); !error.empty())
    return fail(error);
  return 0;
}
