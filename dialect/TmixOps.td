//===- TmixOps.td - Ops of the tmix dialect ------------------*- tablegen -*-===//
//
// The spec ops (tmix.attention, tmix.recurrence), their statement ops and the
// expression ops. Syntax and semantics: docs/dialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_OPS_TD
#define TMIX_OPS_TD

include "dialect/TmixDialect.td"
include "dialect/TmixTypes.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tmix_Tensor : Type<CPred<"::llvm::isa<::mlir::tmix::SpecTensorType>($_self)">,
                       "!tmix.tensor", "::mlir::tmix::SpecTensorType">;

def Tmix_BlockArgNames
    : DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>;

//===----------------------------------------------------------------------===//
// Spec ops
//===----------------------------------------------------------------------===//

class Tmix_SpecOp<string mnemonic, list<Trait> traits = []>
    : Tmix_Op<mnemonic, traits # [Symbol, IsolatedFromAbove, SingleBlock, NoTerminator,
                                   Tmix_BlockArgNames]> {
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  code specClassDeclaration = [{
    /// The spec's name of argument `index` (also the body's block argument).
    ::llvm::StringRef getArgName(unsigned index);
    /// The spec's name of result `index`.
    ::llvm::StringRef getResultName(unsigned index);
    /// The number of outputs in the signature.
    unsigned getNumSpecResults();
    /// The types of the spec's arguments and outputs.
    ::llvm::ArrayRef<::mlir::Type> getSpecArgTypes();
    ::llvm::ArrayRef<::mlir::Type> getSpecResultTypes();
    /// The body's single block.
    ::mlir::Block &getBodyBlock();
  }];
}

def Tmix_AttentionOp : Tmix_SpecOp<"attention"> {
  let summary = "a softmax attention spec";
  let description = [{
    For every batch `b`, query head `h` and query position `i`:

    ```
    s_ij       = score(scale * dot(q[b,h,i,:], k[b,h/(H/HK),j,:]))   for j with mask(b,h,i,j)
    o[b,h,i,:] = sum_j softmax_j(s_ij) * v[b,h/(H/HK),j,:]
    lse[b,h,i] = log(sum_j exp(s_ij))
    ```

    The first three arguments are q `[B, H, N, D]`, k `[B, HK, M, D]` and
    v `[B, HK, M, DV]`; the outputs are o `[B, H, N, DV]` and optionally lse
    `[B, H, N]` (f32). The body holds the statements (`tmix.scale`, `tmix.mask`,
    `tmix.score`, `tmix.sink`, `tmix.rope`), each at most once.

    ```mlir
    tmix.attention @causal(%q: !tmix.tensor<[B, H, N, 64], f16>,
                           %k: !tmix.tensor<[B, H, N, 64], f16>,
                           %v: !tmix.tensor<[B, H, N, 64], f16>, %window: i32 = 4096)
        -> (o: !tmix.tensor<[B, H, N, 64], f16>) {
      tmix.mask {
      ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
        %keep = arith.cmpi sle, %j, %i : i64
        tmix.yield %keep : i1
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type,
                       StrArrayAttr:$arg_names,
                       ArrayAttr:$arg_defaults,
                       StrArrayAttr:$result_names);
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name,
                   "::llvm::ArrayRef<::llvm::StringRef>":$argNames,
                   "::llvm::ArrayRef<::mlir::Type>":$argTypes,
                   "::llvm::ArrayRef<::mlir::Attribute>":$argDefaults,
                   "::llvm::ArrayRef<::llvm::StringRef>":$resultNames,
                   "::llvm::ArrayRef<::mlir::Type>":$resultTypes)>
  ];
  let extraClassDeclaration = specClassDeclaration;
}

def Tmix_RecurrenceOp : Tmix_SpecOp<"recurrence"> {
  let summary = "a linear recurrence (state-space / linear attention) spec";
  let description = [{
    For every point of the parallel dimensions (those of the first per-step output
    before its time dimension) the states start at their `init` argument (or 0) and,
    for `t = 0 .. T-1`, `tmix.step` maps `(t, states)` to the new states and the
    per-step outputs at `t`:

    ```
    S_0 = init;   (S_{t+1}, out[t]) = step(t, S_t);   final = S_T
    ```

    `groups {G = "H"}` lets an argument hold a size symbol G where parallel dim H
    stands (q and k with fewer heads than v, Mamba2's B and C per group of heads):
    point h of H reads its index h / (H / G), as attention reads HK; G divides H.

    `offsets "cu_seqlens"` packs S sequences along the time dimension: the named
    argument, an i32 or i64 `[S + 1]` tensor, holds their starts and the end T
    (flash-linear-attention's `cu_seqlens`). S is then the first parallel dim: each
    sequence s runs the steps `t = 0 .. offsets[s+1] - offsets[s] - 1` from its own
    initial state, reading and writing the tensors that have the time dimension at
    `offsets[s] + t`; those tensors hold every sequence and have no S dim.

    `forward "X"` makes it the adjoint (backward pass) of the recurrence spec X, written
    by tmix-derive-recurrence-grad: its steps run in reverse, `t = T-1 .. 0`, its states
    are the adjoints of X's (and the sums of the gradients of X's arguments read without
    a time index), and `tmix.forward_state` in its step reads X's state before step `t`,
    which the targets recompute from checkpoints. Its arguments begin with X's.

    ```mlir
    tmix.recurrence @retnet(%q: !tmix.tensor<[B, H, T, K], bf16>, ...)
        -> (o: !tmix.tensor<[B, H, T, V], bf16>) time "T" {
      tmix.state "S" : !tmix.tensor<[K, V], f32>
      tmix.step {
      ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
        ...
        tmix.yield %S2, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type,
                       StrArrayAttr:$arg_names,
                       ArrayAttr:$arg_defaults,
                       StrArrayAttr:$result_names,
                       StrAttr:$time_symbol,
                       OptionalAttr<DictionaryAttr>:$groups,
                       OptionalAttr<StrAttr>:$offsets,
                       OptionalAttr<StrAttr>:$forward);
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name,
                   "::llvm::ArrayRef<::llvm::StringRef>":$argNames,
                   "::llvm::ArrayRef<::mlir::Type>":$argTypes,
                   "::llvm::ArrayRef<::mlir::Attribute>":$argDefaults,
                   "::llvm::ArrayRef<::llvm::StringRef>":$resultNames,
                   "::llvm::ArrayRef<::mlir::Type>":$resultTypes,
                   "::llvm::StringRef":$timeSymbol)>
  ];
  let extraClassDeclaration = specClassDeclaration # [{
    /// The dims of the first per-step output before its time dimension (empty when
    /// there is no per-step output or it lacks the time dimension), after the
    /// sequence dim S of packed sequences (`offsets`).
    ::llvm::SmallVector<::mlir::Attribute> getParallelDims();
    /// Packed sequences: the index of the `offsets` argument, if any.
    ::std::optional<unsigned> getOffsetsArgument();
    /// Packed sequences: the sequence dim S of the `offsets` argument's `[S + 1]`
    /// (null without `offsets`, or when that argument is not so declared).
    ::mlir::StringAttr getSequenceDim();
    /// The parallel dim that `dim` stands for: itself, or the dim a group symbol
    /// groups (`groups {G = "H"}`: G for H).
    ::mlir::Attribute resolveGroup(::mlir::Attribute dim);
    /// The tmix.state ops in declaration order.
    ::llvm::SmallVector<StateOp, 4> getStateOps();
    /// The tmix.step op (null when missing).
    StepOp getStepOp();
    /// The tmix.final op producing result `index` (null for a per-step output).
    FinalOp getFinalOp(unsigned index);
    /// The indices of the per-step outputs (results not produced by a tmix.final).
    ::llvm::SmallVector<unsigned> getPerStepResults();
    /// The value type of a per-step output at one step: its dims after the time
    /// dimension with element f32, or f32 when none (null without a time dimension).
    ::mlir::Type getPerStepType(unsigned index);
    /// The position of the time symbol among the logical dims of `type`, when it is a
    /// tensor that has it.
    ::std::optional<unsigned> getTimeDim(::mlir::Type type);
  }];
}

def Tmix_AttentionGradOp : Tmix_SpecOp<"attention_grad"> {
  let summary = "one kernel of an attention spec's backward pass, derived from it";
  let description = [{
    Written by `tmix-derive-attention-grad` from the tmix.attention named `forward`
    (docs/training.md); never by hand in a `.tmix` file. Its arguments are the
    forward's arguments, then `o`, `lse` (f32 `[B, H, N]`) and `d_o`, the gradient of
    the loss with respect to `o` (o's type), and with `lse_grad` (a forward that has
    lse among its outputs) `d_lse`, the gradient with respect to lse (lse's type):
    it joins as D_i - d_lse_i, since d lse_i / d s_ij = P_ij. Its body holds the forward's statements
    and the derived `tmix.score_grad`. FlashAttention-2's algorithm, with dq summed
    per key split instead of by atomics, so that every gradient element is written by
    one program, in one order (deterministic, no atomics):

    ```
    P_ij   = exp(score(b, h, i, j, scale * q_i . k_j) - lse_i)      (kept pairs)
    dP_ij  = d_o_i . v_j,   D_i = d_o_i . o_i
    dS_ij  = score_grad(b, h, i, j, s_ij, P_ij (dP_ij - D_i)) * scale
    part "key_value":  dk_j = sum_(h in j's group, i) dS_ij q_i,
                       dv_j = sum_(h, i) P_ij d_o_i,
                       d_q_partial[s, b, h, i, :] = sum_(j in split s) dS_ij k_j
                                                             -> (dk, dv, d_q_partial)
    part "query":      dq_i = sum_s d_q_partial[s, b, h, i, :]  -> (dq)
    ```

    with rope's rotation applied to q and k before the products and its transpose
    to dq and dk after them. `d_q_partial` is f32 `[S, B, H, N, D]` (a literal count
    S of key splits, then q's logical dims: dq, each row's head dim contiguous): part
    "key_value"'s third result and part "query"'s last argument, after d_o (and d_lse).

    With `recompute_dq` (the GPUs' choice) no d_q_partial passes between the parts:
    part "key_value" produces (dk, dv), and part "query" recomputes P and dS for its
    rows and sums dq_i = sum_j dS_ij k_j itself, its rows' keys in one order.

    Part "params" (only for a spec whose `score`, `sink` or `scale` reads float extra
    arguments): the gradients of those arguments, in the order `params` lists their
    argument indices, as f32 tensors of their dims (`[1]` for a scalar). The body's
    `tmix.score_param_grad`, `tmix.sink_grad` and `tmix.scale_grad` accumulate them. `owned` holds two
    entries per param: the position of the param's dim that every read indexes by
    exactly `b`, and the one indexed by exactly `h` (-1 for none); the kernel's grid
    runs over b (h) when every param has one, so that each program owns its slices
    and sums them in one order.

    A part "key_value" with d_q_partial may sum the score's gradients of some params
    per key split too, as it sums dq's (it has dS at hand; a pass of its own would
    recompute P and dP): its `params` and `owned` list them, its body holds the
    `tmix.score_param_grad` that accumulates them, and it produces one `d_x_partial`
    per param after d_q_partial, f32 `[S, B, HK, x's dims]` without B when x owns a
    batch dim and without HK when it owns a head dim (each program adds only to its
    own slice). Part "params" then lists them in `split` and takes their partials
    after d_o (and d_lse), in that order: such a gradient starts as its partials
    summed in order, then its sink and scale terms join.

    With `rope_rows` (the GPUs' form, recompute_dq, for a rope whose theta reads float
    arguments): part "key_value" produces `d_rope_k`, f32 `[B, HK, M]`, after (dk, dv)
    and part "query" `d_rope_q`, f32 `[B, H, N]`, after dq: each row's term of the
    loss's gradient with respect to rope's theta (its pairs' terms, summed as it stores
    the row rotated back). Part "params" takes them last, k's then q's, sums them in
    order and hands the total to its tmix.rope_grad.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type,
                       StrArrayAttr:$arg_names,
                       ArrayAttr:$arg_defaults,
                       StrArrayAttr:$result_names,
                       StrAttr:$forward,
                       StrAttr:$part,
                       OptionalAttr<DenseI64ArrayAttr>:$params,
                       OptionalAttr<DenseI64ArrayAttr>:$owned,
                       OptionalAttr<DenseI64ArrayAttr>:$split,
                       UnitAttr:$lse_grad,
                       UnitAttr:$recompute_dq,
                       UnitAttr:$rope_rows);
  let extraClassDeclaration = specClassDeclaration # [{
    /// The part names of the kernels.
    static constexpr ::llvm::StringLiteral kQueryPart = "query";
    static constexpr ::llvm::StringLiteral kKeyValuePart = "key_value";
    static constexpr ::llvm::StringLiteral kParamsPart = "params";
    bool isQueryPart() { return getPart() == kQueryPart; }
    bool isParamsPart() { return getPart() == kParamsPart; }
    /// The forward's arguments come first, then o, lse, d_o, with `lse_grad` d_lse,
    /// in part "query" d_q_partial and in part "params" the `split` params' partials,
    /// or with `rope_rows` d_rope_k and d_rope_q.
    unsigned getNumForwardArgs() {
      return getFunctionType().getNumInputs() - (getLseGrad() ? 4 : 3) -
             (isQueryPart() && !getRecomputeDq() ? 1 : 0) - getSplitParams().size() -
             (isParamsPart() && getRopeRows() ? 2 : 0);
    }
    /// `rope_rows`: the type of the rows' terms of theta's gradient for q or k, f32 of
    /// its first three dims ([B, H, N] or [B, HK, M]).
    static SpecTensorType getRopeRowsType(SpecTensorType x);
    /// Part "params" with `rope_rows`: d_rope_k, then d_rope_q.
    unsigned getRopeRowsArg() { return getFunctionType().getNumInputs() - 2; }
    /// Part "query": d_q_partial, its last argument.
    unsigned getQueryPartialArg() { return getFunctionType().getNumInputs() - 1; }
    /// The type of d_q_partial for q's type and `splits` key splits.
    static SpecTensorType getQueryPartialType(SpecTensorType q, int64_t splits);
    /// The params listed by `params` (by `split`), empty without.
    ::llvm::ArrayRef<int64_t> getParamArgs() {
      return getParamsAttr() ? getParamsAttr().asArrayRef() : ::llvm::ArrayRef<int64_t>();
    }
    ::llvm::ArrayRef<int64_t> getSplitParams() {
      return getSplitAttr() ? getSplitAttr().asArrayRef() : ::llvm::ArrayRef<int64_t>();
    }
    /// The per-key-split partial of a param of type `param` (a tensor) whose dims at
    /// `ownedBatch` and `ownedHead` (-1: none) the reads index by exactly b and h:
    /// f32 [S, B, HK, param's dims], without B (HK) where it owns one.
    /// Part "key_value": whether it sums the score's params per pair
    /// (a tmix.score_param_grad; rope's theta it sums per row instead).
    bool sumsScoreParams();
    /// The gradient of a param of type `param`: its dims in f32 ([1] for a scalar).
    static SpecTensorType getParamGradType(::mlir::Type param);
    static SpecTensorType getParamPartialType(SpecTensorType param, SpecTensorType k,
                                              int64_t splits, int64_t ownedBatch,
                                              int64_t ownedHead);
    /// Part "params": the first of the `split` params' partials.
    unsigned getParamPartialArg() {
      return getFunctionType().getNumInputs() - getSplitParams().size();
    }
    /// Part "params": whether its grid runs over q's batch (`which` = 0) or head (1)
    /// dim, every param owning a dim that its reads index by exactly b (h).
    bool splitsParamsBy(unsigned which) {
      ::llvm::ArrayRef<int64_t> owned = getOwnedAttr().asArrayRef();
      for (unsigned param = 0; 2 * param < owned.size(); ++param)
        if (owned[2 * param + which] < 0)
          return false;
      return true;
    }
    unsigned getOutputArg() { return getNumForwardArgs(); }
    unsigned getLseArg() { return getNumForwardArgs() + 1; }
    unsigned getOutputGradArg() { return getNumForwardArgs() + 2; }
    unsigned getLseGradArg() { return getNumForwardArgs() + 3; }
  }];
}

//===----------------------------------------------------------------------===//
// Attention statements
//===----------------------------------------------------------------------===//

class Tmix_StatementOp<string mnemonic, list<Trait> traits = []>
    : Tmix_Op<mnemonic, traits # [ParentOneOf<["AttentionOp", "AttentionGradOp"]>]> {
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins)>];
}

def Tmix_ScaleOp : Tmix_StatementOp<"scale"> {
  let summary = "the factor applied to dot(q, k)";
  let description = [{
    `s = scale * dot(q[b,h,i,:], k[b,h/(H/HK),j,:])`; the default is `1 / sqrt(D)`.
    The region takes no arguments and yields an `f32`.

    ```mlir
    tmix.scale {
      %c = arith.constant 0.125 : f32
      tmix.yield %c : f32
    }
    ```
  }];
}

def Tmix_MaskOp : Tmix_StatementOp<"mask", [Tmix_BlockArgNames]> {
  let summary = "which keys each query attends to";
  let description = [{
    Key `j` joins the softmax of query `i` (batch `b`, head `h`) exactly when the
    region yields true; the default keeps every key. A fully masked row gives
    `o = 0`, `lse = -inf`.

    ```mlir
    tmix.mask {
    ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
      %keep = arith.cmpi sle, %j, %i : i64
      tmix.yield %keep : i1
    }
    ```
  }];
}

def Tmix_ScoreOp : Tmix_StatementOp<"score", [Tmix_BlockArgNames]> {
  let summary = "a replacement for the scaled score before the softmax";
  let description = [{
    `s_ij = score(b, h, i, j, s)` where `s` is the scaled dot product; the default
    is `s` itself.

    ```mlir
    tmix.score {
    ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
      %c = arith.constant 50.0 : f32
      %x = arith.divf %s, %c : f32
      %t = math.tanh %x : f32
      %r = arith.mulf %c, %t : f32
      tmix.yield %r : f32
    }
    ```
  }];
}

def Tmix_ScoreGradOp : Tmix_StatementOp<"score_grad", [Tmix_BlockArgNames]> {
  let summary = "the score statement's vector-Jacobian product, derived";
  let description = [{
    Only in a tmix.attention_grad, written by `tmix-derive-attention-grad` from the
    forward's `tmix.score`: given the scaled score `s` of (b, h, i, j) and the
    gradient `g` of the loss with respect to `score(b, h, i, j, s)`, yields the
    gradient with respect to `s`, `g * d score / d s`.

    ```mlir
    tmix.score_grad {
    ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32, %g: f32):
      ...
      tmix.yield %ds : f32
    }
    ```
  }];
}

def Tmix_ScoreParamGradOp : Tmix_StatementOp<"score_param_grad", [Tmix_BlockArgNames]> {
  let summary = "the score statement's gradients with respect to extra arguments";
  let description = [{
    In a tmix.attention_grad part "params" (or "key_value", for the params it sums
    per key split): given the scaled score `s` of (b, h,
    i, j) and the gradient `g` of the loss with respect to the score, accumulates `g`
    times the score's derivative with respect to each float tensor element and float
    scalar argument it reads (`tmix.accumulate`). Yields nothing.
  }];
}

def Tmix_SinkGradOp : Tmix_StatementOp<"sink_grad", [Tmix_BlockArgNames]> {
  let summary = "the sink statement's gradients with respect to extra arguments";
  let description = [{
    Only in a tmix.attention_grad part "params": given the gradient `g` of the loss
    with respect to the sink logit of (b, h), accumulates `g` times the logit's
    derivative with respect to what it reads (`tmix.accumulate`). Yields nothing.
  }];
}

def Tmix_ScaleGradOp : Tmix_StatementOp<"scale_grad", [Tmix_BlockArgNames]> {
  let summary = "the scale statement's gradients with respect to what it reads";
  let description = [{
    Only in a tmix.attention_grad part "params": given the gradient `g` of the loss
    with respect to the scale (the sum over every pair of the gradient with respect
    to its scaled score `s` times `dot(q, k)`), accumulates `g` times the scale's
    derivative with respect to each float it reads (`tmix.accumulate`). Yields
    nothing. The part then also holds the `tmix.score_grad` that `s`'s gradient needs.

    ```mlir
    tmix.scale_grad {
    ^bb0(%g: f32):
      tmix.accumulate %tau, %g : f32
      tmix.yield
    }
    ```
  }];
}

def Tmix_RopeGradOp : Tmix_StatementOp<"rope_grad", [Tmix_BlockArgNames]> {
  let summary = "the rope statement's gradients with respect to what it reads";
  let description = [{
    Given the gradient `g` of the loss with respect to rope's theta (the sum over the
    rotated rows of q and k of their gradients times their angles' derivatives),
    accumulates `g` times theta's derivative with respect to each float it reads
    (`tmix.accumulate`). Yields nothing. In a tmix.attention_grad part "params", or in
    a part "key_value" that sums params per key split: there each program's share of
    `g` (its keys' rows of k, its split's share of q's) goes into the partials.

    ```mlir
    tmix.rope_grad {
    ^bb0(%g: f32):
      tmix.accumulate %theta, %g : f32
      tmix.yield
    }
    ```
  }];
}

def Tmix_SinkOp : Tmix_StatementOp<"sink", [Tmix_BlockArgNames]> {
  let summary = "an extra logit per (batch, head) in the softmax denominator";
  let description = [{
    `lse[b,h,i] = log(exp(sink(b, h)) + sum_j exp(s_ij))`, and the softmax weights
    are divided by the same sum; the sink has no value row.

    ```mlir
    tmix.sink {
    ^bb0(%b: i64, %h: i64):
      %c = arith.constant 0.0 : f32
      tmix.yield %c : f32
    }
    ```
  }];
}

def Tmix_RopeOp : Tmix_StatementOp<"rope"> {
  let summary = "rotary position embedding of q and k";
  let description = [{
    Before the dot product, q at position `i` and k at position `j` are rotated
    (half-split convention): for `p < D/2`, with `a = x[p]`, `c = x[p + D/2]` and
    angle `pos * theta^(-2p/D)`, `x[p] = a cos - c sin`, `x[p + D/2] = c cos + a sin`.
    The region yields `theta`; `D` must be even.

    ```mlir
    tmix.rope {
      %theta = arith.constant 10000.0 : f32
      tmix.yield %theta : f32
    }
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Recurrence statements
//===----------------------------------------------------------------------===//

def Tmix_StateOp : Tmix_Op<"state", [HasParent<"RecurrenceOp">]> {
  let summary = "a recurrent state, per point of the parallel dimensions";
  let description = [{
    Declares the state `sym_name` of type `type` (an f32 `!tmix.tensor`, or `f32` for
    a scalar state). It starts at `init`, a spec argument whose dims are the parallel
    dims followed by the state's, or at 0 without one.

    ```mlir
    tmix.state "S" : !tmix.tensor<[K, V], f32> init %s0 : !tmix.tensor<[B, H, K, V], f32>
    ```
  }];
  let arguments = (ins StrAttr:$sym_name, TypeAttr:$type, Optional<AnyType>:$init);
  let assemblyFormat = [{
    $sym_name `:` $type (`init` $init^ `:` type($init))? attr-dict
  }];
  let hasVerifier = 1;
}

def Tmix_StepOp : Tmix_Op<"step", [HasParent<"RecurrenceOp">, Tmix_BlockArgNames]> {
  let summary = "one step of a recurrence";
  let description = [{
    `(S'..., out[t]...) = step(t, S...)`: the region's arguments are the step index
    `t` (i64) and the state values in declaration order; it yields the new states
    (declaration order) and then the per-step outputs in result order.

    ```mlir
    tmix.step {
    ^bb0(%t: i64, %S: !tmix.tensor<[K, V], f32>):
      %k = tmix.slice %key[%t] : !tmix.tensor<[B, H, T, K], bf16> -> !tmix.tensor<[K], f32>
      %v = tmix.slice %value[%t] : !tmix.tensor<[B, H, T, V], bf16> -> !tmix.tensor<[V], f32>
      %kv = tmix.outer %k, %v : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
      ...
      tmix.yield %S2, %o : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32>
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins)>];
}

def Tmix_ForwardStateOp : Tmix_Op<"forward_state", [HasParent<"StepOp">, Pure]> {
  let summary = "in the adjoint of a recurrence: the forward's state before this step";
  let description = [{
    In the step of a recurrence with `forward "X"` (the adjoint of X): the value of X's
    state `state` before X's step at the same `t` (X's S_t, with S_0 its initial value).
    Targets recompute it from checkpoints of X's states, so the backward's memory stays
    O(T / chunk * state).

    ```mlir
    %S = tmix.forward_state "S" : !tmix.tensor<[K, V], f32>
    ```
  }];
  let arguments = (ins StrAttr:$state);
  let results = (outs AnyType:$result);
  let assemblyFormat = "$state attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tmix_FinalOp : Tmix_Op<"final", [HasParent<"RecurrenceOp">]> {
  let summary = "an output that is a state after the last step";
  let description = [{
    `result[p..., :] = state_T[p..., :]` for every parallel point `p`; the result's
    dims are the parallel dims followed by the state's dims.

    ```mlir
    tmix.final "ht" = "S"
    ```
  }];
  let arguments = (ins StrAttr:$result, StrAttr:$state);
  let assemblyFormat = "$result `=` $state attr-dict";
}

//===----------------------------------------------------------------------===//
// Expression ops
//===----------------------------------------------------------------------===//

def Tmix_SizeOp : Tmix_Op<"size", [Pure]> {
  let summary = "the run-time value of a size symbol";
  let description = [{
    The value of the size symbol `symbol` of the enclosing spec (a dimension symbol
    of one of its arguments or results), as an i64.

    ```mlir
    %n = tmix.size "N" : i64
    ```
  }];
  let arguments = (ins StrAttr:$symbol);
  let results = (outs I64:$result);
  let assemblyFormat = "$symbol attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tmix_ParallelIndexOp : Tmix_Op<"parallel_index", [Pure]> {
  let summary = "the coordinate of a recurrence's parallel point";
  let description = [{
    Inside a recurrence's step: the index, along parallel dimension `dim` (counted
    from 0 among the recurrence's parallel dimensions), of the point the step runs at.
    `h` in a recurrence whose parallel dimensions are [batch, head] is
    `tmix.parallel_index 1`.

    ```mlir
    %h = tmix.parallel_index 1 : i64
    ```
  }];
  let arguments = (ins I64Attr:$dim);
  let results = (outs I64:$result);
  let assemblyFormat = "$dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tmix_ReadOp : Tmix_Op<"read", [Pure]> {
  let summary = "an element of a tensor argument";
  let description = [{
    `tensor[indices...]`, one i64 index per dimension. A read outside the tensor
    gives 0 (false for i1). Float tensors read as f32; integer ones keep their type.

    ```mlir
    %d = tmix.read %doc[%b, %i] : !tmix.tensor<[1, N], i32> -> i32
    ```
  }];
  let arguments = (ins Tmix_Tensor:$tensor, Variadic<I64>:$indices);
  let results = (outs AnyType:$result);
  let assemblyFormat = [{
    $tensor `[` $indices `]` attr-dict `:` qualified(type($tensor)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tmix_AccumulateOp : Tmix_Op<"accumulate", [
    ParentOneOf<["ScoreParamGradOp", "SinkGradOp", "ScaleGradOp", "RopeGradOp"]>]> {
  let summary = "adds to the gradient of a float argument of the spec";
  let description = [{
    `d_target[indices...] += value`, for a float tensor argument (one i64 index per
    dimension; an index outside the tensor adds nothing, as the read it comes from gave
    0), or `d_target += value` for a float scalar argument (no indices). Written by
    tmix-derive-attention-grad where the forward reads the argument.

    ```mlir
    tmix.accumulate %bias[%h, %x], %g : !tmix.tensor<[H, R], f32>
    ```
  }];
  let arguments = (ins AnyType:$target, Variadic<I64>:$indices, F32:$value);
  let assemblyFormat = [{
    $target (`[` $indices^ `]`)? `,` $value attr-dict `:` qualified(type($target))
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The number of the spec argument it adds to (the verifier checks that the target
    /// is one).
    unsigned getTargetArgument() {
      return ::llvm::cast<::mlir::BlockArgument>(getTarget()).getArgNumber();
    }
  }];
}

def Tmix_SliceOp : Tmix_Op<"slice", [Pure]> {
  let summary = "a recurrence argument at the current parallel point (and step)";
  let description = [{
    The argument's dims are some of the parallel dims (in order), then the time
    symbol exactly when `time` is given, then the per-step dims. The result is the
    argument at the current parallel point and step:
    `x[p..., t, :]`, with the per-step dims and element f32 (an integer element type
    stays), or a scalar when no dims remain.

    | argument (parallel `[B, H]`, time `T`) | `time` | result |
    | --- | --- | --- |
    | `[B, H, T, K]` bf16 | `%t` | `!tmix.tensor<[K], f32>` |
    | `[B, T, N]` f32 (shared by all heads) | `%t` | `!tmix.tensor<[N], f32>` |
    | `[B, H, T]` f32 | `%t` | `f32` |
    | `[H]` f32 (per-head constant) | none | `f32` |

    ```mlir
    %a = tmix.slice %alpha[%t] : !tmix.tensor<[B, H, T], f32> -> f32
    %g = tmix.slice %A : !tmix.tensor<[H], f32> -> f32
    ```
  }];
  let arguments = (ins Tmix_Tensor:$source, Optional<I64>:$time);
  let results = (outs AnyType:$result);
  let assemblyFormat = [{
    $source (`[` $time^ `]`)? attr-dict `:` qualified(type($source)) `->` type($result)
  }];
  let hasVerifier = 1;
}

class Tmix_AlgebraOp<string mnemonic> : Tmix_Op<mnemonic, [Pure]> {
  let arguments = (ins Tmix_Tensor:$lhs, Tmix_Tensor:$rhs);
  let results = (outs AnyType:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` qualified(type($lhs)) `,` qualified(type($rhs)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tmix_OuterOp : Tmix_AlgebraOp<"outer"> {
  let summary = "outer product of two vectors";
  let description = [{
    `r[k, v] = a[k] * b[v]`: `[K] x [V] -> [K, V]` (a column times a row).

    ```mlir
    %kv = tmix.outer %k, %v : !tmix.tensor<[K], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K, V], f32>
    ```
  }];
}

def Tmix_VecMatOp : Tmix_AlgebraOp<"vecmat"> {
  let summary = "vector times matrix";
  let description = [{
    `r[v] = sum_k a[k] * S[k, v]` (`a @ S`): `[K] x [K, V] -> [V]`.

    ```mlir
    %o = tmix.vecmat %q, %S : !tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32> -> !tmix.tensor<[V], f32>
    ```
  }];
}

def Tmix_MatVecOp : Tmix_AlgebraOp<"matvec"> {
  let summary = "matrix times vector";
  let description = [{
    `r[k] = sum_v S[k, v] * a[v]` (`S @ a`): `[K, V] x [V] -> [K]`.

    ```mlir
    %r = tmix.matvec %S, %a : !tmix.tensor<[K, V], f32>, !tmix.tensor<[V], f32> -> !tmix.tensor<[K], f32>
    ```
  }];
}

def Tmix_DotOp : Tmix_AlgebraOp<"dot"> {
  let summary = "dot product of two vectors";
  let results = (outs F32:$result);
  let description = [{
    `r = sum_k a[k] * b[k]`: `[K] x [K] -> f32`.

    ```mlir
    %y = tmix.dot %c, %h : !tmix.tensor<[N], f32>, !tmix.tensor<[N], f32> -> f32
    ```
  }];
}

def Tmix_SumOp : Tmix_Op<"sum", [Pure]> {
  let summary = "sum of all elements";
  let description = [{
    `r = sum_{i...} a[i...]` over every element of an f32 vector or matrix.

    ```mlir
    %s = tmix.sum %a : !tmix.tensor<[K, V], f32> -> f32
    ```
  }];
  let arguments = (ins Tmix_Tensor:$input);
  let results = (outs F32:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` type($result)";
  let hasVerifier = 1;
}

def Tmix_MapOp : Tmix_Op<"map", [Pure]> {
  let summary = "element-wise scalar code over vectors and matrices";
  let description = [{
    `r[idx] = f(x0[idx0], x1[idx1], ...)` for every element `idx` of the result. Each
    operand is a scalar (the same value everywhere), of the result's shape
    (`idx0 = idx`), or, for a matrix result `[K, V]`, a vector `[K]` (a diagonal
    gate, `idx0 = idx[0]`, the same over a row). The region's arguments have the
    operands' element types (a scalar operand: its own type) and it yields the
    result's element type.

    | operand | result `[K, V]` |
    | --- | --- |
    | `f32` | broadcast everywhere |
    | `[K, V]` | element-wise |
    | `[K]` | `x[k]` on row `k` |

    ```mlir
    %S2 = tmix.map %g, %S : (!tmix.tensor<[K], f32>, !tmix.tensor<[K, V], f32>) -> !tmix.tensor<[K, V], f32> {
    ^bb0(%x: f32, %y: f32):
      %z = arith.mulf %x, %y : f32
      tmix.yield %z : f32
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Tmix_Tensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type($inputs, $result) $body
  }];
  let hasVerifier = 1;
}

def Tmix_YieldOp : Tmix_Op<"yield", [Pure, ReturnLike, Terminator,
    ParentOneOf<["ScaleOp", "MaskOp", "ScoreOp", "ScoreGradOp", "ScoreParamGradOp",
                 "SinkOp", "SinkGradOp", "ScaleGradOp", "RopeOp", "RopeGradOp",
                 "StepOp",
                 "MapOp"]>]> {
  let summary = "the values of a statement, step or map region";
  let description = [{
    Terminates the region of every statement op, of `tmix.step` and of `tmix.map`;
    the parent checks the types.

    ```mlir
    tmix.yield %keep : i1
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // TMIX_OPS_TD
