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
  let summary = "choose the schedule (tile sizes, chunking) of every spec";
  let description = [{
    Attaches `tmix.schedule` to every spec op: for attention, `block_m` query rows per
    program, `block_n` keys per KV tile, and the target's vector shape (`lanes`,
    `vector_registers`) that the CPU micro-kernels are blocked for; for a recurrence,
    `recurrence_form` (`auto`, `chunked` or `recurrent`), `chunk` (steps per chunk of
    the chunked form) and `chunked_min_steps` (under `auto`, the number of steps T from
    which the program takes the chunked form; a run-time branch, since T is a run-time
    size). Specs say what to compute; how to tile it is decided here (heuristics now,
    autotuning later) and can be overridden for experiments, each option within its
    range (passes/ScheduleBounds.h; an option out of range is an error). An existing
    `tmix.schedule` is kept; the lowerings check it against the same ranges.
  }];
  let options = [
    Option<"blockM", "block-m", "int64_t", /*default=*/"32",
           "query rows per attention program">,
    Option<"blockN", "block-n", "int64_t", /*default=*/"64",
           "keys per attention KV tile">,
    Option<"lanes", "lanes", "int64_t", /*default=*/"16",
           "f32 lanes of the target's vector registers (16: AVX-512, 8: AVX2)">,
    Option<"vectorRegisters", "vector-registers", "int64_t", /*default=*/"32",
           "vector registers of the target, which bound the micro-kernels' blocks">,
    Option<"recurrenceForm", "recurrence-form", "std::string", /*default=*/"\"auto\"",
           "recurrence form: auto, chunked or recurrent">,
    Option<"chunk", "chunk", "int64_t", /*default=*/"64",
           "steps per chunk of a chunked recurrence">,
    Option<"chunkedMinSteps", "chunked-min-steps", "int64_t", /*default=*/"1",
           "under recurrence-form=auto, the chunked form from this many steps (1: "
           "always; on the CPU the chunked form is measured faster at every T)">,
  ];
}

def PolynomialMath : Pass<"tmix-polynomial-math"> {
  let summary = "replace exp, exp2, log, tanh and friends by inline polynomials";
  let description = [{
    Upstream's polynomial approximations (f32, within a few ulp), applied before the
    LLVM conversion: a kernel then calls no libm function in its inner loops, and LLVM
    can vectorise the loops that compute exponentials (the softmax probabilities of a
    tile). `exp2` is first expanded to `exp`.
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
