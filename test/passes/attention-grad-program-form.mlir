// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-grad-to-loops -o /dev/null
// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-lower-attention-grad-to-nvgpu -o /dev/null

// passes/AttentionGradProgramForm.h: every target's backward lowering runs a part's
// tile program only in the form that tmix-tile-attention-grad writes for the part, and
// refuses any other with one error at the first op that differs (the CPU and the GPUs
// alike).

// dk summed from P rather than dS.
tmix.attention_grad @a_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) forward "a" part "key_value" {
}
tmix_tile.attention_grad @a_grad_kv {
^bb0(%batch: index, %kv_head: index, %key: index):
  %keys, %values = tmix_tile.load_keys %batch, %kv_head, %key : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
  %dk0 = tmix_tile.zeros : !tmix_tile.tile<[block_n, 8]>
  %dv0 = tmix_tile.zeros : !tmix_tile.tile<[block_n, 4]>
  %sums:2 = tmix_tile.query_loop %batch, %kv_head, %key carry(%dk0, %dv0) : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]> {
  ^bb0(%head: index, %row: index, %dk: !tmix_tile.tile<[block_n, 8]>, %dv: !tmix_tile.tile<[block_n, 4]>):
    %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
    %s = tmix_tile.dot %q, %keys {transpose_rhs} : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_m, block_n]>
    %dp = tmix_tile.dot %d_o, %values {transpose_rhs} : !tmix_tile.tile<[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_m, block_n]>
    %p, %ds = tmix_tile.pair_grad %s, %dp, %lse, %delta at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %terms = tmix_tile.dot %ds, %keys : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_m, 8]>
    tmix_tile.accumulate_dq %batch, %head, %row, %terms : !tmix_tile.tile<[block_m, 8]>
    // expected-error @+1 {{'tmix_tile.dot' op takes an operand other than the lhs of dS^T q + dk: not the backward program that}}
    %dk2 = tmix_tile.dot %p, %q acc %dk {transpose_lhs} : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_n, 8]>
    %dv2 = tmix_tile.dot %p, %d_o acc %dv {transpose_lhs} : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_n, 4]>
    tmix_tile.yield %dk2, %dv2 : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
  }
  tmix_tile.store_key_grad %batch, %kv_head, %key, %sums#0, %sums#1 : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
}

// -----

// Without recompute_dq, dq's terms must go to d_q_partial: a program that drops them
// would lose dq.
tmix.attention_grad @a_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) forward "a" part "key_value" {
}
tmix_tile.attention_grad @a_grad_kv {
^bb0(%batch: index, %kv_head: index, %key: index):
  %keys, %values = tmix_tile.load_keys %batch, %kv_head, %key : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
  %dk0 = tmix_tile.zeros : !tmix_tile.tile<[block_n, 8]>
  %dv0 = tmix_tile.zeros : !tmix_tile.tile<[block_n, 4]>
  %sums:2 = tmix_tile.query_loop %batch, %kv_head, %key carry(%dk0, %dv0) : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]> {
  ^bb0(%head: index, %row: index, %dk: !tmix_tile.tile<[block_n, 8]>, %dv: !tmix_tile.tile<[block_n, 4]>):
    %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
    %s = tmix_tile.dot %q, %keys {transpose_rhs} : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_m, block_n]>
    %dp = tmix_tile.dot %d_o, %values {transpose_rhs} : !tmix_tile.tile<[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_m, block_n]>
    %p, %ds = tmix_tile.pair_grad %s, %dp, %lse, %delta at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    // expected-error @+1 {{'tmix_tile.dot' op is not the product dS k: not the backward program that}}
    %dk2 = tmix_tile.dot %ds, %q acc %dk {transpose_lhs} : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_n, 8]>
    %dv2 = tmix_tile.dot %p, %d_o acc %dv {transpose_lhs} : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_n, 4]>
    tmix_tile.yield %dk2, %dv2 : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
  }
  tmix_tile.store_key_grad %batch, %kv_head, %key, %sums#0, %sums#1 : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
}

// -----

// Part "query" with recompute_dq: a walk that carries dq unchanged.
tmix.attention_grad @a_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "a" part "query" recompute_dq {
}
tmix_tile.attention_grad @a_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  %q, %d_o, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_m, 4]>, !tmix_tile.rows<[block_m]>
  %dq0 = tmix_tile.zeros : !tmix_tile.tile<[block_m, 8]>
  %dq = tmix_tile.key_loop %batch, %head, %row carry(%dq0) : !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, 8]> {
  ^bb0(%key: index, %acc: !tmix_tile.tile<[block_m, 8]>):
    %keys, %values = tmix_tile.load_kv %batch, %head, %key : !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_n, 4]>
    %s = tmix_tile.dot %q, %keys {transpose_rhs} : !tmix_tile.tile<[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> !tmix_tile.tile<[block_m, block_n]>
    %dp = tmix_tile.dot %d_o, %values {transpose_rhs} : !tmix_tile.tile<[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> !tmix_tile.tile<[block_m, block_n]>
    %p, %ds = tmix_tile.pair_grad %s, %dp, %lse, %delta at(%batch, %head, %row, %key) : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.rows<[block_m]>
    %next = tmix_tile.dot %ds, %keys acc %acc : !tmix_tile.tile<[block_m, block_n]>, !tmix_tile.tile<[block_n, 8]>, !tmix_tile.tile<[block_m, 8]> -> !tmix_tile.tile<[block_m, 8]>
    // expected-error @+1 {{'tmix_tile.yield' op takes an operand other than dq's sum: not the backward program that}}
    tmix_tile.yield %acc : !tmix_tile.tile<[block_m, 8]>
  }
  tmix_tile.store_query_grad %batch, %head, %row, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

// Part "query" storing its rows at another position than the program's.
tmix.attention_grad @a_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>, %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "a" part "query" {
}
tmix_tile.attention_grad @a_grad_q {
^bb0(%batch: index, %head: index, %row: index):
  %dq = tmix_tile.sum_dq_partials %batch, %head, %row : !tmix_tile.tile<[block_m, 8]>
  // expected-error @+1 {{'tmix_tile.store_query_grad' op takes an operand other than the program's row: not the backward program that}}
  tmix_tile.store_query_grad %batch, %head, %head, %dq : !tmix_tile.tile<[block_m, 8]>
}

// -----

// expected-error @+1 {{'tmix.attention_grad' op has no tile program: run tmix-tile-attention-grad first}}
tmix.attention_grad @a_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>, %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "a" part "query" {
}
