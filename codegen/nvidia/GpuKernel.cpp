//===- GpuKernel.cpp - What the GPU lowerings share -----------------------===//

#include "codegen/nvidia/GpuKernel.h"
#include "passes/AttentionMath.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

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
tmix::gpuHeadDims(Operation *op, ArrayRef<Type> argTypes,
                  const llvm::StringMap<int64_t> &fixed,
                  SmallVectorImpl<NamedAttribute> &specialized, int64_t maxHeadDim) {
  constexpr int64_t kMmaK = 16;
  Attribute qDim = cast<SpecTensorType>(argTypes[0]).getDims()[3];
  Attribute vDim = cast<SpecTensorType>(argTypes[2]).getDims()[3];
  std::optional<int64_t> d = fixedDim(qDim, fixed), dv = fixedDim(vDim, fixed);
  if (!d || !dv)
    return op->emitOpError(
        "the GPU code generator needs the head dims (D of q and k, DV "
        "of v) fixed at compile time; write them as literals "
        "(q: bf16[B, H, N, 128]) or fix the symbol (tmixc --sizes=D=128)");
  recordSpecialized(op->getContext(), {qDim, vDim}, fixed, specialized);
  for (int64_t dim : {*d, *dv})
    if (dim % kMmaK != 0 || dim > maxHeadDim)
      return op->emitOpError("the GPU code generator supports head dims that are "
                             "multiples of 16 up to ")
             << maxHeadDim << (isa<AttentionGradOp>(op) ? " in the backward" : "")
             << ", not " << dim;
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

Value tmix::SharedMemoryViews::alias(MemRefType type, int64_t at) {
  assert(at + type.getNumElements() * type.getElementTypeBitWidth() / 8 <= offset &&
         "an alias lies within the views so far");
  return memref::ViewOp::create(b, type, base, arith::ConstantIndexOp::create(b, at),
                                ValueRange{});
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

void tmix::stageRows(KernelBuilder &kb, int64_t threads, Type element, Value src,
                     ValueRange prefix, Value pos0, Value count, Value tile, Value buffer,
                     int64_t dim, function_ref<Value(Value pos, Value d)> load,
                     SmallVectorImpl<Value> &tokens) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto idx = [&](int64_t v) { return kb.index(v); };
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b, x, y); };
  auto ult = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  };
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  auto tileType = cast<MemRefType>(tile.getType());
  int64_t rows = tileType.getDimSize(tileType.getRank() - 2);
  auto at = [&](Value r, Value d) {
    SmallVector<Value> indices;
    if (buffer)
      indices.push_back(buffer);
    indices.append({r, d});
    return indices;
  };
  if (!load && cast<MemRefType>(src.getType()).getElementType() == element) {
    // ---- cp.async: 16 bytes (8 elements) per copy, rows past `count` zero-filled.
    // rows * dim / 8 copies are an exact multiple of the CTA's threads (dim % 16 == 0),
    // so each thread issues the same number, unrolled here. ----
    constexpr int64_t kVector = 8;
    int64_t chunksPerRow = dim / kVector;
    Value last = arith::SubIOp::create(b, count, idx(1));
    for (int64_t it = 0; it < rows * chunksPerRow / threads; ++it) {
      Value chunk = add(tid, idx(it * threads));
      Value r = arith::DivUIOp::create(b, chunk, idx(chunksPerRow));
      Value d = arith::MulIOp::create(
          b, arith::RemUIOp::create(b, chunk, idx(chunksPerRow)), idx(kVector));
      // A zero-filled copy reads nothing, but its address stays inside the tensor.
      Value pos = add(pos0, arith::MinUIOp::create(b, r, last));
      Value srcElements = arith::SelectOp::create(b, ult(r, count), idx(kVector), idx(0));
      SmallVector<Value> srcIndices(prefix.begin(), prefix.end());
      srcIndices.append({pos, d});
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile, at(r, d), src,
          srcIndices, b.getIndexAttr(kVector), srcElements, b.getUnitAttr()));
    }
    return;
  }
  kb.loop(tid, idx(rows * dim), idx(threads), {}, [&](Value e, ValueRange) {
    Value r = arith::DivUIOp::create(b, e, idx(dim));
    Value d = arith::RemUIOp::create(b, e, idx(dim));
    Value pos = add(pos0, r);
    Value x = kb.ifElse(
        ult(r, count), {b.getF32Type()},
        [&] {
          if (load)
            return SmallVector<Value>{load(pos, d)};
          SmallVector<Value> indices(prefix.begin(), prefix.end());
          indices.append({pos, d});
          return SmallVector<Value>{kb.loadF32(src, indices)};
        },
        [&] { return SmallVector<Value>{kb.f32(0.0)}; })[0];
    memref::StoreOp::create(b, arith::TruncFOp::create(b, element, x), tile, at(r, d));
    return SmallVector<Value>{};
  });
}

Value tmix::ropeElement(KernelBuilder &kb, Value src, ValueRange prefix, Value pos,
                        Value d, int64_t dim, Value theta) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value half = kb.index(dim / 2);
  Value low = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, d, half);
  Value p = arith::SelectOp::create(b, low, d, arith::SubIOp::create(b, d, half));
  auto load = [&](Value at) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.append({pos, at});
    return kb.loadF32(src, indices);
  };
  Value a = load(p), c = load(arith::AddIOp::create(b, p, half));
  auto [first, second] =
      rotatePair(b, a, c, ropeAngle(kb, pos, p, b.getI64IntegerAttr(dim), theta));
  return arith::SelectOp::create(b, low, first, second);
}

void tmix::waitAsyncCopies(ImplicitLocOpBuilder &b, ArrayRef<Value> tokens) {
  if (tokens.empty())
    return;
  Value group = nvgpu::DeviceAsyncCreateGroupOp::create(
      b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tokens);
  nvgpu::DeviceAsyncWaitOp::create(b, group, b.getI32IntegerAttr(0));
}

void tmix::gpuFence(ImplicitLocOpBuilder &b) {
  NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
}

Value tmix::countCtaIn(ImplicitLocOpBuilder &b, Value workspace, Value counter,
                       int64_t expected) {
  Type i64 = b.getI64Type();
  gpuFence(b);
  Value counted = memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addi,
                                              arith::ConstantIntOp::create(b, i64, 1),
                                              workspace, ValueRange{counter});
  return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, counted,
                               arith::ConstantIntOp::create(b, i64, expected - 1));
}
