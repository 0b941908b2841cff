//===- GpuKernel.cpp - What the GPU lowerings share -----------------------===//

#include "codegen/nvidia/GpuKernel.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

void tmix::recordSpecialized(MLIRContext *ctx, ArrayRef<Attribute> dims,
                             const llvm::StringMap<int64_t> &fixed,
                             SmallVectorImpl<NamedAttribute> &specialized) {
  Builder builder(ctx);
  for (Attribute dim : dims)
    if (auto symbol = dyn_cast<StringAttr>(dim))
      if (!llvm::any_of(specialized,
                        [&](NamedAttribute entry) { return entry.getName() == symbol; }))
        specialized.push_back(builder.getNamedAttr(
            symbol, builder.getI64IntegerAttr(fixed.lookup(symbol.getValue()))));
}

FailureOr<std::pair<int64_t, int64_t>>
tmix::gpuHeadDims(AttentionOp op, const llvm::StringMap<int64_t> &fixed,
                  SmallVectorImpl<NamedAttribute> &specialized) {
  constexpr int64_t kMmaK = 16, kMaxHeadDim = 256;
  auto types = op.getSpecArgTypes();
  Attribute qDim = cast<SpecTensorType>(types[0]).getDims()[3];
  Attribute vDim = cast<SpecTensorType>(types[2]).getDims()[3];
  std::optional<int64_t> d = fixedDim(qDim, fixed), dv = fixedDim(vDim, fixed);
  if (!d || !dv)
    return op.emitOpError("the GPU code generator needs the head dims (D of q and k, DV "
                          "of v) fixed at compile time; write them as literals "
                          "(q: bf16[B, H, N, 128]) or fix the symbol (tmixc --sizes=D=128)");
  recordSpecialized(op.getContext(), {qDim, vDim}, fixed, specialized);
  for (int64_t dim : {*d, *dv})
    if (dim % kMmaK != 0 || dim > kMaxHeadDim)
      return op.emitOpError("the GPU code generator supports head dims that are "
                            "multiples of 16 up to 256, not ")
             << dim;
  return std::make_pair(*d, *dv);
}

gpu::GPUModuleOp tmix::getOrCreateKernelModule(ModuleOp module) {
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>(kGpuModuleName))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  builder.setInsertionPointToEnd(module.getBody());
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), builder.getUnitAttr());
  return gpu::GPUModuleOp::create(builder, module.getLoc(), kGpuModuleName);
}

tmix::SharedMemoryViews::SharedMemoryViews(ImplicitLocOpBuilder &b) : b(b) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  base = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface(),
                         workgroup));
}

Value tmix::SharedMemoryViews::view(MemRefType type) {
  Value region = memref::ViewOp::create(b, type, base,
                                        arith::ConstantIndexOp::create(b, offset), ValueRange{});
  offset += type.getNumElements() * type.getElementTypeBitWidth() / 8;
  return region;
}

FailureOr<tmix::KernelModule> tmix::prepareKernelModule(ModuleOp module,
                                                  ArrayRef<std::string> specialize) {
  FailureOr<llvm::StringMap<int64_t>> fixed = parseSpecializations(module, specialize);
  if (failed(fixed))
    return failure();
  return KernelModule{getOrCreateKernelModule(module), std::move(*fixed)};
}

gpu::GPUFuncOp tmix::moveProgramToKernel(func::FuncOp program, gpu::GPUModuleOp gpuModule,
                                         const KernelLaunch &launch,
                                         ArrayRef<Type> extraInputs) {
  MLIRContext *ctx = program.getContext();
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(gpuModule.getBody());
  SmallVector<Type> inputs(program.getFunctionType().getInputs().drop_front());
  llvm::append_range(inputs, extraInputs);
  auto kernel = gpu::GPUFuncOp::create(mb, program.getLoc(), program.getName(),
                                       FunctionType::get(ctx, inputs, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), mb.getUnitAttr());
  KernelAttr abi = getKernelAbi(program);
  setKernelAbi(kernel,
               abi.withLaunch(launch.threads, launch.sharedBytes, launch.specialized));
  kernel->setAttr(kScheduleAttr, launch.schedule);
  kernel.setKnownBlockSizeAttr(
      mb.getDenseI32ArrayAttr({static_cast<int32_t>(launch.threads), 1, 1}));

  // The entry block's first argument, the program id, becomes the block id.
  kernel.getBody().takeBody(program.getBody());
  Block &entry = kernel.getBody().front();
  mb.setInsertionPointToStart(&entry);
  Value blockId = gpu::BlockIdOp::create(mb, program.getLoc(), gpu::Dimension::x);
  Value pid = arith::IndexCastOp::create(mb, program.getLoc(), mb.getI64Type(), blockId);
  entry.getArgument(0).replaceAllUsesWith(pid);
  entry.eraseArgument(0);
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  mb.setInsertionPoint(ret);
  gpu::ReturnOp::create(mb, ret.getLoc());
  ret.erase();
  program.erase();
  return kernel;
}
