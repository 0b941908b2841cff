// RUN: tmix-opt %s --tmix-schedule --tmix-tile-recurrence --tmix-lower-recurrence-to-loops | FileCheck %s --implicit-check-not=tmix.recurrence --implicit-check-not=tmix.step --implicit-check-not=tmix.map --implicit-check-not=tmix_tile

// Step by step (form = "recurrent"; without a schedule the chunked form is
// the default). Gated linear attention with an initial and a final state: one program
// per (b, h), the state initialised from h0, a buffer per vector/matrix value, the
// diagonal gate broadcast over the rows, the output stored per step, the state written
// back after the outputs, and the final state copied out. The decayed state and the
// outer product, each read once by the map that adds them, have no buffer: one loop
// over [K, V] computes S' = gate * S + k v^T.
// CHECK-LABEL: func.func @gla(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, H, T, K, V], grid = [B:1, H:1]>
// CHECK: %[[STATE:.*]] = memref.alloc({{.*}}) : memref<?x?xf32>
// CHECK: memref.load %arg5[{{.*}}] : memref<?x?x?x?xf32>
// CHECK: memref.store {{.*}}, %[[STATE]]
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK: math.exp
// CHECK: %[[OLD:.*]] = memref.load %[[STATE]][
// CHECK-NEXT: %[[DECAYED:.*]] = arith.mulf %{{.*}}, %[[OLD]]
// CHECK: %[[KV:.*]] = arith.mulf
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[DECAYED]], %[[KV]]
// CHECK-NEXT: memref.store %[[NEW]], %{{.*}}[
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}}, %arg6[{{.*}}, %[[T]], {{.*}}] : memref<?x?x?x?xbf16>
// CHECK: memref.store {{.*}}, %[[STATE]]
// CHECK: memref.store {{.*}}, %arg7
// CHECK: memref.dealloc %[[STATE]]
tmix.recurrence @gla(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>,
                     %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>,
                     %h0: !tmix.tensor<[B, H, K, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "recurrent", chunk = 64>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %g_t = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %gate = tmix.map %g_t : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = math.exp %x : f32
      tmix.yield %e : f32
    }
    %decayed = tmix.map %gate, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %m = arith.mulf %x, %y : f32
      tmix.yield %m : f32
    }
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %decayed, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %q_t = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %o = tmix.vecmat %q_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}

// The chunked form (schedule form = "chunked", chunk = 16), a row gate
// given as exp(g): chunk buffers of 16 rows, a loop over chunks, the log gate staged
// as g itself (no exp, no log) clamped from below and summed over the chunk in f64
// (kept as an f32 hi + lo pair), the start state's readout and the intra-chunk values
// as vector FMAs, the intra-chunk decays as exp of differences of cumulative logs,
// then the state update. No run-time branch on T (the only scf.if before the chunks
// are those that check the scratch buffers' allocation).
// CHECK-LABEL: func.func @gla_chunked(
// CHECK-NOT: arith.cmpi uge
// CHECK: %[[LOGGATE:.*]] = memref.alloc(%c16{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: %[[LOGLOW:.*]] = memref.alloc(%c16{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16
// CHECK-NOT: math.log
// CHECK: arith.maxnumf %{{.*}}, %{{.*}} : f32
// CHECK: arith.addf {{.*}} : f64
// CHECK: memref.store {{.*}}, %[[LOGGATE]]
// CHECK: memref.store {{.*}}, %[[LOGLOW]]
// CHECK: math.exp
// CHECK: vector.fma {{.*}} : vector<16xf32>
// CHECK: %[[LOG_I:.*]] = memref.load %[[LOGGATE]]
// CHECK: %[[LOG_S:.*]] = memref.load %[[LOGGATE]]
// CHECK: %[[HIGH:.*]] = arith.subf %[[LOG_I]], %[[LOG_S]] : f32
// CHECK: %[[LOW_I:.*]] = memref.load %[[LOGLOW]]
// CHECK: %[[LOW_S:.*]] = memref.load %[[LOGLOW]]
// CHECK: %[[LOW:.*]] = arith.subf %[[LOW_I]], %[[LOW_S]] : f32
// CHECK: %[[DIFF:.*]] = arith.addf %[[HIGH]], %[[LOW]] : f32
// CHECK: math.exp %[[DIFF]] : f32
// CHECK: vector.fma {{.*}} : vector<16xf32>
// CHECK: vector.maskedstore
// CHECK: memref.store {{.*}}, %arg6[{{.*}}] : memref<?x?x?x?xbf16>
// CHECK: memref.store {{.*}}, %arg7
tmix.recurrence @gla_chunked(%q: !tmix.tensor<[B, H, T, K], bf16>, %k: !tmix.tensor<[B, H, T, K], bf16>,
                     %v: !tmix.tensor<[B, H, T, V], bf16>, %g: !tmix.tensor<[B, H, T, K], f32>,
                     %h0: !tmix.tensor<[B, H, K, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], bf16>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 16, chunked_min_steps = 16>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %g_t = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %gate = tmix.map %g_t : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = math.exp %x : f32
      tmix.yield %e : f32
    }
    %decayed = tmix.map %gate, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %m = arith.mulf %x, %y : f32
      tmix.yield %m : f32
    }
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %decayed, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %q_t = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
    %o = tmix.vecmat %q_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}

// A scalar decay given by value (may be negative): log |gamma| and its sign; under
// `auto` a run-time branch on T >= chunked_min_steps picks the chunked form, else
// the steps.
// CHECK-LABEL: func.func @retention_auto(
// CHECK: %[[LONG:.*]] = arith.cmpi uge, %{{.*}}, %c48 : index
// CHECK: scf.if %[[LONG]] {
// CHECK: math.absf
// CHECK: math.log
// CHECK: arith.cmpf olt
// CHECK: vector.fma
// CHECK: } else {
// CHECK-NOT: vector.fma
// CHECK: memref.store {{.*}}, %arg5
// CHECK: }
tmix.recurrence @retention_auto(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>,
                        %v: !tmix.tensor<[B, H, T, V], f32>, %gamma: !tmix.tensor<[H], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 32, chunked_min_steps = 48>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %gamma_h = tmix.slice %gamma : !tmix.tensor<[H], f32> -> f32
    %decayed = tmix.map %gamma_h, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %m = arith.mulf %x, %y : f32
      tmix.yield %m : f32
    }
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %decayed, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %q_t = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %o = tmix.vecmat %q_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// A general update (tanh of the state) has no chunk form: step by step under auto, with
// no branch on T (form=chunked is refused: test/e2e/chunked-recurrences.test).
// CHECK-LABEL: func.func @general_chunked(
// CHECK-NOT: arith.cmpi uge
// CHECK-NOT: vector.
// CHECK: scf.for
// CHECK: math.tanh
// CHECK: return
tmix.recurrence @general_chunked(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "auto", chunk = 16, chunked_min_steps = 16>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %squashed = tmix.map %S : (!tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32):
      %th = math.tanh %x : f32
      tmix.yield %th : f32
    }
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %kv = tmix.outer %k_t, %v_t : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %S1 = tmix.map %squashed, %kv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %o = tmix.vecmat %k_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// A delta rule, chunked: ChunkMath.h's WY solve, a row at a time, in place of the
// staged values v_i. Per row i: r_i = b_i (v_i - p_i) once the start state's FMAs have
// summed p_i = Γ_i S0^T k_i; the entries A_is = b_i D_is of the earlier rows s < i
// (D_is the keys' decayed score); then w_i = r_i - (the FMAs over the earlier rows).
// CHECK-LABEL: func.func @delta_chunked(
// CHECK: %[[STRENGTHS:.*]] = vector.broadcast %[[STRENGTH:.*]] : f32 to vector<16xf32>
// CHECK: %[[PREDICTION:.*]]:4 = scf.for
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[VALUE:.*]] = vector.maskedload %[[ROWS:.*]][%[[ROW:.*]], %[[COLUMN:.*]]],
// CHECK-NEXT: %[[RESIDUAL:.*]] = arith.subf %[[VALUE]], %[[PREDICTION]]#0 : vector<16xf32>
// CHECK-NEXT: %[[RHS:.*]] = arith.mulf %[[STRENGTHS]], %[[RESIDUAL]] fastmath<contract> : vector<16xf32>
// CHECK-NEXT: vector.maskedstore %[[ROWS]][%[[ROW]], %[[COLUMN]]], %{{.*}}, %[[RHS]]
// CHECK: scf.for %[[S:.*]] = %{{.*}} to %[[ROW]] step
// CHECK: math.exp
// CHECK: %[[SCORE:.*]] = arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : f32
// CHECK-NEXT: %[[ENTRY:.*]] = arith.mulf %[[STRENGTH]], %[[SCORE]] fastmath<contract> : f32
// CHECK-NEXT: memref.store %[[ENTRY]], %{{.*}}[%[[S]]]
// CHECK: %[[SUM:.*]]:4 = scf.for %{{.*}} = %{{.*}} to %[[ROW]] step
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[OLD:.*]] = vector.maskedload %[[ROWS]][%[[ROW]], %[[COLUMN2:.*]]],
// CHECK-NEXT: %[[W:.*]] = arith.subf %[[OLD]], %[[SUM]]#0 : vector<16xf32>
// CHECK-NEXT: vector.maskedstore %[[ROWS]][%[[ROW]], %[[COLUMN2]]], %{{.*}}, %[[W]]
tmix.recurrence @delta_chunked(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>,
                               %v: !tmix.tensor<[B, H, T, V], f32>, %beta: !tmix.tensor<[B, H, T], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T"
    attributes {tmix.schedule = #tmix.recurrence_schedule<form = "chunked", chunk = 16, chunked_min_steps = 16>} {
  tmix.state "S" : !tmix.tensor<[K, V], f32> {tmix.update_class = "delta"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %b_t = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %k_t = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %v_t = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %kS = tmix.vecmat %k_t, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %err = tmix.map %v_t, %kS : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%x: f32, %y: f32):
      %d = arith.subf %x, %y : f32
      tmix.yield %d : f32
    }
    %kv = tmix.outer %k_t, %err : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %bkv = tmix.map %b_t, %kv : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %m = arith.mulf %x, %y : f32
      tmix.yield %m : f32
    }
    %S1 = tmix.map %S, %bkv : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %a = arith.addf %x, %y : f32
      tmix.yield %a : f32
    }
    %q_t = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %o = tmix.vecmat %q_t, %S1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %S1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// The adjoint of a recurrence (forward "decay", tmix-derive-recurrence-grad): one
// program per point runs decay forward once, keeping h every 64 steps (a checkpoint
// per span: ceil(T / 64) of them), then, span by span from the last, runs decay again
// from the span's checkpoint keeping each h of the span (a 64-row window), and the
// adjoint's steps over the span backwards, reading h_t from the window
// (tmix.forward_state) and storing d_x[t], d_a[t]; d_h0 is the last d_h.
// CHECK-LABEL: func.func @decay_grad(
// CHECK-SAME: tmix.kernel = #tmix.kernel<sizes = [B, T], grid = [B:1]>
// CHECK: %[[ADJOINT:.*]] = memref.alloc() : memref<f32>
// CHECK: memref.load %arg5[{{.*}}] : memref<?xf32>
// CHECK: memref.store {{.*}}, %[[ADJOINT]][]
// CHECK: %[[H:.*]] = memref.alloc() : memref<f32>
// CHECK: %[[SPAN:.*]] = arith.constant 64 : index
// CHECK: %[[SPANS:.*]] = arith.ceildivui %{{.*}}, %[[SPAN]] : index
// CHECK: %[[CHECKPOINTS:.*]] = memref.alloc(%[[SPANS]]) : memref<?xf32>
// CHECK: %[[WINDOW:.*]] = memref.alloc(%[[SPAN]]) : memref<?xf32>
// CHECK: memref.load %arg3[{{.*}}] : memref<?xf32>
// CHECK: memref.store {{.*}}, %[[H]][]
// Forward, a checkpoint before every span:
// CHECK: scf.for %[[T:.*]] =
// CHECK: arith.remui %[[T]], %[[SPAN]]
// CHECK: scf.if
// CHECK: %[[ROW:.*]] = arith.divui %[[T]], %[[SPAN]]
// CHECK: memref.store {{.*}}, %[[CHECKPOINTS]][%[[ROW]]]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: memref.store {{.*}}, %[[H]][]
// Backward, the last span first:
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %[[SPANS]]
// CHECK: %[[LAST:.*]] = arith.subi %[[SPANS]], %{{.*}}
// CHECK: %[[S:.*]] = arith.subi %[[LAST]], %[[R]]
// CHECK: memref.load %[[CHECKPOINTS]][%[[S]]]
// CHECK: scf.for %[[I:.*]] =
// CHECK: memref.store {{.*}}, %[[WINDOW]][%[[I]]]
// CHECK: scf.for
// CHECK: memref.load %[[WINDOW]]
// CHECK: memref.store {{.*}}, %[[H]][]
// CHECK: memref.load %[[ADJOINT]][]
// CHECK: memref.load %[[H]][]
// CHECK: memref.load %arg4[
// CHECK: memref.store {{.*}}, %arg6[
// CHECK: memref.store {{.*}}, %arg7[
// CHECK: memref.store {{.*}}, %[[ADJOINT]][]
// CHECK: memref.load %[[ADJOINT]][]
// CHECK: memref.store {{.*}}, %arg8[
// CHECK: memref.dealloc %[[ADJOINT]]
tmix.recurrence @decay(%x: !tmix.tensor<[B, T], f32>, %a: !tmix.tensor<[B, T], f32>, %h0: !tmix.tensor<[B], f32>) -> (y: !tmix.tensor<[B, T], f32>, hT: !tmix.tensor<[B], f32>) time "T" {
  tmix.state "h" : f32 init %h0 : !tmix.tensor<[B], f32>
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, T], f32> -> f32
    %1 = arith.mulf %0, %h : f32
    %2 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %3 = arith.addf %1, %2 : f32
    tmix.yield %3, %3 : f32, f32
  }
  tmix.final "hT" = "h"
}
tmix.recurrence @decay_grad(%x: !tmix.tensor<[B, T], f32>, %a: !tmix.tensor<[B, T], f32>, %h0: !tmix.tensor<[B], f32>, %d_y: !tmix.tensor<[B, T], f32>, %d_hT: !tmix.tensor<[B], f32>) -> (d_x: !tmix.tensor<[B, T], f32>, d_a: !tmix.tensor<[B, T], f32>, d_h0: !tmix.tensor<[B], f32>) time "T" forward "decay" {
  tmix.state "d_h" : f32 init %d_hT : !tmix.tensor<[B], f32>
  tmix.step {
  ^bb0(%t: i64, %d_h: f32):
    %0 = tmix.forward_state "h" : f32
    %1 = tmix.slice %a[%t] : !tmix.tensor<[B, T], f32> -> f32
    %2 = tmix.slice %d_y[%t] : !tmix.tensor<[B, T], f32> -> f32
    %3 = arith.addf %d_h, %2 : f32
    %4 = arith.mulf %3, %0 : f32
    %5 = arith.mulf %3, %1 : f32
    tmix.yield %5, %3, %4 : f32, f32, f32
  }
  tmix.final "d_h0" = "d_h"
}

// The adjoint of a log-space decay, as tmix-derive-recurrence-grad writes and marks it
// (derive-recurrence-grad.mlir): chunk by chunk (codegen/cpu/ChunkedAdjoint.h), its sums
// row combinations of four output rows at once (16 vector accumulators); the same
// adjoint under form = "recurrent" runs step by step from checkpoints, without them.
// CHECK-LABEL: func.func @gla_like_grad(
// CHECK: math.exp
// CHECK: :16 = scf.for
// CHECK-LABEL: func.func @gla_like_grad_steps(
// CHECK-NOT: :16 = scf.for
// CHECK: return
tmix.recurrence @gla_like(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %e = math.exp %x : f32
      tmix.yield %e : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %p = arith.mulf %x, %y : f32
      tmix.yield %p : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      tmix.yield %s : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
tmix.recurrence @gla_like_grad(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T, K], f32>) time "T" forward "gla_like" {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.map %1 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %20 : f32
    }
    %cst = arith.constant {tmix.chunk_adjoint} 1.000000e+00 : f32
    %16 = tmix.map %cst {tmix.chunk_adjoint} : (f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32):
      tmix.yield %arg0 : f32
    }
    %17 = tmix.matvec %15, %16 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %18 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %20 : f32
    }
    %19 = tmix.map %1, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = math.exp %arg0 : f32
      %21 = arith.mulf %arg1, %20 : f32
      tmix.yield %21 : f32
    }
    tmix.yield %18, %10, %13, %14, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[K], f32>
  }
}
tmix.recurrence @gla_like_grad_steps(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T, K], f32>) time "T" forward "gla_like" attributes {tmix.schedule = #tmix.recurrence_schedule<form = "recurrent", chunk = 64>} {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.map %1 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.outer %4, %5 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %3, %6 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.matvec %7, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %11 = tmix.outer %8, %9 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %12 = tmix.map %d_S, %11 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %13 = tmix.matvec %12, %5 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.vecmat %4, %12 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %20 : f32
    }
    %cst = arith.constant {tmix.chunk_adjoint} 1.000000e+00 : f32
    %16 = tmix.map %cst {tmix.chunk_adjoint} : (f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32):
      tmix.yield %arg0 : f32
    }
    %17 = tmix.matvec %15, %16 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %18 = tmix.map %2, %0, %12 {tmix.chunk_adjoint} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %20 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %20 : f32
    }
    %19 = tmix.map %1, %17 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = math.exp %arg0 : f32
      %21 = arith.mulf %arg1, %20 : f32
      tmix.yield %21 : f32
    }
    tmix.yield %18, %10, %13, %14, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[K], f32>
  }
}

// The adjoint of a gated delta rule (derive-recurrence-grad.mlir's @delta_rule_grad):
// chunk by chunk as well, its WY solve's adjoint (the back substitution, the keys'
// pairs) in row combinations; under form = "recurrent", step by step.
// CHECK-LABEL: func.func @delta_rule_grad(
// CHECK: math.exp
// CHECK: :16 = scf.for
// CHECK-LABEL: func.func @delta_rule_grad_steps(
// CHECK-NOT: :16 = scf.for
// CHECK: return
tmix.recurrence @delta_rule(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T], f32>, %beta: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, T], f32> -> f32
    %1 = math.exp %0 : f32
    %2 = tmix.map %1, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %3 = tmix.slice %beta[%t] : !tmix.tensor<[B, T], f32> -> f32
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %8 = tmix.map %5, %7 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.subf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %9 = tmix.outer %4, %8 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %10 = tmix.map %3, %9 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %11 = tmix.map %2, %10 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.addf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %12 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %13 = tmix.vecmat %12, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %11, %13 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
tmix.recurrence @delta_rule_grad(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T], f32>, %beta: !tmix.tensor<[B, T], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T], f32>, d_beta: !tmix.tensor<[B, T], f32>) time "T" forward "delta_rule" {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T], f32> -> f32
    %2 = math.exp %1 {tmix.chunk_primal} : f32
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %4 = tmix.slice %beta[%t] : !tmix.tensor<[B, T], f32> -> f32
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %3 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %9 = tmix.map %6, %8 {tmix.chunk_primal} : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.subf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %10 = tmix.outer %5, %9 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %11 = tmix.map %4, %10 {tmix.chunk_primal} : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %12 = tmix.map %3, %11 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %13 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.matvec %12, %14 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 5>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %16 = tmix.outer %13, %14 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %17 = tmix.map %d_S, %16 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %18 = tmix.map %4, %10, %17 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %32 : f32
    }
    %19 = tmix.sum %18 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 4>} : !tmix.tensor<[K, V], f32> -> f32
    %20 = tmix.map %4, %10, %17 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %32 : f32
    }
    %21 = tmix.matvec %20, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %22 = tmix.vecmat %5, %20 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %23 = tmix.map %6, %8, %22 {tmix.chunk_adjoint} : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.negf %arg2 : f32
      tmix.yield %32 : f32
    }
    %24 = tmix.matvec %3, %23 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %25 = tmix.outer %7, %23 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %26 = tmix.map %17, %25 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %27 = tmix.map %2, %0, %26 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %32 : f32
    }
    %28 = tmix.sum %27 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32> -> f32
    %29 = tmix.map %2, %0, %26 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %32 : f32
    }
    %30 = arith.mulf %28, %2 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : f32
    %31 = tmix.map %21, %24 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    tmix.yield %29, %15, %31, %22, %30, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, f32, f32
  }
}
tmix.recurrence @delta_rule_grad_steps(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T], f32>, %beta: !tmix.tensor<[B, T], f32>, %d_o: !tmix.tensor<[B, T, V], f32>) -> (d_q: !tmix.tensor<[B, T, K], f32>, d_k: !tmix.tensor<[B, T, K], f32>, d_v: !tmix.tensor<[B, T, V], f32>, d_g: !tmix.tensor<[B, T], f32>, d_beta: !tmix.tensor<[B, T], f32>) time "T" forward "delta_rule" attributes {tmix.schedule = #tmix.recurrence_schedule<form = "recurrent", chunk = 64>} {
  tmix.state "d_S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %d_S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.forward_state "S" {tmix.chunk_primal} : !tmix.tensor<[K, V], f32>
    %1 = tmix.slice %g[%t] : !tmix.tensor<[B, T], f32> -> f32
    %2 = math.exp %1 {tmix.chunk_primal} : f32
    %3 = tmix.map %2, %0 {tmix.chunk_primal} : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %4 = tmix.slice %beta[%t] : !tmix.tensor<[B, T], f32> -> f32
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.slice %k[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %3 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %9 = tmix.map %6, %8 {tmix.chunk_primal} : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.subf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %10 = tmix.outer %5, %9 {tmix.chunk_primal} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %11 = tmix.map %4, %10 {tmix.chunk_primal} : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %12 = tmix.map %3, %11 {tmix.chunk_primal} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %13 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.slice %d_o[%t] {tmix.chunk_readout_grads = array<i64: 0>} : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %15 = tmix.matvec %12, %14 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 5>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %16 = tmix.outer %13, %14 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %17 = tmix.map %d_S, %16 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %18 = tmix.map %4, %10, %17 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %32 : f32
    }
    %19 = tmix.sum %18 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 4>} : !tmix.tensor<[K, V], f32> -> f32
    %20 = tmix.map %4, %10, %17 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %32 : f32
    }
    %21 = tmix.matvec %20, %9 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %22 = tmix.vecmat %5, %20 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>} : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %23 = tmix.map %6, %8, %22 {tmix.chunk_adjoint} : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.negf %arg2 : f32
      tmix.yield %32 : f32
    }
    %24 = tmix.matvec %3, %23 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>} : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %25 = tmix.outer %7, %23 {tmix.chunk_adjoint} : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %26 = tmix.map %17, %25 {tmix.chunk_adjoint} : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    %27 = tmix.map %2, %0, %26 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg1 : f32
      tmix.yield %32 : f32
    }
    %28 = tmix.sum %27 {tmix.chunk_adjoint} : !tmix.tensor<[K, V], f32> -> f32
    %29 = tmix.map %2, %0, %26 {tmix.chunk_adjoint} : (f32, !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32, %arg2: f32):
      %32 = arith.mulf %arg2, %arg0 : f32
      tmix.yield %32 : f32
    }
    %30 = arith.mulf %28, %2 {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>} : f32
    %31 = tmix.map %21, %24 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %32 = arith.addf %arg0, %arg1 : f32
      tmix.yield %32 : f32
    }
    tmix.yield %29, %15, %31, %22, %30, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>, f32, f32
  }
}
