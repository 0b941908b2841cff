//===- KernelAbi.h - The runtime's view of a kernel ABI ---------*- C++ -*-===//
//
// Decodes the `tmix.kernel` attribute (#tmix.kernel, dialect/TmixAttrs.td) that the
// lowerings put on a program function or GPU kernel into the runtime's MLIR-free
// manifests: the one place where the ABI is read, for every target.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_KERNELABI_H
#define TMIX_CODEGEN_KERNELABI_H

#include "runtime/CpuLauncher.h"
#include "runtime/cuda/GpuManifest.h"

#include "dialect/TmixAttrs.h"

namespace tmix {

/// The manifest of a program: `signature`, the size-symbol order and the grid of `abi`.
rt::KernelManifest kernelManifestOf(mlir::tmix::KernelAttr abi,
                                    rt::SpecSignature signature);

/// The manifest of a GPU kernel for `target`, less its schedule and files: the program's
/// manifest and the launch (threads, shared bytes, specialised sizes, TMA descriptors
/// over the signature's arguments). `abi` must be a GPU kernel's.
rt::GpuManifest gpuManifestOf(mlir::tmix::KernelAttr abi, rt::SpecSignature signature,
                              llvm::StringRef target);

} // namespace tmix

#endif // TMIX_CODEGEN_KERNELABI_H
