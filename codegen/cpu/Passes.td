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
  let summary = "lower tmix.attention to a program of loops with online softmax";
  let description = [{
    Replaces each `tmix.attention` by a `func.func` of the same name: one program of
    the grid (batch, head, query tile of `block_m` rows). The program walks the keys in
    tiles of `block_n`, stages each tile as K^T, and for each query row computes the
    tile's scores as one vector (an FMA per head-dim element), the masked scores, the
    tile max, the rescale of the row's online-softmax state (running max and sum in the
    log2 domain, the f32 accumulator), then the weighted sum of values. Tiles are
    classified by the mask's interval bounds (TileMaskBounds.h): for the whole query
    tile, then per row. Fully masked rows give o = 0 and lse = -inf; a sink logit joins
    the denominator at the end. See KernelBuilder.h for the program's ABI.
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

#endif // TMIX_CODEGEN_CPU_PASSES_TD
