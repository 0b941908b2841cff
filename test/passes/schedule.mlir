// RUN: tmix-opt %s --split-input-file --tmix-schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: tmix-opt %s --split-input-file --tmix-schedule="block-m=32 block-n=128" | FileCheck %s --check-prefix=OVERRIDE
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="block-m=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: tmix-opt %s --split-input-file --tmix-schedule="lanes=8 vector-registers=16" | FileCheck %s --check-prefix=AVX2
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="lanes=0" 2>&1 | FileCheck %s --check-prefix=BADLANES
// RUN: tmix-opt %s --split-input-file --tmix-schedule="recurrence-form=chunked chunk=32 chunked-min-steps=100" | FileCheck %s --check-prefix=CHUNKED
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="recurrence-form=parallel" 2>&1 | FileCheck %s --check-prefix=BADFORM
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="chunk=0" 2>&1 | FileCheck %s --check-prefix=BADCHUNK
// Every option has an upper bound too (dialect/ScheduleBounds.h): tile and chunk sizes
// become buffer sizes and unrolled blocks.
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="block-n=9223372036854775807" 2>&1 | FileCheck %s --check-prefix=HUGEN
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="block-m=4097" 2>&1 | FileCheck %s --check-prefix=HUGEM
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="lanes=65" 2>&1 | FileCheck %s --check-prefix=HUGELANES
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="vector-registers=257" 2>&1 | FileCheck %s --check-prefix=HUGEREGS
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="chunk=1025" 2>&1 | FileCheck %s --check-prefix=HUGECHUNK
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="chunked-min-steps=4294967297" 2>&1 | FileCheck %s --check-prefix=HUGEMIN
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="block-m=4096 lanes=8" 2>&1 | FileCheck %s --check-prefix=ROWVECTORS
// RUN: tmix-opt %s --split-input-file --tmix-schedule="block-m=4096 block-n=4096 lanes=16 vector-registers=256 chunk=1024 chunked-min-steps=4294967296" | FileCheck %s --check-prefix=LARGEST
// The CPU runs no GPU values.
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="stages=2" 2>&1 | FileCheck %s --check-prefix=CPUSTAGES
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=gfx942" 2>&1 | FileCheck %s --check-prefix=TARGET

// The GPU targets (NvidiaTargetInfo.h): their kernels' geometry, the stages that fit,
// a CPU schedule refused.
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 specialize=D=64" 2>%t.sm80 | FileCheck %s --check-prefix=SM80
// RUN: FileCheck %s --check-prefix=SM80-ERR < %t.sm80
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 specialize=D=256" 2>/dev/null | FileCheck %s --check-prefix=SM80-D256
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 stages=1" 2>/dev/null | FileCheck %s --check-prefix=SM80-ONE
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 block-m=32" 2>&1 | FileCheck %s --check-prefix=SM80-BLOCKM
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_80 specialize=D=256 stages=2" 2>&1 | FileCheck %s --check-prefix=SM80-SHARED
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_90a" 2>%t.sm90 | FileCheck %s --check-prefix=SM90
// RUN: FileCheck %s --check-prefix=SM90-ERR < %t.sm90
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_90a block-n=128" 2>&1 | FileCheck %s --check-prefix=SM90-BLOCKN
// RUN: not tmix-opt %s --split-input-file --tmix-schedule="target=sm_90a chunk=128" 2>&1 | FileCheck %s --check-prefix=SM90-CHUNK

// DEFAULT-LABEL: tmix.attention @plain
// DEFAULT: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = {{[0-9]+}}, vector_registers = {{[0-9]+}}>}
// OVERRIDE-LABEL: tmix.attention @plain
// OVERRIDE: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 32, block_n = 128, lanes = {{[0-9]+}}, vector_registers = {{[0-9]+}}>}
// AVX2-LABEL: tmix.attention @plain
// AVX2: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 8, vector_registers = 16>}
// BAD: error: bad schedule option block-m=0: at least 1
// BADLANES: error: bad schedule option lanes=0: at least 1
// HUGEN: error: bad schedule option block-n=9223372036854775807: at most 4096
// HUGEM: error: bad schedule option block-m=4097: at most 4096
// HUGELANES: error: bad schedule option lanes=65: at most 64
// HUGEREGS: error: bad schedule option vector-registers=257: between 4 and 256
// HUGECHUNK: error: bad schedule option chunk=1025: at most 1024
// HUGEMIN: error: bad schedule option chunked-min-steps=4294967297: at most 4294967296
// ROWVECTORS: error: schedule block_m=4096 with lanes=8 needs more than 256 lane vectors per tile: at most block_m=2048
// LARGEST-LABEL: tmix.attention @plain
// LARGEST: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 4096, block_n = 4096, lanes = 16, vector_registers = 256>}
// CPUSTAGES: error: schedule stages=2 does not fit the CPU's attention program: stages is a GPU value (0 on the CPU)
// TARGET: error: unknown target 'gfx942' (expected one of cpu, sm_80, sm_90a)
// SM80-LABEL: tmix.attention @plain
// SM80: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 1>}
// SM80-ONE-LABEL: tmix.attention @plain
// SM80-ONE: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 1>}
// SM80-BLOCKM: error: schedule block_m=32 does not fit sm_80's attention kernel: block_m must be 64 (4 warps of 16 rows)
// SM90-LABEL: tmix.attention @plain
// SM90: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 128, block_n = 64, warps = 12, stages = 2>}
// SM90-BLOCKN: error: schedule block_n=128 does not fit sm_90a's attention kernel: block_n must be 64 (the n of its m64nNk16 wgmma for S = Q K^T)
tmix.attention @plain(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                      %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}

// -----

// A schedule already chosen is checked, not replaced: the CPU runs it; a GPU target
// refuses its CPU values.
// DEFAULT-LABEL: tmix.attention @chosen
// DEFAULT: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 8, block_n = 8, lanes = 4, vector_registers = 16>}
// SM80-ERR: error: schedule lanes=4 does not fit sm_80's attention kernel: lanes is a CPU value (0 on a GPU)
// SM90-ERR: error: schedule lanes=4 does not fit sm_90a's attention kernel: lanes is a CPU value (0 on a GPU)
tmix.attention @chosen(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                       %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) attributes {tmix.schedule = #tmix.attention_schedule<block_m = 8, block_n = 8, lanes = 4, vector_registers = 16>} {
}

// -----

// f32 operands are rounded into shared memory by the threads, bf16 ones copied with
// cp.async: on sm_80, two K/V stages when both buffers fit in 163 KiB (D = 64), one
// when they do not (D = 256: 168960 bytes), and a second stage refused with the bytes.
// SM80-LABEL: tmix.attention @bf16
// SM80: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>}
// SM80-D256-LABEL: tmix.attention @bf16
// SM80-D256: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 1>}
// SM80-ONE-LABEL: tmix.attention @bf16
// SM80-ONE: attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 1>}
// SM80-SHARED: error: schedule block_n=64, stages=2 does not fit sm_80's attention kernel: it needs 168960 bytes of shared memory, more than the 166912 (163 KiB) of an sm_80 CTA; use stages=1
tmix.attention @bf16(%q: !tmix.tensor<[B, H, N, D], bf16>, %k: !tmix.tensor<[B, H, M, D], bf16>,
                     %v: !tmix.tensor<[B, H, M, D], bf16>)
    -> (o: !tmix.tensor<[B, H, N, D], bf16>) {
}

// -----

// A recurrence: its form (auto: a run-time choice on T), chunk size and the T from
// which auto takes the chunked form. The GPU kernel runs chunks of 64 steps.
// DEFAULT-LABEL: tmix.recurrence @decay
// DEFAULT: attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 64>}
// CHUNKED-LABEL: tmix.recurrence @decay
// CHUNKED: attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 32, chunked_min_steps = 100>}
// BADFORM: error: unknown recurrence form 'parallel' (expected auto, chunked or recurrent)
// BADCHUNK: error: bad schedule option chunk=0: at least 1
// LARGEST-LABEL: tmix.recurrence @decay
// LARGEST: attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 1024, chunked_min_steps = 4294967296>}
// SM80-LABEL: tmix.recurrence @decay
// SM80: attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>}
// SM90-LABEL: tmix.recurrence @decay
// SM90: attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 64>}
// SM90-CHUNK: error: schedule chunk=128 does not fit sm_90a's recurrence kernel: chunk must be 64 (4 warps of 16 steps)
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
