//===- CpuLauncher.h - Running a compiled program grid on the CPU -*- C++ -*-===//
//
// A compiled spec is a program function (one program of the grid, see the kernel ABI in
// passes/KernelBuilder.h) plus a manifest. The launcher binds tensors and scalars to
// the ABI and runs every program of the grid on a thread pool. No MLIR here.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_CPULAUNCHER_H
#define TMIX_RUNTIME_CPULAUNCHER_H

#include "runtime/Bindings.h"
#include "runtime/TensorView.h"
#include "runtime/ThreadPool.h"

#include <optional>

namespace tmix::rt {

/// The packed entry point of a program: one pointer per ABI argument.
using ProgramFn = void (*)(void **);

/// A dimension of the grid: ceil(dim / tile) programs.
struct GridDimDecl {
  DimDecl dim;
  int64_t tile = 1;
};

struct KernelManifest {
  SpecSignature signature;
  std::vector<std::string> sizeSymbols; // the order of the program's sizes argument
  std::vector<GridDimDecl> grid;        // outermost first
  /// A recurrence's adjoint (X_grad): the program writes the gradients that several
  /// parallel points share per point, and its callers get them summed into their
  /// arguments' shapes (reducedGradientSignature, launchReducedGradientCall).
  bool sumsGradients = false;
};

/// The number of programs of the grid under bound sizes; nullopt when a symbol is not
/// bound, a size or tile is not positive, or the count overflows int64.
std::optional<int64_t> gridSize(const KernelManifest &manifest,
                                const std::map<std::string, int64_t> &sizes);


/// The order in which a launch runs the sequences of a recurrence over packed
/// sequences (`lengths`: their steps), whose grid's outermost dimension is the sequence:
/// the longest first, so that the programs of short ones fill the cores at the end; of
/// equal lengths, in grid order.
std::vector<int64_t> longestSequencesFirst(const std::vector<int64_t> &lengths);

/// Runs every program of the grid. `outputs` hold one tensor per spec output, already
/// shaped (shapeOf) and typed as declared; `bindings` have all sizes bound. Returns an
/// error message (also when a program could not allocate its scratch buffers: the
/// outputs are then incomplete), or empty.
std::string launchOnCpu(ProgramFn program, const KernelManifest &manifest,
                        Bindings &bindings, std::vector<HostTensor> &outputs,
                        ThreadPool &pool);

/// The same on views: `tensors` has one view per argument (unused for scalars),
/// `scalars` one value per argument (unused for tensors), `sizes` every symbol bound
/// (bindViewSizes); `outputs` one view per spec output, shaped and typed as declared
/// (checkView). The views' strides reach the kernels as they are: no copy.
std::string launchOnCpu(ProgramFn program, const KernelManifest &manifest,
                        const std::vector<TensorView> &tensors,
                        const std::vector<double> &scalars,
                        const std::map<std::string, int64_t> &sizes,
                        const std::vector<TensorView> &outputs, ThreadPool &pool);

} // namespace tmix::rt

#endif // TMIX_RUNTIME_CPULAUNCHER_H
