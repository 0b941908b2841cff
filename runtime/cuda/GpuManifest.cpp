//===- GpuManifest.cpp - Writing and parsing GPU kernel manifests ---------===//
//
// The line format of GpuManifest.h. The parser checks every field, so that a damaged
// or hand-edited manifest gives one clear error instead of a wrong launch.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/GpuManifest.h"

#include <charconv>
#include <sstream>

using namespace tmix::rt;

namespace {

constexpr std::string_view kMagic = "tmix-gpu-manifest 1";

std::string dimString(const DimDecl &dim) {
  return dim.symbol.empty() ? std::to_string(dim.size) : dim.symbol;
}

void writeParam(std::ostringstream &out, const char *kind, const ParamDecl &param) {
  out << kind << ' ' << param.name << ' ' << (param.isTensor ? "tensor" : "scalar") << ' '
      << dtypeName(param.dtype);
  for (const DimDecl &dim : param.dims)
    out << ' ' << dimString(dim);
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

bool isSymbol(std::string_view text) {
  if (text.empty() || !(std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_'))
    return false;
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

bool parseDim(std::string_view text, DimDecl &dim) {
  if (isSymbol(text)) {
    dim.symbol = std::string(text);
    return true;
  }
  return parseInt(text, dim.size) && dim.size > 0;
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
      std::string text(word.substr(8));
      char *end = nullptr;
      double value = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0')
        return "bad default value '" + text + "'";
      param.defaultValue = value;
      continue;
    }
    if (!param.isTensor)
      return "a scalar has no dimensions";
    DimDecl dim;
    if (!parseDim(word, dim))
      return "bad dimension '" + std::string(word) + "'";
    param.dims.push_back(dim);
  }
  if (param.isTensor && param.dims.empty())
    return "tensor '" + param.name + "' has no dimensions";
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

std::string parseLine(const std::vector<std::string> &words, GpuManifest &manifest) {
  const std::string &key = words[0];
  auto single = [&](std::string &slot) -> std::string {
    if (words.size() != 2)
      return "'" + key + "' takes one value";
    slot = words[1];
    return {};
  };
  auto number = [&](int64_t &slot) -> std::string {
    if (words.size() != 2 || !parseInt(words[1], slot) || slot < 0)
      return "'" + key + "' takes one non-negative integer";
    return {};
  };
  if (key == "kernel")
    return single(manifest.kernel.signature.name);
  if (key == "target") {
    if (std::string error = single(manifest.target); !error.empty())
      return error;
    if (manifest.target != "sm_80" && manifest.target != "sm_90a")
      return "unknown target '" + manifest.target + "' (expected sm_80 or sm_90a)";
    return {};
  }
  if (key == "ptx")
    return single(manifest.ptxFile);
  if (key == "cubin")
    return single(manifest.cubinFile);
  if (key == "block_threads")
    return number(manifest.blockThreads);
  if (key == "shared_bytes")
    return number(manifest.sharedBytes);
  if (key == "schedule" || key == "specialize") {
    for (size_t index = 1; index < words.size(); ++index) {
      size_t equals = words[index].find('=');
      int64_t value = 0;
      if (equals == std::string::npos ||
          !parseInt(std::string_view(words[index]).substr(equals + 1), value))
        return "bad " + key + " entry '" + words[index] + "' (expected NAME=INT)";
      (key == "schedule" ? manifest.schedule : manifest.specialized)
          .emplace_back(words[index].substr(0, equals), value);
    }
    return {};
  }
  if (key == "sizes") {
    for (size_t index = 1; index < words.size(); ++index) {
      if (!isSymbol(words[index]))
        return "bad size symbol '" + words[index] + "'";
      manifest.kernel.sizeSymbols.push_back(words[index]);
    }
    return {};
  }
  if (key == "grid") {
    for (size_t index = 1; index < words.size(); ++index) {
      size_t colon = words[index].find(':');
      GridDimDecl dim;
      if (colon == std::string::npos ||
          !parseDim(std::string_view(words[index]).substr(0, colon), dim.dim) ||
          !parseInt(std::string_view(words[index]).substr(colon + 1), dim.tile) ||
          dim.tile <= 0)
        return "bad grid dimension '" + words[index] + "' (expected DIM:TILE)";
      manifest.kernel.grid.push_back(dim);
    }
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

std::string tmix::rt::writeGpuManifest(const GpuManifest &manifest) {
  std::ostringstream out;
  out << kMagic << '\n';
  out << "kernel " << manifest.kernel.signature.name << '\n';
  out << "target " << manifest.target << '\n';
  out << "ptx " << manifest.ptxFile << '\n';
  if (!manifest.cubinFile.empty())
    out << "cubin " << manifest.cubinFile << '\n';
  out << "block_threads " << manifest.blockThreads << '\n';
  out << "shared_bytes " << manifest.sharedBytes << '\n';
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
  out << '\n';
  for (const ParamDecl &param : manifest.kernel.signature.args)
    writeParam(out, "arg", param);
  for (const ParamDecl &param : manifest.kernel.signature.results)
    writeParam(out, "result", param);
  for (const TensorMapDecl &map : manifest.tensorMaps) {
    out << "tma " << map.arg << ' ' << dtypeName(map.dtype) << " box=" << map.boxColumns
        << 'x' << map.boxRows << " swizzle=";
    if (map.swizzleBytes == 0)
      out << "none";
    else
      out << map.swizzleBytes;
    out << '\n';
  }
  return out.str();
}

std::string tmix::rt::parseGpuManifest(std::string_view text, GpuManifest &manifest) {
  manifest = GpuManifest();
  manifest.kernel.signature.isAttention = true;
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
    if (std::string error = parseLine(split(line), manifest); !error.empty())
      return where(error);
  }
  if (!sawMagic)
    return "empty manifest";
  if (manifest.kernel.signature.name.empty())
    return "missing 'kernel'";
  if (manifest.target.empty())
    return "missing 'target'";
  if (manifest.ptxFile.empty() && manifest.cubinFile.empty())
    return "missing 'ptx' or 'cubin'";
  if (manifest.blockThreads <= 0 || manifest.blockThreads > 1024)
    return "'block_threads' must be in 1..1024";
  if (manifest.kernel.grid.empty())
    return "missing 'grid'";
  if (manifest.kernel.signature.results.empty())
    return "missing 'result'";
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
  for (const auto *params :
       {&manifest.kernel.signature.args, &manifest.kernel.signature.results})
    for (const ParamDecl &param : *params)
      for (const DimDecl &dim : param.dims)
        if (!known(dim))
          return "symbol '" + dim.symbol + "' of '" + param.name + "' is not in 'sizes'";
  // A TMA descriptor covers a 4-D tensor argument of its dtype.
  for (const TensorMapDecl &map : manifest.tensorMaps) {
    const ParamDecl *arg = nullptr;
    for (const ParamDecl &param : manifest.kernel.signature.args)
      if (param.name == map.arg)
        arg = &param;
    if (!arg || !arg->isTensor)
      return "TMA descriptor of '" + map.arg + "', which is not a tensor argument";
    if (arg->dims.size() != 4)
      return "TMA descriptor of '" + map.arg + "', which is not 4-D";
    if (arg->dtype != map.dtype)
      return "TMA descriptor of '" + map.arg + "' as " + dtypeName(map.dtype) +
             ", but it is " + dtypeName(arg->dtype);
  }
  return {};
}
