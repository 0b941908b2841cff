//===- GpuManifest.h - What a GPU kernel artifact needs to be launched -*- C++ -*-===//
//
// `tmixc build --target=sm_80|sm_90a` writes one manifest per kernel beside its PTX
// (and cubin); the CUDA runtime parses it without MLIR. The format is text, one record
// per line, `#` comments, fields separated by single spaces:
//
//   tmix-gpu-manifest 1
//   kernel causal                       the spec and the PTX entry point
//   target sm_80
//   ptx causal.sm_80.ptx                files relative to the manifest's directory
//   cubin causal.sm_80.cubin            (absent when ptxas was not found)
//   block_threads 128
//   shared_bytes 87040                  dynamic shared memory per CTA
//   schedule block_m=64 block_n=64 stages=2 warps=4
//   specialize D=128                    size symbols fixed when compiling (optional)
//   sizes B H N HK M                    the order of the kernel's sizes argument
//   grid B:1 H:1 N:64                   blocks = prod ceil(dim / tile), row-major
//   arg q tensor f16 B H N 64
//   arg window scalar i32 default=4096
//   result o tensor f16 B H N 64
//   tma q f16 box=64x128 swizzle=128    sm_90a only: one TMA descriptor per record
//
// The kernel ABI is the loop program's (passes/KernelBuilder.h) without the program
// id: per tensor a memref descriptor (allocated and aligned pointer, offset 0, sizes,
// row-major strides), per scalar one f64 or i64, per output a descriptor, then a
// descriptor of the i64 sizes array (in device memory). A kernel with `tma` records
// takes one more word: the device address of its TMA descriptors (CUtensorMap, 128
// bytes each, in record order), which the runtime encodes at launch with
// cuTensorMapEncodeTiled over the named 4-D argument [B, H, N, D] (dims innermost
// first: D, N, H, B; a box of COLUMNSxROWS elements over D and N, 1 over H and B;
// the swizzle in bytes, 0 for none; out-of-range elements read as zeros).
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_GPUMANIFEST_H
#define TMIX_RUNTIME_CUDA_GPUMANIFEST_H

#include "runtime/CpuLauncher.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tmix::rt {

/// One TMA descriptor the kernel reads (a `tma` record).
struct TensorMapDecl {
  std::string arg;    // a 4-D tensor argument
  DType dtype = DType::BF16;
  int64_t boxColumns = 0, boxRows = 0;
  int64_t swizzleBytes = 0; // 0 (none), 32, 64 or 128
};

struct GpuManifest {
  KernelManifest kernel; // signature, size-symbol order, grid
  std::string target;    // sm_80 or sm_90a
  std::string ptxFile;
  std::string cubinFile; // empty without ptxas
  int64_t blockThreads = 0;
  int64_t sharedBytes = 0;
  std::vector<std::pair<std::string, int64_t>> schedule;
  /// Size symbols the kernel was compiled for (symbolic head dims): a launch with
  /// other values is refused.
  std::vector<std::pair<std::string, int64_t>> specialized;
  /// TMA descriptors, in the order of the kernel's descriptor array (sm_90a).
  std::vector<TensorMapDecl> tensorMaps;
};

/// The manifest as text (the format above).
std::string writeGpuManifest(const GpuManifest &manifest);
/// Parses `text`; returns "line N: message" for malformed input, or empty.
std::string parseGpuManifest(std::string_view text, GpuManifest &manifest);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_GPUMANIFEST_H
