// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-to-loops --tmix-lower-recurrence-to-loops -o %t

// The CPU lowerings read `tmix.schedule`, which may be written by hand: each entry
// is checked against its range (passes/ScheduleBounds.h) before it becomes a tile
// size, a loop step or a buffer size, and so are the per-program scratch buffers that
// the schedule and the fixed dims make known at compile time.

// block_n = 2^63 - 1 made `8 * block_n` overflow: all-zero outputs.
// expected-error @+1 {{'tmix.attention' op schedule block_n=9223372036854775807: at most 4096}}
tmix.attention @huge_block_n(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                             %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_m = 32 : i64, block_n = 9223372036854775807 : i64, lanes = 16 : i64, vector_registers = 32 : i64}} {
}

// -----

// expected-error @+1 {{'tmix.attention' op schedule block_m=2147483648: at most 4096}}
tmix.attention @huge_block_m(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                             %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_m = 2147483648 : i64}} {
}

// -----

// expected-error @+1 {{'tmix.attention' op schedule lanes=0: at least 1}}
tmix.attention @no_lanes(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                         %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {lanes = 0 : i64}} {
}

// -----

// expected-error @+1 {{'tmix.attention' op schedule vector_registers=2: between 4 and 256}}
tmix.attention @few_registers(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                              %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {vector_registers = 2 : i64}} {
}

// -----

// The lane vectors of a tile are unrolled in every micro-kernel step.
// expected-error @+1 {{'tmix.attention' op schedule block_m=1024 with lanes=1 needs more than 256 lane vectors per tile: at most block_m=256}}
tmix.attention @many_row_vectors(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                                 %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_m = 1024 : i64, lanes = 1 : i64}} {
}

// -----

// expected-error @+1 {{'tmix.attention' op schedule entry 'block_n' must be an i64 integer}}
tmix.attention @not_an_integer(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                               %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_n = "64"}} {
}

// -----

// The largest tiles with a fixed head dim of 4096 in bf16 (staged K and V tiles of
// 4096 x 4096 f32): more scratch per program than kMaxProgramScratchBytes.
// expected-error @+1 {{'tmix.attention' op needs 184557568 bytes of scratch buffers per program (block_m=1024, block_n=4096 and the fixed head dims), more than 67108864: choose smaller tiles}}
tmix.attention @huge_scratch(%q: !tmix.tensor<[B, H, N, 4096], bf16>, %k: !tmix.tensor<[B, H, M, 4096], bf16>,
                             %v: !tmix.tensor<[B, H, M, 4096], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 4096], bf16>)
    attributes {tmix.schedule = {block_m = 1024 : i64, block_n = 4096 : i64}} {
}

// -----

// Each tile size in its range, but not their product: S^T alone is 4096 x 4096 f32.
// expected-error @+1 {{'tmix.attention' op needs 69238784 bytes of scratch buffers per program (block_m=4096, block_n=4096 and the fixed head dims), more than 67108864: choose smaller tiles}}
tmix.attention @huge_tiles(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                           %v: !tmix.tensor<[B, H, M, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>)
    attributes {tmix.schedule = {block_m = 4096 : i64, block_n = 4096 : i64}} {
}

// -----

// Large tiles with head dims of 64 lower (no diagnostic).
tmix.attention @largest_tiles(%q: !tmix.tensor<[B, H, N, 64], bf16>, %k: !tmix.tensor<[B, H, M, 64], bf16>,
                              %v: !tmix.tensor<[B, H, M, 64], bf16>)
    -> (o: !tmix.tensor<[B, H, N, 64], bf16>)
    attributes {tmix.schedule = {block_m = 1024 : i64, block_n = 4096 : i64, lanes = 16 : i64, vector_registers = 32 : i64}} {
}

// -----

// chunk = 2^63 - 1 made every chunk buffer a malloc of 2^64 - 16 bytes.
// expected-error @+1 {{'tmix.recurrence' op schedule chunk=9223372036854775807: at most 1024}}
tmix.recurrence @huge_chunk(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T"
    attributes {tmix.schedule = {chunk = 9223372036854775807 : i64, chunked_min_steps = 1 : i64, recurrence_form = "chunked"}} {
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

// -----

// expected-error @+1 {{'tmix.recurrence' op schedule chunked_min_steps=0: at least 1}}
tmix.recurrence @no_min_steps(%k: !tmix.tensor<[B, H, T, K], f32>)
    -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T"
    attributes {tmix.schedule = {chunked_min_steps = 0 : i64}} {
  tmix.step {
  ^bb0(%t: i64):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %k_t : !tmix.tensor<[K], f32>
  }
}

// -----

// expected-error @+1 {{'tmix.recurrence' op schedule recurrence_form must be "auto", "chunked" or "recurrent"}}
tmix.recurrence @unknown_form(%k: !tmix.tensor<[B, H, T, K], f32>)
    -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T"
    attributes {tmix.schedule = {recurrence_form = "parallel"}} {
  tmix.step {
  ^bb0(%t: i64):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %k_t : !tmix.tensor<[K], f32>
  }
}

// -----

// A fixed 4096 x 4096 state: its buffer, the outer product's and the map's are 64 MiB
// each.
// expected-error @+1 {{'tmix.recurrence' op needs 201375744 bytes of scratch buffers per program (chunk=64 and the fixed state and step dims), more than 67108864: choose a smaller chunk}}
tmix.recurrence @huge_state(%k: !tmix.tensor<[B, H, T, 4096], f32>, %v: !tmix.tensor<[B, H, T, 4096], f32>)
    -> (o: !tmix.tensor<[B, H, T, 4096], f32>) time "T"
    attributes {tmix.schedule = {recurrence_form = "recurrent"}} {
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
