// RUN: tmix-opt %s -split-input-file -verify-diagnostics

// The verifiers of the tmix_tile types and ops.

// expected-error @+1 {{!tmix_tile.tile has 2 extents, not 3}}
func.func private @three_extents(!tmix_tile.tile<[block_m, 64, 2]>)

// -----

// expected-error @+1 {{!tmix_tile.rows has 1 extent, not 2}}
func.func private @rows_of_two(!tmix_tile.rows<[block_m, 64]>)

// -----

// expected-error @+1 {{dimension #1 is 0; sizes must be positive}}
func.func private @zero_extent(!tmix_tile.tile<[block_m, 0]>)

// -----

func.func @inner_extents(%q: !tmix_tile.tile<[block_m, 64]>, %k: !tmix_tile.tile<[block_n, 32]>) {
  // expected-error @+1 {{'tmix_tile.dot' op contracts lhs [block_m, 64] with rhs [block_n, 32] (transposed): the inner extents differ}}
  %s = tmix_tile.dot %q, %k {transpose_rhs} : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.tile<[block_n, 32]> -> !tmix_tile.tile<[block_m, block_n]>
  return
}

// -----

func.func @dot_result(%p: !tmix_tile.tile<[block_m, block_n]>, %v: !tmix_tile.tile<[block_n, 32]>) {
  // expected-error @+1 {{'tmix_tile.dot' op result must be [block_m, 32], not [block_m, block_n]}}
  %o = tmix_tile.dot %p, %v : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 32]> -> !tmix_tile.tile<[block_m, block_n]>
  return
}

// -----

func.func @dot_acc(%p: !tmix_tile.tile<[block_m, block_n]>, %v: !tmix_tile.tile<[block_n, 32]>, %acc: !tmix_tile.tile<[block_m, 64]>) {
  // expected-error @+1 {{'tmix_tile.dot' op accumulator [block_m, 64] differs from the result [block_m, 32]}}
  %o = tmix_tile.dot %p, %v acc %acc : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 32]>, !tmix_tile.tile<[block_m, 64]> -> !tmix_tile.tile<[block_m, 32]>
  return
}

// -----

func.func @update_rows(%s: !tmix_tile.tile<[block_m, block_n]>, %m: !tmix_tile.rows<[block_n]>) {
  // expected-error @+1 {{'tmix_tile.softmax_update' op the score tile has rows [block_m] but the row state has [block_n]}}
  %p, %m2, %l2, %r = tmix_tile.softmax_update %s, %m, %m : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_n]>
  return
}

// -----

func.func @rescale_rows(%a: !tmix_tile.tile<[block_m, 64]>, %r: !tmix_tile.rows<[64]>) {
  // expected-error @+1 {{'tmix_tile.rescale' op the tile has rows [block_m] but the factor has [64]}}
  %b = tmix_tile.rescale %a, %r : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[64]>
  return
}

// -----

func.func @init_rows() {
  // expected-error @+1 {{'tmix_tile.softmax_init' op the accumulator has rows [block_n] but the row state has [block_m]}}
  %acc, %max, %sum = tmix_tile.softmax_init : !tmix_tile.tile<[block_n, 64]>, !tmix_tile.rows<[block_m]>
  return
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.attention' op names @nowhere, which is not a tmix.attention spec}}
tmix_tile.attention @nowhere schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.attention' op body must take (batch, head, row) as three index values}}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index):
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
  // expected-error @+1 {{'tmix_tile.load_query' op the query of spec @a is a tile [block_m, 64], not [block_m, 32]}}
  %q = tmix_tile.load_query %batch, %head, %row : !tmix_tile.tile<[block_m, 32]>
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
  %acc, %max, %sum = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %o, %lse = tmix_tile.finalize %batch, %head, %acc, %max, %sum : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  // expected-error @+1 {{'tmix_tile.store' op stores lse, but spec @a has no lse output}}
  tmix_tile.store %batch, %head, %row, %o, %lse : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, block_n], f32>, %k: !tmix.tensor<[B, H, M, block_n], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.attention' op cannot tile a spec with a size symbol named "block_n": the tile types reserve block_m, block_n and chunk}}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  // expected-error @+1 {{'tmix_tile.kv_loop' op body must take (index, the accumulator, max and sum types): the first key of the tile and the carried state}}
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index):
    tmix_tile.yield
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    // expected-error @+1 {{'tmix_tile.yield' op must yield the carried state (accumulator, max, sum) of the loop's types}}
    tmix_tile.yield %a, %m : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  }
}

// -----

func.func @score_shape(%s: !tmix_tile.tile<[block_m, 64]>, %i: index) {
  // expected-error @+1 {{'tmix_tile.score' op expects parent op 'tmix_tile.kv_loop'}}
  %t = tmix_tile.score %s at(%i, %i, %i, %i) : !tmix_tile.tile<[block_m, 64]>
  return
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
tmix_tile.attention @a schedule #tmix.attention_schedule<block_m = 64, block_n = 64> {
^bb0(%batch: index, %head: index, %row: index):
  %acc0, %max0, %sum0 = tmix_tile.softmax_init : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>
  %acc, %max, %sum = tmix_tile.kv_loop %batch, %head, %row carry(%acc0, %max0, %sum0) : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]> {
  ^bb0(%key: index, %a: !tmix_tile.tile<[block_m, 64]>, %m: !tmix_tile.rows<[block_m]>, %l: !tmix_tile.rows<[block_m]>):
    // expected-error @+1 {{'tmix_tile.score' op applies to a tile of scores [block_m, block_n], not [block_m, 64]}}
    %t = tmix_tile.score %a at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, 64]>
    tmix_tile.yield %a, %m, %l : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_m]>, !tmix_tile.rows<[block_m]>
  }
}

// -----

func.func @merge_rows(%o1: !tmix_tile.tile<[block_m, 64]>, %l1: !tmix_tile.rows<[block_n]>) {
  // expected-error @+1 {{'tmix_tile.merge' op the output has rows [block_m] but the lse has [block_n]}}
  %o, %lse = tmix_tile.merge %o1, %l1 with %o1, %l1 : !tmix_tile.tile<[block_m, 64]>, !tmix_tile.rows<[block_n]>
  return
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, T, 4], f32>) -> (o: !tmix.tensor<[B, T, 4], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[4, 4], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[4, 4], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, T, 4], f32> -> !tmix.tensor<[4], f32>
    %o = tmix.vecmat %k_t, %S : !tmix.tensor<[4], f32>, !tmix.tensor<[4, 4], f32> -> !tmix.tensor<[4], f32>
    tmix.yield %S, %o : !tmix.tensor<[4, 4], f32>, !tmix.tensor<[4], f32>
  }
}
// expected-error @+1 {{'tmix_tile.recurrence' op body must be a chunk_loop, a step_loop, or a chunk_loop and then a step_loop (taken below the schedule's chunked_min_steps)}}
tmix_tile.recurrence @r schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
  tmix_tile.step_loop
  tmix_tile.step_loop
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.recurrence' op names @a, which is not a tmix.recurrence spec}}
tmix_tile.recurrence @a schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
  tmix_tile.step_loop
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, T, 4], f32>) -> (o: !tmix.tensor<[B, T, 4], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[4, 4], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[4, 4], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, T, 4], f32> -> !tmix.tensor<[4], f32>
    %o = tmix.vecmat %k_t, %S : !tmix.tensor<[4], f32>, !tmix.tensor<[4, 4], f32> -> !tmix.tensor<[4], f32>
    tmix.yield %S, %o : !tmix.tensor<[4, 4], f32>, !tmix.tensor<[4], f32>
  }
}
tmix_tile.recurrence @r schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
  // expected-error @+1 {{'tmix_tile.chunk_loop' op body must take (start, length) as two index values: the chunk's first step and its number of steps}}
  tmix_tile.chunk_loop {
  ^bb0(%start: index):
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, T, 4], f32>) -> (o: !tmix.tensor<[B, T, 4], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[4, 4], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[4, 4], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, T, 4], f32> -> !tmix.tensor<[4], f32>
    %o = tmix.vecmat %k_t, %S : !tmix.tensor<[4], f32>, !tmix.tensor<[4, 4], f32> -> !tmix.tensor<[4], f32>
    tmix.yield %S, %o : !tmix.tensor<[4, 4], f32>, !tmix.tensor<[4], f32>
  }
}
tmix_tile.recurrence @r schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    // expected-error @+1 {{'tmix_tile.gate_logs' op names state "Z", which is not a matrix state of @r}}
    %logs = tmix_tile.gate_logs "Z" : !tmix_tile.tile<[chunk, 1]>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, T, 4], f32>) -> (o: !tmix.tensor<[B, T, 4], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[4, 4], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[4, 4], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, T, 4], f32> -> !tmix.tensor<[4], f32>
    %o = tmix.vecmat %k_t, %S : !tmix.tensor<[4], f32>, !tmix.tensor<[4, 4], f32> -> !tmix.tensor<[4], f32>
    tmix.yield %S, %o : !tmix.tensor<[4, 4], f32>, !tmix.tensor<[4], f32>
  }
}
tmix_tile.recurrence @r schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
  tmix_tile.chunk_loop {
  ^bb0(%start: index, %length: index):
    // expected-error @+1 {{'tmix_tile.gate_logs' op of state "S" has one column per key row ([4]) or one, not [3]}}
    %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 3]>
  }
}

// -----

func.func @gate_rows() {
  tmix_tile.recurrence @nowhere schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
    tmix_tile.chunk_loop {
    ^bb0(%start: index, %length: index):
      // expected-error @+1 {{'tmix_tile.gate_logs' op gives one row per step of the chunk, [chunk, ...], not [block_m, 1]}}
      %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[block_m, 1]>
    }
  }
  return
}

// -----

func.func @scores_shape() {
  tmix_tile.recurrence @nowhere schedule #tmix.recurrence_schedule<form = "auto", chunk = 64> {
    tmix_tile.chunk_loop {
    ^bb0(%start: index, %length: index):
      %logs = tmix_tile.gate_logs "S" : !tmix_tile.tile<[chunk, 1]>
      // expected-error @+1 {{'tmix_tile.chunk_scores' op gives the scores of the chunk's steps against its steps, [chunk, chunk], not [chunk, 64]}}
      %a = tmix_tile.chunk_scores "S" readout 0, %logs : !tmix_tile.tile<[chunk, 1]> -> !tmix_tile.tile<[chunk, 64]>
    }
  }
  return
}

// -----

// The backward's ops (tmix-tile-attention-grad).

func.func @dot_transposed_lhs(%p: !tmix_tile.tile<[block_m, block_n]>, %v: !tmix_tile.tile<[block_n, 32]>) {
  // expected-error @+1 {{'tmix_tile.dot' op contracts lhs [block_m, block_n] (transposed) with rhs [block_n, 32]: the inner extents differ}}
  %dv = tmix_tile.dot %p, %v {transpose_lhs} : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 32]> -> !tmix_tile.tile<[block_n, 32]>
  return
}

// -----

tmix.attention_grad @g_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" recompute_dq {
}
tmix_tile.attention_grad @g_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
  %dq0 = tmix_tile.zeros : !tmix_tile.tile<[block_m, 8]>
  %dq = tmix_tile.key_loop %batch, %head, %row carry(%dq0) : !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, 8]> {
  ^bb0(%key: index, %acc: !tmix_tile.tile<[block_m, 8]>):
    %s = tmix_tile.dot %q, %q {transpose_rhs} : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, block_m]>
    // expected-error @+1 {{'tmix_tile.pair_grad' op applies to a tile of pairs [block_m, block_n], not [block_m, block_m]}}
    %p, %ds = tmix_tile.pair_grad %s, %s, %lse, %delta at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_m]>, !tmix_tile.rows<[block_m]>
    tmix_tile.yield %acc : !tmix_tile.tile<[block_m, 8]>
  }
  tmix_tile.store_query_grad %batch, %head, %row, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

tmix.attention_grad @g_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" recompute_dq {
}
tmix_tile.attention_grad @g_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
  %dq0 = tmix_tile.zeros : !tmix_tile.tile<[block_m, 8]>
  // expected-error @+1 {{'tmix_tile.key_loop' op body must take (key): the tile's first key, as index values, then the carried tiles}}
  %dq = tmix_tile.key_loop %batch, %head, %row carry(%dq0) : !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, 8]> {
  ^bb0(%key: index):
    tmix_tile.yield %dq0 : !tmix_tile.tile<[block_m, 8]>
  }
  tmix_tile.store_query_grad %batch, %head, %row, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

tmix.attention_grad @g_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" recompute_dq {
}
tmix_tile.attention_grad @g_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
  %dq0 = tmix_tile.zeros : !tmix_tile.tile<[block_m, 8]>
  %dq = tmix_tile.key_loop %batch, %head, %row carry(%dq0) : !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, 8]> {
  ^bb0(%key: index, %acc: !tmix_tile.tile<[block_m, 8]>):
    // expected-error @+1 {{'tmix_tile.yield' op must yield the carried tiles, of the loop's types}}
    tmix_tile.yield %d_o : !tmix_tile.tile<[block_m, 4]>
  }
  tmix_tile.store_query_grad %batch, %head, %row, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

// With recompute_dq there is no d_q_partial to sum.
tmix.attention_grad @g_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" recompute_dq {
}
tmix_tile.attention_grad @g_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  // expected-error @+1 {{'tmix_tile.sum_dq_partials' op belongs in part "query" without recompute_dq, not in @g_grad_q}}
  %dq = tmix_tile.sum_dq_partials %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>
  tmix_tile.store_query_grad %batch, %head, %row, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

// The loads' tiles against the part's head dims: D = 8 for keys, DV = 4 for values.
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                               %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                               %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>)
    forward "g" part "key_value" recompute_dq {
}
tmix_tile.attention_grad @g_grad_kv {
^bb0(%batch: index, %kv_head: index, %key: index):
  // expected-error @+1 {{'tmix_tile.load_keys' op a value tile of spec @g_grad_kv is a tile [block_n, 4], not [block_n, 8]}}
  %k, %v = tmix_tile.load_keys %batch, %kv_head, %key : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 8]>
}

// -----

tmix.attention_grad @g_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                                   %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H], f32>,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_bias: !tmix.tensor<[H], f32>) forward "g" part "params" params [3] owned [-1, 0] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %x = tmix.read %bias[%h] : !tmix.tensor<[H], f32> -> f32
    %r = arith.addf %s, %x : f32
    tmix.yield %r : f32
  }
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h], %g : !tmix.tensor<[H], f32>
    tmix.yield
  }
}
// expected-error @+1 {{'tmix_tile.attention_grad' op names part "params" of @g_grad_params, which has no tile program (the CPU runs it as it is)}}
tmix_tile.attention_grad @g_grad_params {
^bb0(%batch: index, %head: index, %row: index):
}

// -----

tmix.attention @f(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, M, 64], f32>,
                  %v: !tmix.tensor<[B, H, M, 64], f32>) -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}
// expected-error @+1 {{'tmix_tile.attention_grad' op names @f, which is not a tmix.attention_grad part}}
tmix_tile.attention_grad @f {
^bb0(%batch: index, %head: index, %row: index):
}
