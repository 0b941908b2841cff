//===- tmix-opt.cpp - mlir-opt with the tmix dialect ----------------------===//
//
// Parses, verifies, transforms and prints tmix IR; the driver of the dialect and pass
// tests. Every upstream dialect and pass is registered too, so lowered IR round-trips.
//
//===----------------------------------------------------------------------===//

#include "dialect/TileOps.h"
#include "dialect/TmixDialect.h"
#include "codegen/cpu/CpuTargetInfo.h"
#include "codegen/cpu/Passes.h"
#include "codegen/nvidia/NvidiaTargetInfo.h"
#include "codegen/nvidia/Passes.h"
#include "passes/Passes.h"
#include "test/lib/TestPasses.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllPasses();
  mlir::tmix::registerTmixPasses();
  mlir::tmix::registerTmixCpuPasses();
  mlir::tmix::registerTmixNvidiaPasses();
  mlir::tmix::registerTmixTestPasses();
  // The targets that tmix-schedule chooses and checks schedules for.
  mlir::tmix::registerCpuTargetInfo();
  mlir::tmix::registerNvidiaTargetInfos();
  registry.insert<mlir::tmix::TmixDialect, mlir::tmix::tile::TmixTileDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "tmix optimizer driver\n", registry));
}
