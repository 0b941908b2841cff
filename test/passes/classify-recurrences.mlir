// RUN: tmix-opt %s -split-input-file --tmix-classify-recurrences | FileCheck %s

// The update class of each state, attached to its tmix.state as tmix.update_class.

// Plain accumulation S + outer(k, v): a_t = 1.
// CHECK-LABEL: tmix.recurrence @accumulate(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "scalar_decay"}
tmix.recurrence @accumulate(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
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

// The decay written after the state (S * a), the operands of the mulf swapped.
// CHECK-LABEL: tmix.recurrence @decay_swapped(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "scalar_decay"}
tmix.recurrence @decay_swapped(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.map %S, %0 : (!tmix.tensor<[K, V], f32>, f32) -> !tmix.tensor<[K, V], f32> {
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

// A decay by division, subtracted from the update: S' = outer(k, v) - S / a.
// CHECK-LABEL: tmix.recurrence @decay_divided(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "scalar_decay"}
tmix.recurrence @decay_divided(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %3 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %4 = tmix.map %S, %3 : (!tmix.tensor<[K, V], f32>, f32) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.divf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %5 = tmix.map %2, %4 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %8 = arith.subf %arg0, %arg1 : f32
      tmix.yield %8 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// A scalar state updated by plain arith ops, outside any tmix.map.
// CHECK-LABEL: tmix.recurrence @scalar_state(
// CHECK: tmix.state "s" : {{.*}} {tmix.update_class = "scalar_decay"}
tmix.recurrence @scalar_state(%x: !tmix.tensor<[B, T], f32>, %a: !tmix.tensor<[B, T], f32>) -> (y: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "s" : f32
  tmix.step {
  ^bb0(%t: i64, %s: f32):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, T], f32> -> f32
    %1 = arith.mulf %0, %s : f32
    %2 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %3 = arith.addf %1, %2 : f32
    tmix.yield %3, %3 : f32, f32
  }
}

// -----

// A [K] gate broadcast over the rows of a [K, V] state (GLA).
// CHECK-LABEL: tmix.recurrence @diagonal_vector(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "diagonal_decay"}
tmix.recurrence @diagonal_vector(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
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

// A gate of the state's own shape, element-wise.
// CHECK-LABEL: tmix.recurrence @diagonal_matrix(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "diagonal_decay"}
tmix.recurrence @diagonal_matrix(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %G: !tmix.tensor<[B, H, T, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %G[%t] : !tmix.tensor<[B, H, T, K, V], f32> -> !tmix.tensor<[K, V], f32>
    %1 = tmix.map %0, %S : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
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

// The delta rule S + beta * outer(k, v - k @ S) (DeltaNet); the two slices of k[t] are equal.
// CHECK-LABEL: tmix.recurrence @delta_beta(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "delta"}
tmix.recurrence @delta_beta(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
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

// The delta rule with beta = 1.
// CHECK-LABEL: tmix.recurrence @delta_unit(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "delta"}
tmix.recurrence @delta_unit(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.vecmat %2, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.map %1, %3 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %9 = arith.subf %arg0, %arg1 : f32
      tmix.yield %9 : f32
    }
    %5 = tmix.outer %0, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %S, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
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

// The delta rule expanded: S - beta * outer(k, k @ S) + beta * outer(k, v).
// CHECK-LABEL: tmix.recurrence @delta_expanded(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "delta"}
tmix.recurrence @delta_expanded(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.vecmat %2, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.outer %1, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %5 = tmix.map %0, %4 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %6 = tmix.map %S, %5 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.subf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %7 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %8 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.outer %8, %9 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %11 = tmix.map %7, %10 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %12 = tmix.map %6, %11 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
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

// A scalar decay as a separate update, then the delta rule on the decayed state (Gated DeltaNet).
// CHECK-LABEL: tmix.recurrence @gated_delta_scalar(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "gated_delta"}
tmix.recurrence @gated_delta_scalar(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
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

// The decay outside: a * (S - beta * outer(k, k @ S)) + beta * outer(k, v) (a scalar commutes).
// CHECK-LABEL: tmix.recurrence @gated_delta_factored(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "gated_delta"}
tmix.recurrence @gated_delta_factored(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.vecmat %3, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.outer %2, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %6 = tmix.map %1, %5 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %7 = tmix.map %S, %6 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.subf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %8 = tmix.map %0, %7 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %9 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %10 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %11 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %12 = tmix.outer %10, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %13 = tmix.map %9, %12 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %17 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %17 : f32
    }
    %14 = tmix.map %8, %13 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
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

// A [K] row gate before the delta rule (KDA-style).
// CHECK-LABEL: tmix.recurrence @gated_delta_diagonal(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "gated_delta"}
tmix.recurrence @gated_delta_diagonal(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %14 = math.exp %arg0 : f32
      tmix.yield %14 : f32
    }
    %2 = tmix.map %1, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %3 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
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
    %12 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %13 = tmix.vecmat %12, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %11, %13 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// A row gate after the delta rule: exp(g) * (S + ...) scales the key, not a gated delta rule.
// CHECK-LABEL: tmix.recurrence @general_gate_after_delta(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_gate_after_delta(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>, %g: !tmix.tensor<[B, H, T, K], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %g[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %1 = tmix.map %0 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%arg0: f32):
      %14 = math.exp %arg0 : f32
      tmix.yield %14 : f32
    }
    %2 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %3 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %4 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %5 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.vecmat %5, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %7 = tmix.map %4, %6 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.subf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %8 = tmix.outer %3, %7 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %9 = tmix.map %2, %8 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %10 = tmix.map %S, %9 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.addf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %11 = tmix.map %1, %10 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %14 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %14 : f32
    }
    %12 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %13 = tmix.vecmat %12, %11 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %11, %13 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// The projection reads the state along q, the write goes along k: not a delta rule.
// CHECK-LABEL: tmix.recurrence @general_delta_keys(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_delta_keys(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %beta[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %3 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
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

// A delta rule plus a write along another key (outer(q, v)): the update is not rank one along k.
// CHECK-LABEL: tmix.recurrence @general_delta_update(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_delta_update(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %beta: !tmix.tensor<[B, H, T], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
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
      %15 = arith.subf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %6 = tmix.outer %1, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %0, %6 : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %8 = tmix.map %S, %7 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %15 = arith.addf %arg0, %arg1 : f32
      tmix.yield %15 : f32
    }
    %9 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %10 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %11 = tmix.outer %9, %10 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %12 = tmix.map %8, %11 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
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

// S * S: the state read nonlinearly.
// CHECK-LABEL: tmix.recurrence @general_square(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_square(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.map %S, %S : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %7 = arith.mulf %arg0, %arg1 : f32
      tmix.yield %7 : f32
    }
    %1 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %3 = tmix.outer %1, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %4 = tmix.map %0, %3 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %7 = arith.addf %arg0, %arg1 : f32
      tmix.yield %7 : f32
    }
    %5 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %6 = tmix.vecmat %5, %4 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %4, %6 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// exp(S): the state read nonlinearly.
// CHECK-LABEL: tmix.recurrence @general_exp(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_exp(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.map %S : (!tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%arg0: f32):
      %3 = math.exp %arg0 : f32
      tmix.yield %3 : f32
    }
    %1 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.vecmat %1, %0 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %0, %2 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// outer(S @ v, v): the state read through a matvec.
// CHECK-LABEL: tmix.recurrence @general_readout(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_readout(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %1 = tmix.matvec %S, %0 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    %2 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %3 = tmix.outer %1, %2 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %4 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %5 = tmix.vecmat %4, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %3, %5 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// Two coupled states: each update reads the other state.
// CHECK-LABEL: tmix.recurrence @general_coupled(
// CHECK: tmix.state "S" : {{.*}} {tmix.update_class = "general"}
// CHECK: tmix.state "z" : {{.*}} {tmix.update_class = "general"}
tmix.recurrence @general_coupled(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
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
