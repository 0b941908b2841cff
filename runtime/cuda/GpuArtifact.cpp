//===- GpuArtifact.cpp - A GPU kernel's files, read without trusting them -===//
//
// Bounded reads of regular files, the containment of kernel images in the manifest's
// directory, and the structural checks of a cubin (ELF) and a PTX file.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/GpuArtifact.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::rt;

namespace {

/// Bytes read per read(2) call.
constexpr size_t kReadChunk = size_t(1) << 16;

// ---- ELF64 layout (the System V gABI; no <elf.h>, so that the offsets are explicit) ----
constexpr size_t kElfHeaderBytes = 64;
constexpr size_t kElfProgramHeaderBytes = 56;
constexpr size_t kElfSectionHeaderBytes = 64;
constexpr unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr size_t kElfClassAt = 4, kElfDataAt = 5;
constexpr unsigned kElfClass64 = 2, kElfLittleEndian = 1;
constexpr size_t kElfMachineAt = 18;
constexpr unsigned kElfMachineCuda = 190; // EM_CUDA
constexpr size_t kElfProgramTableAt = 32, kElfSectionTableAt = 40;
constexpr size_t kElfProgramEntryBytesAt = 54, kElfProgramCountAt = 56;
constexpr size_t kElfSectionEntryBytesAt = 58, kElfSectionCountAt = 60;
constexpr size_t kElfSectionNamesAt = 62;
constexpr size_t kSectionTypeAt = 4, kSectionOffsetAt = 24, kSectionSizeAt = 32;
constexpr uint64_t kSectionTypeNull = 0, kSectionTypeNoBits = 8; // SHT_NULL, SHT_NOBITS
constexpr size_t kProgramOffsetAt = 8, kProgramFileSizeAt = 32;

/// The little-endian unsigned integer of `bytes` bytes at `at` (inside `image`).
uint64_t readLittle(std::string_view image, size_t at, size_t bytes) {
  uint64_t value = 0;
  for (size_t index = bytes; index-- > 0;)
    value = (value << 8) | static_cast<unsigned char>(image[at + index]);
  return value;
}

/// Whether [offset, offset + count * entry) lies inside a file of `size` bytes.
bool inside(uint64_t offset, uint64_t count, uint64_t entry, uint64_t size) {
  uint64_t bytes = 0;
  return !__builtin_mul_overflow(count, entry, &bytes) && offset <= size &&
         bytes <= size - offset;
}

bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

/// realpath(3) of `path`, or empty with `error` set.
std::string resolved(const std::string &path, std::string &error) {
  char buffer[PATH_MAX];
  if (!realpath(path.c_str(), buffer)) {
    error = std::strerror(errno);
    return {};
  }
  return buffer;
}

/// Reads the kernel image `name` (a file name the manifest checked) of the manifest's
/// directory `dir`, and refuses it if its real path (symlinks followed) leaves `dir`.
std::string readImage(const std::string &dir, const std::string &realDir,
                      const std::string &name, const std::string &what,
                      std::string &contents) {
  std::string path = dir + "/" + name;
  std::string why;
  std::string real = resolved(path, why);
  if (real.empty())
    return "cannot read " + what + " '" + path + "' (" + why + ")";
  std::string prefix = realDir == "/" ? realDir : realDir + "/";
  if (real.compare(0, prefix.size(), prefix) != 0)
    return what + " '" + path + "' resolves to '" + real +
           "', outside the manifest's directory";
  return readRegularFile(real, kMaxKernelImageBytes, what + " '" + path + "'", contents);
}

} // namespace

std::string tmix::rt::readRegularFile(const std::string &path, size_t limit,
                                      const std::string &what, std::string &contents) {
  contents.clear();
  // stat first, so that a FIFO or a device is never opened; O_NONBLOCK and fstat
  // after the open, in case one replaced the file in between.
  struct stat before;
  if (stat(path.c_str(), &before) != 0)
    return "cannot read " + what + " '" + path + "' (" + std::strerror(errno) + ")";
  auto notRegular = [&] { return what + " '" + path + "' is not a regular file"; };
  auto tooLarge = [&] {
    return what + " '" + path + "' is larger than " + std::to_string(limit) + " bytes";
  };
  if (!S_ISREG(before.st_mode))
    return notRegular();
  if (static_cast<uint64_t>(before.st_size) > limit)
    return tooLarge();
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return "cannot read " + what + " '" + path + "' (" + std::strerror(errno) + ")";
  struct stat after;
  if (fstat(fd, &after) != 0 || !S_ISREG(after.st_mode)) {
    close(fd);
    return notRegular();
  }
  // At most limit + 1 bytes: a file that grew since stat is caught, never read whole.
  contents.reserve(static_cast<size_t>(after.st_size));
  char chunk[kReadChunk];
  while (contents.size() <= limit) {
    size_t want = std::min(kReadChunk, limit + 1 - contents.size());
    ssize_t got = read(fd, chunk, want);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      std::string error =
          "cannot read " + what + " '" + path + "' (" + std::strerror(errno) + ")";
      close(fd);
      contents.clear();
      return error;
    }
    if (got == 0)
      break;
    contents.append(chunk, static_cast<size_t>(got));
  }
  close(fd);
  if (contents.size() > limit) {
    contents.clear();
    return tooLarge();
  }
  return {};
}

std::string tmix::rt::checkCubinImage(std::string_view image) {
  uint64_t size = image.size();
  if (size < kElfHeaderBytes)
    return "shorter than an ELF header";
  if (std::memcmp(image.data(), kElfMagic, sizeof(kElfMagic)) != 0)
    return "no ELF magic";
  if (static_cast<unsigned char>(image[kElfClassAt]) != kElfClass64 ||
      static_cast<unsigned char>(image[kElfDataAt]) != kElfLittleEndian)
    return "not a 64-bit little-endian ELF";
  if (uint64_t machine = readLittle(image, kElfMachineAt, 2); machine != kElfMachineCuda)
    return "machine " + std::to_string(machine) + ", not CUDA (" +
           std::to_string(kElfMachineCuda) + ")";
  uint64_t sectionTable = readLittle(image, kElfSectionTableAt, 8);
  uint64_t sectionCount = readLittle(image, kElfSectionCountAt, 2);
  uint64_t sectionEntry = readLittle(image, kElfSectionEntryBytesAt, 2);
  if (sectionCount == 0)
    return "no sections";
  if (sectionEntry != kElfSectionHeaderBytes)
    return "section headers of " + std::to_string(sectionEntry) + " bytes";
  if (!inside(sectionTable, sectionCount, sectionEntry, size))
    return "the section table ends past the end of the file";
  if (readLittle(image, kElfSectionNamesAt, 2) >= sectionCount)
    return "the section-name index is out of range";
  for (uint64_t index = 0; index < sectionCount; ++index) {
    size_t header = static_cast<size_t>(sectionTable + index * sectionEntry);
    uint64_t type = readLittle(image, header + kSectionTypeAt, 4);
    if (type == kSectionTypeNull || type == kSectionTypeNoBits)
      continue;
    if (!inside(readLittle(image, header + kSectionOffsetAt, 8),
                readLittle(image, header + kSectionSizeAt, 8), 1, size))
      return "section " + std::to_string(index) + " ends past the end of the file";
  }
  uint64_t programTable = readLittle(image, kElfProgramTableAt, 8);
  uint64_t programCount = readLittle(image, kElfProgramCountAt, 2);
  if (programCount == 0)
    return {};
  uint64_t programEntry = readLittle(image, kElfProgramEntryBytesAt, 2);
  if (programEntry != kElfProgramHeaderBytes)
    return "program headers of " + std::to_string(programEntry) + " bytes";
  if (!inside(programTable, programCount, programEntry, size))
    return "the program header table ends past the end of the file";
  for (uint64_t index = 0; index < programCount; ++index) {
    size_t header = static_cast<size_t>(programTable + index * programEntry);
    if (!inside(readLittle(image, header + kProgramOffsetAt, 8),
                readLittle(image, header + kProgramFileSizeAt, 8), 1, size))
      return "segment " + std::to_string(index) + " ends past the end of the file";
  }
  return {};
}

/// Why the parameter list that opens at `text[open]` ('(') does not declare `paramWords`
/// 8-byte parameters (`.param .u64 ...`, `.param .f64 ...`), or empty.
static std::string checkPtxParams(std::string_view text, size_t open, size_t paramWords) {
  size_t close = text.find(')', open);
  if (close == std::string_view::npos)
    return "has an unterminated parameter list";
  std::string_view list = text.substr(open + 1, close - open - 1);
  constexpr std::string_view kParam = ".param";
  size_t declared = 0;
  for (size_t at = list.find(kParam); at != std::string_view::npos;
       at = list.find(kParam, at + kParam.size())) {
    ++declared;
    std::string_view type = list.substr(at + kParam.size());
    type.remove_prefix(std::min(type.find_first_not_of(" \t\r\n"), type.size()));
    if (!(type.rfind(".u64", 0) == 0 || type.rfind(".b64", 0) == 0 ||
          type.rfind(".s64", 0) == 0 || type.rfind(".f64", 0) == 0))
      return "declares a parameter that is not 8 bytes ('" +
             std::string(type.substr(0, type.find_first_of(" ,\n"))) + "')";
  }
  if (declared != paramWords)
    return "declares " + std::to_string(declared) + " parameters, but the manifest's " +
           "arguments make " + std::to_string(paramWords);
  return {};
}

std::string tmix::rt::checkPtxEntries(std::string_view text,
                                      const GpuManifest &manifest) {
  if (std::string reason =
          checkPtxImage(text, manifest.kernel.signature.name, kernelParamWords(manifest));
      !reason.empty())
    return reason;
  if (manifest.kernel.sumsGradients)
    return checkPtxImage(text, kGradientSumKernel, kGradientSumParamWords);
  return {};
}

std::string tmix::rt::checkPtxImage(std::string_view text, std::string_view kernel,
                                    size_t paramWords) {
  // The driver takes PTX as a C string: a NUL would cut it short.
  if (text.find('\0') != std::string_view::npos)
    return "is not text (it holds a NUL byte)";
  constexpr std::string_view kEntry = ".entry";
  for (size_t at = text.find(kEntry); at != std::string_view::npos;
       at = text.find(kEntry, at + 1)) {
    size_t name = at + kEntry.size();
    if (name >= text.size() || !std::isspace(static_cast<unsigned char>(text[name])))
      continue;
    while (name < text.size() && std::isspace(static_cast<unsigned char>(text[name])))
      ++name;
    size_t end = name + kernel.size();
    if (text.compare(name, kernel.size(), kernel) != 0 ||
        (end < text.size() && isIdentifierChar(text[end])))
      continue;
    while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end])))
      ++end;
    if (end == text.size() || text[end] != '(')
      return "has no parameter list after '.entry " + std::string(kernel) + "'";
    return checkPtxParams(text, end, paramWords);
  }
  return "has no '.entry " + std::string(kernel) + "'";
}

std::string tmix::rt::readGpuManifest(const std::string &path, GpuManifest &manifest) {
  std::string text;
  if (std::string error = readRegularFile(path, manifest_limits::kMaxBytes, "the manifest", text);
      !error.empty())
    return error;
  if (std::string error = parseGpuManifest(text, manifest); !error.empty())
    return path + ": " + error;
  return {};
}

std::string tmix::rt::readGpuArtifact(const std::string &manifestPath, GpuArtifact &artifact) {
  artifact = GpuArtifact();
  artifact.manifestPath = manifestPath;
  if (std::string error = readGpuManifest(manifestPath, artifact.manifest); !error.empty())
    return error;
  const GpuManifest &manifest = artifact.manifest;
  if (manifest.target == "cpu")
    return "'" + manifestPath + "' is the manifest of a CPU kernel (its object is linked " +
           "into the shared library that `tmixc build --target=cpu` wrote beside it)";
  std::string dir = directoryOf(manifestPath);
  std::string why;
  std::string realDir = resolved(dir, why);
  if (realDir.empty())
    return "cannot resolve the manifest's directory '" + dir + "' (" + why + ")";
  if (!manifest.cubinFile.empty()) {
    std::string what = "the cubin";
    if (std::string error = readImage(dir, realDir, manifest.cubinFile, what, artifact.cubin);
        !error.empty())
      return error;
    if (std::string reason = checkCubinImage(artifact.cubin); !reason.empty())
      return what + " '" + dir + "/" + manifest.cubinFile + "' is not a complete ELF file (" +
             reason + ")";
  }
  if (!manifest.ptxFile.empty()) {
    std::string what = "the PTX";
    if (std::string error = readImage(dir, realDir, manifest.ptxFile, what, artifact.ptx);
        !error.empty())
      return error;
    if (std::string reason = checkPtxEntries(artifact.ptx, manifest); !reason.empty())
      return what + " '" + dir + "/" + manifest.ptxFile + "' " + reason;
  }
  return {};
}
