//===- KernelAbi.cpp - The runtime's view of a kernel ABI -----------------===//
//
// One field of the manifest per parameter of #tmix.kernel. The attribute was verified
// against the runtime's limits (the static_asserts below keep the two in step), so the
// manifests written from it pass the runtime's own checks.
//
//===----------------------------------------------------------------------===//

#include "codegen/KernelAbi.h"

using namespace mlir;
namespace rt = ::tmix::rt;
using mlir::tmix::KernelAttr;

namespace abi_limits = mlir::tmix::kernel_abi_limits;
namespace manifest_limits = rt::manifest_limits;
static_assert(abi_limits::kMaxLiteral == manifest_limits::kMaxLiteral);
static_assert(abi_limits::kMaxGridRank == manifest_limits::kMaxRank);
static_assert(abi_limits::kMaxThreads == manifest_limits::kMaxBlockThreads);
static_assert(abi_limits::kMaxSharedBytes == manifest_limits::kMaxSharedBytesSm90a);

static rt::DimDecl dimOf(Attribute dim) {
  rt::DimDecl decl;
  if (auto symbol = dyn_cast<StringAttr>(dim))
    decl.symbol = symbol.getValue().str();
  else
    decl.size = cast<IntegerAttr>(dim).getInt();
  return decl;
}

rt::KernelManifest(::tmix::kernelManifestOf)(KernelAttr abi,
                                             rt::SpecSignature signature) {
  rt::KernelManifest manifest;
  manifest.signature = std::move(signature);
  for (StringAttr symbol : abi.getSizes())
    manifest.sizeSymbols.push_back(symbol.getValue().str());
  for (mlir::tmix::GridDimAttr dim : abi.getGrid())
    manifest.grid.push_back({dimOf(dim.getDim()), dim.getTile()});
  return manifest;
}

rt::GpuManifest(::tmix::gpuManifestOf)(KernelAttr abi, rt::SpecSignature signature,
                                       StringRef target) {
  rt::GpuManifest manifest;
  manifest.kernel = kernelManifestOf(abi, std::move(signature));
  manifest.target = target.str();
  manifest.blockThreads = abi.getThreads().value_or(0);
  manifest.sharedBytes = abi.getSharedBytes();
  if (DictionaryAttr specialized = abi.getSpecialized())
    for (NamedAttribute entry : specialized)
      manifest.specialized.emplace_back(entry.getName().str(),
                                        cast<IntegerAttr>(entry.getValue()).getInt());
  for (mlir::tmix::TensorMapAttr map : abi.getTensorMaps()) {
    const rt::ParamDecl &arg = manifest.kernel.signature.args[map.getArg()];
    rt::TensorMapDecl decl;
    decl.arg = arg.name;
    decl.dtype = arg.dtype;
    decl.boxColumns = map.getBoxColumns();
    decl.boxRows = map.getBoxRows();
    decl.swizzleBytes = map.getSwizzle();
    manifest.tensorMaps.push_back(decl);
  }
  manifest.workspaceWords = abi.getWorkspaceWords();
  for (StringAttr symbol : abi.getWorkspacePer())
    manifest.workspacePer.push_back(symbol.getValue().str());
  return manifest;
}
