// RUN: tmix-opt %s --canonicalize --split-input-file | FileCheck %s

// Folded constants stay in the region that uses them: the spec body holds only
// statements, so nothing may be hoisted up to it (TmixDialect's fold interface).

// CHECK-LABEL: tmix.attention @folded_score(
// CHECK-NEXT: tmix.score {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
// CHECK-NEXT: %[[C:.*]] = arith.constant 3.000000e+00 : f32
// CHECK-NEXT: %[[R:.*]] = arith.mulf %s, %[[C]] : f32
// CHECK-NEXT: tmix.yield %[[R]] : f32
tmix.attention @folded_score(%q: !tmix.tensor<[B, H, N, 64], f32>, %k: !tmix.tensor<[B, H, N, 64], f32>,
                             %v: !tmix.tensor<[B, H, N, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
  tmix.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %one = arith.constant 1.0 : f32
    %two = arith.constant 2.0 : f32
    %three = arith.addf %one, %two : f32
    %r = arith.mulf %s, %three : f32
    tmix.yield %r : f32
  }
}

// -----

// CHECK-LABEL: tmix.recurrence @folded_step(
// CHECK-NEXT: tmix.state "h" : f32
// CHECK-NEXT: tmix.step {
// CHECK-NEXT: ^bb0(%t: i64, %h: f32):
// CHECK-NEXT: %[[C:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT: %[[X:.*]] = tmix.slice %x[%t]
// CHECK-NEXT: %[[M:.*]] = arith.mulf %h, %[[C]] : f32
tmix.recurrence @folded_step(%x: !tmix.tensor<[B, T], f32>) -> (y: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %x_t = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %one = arith.constant 1.0 : f32
    %two = arith.constant 2.0 : f32
    %half = arith.divf %one, %two : f32
    %m = arith.mulf %h, %half : f32
    %h1 = arith.addf %m, %x_t : f32
    tmix.yield %h1, %h1 : f32, f32
  }
}
