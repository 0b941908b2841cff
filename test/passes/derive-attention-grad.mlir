// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-derive-attention-grad | FileCheck %s
// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-derive-attention-grad=recompute-dq=1 | FileCheck %s --check-prefix=RECOMPUTE

// With recompute-dq (the GPUs' choice) no d_q_partial passes between the parts, which
// say so; the params part (when there is one) is the same either way.
// RECOMPUTE-LABEL: tmix.attention_grad @softcap_grad_q(
// RECOMPUTE-SAME: %cap: f32 = 3.000000e+00, %o: !tmix.tensor<[B, H, N, 4], bf16>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], bf16>) -> (d_q: !tmix.tensor<[B, H, N, 8], bf16>) forward "softcap_forward" part "query" recompute_dq {
// RECOMPUTE: tmix.score_grad
// RECOMPUTE-LABEL: tmix.attention_grad @softcap_grad_kv(
// RECOMPUTE-SAME: -> (d_k: !tmix.tensor<[B, HK, M, 8], bf16>, d_v: !tmix.tensor<[B, HK, M, 4], bf16>) forward "softcap_forward" part "key_value" recompute_dq {
// RECOMPUTE: tmix.score_grad
// RECOMPUTE-NOT: d_q_partial
// RECOMPUTE: part "params" params
// RECOMPUTE-NOT: recompute_dq
// RECOMPUTE-SAME: {

// A softcapped, windowed spec without lse: the forward with lse, then the two grad
// kernels; each carries the statements and the derived score_grad, whose value is
// g * cap * (1 - tanh(s / cap)^2) / cap (the tanh rule, the chain through the divide).
// The key-value part gives dq's sums per key split, d_q_partial (f32 [4, B, H, N, D]),
// which the query part takes last.
tmix.attention @softcap(%q: !tmix.tensor<[B, H, N, 8], bf16>, %k: !tmix.tensor<[B, HK, M, 8], bf16>,
                        %v: !tmix.tensor<[B, HK, M, 4], bf16>, %cap: f32 = 3.0) -> (o: !tmix.tensor<[B, H, N, 4], bf16>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %keep = arith.cmpi sle, %j, %i : i64
    tmix.yield %keep : i1
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %x = arith.divf %s, %cap : f32
    %t = math.tanh %x : f32
    %r = arith.mulf %cap, %t : f32
    tmix.yield %r : f32
  }
}
// CHECK-LABEL: tmix.attention @softcap(
// CHECK-LABEL: tmix.attention @softcap_forward(
// CHECK-SAME: %cap: f32 = 3.000000e+00)
// CHECK-SAME: -> (o: !tmix.tensor<[B, H, N, 4], bf16>, lse: !tmix.tensor<[B, H, N], f32>)
// CHECK: tmix.mask
// CHECK: tmix.score
// CHECK-NOT: tmix.score_grad
// CHECK-LABEL: tmix.attention_grad @softcap_grad_q(
// CHECK-SAME: %cap: f32 = 3.000000e+00, %o: !tmix.tensor<[B, H, N, 4], bf16>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], bf16>,
// CHECK-SAME: %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
// CHECK-SAME: -> (d_q: !tmix.tensor<[B, H, N, 8], bf16>) forward "softcap_forward" part "query"
// CHECK: tmix.mask
// CHECK: tmix.score
// CHECK: tmix.score_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
// CHECK-NEXT:   %[[X:.*]] = arith.divf %s, %cap
// CHECK-NEXT:   %[[T:.*]] = math.tanh %[[X]]
// CHECK-NEXT:   %[[GC:.*]] = arith.mulf %g, %cap
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.0
// CHECK-NEXT:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK-NEXT:   %[[D:.*]] = arith.subf %[[ONE]], %[[T2]]
// CHECK-NEXT:   %[[GX:.*]] = arith.mulf %[[GC]], %[[D]]
// CHECK-NEXT:   %[[GS:.*]] = arith.divf %[[GX]], %cap
// CHECK-NEXT:   tmix.yield %[[GS]] : f32
// CHECK-LABEL: tmix.attention_grad @softcap_grad_kv(
// CHECK-SAME: %d_o: !tmix.tensor<[B, H, N, 4], bf16>) -> (d_k: !tmix.tensor<[B, HK, M, 8], bf16>, d_v: !tmix.tensor<[B, HK, M, 4], bf16>,
// CHECK-SAME: d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) forward "softcap_forward" part "key_value"
// CHECK: tmix.score_grad

// -----

// With lse the spec is its own forward; without a score there is no score_grad; an
// index-only term (ALiBi's) and a max with a constant: the adjoint of s passes the
// subtraction and the maximum's select.
tmix.attention @biased(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                       %v: !tmix.tensor<[B, H, N, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>, lse: !tmix.tensor<[B, H, N], f32>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %d = arith.subi %i, %j : i64
    %f = arith.sitofp %d : i64 to f32
    %t = arith.subf %s, %f : f32
    %floor = arith.constant -5.0 : f32
    %r = arith.maximumf %t, %floor : f32
    tmix.yield %r : f32
  }
}
// CHECK-LABEL: tmix.attention @biased(
// CHECK-NOT: @biased_forward
// CHECK-LABEL: tmix.attention_grad @biased_grad_q(
// CHECK-SAME: forward "biased" part "query"
// CHECK: tmix.score_grad {
// CHECK: %[[KEEP:.*]] = arith.cmpf oge, %{{.*}}, %{{.*}} : f32
// CHECK: %[[G:.*]] = arith.select %[[KEEP]], %g, %{{.*}} : f32
// CHECK-NEXT: tmix.yield %[[G]] : f32

// -----

tmix.attention @plain(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                      %v: !tmix.tensor<[B, H, N, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
}
// CHECK-LABEL: tmix.attention_grad @plain_grad_q(
// CHECK-NOT: tmix.score_grad
// CHECK-LABEL: tmix.attention_grad @plain_grad_kv(

// -----

// An op with no derivative rule on the path from s to the score is an error there.
tmix.attention @sine(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                     %v: !tmix.tensor<[B, H, N, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    // expected-error @+1 {{'math.sin' op has no derivative rule: tmix cannot derive the gradient through it}}
    %r = math.sin %s : f32
    tmix.yield %r : f32
  }
}

// -----

// expected-error @+1 {{'tmix.attention' op derives its backward kernel 'taken_grad_q', but that name is taken}}
tmix.attention @taken(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                      %v: !tmix.tensor<[B, H, N, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
}
tmix.attention @taken_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                             %v: !tmix.tensor<[B, H, N, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
}

// -----

// Extra float arguments read by the score and the sink get gradients (part "params"):
// the table and the sink logits, whose dim 0 every read indexes by h (owned), and the
// scalar, which has no such dim (so the kernel is one program rather than one per
// head); the float tensor read only by the mask and the integer one get none.
tmix.attention @learned(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                        %v: !tmix.tensor<[B, H, N, 8], f32>, %table: !tmix.tensor<[H, R], f32>,
                        %sinks: !tmix.tensor<[H], f32>, %gate: !tmix.tensor<[N], f32>,
                        %doc: !tmix.tensor<[N], i32>, %temperature: f32 = 1.0)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %g = tmix.read %gate[%j] : !tmix.tensor<[N], f32> -> f32
    %zero = arith.constant 0.0 : f32
    %keep = arith.cmpf ogt, %g, %zero : f32
    tmix.yield %keep : i1
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %d = arith.subi %i, %j : i64
    %bias = tmix.read %table[%h, %d] : !tmix.tensor<[H, R], f32> -> f32
    %id = tmix.read %doc[%i] : !tmix.tensor<[N], i32> -> i32
    %t = arith.divf %s, %temperature : f32
    %r = arith.addf %t, %bias : f32
    tmix.yield %r : f32
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %x = tmix.read %sinks[%h] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %x : f32
  }
}
// The table is small (one dim of a sequence's length at most): part "key_value" sums
// its score terms per key split, as dq's, into d_table_partial [4, B, H, R] (no HK:
// the table owns a head dim), and part "params" starts d_table from those partials.
// CHECK-LABEL: tmix.attention_grad @learned_grad_kv(
// CHECK-SAME: -> (d_k: !tmix.tensor<[B, H, N, 8], f32>, d_v: !tmix.tensor<[B, H, N, 8], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>, d_table_partial: !tmix.tensor<[4, B, H, R], f32>)
// CHECK-SAME: part "key_value" params [3] owned [-1, 0] {
// CHECK: tmix.score_grad {
// CHECK: tmix.score_param_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
// CHECK-NEXT:   %[[D:.*]] = arith.subi %i, %j
// CHECK-NEXT:   tmix.accumulate %table[%h, %[[D]]], %g : !tmix.tensor<[H, R], f32>
// CHECK-NEXT:   tmix.yield
// CHECK-LABEL: tmix.attention_grad @learned_grad_params(
// CHECK-SAME: %d_o: !tmix.tensor<[B, H, N, 8], f32>, %d_table_partial: !tmix.tensor<[4, B, H, R], f32>)
// CHECK-SAME: -> (d_table: !tmix.tensor<[H, R], f32>, d_sinks: !tmix.tensor<[H], f32>, d_temperature: !tmix.tensor<[1], f32>)
// CHECK-SAME: part "params" params [3, 4, 7] owned [-1, 0, -1, 0, -1, -1] split [3] {
// CHECK-NOT: tmix.score_grad
// CHECK: tmix.score_param_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
// d/dT (s / T) = -(s / T) / T (the table's index is gone with its accumulation):
// CHECK-NEXT:   %[[X:.*]] = arith.divf %s, %temperature
// CHECK-NEXT:   %[[GX:.*]] = arith.mulf %g, %[[X]]
// CHECK-NEXT:   %[[Q:.*]] = arith.divf %[[GX]], %temperature
// CHECK-NEXT:   %[[DT:.*]] = arith.negf %[[Q]]
// CHECK-NEXT:   tmix.accumulate %temperature, %[[DT]] : f32
// CHECK-NEXT:   tmix.yield
// CHECK: tmix.sink_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %g: f32):
// CHECK-NEXT:   tmix.accumulate %sinks[%h], %g : !tmix.tensor<[H], f32>
// CHECK-NEXT:   tmix.yield

// -----

// A pair bias [B, H, N, M] keeps part "params"'s own pass over the pairs (a copy per
// key split would be four of its size); a key bias [M], shared by every batch and head,
// is summed per key split into [4, B, HK, M]. With recompute-dq (the GPUs) nothing is
// split: part "key_value" has no d_q_partial to sum beside.
tmix.attention @biases(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                       %v: !tmix.tensor<[B, HK, M, 8], f32>, %pair: !tmix.tensor<[B, H, N, M], f32>,
                       %key: !tmix.tensor<[M], f32>)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %p = tmix.read %pair[%b, %h, %i, %j] : !tmix.tensor<[B, H, N, M], f32> -> f32
    %x = tmix.read %key[%j] : !tmix.tensor<[M], f32> -> f32
    %t = arith.addf %s, %p : f32
    %r = arith.addf %t, %x : f32
    tmix.yield %r : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @biases_grad_kv(
// CHECK-SAME: d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>, d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
// CHECK-SAME: part "key_value" params [4] owned [-1, -1] {
// CHECK: tmix.score_param_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
// CHECK-NEXT:   tmix.accumulate %key[%j], %g
// CHECK-NEXT:   tmix.yield
// CHECK-LABEL: tmix.attention_grad @biases_grad_params(
// CHECK-SAME: %d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
// CHECK-SAME: part "params" params [3, 4] owned [0, 1, -1, -1] split [4] {
// CHECK: tmix.score_param_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
// CHECK-NEXT:   tmix.accumulate %pair[%b, %h, %i, %j], %g
// CHECK-NEXT:   tmix.yield
// RECOMPUTE-LABEL: tmix.attention_grad @biases_grad_kv(
// RECOMPUTE-SAME: -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 8], f32>) forward "biases_forward" part "key_value" recompute_dq {
// RECOMPUTE-NOT: score_param_grad
// RECOMPUTE-LABEL: tmix.attention_grad @biases_grad_params(
// RECOMPUTE-SAME: part "params" params [3, 4] owned [0, 1, -1, -1] {
// RECOMPUTE: tmix.accumulate %pair
// RECOMPUTE-NEXT: tmix.accumulate %key

// -----

// A learnable temperature read in the scale, 0.25 * exp(tau), and a scalar sink logit
// that its region yields as is: part "params" gets tmix.scale_grad, g * 0.25 * exp(tau)
// (the exp rule), keeps the score's score_grad (the scale's gradient sums the scaled
// scores' gradients times q.k), and the sink's gradient accumulates into s0 directly.
tmix.attention @temperature(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                            %v: !tmix.tensor<[B, H, N, 8], f32>, %tau: f32, %s0: f32)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.scale {
    %c = arith.constant 0.25 : f32
    %e = math.exp %tau : f32
    %x = arith.mulf %c, %e : f32
    tmix.yield %x : f32
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %t = math.tanh %s : f32
    tmix.yield %t : f32
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    tmix.yield %s0 : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @temperature_grad_params(
// CHECK-SAME: -> (d_tau: !tmix.tensor<[1], f32>, d_s0: !tmix.tensor<[1], f32>)
// CHECK-SAME: part "params" params [3, 4] owned [-1, -1, -1, -1]
// CHECK: tmix.score_grad {
// CHECK: tmix.score_param_grad {
// CHECK: tmix.sink_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %g: f32):
// CHECK-NEXT:   tmix.accumulate %s0, %g : f32
// CHECK: tmix.scale_grad {
// CHECK-NEXT: ^bb0(%g: f32):
// CHECK-NEXT:   %[[C:.*]] = arith.constant 2.500000e-01
// CHECK-NEXT:   %[[E:.*]] = math.exp %tau
// CHECK-NEXT:   %[[GC:.*]] = arith.mulf %g, %[[C]]
// CHECK-NEXT:   %[[GE:.*]] = arith.mulf %[[GC]], %[[E]]
// CHECK-NEXT:   tmix.accumulate %tau, %[[GE]] : f32
// CHECK-NEXT:   tmix.yield

// -----

// A scale of constants has no gradient: no scale_grad, and part "params" (here for the
// sink) drops the score_grad.
tmix.attention @fixed_scale(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                            %v: !tmix.tensor<[B, H, N, 8], f32>, %s0: f32)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.scale {
    %c = arith.constant 0.25 : f32
    tmix.yield %c : f32
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %t = math.tanh %s : f32
    tmix.yield %t : f32
  }
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    tmix.yield %s0 : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @fixed_scale_grad_params(
// CHECK-NOT: tmix.score_grad
// CHECK-NOT: tmix.scale_grad
// CHECK: tmix.sink_grad {
// CHECK-NOT: tmix.scale_grad

// -----

// rope's theta, a learnable scalar (theta = base * base): tmix.rope_grad accumulates
// g * 2 base. Summing dq per key split, part "key_value" sums its programs' shares of
// theta's gradient beside dq's (a partial [S, B, HK, 1], whose rope_grad moves there;
// no param_grads step: the score has no params), and part "params" sums the partials
// in order. The GPUs' form (recompute-dq) keeps tmix.rope_grad in part "params", and
// its three parts have rope_rows: parts "query" and "key_value" produce each row's term
// of theta's gradient (d_rope_q [B, H, N], d_rope_k [B, HK, M]), which part "params"
// takes last, k's first. A theta of constants has none.
tmix.attention @spun(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                     %v: !tmix.tensor<[B, HK, M, 4], f32>, %base: f32)
    -> (o: !tmix.tensor<[B, H, N, 4], f32>) {
  tmix.rope {
    %t = arith.mulf %base, %base : f32
    tmix.yield %t : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @spun_grad_kv(
// CHECK-SAME: -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>, d_base_partial: !tmix.tensor<[4, B, HK, 1], f32>)
// CHECK-SAME: part "key_value" params [3] owned [-1, -1] {
// CHECK: tmix.rope_grad {
// CHECK-NEXT: ^bb0(%g: f32):
// CHECK-DAG:    %[[GB:.*]] = arith.mulf %g, %base
// CHECK-DAG:    %[[BG:.*]] = arith.mulf %g, %base
// CHECK:        tmix.accumulate %base
// CHECK-LABEL: tmix.attention_grad @spun_grad_params(
// CHECK-SAME: %d_base_partial: !tmix.tensor<[4, B, HK, 1], f32>) -> (d_base: !tmix.tensor<[1], f32>)
// CHECK-SAME: part "params" params [3] owned [-1, -1] split [3] {
// CHECK-NOT: tmix.rope_grad
// CHECK: }
// RECOMPUTE-LABEL: tmix.attention_grad @spun_grad_q(
// RECOMPUTE-SAME: -> (d_q: !tmix.tensor<[B, H, N, 8], f32>, d_rope_q: !tmix.tensor<[B, H, N], f32>) forward "spun_forward" part "query" recompute_dq rope_rows {
// RECOMPUTE-LABEL: tmix.attention_grad @spun_grad_kv(
// RECOMPUTE-SAME: -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_rope_k: !tmix.tensor<[B, HK, M], f32>) forward "spun_forward" part "key_value" recompute_dq rope_rows {
// RECOMPUTE-NOT: tmix.rope_grad
// RECOMPUTE-LABEL: tmix.attention_grad @spun_grad_params(
// RECOMPUTE-SAME: %d_rope_k: !tmix.tensor<[B, HK, M], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>) -> (d_base: !tmix.tensor<[1], f32>)
// RECOMPUTE-SAME: part "params" rope_rows params [3] owned [-1, -1] {
// RECOMPUTE: tmix.rope_grad {
// RECOMPUTE: tmix.accumulate %base

// -----

tmix.attention @fixed_theta(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, N, 8], f32>,
                            %v: !tmix.tensor<[B, H, N, 8], f32>)
    -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
  tmix.rope {
    %t = arith.constant 1.000000e+04 : f32
    tmix.yield %t : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @fixed_theta_grad_kv(
// CHECK-NOT: tmix.rope_grad
// CHECK-NOT: @fixed_theta_grad_params
// RECOMPUTE-LABEL: tmix.attention_grad @fixed_theta_grad_q(
// RECOMPUTE-NOT: rope_rows
// RECOMPUTE-NOT: @fixed_theta_grad_params
