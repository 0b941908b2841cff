// RUN: tmix-opt %s | tmix-opt | FileCheck %s
// RUN: tmix-opt %s --mlir-print-op-generic | tmix-opt | FileCheck %s

// Round trip of the kernel ABI (#tmix.kernel) and its parts, in every form a lowering
// writes: a CPU program, GPU kernels with and without specialised sizes and tensor
// maps. Symbols may be written as strings; they print bare.

// CHECK-LABEL: func.func private @program(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:64]>}
func.func private @program(i64, memref<?xi64>)
    attributes {tmix.kernel = #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:64]>}

// No size symbols; a literal grid dimension.
// CHECK-LABEL: func.func private @literal(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [], grid = [64:64]>}
func.func private @literal(i64, memref<?xi64>)
    attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [64:64]>}

// A GPU kernel: shared_bytes is printed even when 0.
// CHECK-LABEL: func.func private @simt(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, T], grid = [B:1, 128:32], threads = 128, shared_bytes = 0>}
func.func private @simt(memref<?xi64>)
    attributes {tmix.kernel = #tmix.kernel<sizes = ["B", "T"], grid = ["B":1, 128:32], threads = 128>}

// Every part; specialised sizes print sorted by name.
// CHECK-LABEL: func.func private @hopper(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N, D], grid = [B:1, H:1, N:128], threads = 384, shared_bytes = 51200, specialized = {D = 128, N = 4096},
// CHECK-SAME: tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>, #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 0>]>}
func.func private @hopper(memref<?x?x?x?xbf16>, memref<?x?x?x?xbf16>, memref<?xi64>, i64)
    attributes {tmix.kernel = #tmix.kernel<sizes = [B, H, N, D], grid = [B:1, H:1, N:128],
                threads = 384, shared_bytes = 51200, specialized = {N = 4096, D = 128},
                tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>,
                               #tmix.tensor_map<arg = 1, box = [64, 64], swizzle = 0>]>}

// A workspace per unit of B * H, and one without symbols.
// CHECK-LABEL: func.func private @workspace(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, N], grid = [H:1, 64:1], threads = 128, shared_bytes = 1024, workspace = 192 per [B, H]>}
func.func private @workspace(memref<?xi64>, memref<?xi64>)
    attributes {tmix.kernel = #tmix.kernel<sizes = [B, H, N], grid = [H:1, 64:1], threads = 128,
                shared_bytes = 1024, workspace = 192 per [B, "H"]>}
// CHECK-LABEL: func.func private @fixed_workspace(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [N], grid = [64:1], threads = 128, shared_bytes = 0, workspace = 8>}
func.func private @fixed_workspace(memref<?xi64>, memref<?xi64>)
    attributes {tmix.kernel = #tmix.kernel<sizes = [N], grid = [64:1], threads = 128, workspace = 8>}

// The parts on their own.
// CHECK-LABEL: func.func private @parts(
// CHECK-SAME: dim = #tmix.grid_dim<N:64>, map = #tmix.tensor_map<arg = 2, box = [32, 16], swizzle = 64>
func.func private @parts()
    attributes {dim = #tmix.grid_dim<N:64>,
                map = #tmix.tensor_map<arg = 2, box = [32, 16], swizzle = 64>}
