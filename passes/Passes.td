//===- Passes.td - target-independent tmix passes -*- tablegen -*-===//
//
// The target-independent tmix passes: one file per pass in passes/, named after it,
// with a lit test of the same name in test/passes/. Target lowerings are declared in
// codegen/<target>/Passes.td, test-only passes in test/lib/TestPasses.td.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_TD
#define TMIX_PASSES_TD

include "mlir/Pass/PassBase.td"

def Schedule : Pass<"tmix-schedule", "::mlir::ModuleOp"> {
  let summary = "choose the schedule (tile sizes, chunking) of every spec for a target";
  let description = [{
    Attaches `tmix.schedule` to every spec op, chosen for the `target` by its
    TargetInfo (passes/TargetInfo.h): for attention a `#tmix.attention_schedule`
    (`block_m` query rows per program, `block_n` keys per KV tile; on the CPU the
    vector shape `lanes` x `vector_registers` that the micro-kernels are blocked for,
    on a GPU the kernel's `warps` and the `stages` of its K/V ring), for a recurrence
    a `#tmix.recurrence_schedule` (`form`: `auto`, `chunked` or `recurrent`; `chunk`
    steps per chunk; `chunked_min_steps`, the number of steps T from which `auto`
    takes the chunked form, a run-time branch since T is a run-time size).

    Per spec: the target's default, then every option given explicitly (each in its
    range, dialect/ScheduleBounds.h), then the target's check of the result, which
    rejects what its kernels cannot run with one error that names the value and what
    fits. Specs say what to compute; how to tile it is decided here (heuristics now,
    autotuning later). An existing `tmix.schedule` is checked, not replaced.

    | target   | attention default                                   | recurrence default |
    | -------- | --------------------------------------------------- | ------------------ |
    | `cpu`    | block_m 32, block_n 64, the host's lanes, registers | auto, chunk 64     |
    | `sm_80`  | block_m 64 (4 warps x 16 rows), block_n 64, stages 2 when two K/V buffers fit, else 1 | chunked, chunk 64 |
    | `sm_90a` | block_m 128 (2 consumer warpgroups), block_n 64, 12 warps, stages 2 | chunked, chunk 64 |
  }];
  let options = [
    Option<"targetName", "target", "std::string", /*default=*/"\"cpu\"",
           "the target whose TargetInfo chooses and checks: cpu, sm_80 or sm_90a">,
    Option<"blockM", "block-m", "int64_t", /*default=*/"0",
           "query rows per attention program (default: the target's)">,
    Option<"blockN", "block-n", "int64_t", /*default=*/"0",
           "keys per attention KV tile (default: the target's)">,
    Option<"lanes", "lanes", "int64_t", /*default=*/"0",
           "CPU: f32 lanes of the vector registers (16: AVX-512, 8: AVX2; default: the host's)">,
    Option<"vectorRegisters", "vector-registers", "int64_t", /*default=*/"0",
           "CPU: vector registers, which bound the micro-kernels' blocks (default: the host's)">,
    Option<"warps", "warps", "int64_t", /*default=*/"0",
           "GPU: warps per attention program (default: the target's)">,
    Option<"stages", "stages", "int64_t", /*default=*/"0",
           "GPU: buffers of the attention kernel's K/V ring (default: the target's)">,
    Option<"recurrenceForm", "recurrence-form", "std::string", /*default=*/"\"auto\"",
           "recurrence form: auto, chunked or recurrent (default: the target's)">,
    Option<"chunk", "chunk", "int64_t", /*default=*/"0",
           "steps per chunk of a chunked recurrence (default: the target's)">,
    Option<"chunkedMinSteps", "chunked-min-steps", "int64_t", /*default=*/"0",
           "under recurrence-form=auto, the chunked form from this many steps (default: "
           "1, always; on the CPU the chunked form is measured faster at every T)">,
    ListOption<"specialize", "specialize", "std::string",
               "size symbols fixed at compile time, SYMBOL=VALUE (the GPU's head and "
               "state dims, which decide what fits in shared memory)">,
  ];
}

def TileAttention : Pass<"tmix-tile-attention", "::mlir::ModuleOp"> {
  let summary = "write each scheduled attention spec as a program of tile ops";
  let description = [{
    After every `tmix.attention` with a `#tmix.attention_schedule` (tmix-schedule),
    adds its `tmix_tile.attention` program: one program of the grid (batch, head,
    query tile) in tiles, the same for every target up to the schedule. The program
    loads its query rows (rotated, scaled), walks the KV tiles carrying the online
    softmax state (S = Q K^T, the spec's score and mask, the update, O = O * rescale +
    P V), finishes its rows (sink, lse) and stores them. The spec stays: it holds the
    statements the tile ops apply. Target-independent: the target lowerings
    (codegen/<target>/) replace the program and its spec by their kernels.
  }];
  let dependentDialects = ["::mlir::tmix::tile::TmixTileDialect"];
  let statistics = [
    Statistic<"numTiled", "num-tiled", "attention specs tiled">,
  ];
}

def TileAttentionGrad : Pass<"tmix-tile-attention-grad", "::mlir::ModuleOp"> {
  let summary = "write each derived attention backward part as a program of tile ops";
  let description = [{
    After every `tmix.attention_grad` part "key_value" and "query"
    (tmix-derive-attention-grad), adds its `tmix_tile.attention_grad` program: part
    "key_value" loads a tile of keys, walks the query rows that read it (every query
    head of the group) carrying dk and dv (S = Q K^T and dP = d_o V^T, P and dS per
    pair, dv += P^T d_o, dk += dS^T Q, and without recompute_dq dS K into the key
    split's d_q_partial) and stores them; part "query" sums its rows' partials, or with
    recompute_dq walks the keys carrying dq += dS K. Target-independent: the target
    lowerings (codegen/<target>/) replace the program and its part by their kernels.
    Part "params" has none (the CPU lowers it as it is).
  }];
  let dependentDialects = ["::mlir::tmix::tile::TmixTileDialect"];
  let statistics = [
    Statistic<"numTiled", "num-tiled", "backward parts tiled">,
  ];
}

def TileRecurrence : Pass<"tmix-tile-recurrence", "::mlir::ModuleOp"> {
  let summary = "write each scheduled recurrence spec as a program of tile ops";
  let description = [{
    After every `tmix.recurrence` with a `#tmix.recurrence_schedule` (tmix-schedule),
    adds its `tmix_tile.recurrence` program, the same for every target up to the
    schedule. Unless the schedule's form is `recurrent`, the states with a chunk form
    (passes/ChunkForm.h) advance in a `chunk_loop`: per chunk, the step values they
    need, then per state its cumulative gate logs, the delta rule's solve, the scores
    and readouts, the state at the chunk's end, and then the rest of each step. A
    `step_loop` runs the recurrence step by step: alone when no state has a chunk form
    or the form is `recurrent`, after the chunk loop under `auto` with
    `chunked_min_steps` > 1. Target-independent: the target lowerings replace the
    program and its spec by their kernels.
  }];
  let dependentDialects = ["::mlir::tmix::tile::TmixTileDialect"];
  let statistics = [
    Statistic<"numTiled", "num-tiled", "recurrence specs tiled">,
  ];
}

def DeriveRecurrenceGrad : Pass<"tmix-derive-recurrence-grad", "::mlir::ModuleOp"> {
  let summary = "derive the adjoint (backward) of every recurrence spec";
  let description = [{
    For every `tmix.recurrence @X` adds `@X_grad` after it: a recurrence with
    `forward "X"` whose steps run in reverse and carry the adjoints of X's states.
    Arguments: X's, then `d_<r>` for every result r of X. Results: the gradient of
    every float argument X reads at each step (per step), of each state's initial
    value, and of each float argument X reads without a time index (per-head
    constants, scalars). Gradients that several parallel points add to are returned
    per point, in the logical order `[parallel..., (T), own dims]`, for the caller to
    sum (deterministic, no atomics). The step recomputes X's step from
    `tmix.forward_state` and applies each op's adjoint in reverse (the scalar rules of
    passes/RegionGradient.h; outer, vecmat, matvec, dot, sum and map here).

    An op without a derivative rule, a float tensor element read with `tmix.read` in
    the step, or a map region that reads a float value from outside is an error at
    that op; a name that is taken already is an error at X.
  }];
  let statistics = [
    Statistic<"numDerived", "num-derived", "recurrence specs given a backward">,
  ];
}

def DeriveAttentionGrad : Pass<"tmix-derive-attention-grad", "::mlir::ModuleOp"> {
  let summary = "derive the backward kernels of every attention spec";
  let description = [{
    For every `tmix.attention @X` adds, after it:
    - `@X_forward`, X with an `lse` output, when X has none (the backward recomputes
      the probabilities from the lse that the forward saved);
    - `@X_grad_q` and `@X_grad_kv`, the two `tmix.attention_grad` kernels of its
      backward (FlashAttention-2's recompute algorithm): arguments X's, then o, lse
      and the output's gradient d_o; results dq, and dk and dv. Each holds X's
      statements and, when X has a `score`, its derived vector-Jacobian product
      `tmix.score_grad` (passes/RegionGradient.h);
    - `@X_grad_params`, when X's score, sink or scale reads float extra arguments
      (bias tables, sink logits, float scalars): their gradients (f32), accumulated by
      the derived `tmix.score_param_grad`, `tmix.sink_grad` and `tmix.scale_grad`, in a
      grid over the batch
      and head dims that every param's reads index exactly, so that each program owns
      its slices.

    An op of the score statement that has no derivative rule is an error at that op;
    a name that is taken already is an error at X.

    How dq is summed is the target's choice: per key split, passed from part
    "key_value" to part "query" in d_q_partial (the CPU's), or with `recompute-dq`
    (the GPUs') recomputed by part "query" from its rows' pairs.
  }];
  let options = [
    Option<"recomputeDq", "recompute-dq", "bool", /*default=*/"false",
           "part \"query\" recomputes dq from its rows' pairs (no d_q_partial)">,
  ];
  let statistics = [
    Statistic<"numDerived", "num-derived", "attention specs given a backward">,
  ];
}

def PolynomialMath : Pass<"tmix-polynomial-math"> {
  let summary = "replace exp, exp2, log, tanh and friends by inline polynomials";
  let description = [{
    Upstream's polynomial approximations (f32, within a few ulp), applied before the
    LLVM conversion: a kernel then calls no libm function in its inner loops, and LLVM
    can vectorise the loops that compute exponentials (the softmax probabilities of a
    tile). f32 `exp2`, one per pair of every softmax and attention backward, is tmix's
    own: 2^n times a degree-6 polynomial of 2^f (f = x - n in [-1/2, 1/2], under 2
    ulp), half the instructions of upstream's `exp2` as `exp(x ln 2)`, which other
    types keep.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def ClassifyRecurrences : Pass<"tmix-classify-recurrences", "::mlir::ModuleOp"> {
  let summary = "record the update class of every recurrent state";
  let description = [{
    Attaches `tmix.update_class` to each `tmix.state`: the class of its update
    S' = A_t(S) + U_t, found by following the state through the step region
    (RecurrenceClasses.h). The classes and the chunk-parallel algorithms they allow:

    | class            | A_t(S)                                 | example        |
    | ---------------- | -------------------------------------- | -------------- |
    | `scalar_decay`   | a_t * S (a_t = 1 included)             | RetNet, SSD    |
    | `diagonal_decay` | g_t ⊙ S, a [K] row gate or a matrix    | GLA, Mamba1    |
    | `delta`          | (I - b_t k_t k_t^T) S                  | DeltaNet       |
    | `gated_delta`    | (I - b_t k_t k_t^T)(g_t ⊙ S)           | Gated DeltaNet |
    | `general`        | anything else: run step by step        |                |

    The analysis is conservative: when in doubt, `general`.
  }];
}

#endif // TMIX_PASSES_TD
