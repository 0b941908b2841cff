//===- AtomicFiles.cpp - All-or-nothing sets of files ---------------------===//
//
// Temporaries live in the final file's own directory, so that rename() moves them
// into place within one file system, atomically for each file. The set as a whole is
// made all-or-nothing by checking, before the first rename, the one thing that makes
// a rename in a writable directory fail: a directory at the final path.
//
//===----------------------------------------------------------------------===//

#include "runtime/AtomicFiles.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::rt;

namespace {

/// Names tried for a temporary before giving up: a clash needs another file of the
/// same process id, counter and clock reading, so more than one retry is already rare.
constexpr int kMaxNameAttempts = 100;
/// Permissions of a new file or directory before the umask, as fopen and mkdir -p use.
constexpr mode_t kFileMode = 0666;
constexpr mode_t kDirMode = 0777;

std::string quoted(const std::string &path) { return "'" + path + "'"; }

std::string errnoMessage(const std::string &what, const std::string &path, int error) {
  return what + " " + quoted(path) + ": " + std::strerror(error);
}

/// A fresh name beside `path` that keeps its extension, so that tools which read the
/// temporary (ptxas reads the PTX) see the type they expect:
/// "dir/o.npy" -> "dir/.o.tmp-1f2e-3-9a8b7c.npy". The leading dot hides it from ls.
std::string temporaryName(const std::string &path) {
  static std::atomic<unsigned> counter{0};
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  bool hasExtension = dot != std::string::npos && dot != 0;
  std::string stem = hasExtension ? base.substr(0, dot) : base;
  std::string extension = hasExtension ? base.substr(dot) : "";
  auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  char unique[64];
  std::snprintf(unique, sizeof(unique), "%lx-%x-%llx", static_cast<long>(getpid()),
                counter.fetch_add(1), static_cast<unsigned long long>(ticks));
  return dir + "." + stem + ".tmp-" + unique + extension;
}

/// Creates a new temporary beside `path` and opens it for writing. O_EXCL with
/// O_NOFOLLOW: an existing file or link of that name is never opened. Returns the
/// descriptor, or -1 with errno set.
int createTemporary(const std::string &path, std::string &tempPath) {
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    tempPath = temporaryName(path);
    int fd = ::open(tempPath.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  errno = EEXIST;
  return -1;
}

/// Writes all of `bytes`, resuming after short writes and signals.
bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

} // namespace

std::string AtomicFileSet::createDirectories(const std::string &dir) {
  if (dir.empty())
    return "cannot create '': an empty directory name";
  // Each prefix ending before a '/', then the whole path: "a/b/c" makes a, a/b, a/b/c.
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    std::string prefix = dir.substr(0, end);
    if (::mkdir(prefix.c_str(), kDirMode) == 0) {
      createdDirs_.push_back(prefix);
    } else if (errno != EEXIST) {
      return errnoMessage("cannot create", dir, errno);
    } else {
      // Something is there already: it must be a directory (a link to one is the
      // user's choice and fine).
      struct stat info;
      if (::stat(prefix.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
        return "cannot create " + quoted(dir) + ": " + quoted(prefix) +
               " exists and is not a directory";
    }
    if (end == std::string::npos)
      break;
  }
  return "";
}

std::string AtomicFileSet::write(const std::string &path, std::string_view contents,
                                 std::string *tempPath) {
  std::string temp;
  int fd = createTemporary(path, temp);
  if (fd < 0)
    return errnoMessage("cannot write", path, errno);
  staged_.push_back({path, temp});
  bool ok = writeAll(fd, contents);
  int error = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok)
    return errnoMessage("cannot write", path, error);
  if (tempPath)
    *tempPath = temp;
  return "";
}

std::string AtomicFileSet::reserve(const std::string &path, std::string &tempPath) {
  return write(path, "", &tempPath);
}

std::string AtomicFileSet::commit() {
  // rename() over a directory fails, and would do so half-way through the set: find
  // that first. (A link to a directory is fine: rename replaces the link itself.)
  for (const Staged &file : staged_) {
    struct stat info;
    if (::lstat(file.path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      std::string error = "cannot write " + quoted(file.path) + ": it is a directory";
      discard();
      return error;
    }
  }
  for (size_t index = 0; index < staged_.size(); ++index) {
    if (::rename(staged_[index].tempPath.c_str(), staged_[index].path.c_str()) == 0)
      continue;
    // Rare after the check above (the directory changed under us, a sticky directory
    // holding another user's file): take back the files already renamed, so that no
    // part of the set stays.
    std::string error = errnoMessage("cannot write", staged_[index].path, errno);
    for (size_t done = 0; done < index; ++done)
      ::unlink(staged_[done].path.c_str());
    staged_.erase(staged_.begin(), staged_.begin() + index);
    discard();
    return error;
  }
  // Visibility, not durability, is the point: no fsync, as a crash of the machine
  // is not an input error.
  staged_.clear();
  createdDirs_.clear();
  return "";
}

void AtomicFileSet::discard() {
  for (const Staged &file : staged_)
    ::unlink(file.tempPath.c_str());
  staged_.clear();
  // Innermost first; rmdir leaves a directory that something else has filled.
  for (auto dir = createdDirs_.rbegin(); dir != createdDirs_.rend(); ++dir)
    ::rmdir(dir->c_str());
  createdDirs_.clear();
}
