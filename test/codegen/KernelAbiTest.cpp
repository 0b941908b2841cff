//===- KernelAbiTest.cpp - The kernel ABI decoded into the manifests ------===//
//
// codegen/KernelAbi turns #tmix.kernel into the runtime's manifests: every part lands
// in its field, and an ABI at the dialect verifier's limits gives a manifest that the
// runtime's own checks accept (the two sets of limits agree). Also the verifier's
// checks that no text can reach: built attributes, verified on their function.
//
//===----------------------------------------------------------------------===//

#include "codegen/KernelAbi.h"

#include "dialect/TmixDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace tmix;

namespace {

/// A parsed (so verified) #tmix.kernel, or null.
mlir::tmix::KernelAttr parseAbi(mlir::MLIRContext &context, llvm::StringRef text) {
  context.loadDialect<mlir::tmix::TmixDialect>();
  return llvm::dyn_cast_or_null<mlir::tmix::KernelAttr>(
      mlir::parseAttribute(text, &context));
}

rt::ParamDecl tensor(std::string name, std::vector<rt::DimDecl> dims) {
  rt::ParamDecl param;
  param.name = std::move(name);
  param.dtype = rt::DType::BF16;
  param.isTensor = true;
  param.dims = std::move(dims);
  return param;
}

/// attention causal(q, k, v: bf16[B, H, N, D]) -> o: bf16[B, H, N, D]
rt::SpecSignature attentionSignature() {
  std::vector<rt::DimDecl> dims{{"B", 0}, {"H", 0}, {"N", 0}, {"D", 0}};
  rt::SpecSignature signature;
  signature.name = "causal";
  for (const char *name : {"q", "k", "v"})
    signature.args.push_back(tensor(name, dims));
  signature.results.push_back(tensor("o", dims));
  return signature;
}

TEST(KernelAbi, ProgramGivesSizesAndGrid) {
  mlir::MLIRContext context;
  auto abi = parseAbi(context, "#tmix.kernel<sizes = [B, H, N, D], grid = [B:1, 8:2]>");
  ASSERT_TRUE(abi);
  rt::KernelManifest manifest = kernelManifestOf(abi, attentionSignature());
  EXPECT_EQ(manifest.signature.name, "causal");
  EXPECT_EQ(manifest.sizeSymbols, (std::vector<std::string>{"B", "H", "N", "D"}));
  ASSERT_EQ(manifest.grid.size(), 2u);
  EXPECT_EQ(manifest.grid[0].dim.symbol, "B");
  EXPECT_EQ(manifest.grid[0].tile, 1);
  EXPECT_EQ(manifest.grid[1].dim.symbol, "");
  EXPECT_EQ(manifest.grid[1].dim.size, 8);
  EXPECT_EQ(manifest.grid[1].tile, 2);
}

TEST(KernelAbi, GpuKernelGivesTheLaunch) {
  mlir::MLIRContext context;
  auto abi =
      parseAbi(context, "#tmix.kernel<sizes = [B, H, N, D], grid = [B:1, H:1, N:128], "
                        "threads = 384, shared_bytes = 51200, specialized = {D = 64}, "
                        "tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], "
                        "swizzle = 128>, #tmix.tensor_map<arg = 2, box = [64, 64], "
                        "swizzle = 0>]>");
  ASSERT_TRUE(abi);
  rt::GpuManifest manifest = gpuManifestOf(abi, attentionSignature(), "sm_90a");
  EXPECT_EQ(manifest.target, "sm_90a");
  EXPECT_EQ(manifest.blockThreads, 384);
  EXPECT_EQ(manifest.sharedBytes, 51200);
  EXPECT_EQ(manifest.specialized,
            (std::vector<std::pair<std::string, int64_t>>{{"D", 64}}));
  ASSERT_EQ(manifest.tensorMaps.size(), 2u);
  EXPECT_EQ(manifest.tensorMaps[0].arg, "q");
  EXPECT_EQ(manifest.tensorMaps[0].dtype, rt::DType::BF16);
  EXPECT_EQ(manifest.tensorMaps[0].boxColumns, 64);
  EXPECT_EQ(manifest.tensorMaps[0].boxRows, 128);
  EXPECT_EQ(manifest.tensorMaps[0].swizzleBytes, 128);
  EXPECT_EQ(manifest.tensorMaps[1].arg, "v");
  EXPECT_EQ(manifest.tensorMaps[1].swizzleBytes, 0);
  manifest.ptxFile = "causal.sm_90a.ptx";
  EXPECT_EQ(rt::validateGpuManifest(manifest), "");
}

// Every value at the largest the verifier takes: the runtime takes it too.
TEST(KernelAbi, VerifierLimitsAreTheRuntimes) {
  mlir::MLIRContext context;
  auto abi =
      parseAbi(context, "#tmix.kernel<sizes = [B, H, N, D], grid = [B:2147483647, "
                        "H:1, N:1, 2147483647:1, 1:1, 1:1, 1:1, 1:1], threads = 1024, "
                        "shared_bytes = 232448, specialized = {D = 2147483647}, "
                        "tensor_maps = [#tmix.tensor_map<arg = 1, box = [256, 256], "
                        "swizzle = 0>]>");
  ASSERT_TRUE(abi);
  rt::GpuManifest manifest = gpuManifestOf(abi, attentionSignature(), "sm_90a");
  manifest.ptxFile = "causal.sm_90a.ptx";
  EXPECT_EQ(rt::validateGpuManifest(manifest), "");
}

/// The errors `check` reports through a handler on `context`, joined by "; ".
std::string diagnosticsOf(mlir::MLIRContext &context, llvm::function_ref<void()> check) {
  std::string errors;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diagnostic) {
    errors += (errors.empty() ? "" : "; ") + diagnostic.str();
    return mlir::success();
  });
  check();
  return errors;
}

// What only a builder can get wrong (the parser makes i64s and strings): a grid dim or
// a specialised size of another kind.
TEST(KernelAbi, VerifierRejectsWhatOnlyBuildersMake) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::tmix::TmixDialect>();
  mlir::Builder b(&context);
  auto emitError = [&] { return mlir::emitError(b.getUnknownLoc()); };

  mlir::Attribute notADim = b.getF32FloatAttr(4);
  EXPECT_EQ(diagnosticsOf(context,
                          [&] {
                            EXPECT_FALSE(mlir::tmix::GridDimAttr::getChecked(
                                emitError, &context, notADim, int64_t{1}));
                          }),
            "grid dimension must be an i64 size or a size symbol, got "
            "4.000000e+00 : f32");

  mlir::StringAttr n = b.getStringAttr("N");
  auto grid = mlir::tmix::GridDimAttr::get(&context, n, /*tile=*/64);
  mlir::DictionaryAttr i32Value =
      b.getDictionaryAttr({b.getNamedAttr("N", b.getI32IntegerAttr(64))});
  EXPECT_EQ(diagnosticsOf(context,
                          [&] {
                            EXPECT_FALSE(mlir::tmix::KernelAttr::getChecked(
                                emitError, &context, {n}, {grid}, /*threads=*/128,
                                /*shared_bytes=*/0, i32Value, /*tensor_maps=*/{},
                                /*workspace_words=*/0, /*workspace_per=*/{}));
                          }),
            "specialized size 'N' must be an i64, got 64 : i32");
}

// A lowering builds the attribute unchecked; the dialect verifies it on the function.
TEST(KernelAbi, FunctionVerifierChecksTheBuiltAttribute) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::tmix::TmixDialect, mlir::func::FuncDialect>();
  mlir::OpBuilder b(&context);
  auto module = mlir::ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(module.getBody());
  auto function = mlir::func::FuncOp::create(b, b.getUnknownLoc(), "kernel",
                                             b.getFunctionType({}, {}));
  function.setPrivate();
  auto grid = mlir::tmix::GridDimAttr::get(&context, b.getI64IntegerAttr(64), 64);
  auto abi = mlir::tmix::KernelAttr::getProgram(&context, {}, {grid});
  mlir::tmix::setKernelAbi(function, abi.withLaunch(/*threads=*/2048, 0, {}));
  EXPECT_EQ(
      diagnosticsOf(context, [&] { EXPECT_TRUE(mlir::failed(mlir::verify(module))); }),
      "'func.func' op threads must be in 1..1024, got 2048");
  mlir::tmix::setKernelAbi(function, abi.withLaunch(/*threads=*/128, 0, {}));
  EXPECT_TRUE(mlir::succeeded(mlir::verify(module)));
  module->erase();
}

} // namespace
