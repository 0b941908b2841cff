// RUN: tmix-opt %s -split-input-file -verify-diagnostics | tmix-opt -split-input-file | FileCheck %s

// tmix.attention_grad round-trips: the forward's arguments, then o, lse and d_o (part
// "query": and d_q_partial, dq^T's sums per key split).
// CHECK-LABEL: tmix.attention_grad @g_grad_q(
// CHECK-SAME: %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" {
// CHECK: tmix.score_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
tmix.attention_grad @g_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                              %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
}

// -----

// expected-error @+1 {{part must be "query", "key_value" or "params", got "keys"}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>) forward "f" part "keys" {
}

// -----

// expected-error @+1 {{'d_o' must have o's type '!tmix.tensor<[B, H, N, 4], f32>', got '!tmix.tensor<[B, H, N, 4], bf16>'}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], bf16>,
                       %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
}

// -----

// expected-error @+1 {{'lse' must be an f32 !tmix.tensor of o's first three dims, got '!tmix.tensor<[B, H, M], f32>'}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, M], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
}

// -----

// expected-error @+1 {{part "key_value" must produce (!tmix.tensor<[B, H, M, 8], f32>, !tmix.tensor<[B, H, M, 4], f32>, !tmix.tensor<[4, B, H, N, 8], f32>) (any positive count of key splits), got (!tmix.tensor<[B, H, N, 8], f32>)}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "key_value" {
}

// -----

// expected-error @+1 {{needs a tmix.score_grad exactly when it has a tmix.score}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
}

// -----

tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  // expected-error @+1 {{'tmix.score_grad' op block arguments must be (i64, i64, i64, i64, f32, f32), got (i64, i64, i64, i64, f32)}}
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
}

// -----

// A score_grad belongs to an attention_grad only.
// expected-error @+1 {{'tmix.attention' op body may only hold statements (tmix.scale, tmix.mask, tmix.score, tmix.sink, tmix.rope), found 'tmix.score_grad'}}
tmix.attention @f(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                  %v: !tmix.tensor<[B, H, M, 4], f32>) -> (o: !tmix.tensor<[B, H, N, 4], f32>) {
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
}

// -----

// Part "params": f32 gradients of the extra arguments it lists, two owned positions each.
// CHECK-LABEL: tmix.attention_grad @g_grad_params(
// CHECK-SAME: -> (d_bias: !tmix.tensor<[H, R], f32>, d_t: !tmix.tensor<[1], f32>) forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] {
// CHECK: tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], bf16>
// CHECK: tmix.accumulate %t, %g : f32
// CHECK: tmix.sink_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %g: f32):
tmix.attention_grad @g_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                                   %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H, R], bf16>, %t: f32,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_bias: !tmix.tensor<[H, R], f32>, d_t: !tmix.tensor<[1], f32>) forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] {
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], bf16>
    tmix.accumulate %t, %g : f32
    tmix.yield
  }
  tmix.sink_grad {
  ^bb0(%b: i64, %h: i64, %g: f32):
    tmix.yield
  }
}

// -----

// A learnable temperature: part "params" holds tmix.scale_grad (g: the loss's gradient
// with respect to the scale) and, for it, the score's tmix.score_grad.
// CHECK-LABEL: tmix.attention_grad @t_grad_params(
// CHECK: tmix.score_grad {
// CHECK: tmix.scale_grad {
// CHECK-NEXT: ^bb0(%g: f32):
// CHECK-NEXT: tmix.accumulate %tau, %g : f32
tmix.attention_grad @t_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                                   %v: !tmix.tensor<[B, H, M, 4], f32>, %tau: f32,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_tau: !tmix.tensor<[1], f32>) forward "t" part "params" params [3] owned [-1, -1] {
  tmix.scale {
    tmix.yield %tau : f32
  }
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %0 = math.tanh %s : f32
    tmix.yield %0 : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
  tmix.scale_grad {
  ^bb0(%g: f32):
    tmix.accumulate %tau, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{holds a tmix.score_grad in part "params" only beside a tmix.scale_grad and a tmix.score}}
tmix.attention_grad @t_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                                   %v: !tmix.tensor<[B, H, M, 4], f32>, %tau: f32,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_tau: !tmix.tensor<[1], f32>) forward "t" part "params" params [3] owned [-1, -1] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
}

// -----

tmix.attention_grad @t_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                                   %v: !tmix.tensor<[B, H, M, 4], f32>, %tau: f32,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_tau: !tmix.tensor<[1], f32>) forward "t" part "params" params [3] owned [-1, -1] {
  // expected-error @+1 {{'tmix.scale_grad' op block arguments must be (f32), got (i64, f32)}}
  tmix.scale_grad {
  ^bb0(%b: i64, %g: f32):
    tmix.accumulate %tau, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{the gradient of 'bias' must be '!tmix.tensor<[H, R], f32>', got '!tmix.tensor<[H, R], bf16>'}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H, R], bf16>,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_bias: !tmix.tensor<[H, R], bf16>) forward "g" part "params" params [3] owned [-1, 0] {
}

// -----

// expected-error @+1 {{param 1 is not an extra argument of the forward (3 to 3)}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>) forward "g" part "params" params [1] owned [-1, -1] {
}

// -----

// expected-error @+1 {{owned position 2 of 'bias' is not -1 or one of its 2 dims}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_bias: !tmix.tensor<[H, R], f32>) forward "g" part "params" params [3] owned [-1, 2] {
}

// -----

// expected-error @+1 {{has params only in part "params" and in part "key_value" with d_q_partial}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "g" part "query" params [3] owned [-1, 0] {
}

// -----

tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %doc: !tmix.tensor<[N], i32>, %t: f32,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_t: !tmix.tensor<[1], f32>) forward "g" part "params" params [4] owned [-1, -1] {
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    // expected-error @+1 {{'tmix.accumulate' op target must be a float tensor or scalar, got '!tmix.tensor<[N], i32>'}}
    tmix.accumulate %doc[%i], %g : !tmix.tensor<[N], i32>
    tmix.yield
  }
}

// -----

tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %t: f32,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_t: !tmix.tensor<[1], f32>) forward "g" part "params" params [3] owned [-1, -1] {
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    // expected-error @+1 {{'tmix.accumulate' op a scalar target takes no indices}}
    tmix.accumulate %t[%i], %g : f32
    tmix.yield
  }
}

// -----

tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %t: f32,
                       %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                       %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_t: !tmix.tensor<[1], f32>) forward "g" part "params" params [3] owned [-1, -1] {
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    // expected-error @+1 {{'tmix.accumulate' op target must be an argument of the enclosing spec}}
    tmix.accumulate %s, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{part "query" takes d_q_partial last: an f32 !tmix.tensor of a literal count of key splits and q's dims [B, H, N, D], '!tmix.tensor<[4, B, H, N, 8], f32>' for 4, got '!tmix.tensor<[4, B, H, 8, N], f32>'}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[4, B, H, 8, N], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
}

// -----

// expected-error @+1 {{part "query" takes d_q_partial last: an f32 !tmix.tensor of a literal count of key splits and q's dims [B, H, N, D], '!tmix.tensor<[4, B, H, N, 8], f32>' for 4, got '!tmix.tensor<[S, B, H, N, 8], f32>'}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                       %d_q_partial: !tmix.tensor<[S, B, H, N, 8], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "f" part "query" {
}

// -----

// Part "key_value" with two key splits.
// CHECK-LABEL: tmix.attention_grad @g_grad_kv(
// CHECK-SAME: -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>, d_q_partial: !tmix.tensor<[2, B, H, N, 8], f32>) forward "g" part "key_value" {
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                               %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                               %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>, d_q_partial: !tmix.tensor<[2, B, H, N, 8], f32>) forward "g" part "key_value" {
}

// -----

// With recompute_dq (the GPUs' parts) no d_q_partial passes between them: part
// "key_value" produces (dk, dv), part "query" takes the forward's arguments, o, lse and
// d_o only.
// CHECK-LABEL: tmix.attention_grad @r_grad_q(
// CHECK-SAME: %d_o: !tmix.tensor<[B, H, N, 4], f32>) -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "r" part "query" recompute_dq {
// CHECK-LABEL: tmix.attention_grad @r_grad_kv(
// CHECK-SAME: -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>) forward "r" part "key_value" recompute_dq {
tmix.attention_grad @r_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                              %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                              %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>) forward "r" part "query" recompute_dq {
}
tmix.attention_grad @r_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                               %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                               %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>) forward "r" part "key_value" recompute_dq {
}

// -----

// expected-error @+1 {{part "key_value" with recompute_dq must produce (!tmix.tensor<[B, H, M, 8], f32>, !tmix.tensor<[B, H, M, 4], f32>), got (!tmix.tensor<[B, H, M, 8], f32>, !tmix.tensor<[B, H, M, 4], f32>, !tmix.tensor<[4, B, H, N, 8], f32>)}}
tmix.attention_grad @g(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>,
                       %v: !tmix.tensor<[B, H, M, 4], f32>, %o: !tmix.tensor<[B, H, N, 4], f32>,
                       %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, H, M, 8], f32>, d_v: !tmix.tensor<[B, H, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>) forward "f" part "key_value" recompute_dq {
}

// -----

// Small params summed per key split: part "key_value" lists them (with their owned
// positions) and gives their partials after d_q_partial, [S, B, HK, dims] without the
// dims they own (bias owns a head dim: no HK); part "params" takes them last, `split`.
// CHECK-LABEL: tmix.attention_grad @g_grad_kv(
// CHECK-SAME: d_bias_partial: !tmix.tensor<[4, B, H, R], f32>, d_key_partial: !tmix.tensor<[4, B, HK, M], f32>) forward "g" part "key_value" params [3, 4] owned [-1, 0, -1, -1] {
// CHECK: tmix.score_param_grad
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_bias_partial: !tmix.tensor<[4, B, H, R], f32>, d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
    forward "g" part "key_value" params [3, 4] owned [-1, 0, -1, -1] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], f32>
    tmix.accumulate %key[%j], %g : !tmix.tensor<[M], f32>
    tmix.yield
  }
}
// CHECK-LABEL: tmix.attention_grad @g_grad_params(
// CHECK-SAME: %d_key_partial: !tmix.tensor<[4, B, HK, M], f32>) -> (d_bias: !tmix.tensor<[H, R], f32>, d_key: !tmix.tensor<[M], f32>) forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] split [4] {
tmix.attention_grad @g_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                   %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                   %d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
    -> (d_bias: !tmix.tensor<[H, R], f32>, d_key: !tmix.tensor<[M], f32>)
    forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] split [4] {
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], f32>
    tmix.yield
  }
}

// -----

// expected-error @+1 {{the partial of 'key' must be '!tmix.tensor<[4, B, HK, M], f32>', got '!tmix.tensor<[4, B, M], f32>'}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_bias_partial: !tmix.tensor<[4, B, H, R], f32>, d_key_partial: !tmix.tensor<[4, B, M], f32>)
    forward "g" part "key_value" params [3, 4] owned [-1, 0, -1, -1] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], f32>
    tmix.accumulate %key[%j], %g : !tmix.tensor<[M], f32>
    tmix.yield
  }
}

// -----

// expected-error @+1 {{part "key_value" must produce (!tmix.tensor<[B, HK, M, 8], f32>, !tmix.tensor<[B, HK, M, 4], f32>, !tmix.tensor<[4, B, H, N, 8], f32>) (any positive count of key splits) and its params' partials, got}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    forward "g" part "key_value" params [3] owned [-1, 0] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
  tmix.score_param_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.accumulate %bias[%h, %j], %g : !tmix.tensor<[H, R], f32>
    tmix.accumulate %key[%j], %g : !tmix.tensor<[M], f32>
    tmix.yield
  }
}

// -----

// expected-error @+1 {{sums params per key split, but has no tmix.score_param_grad}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
    forward "g" part "key_value" params [4] owned [-1, -1] {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  tmix.score_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
    tmix.yield %g : f32
  }
}

// -----

// expected-error @+1 {{param 't' is not a float tensor or scalar}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %t: i32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_t_partial: !tmix.tensor<[4, B, HK, 1], f32>)
    forward "g" part "key_value" params [3] owned [-1, -1] {
}

// -----

// expected-error @+1 {{has params only in part "params" and in part "key_value" with d_q_partial}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>)
    forward "g" part "key_value" recompute_dq params [4] owned [-1, -1] {
}

// -----

// expected-error @+1 {{has split params only in part "params"}}
tmix.attention_grad @g_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_key_partial: !tmix.tensor<[4, B, HK, M], f32>)
    forward "g" part "key_value" params [4] owned [-1, -1] split [4] {
}

// -----

// expected-error @+1 {{takes the partial of 'key' as '!tmix.tensor<[4, B, HK, M], f32>' for 4 key splits, got '!tmix.tensor<[S, B, HK, M], f32>'}}
tmix.attention_grad @g_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                   %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                   %d_key_partial: !tmix.tensor<[S, B, HK, M], f32>)
    -> (d_bias: !tmix.tensor<[H, R], f32>, d_key: !tmix.tensor<[M], f32>)
    forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] split [4] {
}

// -----

// expected-error @+1 {{split param 3 is not among its params, in their order}}
tmix.attention_grad @g_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                   %v: !tmix.tensor<[B, HK, M, 4], f32>, %bias: !tmix.tensor<[H, R], f32>, %key: !tmix.tensor<[M], f32>,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                   %d_key_partial: !tmix.tensor<[4, B, HK, M], f32>,
                                   %d_bias_partial: !tmix.tensor<[4, B, H, R], f32>)
    -> (d_bias: !tmix.tensor<[H, R], f32>, d_key: !tmix.tensor<[M], f32>)
    forward "g" part "params" params [3, 4] owned [-1, 0, -1, -1] split [4, 3] {
}

// -----

// A scalar summed per key split: rope's theta, its partial [S, B, HK, 1].
// CHECK-LABEL: tmix.attention_grad @r_grad_kv
// CHECK: tmix.rope_grad {
// CHECK-NEXT: ^bb0(%g: f32):
tmix.attention_grad @r_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_theta_partial: !tmix.tensor<[4, B, HK, 1], f32>)
    forward "r" part "key_value" params [3] owned [-1, -1] {
  tmix.rope {
    tmix.yield %theta : f32
  }
  tmix.rope_grad {
  ^bb0(%g: f32):
    tmix.accumulate %theta, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{holds a tmix.rope_grad without a tmix.rope}}
tmix.attention_grad @r_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>,
        d_theta_partial: !tmix.tensor<[4, B, HK, 1], f32>)
    forward "r" part "key_value" params [3] owned [-1, -1] {
  tmix.rope_grad {
  ^bb0(%g: f32):
    tmix.accumulate %theta, %g : f32
    tmix.yield
  }
}

// -----

tmix.attention_grad @r_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                   %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                                   %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                   %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_theta: !tmix.tensor<[1], f32>)
    forward "r" part "params" params [3] owned [-1, -1] {
  tmix.rope {
    tmix.yield %theta : f32
  }
  // expected-error @+1 {{'tmix.rope_grad' op block arguments must be (f32), got ()}}
  tmix.rope_grad {
    tmix.yield
  }
}

// -----

// rope_rows (the GPUs' form of a learnable rope theta): part "query" produces each
// row's term of theta's gradient after dq, part "key_value" after dv, and part "params"
// takes them last, k's then q's.
// CHECK-LABEL: tmix.attention_grad @rr_grad_q(
// CHECK-SAME: -> (d_q: !tmix.tensor<[B, H, N, 8], f32>, d_rope_q: !tmix.tensor<[B, H, N], f32>) forward "rr" part "query" recompute_dq rope_rows {
tmix.attention_grad @rr_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>, d_rope_q: !tmix.tensor<[B, H, N], f32>)
    forward "rr" part "query" recompute_dq rope_rows {
  tmix.rope {
    tmix.yield %theta : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @rr_grad_kv(
// CHECK-SAME: d_rope_k: !tmix.tensor<[B, HK, M], f32>) forward "rr" part "key_value" recompute_dq rope_rows {
tmix.attention_grad @rr_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                                %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_rope_k: !tmix.tensor<[B, HK, M], f32>)
    forward "rr" part "key_value" recompute_dq rope_rows {
  tmix.rope {
    tmix.yield %theta : f32
  }
}
// CHECK-LABEL: tmix.attention_grad @rr_grad_params(
// CHECK-SAME: %d_rope_k: !tmix.tensor<[B, HK, M], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>) -> (d_theta: !tmix.tensor<[1], f32>) forward "rr" part "params" rope_rows params [3] owned [-1, -1] {
tmix.attention_grad @rr_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                    %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                                    %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                    %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                    %d_rope_k: !tmix.tensor<[B, HK, M], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>)
    -> (d_theta: !tmix.tensor<[1], f32>)
    forward "rr" part "params" rope_rows params [3] owned [-1, -1] {
  tmix.rope {
    tmix.yield %theta : f32
  }
  tmix.rope_grad {
  ^bb0(%g: f32):
    tmix.accumulate %theta, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{has rope_rows only with recompute_dq (part "params": without split params)}}
tmix.attention_grad @rr_grad_kv(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                                %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_k: !tmix.tensor<[B, HK, M, 8], f32>, d_v: !tmix.tensor<[B, HK, M, 4], f32>, d_q_partial: !tmix.tensor<[4, B, H, N, 8], f32>)
    forward "rr" part "key_value" rope_rows {
  tmix.rope {
    tmix.yield %theta : f32
  }
}

// -----

// expected-error @+1 {{has rope_rows but no tmix.rope}}
tmix.attention_grad @rr_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>, d_rope_q: !tmix.tensor<[B, H, N], f32>)
    forward "rr" part "query" recompute_dq rope_rows {
}

// -----

// expected-error @+1 {{part "query" with recompute_dq and rope_rows must produce (!tmix.tensor<[B, H, N, 8], f32>, !tmix.tensor<[B, H, N], f32>), got (!tmix.tensor<[B, H, N, 8], f32>, !tmix.tensor<[B, HK, M], f32>)}}
tmix.attention_grad @rr_grad_q(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                               %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                               %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                               %d_o: !tmix.tensor<[B, H, N, 4], f32>)
    -> (d_q: !tmix.tensor<[B, H, N, 8], f32>, d_rope_q: !tmix.tensor<[B, HK, M], f32>)
    forward "rr" part "query" recompute_dq rope_rows {
  tmix.rope {
    tmix.yield %theta : f32
  }
}

// -----

// expected-error @+1 {{takes 'd_rope_k' as '!tmix.tensor<[B, HK, M], f32>', got '!tmix.tensor<[B, H, N], f32>'}}
tmix.attention_grad @rr_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                    %v: !tmix.tensor<[B, HK, M, 4], f32>, %theta: f32,
                                    %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                    %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                    %d_rope_q: !tmix.tensor<[B, H, N], f32>, %d_rope_k: !tmix.tensor<[B, HK, M], f32>)
    -> (d_theta: !tmix.tensor<[1], f32>)
    forward "rr" part "params" rope_rows params [3] owned [-1, -1] {
  tmix.rope {
    tmix.yield %theta : f32
  }
  tmix.rope_grad {
  ^bb0(%g: f32):
    tmix.accumulate %theta, %g : f32
    tmix.yield
  }
}

// -----

// expected-error @+1 {{expects at least 8 arguments (q, k, v, o, lse, d_o, d_rope_k, d_rope_q), got 7}}
tmix.attention_grad @rr_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                    %v: !tmix.tensor<[B, HK, M, 4], f32>,
                                    %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                    %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                    %d_rope_k: !tmix.tensor<[B, HK, M], f32>)
    -> (d_theta: !tmix.tensor<[1], f32>)
    forward "rr" part "params" rope_rows {
  tmix.rope {
    %c = arith.constant 1.0e4 : f32
    tmix.yield %c : f32
  }
}

// -----

// expected-error @+1 {{has rope_rows but no tmix.rope_grad}}
tmix.attention_grad @rr_grad_params(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, HK, M, 8], f32>,
                                    %v: !tmix.tensor<[B, HK, M, 4], f32>,
                                    %o: !tmix.tensor<[B, H, N, 4], f32>, %lse: !tmix.tensor<[B, H, N], f32>,
                                    %d_o: !tmix.tensor<[B, H, N, 4], f32>,
                                    %d_rope_k: !tmix.tensor<[B, HK, M], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>)
    -> ()
    forward "rr" part "params" rope_rows {
  tmix.rope {
    %c = arith.constant 1.0e4 : f32
    tmix.yield %c : f32
  }
}
