// RUN: tmix-opt %s --tmix-schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: tmix-opt %s --tmix-schedule="block-m=32 block-n=128" | FileCheck %s --check-prefix=OVERRIDE
// RUN: not tmix-opt %s --tmix-schedule="block-m=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: tmix-opt %s --tmix-schedule="lanes=8 vector-registers=16" | FileCheck %s --check-prefix=AVX2
// RUN: not tmix-opt %s --tmix-schedule="lanes=0" 2>&1 | FileCheck %s --check-prefix=BADLANES

// DEFAULT-LABEL: tmix.attention @plain
// DEFAULT: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 64 : i64, lanes = 16 : i64, vector_registers = 32 : i64}}
// OVERRIDE-LABEL: tmix.attention @plain
// OVERRIDE: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 128 : i64, lanes = 16 : i64, vector_registers = 32 : i64}}
// AVX2-LABEL: tmix.attention @plain
// AVX2: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 64 : i64, lanes = 8 : i64, vector_registers = 16 : i64}}
// BAD: error: tile sizes must be positive (block-m=0, block-n=64)
// BADLANES: error: bad vector shape (lanes=0, vector-registers=32)
tmix.attention @plain(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                      %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}

// A schedule already chosen is kept.
// DEFAULT-LABEL: tmix.attention @chosen
// DEFAULT: attributes {tmix.schedule = {block_m = 8 : i64, block_n = 8 : i64}}
tmix.attention @chosen(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                       %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) attributes {tmix.schedule = {block_m = 8 : i64, block_n = 8 : i64}} {
}
