//===- NpyTests.cpp - Unit tests of the .npy reader and writer ------------===//
//
// GoogleTest unit tests of runtime/Npy and runtime/AtomicFiles: NumPy's format in
// every dtype and layout tmix reads, malformed and hostile files (FIFOs, devices,
// sparse files, headers that lie), and all-or-nothing writes that never follow a link.
// Run by lit through runtime-tests.test.
//
//===----------------------------------------------------------------------===//

#include "runtime/AtomicFiles.h"
#include "runtime/HostTensor.h"
#include "runtime/Npy.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace tmix::rt;

namespace {

//===----------------------------------------------------------------------===//
// .npy
//===----------------------------------------------------------------------===//

/// The names in `dir`, hidden ones included (a leftover temporary would be one).
std::set<std::string> entriesOf(const std::string &dir) {
  std::set<std::string> names;
  if (DIR *stream = opendir(dir.c_str())) {
    while (dirent *entry = readdir(stream))
      if (std::strcmp(entry->d_name, ".") && std::strcmp(entry->d_name, ".."))
        names.insert(entry->d_name);
    closedir(stream);
  }
  return names;
}

/// A scratch directory removed with its files at the end of the test.
class NpyFiles : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/tmix-npy-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (const std::string &file : files_)
      std::remove(file.c_str());
    rmdir(dir_.c_str());
  }
  std::string path(const std::string &name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }
  std::string writeRaw(const std::string &name, const std::string &bytes) {
    std::string file = path(name);
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

/// A .npy image with a hand-written header dict, padded the way NumPy pads it.
std::string npyImage(const std::string &dict, const std::string &data, int major = 1) {
  std::string header = dict;
  size_t lenSize = major == 1 ? 2 : 4;
  size_t preamble = 6 + 2 + lenSize;
  while ((preamble + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string image = "\x93NUMPY";
  image += static_cast<char>(major);
  image += '\0';
  for (size_t i = 0; i < lenSize; ++i)
    image += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return image + header + data;
}

std::string dictFor(const std::string &descr, const std::string &shape,
                    const std::string &fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }";
}

template <typename T> std::string bytesOf(std::initializer_list<T> values) {
  std::string bytes;
  for (T value : values)
    bytes.append(reinterpret_cast<const char *>(&value), sizeof(T));
  return bytes;
}

TEST_F(NpyFiles, RoundTripEveryDTypeAndShape) {
  const std::vector<std::vector<int64_t>> shapes = {{},     {0},       {5},
                                                    {2, 3}, {2, 0, 4}, {2, 3, 4, 5}};
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64,
                          DType::I32, DType::I64, DType::Bool};
  uint64_t seed = 1;
  for (DType dtype : dtypes) {
    for (const std::vector<int64_t> &shape : shapes) {
      HostTensor t(dtype, shape);
      fillRandom(t, seed++, -100, 100);
      std::string file = path("t" + std::to_string(seed) + ".npy");
      ASSERT_EQ(writeNpy(file, t), "");
      HostTensor back;
      ASSERT_EQ(readNpy(file, back), "") << dtypeName(dtype);
      // Float types come back as float32; integers and bool as themselves.
      DType expected = isFloat(dtype) ? DType::F32 : dtype;
      EXPECT_EQ(back.dtype(), expected) << dtypeName(dtype);
      EXPECT_EQ(back.shape(), shape) << dtypeName(dtype);
      for (int64_t i = 0; i < t.numElements(); ++i)
        ASSERT_EQ(back.get(i), static_cast<double>(static_cast<float>(t.get(i))))
            << dtypeName(dtype) << " element " << i;
    }
  }
}

TEST(Npy, WritesNumPysExactHeader) {
  HostTensor t(DType::F32, {2, 3});
  std::string image = serializeNpy(t);
  std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expected.append(127 - expected.size(), ' ');
  expected += '\n';
  ASSERT_EQ(image.size(), 128u + 6 * sizeof(float));
  EXPECT_EQ(image.substr(0, 128), expected);
  EXPECT_NE(serializeNpy(HostTensor(DType::I32, {7})).find("'shape': (7,)"),
            std::string::npos);
  EXPECT_NE(serializeNpy(HostTensor(DType::Bool, {})).find("'descr': '|b1'"),
            std::string::npos);
  EXPECT_NE(serializeNpy(HostTensor(DType::I64, {})).find("'shape': ()"),
            std::string::npos);
}

TEST(Npy, ReadsOwnDTypes) {
  HostTensor t;
  ASSERT_EQ(
      parseNpy("a.npy", npyImage(dictFor("<f8", "(2,)"), bytesOf<double>({0.1, -2})), t),
      "");
  EXPECT_EQ(t.dtype(), DType::F64);
  EXPECT_EQ(t.get(0), 0.1);
  ASSERT_EQ(
      parseNpy("a.npy",
               npyImage(dictFor("<f2", "(2,)"), bytesOf<uint16_t>({0x3c00, 0xc000})), t),
      "");
  EXPECT_EQ(t.dtype(), DType::F16);
  EXPECT_EQ(t.get(1), -2.0);
  ASSERT_EQ(
      parseNpy("a.npy", npyImage(dictFor("|b1", "(3,)"), std::string("\1\0\7", 3)), t),
      "");
  EXPECT_EQ(t.dtype(), DType::Bool);
  EXPECT_EQ(t.get(2), 1.0);
  EXPECT_EQ(static_cast<const uint8_t *>(t.data())[2], 1); // normalised
  ASSERT_EQ(parseNpy("a.npy", npyImage(dictFor("<i8", "()"), bytesOf<int64_t>({-5})), t),
            "");
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(t.rank(), 0);
  EXPECT_EQ(t.get(0), -5);
}

TEST(Npy, WidensNarrowIntegers) {
  HostTensor t;
  ASSERT_EQ(parseNpy("a.npy", npyImage(dictFor("|u1", "(2,)"), "\xff\x01"), t), "");
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.get(0), 255);
  ASSERT_EQ(parseNpy("a.npy", npyImage(dictFor("|i1", "(1,)"), "\xff"), t), "");
  EXPECT_EQ(t.get(0), -1);
  ASSERT_EQ(
      parseNpy("a.npy", npyImage(dictFor("<u2", "(1,)"), bytesOf<uint16_t>({65535})), t),
      "");
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.get(0), 65535);
  ASSERT_EQ(
      parseNpy("a.npy", npyImage(dictFor("<i2", "(1,)"), bytesOf<int16_t>({-300})), t),
      "");
  EXPECT_EQ(t.get(0), -300);
  ASSERT_EQ(parseNpy("a.npy",
                     npyImage(dictFor("<u4", "(1,)"), bytesOf<uint32_t>({4000000000u})),
                     t),
            "");
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(t.get(0), 4000000000.0);
}

TEST(Npy, HeaderVariants) {
  HostTensor t;
  std::string data = bytesOf<float>({1, 2, 3, 4});
  // Versions 2.0 and 3.0 have a 4-byte header length.
  for (int major : {2, 3}) {
    ASSERT_EQ(parseNpy("a.npy", npyImage(dictFor("<f4", "(2, 2)"), data, major), t), "");
    EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 2}));
  }
  // Double quotes, keys in another order, no trailing comma, Python 2 long integers,
  // '=' (native order) and odd spacing.
  ASSERT_EQ(parseNpy("a.npy",
                     npyImage("{\"shape\":(2L,2L),\"fortran_order\":False,"
                              "\"descr\":\"=f4\"}",
                              data),
                     t),
            "");
  EXPECT_EQ(t.get(3), 4.0);
  ASSERT_EQ(parseNpy("a.npy",
                     npyImage("{ 'descr' : '<f4' , 'fortran_order' : False , "
                              "'shape' : ( 4 , ) }",
                              data),
                     t),
            "");
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{4}));
}

TEST(Npy, RejectsBadFiles) {
  HostTensor t;
  std::string data = bytesOf<float>({1, 2, 3, 4});
  auto error = [&](const std::string &image) { return parseNpy("x.npy", image, t); };

  EXPECT_EQ(error(""), "'x.npy' is not a .npy file (bad magic)");
  EXPECT_EQ(error("garbage that is long enough"),
            "'x.npy' is not a .npy file (bad magic)");
  EXPECT_EQ(error("\x93NUMPY"), "'x.npy' is truncated (no version)");
  EXPECT_EQ(error(std::string("\x93NUMPY\x01\x00", 8)),
            "'x.npy' is truncated (no header length)");
  std::string full = npyImage(dictFor("<f4", "(2, 2)"), data);
  EXPECT_NE(
      error(full.substr(0, 40)).find("'x.npy' is truncated (the header is 118 bytes"),
      std::string::npos);
  EXPECT_EQ(error(full.substr(0, full.size() - 4)),
            "'x.npy': data is 12 bytes, expected 16 for shape (2, 2) float32");
  EXPECT_EQ(error(full + "xx"),
            "'x.npy': data is 18 bytes, expected 16 for shape (2, 2) float32");
  EXPECT_EQ(error(npyImage(dictFor("<f4", "(2, 2)", "True"), data)),
            "'x.npy' is in Fortran order; save it in C order (np.ascontiguousarray)");
  EXPECT_EQ(error(npyImage(dictFor(">f4", "(2, 2)"), data)),
            "'x.npy' holds big-endian data ('>f4'); save it little-endian "
            "(arr.astype(arr.dtype.newbyteorder('<')))");
  for (const char *descr : {"<c8", "<U3", "|O", "<u8", "<f16", "|f4", "f4", "<V8"})
    EXPECT_NE(
        error(npyImage(dictFor(descr, "(2, 2)"), data))
            .find(std::string("'x.npy' has unsupported element type '") + descr + "'"),
        std::string::npos)
        << descr;
  EXPECT_EQ(error(npyImage("{'descr': [('a', '<f4'), ('b', '<f4')], "
                           "'fortran_order': False, 'shape': (2,), }",
                           data)),
            "'x.npy' has an unsupported element type (a structured dtype)");

  std::string badVersion = full;
  badVersion[6] = 4;
  EXPECT_EQ(error(badVersion),
            "'x.npy' has unsupported .npy version 4.0 (supported: 1.0, 2.0, 3.0)");
  EXPECT_EQ(error(npyImage("{'descr': '<f4', 'shape': (2, 2)}", data)),
            "'x.npy' has no 'fortran_order' in its header");
  EXPECT_EQ(error(npyImage("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), "
                           "'extra': 1}",
                           data)),
            "'x.npy' has an unexpected header key 'extra'");
  EXPECT_EQ(error(npyImage("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                           "'shape': (2, 2)}",
                           data)),
            "'x.npy' has a duplicate header key 'descr'");
  for (const char *dict : {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2)}",
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)",
                           "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 2)}",
                           "{'descr: '<f4', 'fortran_order': False, 'shape': (2, 2)}",
                           "['descr', '<f4']", "",
                           "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (99999999999999999999,)}"})
    EXPECT_NE(error(npyImage(dict, data)).find("'x.npy' has a malformed header: "),
              std::string::npos)
        << dict;
  EXPECT_EQ(error(npyImage(dictFor("<f4", "[2, 2]"), data)),
            "'x.npy' has a malformed header: 'shape' is not a tuple of integers");
  EXPECT_EQ(
      error(npyImage("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2)}", data)),
      "'x.npy' has a malformed header: 'fortran_order' is not True or False");
  EXPECT_EQ(
      error(npyImage("{'descr': '<f4', 'fortran_order': False, 'shape': None}", data)),
      "'x.npy' has a malformed header: unexpected value at offset 50 of the header");
  EXPECT_EQ(error(npyImage(dictFor("<f4", "(4294967296, 4294967296, 4294967296)"), data)),
            "'x.npy' has an impossibly large shape (4294967296, 4294967296, 4294967296)");
}

TEST_F(NpyFiles, FileErrors) {
  HostTensor t;
  EXPECT_EQ(readNpy(dir_ + "/missing.npy", t),
            "cannot open '" + dir_ + "/missing.npy': No such file or directory");
  std::string garbage = writeRaw("x.npy", "not an array");
  EXPECT_EQ(readNpy(garbage, t), "'" + garbage + "' is not a .npy file (bad magic)");
  EXPECT_NE(readNpy(dir_, t), ""); // a directory
  EXPECT_NE(writeNpy(dir_ + "/no/such/dir.npy", HostTensor(DType::F32, {1}))
                .find("cannot write"),
            std::string::npos);
  // A failed read leaves the output alone.
  HostTensor kept(DType::I32, {3});
  EXPECT_NE(readNpy(garbage, kept), "");
  EXPECT_EQ(kept.shape(), (std::vector<int64_t>{3}));
}

// Hostile files: each must give one message, never a wait, an endless read, an
// allocation of what the header merely claims, or an overflow.
TEST_F(NpyFiles, OnlyRegularFiles) {
  HostTensor t;
  std::string fifo = path("fifo.npy");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Before: open() waited for a writer forever.
  EXPECT_EQ(readNpy(fifo, t), "'" + fifo + "' is not a regular file (it is a FIFO)");
  // Before: read /dev/zero until the allocation failed.
  std::string zero = path("zero.npy");
  ASSERT_EQ(symlink("/dev/zero", zero.c_str()), 0);
  EXPECT_EQ(readNpy(zero, t),
            "'" + zero + "' is not a regular file (it is a character device)");
  std::string dangling = path("dangling.npy");
  ASSERT_EQ(symlink("no-such-target", dangling.c_str()), 0);
  EXPECT_EQ(readNpy(dangling, t),
            "'" + dangling + "' is a dangling symbolic link (to 'no-such-target')");
  EXPECT_EQ(readNpy(dir_, t), "'" + dir_ + "' is not a regular file (it is a directory)");
  // A link to a good file is fine.
  std::string good = path("good.npy");
  ASSERT_EQ(writeNpy(good, HostTensor(DType::I32, {2})), "");
  std::string link = path("link.npy");
  ASSERT_EQ(symlink(good.c_str(), link.c_str()), 0);
  EXPECT_EQ(readNpy(link, t), "");
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2}));
}

TEST_F(NpyFiles, HeaderLengthIsBounded) {
  // A version 2.0 header of 2 MiB, with the bytes to back it: refused before a byte of
  // it is read.
  constexpr uint32_t kHugeHeader = 2u << 20;
  std::string image = "\x93NUMPY\x02";
  image += '\0';
  for (int i = 0; i < 4; ++i)
    image += static_cast<char>((kHugeHeader >> (8 * i)) & 0xff);
  image.resize(image.size() + kHugeHeader, ' ');
  std::string file = writeRaw("huge-header.npy", image);
  HostTensor t;
  EXPECT_EQ(readNpy(file, t), "'" + file +
                                  "' has a header of 2097152 bytes, more than the "
                                  "1048576 allowed");
}

TEST_F(NpyFiles, SparseFileLargerThanMemory) {
  // The header and the file size agree, but the tensor would not fit in memory: a
  // sparse file makes that cheap to build. Before: read it all, then bad_alloc.
  double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                  static_cast<double>(sysconf(_SC_PAGE_SIZE));
  auto elements = static_cast<int64_t>(2 * memory);
  std::string header =
      npyImage(dictFor("|u1", "(" + std::to_string(elements) + ",)"), "");
  std::string file = writeRaw("sparse.npy", header);
  if (truncate(file.c_str(), static_cast<off_t>(header.size()) + elements) != 0)
    GTEST_SKIP() << "this file system has no sparse file of " << elements << " bytes";
  HostTensor t;
  std::string error = readNpy(file, t);
  EXPECT_NE(error.find("'" + file + "' holds "), std::string::npos) << error;
  EXPECT_NE(error.find("GiB of memory"), std::string::npos) << error;
}

TEST_F(NpyFiles, ReadsOnlyWhatTheHeaderDeclares) {
  // One float more than the shape: an error, as in memory.
  std::string file =
      writeRaw("long.npy", npyImage(dictFor("<f4", "(2,)"), bytesOf<float>({1, 2, 3})));
  HostTensor t;
  EXPECT_EQ(readNpy(file, t),
            "'" + file + "': data is 12 bytes, expected 8 for shape (2,) float32");
  // The same file read from memory and from disk says the same.
  std::string widened =
      writeRaw("u1.npy", npyImage(dictFor("|u1", "(3,)"), std::string("\x01\x02\xff")));
  ASSERT_EQ(readNpy(widened, t), "");
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.get(2), 255);
}

TEST(Npy, ShapeProductStaysInInt64) {
  // (2^32, 2^31, 0) holds no element, but HostTensor's element count would overflow
  // int64 on the way to 0. Before: accepted (an overflow the sanitizer reports).
  HostTensor t;
  EXPECT_EQ(
      parseNpy("x.npy", npyImage(dictFor("<f4", "(4294967296, 2147483648, 0)"), ""), t),
      "'x.npy' has an impossibly large shape (4294967296, 2147483648, 0)");
  // A zero first keeps every product at 0: a valid empty array.
  EXPECT_EQ(
      parseNpy("x.npy", npyImage(dictFor("<f4", "(0, 4294967296, 2147483648)"), ""), t),
      "");
  EXPECT_EQ(t.numElements(), 0);
}

TEST_F(NpyFiles, WriteReplacesALinkAndLeavesNoTemporary) {
  std::string target = writeRaw("target", "untouched");
  std::string link = path("o.npy");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  // Before: fopen followed the link and overwrote the target.
  ASSERT_EQ(writeNpy(link, HostTensor(DType::F32, {2})), "");
  std::ifstream in(target);
  std::string contents((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "untouched");
  struct stat info;
  ASSERT_EQ(lstat(link.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  // A directory in the way: an error, and no temporary left beside it.
  std::string blocked = dir_ + "/blocked.npy";
  ASSERT_EQ(mkdir(blocked.c_str(), 0700), 0);
  EXPECT_EQ(writeNpy(blocked, HostTensor(DType::F32, {2})),
            "cannot write '" + blocked + "': it is a directory");
  rmdir(blocked.c_str());
  EXPECT_EQ(entriesOf(dir_), (std::set<std::string>{"o.npy", "target"}));
}

//===----------------------------------------------------------------------===//
// AtomicFileSet
//===----------------------------------------------------------------------===//

TEST_F(NpyFiles, AtomicSetAllOrNothing) {
  // A failure in the middle (the second path is a directory) leaves nothing.
  std::string blocked = dir_ + "/b";
  ASSERT_EQ(mkdir(blocked.c_str(), 0700), 0);
  {
    AtomicFileSet files;
    ASSERT_EQ(files.write(dir_ + "/a", "first"), "");
    ASSERT_EQ(files.write(blocked, "second"), "");
    ASSERT_EQ(files.write(dir_ + "/c", "third"), "");
    EXPECT_EQ(files.commit(), "cannot write '" + blocked + "': it is a directory");
  }
  EXPECT_EQ(entriesOf(dir_), (std::set<std::string>{"b"}));
  rmdir(blocked.c_str());
  // Discarded without commit: nothing, and the directories it made are gone too.
  {
    AtomicFileSet files;
    ASSERT_EQ(files.createDirectories(dir_ + "/x/y"), "");
    ASSERT_EQ(files.write(dir_ + "/x/y/a", "first"), "");
  }
  EXPECT_EQ(entriesOf(dir_), std::set<std::string>{});
  // Committed: every file in place, nothing else.
  {
    AtomicFileSet files;
    ASSERT_EQ(files.createDirectories(dir_ + "/x"), "");
    std::string temp;
    ASSERT_EQ(files.reserve(dir_ + "/x/r.cubin", temp), "");
    EXPECT_EQ(temp.substr(temp.size() - 6), ".cubin"); // the extension is kept
    ASSERT_EQ(files.write(dir_ + "/x/a", "first"), "");
    EXPECT_EQ(files.commit(), "");
  }
  EXPECT_EQ(entriesOf(dir_ + "/x"), (std::set<std::string>{"a", "r.cubin"}));
  files_.push_back(dir_ + "/x/a");
  files_.push_back(dir_ + "/x/r.cubin");
  files_.push_back(dir_ + "/x");
  // A file where a directory should be.
  AtomicFileSet files;
  EXPECT_EQ(files.createDirectories(dir_ + "/x/a/b"),
            "cannot create '" + dir_ + "/x/a/b': '" + dir_ +
                "/x/a' exists and is not a directory");
}

} // namespace
