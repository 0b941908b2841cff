//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// The .npy reader parses the header as the Python dict literal it is (not by
// searching for substrings), so that every malformed, truncated or unsupported file
// gets one clear message naming it instead of a crash or silently wrong data. From a
// file it reads only what the header declares, and only from a regular file whose size
// matches the declaration exactly: a FIFO, a device or a header that lies never makes
// it block or read without end.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"

#include "runtime/AtomicFiles.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::rt;

namespace {

// The fixed preamble: magic, major and minor version, then the header length (2 bytes
// little-endian in version 1.0, 4 bytes in 2.0 and 3.0).
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kVersionSize = 2;
constexpr size_t kHeaderLenSizeV1 = 2;
constexpr size_t kHeaderLenSizeV2 = 4;
/// Enough of a file's start for any preamble.
constexpr size_t kMaxPreambleSize = kMagicSize + kVersionSize + kHeaderLenSizeV2;
/// The longest header read. NumPy writes about a hundred bytes (and its own reader
/// refuses more than 10000 unless told otherwise); a version 2.0 length field could
/// claim 4 GiB.
constexpr size_t kMaxHeaderBytes = 1 << 20;
/// pread() moves at most about 2 GiB at a time on Linux; read in pieces of 1 GiB.
constexpr size_t kMaxReadChunk = size_t(1) << 30;
constexpr double kBytesPerGiB = double(1 << 30);
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

uint64_t readLittleEndian(std::string_view bytes, size_t offset, size_t size) {
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

/// Whether the file's bytes are the tensor's bytes (no widening).
bool loadsVerbatim(const NpyType &type) { return dtypeSize(type.dtype) == type.itemSize; }

/// NumPy's bool is 0 or 1, but a hand-made file may hold any byte: normalise.
void normaliseBools(HostTensor &out) {
  if (out.dtype() != DType::Bool)
    return;
  auto *bytes = static_cast<unsigned char *>(out.data());
  for (size_t i = 0; i < out.numBytes(); ++i)
    bytes[i] = bytes[i] ? 1 : 0;
}

/// Copies or widens the data of `type` into `out` (already shaped).
void loadData(const NpyType &type, const char *data, HostTensor &out) {
  int64_t count = out.numElements();
  if (count == 0)
    return; // an empty tensor has no storage to copy into
  if (loadsVerbatim(type)) {
    std::memcpy(out.data(), data, out.numBytes());
    normaliseBools(out);
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

/// Where the header of a file lies, as its preamble says.
struct Preamble {
  size_t headerStart = 0;
  size_t headerLength = 0;
  size_t dataOffset() const { return headerStart + headerLength; }
};

/// Parses the preamble from `prefix`, the first min(fileSize, kMaxPreambleSize) bytes
/// of a file of `fileSize` bytes, and checks that the header it announces fits.
std::string parsePreamble(const std::string &file, std::string_view prefix,
                          uint64_t fileSize, Preamble &out) {
  if (prefix.size() < kMagicSize || prefix.compare(0, kMagicSize, kMagic) != 0)
    return file + " is not a .npy file (bad magic)";
  if (!hostIsLittleEndian())
    return "cannot read " + file +
           ": .npy files are only supported on little-endian hosts";
  if (prefix.size() < kMagicSize + kVersionSize)
    return file + " is truncated (no version)";
  int major = static_cast<unsigned char>(prefix[kMagicSize]);
  int minor = static_cast<unsigned char>(prefix[kMagicSize + 1]);
  if (major < 1 || major > kMaxMajorVersion || minor != 0)
    return file + " has unsupported .npy version " + std::to_string(major) + "." +
           std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)";

  size_t lenSize = major == 1 ? kHeaderLenSizeV1 : kHeaderLenSizeV2;
  size_t headerStart = kMagicSize + kVersionSize + lenSize;
  if (prefix.size() < headerStart)
    return file + " is truncated (no header length)";
  uint64_t headerLen = readLittleEndian(prefix, kMagicSize + kVersionSize, lenSize);
  if (headerLen > fileSize - headerStart)
    return file + " is truncated (the header is " + std::to_string(headerLen) +
           " bytes, the file has " + std::to_string(fileSize - headerStart) +
           " after the preamble)";
  if (headerLen > kMaxHeaderBytes)
    return file + " has a header of " + std::to_string(headerLen) +
           " bytes, more than the " + std::to_string(kMaxHeaderBytes) + " allowed";
  out.headerStart = headerStart;
  out.headerLength = static_cast<size_t>(headerLen);
  return "";
}

/// What a header declares: the element type, the shape and the size of the data.
struct Layout {
  const NpyType *type = nullptr;
  std::vector<int64_t> shape;
  size_t count = 0; // elements
  size_t dataBytes = 0;
};

/// Parses the header dict and works out the data's layout.
std::string parseHeader(const std::string &file, const std::string &header, Layout &out) {
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

  // Every partial product must stay within int64, which HostTensor counts in: a zero
  // after two huge dimensions makes an empty tensor, but only after an overflow.
  size_t count = 1;
  for (int64_t dim : shape->ints)
    if (__builtin_mul_overflow(count, static_cast<size_t>(dim), &count) ||
        count > static_cast<size_t>(std::numeric_limits<int64_t>::max()))
      return file + " has an impossibly large shape " + pythonShape(shape->ints);
  size_t dataBytes;
  if (__builtin_mul_overflow(count, type->itemSize, &dataBytes))
    return file + " has an impossibly large shape " + pythonShape(shape->ints);
  out.type = type;
  out.shape = shape->ints;
  out.count = count;
  out.dataBytes = dataBytes;
  return "";
}

/// The data must be exactly what the header declares: no less (truncated) and no more
/// (a wrong header, or two arrays in one file).
std::string checkDataSize(const std::string &file, const Layout &layout,
                          uint64_t available) {
  if (available == layout.dataBytes)
    return "";
  return file + ": data is " + std::to_string(available) + " bytes, expected " +
         std::to_string(layout.dataBytes) + " for shape " + pythonShape(layout.shape) +
         " " + layout.type->numpyName;
}

/// "a directory", "a FIFO", ...: what a path is when it is not a regular file.
const char *fileKind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

/// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Reads exactly `size` bytes at `offset`; a file that ends early has shrunk since it
/// was measured.
std::string readAt(int fd, const std::string &file, uint64_t offset, void *buffer,
                   size_t size) {
  auto *bytes = static_cast<char *>(buffer);
  while (size > 0) {
    ssize_t got =
        ::pread(fd, bytes, std::min(size, kMaxReadChunk), static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return "cannot read " + file + ": " + std::strerror(errno);
    }
    if (got == 0)
      return file + " became shorter while it was read";
    bytes += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<size_t>(got);
  }
  return "";
}

double physicalMemoryBytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

std::string gibibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f GiB", bytes / kBytesPerGiB);
  return text;
}

} // namespace

std::string tmix::rt::parseNpy(const std::string &name, const std::string &contents,
                               HostTensor &out) {
  const std::string file = quoted(name);
  Preamble preamble;
  std::string_view prefix(contents.data(), std::min(contents.size(), kMaxPreambleSize));
  if (std::string error = parsePreamble(file, prefix, contents.size(), preamble);
      !error.empty())
    return error;
  Layout layout;
  if (std::string error = parseHeader(
          file, contents.substr(preamble.headerStart, preamble.headerLength), layout);
      !error.empty())
    return error;
  if (std::string error =
          checkDataSize(file, layout, contents.size() - preamble.dataOffset());
      !error.empty())
    return error;
  HostTensor tensor(layout.type->dtype, layout.shape);
  loadData(*layout.type, contents.data() + preamble.dataOffset(), tensor);
  out = std::move(tensor);
  return "";
}

std::string tmix::rt::readNpy(const std::string &path, HostTensor &out) {
  const std::string file = quoted(path);
  // Only a regular file has a size to hold the header to: a FIFO would block and a
  // device (/dev/zero) never end. stat() follows links (a link to a .npy is fine) and,
  // unlike open(), has no effect on a device.
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    int error = errno;
    struct stat link;
    if (error == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      char target[PATH_MAX];
      ssize_t length = ::readlink(path.c_str(), target, sizeof(target));
      return file + " is a dangling symbolic link" +
             (length > 0 ? " (to " + quoted(std::string(target, length)) + ")" : "");
    }
    return "cannot open " + file + ": " + std::strerror(error);
  }
  if (!S_ISREG(info.st_mode))
    return file + " is not a regular file (it is " + fileKind(info.st_mode) + ")";
  // The path may have changed since stat(): O_NONBLOCK keeps open() of a FIFO from
  // waiting for a writer, and fstat() checks what was opened.
  FileDescriptor fd{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (fd.fd < 0)
    return "cannot open " + file + ": " + std::strerror(errno);
  if (::fstat(fd.fd, &info) != 0)
    return "cannot read " + file + ": " + std::strerror(errno);
  if (!S_ISREG(info.st_mode))
    return file + " is not a regular file (it is " + fileKind(info.st_mode) + ")";
  const uint64_t fileSize = static_cast<uint64_t>(info.st_size);

  // Preamble, header, then exactly the data they declare: nothing unbounded is read.
  std::string prefix(std::min<uint64_t>(fileSize, kMaxPreambleSize), '\0');
  if (std::string error = readAt(fd.fd, file, 0, prefix.data(), prefix.size());
      !error.empty())
    return error;
  Preamble preamble;
  if (std::string error = parsePreamble(file, prefix, fileSize, preamble); !error.empty())
    return error;
  std::string header(preamble.headerLength, '\0');
  if (std::string error =
          readAt(fd.fd, file, preamble.headerStart, header.data(), header.size());
      !error.empty())
    return error;
  Layout layout;
  if (std::string error = parseHeader(file, header, layout); !error.empty())
    return error;
  if (std::string error = checkDataSize(file, layout, fileSize - preamble.dataOffset());
      !error.empty())
    return error;
  // The size matches the file, but a sparse file can be larger than memory.
  double tensorBytes = static_cast<double>(layout.count) *
                       static_cast<double>(dtypeSize(layout.type->dtype));
  double memory = physicalMemoryBytes();
  if (tensorBytes > memory)
    return file + " holds " + gibibytes(tensorBytes) + " (shape " +
           pythonShape(layout.shape) + " " + layout.type->numpyName +
           "), more than this machine's " + gibibytes(memory) + " of memory";

  HostTensor tensor(layout.type->dtype, layout.shape);
  if (loadsVerbatim(*layout.type)) {
    // Straight into the tensor: no second copy of a large file.
    if (std::string error =
            readAt(fd.fd, file, preamble.dataOffset(), tensor.data(), layout.dataBytes);
        !error.empty())
      return error;
    normaliseBools(tensor);
  } else {
    std::string data(layout.dataBytes, '\0');
    if (std::string error =
            readAt(fd.fd, file, preamble.dataOffset(), data.data(), data.size());
        !error.empty())
      return error;
    loadData(*layout.type, data.data(), tensor);
  }
  out = std::move(tensor);
  return "";
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
  // A temporary renamed into place: a reader never sees half a file, and a link at
  // `path` is replaced rather than followed.
  AtomicFileSet file;
  if (std::string error = file.write(path, serializeNpy(t)); !error.empty())
    return error;
  return file.commit();
}
