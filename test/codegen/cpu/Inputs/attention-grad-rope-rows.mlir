// The GPUs' part "params" of a learnable rope theta (rope_rows: it takes the rows' terms
// that the GPUs' parts "key_value" and "query" store), as tmix-derive-attention-grad
// with recompute-dq writes it: lower-attention-grad-to-loops.mlir's refusal.
tmix.attention_grad @spun_grad_params(%q: !tmix.tensor<[B, H, N, 16], f32>, %k: !tmix.tensor<[B, H, N, 16], f32>, %v: !tmix.tensor<[B, H, N, 16], f32>, %theta: f32 = 1.000000e+02, %o: !tmix.tensor<[B, H, N, 16], f32>, %lse: !tmix.tensor<[B, H, N], f32>, %d_o: !tmix.tensor<[B, H, N, 16], f32>, %d_rope_k: !tmix.tensor<[B, H, N], f32>, %d_rope_q: !tmix.tensor<[B, H, N], f32>) -> (d_theta: !tmix.tensor<[1], f32>) forward "spun_forward" part "params" rope_rows params [3] owned [-1, -1] {
  tmix.rope {
    tmix.yield %theta : f32
  }
  tmix.rope_grad {
  ^bb0(%g: f32):
    tmix.accumulate %theta, %g : f32
    tmix.yield
  }
}
