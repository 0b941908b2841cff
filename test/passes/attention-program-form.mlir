// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-to-loops -o /dev/null
// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-to-nvgpu -o /dev/null
// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-to-hopper -o /dev/null

// passes/AttentionProgramForm.h: every target's lowering runs a tile program only in
// the online-softmax form that tmix-tile-attention writes, and refuses any other with
// one error at the first op that differs (the CPU, sm_80 and sm_90a alike).

// Without the rescale, the accumulator would mix tiles of different maxima.
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64, lanes = 16, vector_registers = 32, warps = 4, stages = 1> {
^bb0(%batch: index, %head: index, %row: index):
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 64]>
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    %k, %v = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_n, 64]>
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 64]> -> !tmix_tile.tile<[block_m, block_n]>
    %s2 = tmix_tile.score %s at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>
    %p, %m2, %l2, %r = tmix_tile.softmax_update %s2, %m, %l : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    // expected-error @+1 {{'tmix_tile.dot' op is where the program's tmix_tile.rescale should be: not the online-softmax program that}}
    %a2 = tmix_tile.dot %p, %v acc %a : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_m, 64]> -> !tmix_tile.tile<[block_m, 64]>
    tmix_tile.yield %a2, %m2, %l2 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  tmix_tile.store %batch, %head, %row, %o : !tmix_tile.tile<[block_m, 64]>
}


// -----

// The mask and score at other rows than the program's.
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64, lanes = 16, vector_registers = 32, warps = 4, stages = 1> {
^bb0(%batch: index, %head: index, %row: index):
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 64]>
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    %k, %v = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_n, 64]>
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 64]> -> !tmix_tile.tile<[block_m, block_n]>
    // expected-error @+1 {{'tmix_tile.score' op takes an operand other than the program's row: not the online-softmax program that}}
    %s2 = tmix_tile.score %s at(%batch, %head, %key, %key) : !tmix_tile.tile<[block_m, block_n]>
    %p, %m2, %l2, %r = tmix_tile.softmax_update %s2, %m, %l : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %a1 = tmix_tile.rescale %a, %r : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
    %a2 = tmix_tile.dot %p, %v acc %a1 : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_m, 64]> -> !tmix_tile.tile<[block_m, 64]>
    tmix_tile.yield %a2, %m2, %l2 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  tmix_tile.store %batch, %head, %row, %o : !tmix_tile.tile<[block_m, 64]>
}


// -----

// A loop that carries the old max.
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64, lanes = 16, vector_registers = 32, warps = 4, stages = 1> {
^bb0(%batch: index, %head: index, %row: index):
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 64]>
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    %k, %v = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_n, 64]>
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 64]> -> !tmix_tile.tile<[block_m, block_n]>
    %s2 = tmix_tile.score %s at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>
    %p, %m2, %l2, %r = tmix_tile.softmax_update %s2, %m, %l : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %a1 = tmix_tile.rescale %a, %r : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
    %a2 = tmix_tile.dot %p, %v acc %a1 : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_m, 64]> -> !tmix_tile.tile<[block_m, 64]>
    // expected-error @+1 {{'tmix_tile.yield' op takes an operand other than the new max: not the online-softmax program that}}
    tmix_tile.yield %a2, %m, %l2 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  tmix_tile.store %batch, %head, %row, %o : !tmix_tile.tile<[block_m, 64]>
}


// -----

// A program that never stores its rows.
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.attention' op ends before its tmix_tile.store: not the online-softmax program that}}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64, lanes = 16, vector_registers = 32, warps = 4, stages = 1> {
^bb0(%batch: index, %head: index, %row: index):
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 64]>
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    %k, %v = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_n, 64]>
    %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 64]> -> !tmix_tile.tile<[block_m, block_n]>
    %s2 = tmix_tile.score %s at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>
    %p, %m2, %l2, %r = tmix_tile.softmax_update %s2, %m, %l : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %a1 = tmix_tile.rescale %a, %r : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
    %a2 = tmix_tile.dot %p, %v acc %a1 : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 64]>, !tmix_tile.tile<[block_m, 64]> -> !tmix_tile.tile<[block_m, 64]>
    tmix_tile.yield %a2, %m2, %l2 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
}

