//===- KernelBuilder.cpp - Building the loop program of a spec ------------===//
//
// The program function, its ABI (see KernelBuilder.h) and the small vocabulary the
// attention and recurrence lowerings are written in.
//
//===----------------------------------------------------------------------===//

#include "passes/KernelBuilder.h"

#include "dialect/DimList.h"

#include "dialect/TmixAttrs.h"
#include "dialect/TmixOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/MathExtras.h"

#include <functional>

using namespace mlir;
using namespace mlir::tmix;

/// The memref a tensor of the spec is passed as: its rank, dynamic dims, the storage
/// element type, in the logical order. A tensor stored in another order is a strided
/// view of its storage (the runtime permutes the strides): read in place, not copied.
/// When its innermost dim stays innermost, that stride is a static 1, so that rows are
/// still loaded as vectors.
static MemRefType abiMemRefType(SpecTensorType type) {
  SmallVector<int64_t> shape(type.getRank(), ShapedType::kDynamic);
  if (!type.isPermuted())
    return MemRefType::get(shape, type.getElementType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  if (type.getLayout().back() == type.getRank() - 1)
    strides.back() = 1;
  auto layout = StridedLayoutAttr::get(type.getContext(), /*offset=*/0, strides);
  return MemRefType::get(shape, type.getElementType(), layout);
}

/// Scalars cross the ABI as f64 (floats) or i64 (integers and bools).
static Type abiScalarType(Type type, Builder &builder) {
  if (isa<FloatType>(type))
    return builder.getF64Type();
  return builder.getI64Type();
}

static void collectSymbols(Type type, SmallVectorImpl<StringRef> &symbols) {
  auto tensor = dyn_cast<SpecTensorType>(type);
  if (!tensor)
    return;
  for (unsigned dim = 0; dim < tensor.getRank(); ++dim) {
    StringRef symbol = tensor.getSymbol(dim);
    if (!symbol.empty() && !llvm::is_contained(symbols, symbol))
      symbols.push_back(symbol);
  }
}

KernelBuilder::KernelBuilder(Operation *specOp, ArrayRef<GridDim> grid)
    : specOp(specOp), specBody(&specOp->getRegion(0).front()),
      b(specOp->getLoc(), specOp->getContext()) {
  auto functionType =
      cast<FunctionType>(cast<TypeAttr>(specOp->getAttr("function_type")).getValue());
  StringRef name = SymbolTable::getSymbolName(specOp).getValue();

  // The ABI signature.
  SmallVector<Type> inputs{b.getI64Type()};
  for (Type type : functionType.getInputs()) {
    if (auto tensor = dyn_cast<SpecTensorType>(type))
      inputs.push_back(abiMemRefType(tensor));
    else
      inputs.push_back(abiScalarType(type, b));
  }
  firstResultArg = inputs.size();
  for (Type type : functionType.getResults())
    inputs.push_back(abiMemRefType(cast<SpecTensorType>(type)));
  inputs.push_back(MemRefType::get({ShapedType::kDynamic}, b.getI64Type()));

  SmallVector<StringRef> symbols;
  for (Type type : functionType.getInputs())
    collectSymbols(type, symbols);
  for (Type type : functionType.getResults())
    collectSymbols(type, symbols);

  b.setInsertionPoint(specOp);
  func = func::FuncOp::create(b, name, b.getFunctionType(inputs, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  SmallVector<GridDimAttr> gridAttrs;
  for (const GridDim &dim : grid)
    gridAttrs.push_back(GridDimAttr::get(b.getContext(), dim.dim, dim.tile));
  setKernelAbi(func, KernelAttr::getProgram(b.getContext(), symbols, gridAttrs));

  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  func::ReturnOp::create(b);
  b.setInsertionPointToStart(entry);

  // Sizes, loaded once; the status word follows them.
  sizesMemRef = entry->getArguments().back();
  statusPosition = static_cast<int64_t>(symbols.size());
  for (auto [position, symbol] : llvm::enumerate(symbols)) {
    Value value = memref::LoadOp::create(b, sizesMemRef, ValueRange{index(position)});
    sizes[symbol] = toIndex(value);
  }

  // Scalar arguments, converted from the ABI type to the declared one.
  for (auto [position, type] : llvm::enumerate(functionType.getInputs())) {
    if (isa<SpecTensorType>(type))
      continue;
    Value value = entry->getArgument(position + 1);
    if (auto floatType = dyn_cast<FloatType>(type)) {
      if (floatType.getWidth() < 64)
        value = arith::TruncFOp::create(b, floatType, value);
    } else if (type.getIntOrFloatBitWidth() < 64) {
      value = arith::TruncIOp::create(b, type, value);
    }
    scalarArgs.map(specBody->getArgument(position), value);
  }

  // The program id, decomposed row-major over the grid (last dimension fastest).
  Value rest = arith::IndexCastOp::create(b, b.getIndexType(), entry->getArgument(0));
  gridIndices.resize(grid.size());
  for (size_t dim = grid.size(); dim-- > 0;) {
    Value extent =
        arith::CeilDivUIOp::create(b, dimValue(grid[dim].dim), index(grid[dim].tile));
    gridIndices[dim] = arith::RemUIOp::create(b, rest, extent);
    rest = arith::DivUIOp::create(b, rest, extent);
  }
}

Value KernelBuilder::dimValue(Attribute dim) {
  if (auto symbol = dyn_cast<StringAttr>(dim)) {
    std::optional<SymbolicDim> split = splitSymbolicDim(symbol.getValue());
    if (!split || split->offset == 0)
      return sizeValue(symbol.getValue());
    return arith::AddIOp::create(b, sizeValue(split->symbol), index(split->offset));
  }
  return index(cast<IntegerAttr>(dim).getInt());
}

Value KernelBuilder::sizeValue(StringRef symbol) { return sizes.lookup(symbol); }

Value KernelBuilder::argMemRef(unsigned index) { return func.getArgument(index + 1); }

Value KernelBuilder::resultMemRef(unsigned index) {
  return func.getArgument(firstResultArg + index);
}

Value KernelBuilder::index(int64_t value) {
  return arith::ConstantIndexOp::create(b, value);
}

Value KernelBuilder::f32(double value) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(static_cast<float>(value)));
}

Value KernelBuilder::toIndex(Value i64Value) {
  return arith::IndexCastOp::create(b, b.getIndexType(), i64Value);
}

Value KernelBuilder::toI64(Value indexValue) {
  return arith::IndexCastOp::create(b, b.getI64Type(), indexValue);
}

Value KernelBuilder::loadF32(Value memref, ValueRange indices) {
  Value value = memref::LoadOp::create(b, memref, indices);
  Type type = value.getType();
  if (isa<FloatType>(type) && !type.isF32())
    value = arith::ExtFOp::create(b, b.getF32Type(), value);
  return value;
}

void KernelBuilder::storeF32(Value value, Value memref, ValueRange indices) {
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  if (element != value.getType())
    value = arith::TruncFOp::create(b, element, value);
  memref::StoreOp::create(b, value, memref, indices);
}

Value KernelBuilder::allocateScratch(MemRefType type, ValueRange dynamicSizes) {
  // What the compile time knows of its size: static dims and constant dynamic ones.
  uint64_t bytes = llvm::divideCeil(type.getElementTypeBitWidth(), 8);
  unsigned next = 0;
  for (int64_t dim : type.getShape()) {
    std::optional<int64_t> known =
        ShapedType::isDynamic(dim) ? getConstantIntValue(dynamicSizes[next++]) : dim;
    bytes = llvm::SaturatingMultiply(bytes, static_cast<uint64_t>(known.value_or(1)));
  }
  staticScratchBytes = llvm::SaturatingAdd(staticScratchBytes, bytes);
  Value buffer = memref::AllocOp::create(b, type, dynamicSizes);
  unguardedScratch.push_back(buffer);
  return buffer;
}

void KernelBuilder::guardScratch() {
  Value zero = index(0);
  Value allocated = arith::ConstantOp::create(b, b.getBoolAttr(true));
  for (Value buffer : unguardedScratch) {
    Value pointer = memref::ExtractAlignedPointerAsIndexOp::create(b, buffer);
    Value nonNull = arith::CmpIOp::create(b, arith::CmpIPredicate::ne, pointer, zero);
    allocated = arith::AndIOp::create(b, allocated, nonNull);
  }
  auto ifOp = scf::IfOp::create(b, TypeRange{}, allocated, /*withElseRegion=*/true);
  // Out of memory (rare): the byte count, computed here only, for the message.
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  Value bytes = zero;
  for (Value buffer : unguardedScratch) {
    auto type = cast<MemRefType>(buffer.getType());
    Value size = index(llvm::divideCeil(type.getElementTypeBitWidth(), 8));
    for (unsigned dim = 0; dim < type.getRank(); ++dim)
      size = arith::MulIOp::create(b, size, memref::DimOp::create(b, buffer, dim));
    bytes = arith::AddIOp::create(b, bytes, size);
  }
  memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::maxs, toI64(bytes), sizesMemRef,
                              ValueRange{index(statusPosition)});
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  scratchGuards.push_back({ifOp, std::move(unguardedScratch)});
  unguardedScratch.clear();
}

void KernelBuilder::freeScratch() {
  ScratchGuard guard = scratchGuards.pop_back_val();
  b.setInsertionPointAfter(guard.ifOp);
  for (Value buffer : guard.buffers)
    memref::DeallocOp::create(b, buffer);
}

SmallVector<Value>
KernelBuilder::loop(Value lb, Value ub, Value step, ValueRange inits,
                    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto forOp = scf::ForOp::create(b, lb, ub, step, inits);
  OpBuilder::InsertionGuard guard(b);
  Block *block = forOp.getBody();
  if (inits.empty())
    b.setInsertionPoint(block->getTerminator());
  else
    b.setInsertionPointToStart(block);
  SmallVector<Value> carried = body(forOp.getInductionVar(), forOp.getRegionIterArgs());
  if (!inits.empty())
    scf::YieldOp::create(b, carried);
  return forOp.getResults();
}

void KernelBuilder::forEachIndex(Value memref, SmallVector<Value> indices, unsigned first,
                                 function_ref<std::pair<Value, Value>(unsigned dim)> span,
                                 function_ref<void(ValueRange indices)> leaf) {
  unsigned rank = cast<MemRefType>(memref.getType()).getRank();
  indices.resize(rank);
  std::function<void(unsigned)> walk = [&](unsigned dim) {
    if (dim == rank)
      return leaf(indices);
    auto [begin, end] = span(dim);
    if (!end) {
      indices[dim] = begin;
      return walk(dim + 1);
    }
    loop(begin, end, index(1), {}, [&](Value x, ValueRange) {
      indices[dim] = x;
      walk(dim + 1);
      return SmallVector<Value>{};
    });
  };
  walk(first);
}

SmallVector<Value> KernelBuilder::ifElse(Value cond, TypeRange types,
                                         function_ref<SmallVector<Value>()> thenBody,
                                         function_ref<SmallVector<Value>()> elseBody) {
  auto ifOp = scf::IfOp::create(b, types, cond, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  for (auto [block, body] :
       {std::pair{ifOp.thenBlock(), thenBody}, std::pair{ifOp.elseBlock(), elseBody}}) {
    if (types.empty())
      b.setInsertionPoint(block->getTerminator());
    else
      b.setInsertionPointToStart(block);
    SmallVector<Value> values = body();
    if (!types.empty())
      scf::YieldOp::create(b, values);
  }
  return ifOp.getResults();
}

void KernelBuilder::ifThen(Value cond, function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, TypeRange(), cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

/// tmix.read: out-of-bounds indices read 0 (false), so no kernel touches memory
/// outside its arguments.
Value KernelBuilder::readElement(Operation *op, IRMapping &mapping) {
  auto read = cast<ReadOp>(op);
  auto arg = cast<BlockArgument>(read.getTensor());
  Value memref = argMemRef(arg.getArgNumber());
  auto tensorType = cast<SpecTensorType>(arg.getType());
  SmallVector<Value> indices;
  Value inBounds;
  for (auto [dim, index] : llvm::enumerate(read.getIndices())) {
    Value value = mapping.lookup(index);
    Value zero = arith::ConstantOp::create(b, b.getI64IntegerAttr(0));
    Value extent = toI64(dimValue(tensorType.getDims()[dim]));
    Value ok = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, value, zero),
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, value, extent));
    inBounds = inBounds ? arith::AndIOp::create(b, inBounds, ok) : ok;
    indices.push_back(toIndex(value));
  }
  Type resultType = read.getResult().getType();
  if (!inBounds)
    return loadF32(memref, indices);
  return ifElse(
      inBounds, resultType, [&] { return SmallVector<Value>{loadF32(memref, indices)}; },
      [&] {
        return SmallVector<Value>{
            arith::ConstantOp::create(b, b.getZeroAttr(resultType)).getResult()};
      })[0];
}

/// Integer `/` and `%` never trap: x / 0 = x % 0 = 0 (docs/language.md), and the
/// INT64_MIN / -1 overflow wraps.
void KernelBuilder::cloneIntegerDivision(Operation &op, IRMapping &mapping) {
  Value lhs = mapping.lookup(op.getOperand(0)), rhs = mapping.lookup(op.getOperand(1));
  Type type = lhs.getType();
  auto constant = [&](int64_t value) {
    return Value(arith::ConstantOp::create(b, b.getIntegerAttr(type, value)));
  };
  Value zero = constant(0), minusOne = constant(-1);
  Value byZero = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rhs, zero);
  Value byMinusOne = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, rhs, minusOne);
  Value special = arith::OrIOp::create(b, byZero, byMinusOne);
  Value safe = arith::SelectOp::create(b, special, constant(1), rhs);
  Value result;
  if (isa<arith::FloorDivSIOp>(op)) {
    Value quotient = arith::FloorDivSIOp::create(b, lhs, safe);
    Value negated = arith::SubIOp::create(b, zero, lhs);
    result = arith::SelectOp::create(
        b, byZero, zero, arith::SelectOp::create(b, byMinusOne, negated, quotient));
  } else {
    result =
        arith::SelectOp::create(b, special, zero, arith::RemSIOp::create(b, lhs, safe));
  }
  mapping.map(op.getResult(0), result);
}

void KernelBuilder::cloneScalarOp(Operation &op, IRMapping &mapping) {
  if (isa<arith::FloorDivSIOp, arith::RemSIOp>(op))
    return cloneIntegerDivision(op, mapping);
  if (auto size = dyn_cast<SizeOp>(op)) {
    mapping.map(size.getResult(), toI64(sizeValue(size.getSymbol())));
    return;
  }
  // A recurrence's program runs one parallel point: its grid coordinates.
  if (auto index = dyn_cast<ParallelIndexOp>(op)) {
    mapping.map(index.getResult(), toI64(gridIndex(index.getDim())));
    return;
  }
  if (isa<ReadOp>(op)) {
    mapping.map(op.getResult(0), readElement(&op, mapping));
    return;
  }
  b.clone(op, mapping);
}

SmallVector<Value> KernelBuilder::inlineRegion(Region &region, ValueRange args) {
  IRMapping mapping = scalarArgs;
  Block &block = region.front();
  mapping.map(block.getArguments(), args);
  SmallVector<Value> results;
  for (Operation &op : block) {
    if (auto yield = dyn_cast<YieldOp>(op)) {
      for (Value value : yield.getValues())
        results.push_back(mapping.lookup(value));
      break;
    }
    cloneScalarOp(op, mapping);
  }
  return results;
}
