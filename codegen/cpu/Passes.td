//===- Passes.td - the CPU lowerings -*- tablegen -*-===//
//
// The CPU target's lowerings: one file per pass in codegen/cpu/, with a lit test of
// the same name in test/codegen/cpu/.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_PASSES_TD
#define TMIX_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerAttentionToLoops : Pass<"tmix-lower-attention-to-loops", "::mlir::ModuleOp"> {
  let summary = "lower tile programs of attention to loop programs with online softmax";
  let description = [{
    Replaces each `tmix_tile.attention` program (tmix-tile-attention; its form checked
    by passes/AttentionProgramForm.h, its schedule by the CPU's TargetInfo) and its
    `tmix.attention` spec by a `func.func` of the same name: one program of the grid
    (batch, head, query tile of `block_m` rows), query rows in vector lanes. Each tile
    op is one step of the loop program, on per-program buffers updated in place:
    load_query stages Q^T (rotated, scaled); the KV loop walks tiles of `block_n` keys,
    classified by the mask's interval bounds (TileMaskBounds.h: per range of tiles,
    then per tile; an empty tile is skipped, a full one runs without mask code);
    load_kv stages K and V where they cannot be read in place; the score product and
    the accumulation (with the rescale folded in) are register-blocked micro-kernels;
    score inlines the spec's score and mask; softmax_update runs in the log2 domain.
    finalize and store run per row: fully masked rows give o = 0 and lse = -inf; a
    sink logit joins the denominator. See KernelBuilder.h for the program's ABI.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "attention specs lowered">,
  ];
}

def LowerRecurrenceToLoops : Pass<"tmix-lower-recurrence-to-loops", "::mlir::ModuleOp"> {
  let summary = "lower tmix.recurrence to a program of loops, step by step or chunked";
  let description = [{
    Replaces each `tmix.recurrence` by a `func.func` of the same name: one program per
    point of the parallel dimensions, on f32 state buffers. Vectors and matrices of
    the step become buffers allocated once per program; tmix.map, outer, vecmat,
    matvec, dot and sum become loops.

    Step by step, the program runs the step region for t = 0 .. T-1. Chunked (the
    schedule's `recurrence_form`, `chunk`), the matrix states with a chunk form
    (ChunkForm.h: a gated copy plus rank-one terms, or a (gated) delta rule, read out
    as q @ S) advance a chunk at a time: per chunk an intra-chunk quadratic part with
    decays from differences of cumulative log gates (the delta rule's pseudo-values
    first, by a triangular solve: its WY form), and one state update at the chunk's
    end; the rest of the step still runs step by step. Under `auto` both forms are
    emitted behind a branch on T >= `chunked_min_steps` (none when it is 1).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "recurrence specs lowered">,
  ];
}

def LowerAttentionGradToLoops
    : Pass<"tmix-lower-attention-grad-to-loops", "::mlir::ModuleOp"> {
  let summary = "lower tmix.attention_grad to loop programs (the attention backward)";
  let description = [{
    Replaces each `tmix.attention_grad` (tmix-derive-attention-grad) by a `func.func`
    of the same name; parts "key_value" and "query" with their tile programs
    (tmix-tile-attention-grad: a part without one is an error), each checked against
    its part's form first (passes/AttentionGradProgramForm.h). Part "key_value": one
    program per (batch, KV head, key split), which walks its split's blocks of W keys
    (4 lane vectors; every S-th block, S = d_q_partial's leading dim) and runs the tile program for each, op
    by op: the keys in vector lanes (rotated k^T, v^T, dk^T, dv^T; K row by row for
    dq), and every query
    head of the group and its rows in tiles of 64 classified by the mask
    (empty ones skipped, full ones without mask code): S = Q k^T, dP = d_o v^T, P and
    dS per pair, dv^T += d_o^T P, dk^T += Q^T dS, and dq += dS K summed into the
    split's slice of d_q_partial (the head dim in lanes, W at a time); the products are
    register-blocked outer products of lane vectors (LaneTiles.h). Part "query": one
    program per (batch, head, W rows), which sums the splits' dq in order and
    rotates back. Per pair, the probability is recomputed from the saved lse, and the
    score's derivative is the inlined `tmix.score_grad`. Part "params": one program
    per (batch, head), batch, head or one, as the params' owned dims allow, which
    zeroes its slices of their gradients, walks the pairs with its rows in lanes
    (S^T, dP^T), and accumulates the inlined `tmix.score_param_grad` and
    `tmix.sink_grad`, and `tmix.scale_grad` once with the pairs' sum. Every gradient
    element is summed by one program in one order
    (deterministic at any thread count).
  }];
  let options = [
    Option<"lanes", "lanes", "int64_t", /*default=*/"0",
           "f32 lanes per vector register (0: the host's)">,
    Option<"vectorRegisters", "vector-registers", "int64_t", /*default=*/"0",
           "vector registers (0: the host's)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "attention grad kernels lowered">,
  ];
}

#endif // TMIX_CODEGEN_CPU_PASSES_TD
