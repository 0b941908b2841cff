// RUN: tmix-opt %s -split-input-file -verify-diagnostics

// One case per verifier message of the tmix dialect (types, spec ops, statements,
// expression ops). Properties that the custom syntax always gets right are set
// through the generic form.

// expected-error @+1 {{!tmix.tensor needs at least one dimension (use a scalar type for rank 0)}}
func.func private @f(!tmix.tensor<[], f32>)

// -----

// expected-error @+1 {{dimension #1 is 0; sizes must be positive}}
func.func private @f(!tmix.tensor<[B, 0], f32>)

// -----

// expected-error @+1 {{dimension #0 'N.x' is not a size symbol (an identifier, or one plus a positive integer)}}
func.func private @f(!tmix.tensor<[N.x], f32>)

// -----

// expected-error @+1 {{element type must be one of f32 f16 bf16 i32 i64 i1, got 'f64'}}
func.func private @f(!tmix.tensor<[N], f64>)

// -----

// expected-error @+1 {{layout has 2 positions for 3 dimensions}}
func.func private @f(!tmix.tensor<[B, T, H], f32, layout [1, 0]>)

// -----

// expected-error @+1 {{layout must be a permutation of 0..2}}
func.func private @f(!tmix.tensor<[B, T, H], f32, layout [0, 2, 2]>)

// -----

// expected-error @+1 {{layout must be a permutation of 0..2}}
func.func private @f(!tmix.tensor<[B, T, H], f32, layout [0, 3, 1]>)

// -----

// expected-error @+1 {{an identity layout is written as none}}
func.func private @f(!tmix.tensor<[B, T, H], f32, layout [0, 1, 2]>)

// -----

// expected-error @+1 {{arg_names has 1 entries for 3 arguments}}
"tmix.attention"() <{sym_name = "a", function_type = (!tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>) -> !tmix.tensor<[B, H, N, D], f32>, arg_names = ["q"], arg_defaults = [unit, unit, unit], result_names = ["o"]}> ({
^bb0(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>):
}) : () -> ()

// -----

// expected-error @+1 {{arg_defaults has 2 entries for 3 arguments}}
"tmix.attention"() <{sym_name = "a", function_type = (!tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>) -> !tmix.tensor<[B, H, N, D], f32>, arg_names = ["q", "k", "v"], arg_defaults = [unit, unit], result_names = ["o"]}> ({
^bb0(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>):
}) : () -> ()

// -----

// expected-error @+1 {{result_names has 2 entries for 1 results}}
"tmix.attention"() <{sym_name = "a", function_type = (!tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>) -> !tmix.tensor<[B, H, N, D], f32>, arg_names = ["q", "k", "v"], arg_defaults = [unit, unit, unit], result_names = ["o", "lse"]}> ({
^bb0(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>):
}) : () -> ()

// -----

// expected-error @+1 {{body arguments (}}
"tmix.attention"() <{sym_name = "a", function_type = (!tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>) -> !tmix.tensor<[B, H, N, D], f32>, arg_names = ["q", "k", "v"], arg_defaults = [unit, unit, unit], result_names = ["o"]}> ({
^bb0(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>):
}) : () -> ()

// -----

// expected-error @+1 {{default of argument 'w' must be a literal of type 'i32', got 1 : i64}}
"tmix.attention"() <{sym_name = "a", function_type = (!tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, !tmix.tensor<[B, H, N, D], f32>, i32) -> !tmix.tensor<[B, H, N, D], f32>, arg_names = ["q", "k", "v", "w"], arg_defaults = [unit, unit, unit, 1], result_names = ["o"]}> ({
^bb0(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %w: i32):
}) : () -> ()

// -----

// expected-error @+1 {{name 'q' is used twice}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (q: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{argument 'x' must be a !tmix.tensor or a scalar (f32, f16, bf16, i32, i64, i1), got 'f64'}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %x: f64)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{tensor argument 'x' cannot have a default}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %x: !tmix.tensor<[N], f32> = 1)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{result 'y' must be a !tmix.tensor, got 'f32'}}
tmix.recurrence @r(%x: !tmix.tensor<[B, T], f32>)
    -> (y: f32) time "T" {
}

// -----

// expected-error @+1 {{expects at least 3 arguments (q, k, v), got 2}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{expects results (o) or (o, lse), got 3 results}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>, lse: !tmix.tensor<[B, H, N], f32>, x: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'q' must be a rank-4 !tmix.tensor of f32, f16 or bf16, got '!tmix.tensor<[B, H, N, D], i32>'}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], i32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'v' must be a rank-4 !tmix.tensor of f32, f16 or bf16}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'k' element type 'f16' does not match 'q' element type 'bf16'}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], bf16>, %k: !tmix.tensor<[B, H, N, D], f16>, %v: !tmix.tensor<[B, H, N, D], bf16>)
    -> (o: !tmix.tensor<[B, H, N, D], bf16>) {
}

// -----

// expected-error @+1 {{'lse' must be a rank-3 f32 !tmix.tensor, got '!tmix.tensor<[B, H, N], bf16>'}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>, lse: !tmix.tensor<[B, H, N], bf16>) {
}

// -----

// expected-error @+1 {{'k' head dim 64 does not match 'q' head dim 128}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 128], f32>, %k: !tmix.tensor<[B, H, N, 64], f32>, %v: !tmix.tensor<[B, H, N, 64], f32>)
    -> (o: !tmix.tensor<[B, H, N, 64], f32>) {
}

// -----

// expected-error @+1 {{'k' batch dim 2 does not match 'q' batch dim B}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[2, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'o' batch dim B2 does not match 'q' batch dim B}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B2, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'v' head count H does not match 'k' head count HK}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>, %v: !tmix.tensor<[B, H, M, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'v' key length N does not match 'k' key length M}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>, %v: !tmix.tensor<[B, HK, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'o' head count HK does not match 'q' head count H}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>, %v: !tmix.tensor<[B, HK, M, D], f32>)
    -> (o: !tmix.tensor<[B, HK, N, D], f32>) {
}

// -----

// expected-error @+1 {{'o' query length M does not match 'q' query length N}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>, %v: !tmix.tensor<[B, HK, M, D], f32>)
    -> (o: !tmix.tensor<[B, H, M, D], f32>) {
}

// -----

// expected-error @+1 {{'o' value dim D does not match 'v' value dim DV}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, HK, M, D], f32>, %v: !tmix.tensor<[B, HK, M, DV], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
}

// -----

// expected-error @+1 {{'lse' query length M does not match 'q' query length N}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>, lse: !tmix.tensor<[B, H, M], f32>) {
}

// -----

// expected-error @+1 {{'q' head count 6 is not a multiple of 'k' head count 4}}
tmix.attention @a(%q: !tmix.tensor<[B, 6, N, D], f32>, %k: !tmix.tensor<[B, 4, M, D], f32>, %v: !tmix.tensor<[B, 4, M, D], f32>)
    -> (o: !tmix.tensor<[B, 6, N, D], f32>) {
}

// -----

// expected-error @+1 {{body may only hold statements (tmix.scale, tmix.mask, tmix.score, tmix.sink, tmix.rope), found 'arith.constant'}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  %c = arith.constant 1.0 : f32
}

// -----

// expected-error @+1 {{'tmix.mask' appears more than once}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    tmix.yield %t : i1
  }
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    tmix.yield %t : i1
  }
}

// -----

// expected-error @+1 {{rope needs an even head dim, got 63}}
tmix.attention @a(%q: !tmix.tensor<[B, H, N, 63], f32>, %k: !tmix.tensor<[B, H, N, 63], f32>, %v: !tmix.tensor<[B, H, N, 63], f32>)
    -> (o: !tmix.tensor<[B, H, N, 63], f32>) {
  tmix.rope {
    %c = arith.constant 1.0e4 : f32
    tmix.yield %c : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{block arguments must be (), got (i64)}}
  tmix.scale {
  ^bb0(%a0: i64):
    %y0 = arith.constant 1.0 : f32
    tmix.yield %y0 : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{must yield (f32), got (i64)}}
  tmix.scale {
    %y0 = arith.constant 1 : i64
    tmix.yield %y0 : i64
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{block arguments must be (i64, i64, i64, i64), got (i64, i64)}}
  tmix.mask {
  ^bb0(%a0: i64, %a1: i64):
    %y0 = arith.constant true
    tmix.yield %y0 : i1
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{must yield (i1), got (f32)}}
  tmix.mask {
  ^bb0(%a0: i64, %a1: i64, %a2: i64, %a3: i64):
    %y0 = arith.constant 1.0 : f32
    tmix.yield %y0 : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{block arguments must be (i64, i64, i64, i64, f32), got (i64, i64, i64, i64)}}
  tmix.score {
  ^bb0(%a0: i64, %a1: i64, %a2: i64, %a3: i64):
    %y0 = arith.constant 1.0 : f32
    tmix.yield %y0 : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{must yield (f32), got (f32, f32)}}
  tmix.score {
  ^bb0(%a0: i64, %a1: i64, %a2: i64, %a3: i64, %a4: f32):
    %y0 = arith.constant 1.0 : f32
    %y1 = arith.constant 1.0 : f32
    tmix.yield %y0, %y1 : f32, f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{block arguments must be (i64, i64), got (i64, i64, i64, i64)}}
  tmix.sink {
  ^bb0(%a0: i64, %a1: i64, %a2: i64, %a3: i64):
    %y0 = arith.constant 1.0 : f32
    tmix.yield %y0 : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{must yield (f32), got ()}}
  tmix.sink {
  ^bb0(%a0: i64, %a1: i64):
    tmix.yield
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{block arguments must be (), got (f32)}}
  tmix.rope {
  ^bb0(%a0: f32):
    %y0 = arith.constant 1.0 : f32
    tmix.yield %y0 : f32
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{must yield (f32), got (i1)}}
  tmix.rope {
    %y0 = arith.constant true
    tmix.yield %y0 : i1
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  // expected-error @+1 {{region must end with tmix.yield}}
  tmix.scale {
    llvm.unreachable
  }
}

// -----

func.func @f() {
  // expected-error @+1 {{expects parent op to be one of 'tmix.attention, tmix.attention_grad'}}
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    tmix.yield %t : i1
  }
  return
}

// -----

// expected-error @+1 {{group 'G' must name one of the parallel dims [B, H], got "K"}}
tmix.recurrence @r(%k: !tmix.tensor<[B, G, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" groups {G = "K"} {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{group 'B' is a parallel or time dim itself}}
tmix.recurrence @r(%v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" groups {B = "H"} {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// A group symbol that is not declared stands for nothing: the slice's dims must be
// parallel dims.
tmix.recurrence @r(%k: !tmix.tensor<[B, G, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, K], f32>) time "T" {
  tmix.step {
  ^bb0(%t: i64):
    // expected-error @+1 {{source dims [B, G] before the time dimension must be parallel dims [B, H], in order}}
    %o = tmix.slice %k[%t] : !tmix.tensor<[B, G, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %o : !tmix.tensor<[K], f32>
  }
}

// -----

// expected-error @+1 {{tmix.state 'S' must come before tmix.step}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.state "S" : !tmix.tensor<[K, V], f32>
}

// -----

// expected-error @+1 {{state 'S' is declared twice}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>, %s1: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %s1, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{body may only hold tmix.state, tmix.step and tmix.final, found 'arith.constant'}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  %c = arith.constant 1.0 : f32
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{expects exactly one tmix.step, found 0}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
}

// -----

// expected-error @+1 {{tmix.final names 'x', which is not a result}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "x" = "S"
}

// -----

// expected-error @+1 {{tmix.final reads 'X', which is not a declared state}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "X"
}

// -----

// expected-error @+1 {{result 'ht' is produced by more than one tmix.final}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
  tmix.final "ht" = "S"
}

// -----

// expected-error @+1 {{needs at least one per-step output (a result that is not a tmix.final)}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    tmix.yield %s0 : !tmix.tensor<[K, V], f32>
  }
  tmix.final "ht" = "S"
}

// -----

// expected-error @+1 {{per-step output 'o' has no time dimension 'T'}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, N, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.sum %s0 : !tmix.tensor<[K, V], f32> -> f32
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, f32
  }
}

// -----

// expected-error @+1 {{per-step output 'y' has parallel dims [B] but 'o' has [B, H]}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>, y: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{init of state 'S' must have dims [B, H, K, V] (the parallel dims then the state's), got '!tmix.tensor<[B, K, V], f32>'}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %init: !tmix.tensor<[B, K, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %init : !tmix.tensor<[B, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{init of state 'S' must have a float element type, got 'i32'}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %init: !tmix.tensor<[B, H, K, V], i32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %init : !tmix.tensor<[B, H, K, V], i32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{final result 'ht' must be '!tmix.tensor<[B, H, K, V], f32>' (the parallel dims then the state's), got '!tmix.tensor<[B, K, V], f32>'}}
tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>, ht: !tmix.tensor<[B, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  // expected-error @+1 {{block arguments must be (i64, !tmix.tensor<[K, V], f32>), got (i64)}}
  tmix.step {
  ^bb0(%t: i64):
    tmix.yield
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  // expected-error @+1 {{must yield (!tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>), got (!tmix.tensor<[K, V], f32>)}}
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    tmix.yield %s0 : !tmix.tensor<[K, V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  // expected-error @+1 {{region must end with tmix.yield}}
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    llvm.unreachable
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  // expected-error @+1 {{state type must be f32 or an f32 !tmix.tensor, got '!tmix.tensor<[K, V], bf16>'}}
  tmix.state "S" : !tmix.tensor<[K, V], bf16>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], bf16>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], bf16>, !tmix.tensor<[V], f32>
  }
}

// -----

func.func @f() -> i64 {
  // expected-error @+1 {{must be inside a tmix.attention or tmix.recurrence}}
  %n = tmix.size "N" : i64
  return %n : i64
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{'Q' is not a size symbol of the enclosing spec}}
    %n = tmix.size "Q" : i64
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %doc: !tmix.tensor<[B, N], i32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{expects 2 indices for a rank-2 tensor, got 1}}
    %d = tmix.read %doc[%i] : !tmix.tensor<[B, N], i32> -> i32
    %t = arith.constant true
    tmix.yield %t : i1
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %doc: !tmix.tensor<[B, N], i32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{result type must be 'f32', got 'bf16'}}
    %d = tmix.read %q[%b, %h, %i, %j] : !tmix.tensor<[B, H, N, D], f32> -> bf16
    %t = arith.constant true
    tmix.yield %t : i1
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %doc: !tmix.tensor<[B, N], i32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.constant 1.0 : f32
    %m = tmix.map %c : (f32) -> !tmix.tensor<[N], f32> {
    ^bb0(%x: f32):
      tmix.yield %x : f32
    }
    // expected-error @+1 {{tensor must be an argument of the enclosing spec}}
    %d = tmix.read %m[%i] : !tmix.tensor<[N], f32> -> f32
    %t = arith.constant true
    tmix.yield %t : i1
  }
}

// -----

tmix.attention @a(%q: !tmix.tensor<[B, H, N, D], f32>, %k: !tmix.tensor<[B, H, N, D], f32>, %v: !tmix.tensor<[B, H, N, D], f32>, %doc: !tmix.tensor<[B, N], i32>)
    -> (o: !tmix.tensor<[B, H, N, D], f32>) {
  tmix.mask {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{must be inside a tmix.recurrence}}
    %d = tmix.slice %q[%i] : !tmix.tensor<[B, H, N, D], f32> -> !tmix.tensor<[D], f32>
    %t = arith.constant true
    tmix.yield %t : i1
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %m = tmix.map %t : (i64) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: i64):
      %f = arith.sitofp %x : i64 to f32
      tmix.yield %f : f32
    }
    // expected-error @+1 {{source must be an argument of the enclosing spec}}
    %d = tmix.slice %m : !tmix.tensor<[K, V], f32> -> !tmix.tensor<[K, V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[H], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{source has no time dimension 'T' to slice at a step}}
    %d = tmix.slice %a[%t] : !tmix.tensor<[H], f32> -> f32
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[H, B, T], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{source dims [H, B] before the time dimension must be parallel dims [B, H], in order}}
    %d = tmix.slice %a[%t] : !tmix.tensor<[H, B, T], f32> -> f32
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{source has the time dimension 'T'; slice it at a step index}}
    %d = tmix.slice %k : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{result type must be '!tmix.tensor<[K], f32>', got '!tmix.tensor<[K], bf16>'}}
    %d = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], bf16>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{lhs must be an f32 vector, got '!tmix.tensor<[K, V], f32>'}}
    %x = tmix.outer %s0, %b : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{result type must be '!tmix.tensor<[K, V], f32>', got '!tmix.tensor<[V, K], f32>'}}
    %x = tmix.outer %a, %b : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[V, K], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{rhs must be an f32 matrix, got '!tmix.tensor<[V], f32>'}}
    %x = tmix.vecmat %a, %b : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{vector length V does not match matrix rows K}}
    %x = tmix.vecmat %b, %s0 : !tmix.tensor<[V], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{result type must be '!tmix.tensor<[V], f32>', got '!tmix.tensor<[K], f32>'}}
    %x = tmix.vecmat %a, %s0 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{vector length K does not match matrix columns V}}
    %x = tmix.matvec %s0, %a : !tmix.tensor<[K, V], f32>, !tmix.tensor<[K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{result type must be '!tmix.tensor<[K], f32>', got '!tmix.tensor<[V], f32>'}}
    %x = tmix.matvec %s0, %b : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %b = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    // expected-error @+1 {{vector lengths K and V do not match}}
    %x = tmix.dot %a, %b : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> f32
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %n: !tmix.tensor<[B, T, K], i32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %i = tmix.slice %n[%t] : !tmix.tensor<[B, T, K], i32> -> !tmix.tensor<[K], i32>
    // expected-error @+1 {{input must be an f32 !tmix.tensor, got '!tmix.tensor<[K], i32>'}}
    %x = tmix.sum %i : !tmix.tensor<[K], i32> -> f32
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    // expected-error @+1 {{operand #0 of type '!tmix.tensor<[K], f32>' does not broadcast to the result type '!tmix.tensor<[V, K], f32>'}}
    %m = tmix.map %a, %s0 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[V, K], f32> {
    ^bb0(%x0: f32, %x1: f32):
      %c = arith.constant 1.0 : f32
      tmix.yield %c : f32
    }
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    // expected-error @+1 {{block arguments must be (f32, f32), got (f32)}}
    %m = tmix.map %a, %s0 : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x0: f32):
      %c = arith.constant 1.0 : f32
      tmix.yield %c : f32
    }
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

tmix.recurrence @r(%k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>)
    -> (o: !tmix.tensor<[B, H, T, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %s0: !tmix.tensor<[K, V], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %a = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    // expected-error @+1 {{must yield (f32), got (i1)}}
    %m = tmix.map %a, %t : (!tmix.tensor<[K], f32>, i64) -> !tmix.tensor<[K], f32> {
    ^bb0(%x0: f32, %x1: i64):
      %c = arith.constant true
      tmix.yield %c : i1
    }
    tmix.yield %s0, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}

// -----

// The schedules' ranges (dialect/ScheduleBounds.h), checked when a schedule is parsed:
// a hand-written one never reaches a tile size, a loop step or a buffer size out of
// range.
// expected-error @+1 {{schedule block_m=0: at least 1}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 0, block_n = 64>}

// -----

// block_n = 2^63 - 1 made `8 * block_n` overflow: all-zero outputs.
// expected-error @+1 {{schedule block_n=9223372036854775807: at most 4096}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 32, block_n = 9223372036854775807>}

// -----

// expected-error @+1 {{schedule lanes=65: at most 64}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 65>}

// -----

// expected-error @+1 {{schedule vector_registers=2: between 4 and 256}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 2>}

// -----

// expected-error @+1 {{schedule warps=-1: at least 1}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = -1>}

// -----

// expected-error @+1 {{schedule stages=9: at most 8}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 9>}

// -----

// The lane vectors of a tile are unrolled in every micro-kernel step.
// expected-error @+1 {{schedule block_m=1024 with lanes=1 needs more than 256 lane vectors per tile: at most block_m=256}}
func.func private @f() attributes {s = #tmix.attention_schedule<block_m = 1024, block_n = 64, lanes = 1, vector_registers = 32>}

// -----

// expected-error @+1 {{unknown recurrence form 'parallel' (expected auto, chunked or recurrent)}}
func.func private @f() attributes {s = #tmix.recurrence_schedule<form = "parallel", chunk = 64>}

// -----

// chunk = 2^63 - 1 made every chunk buffer a malloc of 2^64 - 16 bytes.
// expected-error @+1 {{schedule chunk=9223372036854775807: at most 1024}}
func.func private @f() attributes {s = #tmix.recurrence_schedule<form = "chunked", chunk = 9223372036854775807>}

// -----

// expected-error @+1 {{schedule chunked_min_steps=0: at least 1}}
func.func private @f() attributes {s = #tmix.recurrence_schedule<form = "auto", chunk = 64, chunked_min_steps = 0>}

// -----

// expected-error @+1 {{offsets names 'lengths', which is not an argument}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %cu: !tmix.tensor<[N + 1], i32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" offsets "lengths" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{offsets 'cu' must be an i32 or i64 tensor [S + 1] (the starts of S sequences, then their end), got '!tmix.tensor<[N], i32>'}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %cu: !tmix.tensor<[N], i32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" offsets "cu" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{offsets 'cu' must be an i32 or i64 tensor [S + 1] (the starts of S sequences, then their end), got '!tmix.tensor<[N + 1], f32>'}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %cu: !tmix.tensor<[N + 1], f32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" offsets "cu" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{the sequence dim 'T' is the time dim itself}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %cu: !tmix.tensor<[T + 1], i32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" offsets "cu" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{argument 'g' [N, H, T] has the time dim 'T', which holds every sequence, and the sequence dim 'N' too}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %g: !tmix.tensor<[N, H, T], f32>,
                   %cu: !tmix.tensor<[N + 1], i32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" offsets "cu" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{argument #1 has the dim 'H + 1'; a dim with an offset is only the [S + 1] offsets of packed sequences (a recurrence's offsets)}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, V], f32>, %a: !tmix.tensor<[H + 1], f32>)
    -> (o: !tmix.tensor<[H, T, V], f32>) time "T" {
  tmix.step {
  ^bb0(%t: i64):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %o : !tmix.tensor<[V], f32>
  }
}

// -----

// expected-error @+1 {{final result 'last' must be '!tmix.tensor<[N, H, K], f32>' (the parallel dims then the state's), got '!tmix.tensor<[H, K], f32>'}}
tmix.recurrence @r(%v: !tmix.tensor<[H, T, K], f32>, %cu: !tmix.tensor<[N + 1], i32>)
    -> (o: !tmix.tensor<[H, T, K], f32>, last: !tmix.tensor<[H, K], f32>) time "T" offsets "cu" {
  tmix.state "z" : !tmix.tensor<[K], f32>
  tmix.step {
  ^bb0(%t: i64, %z: !tmix.tensor<[K], f32>):
    %o = tmix.slice %v[%t] : !tmix.tensor<[H, T, K], f32> -> !tmix.tensor<[K], f32>
    tmix.yield %o, %o : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>
  }
  tmix.final "last" = "z"
}

// -----

// A dim's offset is positive.
// expected-error @+1 {{the offset of a dimension must be positive}}
func.func private @f(!tmix.tensor<[N + 0], i32>)

// -----

tmix.recurrence @not_an_adjoint(%x: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    // expected-error @+1 {{'tmix.forward_state' op reads a forward state, so its recurrence must be the adjoint of one (`forward "X"`)}}
    %s = tmix.forward_state "h" : f32
    tmix.yield %s, %s : f32, f32
  }
}

// -----

tmix.recurrence @adjoint(%x: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" forward "x" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    // expected-error @+1 {{'tmix.forward_state' op state type must be f32 or an f32 !tmix.tensor, got 'i64'}}
    %s = tmix.forward_state "h" : i64
    tmix.yield %h, %h : f32, f32
  }
}
