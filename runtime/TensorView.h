//===- TensorView.h - Tensors the caller owns, as views ---------*- C++ -*-===//
//
// The library's doors (the C API, the Python package) take tensors as views: a data
// pointer, a dtype, a shape and element strides, as DLPack describes them. Kernels read
// memref descriptors with any strides, so a view whose last dim is contiguous runs in
// place: FlashAttention's [B, N, H, D] buffer passes as a [B, H, N, D] view, no copy.
// No MLIR here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_TENSORVIEW_H
#define TMIX_RUNTIME_TENSORVIEW_H

#include "runtime/Bindings.h"

namespace tmix::rt {

enum class DeviceKind { Cpu, Cuda };

/// A tensor in memory the caller owns. `strides` count elements, one per dim in the
/// stored order; empty means row-major.
struct TensorView {
  void *data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  DeviceKind device = DeviceKind::Cpu;

  /// A row-major view of `tensor`.
  static TensorView of(HostTensor &tensor);
  /// The strides, row-major ones filled in when none were given.
  std::vector<int64_t> storedStrides() const;
};

/// Whether a kernel can read (or, for outputs, write) `view` as `param`: the dtype is
/// the declared one, the rank matches, the last dim is contiguous, no stride is
/// negative, the elements it spans fit in int64, and an output's elements are distinct
/// (no stride 0 over a dim longer than one). Shapes are checked by bindViewSizes.
/// `role` is "argument" or "output". Returns an error, or empty.
/// What is wrong with a view that checkView refuses: its element type or device, the
/// layout of its memory (strides a kernel cannot read or write), or anything else.
enum class ViewProblem { None, Type, Layout, Other };

std::string checkView(const ParamDecl &param, const TensorView &view, const char *role,
                      ViewProblem *problem = nullptr);

/// bindSizes for views: binds the size symbols from the arguments' shapes, checks every
/// literal and repeated symbol, and checks packed-sequence offsets (read in place from
/// host memory). `tensors` has one view per argument (ignored for scalars).
std::string bindViewSizes(const SpecSignature &signature,
                          const std::vector<TensorView> &tensors,
                          std::map<std::string, int64_t> &sizes);

/// The values of a rank-1 host view of i32 or i64 (packed-sequence offsets), as doubles
/// (exact up to 2^53); empty for another rank.
std::vector<double> offsetValues(const TensorView &view);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_TENSORVIEW_H
