// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-tile-attention --tmix-tile-recurrence --tmix-lower-attention-to-loops --tmix-lower-recurrence-to-loops -o %t

// The CPU lowerings read `tmix.schedule`, which may be written by hand: its ranges are
// the attribute's to check (dialect/ScheduleBounds.h, test/dialect/invalid.mlir), its
// kind and what the CPU runs the CPU TargetInfo's, before any value becomes a tile
// size, a loop step or a buffer size; then the lowering counts the per-program
// scratch buffers that the schedule and the fixed dims make known at compile time.

// expected-error @+1 {{'tmix.attention' op has a schedule that is not a #tmix.attention_schedule: {block_n = "64"}}}
tmix.attention @not_a_schedule(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                               %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_n = "64"}} {
}

// -----

// A GPU schedule: no vector shape for the micro-kernels.
// expected-error @+1 {{schedule lanes=0 does not fit the CPU's attention program: its micro-kernels need a vector shape (lanes and vector_registers, e.g. 16 and 32)}}
tmix.attention @no_lanes(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                         %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>} {
}

// -----


// The largest tiles with a fixed head dim of 4096 in bf16 (staged K and V tiles of
// 4096 x 4096 f32): more scratch per program than kMaxProgramScratchBytes.
// expected-error @+1 {{'tmix.attention' op needs 184557568 bytes of scratch buffers per program (block_m=1024, block_n=4096 and the fixed head dims), more than 67108864: choose smaller tiles}}
tmix.attention @huge_scratch(%q: !tmix.tensor<[B, H, N, 4096], bf16>, %k: !tmix.tensor<[B, H, M, 4096], bf16>,
                             %v: !tmix.tensor<[B, H, M, 4096], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 4096], bf16>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 1024, block_n = 4096, lanes = 16, vector_registers = 32>} {
}

// -----


// Each tile size in its range, but not their product: S^T alone is 4096 x 4096 f32.
// expected-error @+1 {{'tmix.attention' op needs 69238784 bytes of scratch buffers per program (block_m=4096, block_n=4096 and the fixed head dims), more than 67108864: choose smaller tiles}}
tmix.attention @huge_tiles(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                           %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 4096, block_n = 4096, lanes = 16, vector_registers = 32>} {
}

// -----


// Large tiles with head dims of 64 lower (no diagnostic).
tmix.attention @largest_tiles(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, M, 64], bf16>,
                              %v: !tmix.tensor<[B, H, M, 64], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 64], bf16>)
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 1024, block_n = 4096, lanes = 16, vector_registers = 32>} {
}

// -----


// A fixed 4096 x 4096 state: its buffer and the map's are 64 MiB each (the outer
// product, read once by the map, is computed where it is read).
// expected-error @+1 {{'tmix.recurrence' op needs 134266880 bytes of scratch buffers per program (chunk=64 and the fixed state and step dims), more than 67108864: choose a smaller chunk}}
tmix.recurrence @huge_state(%k: !tmix.tensor<[B, H, T, 4096], f32>, %v: !tmix.tensor<[B, H, T, 4096], f32>)
    -> (o: !tmix.tensor<[B, H, T, 4096], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "recurrent", chunk = 64>} {
  tmix.state "S" : !tmix.tensor<[4096, 4096], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[4096, 4096], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 4096], f32> -> !tmix.tensor<[4096], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 4096], f32> -> !tmix.tensor<[4096], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[4096], f32>, !tmix.tensor<[4096], f32> -> !tmix.tensor<[4096, 4096], f32>
    %S1 = tmix.map %S, %kv : (!tmix.tensor<[4096, 4096], f32>, !tmix.tensor<[4096, 4096], f32>) -> !tmix.tensor<[4096, 4096], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %o = tmix.vecmat %k_t, %S1 : !tmix.tensor<[4096], f32>, !tmix.tensor<[4096, 4096], f32> -> !tmix.tensor<[4096], f32>
    tmix.yield %S1, %o : !tmix.tensor<[4096, 4096], f32>, !tmix.tensor<[4096], f32>
  }
}

// -----

// expected-error @+1 {{'tmix.recurrence' op has a schedule that is not a #tmix.recurrence_schedule: #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 32>}}
tmix.recurrence @attention_schedule(%k: !tmix.tensor<[B, H, T, K], f32>)
    -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T"
    attributes {tmix.schedule = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 32>} {
  tmix.step {
  ^bb0(%t: i64):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %k_t : !tmix.tensor<[K], f32>
  }
}
