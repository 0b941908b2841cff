//===- GpuKernel.cpp - What the GPU lowerings share -----------------------===//

#include "passes/GpuKernel.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

FailureOr<llvm::StringMap<int64_t>>
tmix::parseSpecializations(ModuleOp module, ArrayRef<std::string> entries) {
  llvm::StringMap<int64_t> fixed;
  for (const std::string &entry : entries) {
    auto [symbol, text] = StringRef(entry).split('=');
    int64_t value = 0;
    if (symbol.empty() || text.getAsInteger(10, value) || value <= 0)
      return module.emitError() << "bad specialization '" << entry
                                << "' (expected SYMBOL=POSITIVE_INTEGER)";
    fixed[symbol] = value;
  }
  return fixed;
}

std::optional<int64_t> tmix::fixedDim(Attribute dim, const llvm::StringMap<int64_t> &fixed) {
  if (auto value = dyn_cast<IntegerAttr>(dim))
    return value.getInt();
  auto found = fixed.find(cast<StringAttr>(dim).getValue());
  if (found != fixed.end())
    return found->second;
  return std::nullopt;
}

gpu::GPUModuleOp tmix::getOrCreateKernelModule(ModuleOp module) {
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>(kGpuModuleName))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  builder.setInsertionPointToEnd(module.getBody());
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), builder.getUnitAttr());
  return gpu::GPUModuleOp::create(builder, module.getLoc(), kGpuModuleName);
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
  for (StringRef name : {"tmix.size_symbols", "tmix.grid"})
    kernel->setAttr(name, program->getAttr(name));
  kernel->setAttr("tmix.block_threads", mb.getI64IntegerAttr(launch.threads));
  kernel->setAttr("tmix.shared_bytes", mb.getI64IntegerAttr(launch.sharedBytes));
  kernel->setAttr(kScheduleAttr, launch.schedule);
  if (!launch.specialized.empty())
    kernel->setAttr("tmix.specialized", mb.getDictionaryAttr(launch.specialized));
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
