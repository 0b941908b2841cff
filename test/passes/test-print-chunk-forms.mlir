// RUN: tmix-opt %s -split-input-file --tmix-test-print-chunk-forms -verify-diagnostics

// One remark per state: the gate, terms, delta rule and readouts the chunked lowering
// uses (ChunkForm.h), or `no chunk form` (the state then runs step by step).

// A row gate exp(g): its log is g; one term, one readout (GLA).
tmix.recurrence @ck_gla(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %g: !tmix.tensor<[B, H, T, K], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate exp(row); term 1; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}

// -----

// A scalar gate given by value (log |gamma| and its sign).
tmix.recurrence @ck_retention(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %gamma: !tmix.tensor<[H], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>, sT: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate scalar; term 1; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %gamma : !tmix.tensor<[H], f32> -> f32
    %1 = tmix.map %0, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.outer %2, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "sT" = "S"
}

// -----

// A scalar gate exp(dt * A), shared B and C (Mamba2 / SSD).
tmix.recurrence @ck_ssd(%x: !tmix.tensor<[B, H, T, P], f32>, %dt: !tmix.tensor<[B, H, T], f32>, %A: !tmix.tensor<[H], f32>, %Bm: !tmix.tensor<[B, T, N], f32>, %Cm: !tmix.tensor<[B, T, N], f32>, %Dskip: !tmix.tensor<[H], f32>) -> (y: !tmix.tensor<[B, H, T, P], f32>) time "T" {
  // expected-remark @below {{state 'S': gate exp(scalar); term 1; 1 readout}}
  tmix.state "S" : !tmix.tensor<[N, P], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[N, P], f32>):
    %0 = tmix.slice %dt[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %A : !tmix.tensor<[H], f32> -> f32
    %2 = arith.mulf %0, %1 : f32
    %3 = math.exp %2 : f32
    %4 = tmix.map %3, %S : (f32, !tmix.tensor<[N, P], f32>) -> !tmix.tensor<[N, P], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %5 = tmix.slice %Bm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %6 = tmix.slice %dt[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %7 = tmix.slice %x[%t] : !tmix.tensor<[B, H, T, P], f32> -> !tmix.tensor<[P], f32>
    %8 = tmix.map %6, %7 : (f32, !tmix.tensor<[P], f32>) -> !tmix.tensor<[P], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %9 = tmix.outer %5, %8 : !tmix.tensor<[N], f32>, !tmix.tensor<[P], f32> -> !tmix.tensor<[N, P], f32>
    %10 = tmix.map %4, %9 : (!tmix.tensor<[N, P], f32>, !tmix.tensor<[N, P], f32>) -> !tmix.tensor<[N, P], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.addf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %11 = tmix.slice %Cm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %12 = tmix.vecmat %11, %10 : !tmix.tensor<[N], f32>, !tmix.tensor<[N, P], f32> -> !tmix.tensor<[P], f32>
    %13 = tmix.slice %Dskip : !tmix.tensor<[H], f32> -> f32
    %14 = tmix.slice %x[%t] : !tmix.tensor<[B, H, T, P], f32> -> !tmix.tensor<[P], f32>
    %15 = tmix.map %13, %14 : (f32, !tmix.tensor<[P], f32>) -> !tmix.tensor<[P], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %16 = tmix.map %12, %15 : (!tmix.tensor<[P], f32>, !tmix.tensor<[P], f32>) -> !tmix.tensor<[P], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.addf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    tmix.yield %10, %16 : !tmix.tensor<[N, P], f32>, !tmix.tensor<[P], f32>
  }
}

// -----

// A row gate given by value, the key 1 - g (HGRN2).
tmix.recurrence @ck_hgrn(%q: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate row; term 1; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %cst = arith.constant 1.000000e+00 : f32
    %2 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.map %cst, %2 : (f32, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.subf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %1, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %6, %8 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// Factors above an addition apply to both sides: (S + outer(k, v)) / d gives the
// gate 1/d and the term 1/d; a subtracted, scaled term; two readouts.
tmix.recurrence @ck_terms(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %u: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate 1/scalar; term 1/scalar; -term scalar; 2 readouts}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.addf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    %cst = arith.constant 2.000000e+00 : f32
    %4 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %5 = arith.addf %cst, %4 : f32
    %6 = tmix.map %3, %5 : (!tmix.tensor<[K, V], f32>, f32) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.divf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    %7 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.slice %u[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %9 = tmix.outer %7, %8 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %cst_0 = arith.constant 2.500000e-01 : f32
    %10 = tmix.map %9, %cst_0 : (!tmix.tensor<[K, V], f32>, f32) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    %11 = tmix.map %6, %10 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.subf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    %12 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %13 = tmix.vecmat %12, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %cst_1 = arith.constant 5.000000e-01 : f32
    %14 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %15 = tmix.vecmat %14, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %16 = tmix.map %cst_1, %15 : (f32, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    %17 = tmix.map %13, %16 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %18 = arith.addf %arg0, %arg1 : f32
      tmix.yield %18 : f32
    }
    tmix.yield %11, %17 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// tanh of the state: general, no chunk form.
tmix.recurrence @ck_general(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': no chunk form}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %cst = arith.constant 0.899999976 : f32
    %0 = tmix.map %S : (!tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32):
      %8 = math.tanh %arg0 : f32
      tmix.yield %8 : f32
    }
    %1 = tmix.map %cst, %0 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.outer %2, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// The delta rule: a unit gate, the strength beta.
tmix.recurrence @ck_delta(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate 1; delta scalar; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.vecmat %3, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.map %2, %4 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.subf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %6 = tmix.outer %1, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %0, %6 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %8 = tmix.map %S, %7 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %11 = arith.addf %arg0, %arg1 : f32
      tmix.yield %11 : f32
    }
    %9 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %10 = tmix.vecmat %9, %8 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %8, %10 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// The gated delta rule, the gate as a statement of its own.
tmix.recurrence @ck_gated_delta(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %alpha: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>, %s0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>, sT: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate scalar; delta scalar; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %s0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %alpha[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.map %0, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %2 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.vecmat %5, %1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.map %4, %6 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.subf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %8 = tmix.outer %3, %7 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %9 = tmix.map %2, %8 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %10 = tmix.map %1, %9 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %11 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %12 = tmix.vecmat %11, %10 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %10, %12 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "sT" = "S"
}

// -----

// The gated delta rule with exp(a) and a strength 0.5 * beta.
tmix.recurrence @ck_gated_delta_log(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate exp(scalar); delta scalar; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = math.exp %0 : f32
    %2 = tmix.map %1, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %cst = arith.constant 5.000000e-01 : f32
    %3 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %4 = arith.mulf %cst, %3 : f32
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %8 = tmix.vecmat %7, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %9 = tmix.map %6, %8 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.subf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %10 = tmix.outer %5, %9 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %11 = tmix.map %4, %10 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %12 = tmix.map %2, %11 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.addf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %13 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %14 = tmix.vecmat %13, %12 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %12, %14 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// The gated copy written twice is two values: no chunk form (step by step).
tmix.recurrence @ck_gated_delta_twice(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': no chunk form}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = math.exp %0 : f32
    %2 = tmix.map %1, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %3 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %8 = math.exp %7 : f32
    %9 = tmix.map %8, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %10 = tmix.vecmat %6, %9 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %11 = tmix.map %5, %10 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.subf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %12 = tmix.outer %4, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %13 = tmix.map %3, %12 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %14 = tmix.map %2, %13 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.addf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %15 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %16 = tmix.vecmat %15, %14 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %14, %16 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// An output reads the state between two updates: no chunk form.
tmix.recurrence @ck_readout_between(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': no chunk form}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %9 = math.exp %arg0 : f32
      tmix.yield %9 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %3 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.vecmat %3, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.outer %5, %6 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %8 = tmix.map %2, %7 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.addf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    tmix.yield %8, %4 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// S @ v is not a readout q @ S: no chunk form.
tmix.recurrence @ck_matvec(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T" {
  // expected-remark @below {{state 'S': no chunk form}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %6 = arith.addf %arg0, %arg1 : f32
      tmix.yield %6 : f32
    }
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.matvec %3, %4 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %3, %5 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>
  }
}

// -----

// Two states: the matrix S has a chunk form; the vector z (no matrix product to
// gain) has none.
tmix.recurrence @linear_attention(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %eps: f32 = 9.99999997E-7) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gate 1; term 1; 1 readout}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  // expected-remark @below {{state 'z': no chunk form}}
  tmix.state "z" : !tmix.tensor<[K], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>, %z: !tmix.tensor<[K], f32>):
    %0 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst = arith.constant 0.000000e+00 : f32
    %1 = tmix.map %0, %cst : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.maximumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %2 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_0 = arith.constant 0.000000e+00 : f32
    %3 = tmix.map %2, %cst_0 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.minimumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %4 = tmix.map %3 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_1 = arith.constant 0.000000e+00 : f32
    %7 = tmix.map %6, %cst_1 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.maximumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %8 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %cst_2 = arith.constant 0.000000e+00 : f32
    %9 = tmix.map %8, %cst_2 : (!tmix.tensor<[K], f32>, f32) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.minimumf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %10 = tmix.map %9 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %20 = math.exp %arg0 : f32
      tmix.yield %20 : f32
    }
    %11 = tmix.map %7, %10 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %12 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %13 = tmix.outer %11, %12 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %14 = tmix.map %S, %13 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %15 = tmix.map %z, %11 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.addf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    %16 = tmix.vecmat %5, %14 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %17 = tmix.dot %5, %15 : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32> -> f32
    %18 = arith.addf %17, %eps : f32
    %19 = tmix.map %16, %18 : (!tmix.tensor<[V], f32>, f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %20 = arith.divf %arg0, %arg1 : f32
      tmix.yield %20 : f32
    }
    tmix.yield %14, %15, %19 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// A vector state (Mamba1): no chunk form.
tmix.recurrence @selective_scan(%x: !tmix.tensor<[B, C, T], f32>, %dt: !tmix.tensor<[B, C, T], f32>, %A: !tmix.tensor<[C, N], f32>, %Bm: !tmix.tensor<[B, T, N], f32>, %Cm: !tmix.tensor<[B, T, N], f32>) -> (y: !tmix.tensor<[B, C, T], f32>) time "T" {
  // expected-remark @below {{state 'h': no chunk form}}
  tmix.state "h" : !tmix.tensor<[N], f32>
  tmix.step {
  ^bb0(%t: i64, %h: !tmix.tensor<[N], f32>):
    %0 = tmix.slice %dt[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %1 = tmix.slice %A : !tmix.tensor<[C, N], f32> -> !tmix.tensor<[N], f32>
    %2 = tmix.map %0, %1 : (f32, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %3 = tmix.map %2 : (!tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32):
      %13 = math.exp %arg0 : f32
      tmix.yield %13 : f32
    }
    %4 = tmix.map %3, %h : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %5 = tmix.slice %dt[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %6 = tmix.slice %x[%t] : !tmix.tensor<[B, C, T], f32> -> f32
    %7 = arith.mulf %5, %6 : f32
    %8 = tmix.slice %Bm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %9 = tmix.map %7, %8 : (f32, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %10 = tmix.map %4, %9 : (!tmix.tensor<[N], f32>, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %13 = arith.addf %arg0, %arg1 : f32
      tmix.yield %13 : f32
    }
    %11 = tmix.slice %Cm[%t] : !tmix.tensor<[B, T, N], f32> -> !tmix.tensor<[N], f32>
    %12 = tmix.dot %11, %10 : !tmix.tensor<[N], f32>, !tmix.tensor<[N], f32> -> f32
    tmix.yield %10, %12 : !tmix.tensor<[N], f32>, f32
  }
}
