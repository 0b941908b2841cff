//===- Passes.td - tmix passes -------------------------------*- tablegen -*-===//
//
// Every tmix pass: one file per pass in passes/, named after it, with a lit test of
// the same name in test/passes/.
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

def LowerAttentionToNVGPU : Pass<"tmix-lower-attention-to-nvgpu", "::mlir::ModuleOp"> {
  let summary = "lower tmix.attention to an sm_80 tensor-core kernel (gpu + nvgpu + nvvm)";
  let description = [{
    Replaces each `tmix.attention` by a `gpu.func` kernel of the same name in the
    `gpu.module @tmix_kernels`: one CTA of 4 warps per (batch, head, query tile of 64
    rows), each warp owning 16 rows. Q and each KV tile of 64 keys are staged through
    dynamic shared memory as bf16 (f16 for f16 specs; f32 specs are rounded to bf16),
    with cp.async for 16-bit operands without RoPE and, when two K/V buffers fit in
    163 KiB, a two-stage pipeline (the next tile's copies overlap this tile's work);
    S = Q K^T and O += P V run on `ldmatrix` and m16n8k16 `mma.sync` with f32
    accumulators (`nvgpu.mma.sync` for f16, `nvvm.mma.sync` for bf16, which nvgpu lacks);
    the online softmax (log2 domain, `ex2.approx`) and the spec's scale, score, mask,
    sink and rope statements are applied per element exactly as in
    `tmix-lower-attention-to-loops`. KV tiles are classified by TileMaskBounds: empty
    for the CTA (not loaded), empty for a warp (skipped), full (no mask code). The
    kernel's arguments are the loop program's ABI (KernelBuilder.h) without the program
    id, which is the block id; `tmix.grid`, `tmix.size_symbols`, `tmix.block_threads`,
    `tmix.shared_bytes` and `tmix.schedule` describe the launch. Head dims must be
    literals, multiples of 16, at most 256, or size symbols fixed by `specialize`
    (recorded as `tmix.specialized` for the runtime to check).
  }];
  let options = [
    ListOption<"specialize", "specialize", "std::string",
               "size symbols fixed at compile time, SYMBOL=VALUE (symbolic head dims)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "attention specs lowered">,
  ];
}

def LowerAttentionToHopper : Pass<"tmix-lower-attention-to-hopper", "::mlir::ModuleOp"> {
  let summary = "lower tmix.attention to an sm_90a kernel: TMA, mbarrier, wgmma, warp specialisation";
  let description = [{
    Replaces each `tmix.attention` by a `gpu.func` kernel of the same name in the
    `gpu.module @tmix_kernels`, in FlashAttention-3's shape: one CTA of three
    warpgroups per (batch, head, query tile of 128 rows). Warpgroup 0 (the producer,
    `setmaxnreg` down to 24) has one thread copy Q once and every K/V tile that is not
    empty for the CTA's rows with TMA (`cp.async.bulk.tensor`, 128-byte swizzle) into a
    two-stage ring, completing on a "full" `mbarrier` per stage (`arrive.expect_tx`);
    it waits on the stage's "empty" mbarrier before reusing it. Warpgroups 1 and 2 (the
    consumers, `setmaxnreg` up to 240) own 64 query rows each: per tile they wait on
    "full" (phase parity (n / 2) % 2 for the n-th tile processed), compute S = Q K^T
    with `wgmma.mma_async` m64nBLOCK_Nk16 (both operands from shared memory through
    matrix descriptors, K-major), apply the spec's scale, score, mask and sink and the
    online softmax exactly as `tmix-lower-attention-to-nvgpu` does, then O += P V with
    wgmma m64nDVk16, P from registers (the S accumulator layout is the A fragment
    layout) and V MN-major, and arrive on "empty". KV tiles of 64 keys; head dims that
    are not multiples of 64 are read as whole 64-column boxes (TMA fills zeros).

    The kernel's arguments are the loop program's ABI (KernelBuilder.h) without the
    program id, plus a final pointer to the TMA descriptors (CUtensorMap, 128 bytes
    each) that the runtime encodes on the host from `tmix.tensor_maps` ([argument,
    box columns, box rows] per map: q, k, v). Also sets `tmix.grid`,
    `tmix.size_symbols`, `tmix.block_threads` (384), `tmix.shared_bytes`,
    `tmix.schedule` and `nvvm.maxntid` / `nvvm.minctasm` (the register cap that
    `setmaxnreg` needs). f32 operands, and q and k under rope, are copied raw by TMA
    into staging buffers and written into the operand layout (rounded to bf16, rotated)
    by the consumer threads, followed by `fence.proxy.async` and a named barrier of
    the consumers. Head dims must be literals, multiples of 16, at most 256, or size
    symbols fixed by `specialize`.
  }];
  let options = [
    ListOption<"specialize", "specialize", "std::string",
               "size symbols fixed at compile time, SYMBOL=VALUE (symbolic head dims)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "attention specs lowered">,
  ];
}

def LowerRecurrenceToNVGPU : Pass<"tmix-lower-recurrence-to-nvgpu", "::mlir::ModuleOp"> {
  let summary = "lower a chunkable tmix.recurrence to an sm_80 tensor-core kernel";
  let description = [{
    Replaces each `tmix.recurrence` by a `gpu.func` kernel of the same name in the
    `gpu.module @tmix_kernels`, the chunk-parallel form of `ChunkedLowering.cpp` for
    one matrix state S: [K, V] of class scalar_decay or diagonal_decay (one rank-one
    term) or delta / gated_delta (a scalar gate), with one readout q @ S. One CTA of 4
    warps per (parallel point, block of Vb value columns: 64 at K = 64, 32 at K = 128,
    16 at K = 256) walks the chunks of 64 steps, the f32 state in registers (warp w:
    rows w K/4 ..). Per chunk, with cumulative log gates LG (f64 sums stored as f32)
    and signs SG folded into q and k:

    | phase  | what                                                | how           |
    |--------|-----------------------------------------------------|---------------|
    | stage  | LG, SG [64, G]; q, k [64, K] f32; v [64, Vb] bf16    | shared memory |
    | solve  | delta rule: (I + strict(b k k^T ⊙ decay)) w = b (v - Γ k S) | mma.sync, then f32 substitution |
    | scores | A = q k^T ⊙ exp(LG_i - LG_s), s <= i                 | mma.sync, f32 |
    | output | O = A v + (q ⊙ exp(LG)) S, then the per-step outputs | mma.sync, f32 |
    | state  | S = SG_L (exp(LG_L) S + (k ⊙ exp(LG_L - LG_s))^T v)  | mma.sync, f32 |

    (w in place of v for a delta rule.) Vector states beside S whose updates are
    element-wise (linear attention's normaliser) run step by step, a thread per
    element, and the dots the outputs read are summed per step. Under a row gate the
    scores of keys in earlier 16-row sub-chunks go through the sub-chunk's reference
    row (both decay factors <= 1), those of the warp's own sub-chunk take an exp per
    element. MMA operands are bf16 (f16 for f16 specs). Gates, keys, values, queries
    and the per-step outputs around the readout are evaluated element by element from
    the step region. What the kernel cannot run (class general, no matrix state or more
    than one, scalar states, more terms, row-gated delta rules, dots or sums in those
    values, symbolic K or V not fixed by `specialize`) is an error. The kernel ABI
    and launch attributes are those of `tmix-lower-attention-to-nvgpu`; `tmix.grid`
    is the parallel dims then ceil(V / Vb).
  }];
  let options = [
    ListOption<"specialize", "specialize", "std::string",
               "size symbols fixed at compile time, SYMBOL=VALUE (symbolic state dims)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "recurrence specs lowered">,
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

def TestPrintRecurrenceClasses : Pass<"tmix-test-print-recurrence-classes",
                                      "::mlir::ModuleOp"> {
  let summary = "print the update class of every recurrent state as remarks";
  let description = [{
    Test hook of the recurrence class analysis: one remark per `tmix.state`,
    `state 'S': scalar_decay`.
  }];
}

def TestPrintChunkForms : Pass<"tmix-test-print-chunk-forms", "::mlir::ModuleOp"> {
  let summary = "print the chunk form of every recurrent state as remarks";
  let description = [{
    Test hook of the chunk form analysis (ChunkForm.h): one remark per `tmix.state`,
    the factors of its gate (`exp(row)`, `scalar`, `1/scalar`, ...), its rank-one terms
    with their factors, a delta rule's strength and the number of readouts
    (`state 'S': gate exp(row); term 1; 1 readout`), or `no chunk form`.
  }];
}

#endif // TMIX_PASSES_TD
