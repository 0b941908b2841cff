// RUN: tmix-opt %s --tmix-polynomial-math | FileCheck %s --implicit-check-not=math.exp2 --implicit-check-not=math.exp --implicit-check-not=math.tanh --implicit-check-not=math.log

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
