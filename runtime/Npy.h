//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0), the exchange
// format of `tmixc run --inputs/--outputs`: tensors cross between tmix and Python
// without a NumPy dependency here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_NPY_H
#define TMIX_RUNTIME_NPY_H

#include "runtime/HostTensor.h"

#include <string>

namespace tmix::rt {

/// Loads `path` into `out` in the file's own element type: '<f4' F32, '<f8' F64,
/// '<f2' F16, '<i4' I32, '<i8' I64, '|b1' Bool; the narrower integers ('|i1', '|u1',
/// '<i2', '<u2') widen to I32 and '<u4' to I64, exactly. The caller converts with
/// HostTensor::convertedTo. C order, little-endian only. `path` must be a regular file
/// (or a link to one) whose size is exactly what its header declares, and the tensor
/// must fit in physical memory; a FIFO, a device or a dangling link is an error, never
/// a wait or an endless read. Returns an error message naming the file, or empty on
/// success (then `out` is replaced).
std::string readNpy(const std::string &path, HostTensor &out);

/// Parses an in-memory .npy image; `name` is how messages name it.
std::string parseNpy(const std::string &name, const std::string &contents,
                     HostTensor &out);

/// Writes `t` to `path` as .npy (version 1.0, or 2.0 for a huge header): F32, F16,
/// BF16 and F64 as float32 ('<f4'), I32 '<i4', I64 '<i8', Bool '|b1'. The file is
/// written beside `path` and renamed into place (AtomicFileSet): a link at `path` is
/// replaced, not followed, and a failure leaves nothing behind. Returns an error
/// message, or empty.
std::string writeNpy(const std::string &path, const HostTensor &t);

/// The .npy image writeNpy would write.
std::string serializeNpy(const HostTensor &t);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_NPY_H
