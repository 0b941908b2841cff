// RUN: tmix-opt %s --tmix-schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: tmix-opt %s --tmix-schedule="block-m=32 block-n=128" | FileCheck %s --check-prefix=OVERRIDE
// RUN: not tmix-opt %s --tmix-schedule="block-m=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: tmix-opt %s --tmix-schedule="lanes=8 vector-registers=16" | FileCheck %s --check-prefix=AVX2
// RUN: not tmix-opt %s --tmix-schedule="lanes=0" 2>&1 | FileCheck %s --check-prefix=BADLANES
// RUN: tmix-opt %s --tmix-schedule="recurrence-form=chunked chunk=32 chunked-min-steps=100" | FileCheck %s --check-prefix=CHUNKED
// RUN: not tmix-opt %s --tmix-schedule="recurrence-form=parallel" 2>&1 | FileCheck %s --check-prefix=BADFORM
// RUN: not tmix-opt %s --tmix-schedule="chunk=0" 2>&1 | FileCheck %s --check-prefix=BADCHUNK
// Every option has an upper bound too (passes/ScheduleBounds.h): tile and chunk sizes
// become buffer sizes and unrolled blocks.
// RUN: not tmix-opt %s --tmix-schedule="block-n=9223372036854775807" 2>&1 | FileCheck %s --check-prefix=HUGEN
// RUN: not tmix-opt %s --tmix-schedule="block-m=4097" 2>&1 | FileCheck %s --check-prefix=HUGEM
// RUN: not tmix-opt %s --tmix-schedule="lanes=65" 2>&1 | FileCheck %s --check-prefix=HUGELANES
// RUN: not tmix-opt %s --tmix-schedule="vector-registers=257" 2>&1 | FileCheck %s --check-prefix=HUGEREGS
// RUN: not tmix-opt %s --tmix-schedule="chunk=1025" 2>&1 | FileCheck %s --check-prefix=HUGECHUNK
// RUN: not tmix-opt %s --tmix-schedule="chunked-min-steps=4294967297" 2>&1 | FileCheck %s --check-prefix=HUGEMIN
// RUN: not tmix-opt %s --tmix-schedule="block-m=4096 lanes=8" 2>&1 | FileCheck %s --check-prefix=ROWVECTORS
// RUN: tmix-opt %s --tmix-schedule="block-m=4096 block-n=4096 lanes=16 vector-registers=256 chunk=1024 chunked-min-steps=4294967296" | FileCheck %s --check-prefix=LARGEST

// DEFAULT-LABEL: tmix.attention @plain
// DEFAULT: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 64 : i64, lanes = 16 : i64, vector_registers = 32 : i64}}
// OVERRIDE-LABEL: tmix.attention @plain
// OVERRIDE: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 128 : i64, lanes = 16 : i64, vector_registers = 32 : i64}}
// AVX2-LABEL: tmix.attention @plain
// AVX2: attributes {tmix.schedule = {block_m = 32 : i64, block_n = 64 : i64, lanes = 8 : i64, vector_registers = 16 : i64}}
// BAD: error: bad schedule option block-m=0: at least 1
// BADLANES: error: bad schedule option lanes=0: at least 1
// HUGEN: error: bad schedule option block-n=9223372036854775807: at most 4096
// HUGEM: error: bad schedule option block-m=4097: at most 4096
// HUGELANES: error: bad schedule option lanes=65: at most 64
// HUGEREGS: error: bad schedule option vector-registers=257: between 4 and 256
// HUGECHUNK: error: bad schedule option chunk=1025: at most 1024
// HUGEMIN: error: bad schedule option chunked-min-steps=4294967297: at most 4294967296
// ROWVECTORS: error: bad schedule options: block_m=4096 with lanes=8 needs more than 256 lane vectors per tile: at most block_m=2048
// LARGEST-LABEL: tmix.attention @plain
// LARGEST: attributes {tmix.schedule = {block_m = 4096 : i64, block_n = 4096 : i64, lanes = 16 : i64, vector_registers = 256 : i64}}
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

// A recurrence: its form (auto: a run-time choice on T), chunk size and the T from
// which auto takes the chunked form.
// DEFAULT-LABEL: tmix.recurrence @decay
// DEFAULT: attributes {tmix.schedule = {chunk = 64 : i64, chunked_min_steps = 1 : i64, recurrence_form = "auto"}}
// CHUNKED-LABEL: tmix.recurrence @decay
// CHUNKED: attributes {tmix.schedule = {chunk = 32 : i64, chunked_min_steps = 100 : i64, recurrence_form = "chunked"}}
// BADFORM: error: unknown recurrence form 'parallel' (expected auto, chunked or recurrent)
// BADCHUNK: error: bad schedule option chunk=0: at least 1
// LARGEST-LABEL: tmix.recurrence @decay
// LARGEST: attributes {tmix.schedule = {chunk = 1024 : i64, chunked_min_steps = 4294967296 : i64, recurrence_form = "auto"}}
tmix.recurrence @decay(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %S, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %o = tmix.vecmat %k_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
