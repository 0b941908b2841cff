//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// The .npy reader parses the header as the Python dict literal it is (not by
// searching for substrings), so that every malformed, truncated or unsupported file
// gets one clear message naming it instead of a crash or silently wrong data.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

using namespace tmix::rt;

namespace {

// The fixed preamble: magic, major and minor version, then the header length (2 bytes
// little-endian in version 1.0, 4 bytes in 2.0 and 3.0).
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kVersionSize = 2;
constexpr size_t kHeaderLenSizeV1 = 2;
constexpr size_t kHeaderLenSizeV2 = 4;
constexpr int kMaxMajorVersion = 3;
/// NumPy pads the preamble and header to this so that the data is aligned.
constexpr size_t kHeaderAlignment = 64;
constexpr size_t kMaxHeaderLenV1 = 0xffff;
constexpr int kDecimalBase = 10;
constexpr int kBitsPerByte = 8;
/// The longest 'descr' we support, like "<f8": byte order, kind, one-digit size.
constexpr size_t kMaxDescrLength = 3;

bool hostIsLittleEndian() {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

/// An element type as a .npy 'descr' names it, and how it loads.
struct NpyType {
  const char *descr;     // canonical little-endian spelling, for messages and writing
  const char *numpyName; // "float32", as NumPy prints it
  char kind;             // 'f', 'i', 'u', 'b'
  size_t itemSize;
  DType dtype; // what it loads as (narrow integers widen exactly)
};

constexpr NpyType kNpyTypes[] = {
    {"<f2", "float16", 'f', 2, DType::F16}, {"<f4", "float32", 'f', 4, DType::F32},
    {"<f8", "float64", 'f', 8, DType::F64}, {"|i1", "int8", 'i', 1, DType::I32},
    {"<i2", "int16", 'i', 2, DType::I32},   {"<i4", "int32", 'i', 4, DType::I32},
    {"<i8", "int64", 'i', 8, DType::I64},   {"|u1", "uint8", 'u', 1, DType::I32},
    {"<u2", "uint16", 'u', 2, DType::I32},  {"<u4", "uint32", 'u', 4, DType::I64},
    {"|b1", "bool", 'b', 1, DType::Bool},
};

const NpyType *findNpyType(char kind, size_t itemSize) {
  for (const NpyType &type : kNpyTypes)
    if (type.kind == kind && type.itemSize == itemSize)
      return &type;
  return nullptr;
}

std::string quoted(const std::string &name) { return "'" + name + "'"; }

/// "(2, 3)", "(3,)", "()": a shape as NumPy prints it.
std::string pythonShape(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    text += ",";
  return text + ")";
}

/// One value of the header dict.
struct HeaderValue {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string text;
  bool flag = false;
  std::vector<int64_t> ints;
};

/// A recursive-descent parser for the subset of Python literals a .npy header holds:
/// a dict of string keys to strings, True/False and tuples of integers. Anything else
/// (a list of fields for a structured dtype, say) parses as Other so that the caller
/// can say which key it did not expect.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text_(text) {}

  /// Parses the dict into `entries`; returns an error or empty.
  std::string parseDict(std::vector<std::pair<std::string, HeaderValue>> &entries) {
    skipSpace();
    if (!consume('{'))
      return failure("expected '{'");
    skipSpace();
    while (!consume('}')) {
      std::string key;
      if (!parseString(key))
        return failure("expected a quoted key");
      skipSpace();
      if (!consume(':'))
        return failure("expected ':' after '" + key + "'");
      HeaderValue value;
      if (std::string error = parseValue(value); !error.empty())
        return error;
      entries.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (consume(','))
        skipSpace();
      else if (peek() != '}')
        return failure("expected ',' or '}'");
    }
    skipSpace();
    if (pos_ != text_.size())
      return failure("unexpected text after the dict");
    return "";
  }

private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos_;
    return true;
  }

  void skipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }

  std::string failure(const std::string &what) const {
    return what + " at offset " + std::to_string(pos_) + " of the header";
  }

  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\')
        return false; // no escapes in the keys and type strings NumPy writes
      ++pos_;
    }
    if (pos_ >= text_.size())
      return false;
    out = text_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }

  bool parseWord(const char *word) {
    size_t length = std::strlen(word);
    if (text_.compare(pos_, length, word) != 0)
      return false;
    pos_ += length;
    return true;
  }

  bool parseInt(int64_t &out) {
    size_t start = pos_;
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (__builtin_mul_overflow(value, kDecimalBase, &value) ||
          __builtin_add_overflow(value, peek() - '0', &value))
        return false;
      ++pos_;
    }
    if (pos_ == start)
      return false;
    consume('L'); // NumPy under Python 2 wrote long integers as "3L"
    out = value;
    return true;
  }

  std::string parseValue(HeaderValue &value) {
    skipSpace();
    char c = peek();
    if (c == '\'' || c == '"') {
      value.kind = HeaderValue::String;
      return parseString(value.text) ? "" : failure("unterminated string");
    }
    if (parseWord("True")) {
      value.kind = HeaderValue::Bool;
      value.flag = true;
      return "";
    }
    if (parseWord("False")) {
      value.kind = HeaderValue::Bool;
      value.flag = false;
      return "";
    }
    if (consume('(')) {
      value.kind = HeaderValue::Tuple;
      skipSpace();
      while (!consume(')')) {
        int64_t dim;
        if (!parseInt(dim))
          return failure("expected a non-negative integer in the shape");
        value.ints.push_back(dim);
        skipSpace();
        if (consume(','))
          skipSpace();
        else if (peek() != ')')
          return failure("expected ',' or ')' in the shape");
      }
      return "";
    }
    if (c == '[' || c == '{') {
      // A structured dtype's field list (or a nested dict): skip it, balanced.
      value.kind = HeaderValue::Other;
      int depth = 0;
      while (pos_ < text_.size()) {
        char ch = text_[pos_];
        if (ch == '\'' || ch == '"') {
          std::string ignored;
          if (!parseString(ignored))
            return failure("unterminated string");
          continue;
        }
        ++pos_;
        if (ch == '[' || ch == '{' || ch == '(')
          ++depth;
        else if ((ch == ']' || ch == '}' || ch == ')') && --depth == 0)
          return "";
      }
      return failure("unbalanced brackets");
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t ignored;
      value.kind = HeaderValue::Other; // valid Python, but no key we know holds one
      return parseInt(ignored) ? "" : failure("integer out of range");
    }
    return failure("unexpected value");
  }

  const std::string &text_;
  size_t pos_ = 0;
};

uint64_t readLittleEndian(const std::string &bytes, size_t offset, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i)
    value |= uint64_t(static_cast<unsigned char>(bytes[offset + i]))
             << (kBitsPerByte * i);
  return value;
}

template <typename T> T loadRaw(const char *data, int64_t index) {
  T value;
  std::memcpy(&value, data + index * sizeof(T), sizeof(T));
  return value;
}

/// Copies or widens the data of `type` into `out` (already shaped).
void loadData(const NpyType &type, const char *data, HostTensor &out) {
  int64_t count = out.numElements();
  if (count == 0)
    return; // an empty tensor has no storage to copy into
  if (dtypeSize(out.dtype()) == type.itemSize) {
    std::memcpy(out.data(), data, out.numBytes());
    if (out.dtype() == DType::Bool) {
      // NumPy's bool is 0 or 1, but a hand-made file may hold any byte: normalise.
      auto *bytes = static_cast<unsigned char *>(out.data());
      for (int64_t i = 0; i < count; ++i)
        bytes[i] = bytes[i] ? 1 : 0;
    }
    return;
  }
  // Narrow integers widen; every such value is exact in double.
  for (int64_t i = 0; i < count; ++i) {
    double value = 0;
    switch (type.kind == 'u' ? -int(type.itemSize) : int(type.itemSize)) {
    case 1: value = loadRaw<int8_t>(data, i); break;
    case 2: value = loadRaw<int16_t>(data, i); break;
    case -1: value = loadRaw<uint8_t>(data, i); break;
    case -2: value = loadRaw<uint16_t>(data, i); break;
    case -4: value = loadRaw<uint32_t>(data, i); break;
    default: break;
    }
    out.set(i, value);
  }
}

const char *descrFor(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::F16:
  case DType::BF16:
  case DType::F64: return "<f4";
  case DType::I32: return "<i4";
  case DType::I64: return "<i8";
  case DType::Bool: return "|b1";
  }
  return "<f4";
}

} // namespace

std::string tmix::rt::parseNpy(const std::string &name, const std::string &contents,
                               HostTensor &out) {
  const std::string file = quoted(name);
  if (contents.size() < kMagicSize || contents.compare(0, kMagicSize, kMagic) != 0)
    return file + " is not a .npy file (bad magic)";
  if (!hostIsLittleEndian())
    return "cannot read " + file +
           ": .npy files are only supported on little-endian hosts";
  if (contents.size() < kMagicSize + kVersionSize)
    return file + " is truncated (no version)";
  int major = static_cast<unsigned char>(contents[kMagicSize]);
  int minor = static_cast<unsigned char>(contents[kMagicSize + 1]);
  if (major < 1 || major > kMaxMajorVersion || minor != 0)
    return file + " has unsupported .npy version " + std::to_string(major) + "." +
           std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)";

  size_t lenSize = major == 1 ? kHeaderLenSizeV1 : kHeaderLenSizeV2;
  size_t headerStart = kMagicSize + kVersionSize + lenSize;
  if (contents.size() < headerStart)
    return file + " is truncated (no header length)";
  uint64_t headerLen = readLittleEndian(contents, kMagicSize + kVersionSize, lenSize);
  if (headerLen > contents.size() - headerStart)
    return file + " is truncated (the header is " + std::to_string(headerLen) +
           " bytes, the file has " + std::to_string(contents.size() - headerStart) +
           " after the preamble)";
  std::string header = contents.substr(headerStart, headerLen);

  std::vector<std::pair<std::string, HeaderValue>> entries;
  if (std::string error = HeaderParser(header).parseDict(entries); !error.empty())
    return file + " has a malformed header: " + error;

  std::optional<HeaderValue> descr, fortranOrder, shape;
  for (auto &[key, value] : entries) {
    std::optional<HeaderValue> *slot = key == "descr"           ? &descr
                                       : key == "fortran_order" ? &fortranOrder
                                       : key == "shape"         ? &shape
                                                                : nullptr;
    if (!slot)
      return file + " has an unexpected header key '" + key + "'";
    if (slot->has_value())
      return file + " has a duplicate header key '" + key + "'";
    *slot = std::move(value);
  }
  for (auto [slot, key] :
       {std::pair{&descr, "descr"}, std::pair{&fortranOrder, "fortran_order"},
        std::pair{&shape, "shape"}})
    if (!slot->has_value())
      return file + " has no '" + key + "' in its header";

  if (fortranOrder->kind != HeaderValue::Bool)
    return file + " has a malformed header: 'fortran_order' is not True or False";
  if (fortranOrder->flag)
    return file + " is in Fortran order; save it in C order (np.ascontiguousarray)";
  if (shape->kind != HeaderValue::Tuple)
    return file + " has a malformed header: 'shape' is not a tuple of integers";
  if (descr->kind != HeaderValue::String)
    return file + " has an unsupported element type (a structured dtype)";

  // descr: a byte order ('<' little, '>' big, '|' not applicable, '=' native), a kind
  // letter and the item size in bytes.
  const std::string &typeString = descr->text;
  const NpyType *type = nullptr;
  if (typeString.size() >= 3 && std::strchr("<>|=", typeString[0])) {
    size_t itemSize = 0;
    bool digits = true;
    for (size_t i = 2; i < typeString.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(typeString[i])))
        digits = false;
      else
        itemSize = itemSize * kDecimalBase + (typeString[i] - '0');
    }
    char order = typeString[0];
    if (digits && typeString.size() <= kMaxDescrLength)
      type = findNpyType(typeString[1], itemSize);
    if (type && order == '>' && type->itemSize > 1)
      return file + " holds big-endian data ('" + typeString +
             "'); save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))";
    if (type && order == '|' && type->itemSize > 1)
      type = nullptr;
  }
  if (!type)
    return file + " has unsupported element type '" + typeString +
           "' (supported: float16, float32, float64, int8, int16, int32, int64, uint8, "
           "uint16, uint32, bool)";

  size_t count = 1;
  for (int64_t dim : shape->ints)
    if (__builtin_mul_overflow(count, static_cast<size_t>(dim), &count))
      return file + " has an impossibly large shape " + pythonShape(shape->ints);
  size_t expected;
  if (__builtin_mul_overflow(count, type->itemSize, &expected))
    return file + " has an impossibly large shape " + pythonShape(shape->ints);
  size_t dataSize = contents.size() - headerStart - headerLen;
  if (dataSize != expected)
    return file + ": data is " + std::to_string(dataSize) + " bytes, expected " +
           std::to_string(expected) + " for shape " + pythonShape(shape->ints) + " " +
           type->numpyName;

  HostTensor tensor(type->dtype, shape->ints);
  loadData(*type, contents.data() + headerStart + headerLen, tensor);
  out = std::move(tensor);
  return "";
}

std::string tmix::rt::readNpy(const std::string &path, HostTensor &out) {
  std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "rb"),
                                              &std::fclose);
  if (!file)
    return "cannot open " + quoted(path) + ": " + std::strerror(errno);
  std::string contents;
  constexpr size_t kChunkSize = 1 << 20;
  std::vector<char> buffer(kChunkSize);
  while (true) {
    size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get());
    contents.append(buffer.data(), got);
    if (got < buffer.size())
      break;
  }
  if (std::ferror(file.get()))
    return "cannot read " + quoted(path) + ": " + std::strerror(errno);
  return parseNpy(path, contents, out);
}

std::string tmix::rt::serializeNpy(const HostTensor &t) {
  std::string dict = std::string("{'descr': '") + descrFor(t.dtype()) +
                     "', 'fortran_order': False, 'shape': " + pythonShape(t.shape()) +
                     ", }";
  // Pad with spaces and end with a newline so that the data starts aligned, as NumPy
  // does; fall back to version 2.0 when the header does not fit 16 bits.
  size_t lenSize = kHeaderLenSizeV1;
  size_t preamble = kMagicSize + kVersionSize + lenSize;
  size_t total = (preamble + dict.size() + 1 + kHeaderAlignment - 1) / kHeaderAlignment *
                 kHeaderAlignment;
  if (total - preamble > kMaxHeaderLenV1) {
    lenSize = kHeaderLenSizeV2;
    preamble = kMagicSize + kVersionSize + lenSize;
    total = (preamble + dict.size() + 1 + kHeaderAlignment - 1) / kHeaderAlignment *
            kHeaderAlignment;
  }
  size_t headerLen = total - preamble;
  dict.append(headerLen - dict.size() - 1, ' ');
  dict += '\n';

  std::string image(kMagic, kMagicSize);
  image += static_cast<char>(lenSize == kHeaderLenSizeV1 ? 1 : 2);
  image += '\0';
  for (size_t i = 0; i < lenSize; ++i)
    image += static_cast<char>((headerLen >> (kBitsPerByte * i)) & 0xff);
  image += dict;

  switch (t.dtype()) {
  case DType::F32:
  case DType::I32:
  case DType::I64:
  case DType::Bool:
    image.append(static_cast<const char *>(t.data()), t.numBytes());
    break;
  case DType::F16:
  case DType::BF16:
  case DType::F64: {
    // Every f16 and bf16 value is exact in float32; f64 rounds to nearest.
    int64_t count = t.numElements();
    size_t offset = image.size();
    image.resize(offset + count * sizeof(float));
    for (int64_t i = 0; i < count; ++i) {
      float value = static_cast<float>(t.get(i));
      std::memcpy(&image[offset + i * sizeof(float)], &value, sizeof(float));
    }
    break;
  }
  }
  return image;
}

std::string tmix::rt::writeNpy(const std::string &path, const HostTensor &t) {
  if (!hostIsLittleEndian())
    return "cannot write " + quoted(path) +
           ": .npy files are only supported on little-endian hosts";
  std::string image = serializeNpy(t);
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    return "cannot write " + quoted(path) + ": " + std::strerror(errno);
  bool ok = std::fwrite(image.data(), 1, image.size(), file) == image.size();
  int writeErrno = errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    writeErrno = errno;
  }
  if (!ok)
    return "cannot write " + quoted(path) + ": " + std::strerror(writeErrno);
  return "";
}
