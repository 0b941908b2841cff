// RUN: tmix-opt %s --tmix-derive-attention-grad --tmix-tile-attention-grad | FileCheck %s
// RUN: tmix-opt %s --tmix-derive-attention-grad=recompute-dq=1 --tmix-tile-attention-grad | FileCheck %s --check-prefix=GPU
// Round trip of the programs the pass writes.
// RUN: tmix-opt %s --tmix-derive-attention-grad --tmix-tile-attention-grad | tmix-opt | FileCheck %s
// RUN: tmix-opt %s --tmix-derive-attention-grad=recompute-dq=1 --tmix-tile-attention-grad | tmix-opt | FileCheck %s --check-prefix=GPU

// tmix-tile-attention-grad writes a tile program after each derived part "key_value"
// and "query", the same for every target: the part's attributes choose its ops. GQA
// (H over HK), D = 8 over DV = 4; a key bias [M] summed per key split in part
// "key_value" (param_grads) on the CPU, and a pair bias in part "params", which has
// no program.

tmix.attention @biases(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                       %v: !tmix.tensor<[B, HK, M, 4], f32>, %pair: !tmix.tensor<[B, H, N, M], f32>,
                       %key: !tmix.tensor<[M], f32>)
    -> (o: !tmix.tensor<[B, H, N, 4], f32>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %p = tmix.read %pair[%b, %h, %i, %j] : !tmix.tensor<[B, H, N, M], f32> -> f32
    %x = tmix.read %key[%j] : !tmix.tensor<[M], f32> -> f32
    %t = arith.addf %s, %p : f32
    %r = arith.addf %t, %x : f32
    tmix.yield %r : f32
  }
}

// The CPU's form: dq summed per key split (accumulate_dq), then part "query" sums
// the splits' partials.
// CHECK-LABEL: tmix.attention_grad @biases_grad_q(
// CHECK: tmix_tile.attention_grad @biases_grad_q {
// CHECK-NEXT: ^bb0(%batch: index, %head: index, %row: index):
// CHECK-NEXT: %[[DQ:.*]] = tmix_tile.sum_dq_partials %batch, %head, %row : <[block_m, 8]>
// CHECK-NEXT: tmix_tile.store_query_grad %batch, %head, %row, %[[DQ]] : <[block_m, 8]>
// CHECK-NEXT: }
// CHECK-LABEL: tmix.attention_grad @biases_grad_kv(
// CHECK: tmix_tile.attention_grad @biases_grad_kv {
// CHECK-NEXT: ^bb0(%batch: index, %kv_head: index, %key: index):
// CHECK-NEXT: %keys, %values = tmix_tile.load_keys %batch, %kv_head, %key : <[block_n, 8]>, <[block_n, 4]>
// CHECK-NEXT: %[[DK0:.*]] = tmix_tile.zeros : <[block_n, 8]>
// CHECK-NEXT: %[[DV0:.*]] = tmix_tile.zeros : <[block_n, 4]>
// CHECK-NEXT: %[[SUMS:.*]]:2 = tmix_tile.query_loop %batch, %kv_head, %key carry(%[[DK0]], %[[DV0]])
// CHECK-NEXT: ^bb0(%head: index, %row: index, %dk: !tmix_tile.tile<[block_n, 8]>, %dv: !tmix_tile.tile<[block_n, 4]>):
// CHECK-NEXT: %query, %output_grad, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : <[block_m, 8]>, <[block_m, 4]>, <[block_m]>
// CHECK-NEXT: %[[S:.*]] = tmix_tile.dot %query, %keys {transpose_rhs} : <[block_m, 8]>, <[block_n, 8]> -> <[block_m, block_n]>
// CHECK-NEXT: %[[DP:.*]] = tmix_tile.dot %output_grad, %values {transpose_rhs} : <[block_m, 4]>, <[block_n, 4]> -> <[block_m, block_n]>
// CHECK-NEXT: %probabilities, %score_grads = tmix_tile.pair_grad %[[S]], %[[DP]], %lse, %delta at(%batch, %head, %row, %key) : <[block_m, block_n]>, <[block_m]>
// CHECK-NEXT: tmix_tile.param_grads %[[S]], %[[DP]], %probabilities, %delta at(%batch, %head, %row, %key)
// CHECK-NEXT: %[[TERMS:.*]] = tmix_tile.dot %score_grads, %keys : <[block_m, block_n]>, <[block_n, 8]> -> <[block_m, 8]>
// CHECK-NEXT: tmix_tile.accumulate_dq %batch, %head, %row, %[[TERMS]] : <[block_m, 8]>
// CHECK-NEXT: %[[DK:.*]] = tmix_tile.dot %score_grads, %query acc %dk {transpose_lhs} : <[block_m, block_n]>, <[block_m, 8]>, !tmix_tile.tile<[block_n, 8]> -> <[block_n, 8]>
// CHECK-NEXT: %[[DV:.*]] = tmix_tile.dot %probabilities, %output_grad acc %dv {transpose_lhs} : <[block_m, block_n]>, <[block_m, 4]>, !tmix_tile.tile<[block_n, 4]> -> <[block_n, 4]>
// CHECK-NEXT: tmix_tile.yield %[[DK]], %[[DV]]
// CHECK-NEXT: }
// CHECK-NEXT: tmix_tile.store_key_grad %batch, %kv_head, %key, %[[SUMS]]#0, %[[SUMS]]#1 : <[block_n, 8]>, <[block_n, 4]>
// CHECK-NEXT: }
// CHECK-LABEL: tmix.attention_grad @biases_grad_params(
// CHECK-NOT: tmix_tile.attention_grad

// The GPUs' form (recompute_dq): no partials; part "query" walks the keys itself.
// GPU-LABEL: tmix_tile.attention_grad @biases_grad_q {
// GPU-NEXT: ^bb0(%batch: index, %head: index, %row: index):
// GPU-NEXT: %query, %output_grad, %lse, %delta = tmix_tile.load_query_grad %batch, %head, %row : <[block_m, 8]>, <[block_m, 4]>, <[block_m]>
// GPU-NEXT: %[[DQ0:.*]] = tmix_tile.zeros : <[block_m, 8]>
// GPU-NEXT: %[[DQ:.*]] = tmix_tile.key_loop %batch, %head, %row carry(%[[DQ0]])
// GPU-NEXT: ^bb0(%key: index, %dq: !tmix_tile.tile<[block_m, 8]>):
// GPU-NEXT: %keys, %values = tmix_tile.load_kv %batch, %head, %key : <[block_n, 8]>, <[block_n, 4]>
// GPU-NEXT: %[[S:.*]] = tmix_tile.dot %query, %keys {transpose_rhs}
// GPU-NEXT: %[[DP:.*]] = tmix_tile.dot %output_grad, %values {transpose_rhs}
// GPU-NEXT: %probabilities, %score_grads = tmix_tile.pair_grad %[[S]], %[[DP]], %lse, %delta at(%batch, %head, %row, %key)
// GPU-NEXT: %[[NEXT:.*]] = tmix_tile.dot %score_grads, %keys acc %dq : <[block_m, block_n]>, <[block_n, 8]>, !tmix_tile.tile<[block_m, 8]> -> <[block_m, 8]>
// GPU-NEXT: tmix_tile.yield %[[NEXT]]
// GPU-NEXT: }
// GPU-NEXT: tmix_tile.store_query_grad %batch, %head, %row, %[[DQ]] : <[block_m, 8]>
// GPU-LABEL: tmix_tile.attention_grad @biases_grad_kv {
// GPU-NOT: param_grads
// GPU-NOT: accumulate_dq
// GPU: tmix_tile.store_key_grad
// GPU-LABEL: tmix.attention_grad @biases_grad_params(
// GPU-NOT: tmix_tile.attention_grad

// rope's theta as a param: part "key_value" sums its gradient per row (from dq's and
// dk's partial sums), not per pair: its program has no param_grads.
tmix.attention @spun(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                     %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32)
    -> (o: !tmix.tensor<[B, H, N, 4], f32>) {
  tmix.rope {
    tmix.yield %theta : f32
  }
}
// CHECK-LABEL: tmix.attention @spun(
// CHECK-LABEL: tmix.attention_grad @spun_grad_kv(
// CHECK-SAME: params [3]
// CHECK: tmix_tile.attention_grad @spun_grad_kv {
// CHECK-NOT: param_grads
// CHECK: tmix_tile.accumulate_dq
// CHECK-NOT: param_grads
// CHECK: tmix_tile.store_key_grad
// GPU-LABEL: tmix.attention @spun(
