//===- DiskCache.cpp - Compiled CPU kernels kept between processes --------===//

#include "codegen/cpu/DiskCache.h"

#include "runtime/AtomicFiles.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SHA256.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::cpu;

namespace {

constexpr char kMagic[] = "tmix-cpu-kernel 1";
/// Far above any kernel's object (tens of KiB): a larger file is not ours.
constexpr uint64_t kMaxEntryBytes = uint64_t(256) << 20;

llvm::Error cacheError(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "kernel cache: " + message);
}

std::string sha256Hex(llvm::StringRef bytes) {
  return llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(bytes)),
                     /*LowerCase=*/true);
}

/// Creates `path` and its missing parents with mode 0700, like `mkdir -p -m 0700`.
std::string makeDirectories(const std::string &path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = slash == std::string::npos ? path : path.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create '" + prefix + "': " + std::strerror(errno);
    if (slash == std::string::npos)
      return {};
  }
}

bool isKey(const std::string &key) {
  return key.size() == 64 &&
         key.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

llvm::Expected<std::string> DiskCache::defaultDirectory() {
  if (const char *dir = std::getenv("TMIX_CACHE_DIR"); dir && *dir)
    return std::string(dir);
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return std::string(xdg) + "/tmix";
  if (const char *home = std::getenv("HOME"); home && *home == '/')
    return std::string(home) + "/.cache/tmix";
  return cacheError("no cache folder: set TMIX_CACHE_DIR (or HOME)");
}

llvm::Expected<DiskCache> DiskCache::open(const std::string &directory) {
  if (directory.empty() || directory[0] != '/')
    return cacheError("the cache folder '" + directory + "' is not an absolute path");
  if (std::string error = makeDirectories(directory); !error.empty())
    return cacheError(error);
  struct stat status;
  if (lstat(directory.c_str(), &status) != 0)
    return cacheError("cannot read '" + directory + "': " + std::strerror(errno));
  if (!S_ISDIR(status.st_mode))
    return cacheError("'" + directory + "' is not a directory (a link or a file); " +
                      "set TMIX_CACHE_DIR to a folder of your own");
  if (status.st_uid != geteuid())
    return cacheError("the cache folder '" + directory + "' belongs to user " +
                      std::to_string(status.st_uid) + ", not to you (" +
                      std::to_string(geteuid()) + "): its entries are code this process "
                      "would run; set TMIX_CACHE_DIR to a folder of your own");
  if (status.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(status.st_mode & 07777));
    return cacheError("the cache folder '" + directory + "' is writable by others (mode " +
                      mode + "): its entries are code this process would run; "
                      "`chmod 700` it or set TMIX_CACHE_DIR to a folder of your own");
  }
  return DiskCache(directory);
}

std::string DiskCache::entryPath(const std::string &key) const {
  return directory_ + "/" + key + ".tmixk";
}

std::optional<std::string> DiskCache::load(const std::string &key) {
  if (!isKey(key))
    return std::nullopt;
  std::string path = entryPath(key);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ++misses_;
    return std::nullopt;
  }
  // The header: magic, key, hash and size, one per line, then the object.
  llvm::StringRef rest = (*buffer)->getBuffer();
  auto line = [&](llvm::StringRef prefix, llvm::StringRef &value) {
    auto [first, tail] = rest.split('\n');
    rest = tail;
    if (!first.consume_front(prefix))
      return false;
    value = first;
    return true;
  };
  llvm::StringRef magic, storedKey, hash, size;
  uint64_t bytes = 0;
  bool intact = (*buffer)->getBufferSize() <= kMaxEntryBytes && line("", magic) &&
                magic == kMagic && line("key ", storedKey) && storedKey == key &&
                line("sha256 ", hash) && line("bytes ", size) &&
                !size.getAsInteger(10, bytes) && bytes == rest.size() &&
                sha256Hex(rest) == hash;
  if (!intact) {
    ++damaged_;
    ::unlink(path.c_str()); // rebuilt by this process, stored again
    return std::nullopt;
  }
  ++hits_;
  return rest.str();
}

void DiskCache::store(const std::string &key, const std::string &object) {
  if (!isKey(key))
    return;
  std::string entry = std::string(kMagic) + "\nkey " + key + "\nsha256 " +
                      sha256Hex(object) + "\nbytes " + std::to_string(object.size()) +
                      "\n" + object;
  rt::AtomicFileSet files;
  if (!files.write(entryPath(key), entry).empty() || !files.commit().empty()) {
    ++failedStores_;
    return;
  }
  ++stores_;
}
