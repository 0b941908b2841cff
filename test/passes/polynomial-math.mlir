// RUN: tmix-opt %s -split-input-file --tmix-polynomial-math | FileCheck %s --implicit-check-not=math.exp2 --implicit-check-not=math.exp --implicit-check-not=math.tanh --implicit-check-not=math.log

// exp2, exp, tanh and log become inline arithmetic: no libm call in a kernel's loops.
// CHECK-LABEL: func.func @softmax_terms(
// CHECK: math.fma
// CHECK: arith.bitcast
// CHECK: return
func.func @softmax_terms(%x: f32, %y: f32) -> (f32, f32, f32, f32) {
  %a = math.exp2 %x : f32
  %b = math.exp %y : f32
  %c = math.tanh %x : f32
  %d = math.log %y : f32
  return %a, %b, %c, %d : f32, f32, f32, f32
}

// -----

// f32 exp2 (a softmax probability per pair) as tmix's own polynomial, lanes and all:
// clamped by compares (NaN passes), n = floor(x + 1/2), 2^f by six fmas from its
// doubled leading coefficient, times 2^(n - 1) made in the exponent bits.
// CHECK-LABEL: func.func @probabilities(
// CHECK-DAG: %[[LOW:.*]] = arith.constant dense<-1.260000e+02> : vector<16xf32>
// CHECK-DAG: %[[HIGH:.*]] = arith.constant dense<1.280000e+02> : vector<16xf32>
// CHECK-DAG: %[[LEAD:.*]] = arith.constant dense<3.06650152E-4> : vector<16xf32>
// CHECK-DAG: %[[BIAS:.*]] = arith.constant dense<126> : vector<16xi32>
// CHECK-DAG: %[[SHIFT:.*]] = arith.constant dense<23> : vector<16xi32>
// CHECK: %[[BELOW:.*]] = arith.cmpf olt, %arg0, %[[LOW]]
// CHECK: %[[X0:.*]] = arith.select %[[BELOW]], %[[LOW]], %arg0
// CHECK: %[[ABOVE:.*]] = arith.cmpf ogt, %[[X0]], %[[HIGH]]
// CHECK: %[[X:.*]] = arith.select %[[ABOVE]], %[[HIGH]], %[[X0]]
// CHECK: %[[N:.*]] = math.floor
// CHECK: %[[F:.*]] = arith.subf %[[X]], %[[N]]
// CHECK: math.fma %[[LEAD]], %[[F]]
// CHECK-COUNT-5: math.fma
// CHECK: %[[NI:.*]] = arith.fptosi %[[N]] : vector<16xf32> to vector<16xi32>
// CHECK: %[[E:.*]] = arith.addi %[[NI]], %[[BIAS]]
// CHECK: %[[BITS:.*]] = arith.shli %[[E]], %[[SHIFT]]
// CHECK: %[[SCALE:.*]] = arith.bitcast %[[BITS]] : vector<16xi32> to vector<16xf32>
// CHECK: arith.mulf %{{.*}}, %[[SCALE]]
// exp2 of f64 keeps the upstream expansion to exp (which has no f64 polynomial).
// CHECK-LABEL: func.func @wide(
// CHECK-NOT: math.floor
// CHECK: math.exp %{{.*}} : f64
// CHECK: return
func.func @probabilities(%x: vector<16xf32>) -> vector<16xf32> {
  %p = math.exp2 %x : vector<16xf32>
  return %p : vector<16xf32>
}
func.func @wide(%x: f64) -> f64 {
  %p = math.exp2 %x : f64
  return %p : f64
}
