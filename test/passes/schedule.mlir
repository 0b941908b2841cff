// RUN: tmix-opt %s --tmix-schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: tmix-opt %s --tmix-schedule="block-m=32 block-n=128" | FileCheck %s --check-prefix=OVERRIDE
// RUN: not tmix-opt %s --tmix-schedule="block-m=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: tmix-opt %s --tmix-schedule="lanes=8 vector-registers=16" | FileCheck %s --check-prefix=AVX2
// RUN: not tmix-opt %s --tmix-schedule="lanes=0" 2>&1 | FileCheck %s --check-prefix=BADLANES
// RUN: tmix-opt %s --tmix-schedule="recurrence-form=chunked chunk=32 chunked-min-steps=100" | FileCheck %s --check-prefix=CHUNKED
// RUN: not tmix-opt %s --tmix-schedule="recurrence-form=parallel" 2>&1 | FileCheck %s --check-prefix=BADFORM
// RUN: not tmix-opt %s --tmix-schedule="chunk=0" 2>&1 | FileCheck %s --check-prefix=BADCHUNK

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

// A recurrence: its form (auto: a run-time choice on T), chunk size and the T from
// which auto takes the chunked form.
// DEFAULT-LABEL: tmix.recurrence @decay
// DEFAULT: attributes {tmix.schedule = {chunk = 64 : i64, chunked_min_steps = 1 : i64, recurrence_form = "auto"}}
// CHUNKED-LABEL: tmix.recurrence @decay
// CHUNKED: attributes {tmix.schedule = {chunk = 32 : i64, chunked_min_steps = 100 : i64, recurrence_form = "chunked"}}
// BADFORM: error: unknown recurrence form 'parallel' (expected auto, chunked or recurrent)
// BADCHUNK: error: chunk sizes must be positive (chunk=0, chunked-min-steps=1)
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
