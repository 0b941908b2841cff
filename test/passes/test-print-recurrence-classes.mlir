// RUN: tmix-opt %s -split-input-file --tmix-test-print-recurrence-classes -verify-diagnostics

// One remark per state: the class of its update (RecurrenceClasses.h).

// Plain accumulation S + outer(k, v): a_t = 1.
tmix.recurrence @accumulate(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': scalar_decay}}
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
    %4 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.vecmat %4, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %3, %5 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// A [K] gate broadcast over the rows of a [K, V] state (GLA).
tmix.recurrence @diagonal_vector(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': diagonal_decay}}
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
}

// -----

// The delta rule S + beta * outer(k, v - k @ S) (DeltaNet); the two slices of k[t] are equal.
tmix.recurrence @delta_beta(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': delta}}
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

// A scalar decay as a separate update, then the delta rule on the decayed state (Gated DeltaNet).
tmix.recurrence @gated_delta_scalar(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': gated_delta}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
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
}

// -----

// Two coupled states: each update reads the other state.
tmix.recurrence @general_coupled(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-remark @below {{state 'S': general}}
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  // expected-remark @below {{state 'z': general}}
  tmix.state "z" : !tmix.tensor<[K], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>, %z: !tmix.tensor<[K], f32>):
    %0 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %1 = tmix.outer %z, %0 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %2 = tmix.map %S, %1 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.matvec %2, %3 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.map %z, %4 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.addf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %2, %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32>
  }
}
