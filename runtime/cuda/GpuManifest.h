//===- GpuManifest.h - What a GPU kernel artifact needs to be launched -*- C++ -*-===//
//
// `tmixc build --target=sm_80|sm_90a` writes one manifest per kernel beside its PTX
// (and cubin); the CUDA runtime parses it without MLIR. The format is text, one record
// per line, `#` comments, fields separated by single spaces:
//
//   tmix-gpu-manifest 1
//   kernel causal                       the spec and the PTX entry point
//   target sm_80
//   spec recurrence                     a recurrence's kernel (absent: attention's)
//   ptx causal.sm_80.ptx                files relative to the manifest's directory
//   cubin causal.sm_80.cubin            (absent when ptxas was not found)
//   object causal.cpu.o                 target cpu: the program's object file (then no
//                                       ptx, cubin, block_threads, shared_bytes or tma)
//   block_threads 128
//   shared_bytes 87040                  dynamic shared memory per CTA
//   schedule block_m=64 block_n=64 warps=4 stages=2  the schedule built
//   specialize D=128                    size symbols fixed when compiling (optional)
//   sizes B H N HK M                    the order of the kernel's sizes argument
//   grid B:1 H:1 N:64                   blocks = prod ceil(dim / tile), row-major
//   groups H:HV                         recurrences: H read in place of parallel HV
//                                       (index p / (HV / H)); H must divide HV
//   arg q tensor f16 B H N 64           dims as stored; `layout=0,2,1,3` after them
//                                       when stored in another order than logical
//   arg window scalar i32 default=4096
//   result o tensor f16 B H N 64
//   tma q f16 box=64x128 swizzle=128    sm_90a only: one TMA descriptor per record
//   workspace 192 B H                   scratch in global memory per launch: one word
//                                       per CTA, zeroed, then 192 words per unit of
//                                       B x H (the symbols optional)
//   gradients summed                    a recurrence's adjoint: its results are the
//                                       arguments' gradients (see below)
//
// The kernel ABI is the loop program's (passes/KernelBuilder.h) without the program
// id: per tensor a memref descriptor of its logical view (allocated and aligned
// pointer, offset 0, sizes and strides: row-major, or permuted by its layout), per
// scalar one f64 or i64, per output a descriptor, then a
// descriptor of the i64 sizes array (in device memory). A kernel with `tma` records
// takes one more word: the device address of its TMA descriptors (CUtensorMap, 128
// bytes each, in record order), which the runtime encodes at launch with
// cuTensorMapEncodeTiled over the named 4-D argument [B, H, N, D] (dims innermost
// first: D, N, H, B; a box of COLUMNSxROWS elements over D and N, 1 over H and B;
// the swizzle in bytes, 0 for none; out-of-range elements read as zeros). A kernel
// with a `workspace` record takes last a descriptor of it (memref<?xi64>): a buffer of
// the launch's own, its first word per CTA zero at the launch (counters), the words
// after them left as the last launch wrote them (the kernel writes before it reads).
//
// A kernel with `gradients summed` (a recurrence's adjoint X_grad) writes the gradients
// that several parallel points share (a per-head constant under the batch, Mamba2's B
// and C under their group's heads, a scalar) per point, as its `result` records
// declare them; its callers give and get each in its argument's shape (F32). The
// launcher gives the kernel buffers of its own for those, then sums each into the
// caller's with the module's second entry point, kGradientSumKernel (codegen/nvidia/
// GradientSumKernel.h): kGradientSumThreads threads a CTA, a thread per element of the
// gradient, taking the descriptors (memref<?xf32>) of the partial and of the gradient
// and (memref<?xi64>) of its plan's words (GradientSum::encode, GradientReduction.h).
//
// A manifest is input, not trusted: the parser checks every record's syntax and range,
// that each single record appears once, and that the ABI it describes is consistent
// (names, symbols, TMA records, the kernel-parameter budget), so that a damaged or
// hostile manifest gives one clear error before anything touches a file or the device.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CUDA_GPUMANIFEST_H
#define TMIX_RUNTIME_CUDA_GPUMANIFEST_H

#include "runtime/CpuLauncher.h"

#include <cstddef>
#include <cstdint>
#include <map>
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
  std::string target;    // sm_80, sm_90a, or cpu
  std::string ptxFile;
  std::string cubinFile; // empty without ptxas
  std::string objectFile; // target cpu: the program's object (tmixc build --target=cpu)
  int64_t blockThreads = 0;
  int64_t sharedBytes = 0;
  std::vector<std::pair<std::string, int64_t>> schedule;
  /// Size symbols the kernel was compiled for (symbolic head dims): a launch with
  /// other values is refused.
  std::vector<std::pair<std::string, int64_t>> specialized;
  /// TMA descriptors, in the order of the kernel's descriptor array (sm_90a).
  std::vector<TensorMapDecl> tensorMaps;
  /// The workspace: after a word per CTA, workspaceWords 64-bit words per unit of the
  /// product of workspacePer (size symbols); none when workspaceWords is 0.
  int64_t workspaceWords = 0;
  std::vector<std::string> workspacePer;
};

/// The entry point that sums a recurrence adjoint's shared gradients, and its CTA.
constexpr const char *kGradientSumKernel = "tmix_gradient_sum";
constexpr int64_t kGradientSumThreads = 128;
/// Its parameters: three rank-1 memref descriptors of 5 words.
constexpr size_t kGradientSumParamWords = 3 * 5;

/// What a manifest may hold: far beyond what tmix generates, and within what the CUDA
/// driver and the kernel ABI take.
namespace manifest_limits {
/// Bytes of manifest text (tmix's are under 1 KiB).
constexpr size_t kMaxBytes = size_t(1) << 20;
/// Characters of a kernel, argument or size-symbol name, or a file name (NAME_MAX).
constexpr size_t kMaxNameLength = 255;
/// Threads per CTA (CUDA's limit on every architecture tmix targets).
constexpr int64_t kMaxBlockThreads = 1024;
/// Dynamic shared memory per CTA with the opt-in: 163 KiB on sm_80 (A100), 227 KiB on
/// sm_90 (H100, H200). The device's own attribute is checked again at load.
constexpr int64_t kMaxSharedBytesSm80 = 163 * 1024;
constexpr int64_t kMaxSharedBytesSm90a = 227 * 1024;
/// A literal dimension, grid tile, schedule or specialized value: below 2^31, so that
/// products of a few of them with run-time sizes are checked, not wrapped.
constexpr int64_t kMaxLiteral = (int64_t(1) << 31) - 1;
/// Tensor rank and grid rank.
constexpr size_t kMaxRank = 8;
/// cuLaunchKernel's portable budget for kernel parameters.
constexpr size_t kMaxParamBytes = 4096;
/// A launch's workspace: 2^30 words (8 GiB), far beyond what tmix's kernels ask.
constexpr int64_t kMaxWorkspaceWords = int64_t(1) << 30;
} // namespace manifest_limits

/// The opt-in dynamic shared memory per CTA of `target` (sm_80, sm_90a), or 0.
int64_t maxSharedBytes(std::string_view target);

/// The 64-bit words of the kernel ABI the manifest describes (passes/KernelBuilder.h):
/// a descriptor per tensor (3 + 2 x rank), a word per scalar, the sizes descriptor, and
/// the TMA descriptors' address when there are `tma` records, the workspace's
/// descriptor when there is a `workspace` record.
size_t kernelParamWords(const GpuManifest &manifest);

/// The words of a launch's workspace under `bound` sizes with `blocks` CTAs: blocks +
/// workspaceWords x prod(workspacePer), overflow-checked and at most
/// manifest_limits::kMaxWorkspaceWords. Returns an error naming the sizes, or empty.
std::string workspaceWordsOf(const GpuManifest &manifest,
                             const std::map<std::string, int64_t> &bound, int64_t blocks,
                             int64_t &words);

/// The cross-record checks of a parsed manifest (also for manifests built in memory):
/// required records, unique names, symbols in `sizes`, shared memory within the target,
/// TMA records only for sm_90a over distinct 4-D arguments, the parameter budget.
/// Returns an error, or empty.
std::string validateGpuManifest(const GpuManifest &manifest);

/// The manifest as text (the format above).
std::string writeGpuManifest(const GpuManifest &manifest);
/// Parses and validates `text` (at most manifest_limits::kMaxBytes); returns
/// "line N: message" for a malformed record, a message for an inconsistent manifest,
/// or empty.
std::string parseGpuManifest(std::string_view text, GpuManifest &manifest);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CUDA_GPUMANIFEST_H
