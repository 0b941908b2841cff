//===- GpuManifest.cpp - Writing and parsing GPU kernel manifests ---------===//
//
// The line format of GpuManifest.h. The parser checks every field and the validator
// the whole, so that a damaged, hand-edited or hostile manifest gives one clear error
// instead of a wrong launch.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/GpuManifest.h"

#include "runtime/GradientReduction.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>

using namespace tmix::rt;
namespace limits = tmix::rt::manifest_limits;

namespace {

constexpr std::string_view kMagic = "tmix-gpu-manifest 1";
/// Records that a manifest holds at most once (`arg`, `result` and `tma` repeat).
constexpr std::string_view kSingleRecords[] = {
    "kernel",       "target",    "ptx",        "cubin",    "object", "block_threads",
    "shared_bytes", "schedule",  "specialize", "sizes",    "grid",   "groups",
    "spec",         "sequences", "gradients",  "workspace"};
/// Words of a memref descriptor: allocated and aligned pointers, offset, then a size
/// and a stride per dimension.
constexpr size_t kDescriptorWords = 3;

/// `8`, `H`, or `N+1` (one word: the offsets of N packed sequences).
std::string dimString(const DimDecl &dim) {
  if (dim.symbol.empty())
    return std::to_string(dim.size);
  return dim.offset ? dim.symbol + "+" + std::to_string(dim.offset) : dim.symbol;
}

void writeParam(std::ostringstream &out, const char *kind, const ParamDecl &param) {
  out << kind << ' ' << param.name << ' ' << (param.isTensor ? "tensor" : "scalar") << ' '
      << dtypeName(param.dtype);
  for (const DimDecl &dim : param.dims)
    out << ' ' << dimString(dim);
  if (!param.layout.empty()) {
    out << " layout=";
    for (size_t index = 0; index < param.layout.size(); ++index)
      out << (index ? "," : "") << param.layout[index];
  }
  if (param.defaultValue) {
    std::ostringstream value;
    value.precision(17);
    value << *param.defaultValue;
    out << " default=" << value.str();
  }
  out << '\n';
}

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos)
      end = line.size();
    if (end > pos)
      words.emplace_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return words;
}

bool parseInt(std::string_view text, int64_t &value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

/// An integer in [low, high].
bool parseIntIn(std::string_view text, int64_t low, int64_t high, int64_t &value) {
  return parseInt(text, value) && value >= low && value <= high;
}

/// A C identifier of at most kMaxNameLength characters: kernel, argument and symbol
/// names reach PTX entry names, C headers and messages.
bool isSymbol(std::string_view text) {
  if (text.empty() || text.size() > limits::kMaxNameLength ||
      !(std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_'))
    return false;
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

/// A file name, not a path: no '/' (so neither absolute nor `..`-relative), not `.` or
/// `..`, of portable characters. The loader resolves it inside the manifest's
/// directory and checks again after following symlinks (GpuArtifact.h).
bool isPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxNameLength || name == "." || name == "..")
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '+'))
      return false;
  return true;
}

bool parseDim(std::string_view text, DimDecl &dim) {
  size_t plus = text.find('+');
  if (plus != std::string_view::npos && isSymbol(text.substr(0, plus)) &&
      parseIntIn(text.substr(plus + 1), 1, limits::kMaxLiteral, dim.offset)) {
    dim.symbol = std::string(text.substr(0, plus));
    return true;
  }
  if (isSymbol(text)) {
    dim.symbol = std::string(text);
    return true;
  }
  return parseIntIn(text, 1, limits::kMaxLiteral, dim.size);
}

bool parseDType(std::string_view text, DType &dtype) {
  for (DType candidate : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64,
                          DType::Bool, DType::F64})
    if (text == dtypeName(candidate)) {
      dtype = candidate;
      return true;
    }
  return false;
}

/// `arg|result NAME tensor|scalar DTYPE DIM... [default=X]`
std::string parseParam(const std::vector<std::string> &words, ParamDecl &param) {
  if (words.size() < 4)
    return "expected '" + words[0] + " NAME tensor|scalar DTYPE [DIMS...]'";
  if (!isSymbol(words[1]))
    return "bad name '" + words[1] + "' (expected an identifier)";
  param.name = words[1];
  if (words[2] != "tensor" && words[2] != "scalar")
    return "expected 'tensor' or 'scalar', found '" + words[2] + "'";
  param.isTensor = words[2] == "tensor";
  if (!parseDType(words[3], param.dtype))
    return "unknown dtype '" + words[3] + "'";
  for (size_t index = 4; index < words.size(); ++index) {
    std::string_view word = words[index];
    if (word.rfind("default=", 0) == 0) {
      if (param.isTensor)
        return "a tensor has no default value";
      if (param.defaultValue)
        return "scalar '" + param.name + "' has its default given twice";
      std::string text(word.substr(8));
      char *end = nullptr;
      double value = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0')
        return "bad default value '" + text + "'";
      if (std::string error = checkScalarValue(param, value); !error.empty())
        return "the default of " + error;
      param.defaultValue = value;
      continue;
    }
    if (!param.isTensor)
      return "a scalar has no dimensions";
    if (word.rfind("layout=", 0) == 0) {
      if (!param.layout.empty())
        return "tensor '" + param.name + "' has its layout given twice";
      std::string_view list = word.substr(7);
      while (true) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        int64_t position = -1;
        auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), position);
        if (item.empty() || error != std::errc() || end != item.data() + item.size() ||
            position < 0 || position >= static_cast<int64_t>(limits::kMaxRank))
          return "bad layout '" + std::string(word.substr(7)) + "'";
        param.layout.push_back(position);
        if (comma == std::string_view::npos)
          break;
        list = list.substr(comma + 1);
      }
      continue;
    }
    DimDecl dim;
    if (!parseDim(word, dim))
      return "bad dimension '" + std::string(word) + "' (a size symbol or an integer in 1.." +
             std::to_string(limits::kMaxLiteral) + ")";
    param.dims.push_back(dim);
  }
  if (param.isTensor && param.dims.empty())
    return "tensor '" + param.name + "' has no dimensions";
  if (param.dims.size() > limits::kMaxRank)
    return "'" + param.name + "' has rank " + std::to_string(param.dims.size()) +
           "; at most " + std::to_string(limits::kMaxRank);
  if (!isValidLayout(param.layout, param.dims.size()))
    return "the layout of '" + param.name + "' is not a permutation of its dims";
  return {};
}

/// `tma ARG DTYPE box=COLUMNSxROWS swizzle=BYTES|none`
std::string parseTensorMap(const std::vector<std::string> &words, TensorMapDecl &map) {
  if (words.size() != 5)
    return "expected 'tma ARG DTYPE box=COLUMNSxROWS swizzle=BYTES'";
  map.arg = words[1];
  if (!parseDType(words[2], map.dtype) ||
      (map.dtype != DType::BF16 && map.dtype != DType::F16 && map.dtype != DType::F32))
    return "a TMA descriptor's dtype must be bf16, f16 or f32, not '" + words[2] + "'";
  std::string_view box = words[3];
  size_t cross = box.find('x', 4);
  if (box.rfind("box=", 0) != 0 || cross == std::string_view::npos ||
      !parseInt(box.substr(4, cross - 4), map.boxColumns) ||
      !parseInt(box.substr(cross + 1), map.boxRows) || map.boxColumns <= 0 ||
      map.boxRows <= 0 || map.boxColumns > 256 || map.boxRows > 256)
    return "bad TMA box '" + words[3] + "' (expected box=COLUMNSxROWS, each 1..256)";
  std::string_view swizzle = words[4];
  if (swizzle == "swizzle=none")
    map.swizzleBytes = 0;
  else if (swizzle.rfind("swizzle=", 0) != 0 ||
           !parseInt(swizzle.substr(8), map.swizzleBytes) ||
           (map.swizzleBytes != 32 && map.swizzleBytes != 64 && map.swizzleBytes != 128))
    return "bad TMA swizzle '" + words[4] + "' (expected swizzle=32|64|128|none)";
  int64_t rowBytes = map.boxColumns * static_cast<int64_t>(dtypeSize(map.dtype));
  if (map.swizzleBytes != 0 && rowBytes > map.swizzleBytes)
    return "a TMA box row of " + std::to_string(rowBytes) +
           " bytes is wider than its " + std::to_string(map.swizzleBytes) + "-byte swizzle";
  return {};
}

/// Size symbols `words[from..]` appended to `symbols`, each an identifier and once
/// (`what` names them in the errors).
std::string symbolList(const std::vector<std::string> &words, size_t from,
                       const std::string &what, std::vector<std::string> &symbols) {
  for (size_t index = from; index < words.size(); ++index) {
    if (!isSymbol(words[index]))
      return "bad size symbol '" + words[index] + "'";
    for (const std::string &symbol : symbols)
      if (symbol == words[index])
        return what + " '" + symbol + "' given twice";
    symbols.push_back(words[index]);
  }
  return {};
}

/// `schedule|specialize NAME=INT...`, each name once.
std::string parseNamedValues(const std::vector<std::string> &words, int64_t low,
                             std::vector<std::pair<std::string, int64_t>> &entries) {
  const std::string &key = words[0];
  for (size_t index = 1; index < words.size(); ++index) {
    size_t equals = words[index].find('=');
    int64_t value = 0;
    if (equals == std::string::npos || !isSymbol(words[index].substr(0, equals)) ||
        !parseIntIn(std::string_view(words[index]).substr(equals + 1), low,
                    limits::kMaxLiteral, value))
      return "bad " + key + " entry '" + words[index] + "' (expected NAME=INT, INT in " +
             std::to_string(low) + ".." + std::to_string(limits::kMaxLiteral) + ")";
    std::string name = words[index].substr(0, equals);
    for (const auto &entry : entries)
      if (entry.first == name)
        return key + " entry '" + name + "' given twice";
    entries.emplace_back(name, value);
  }
  return {};
}

std::string parseLine(const std::vector<std::string> &words, GpuManifest &manifest) {
  const std::string &key = words[0];
  auto single = [&](std::string &slot) -> std::string {
    if (words.size() != 2)
      return "'" + key + "' takes one value";
    slot = words[1];
    return {};
  };
  auto file = [&](std::string &slot) -> std::string {
    if (std::string error = single(slot); !error.empty())
      return error;
    if (!isPlainFileName(slot))
      return "'" + key + "' must be a file name in the manifest's directory, not '" + slot +
             "'";
    return {};
  };
  auto number = [&](int64_t &slot) -> std::string {
    if (words.size() != 2 || !parseInt(words[1], slot) || slot < 0)
      return "'" + key + "' takes one non-negative integer";
    return {};
  };
  if (key == "kernel") {
    if (std::string error = single(manifest.kernel.signature.name); !error.empty())
      return error;
    if (!isSymbol(manifest.kernel.signature.name))
      return "bad kernel name '" + manifest.kernel.signature.name +
             "' (expected an identifier, the PTX entry point)";
    return {};
  }
  if (key == "target") {
    if (std::string error = single(manifest.target); !error.empty())
      return error;
    if (manifest.target != "cpu" && maxSharedBytes(manifest.target) == 0)
      return "unknown target '" + manifest.target + "' (expected cpu, sm_80 or sm_90a)";
    return {};
  }
  if (key == "spec") { // spec attention|recurrence; manifests without it are attention's
    if (words.size() != 2 || (words[1] != "attention" && words[1] != "recurrence"))
      return "'spec' takes 'attention' or 'recurrence'";
    manifest.kernel.signature.isAttention = words[1] == "attention";
    return {};
  }
  if (key == "gradients") { // gradients summed: a recurrence's adjoint (sumsGradients)
    if (words.size() != 2 || words[1] != "summed")
      return "'gradients' takes 'summed'";
    manifest.kernel.sumsGradients = true;
    return {};
  }
  if (key == "workspace") { // workspace WORDS SYMBOL...
    if (words.size() < 2 || !parseInt(words[1], manifest.workspaceWords) ||
        manifest.workspaceWords < 1 || manifest.workspaceWords > limits::kMaxLiteral)
      return "'workspace' takes a number of words in 1.." +
             std::to_string(limits::kMaxLiteral) + ", then size symbols";
    return symbolList(words, 2, "workspace symbol", manifest.workspacePer);
  }
  if (key == "ptx")
    return file(manifest.ptxFile);
  if (key == "cubin")
    return file(manifest.cubinFile);
  if (key == "object")
    return file(manifest.objectFile);
  if (key == "block_threads")
    return number(manifest.blockThreads);
  if (key == "shared_bytes")
    return number(manifest.sharedBytes);
  if (key == "schedule")
    return parseNamedValues(words, 0, manifest.schedule);
  if (key == "specialize")
    return parseNamedValues(words, 1, manifest.specialized);
  if (key == "sizes")
    return symbolList(words, 1, "size symbol", manifest.kernel.sizeSymbols);
  if (key == "groups") { // groups G:P ...: G read in place of parallel dim P
    for (size_t index = 1; index < words.size(); ++index) {
      size_t colon = words[index].find(':');
      std::string group = words[index].substr(0, colon);
      std::string grouped = colon == std::string::npos ? "" : words[index].substr(colon + 1);
      if (!isSymbol(group) || !isSymbol(grouped) || group == grouped)
        return "bad group '" + words[index] + "' (expected G:P, two size symbols)";
      manifest.kernel.signature.groups.emplace_back(group, grouped);
    }
    return {};
  }
  if (key == "grid") {
    if (words.size() - 1 > limits::kMaxRank)
      return "a grid of " + std::to_string(words.size() - 1) + " dimensions; at most " +
             std::to_string(limits::kMaxRank);
    for (size_t index = 1; index < words.size(); ++index) {
      size_t colon = words[index].find(':');
      GridDimDecl dim;
      if (colon == std::string::npos ||
          !parseDim(std::string_view(words[index]).substr(0, colon), dim.dim) ||
          dim.dim.offset != 0 ||
          !parseIntIn(std::string_view(words[index]).substr(colon + 1), 1,
                      limits::kMaxLiteral, dim.tile))
        return "bad grid dimension '" + words[index] + "' (expected DIM:TILE, TILE in 1.." +
               std::to_string(limits::kMaxLiteral) + ")";
      manifest.kernel.grid.push_back(dim);
    }
    return {};
  }
  if (key == "sequences") { // sequences OFFSETS TIME: packed sequences, after the args
    SpecSignature &signature = manifest.kernel.signature;
    if (words.size() != 3 || !isSymbol(words[2]))
      return "'sequences' takes the offsets argument and the time symbol";
    for (size_t index = 0; index < signature.args.size(); ++index)
      if (signature.args[index].name == words[1])
        signature.sequenceOffsets = index;
    if (!signature.sequenceOffsets)
      return "'sequences' names '" + words[1] + "', which is not an argument before it";
    signature.timeSymbol = words[2];
    return {};
  }
  if (key == "tma") {
    TensorMapDecl map;
    if (std::string error = parseTensorMap(words, map); !error.empty())
      return error;
    manifest.tensorMaps.push_back(map);
    return {};
  }
  if (key == "arg" || key == "result") {
    ParamDecl param;
    if (std::string error = parseParam(words, param); !error.empty())
      return error;
    (key == "arg" ? manifest.kernel.signature.args : manifest.kernel.signature.results)
        .push_back(param);
    return {};
  }
  return "unknown record '" + key + "'";
}

} // namespace

int64_t tmix::rt::maxSharedBytes(std::string_view target) {
  if (target == "sm_80")
    return limits::kMaxSharedBytesSm80;
  if (target == "sm_90a")
    return limits::kMaxSharedBytesSm90a;
  return 0;
}

size_t tmix::rt::kernelParamWords(const GpuManifest &manifest) {
  size_t words = kDescriptorWords + 2; // the sizes array: rank 1
  for (const auto *params :
       {&manifest.kernel.signature.args, &manifest.kernel.signature.results})
    for (const ParamDecl &param : *params)
      words += param.isTensor ? kDescriptorWords + 2 * param.dims.size() : 1;
  if (!manifest.tensorMaps.empty())
    ++words;
  if (manifest.workspaceWords != 0)
    words += kDescriptorWords + 2; // rank 1
  return words;
}

std::string tmix::rt::workspaceWordsOf(const GpuManifest &manifest,
                                       const std::map<std::string, int64_t> &bound,
                                       int64_t blocks, int64_t &words) {
  words = 0;
  if (manifest.workspaceWords == 0)
    return {};
  std::string named = std::to_string(manifest.workspaceWords);
  int64_t total = manifest.workspaceWords;
  bool overflow = false;
  for (const std::string &symbol : manifest.workspacePer) {
    auto found = bound.find(symbol);
    if (found == bound.end())
      return "workspace symbol '" + symbol + "' is not bound";
    named += " x " + symbol + "=" + std::to_string(found->second);
    overflow = overflow || __builtin_mul_overflow(total, found->second, &total);
  }
  overflow = overflow || __builtin_add_overflow(total, blocks, &total);
  if (overflow || total > limits::kMaxWorkspaceWords)
    return "kernel '" + manifest.kernel.signature.name + "' needs a workspace of " +
           named + " words after " + std::to_string(blocks) +
           " (one per CTA): more than " + std::to_string(limits::kMaxWorkspaceWords);
  words = total;
  return {};
}

std::string tmix::rt::validateGpuManifest(const GpuManifest &manifest) {
  const SpecSignature &signature = manifest.kernel.signature;
  if (signature.name.empty())
    return "missing 'kernel'";
  if (manifest.target.empty())
    return "missing 'target'";
  for (const std::string *file :
       {&manifest.ptxFile, &manifest.cubinFile, &manifest.objectFile})
    if (!file->empty() && !isPlainFileName(*file))
      return "'" + *file + "' must be a file name in the manifest's directory";
  bool cpu = manifest.target == "cpu";
  int64_t sharedLimit = maxSharedBytes(manifest.target);
  if (!cpu && sharedLimit == 0)
    return "unknown target '" + manifest.target + "' (expected cpu, sm_80 or sm_90a)";
  if (cpu) {
    // A CPU program: an object file, no CUDA block, no device resources.
    if (manifest.objectFile.empty())
      return "missing 'object'";
    if (!manifest.ptxFile.empty() || !manifest.cubinFile.empty() ||
        manifest.blockThreads != 0 || manifest.sharedBytes != 0 ||
        !manifest.tensorMaps.empty() || manifest.workspaceWords != 0)
      return "a cpu kernel has no 'ptx', 'cubin', 'block_threads', 'shared_bytes', 'tma' "
             "or 'workspace'";
  } else {
    if (!manifest.objectFile.empty())
      return "'object' is for cpu kernels, not " + manifest.target;
    if (manifest.ptxFile.empty() && manifest.cubinFile.empty())
      return "missing 'ptx' or 'cubin'";
    if (manifest.blockThreads <= 0 || manifest.blockThreads > limits::kMaxBlockThreads)
      return "'block_threads' must be in 1.." + std::to_string(limits::kMaxBlockThreads);
    if (manifest.sharedBytes < 0 || manifest.sharedBytes > sharedLimit)
      return "'shared_bytes' of " + std::to_string(manifest.sharedBytes) +
             " is more than " + manifest.target + " allows (" +
             std::to_string(sharedLimit) + ")";
  }
  if (manifest.kernel.grid.empty())
    return "missing 'grid'";
  if (signature.args.empty())
    return "missing 'arg'";
  if (signature.results.empty())
    return "missing 'result'";
  // Names: unique across arguments and results (the .npy files and the C header's
  // parameters are named after them).
  std::vector<const std::string *> names;
  for (const auto *params : {&signature.args, &signature.results})
    for (const ParamDecl &param : *params) {
      for (const std::string *name : names)
        if (*name == param.name)
          return "'" + param.name + "' declared twice";
      names.push_back(&param.name);
      if (params == &signature.results && !param.isTensor)
        return "result '" + param.name + "' is not a tensor";
    }
  // Every symbol a tensor or the grid uses must be in the sizes argument.
  auto known = [&](const DimDecl &dim) {
    if (dim.symbol.empty())
      return true;
    for (const std::string &symbol : manifest.kernel.sizeSymbols)
      if (symbol == dim.symbol)
        return true;
    return false;
  };
  for (const auto &[symbol, value] : manifest.specialized)
    if (!known(DimDecl{symbol, 0}))
      return "specialized symbol '" + symbol + "' is not in 'sizes'";
  for (const GridDimDecl &dim : manifest.kernel.grid)
    if (!known(dim.dim))
      return "grid symbol '" + dim.dim.symbol + "' is not in 'sizes'";
  for (const std::string &symbol : manifest.workspacePer)
    if (!known(DimDecl{symbol, 0}))
      return "workspace symbol '" + symbol + "' is not in 'sizes'";
  if (manifest.workspaceWords < 0 || manifest.workspaceWords > limits::kMaxLiteral ||
      (manifest.workspaceWords == 0 && !manifest.workspacePer.empty()))
    return "'workspace' words must be in 1.." + std::to_string(limits::kMaxLiteral);
  for (const auto &[group, grouped] : signature.groups)
    if (!known(DimDecl{group, 0}) || !known(DimDecl{grouped, 0}))
      return "group '" + group + ":" + grouped + "' names a symbol not in 'sizes'";
  for (const auto *params : {&signature.args, &signature.results})
    for (const ParamDecl &param : *params)
      for (const DimDecl &dim : param.dims) {
        if (!known(dim))
          return "symbol '" + dim.symbol + "' of '" + param.name + "' is not in 'sizes'";
        // A dim with an offset is the [N + 1] of the sequence offsets only.
        bool offsets = signature.sequenceOffsets &&
                       &param == &signature.args[*signature.sequenceOffsets];
        if (dim.offset != 0 && !offsets)
          return "'" + param.name + "' has the dim " + dimString(dim) +
                 "; a dim with an offset is only that of the sequence offsets";
      }
  if (signature.sequenceOffsets) {
    const ParamDecl &offsets = signature.args[*signature.sequenceOffsets];
    if (signature.isAttention || !offsets.isTensor || offsets.dims.size() != 1 ||
        offsets.dims[0].offset != 1 ||
        (offsets.dtype != DType::I32 && offsets.dtype != DType::I64) ||
        !known(DimDecl{signature.timeSymbol, 0}))
      return "'sequences' needs a recurrence, an i32 or i64 [N+1] offsets tensor and a "
             "time symbol in 'sizes'";
  }
  // Summed gradients: each result d_<x> is argument x's (on a GPU, in f32: the sum
  // kernel reads f32 partials).
  if (manifest.kernel.sumsGradients)
    for (const ParamDecl &result : signature.results) {
      if (gradientArgument(signature, result) == signature.args.size())
        return "'gradients summed', but result '" + result.name +
               "' is the gradient of no argument";
      if (!cpu && result.dtype != DType::F32)
        return "'gradients summed' on a GPU takes f32 results, not '" + result.name + "'";
    }
  // A TMA descriptor covers a distinct 4-D tensor argument of its dtype, on sm_90a.
  if (!manifest.tensorMaps.empty() && manifest.target != "sm_90a")
    return "'tma' records are for sm_90a kernels, not " + manifest.target;
  for (size_t index = 0; index < manifest.tensorMaps.size(); ++index) {
    const TensorMapDecl &map = manifest.tensorMaps[index];
    const ParamDecl *arg = nullptr;
    for (const ParamDecl &param : signature.args)
      if (param.name == map.arg)
        arg = &param;
    if (!arg || !arg->isTensor)
      return "TMA descriptor of '" + map.arg + "', which is not a tensor argument";
    if (arg->dims.size() != 4)
      return "TMA descriptor of '" + map.arg + "', which is not 4-D";
    if (arg->dtype != map.dtype)
      return "TMA descriptor of '" + map.arg + "' as " + dtypeName(map.dtype) +
             ", but it is " + dtypeName(arg->dtype);
    for (size_t before = 0; before < index; ++before)
      if (manifest.tensorMaps[before].arg == map.arg)
        return "two TMA descriptors of '" + map.arg + "'";
  }
  size_t paramBytes = kernelParamWords(manifest) * sizeof(uint64_t);
  if (!cpu && paramBytes > limits::kMaxParamBytes)
    return "the kernel ABI takes " + std::to_string(paramBytes) +
           " bytes of kernel parameters; CUDA takes at most " +
           std::to_string(limits::kMaxParamBytes);
  return {};
}

std::string tmix::rt::writeGpuManifest(const GpuManifest &manifest) {
  std::ostringstream out;
  out << kMagic << '\n';
  out << "kernel " << manifest.kernel.signature.name << '\n';
  out << "target " << manifest.target << '\n';
  if (!manifest.kernel.signature.isAttention)
    out << "spec recurrence\n";
  if (manifest.kernel.sumsGradients)
    out << "gradients summed\n";
  if (!manifest.ptxFile.empty())
    out << "ptx " << manifest.ptxFile << '\n';
  if (!manifest.cubinFile.empty())
    out << "cubin " << manifest.cubinFile << '\n';
  if (!manifest.objectFile.empty())
    out << "object " << manifest.objectFile << '\n';
  if (manifest.target != "cpu") {
    out << "block_threads " << manifest.blockThreads << '\n';
    out << "shared_bytes " << manifest.sharedBytes << '\n';
  }
  out << "schedule";
  for (const auto &[name, value] : manifest.schedule)
    out << ' ' << name << '=' << value;
  if (!manifest.specialized.empty()) {
    out << "\nspecialize";
    for (const auto &[name, value] : manifest.specialized)
      out << ' ' << name << '=' << value;
  }
  out << "\nsizes";
  for (const std::string &symbol : manifest.kernel.sizeSymbols)
    out << ' ' << symbol;
  out << "\ngrid";
  for (const GridDimDecl &dim : manifest.kernel.grid)
    out << ' ' << dimString(dim.dim) << ':' << dim.tile;
  if (!manifest.kernel.signature.groups.empty()) {
    out << "\ngroups";
    for (const auto &[group, grouped] : manifest.kernel.signature.groups)
      out << ' ' << group << ':' << grouped;
  }
  out << '\n';
  for (const ParamDecl &param : manifest.kernel.signature.args)
    writeParam(out, "arg", param);
  for (const ParamDecl &param : manifest.kernel.signature.results)
    writeParam(out, "result", param);
  if (const std::optional<size_t> &offsets = manifest.kernel.signature.sequenceOffsets)
    out << "sequences " << manifest.kernel.signature.args[*offsets].name << ' '
        << manifest.kernel.signature.timeSymbol << '\n';
  for (const TensorMapDecl &map : manifest.tensorMaps) {
    out << "tma " << map.arg << ' ' << dtypeName(map.dtype) << " box=" << map.boxColumns
        << 'x' << map.boxRows << " swizzle=";
    if (map.swizzleBytes == 0)
      out << "none";
    else
      out << map.swizzleBytes;
    out << '\n';
  }
  if (manifest.workspaceWords != 0) {
    out << "workspace " << manifest.workspaceWords;
    for (const std::string &symbol : manifest.workspacePer)
      out << ' ' << symbol;
    out << '\n';
  }
  return out.str();
}

std::string tmix::rt::parseGpuManifest(std::string_view text, GpuManifest &manifest) {
  manifest = GpuManifest();
  manifest.kernel.signature.isAttention = true;
  if (text.size() > limits::kMaxBytes)
    return "the manifest is larger than " + std::to_string(limits::kMaxBytes) + " bytes";
  std::map<std::string, int, std::less<>> firstLine; // of each single record
  size_t pos = 0;
  int lineNumber = 0;
  bool sawMagic = false;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNumber;
    if (size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty())
      continue;
    auto where = [&](const std::string &message) {
      return "line " + std::to_string(lineNumber) + ": " + message;
    };
    if (!sawMagic) {
      if (line != kMagic)
        return where("not a tmix GPU manifest (expected '" + std::string(kMagic) + "')");
      sawMagic = true;
      continue;
    }
    std::vector<std::string> words = split(line);
    if (words.empty()) // a line of spaces and carriage returns
      continue;
    for (std::string_view single : kSingleRecords)
      if (words[0] == single) {
        auto [first, inserted] = firstLine.try_emplace(words[0], lineNumber);
        if (!inserted)
          return where("'" + words[0] + "' given twice (first on line " +
                       std::to_string(first->second) + ")");
      }
    if (std::string error = parseLine(words, manifest); !error.empty())
      return where(error);
  }
  if (!sawMagic)
    return "empty manifest";
  // Records whose absence validateGpuManifest cannot see in the parsed values.
  for (const char *required : {"kernel", "target", "block_threads", "shared_bytes", "sizes"})
    if (!firstLine.count(required) &&
        !(manifest.target == "cpu" && (std::string_view(required) == "block_threads" ||
                                       std::string_view(required) == "shared_bytes")))
      return "missing '" + std::string(required) + "'";
  return validateGpuManifest(manifest);
}
