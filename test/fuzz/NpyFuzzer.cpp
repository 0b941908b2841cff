//===- NpyFuzzer.cpp - libFuzzer entry point for the .npy reader ----------===//
//
// Feeds arbitrary bytes to the .npy reader twice: from memory (parseNpy) and from a
// file (readNpy, through a memfd). Bad input must give an error message, never a crash,
// an overflow or an allocation the bytes do not back (ASan, UBSan and libFuzzer's
// memory limit catch those). Beyond that, the two readers must agree exactly, and a
// tensor that loads must survive a write and a second read.
//
//===----------------------------------------------------------------------===//

#include "runtime/HostTensor.h"
#include "runtime/Npy.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

using tmix::rt::DType;
using tmix::rt::HostTensor;

namespace {

[[noreturn]] void finding(const char *what, const std::string &detail) {
  std::fprintf(stderr, "npy fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

/// One in-memory file for the whole run, rewritten for each input, named by its
/// /proc path: readNpy sees a regular file without a disk in the loop.
const std::string &memoryFile(int &fd) {
  static int descriptor = memfd_create("tmix-npy-fuzz", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(descriptor);
  if (descriptor < 0)
    finding("setup", "memfd_create failed");
  fd = descriptor;
  return path;
}

bool sameTensor(const HostTensor &a, const HostTensor &b) {
  // An empty tensor has no storage (a null data pointer): nothing to compare.
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.numBytes() == b.numBytes() &&
         (a.numBytes() == 0 || std::memcmp(a.data(), b.data(), a.numBytes()) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd;
  const std::string &path = memoryFile(fd);
  std::string bytes(reinterpret_cast<const char *>(data), size);

  HostTensor fromMemory;
  std::string memoryError = tmix::rt::parseNpy(path, bytes, fromMemory);

  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    finding("setup", "cannot write the memfd");
  HostTensor fromFile;
  std::string fileError = tmix::rt::readNpy(path, fromFile);
  if (fileError != memoryError)
    finding("the readers disagree",
            "memory: '" + memoryError + "', file: '" + fileError + "'");
  if (!memoryError.empty())
    return 0;
  if (!sameTensor(fromMemory, fromFile))
    finding("the readers disagree", "different tensors");

  // Written and read back: float types come back as float32 (exact for f16), the
  // others unchanged.
  HostTensor back;
  if (std::string error =
          tmix::rt::parseNpy("written", tmix::rt::serializeNpy(fromMemory), back);
      !error.empty())
    finding("own output rejected", error);
  HostTensor expected =
      fromMemory.dtype() == DType::F16 || fromMemory.dtype() == DType::F64
          ? fromMemory.convertedTo(DType::F32)
          : fromMemory;
  if (!sameTensor(back, expected))
    finding("round trip", "the tensor changed");
  return 0;
}
