//===- DiskCache.h - Compiled CPU kernels kept between processes -*- C++ -*-===//
//
// A second process that asks for a kernel the first compiled loads its object file from
// a per-user folder instead of running LLVM again. The folder is $TMIX_CACHE_DIR, else
// $XDG_CACHE_HOME/tmix, else ~/.cache/tmix; it is created 0700, and one that is not a
// directory of the user's own, or that others may write, is refused: an entry is code
// the process will run. An entry is one file named by the kernel cache's key (a hash of
// the spec's IR, the host target, the schedule and the compiler's version), written to
// a temporary file and renamed into place, holding a header with the key and the
// SHA-256 of the object it carries; an entry whose header or hash does not match is
// removed and rebuilt.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_DISKCACHE_H
#define TMIX_CODEGEN_CPU_DISKCACHE_H

#include "llvm/Support/Error.h"

#include <atomic>
#include <optional>
#include <string>

namespace tmix::cpu {

class DiskCache {
public:
  /// The cache folder as the environment names it, created if missing and checked;
  /// an error says why it cannot be used.
  static llvm::Expected<std::string> defaultDirectory();
  /// Creates `directory` (0700, parents too) if missing, then checks that it is a
  /// directory (not a link) owned by this user and writable by nobody else.
  static llvm::Expected<DiskCache> open(const std::string &directory);

  /// The object stored under `key`, or nullopt when there is none or it is damaged
  /// (a damaged entry is removed and counted).
  std::optional<std::string> load(const std::string &key);
  /// Stores `object` under `key`, atomically; a failure (a full disk) only costs the
  /// next process a compile, and is counted, not reported.
  void store(const std::string &key, const std::string &object);

  const std::string &directory() const { return directory_; }

  struct Stats {
    unsigned hits = 0, misses = 0, stores = 0, damaged = 0, failedStores = 0;
  };
  Stats stats() const {
    return {hits_.load(), misses_.load(), stores_.load(), damaged_.load(),
            failedStores_.load()};
  }

  DiskCache(DiskCache &&other)
      : directory_(std::move(other.directory_)) {}

private:
  explicit DiskCache(std::string directory) : directory_(std::move(directory)) {}
  std::string entryPath(const std::string &key) const;

  std::string directory_;
  std::atomic<unsigned> hits_{0}, misses_{0}, stores_{0}, damaged_{0}, failedStores_{0};
};

} // namespace tmix::cpu

#endif // TMIX_CODEGEN_CPU_DISKCACHE_H
