// RUN: tmix-opt %s -split-input-file -verify-diagnostics

// One case per verifier and parser message of the kernel ABI (#tmix.kernel and its
// parts), and of `tmix.kernel` on an op. The ABI is what the runtime's manifest is
// written from: these are the values its parser would refuse.

// expected-error @+1 {{size symbol 'N.x' is not an identifier}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [N.x], grid = []>}

// -----

// expected-error @+1 {{size symbol 'N' appears twice}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B, N, N], grid = [B:1]>}

// -----

// expected-error @+1 {{grid has 9 dimensions; at most 8}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1, 1:1, 1:1, 1:1, 1:1, 1:1, 1:1, 1:1, 1:1]>}

// -----

// expected-error @+1 {{grid dimension 'M' is not a size symbol of the kernel}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B, N], grid = [B:1, M:64]>}

// -----

// expected-error @+1 {{grid dimension size must be in 1..2147483647, got 0}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [0:64]>}

// -----

// expected-error @+1 {{grid tile must be in 1..2147483647, got 0}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [N], grid = [N:0]>}

// -----

// expected-error @+1 {{grid tile must be in 1..2147483647, got 4294967296}}
func.func private @f() attributes {dim = #tmix.grid_dim<N:4294967296>}

// -----

// expected-error @+1 {{threads must be in 1..1024, got 0}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 0>}

// -----

// expected-error @+1 {{threads must be in 1..1024, got 2048}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 2048>}

// -----

// expected-error @+1 {{shared_bytes must be in 0..232448, got -1}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 128, shared_bytes = -1>}

// -----

// expected-error @+1 {{shared_bytes must be in 0..232448, got 232449}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 128, shared_bytes = 232449>}

// -----

// expected-error @+1 {{a GPU kernel's grid needs at least one dimension}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [], threads = 128, shared_bytes = 0>}

// -----

// expected-error @+1 {{shared_bytes, specialized, tensor_maps and workspace are parts of a GPU launch: they need threads}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [], shared_bytes = 1024>}

// -----

// expected-error @+1 {{specialized size 'D' is not a size symbol of the kernel}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [N], grid = [N:64], threads = 128, shared_bytes = 0, specialized = {D = 64}>}

// -----

// expected-error @+1 {{specialized size 'D' must be in 1..2147483647, got 0}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [D], grid = [1:1], threads = 128, shared_bytes = 0, specialized = {D = 0}>}

// -----

// expected-error @+1 {{specialized size 'D' appears twice}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [D], grid = [1:1], threads = 128, shared_bytes = 0, specialized = {D = 64, D = 128}>}

// -----

// expected-error @+1 {{tensor map argument must not be negative, got -1}}
func.func private @f() attributes {map = #tmix.tensor_map<arg = -1, box = [64, 64], swizzle = 128>}

// -----

// expected-error @+1 {{tensor map box must be in 1..256 along each dimension, got [64, 512]}}
func.func private @f() attributes {map = #tmix.tensor_map<arg = 0, box = [64, 512], swizzle = 128>}

// -----

// expected-error @+1 {{tensor map box must be in 1..256 along each dimension, got [0, 64]}}
func.func private @f() attributes {map = #tmix.tensor_map<arg = 0, box = [0, 64], swizzle = 128>}

// -----

// expected-error @+1 {{tensor map swizzle must be 0, 32, 64 or 128 bytes, got 16}}
func.func private @f() attributes {map = #tmix.tensor_map<arg = 0, box = [64, 64], swizzle = 16>}

// -----

// expected-error @+1 {{tensor maps #0 and #1 read the same argument 0}}
func.func private @f(i64) attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 384, shared_bytes = 0, tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 64], swizzle = 128>, #tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>]>}

// -----

// The launch parts come in their printed order.
// expected-error @+1 {{expected 'workspace'}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [], shared_bytes = 0, threads = 128>}

// -----

// expected-error @+1 {{'tmix.kernel' must be a #tmix.kernel attribute, got 5 : i64}}
func.func private @f() attributes {tmix.kernel = 5}

// -----

// expected-error @+1 {{'tmix.kernel' is the ABI of a function}}
module attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = []>} {}

// -----

// expected-error @+1 {{tensor map argument 2 is not an argument of the kernel (it has 2)}}
func.func private @f(i64, i64) attributes {tmix.kernel = #tmix.kernel<sizes = [], grid = [1:1], threads = 384, shared_bytes = 0, tensor_maps = [#tmix.tensor_map<arg = 2, box = [64, 64], swizzle = 128>]>}

// -----

// expected-error @+1 {{workspace words must be in 1..2147483647, got -8}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B], grid = [B:1], threads = 128, shared_bytes = 0, workspace = -8 per [B]>}

// -----

// expected-error @+1 {{workspace size 'H' is not a size symbol of the kernel}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B], grid = [B:1], threads = 128, shared_bytes = 0, workspace = 8 per [B, H]>}

// -----

// expected-error @+1 {{workspace size 'B' appears twice}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B], grid = [B:1], threads = 128, shared_bytes = 0, workspace = 8 per [B, B]>}

// -----

// A workspace is a part of the GPU launch.
// expected-error @+1 {{shared_bytes, specialized, tensor_maps and workspace are parts of a GPU launch: they need threads}}
func.func private @f() attributes {tmix.kernel = #tmix.kernel<sizes = [B], grid = [B:1], workspace = 8>}
