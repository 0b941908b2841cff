//===- Passes.td - the NVIDIA lowerings -*- tablegen -*-===//
//
// The NVIDIA targets' lowerings (sm_80, sm_90a): one file per pass in codegen/nvidia/,
// with a lit test of the same name in test/codegen/nvidia/.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_NVIDIA_PASSES_TD
#define TMIX_CODEGEN_NVIDIA_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerAttentionToNVGPU : Pass<"tmix-lower-attention-to-nvgpu", "::mlir::ModuleOp"> {
  let summary = "lower tile programs of attention to sm_80 tensor-core kernels (gpu + nvgpu + nvvm)";
  let description = [{
    Replaces each `tmix_tile.attention` program (tmix-tile-attention; its form checked
    by passes/AttentionProgramForm.h, its schedule by sm_80's TargetInfo) and its
    `tmix.attention` spec by a `gpu.func` kernel of the same name in the
    `gpu.module @tmix_kernels`: one CTA of 4 warps per (batch, head, query tile of 64
    rows), each warp owning 16 rows. Q and each KV tile of `block_n` keys (64, or 128)
    are staged through dynamic shared memory as bf16 (f16 for f16 specs; f32 specs are
    rounded to bf16), with cp.async for 16-bit operands without RoPE and, with
    `stages` = 2 (the default when two K/V buffers fit in 163 KiB), a two-stage
    pipeline (the next tile's copies overlap this tile's work); block_m, block_n,
    warps and stages are the `tmix.schedule`'s (sm_80's TargetInfo's default without
    one, checked either way);
    S = Q K^T and O += P V run on `ldmatrix` and m16n8k16 `mma.sync` with f32
    accumulators (`nvgpu.mma.sync` for f16, `nvvm.mma.sync` for bf16, which nvgpu lacks);
    the online softmax (log2 domain, `ex2.approx`) and the spec's scale, score, mask,
    sink and rope statements are applied per element exactly as in
    `tmix-lower-attention-to-loops`. KV tiles are classified by TileMaskBounds: empty
    for the CTA (not loaded), empty for a warp (skipped), full (no mask code). The
    kernel's arguments are the loop program's ABI (KernelBuilder.h) without the program
    id, which is the block id; its `tmix.kernel` (grid, size symbols, threads, shared
    bytes) and `tmix.schedule` describe the launch. Head dims must be literals,
    multiples of 16, at most 256, or size symbols fixed by `specialize` (recorded as the
    kernel ABI's `specialized` sizes for the runtime to check).
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

def LowerAttentionGradToNVGPU : Pass<"tmix-lower-attention-grad-to-nvgpu", "::mlir::ModuleOp"> {
  let summary = "lower the attention backward (tmix.attention_grad) to mma.sync kernels";
  let description = [{
    Replaces each `tmix.attention_grad` part "key_value" and "query" (derived with
    `recompute-dq`) and its tile program (tmix-tile-attention-grad, checked against
    the part's form first: passes/AttentionGradProgramForm.h) by a `gpu.func` kernel of
    the same name in the `gpu.module @tmix_kernels`, FlashAttention-2's backward on
    m16n8k16 `mma.sync` (valid on sm_80 and sm_90a), deterministic without atomics:
    - part "key_value": one CTA of 4 warps per (batch, KV head, 64 keys), each warp
      owning 16 keys; for every query head of the group and every tile of 64 query
      rows the mask keeps for the CTA: S^T = K Q^T, dP^T = V d_o^T, P and dS per
      element (passes/AttentionMath.h's pairGradient: the score's derivative, the
      mask, lse), dv += P^T d_o, dk += dS^T Q;
    - part "query": one CTA of 4 warps per (batch, head, 64 query rows): per KV tile,
      S = Q K^T, dP = d_o V^T, dS, dq += dS K.
    Tiles are staged as bf16 (f16 for f16 specs) in dynamic shared memory, 16-bit
    operands with cp.async; tiles are classified as the forward's (KeyTiles.h). Head
    dims: multiples of 16 up to 128, literals or fixed by `specialize`. With rope, q
    and k are rotated as they are staged and dq and dk rotated back as they are
    stored. Part "params" and parts derived without `recompute-dq` are errors.
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
    Statistic<"numLowered", "num-lowered", "attention_grad parts lowered">,
  ];
}

def LowerAttentionToHopper : Pass<"tmix-lower-attention-to-hopper", "::mlir::ModuleOp"> {
  let summary = "lower tile programs of attention to sm_90a kernels: TMA, mbarrier, wgmma, warp specialisation";
  let description = [{
    Replaces each `tmix_tile.attention` program (tmix-tile-attention; its form checked
    by passes/AttentionProgramForm.h, its schedule by sm_90a's TargetInfo) and its
    `tmix.attention` spec by a `gpu.func` kernel of the same name in the
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
    each) that the runtime encodes on the host from the kernel ABI's `tensor_maps`
    (argument, box, swizzle per map: q, k, v). Also sets the rest of `tmix.kernel`
    (grid, size symbols, 384 threads, shared bytes), `tmix.schedule` and
    `nvvm.maxntid` / `nvvm.minctasm` (the register cap that
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
    and launch attributes are those of `tmix-lower-attention-to-nvgpu`; the grid is
    the parallel dims then ceil(V / Vb).
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

def LowerRecurrenceGradToNVGPU
    : Pass<"tmix-lower-recurrence-grad-to-nvgpu", "::mlir::ModuleOp"> {
  let summary = "lower a decaying recurrence's adjoint X_grad to an sm_80 kernel";
  let description = [{
    Replaces each adjoint `tmix.recurrence @X_grad` (tmix-derive-recurrence-grad,
    marked for the chunked adjoint) and its tile program by a `gpu.func` kernel of the
    same name in the `gpu.module @tmix_kernels`: the chunk-parallel backward of
    codegen/cpu/ChunkedAdjoint.cpp for a forward that `tmix-lower-recurrence-to-nvgpu`
    runs with a decay or a delta rule (one matrix state S [K, V], a scalar or row gate
    in log space or a scalar gate given by value, one rank-one term or a delta rule,
    one readout q @ S). The grid is
    the forward's (parallel dims, then ceil(V / Vb); a delta rule's Vb is 32 at K = 64,
    16 at K = 128); each CTA of 128 threads runs the forward once keeping the chunks'
    start states in the launch's workspace, then the chunks from the last:

    | phase  | what                                                        |
    |--------|-------------------------------------------------------------|
    | stage  | LG [64, G], q, k [64, K], v, dO [64, Vb], S0 [K, Vb]         |
    | scores | A = q k^T ⊙ exp(LG_i - LG_s), s <= i                         |
    | dV     | (exp(LG_L - LG_s) k_s)^T dS + A^T dO                        |
    | dP     | dO v^T (⊙ exp(LG_i - LG_s) for a scalar gate)                |
    | dQ, dK | the block's shares, and dLG = q ⊙ dQ - k ⊙ dK, to the workspace |
    | dS     | exp(LG_L) ⊙ dS + (exp(LG) ⊙ q)^T dO                           |

    (a delta rule: W from the WY solve in place of v, then dR = (I + A)^-T dW by back
    substitution, E = -dR W^T, and the solve's terms of dV, db, dK, dLG and dS) as f32
    loops over shared memory, a thread per element. The point's last CTA (a
    counter per point in the workspace) adds the blocks' shares in block order, sums
    dLG over the later steps and evaluates every per-step output and accumulator of
    the adjoint element by element with the chains' gradients bound: deterministic.
    A scalar gate given by value has its signs folded into q and k, and each step's
    gate log gradient from terms that carry the gate. What it cannot run (vector
    states, row gates given by value, several readouts, an adjoint that needs more
    than the chains' gradients element by element) is an error at the adjoint. The kernel ABI is the forward's plus the
    workspace (`workspace = W per [parallel dims..., T]`).
  }];
  let options = [
    ListOption<"specialize", "specialize", "std::string",
               "size symbols fixed at compile time, SYMBOL=VALUE (symbolic state dims)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect"];
  let statistics = [
    Statistic<"numLowered", "num-lowered", "recurrence adjoints lowered">,
  ];
}

#endif // TMIX_CODEGEN_NVIDIA_PASSES_TD
