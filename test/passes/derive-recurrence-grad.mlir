// RUN: tmix-opt %s -split-input-file -verify-diagnostics --tmix-derive-recurrence-grad | FileCheck %s

// Scalar decay with an initial and a final state: S' = a S + k v^T, o = q S'.
// The adjoint takes d_o and d_ht, starts d_S at d_ht, recomputes the step from S_t
// and yields d_S_t = a (d_S + q d_o^T) (the map's rule times the decay), then the
// per-step gradients in argument order: d_q = S' d_o, d_k = dS' v, d_v = k dS',
// d_a = sum(S_t * dS'); d_h0 is the last d_S.
tmix.recurrence @decay(%q: !tmix.tensor<[B, H, T, K], f32>, %k: !tmix.tensor<[B, H, T, K], f32>, %v: !tmix.tensor<[B, H, T, V], f32>, %a: !tmix.tensor<[B, H, T], f32>, %h0: !tmix.tensor<[B, H, K, V], f32>) -> (o: !tmix.tensor<[B, H, T, V], f32>, ht: !tmix.tensor<[B, H, K, V], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[K, V], f32> init %h0 : !tmix.tensor<[B, H, K, V], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
    %0 = tmix.slice %a[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %1 = tmix.map %0, %S : (f32, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %z = arith.mulf %x, %y : f32
      tmix.yield %z : f32
    }
    %2 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %3 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, V], f32> -> !tmix.tensor<[V], f32>
    %4 = tmix.outer %2, %3 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %5 = tmix.map %1, %4 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %z = arith.addf %x, %y : f32
      tmix.yield %z : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, K], f32> -> !tmix.tensor<[K], f32>
    %7 = tmix.vecmat %6, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    tmix.yield %5, %7 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
  tmix.final "ht" = "S"
}
// CHECK-LABEL: tmix.recurrence @decay(
// CHECK-LABEL: tmix.recurrence @decay_grad(
// CHECK-SAME: %h0: !tmix.tensor<[B, H, K, V], f32>, %d_o: !tmix.tensor<[B, H, T, V], f32>, %d_ht: !tmix.tensor<[B, H, K, V], f32>)
// CHECK-SAME: -> (d_q: !tmix.tensor<[B, H, T, K], f32>, d_k: !tmix.tensor<[B, H, T, K], f32>, d_v: !tmix.tensor<[B, H, T, V], f32>, d_a: !tmix.tensor<[B, H, T], f32>, d_h0: !tmix.tensor<[B, H, K, V], f32>)
// CHECK-SAME: time "T" forward "decay"
// CHECK-NEXT: tmix.state "d_S" : !tmix.tensor<[K, V], f32> init %d_ht
// CHECK: ^bb0(%[[T:.*]]: i64, %[[DS:.*]]: !tmix.tensor<[K, V], f32>):
// CHECK: %[[ST:.*]] = tmix.forward_state "S"
// CHECK: %[[A:.*]] = tmix.slice %a[%[[T]]]
// CHECK: %[[K:.*]] = tmix.slice %k[%[[T]]]
// CHECK: %[[V:.*]] = tmix.slice %v[%[[T]]]
// CHECK: %[[NEW:.*]] = tmix.map
// CHECK: %[[Q:.*]] = tmix.slice %q[%[[T]]]
// CHECK: %[[DO:.*]] = tmix.slice %d_o[%[[T]]]
// CHECK: %[[DQ:.*]] = tmix.matvec %[[NEW]], %[[DO]]
// CHECK: %[[QDO:.*]] = tmix.outer %[[Q]], %[[DO]]
// CHECK: %[[DNEW:.*]] = tmix.map %[[DS]], %[[QDO]]
// CHECK: arith.addf
// CHECK: %[[DK:.*]] = tmix.matvec %[[DNEW]], %[[V]]
// CHECK: %[[DV:.*]] = tmix.vecmat %[[K]], %[[DNEW]]
// CHECK: %[[SDS:.*]] = tmix.map %[[A]], %[[ST]], %[[DNEW]]
// CHECK: arith.mulf %{{.*}}, %{{.*}}
// CHECK: %[[DA:.*]] = tmix.sum %[[SDS]]
// CHECK: %[[DST:.*]] = tmix.map %[[A]], %[[ST]], %[[DNEW]]
// CHECK: tmix.yield %[[DST]], %[[DQ]], %[[DK]], %[[DV]], %[[DA]] :
// CHECK: tmix.final "d_h0" = "d_S"

// -----

// Shared gradients come back per point: a per-head constant (d_A: [B, H]) and a scalar
// (d_scale: [B, H]) as accumulator states and finals; B and C read by a group of heads
// as [B, H, T, N] (the caller sums each group).
tmix.recurrence @shared(%x: !tmix.tensor<[B, H, T, P], f32>, %A: !tmix.tensor<[H], f32>, %Bm: !tmix.tensor<[B, G, T, N], f32>, %scale: f32) -> (y: !tmix.tensor<[B, H, T, P], f32>) time "T" groups {G = "H"} {
  tmix.state "S" : !tmix.tensor<[N, P], f32>
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[N, P], f32>):
    %0 = tmix.slice %A : !tmix.tensor<[H], f32> -> f32
    %1 = math.exp %0 : f32
    %2 = tmix.map %1, %S : (f32, !tmix.tensor<[N, P], f32>) -> !tmix.tensor<[N, P], f32> {
    ^bb0(%p: f32, %r: f32):
      %z = arith.mulf %p, %r : f32
      tmix.yield %z : f32
    }
    %3 = tmix.slice %Bm[%t] : !tmix.tensor<[B, G, T, N], f32> -> !tmix.tensor<[N], f32>
    %4 = tmix.slice %x[%t] : !tmix.tensor<[B, H, T, P], f32> -> !tmix.tensor<[P], f32>
    %5 = tmix.outer %3, %4 : !tmix.tensor<[N], f32>, !tmix.tensor<[P], f32> -> !tmix.tensor<[N, P], f32>
    %6 = tmix.map %2, %5 : (!tmix.tensor<[N, P], f32>, !tmix.tensor<[N, P], f32>) -> !tmix.tensor<[N, P], f32> {
    ^bb0(%p: f32, %r: f32):
      %z = arith.addf %p, %r : f32
      tmix.yield %z : f32
    }
    %7 = tmix.map %scale, %3 : (f32, !tmix.tensor<[N], f32>) -> !tmix.tensor<[N], f32> {
    ^bb0(%p: f32, %r: f32):
      %z = arith.mulf %p, %r : f32
      tmix.yield %z : f32
    }
    %8 = tmix.vecmat %7, %6 : !tmix.tensor<[N], f32>, !tmix.tensor<[N, P], f32> -> !tmix.tensor<[P], f32>
    tmix.yield %6, %8 : !tmix.tensor<[N, P], f32>, !tmix.tensor<[P], f32>
  }
}
// CHECK-LABEL: tmix.recurrence @shared_grad(
// CHECK-SAME: -> (d_x: !tmix.tensor<[B, H, T, P], f32>, d_Bm: !tmix.tensor<[B, H, T, N], f32>, d_A: !tmix.tensor<[B, H], f32>, d_scale: !tmix.tensor<[B, H], f32>)
// CHECK-SAME: time "T" groups {G = "H"} forward "shared"
// CHECK-NEXT: tmix.state "d_S" : !tmix.tensor<[N, P], f32>{{$}}
// CHECK-NEXT: tmix.state "d_A" : f32
// CHECK-NEXT: tmix.state "d_scale" : f32
// CHECK: ^bb0(%{{.*}}: i64, %{{.*}}: !tmix.tensor<[N, P], f32>, %[[DA:.*]]: f32, %[[DSCALE:.*]]: f32):
// CHECK-DAG: %[[NEWA:.*]] = arith.addf %[[DA]], %{{.*}} : f32
// CHECK-DAG: %[[NEWSCALE:.*]] = arith.addf %[[DSCALE]], %{{.*}} : f32
// CHECK: tmix.yield %{{.*}}, %[[NEWA]], %[[NEWSCALE]], %{{.*}}, %{{.*}} : !tmix.tensor<[N, P], f32>, f32, f32, !tmix.tensor<[P], f32>, !tmix.tensor<[N], f32>
// CHECK: tmix.final "d_A" = "d_A"
// CHECK: tmix.final "d_scale" = "d_scale"

// -----

tmix.recurrence @sine(%x: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %0 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    // expected-error @+1 {{'math.sin' op has no derivative rule: tmix cannot derive the gradient through it}}
    %1 = math.sin %h : f32
    %2 = arith.addf %1, %0 : f32
    tmix.yield %2, %2 : f32, f32
  }
}

// -----

tmix.recurrence @table(%x: !tmix.tensor<[B, T], f32>, %w: !tmix.tensor<[4], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %0 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %c1 = arith.constant 1 : i64
    // expected-error @+1 {{'tmix.read' op reads a float tensor element in a recurrence step; tmix does not derive gradients through such reads yet}}
    %1 = tmix.read %w[%c1] : !tmix.tensor<[4], f32> -> f32
    %2 = arith.mulf %1, %h : f32
    %3 = arith.addf %2, %0 : f32
    tmix.yield %3, %3 : f32, f32
  }
}

// -----

tmix.recurrence @captures(%x: !tmix.tensor<[B, T, K], f32>) -> (o: !tmix.tensor<[B, T, K], f32>) time "T" {
  tmix.state "h" : !tmix.tensor<[K], f32>
  tmix.step {
  ^bb0(%t: i64, %h: !tmix.tensor<[K], f32>):
    %0 = tmix.slice %x[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %s = tmix.sum %0 : !tmix.tensor<[K], f32> -> f32
    // expected-error @+1 {{'tmix.map' op reads a float value from outside its region; tmix derives gradients of maps through their operands only}}
    %1 = tmix.map %h : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%y: f32):
      %z = arith.mulf %s, %y : f32
      tmix.yield %z : f32
    }
    tmix.yield %1, %1 : !tmix.tensor<[K], f32>, !tmix.tensor<[K], f32>
  }
}

// -----

// expected-error @+1 {{'tmix.recurrence' op derives its backward kernel 'taken_grad', but that name is taken}}
tmix.recurrence @taken(%x: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %0 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %1 = arith.addf %h, %0 : f32
    tmix.yield %1, %1 : f32, f32
  }
}
tmix.attention @taken_grad(%q: !tmix.tensor<[B, H, N, 8], f32>, %k: !tmix.tensor<[B, H, M, 8], f32>, %v: !tmix.tensor<[B, H, M, 8], f32>) -> (o: !tmix.tensor<[B, H, N, 8], f32>) {
}

// -----

// expected-error @+1 {{'tmix.recurrence' op derives its backward, whose argument or result 'd_o' would have a name that is taken}}
tmix.recurrence @clash(%x: !tmix.tensor<[B, T], f32>, %d_o: !tmix.tensor<[B, T], f32>) -> (o: !tmix.tensor<[B, T], f32>) time "T" {
  tmix.state "h" : f32
  tmix.step {
  ^bb0(%t: i64, %h: f32):
    %0 = tmix.slice %x[%t] : !tmix.tensor<[B, T], f32> -> f32
    %1 = tmix.slice %d_o[%t] : !tmix.tensor<[B, T], f32> -> f32
    %2 = arith.addf %h, %0 : f32
    %3 = arith.mulf %2, %1 : f32
    tmix.yield %3, %3 : f32, f32
  }
}

// -----

// A decay whose adjoint runs chunk by chunk (docs/training.md): the ops come in three
// groups, marked for the CPU's chunked adjoint. First the adjoint of what follows the
// readout (o = r * z: the readout's gradient d_o * z, marked as readout 0's, and z's,
// which reads the recomputed readout, marked as readout 0). Then the chains' adjoint,
// every op marked, whose gradients of the roots (getChunkRoots: the gate's log g, the
// key 2k, the value v, the query q) carry their root's index. Last, unmarked, the
// adjoint of what computes the roots (k's, through 2k).
tmix.recurrence @groups(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>, %z: !tmix.tensor<[B, T, V], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
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
    %4 = tmix.map %3 : (!tmix.tensor<[K], f32>) -> !tmix.tensor<[K], f32> {
    ^bb0(%x: f32):
      %two = arith.constant 2.0 : f32
      %p = arith.mulf %x, %two : f32
      tmix.yield %p : f32
    }
    %5 = tmix.slice %v[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %6 = tmix.outer %4, %5 : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    %7 = tmix.map %2, %6 : (!tmix.tensor<[K, V], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      tmix.yield %s : f32
    }
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, T, K], f32> -> !tmix.tensor<[K], f32>
    %9 = tmix.vecmat %8, %7 : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    %10 = tmix.slice %z[%t] : !tmix.tensor<[B, T, V], f32> -> !tmix.tensor<[V], f32>
    %11 = tmix.map %9, %10 : (!tmix.tensor<[V], f32>, !tmix.tensor<[V], f32>) -> !tmix.tensor<[V], f32> {
    ^bb0(%x: f32, %y: f32):
      %p = arith.mulf %x, %y : f32
      tmix.yield %p : f32
    }
    tmix.yield %7, %11 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
// CHECK-LABEL: tmix.recurrence @groups_grad(
// CHECK: tmix.forward_state "S" {tmix.chunk_primal}
// CHECK: %[[K:.*]] = tmix.slice %k
// CHECK: %[[K2:.*]] = tmix.map %[[K]] :
// CHECK: tmix.outer %[[K2]], %{{.*}} {tmix.chunk_primal}
// CHECK: %[[R:.*]] = tmix.vecmat %{{.*}} {tmix.chunk_primal, tmix.chunk_readout = 0 : i64}
// CHECK: %[[DO:.*]] = tmix.slice %d_o
// CHECK: %[[DR:.*]] = tmix.map %{{.*}}, %[[DO]] {tmix.chunk_readout_grads = array<i64: 0>}
// CHECK: %[[DZ:.*]] = tmix.map %[[R]], %{{.*}}, %[[DO]] :
// CHECK: tmix.matvec %{{.*}}, %[[DR]] {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>}
// CHECK: %[[DK2:.*]] = tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>}
// CHECK: tmix.vecmat {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>}
// CHECK: tmix.map {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>}
// CHECK: %[[DK:.*]] = tmix.map %[[K]], %[[DK2]] :
// CHECK-NOT: chunk_adjoint
// CHECK: tmix.yield %{{.*}}, %{{.*}}, %[[DK]], %{{.*}}, %{{.*}}, %[[DZ]] :

// -----

// The gate exp(g) is read outside the chain too (the output's sum(exp(g))): its
// gradient is not the chains' alone, so the adjoint runs step by step, unmarked.
tmix.recurrence @shared_gate(%q: !tmix.tensor<[B, T, K], f32>, %k: !tmix.tensor<[B, T, K], f32>, %v: !tmix.tensor<[B, T, V], f32>, %g: !tmix.tensor<[B, T, K], f32>) -> (o: !tmix.tensor<[B, T, V], f32>) time "T" {
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
    %9 = tmix.sum %1 : !tmix.tensor<[K], f32> -> f32
    %10 = tmix.map %8, %9 : (!tmix.tensor<[V], f32>, f32) -> !tmix.tensor<[V], f32> {
    ^bb0(%x: f32, %y: f32):
      %p = arith.mulf %x, %y : f32
      tmix.yield %p : f32
    }
    tmix.yield %6, %10 : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
  }
}
// CHECK-LABEL: tmix.recurrence @shared_gate_grad(
// CHECK-NOT: tmix.chunk_
// CHECK: tmix.yield {{.*}} : !tmix.tensor<[K, V], f32>,

// -----

// A vector state beside the matrix state (linear attention's normaliser z, read through
// dot(q, z)): the adjoint is marked for S's chunks, z's ops (its update, the dot) and
// their adjoint with the ops after the readouts (unmarked: a target runs them step by
// step), z's forward_state not a chunk primal; the query's and the key's gradients are
// the chains' seeds plus z's terms.
tmix.recurrence @normaliser(%q: !tmix.tensor<[B, H, T, 64], f32>, %k: !tmix.tensor<[B, H, T, 64], f32>, %v: !tmix.tensor<[B, H, T, 64], f32>) -> (o: !tmix.tensor<[B, H, T, 64], f32>) time "T" {
  tmix.state "S" : !tmix.tensor<[64, 64], f32> {tmix.update_class = "scalar_decay"}
  tmix.state "z" : !tmix.tensor<[64], f32> {tmix.update_class = "scalar_decay"}
  tmix.step {
  ^bb0(%t: i64, %S: !tmix.tensor<[64, 64], f32>, %z: !tmix.tensor<[64], f32>):
    %0 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
    %1 = tmix.slice %v[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
    %2 = tmix.outer %0, %1 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> !tmix.tensor<[64, 64], f32>
    %3 = tmix.map %S, %2 : (!tmix.tensor<[64, 64], f32>, !tmix.tensor<[64, 64], f32>) -> !tmix.tensor<[64, 64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %12 = arith.addf %arg0, %arg1 : f32
      tmix.yield %12 : f32
    }
    %4 = tmix.slice %k[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
    %5 = tmix.map %z, %4 : (!tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %12 = arith.addf %arg0, %arg1 : f32
      tmix.yield %12 : f32
    }
    %6 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
    %7 = tmix.vecmat %6, %3 : !tmix.tensor<[64], f32>, !tmix.tensor<[64, 64], f32> -> !tmix.tensor<[64], f32>
    %8 = tmix.slice %q[%t] : !tmix.tensor<[B, H, T, 64], f32> -> !tmix.tensor<[64], f32>
    %9 = tmix.dot %8, %5 : !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32> -> f32
    %cst = arith.constant 1.000000e+00 : f32
    %10 = arith.addf %9, %cst : f32
    %11 = tmix.map %7, %10 : (!tmix.tensor<[64], f32>, f32) -> !tmix.tensor<[64], f32> {
    ^bb0(%arg0: f32, %arg1: f32):
      %12 = arith.divf %arg0, %arg1 : f32
      tmix.yield %12 : f32
    }
    tmix.yield %3, %5, %11 : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>, !tmix.tensor<[64], f32>
  }
}
// CHECK-LABEL: tmix.recurrence @normaliser_grad(
// CHECK: tmix.forward_state "S" {tmix.chunk_primal}
// CHECK-NEXT: %[[Z:.*]] = tmix.forward_state "z" :
// CHECK: %[[ZNEXT:.*]] = tmix.map %[[Z]], %{{.*}} : (
// CHECK: tmix.vecmat {{.*}} {tmix.chunk_primal, tmix.chunk_readout = 0 : i64}
// CHECK: %[[DOT:.*]] = tmix.dot %{{.*}}, %[[ZNEXT]] :
// CHECK: tmix.map {{.*}} {tmix.chunk_readout_grads = array<i64: 0>}
// CHECK: %[[DZ:.*]] = tmix.map %d_z, %{{.*}} : (
// CHECK: %[[SEEDQ:.*]] = tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>}
// CHECK: %[[SEEDK:.*]] = tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>}
// CHECK: tmix.map %[[SEEDK]], %[[DZ]] : (
// CHECK: tmix.yield %{{.*}}, %[[DZ]], {{.*}} : !tmix.tensor<[64, 64], f32>, !tmix.tensor<[64], f32>,

// -----

// A gated delta rule: its key read twice (the outer product's and the projection's,
// two slices of k), its value and strength, marked as the decays' chains are. The
// seeds: the gate's log (0), the key (1), the projection's key (2; the chunk loops give
// the key's whole gradient to 1 and none to 2), the value (3), the strength (4), the
// query (5).
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
// CHECK-LABEL: tmix.recurrence @delta_rule_grad(
// CHECK: %[[G:.*]] = tmix.slice %g
// CHECK: math.exp %[[G]] {tmix.chunk_primal}
// CHECK: %[[BETA:.*]] = tmix.slice %beta
// CHECK: %[[K:.*]] = tmix.slice %k
// CHECK: %[[V:.*]] = tmix.slice %v
// CHECK: %[[K2:.*]] = tmix.slice %k
// CHECK: tmix.vecmat %[[K2]], %{{.*}} {tmix.chunk_primal}
// CHECK: tmix.outer %[[K]], %{{.*}} {tmix.chunk_primal}
// CHECK: tmix.slice %d_o[%{{.*}}] {tmix.chunk_readout_grads = array<i64: 0>}
// CHECK: tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 5>}
// CHECK: tmix.sum {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 4>}
// CHECK: %[[DK:.*]] = tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 1>}
// CHECK: %[[DV:.*]] = tmix.vecmat %[[K]], {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 3>}
// CHECK: %[[DK2:.*]] = tmix.matvec {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 2>}
// CHECK: %[[DG:.*]] = arith.mulf {{.*}} {tmix.chunk_adjoint, tmix.chunk_seeds = array<i64: 0>}
// CHECK: %[[DKSUM:.*]] = tmix.map %[[DK]], %[[DK2]] :
// CHECK-NOT: chunk_adjoint
// CHECK: tmix.yield %{{.*}}, %{{.*}}, %[[DKSUM]], %[[DV]], %[[DG]], %{{.*}} :
