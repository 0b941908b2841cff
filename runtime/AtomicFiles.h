//===- AtomicFiles.h - All-or-nothing sets of files -------------*- C++ -*-===//
//
// The outputs of `tmixc run --outputs`, `tmixc build -o` and writeNpy go through an
// AtomicFileSet, so that a failure half-way leaves no partial set of files behind and
// a symbolic link planted at an output path is replaced, never followed. Plain POSIX:
// the runtime builds without LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_ATOMICFILES_H
#define TMIX_RUNTIME_ATOMICFILES_H

#include <string>
#include <string_view>
#include <vector>

namespace tmix::rt {

/// Files that appear together or not at all. Each file is first written to a new
/// temporary file beside its final path, created exclusively (O_EXCL | O_NOFOLLOW),
/// so that nothing already there is opened or followed; commit() then renames every
/// temporary into place. rename() replaces whatever is at the final path, a symbolic
/// link included, without following it. Until commit() succeeds, destroying the set
/// (or discard()) removes every temporary, and the directories it created if they are
/// still empty, so that the file system is left as it was.
class AtomicFileSet {
public:
  AtomicFileSet() = default;
  AtomicFileSet(const AtomicFileSet &) = delete;
  AtomicFileSet &operator=(const AtomicFileSet &) = delete;
  ~AtomicFileSet() { discard(); }

  /// Creates `dir` and its missing parents (like `mkdir -p`); those it created are
  /// removed again if the set is discarded. Returns an error message, or empty.
  std::string createDirectories(const std::string &dir);

  /// Stages `contents` as the new contents of `path`; `tempPath`, if given, receives
  /// the temporary file that holds them until commit(). Returns an error or empty.
  std::string write(const std::string &path, std::string_view contents,
                    std::string *tempPath = nullptr);

  /// Stages a file that another program writes (ptxas -o): creates an empty
  /// temporary beside `path` and sets `tempPath` to it. Returns an error or empty.
  std::string reserve(const std::string &path, std::string &tempPath);

  /// Renames every staged file into place. A final path that is a directory is an
  /// error found before anything is renamed. Returns an error message, or empty; on
  /// an error the set is discarded.
  std::string commit();

  /// Removes every staged temporary and the directories this set created (if empty).
  void discard();

private:
  struct Staged {
    std::string path;
    std::string tempPath;
  };
  std::vector<Staged> staged_;
  /// Directories createDirectories made, parents first.
  std::vector<std::string> createdDirs_;
};

} // namespace tmix::rt

#endif // TMIX_RUNTIME_ATOMICFILES_H
