// RUN: tmix-opt %s | tmix-opt | FileCheck %s
// RUN: tmix-opt %s --mlir-print-op-generic | tmix-opt | FileCheck %s

// Round trip of every tmix op and type form.

// CHECK-LABEL: tmix.attention @swa_alibi(
// CHECK-SAME: %q: !tmix.tensor<[B, H, N, 128], bf16>, %k: !tmix.tensor<[B, HK, N, 128], bf16>
// CHECK-SAME: %window: i32 = 4096, %cap: f32 = 5.000000e+01, %causal: i1 = true
// CHECK-SAME: %doc: !tmix.tensor<[1, N], i32>)
// CHECK-SAME: -> (o: !tmix.tensor<[B, H, N, 128], bf16>, lse: !tmix.tensor<[B, H, N], f32>) {
tmix.attention @swa_alibi(%q: !tmix.tensor<[B, H, N, 128], bf16>,
                          %k: !tmix.tensor<[B, HK, N, 128], bf16>,
                          %v: !tmix.tensor<[B, HK, N, 128], bf16>,
                          %window: i32 = 4096, %cap: f32 = 50.0, %causal: i1 = true,
                          %doc: !tmix.tensor<[1, N], i32>)
    -> (o: !tmix.tensor<[B, H, N, 128], bf16>, lse: !tmix.tensor<[B, H, N], f32>) {
  // CHECK: tmix.scale {
  // CHECK: tmix.yield %{{.*}} : f32
  tmix.scale {
    %c = arith.constant 0.125 : f32
    tmix.yield %c : f32
  }
  // CHECK: tmix.mask {
  // CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
  // CHECK-NEXT: %{{.*}} = tmix.size "N" : i64
  // CHECK-NEXT: %[[D0:.*]] = tmix.read %doc[%b, %i] : !tmix.tensor<[1, N], i32> -> i32
  // CHECK-NEXT: %[[D1:.*]] = tmix.read %doc[%b, %j] : !tmix.tensor<[1, N], i32> -> i32
  // CHECK-NEXT: %[[SAME:.*]] = arith.cmpi eq, %[[D0]], %[[D1]] : i32
  // CHECK-NEXT: tmix.yield %[[SAME]] : i1
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %n = tmix.size "N" : i64
    %d0 = tmix.read %doc[%b, %i] : !tmix.tensor<[1, N], i32> -> i32
    %d1 = tmix.read %doc[%b, %j] : !tmix.tensor<[1, N], i32> -> i32
    %same = arith.cmpi eq, %d0, %d1 : i32
    tmix.yield %same : i1
  }
  // CHECK: tmix.score {
  // CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
  // CHECK-NEXT: tmix.yield %s : f32
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    tmix.yield %s : f32
  }
  // CHECK: tmix.sink {
  // CHECK-NEXT: ^bb0(%b: i64, %h: i64):
  // CHECK-NEXT: tmix.read %q[%b, %h, %b, %h] : !tmix.tensor<[B, H, N, 128], bf16> -> f32
  tmix.sink {
  ^bb0(%b: i64, %h: i64):
    %x = tmix.read %q[%b, %h, %b, %h] : !tmix.tensor<[B, H, N, 128], bf16> -> f32
    tmix.yield %x : f32
  }
  // CHECK: tmix.rope {
  tmix.rope {
    %theta = arith.constant 10000.0 : f32
    tmix.yield %theta : f32
  }
}

// An empty body and literal dims.
// CHECK-LABEL: tmix.attention @plain(
// CHECK-SAME: -> (o: !tmix.tensor<[2, 8, 16, 64], f32>) {
// CHECK-NEXT: }
tmix.attention @plain(%q: !tmix.tensor<[2, 8, 16, 64], f32>, %k: !tmix.tensor<[2, 8, 16, 64], f32>,
                      %v: !tmix.tensor<[2, 8, 16, 64], f32>)
    -> (o: !tmix.tensor<[2, 8, 16, 64], f32>) {
}

// CHECK-LABEL: tmix.recurrence @gated_delta(
// CHECK-SAME: -> (o: !tmix.tensor<[B, H, T, V], bf16>, y: !tmix.tensor<[B, H, T], f32>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
// CHECK-NEXT: tmix.state "S" : !tmix.tensor<[K, V], f32> init %s0 : !tmix.tensor<[B, H, K, V], f32>
// CHECK-NEXT: tmix.state "z" : f32
// CHECK-NEXT: tmix.step {
// CHECK-NEXT: ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>, %z: f32):
// CHECK-NEXT: %[[A:.*]] = tmix.slice %alpha[%t] : !tmix.tensor<[B, H, T], f32> -> f32
// CHECK-NEXT: %[[C:.*]] = tmix.slice %A : !tmix.tensor<[H], f32> -> f32
// CHECK-NEXT: %[[G:.*]] = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
// CHECK-NEXT: %[[K:.*]] = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
// CHECK-NEXT: %[[Q:.*]] = tmix.slice %q[%t]
// CHECK-NEXT: %[[V:.*]] = tmix.slice %v[%t]
// CHECK-NEXT: %[[S1:.*]] = tmix.map %[[A]], %[[G]], %S : (f32, !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
// CHECK-NEXT: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK: tmix.yield %{{.*}} : f32
// CHECK: %[[KV:.*]] = tmix.outer %[[K]], %[[V]] : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
// CHECK-NEXT: %[[KS:.*]] = tmix.vecmat %[[K]], %[[S1]] : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
// CHECK-NEXT: %[[SV:.*]] = tmix.matvec %[[S1]], %[[V]] : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
// CHECK-NEXT: %[[D:.*]] = tmix.dot %[[Q]], %[[SV]] : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32> -> f32
// CHECK-NEXT: %{{.*}} = tmix.sum %[[KV]] : !tmix.tensor<[K, V], f32> -> f32
// CHECK: tmix.yield %[[KV]], %{{.*}}, %[[KS]], %{{.*}} : !tmix.tensor<[K, V], f32>, f32, !tmix.tensor<[V], f32>, f32
// CHECK-NEXT: }
// CHECK-NEXT: tmix.final "ht" = "S"
tmix.recurrence @gated_delta(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>,
                             %alpha: !tmix.tensor<[B, H, T], f32>, %A: !tmix.tensor<[H], f32>,
                             %g: !tmix.tensor<[B, T, K], f32>,
                             %s0: !tmix.tensor<[B, H, K, V], f32>, %v: !tmix.tensor<[B, H, T, V], bf16>)
    -> (o: !tmix.tensor<[B, H, T, V], bf16>, y: !tmix.tensor<[B, H, T], f32>,
        ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %s0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.state "z" : f32
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>, %z: f32):
    %a = tmix.slice %alpha[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %c = tmix.slice %A : !tmix.tensor<[H], f32> -> f32
    %gk = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %kt = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %qt = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %vt = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
    %S1 = tmix.map %a, %gk, %S : (f32, !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32, %w: f32):
      %m = arith.mulf %x, %y : f32
      %r = arith.mulf %m, %w : f32
      tmix.yield %r : f32
    }
    %kv = tmix.outer %kt, %vt : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %kS = tmix.vecmat %kt, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %Sv = tmix.matvec %S1, %vt : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %d = tmix.dot %qt, %Sv : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32> -> f32
    %s = tmix.sum %kv : !tmix.tensor<[K, V], f32> -> f32
    %z1 = arith.addf %z, %d : f32
    %z2 = arith.addf %z1, %c : f32
    %y = arith.addf %s, %z2 : f32
    tmix.yield %kv, %z2, %kS, %y : !tmix.tensor<[K, V], f32>, f32, !tmix.tensor<[V], f32>, f32
  }
  tmix.final "ht" = "S"
}

// A scalar per step (Mamba1-style): parallel dims [B, C], an integer slice.
// CHECK-LABEL: tmix.recurrence @scan(
// CHECK: tmix.slice %x[%t] : !tmix.tensor<[B, C, T], f32> -> f32
// CHECK: tmix.slice %A : !tmix.tensor<[C, N], f32> -> !tmix.tensor<[N], f32>
// CHECK: tmix.slice %ids[%t] : !tmix.tensor<[B, T, N], i32> -> !tmix.tensor<[N], i32>
// CHECK: tmix.yield %{{.*}}, %{{.*}} : !tmix.tensor<[N], f32>, f32
tmix.recurrence @scan(%x: !tmix.tensor<[B, C, T], f32>, %A: !tmix.tensor<[C, N], f32>,
                      %ids: !tmix.tensor<[B, T, N], i32>, %eps: f32 = 1.0e-4)
    -> (y: !tmix.tensor<[B, C, T], f32>) time "T" {
  tmix.state "h" : !tmix.tensor<[N], f32>
  tmix.step {
  ^bb0(%t: i64, %h: !tmix.tensor<[N], f32>):
    %xt = tmix.slice %x[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %a = tmix.slice %A : !tmix.tensor<[C, N], f32> -> !tmix.tensor<[N], f32>
    %i = tmix.slice %ids[%t] : !tmix.tensor<[B, T, N], i32> -> !tmix.tensor<[N], i32>
    %h1 = tmix.map %a, %h, %xt : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>, f32) -> !tmix.tensor<[N], f32> {
    ^bb0(%p: f32, %r: f32, %u: f32):
      %m = arith.mulf %p, %r : f32
      %s = arith.addf %m, %u : f32
      tmix.yield %s : f32
    }
    %y = tmix.sum %h1 : !tmix.tensor<[N], f32> -> f32
    tmix.yield %h1, %y : !tmix.tensor<[N], f32>, f32
  }
}

// The typed schedules (TmixAttrs.td): parameters a target does not use (0, the
// recurrence's chunked_min_steps = 1) are elided.
// CHECK-LABEL: func.func private @schedules()
// CHECK-SAME: cpu = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 32>
// CHECK-SAME: gpu = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>
// CHECK-SAME: minimal = #tmix.attention_schedule<block_m = 1, block_n = 1>
// CHECK-SAME: recurrence = #tmix.recurrence_schedule<form = "auto", chunk = 64>
// CHECK-SAME: recurrent = #tmix.recurrence_schedule<form = "recurrent", chunk = 1024, chunked_min_steps = 4294967296>
func.func private @schedules() attributes {
  cpu = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 32>,
  gpu = #tmix.attention_schedule<block_m = 64, block_n = 64, lanes = 0, warps = 4, stages = 2>,
  minimal = #tmix.attention_schedule<block_m = 1, block_n = 1>,
  recurrence = #tmix.recurrence_schedule<form = "auto", chunk = 64, chunked_min_steps = 1>,
  recurrent = #tmix.recurrence_schedule<form = "recurrent", chunk = 1024, chunked_min_steps = 4294967296>}

// A tensor stored in another order than its logical one keeps its layout; an unpermuted
// one has none.
// CHECK-LABEL: func.func private @stored_bthd(!tmix.tensor<[B, H, T, K], bf16, layout [0, 2, 1, 3]>, !tmix.tensor<[B, H, T], f32, layout [0, 2, 1]>, !tmix.tensor<[H], f32>)
func.func private @stored_bthd(!tmix.tensor<[B, H, T, K], bf16, layout [0, 2, 1, 3]>,
                               !tmix.tensor<[B, H, T], f32, layout [0, 2, 1]>,
                               !tmix.tensor<[H], f32>)

// Packed sequences: `offsets` names the [N + 1] offsets; N is the first parallel dim,
// of the init and the final (the literal batch 1 of the per-step tensors may be left
// out there), and `tmix.size "N"` reads it.
// CHECK-LABEL: tmix.recurrence @packed(
// CHECK-SAME: %cu: !tmix.tensor<[N + 1], i64>
// CHECK-SAME: time "T" offsets "cu" {
// CHECK: tmix.parallel_index 0 : i64
tmix.recurrence @packed(%k: !tmix.tensor<[1, H, T, K], f32>, %cu: !tmix.tensor<[N + 1], i64>,
                        %h0: !tmix.tensor<[N, H, K], f32>)
    -> (o: !tmix.tensor<[1, H, T, K], f32>, last: !tmix.tensor<[N, H, K], f32>)
    time "T" offsets "cu" {
  tmix.state "z" : !tmix.tensor<[K], f32> init %h0 : !tmix.tensor<[N, H, K], f32>
  tmix.step {
  ^bb0(%t: i64, %z: !tmix.tensor<[K], f32>):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[1, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %s = tmix.parallel_index 0 : i64
    %n = tmix.size "N" : i64
    tmix.yield %k_t, %k_t : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>
  }
  tmix.final "last" = "z"
}

// A recurrence whose k has G groups of the H heads: the slice of k stands in for H.
// CHECK-LABEL: tmix.recurrence @grouped(
// CHECK-SAME: time "T" groups {G = "H"} {
// CHECK: tmix.slice %k[%t] : !tmix.tensor<[B, G, T, K], f32> -> !tmix.tensor<[K], f32>
// CHECK: tmix.parallel_index 1 : i64
tmix.recurrence @grouped(%k: !tmix.tensor<[B, G, T, K], f32>, %v: !tmix.tensor<[B, H, T, K], f32>)
    -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T" groups {G = "H"} {
  tmix.step {
  ^bb0(%t: i64):
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, G, T, K], f32> -> !tmix.tensor<[K], f32>
    %h = tmix.parallel_index 1 : i64
    tmix.yield %k_t : !tmix.tensor<[K], f32>
  }
}

// The adjoint of a recurrence: `forward "X"` and X's state before the step.
// CHECK-LABEL: tmix.recurrence @decay_grad(
// CHECK-SAME: time "T" forward "decay"
// CHECK: %{{.*}} = tmix.forward_state "h" : f32
tmix.recurrence @decay_grad(%a: !tmix.tensor<[B, T], f32>, %d_y: !tmix.tensor<[B, T], f32>) -> (d_a: !tmix.tensor<[B, T], f32>) time "T" forward "decay" {
  tmix.state "d_h" : f32
  tmix.step {
  ^bb0(%t: i64, %d_h: f32):
    %h = tmix.forward_state "h" : f32
    %g = tmix.slice %d_y[%t] : !tmix.tensor<[B, T], f32> -> f32
    %s = arith.addf %d_h, %g : f32
    %da = arith.mulf %s, %h : f32
    tmix.yield %s, %da : f32, f32
  }
}
