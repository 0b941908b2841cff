//===- TmixAttrs.td - Attributes of the tmix dialect ---------*- tablegen -*-===//
//
// The contract between the compiler's levels, declared and verified: the schedule a
// spec is tiled by (chosen by the tmix-schedule pass from the target's TargetInfo),
// and the kernel ABI that a lowering records for codegen and the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_ATTRS_TD
#define TMIX_ATTRS_TD

include "dialect/TmixDialect.td"
include "mlir/IR/AttrTypeBase.td"

class Tmix_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Tmix_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

def Tmix_AttentionScheduleAttr : Tmix_Attr<"AttentionSchedule", "attention_schedule"> {
  let summary = "how one attention spec is tiled";
  let description = [{
    `block_m` query rows per program and `block_n` keys per KV tile, on every target;
    the CPU's vector shape (`lanes` f32 lanes per register, `vector_registers`) that
    its micro-kernels are register-blocked for; a GPU kernel's `warps` per program and
    `stages` of its K/V ring. Each value in its range (dialect/ScheduleBounds.h); a
    value a target does not use is 0.

    ```mlir
    #tmix.attention_schedule<block_m = 32, block_n = 64, lanes = 16, vector_registers = 32>
    #tmix.attention_schedule<block_m = 64, block_n = 64, warps = 4, stages = 2>
    ```
  }];
  let parameters = (ins "int64_t":$block_m, "int64_t":$block_n,
                        DefaultValuedParameter<"int64_t", "0">:$lanes,
                        DefaultValuedParameter<"int64_t", "0">:$vector_registers,
                        DefaultValuedParameter<"int64_t", "0">:$warps,
                        DefaultValuedParameter<"int64_t", "0">:$stages);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Tmix_RecurrenceScheduleAttr : Tmix_Attr<"RecurrenceSchedule", "recurrence_schedule"> {
  let summary = "how one recurrence spec is run";
  let description = [{
    `form`: `auto`, `chunked` or `recurrent`; `chunk`: steps per chunk of the chunked
    form; `chunked_min_steps`: under `auto`, the number of steps T from which the
    program takes the chunked form (a run-time branch: T is a run-time size).

    ```mlir
    #tmix.recurrence_schedule<form = "auto", chunk = 64, chunked_min_steps = 1>
    ```
  }];
  let parameters = (ins StringRefParameter<>:$form, "int64_t":$chunk,
                        DefaultValuedParameter<"int64_t", "1">:$chunked_min_steps);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Kernel ABI
//===----------------------------------------------------------------------===//

def Tmix_GridDimAttr : Tmix_Attr<"GridDim", "grid_dim"> {
  let summary = "one dimension of a kernel's grid: ceil(dim / tile) programs";
  let description = [{
    `dim` is a literal size (an i64) or a size symbol (a string); `tile` is the number
    of its elements one program covers, so the grid has ceil(dim / tile) programs along
    it. Printed as `DIM:TILE`, as in the runtime's manifest (`grid B:1 H:1 N:64`).

    ```mlir
    #tmix.grid_dim<N:64>
    ```
  }];
  let parameters = (ins "Attribute":$dim, "int64_t":$tile);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Tmix_TensorMapAttr : Tmix_Attr<"TensorMap", "tensor_map"> {
  let summary = "one TMA descriptor a Hopper kernel reads";
  let description = [{
    The runtime encodes it at launch (cuTensorMapEncodeTiled) over the 4-D tensor
    argument `arg` [B, H, N, D]: a box of `box_columns` (over D) by `box_rows` (over N)
    elements, swizzled in `swizzle`-byte rows (0: a raw tile for staging).

    ```mlir
    #tmix.tensor_map<arg = 0, box = [64, 128], swizzle = 128>
    ```
  }];
  let parameters = (ins "int64_t":$arg, "int64_t":$box_columns, "int64_t":$box_rows,
                        "int64_t":$swizzle);
  let assemblyFormat = [{
    `<` `arg` `=` $arg `,` `box` `=` `[` $box_columns `,` $box_rows `]` `,`
        `swizzle` `=` $swizzle `>`
  }];
  let genVerifyDecl = 1;
}

def Tmix_KernelAttr : Tmix_Attr<"Kernel", "kernel"> {
  let summary = "the kernel ABI: what codegen and the runtime need to launch a program";
  let description = [{
    Attached as `tmix.kernel` to the program function a lowering builds
    (passes/KernelBuilder.h) and to the gpu.func it becomes; codegen turns it into the
    runtime's manifest (codegen/KernelAbi.h).

    - `sizes`: the size symbols, in the order of the program's sizes argument;
    - `grid`: its dimensions, outermost first (programs = prod ceil(dim / tile),
      decomposed row-major);

    and on a GPU kernel only:

    - `threads` per block (CTA);
    - `shared_bytes`: dynamic shared memory per CTA;
    - `specialized`: the size symbols fixed at compile time, with their values (a
      launch with other values is refused);
    - `tensor_maps`: the TMA descriptors it reads, in the order of its descriptor
      array (sm_90a);
    - `workspace = W per [S...]`: a launch's scratch memory in global memory, W 64-bit
      words per unit of the product of the size symbols S (none: W words), after one
      word per CTA; the runtime gives each launch its own, the per-CTA words zeroed
      (the kernel takes it as a `memref<?xi64>` after the loop program's ABI).

    ```mlir
    #tmix.kernel<sizes = [B, H, N, HK, M], grid = [B:1, H:1, N:4]>
    #tmix.kernel<sizes = [B, H, N, D], grid = [B:1, H:1, N:128], threads = 384,
                 shared_bytes = 51200, specialized = {D = 128},
                 tensor_maps = [#tmix.tensor_map<arg = 0, box = [64, 128],
                                                 swizzle = 128>]>
    #tmix.kernel<sizes = [B, H, N], grid = [H:1, 64:1], threads = 128,
                 shared_bytes = 1024, workspace = 192 per [B, H]>
    ```

    The verifier rejects what the runtime would: symbols that are not identifiers or
    appear twice, a grid dimension or specialised size naming no size symbol, tiles,
    literal dims and specialised values outside 1..2^31 - 1, threads outside 1..1024,
    shared bytes beyond the largest target's opt-in limit, TMA boxes outside 1..256,
    swizzles other than 0, 32, 64 and 128, workspace words outside 1..2^31 - 1 or per
    symbols that are not size symbols (or appear twice), GPU launch parts without
    `threads`, and a GPU kernel without a grid.
  }];
  let parameters = (ins ArrayRefParameter<"StringAttr">:$sizes,
                        ArrayRefParameter<"GridDimAttr">:$grid,
                        OptionalParameter<"std::optional<int64_t>">:$threads,
                        DefaultValuedParameter<"int64_t", "0">:$shared_bytes,
                        OptionalParameter<"DictionaryAttr">:$specialized,
                        OptionalArrayRefParameter<"TensorMapAttr">:$tensor_maps,
                        DefaultValuedParameter<"int64_t", "0">:$workspace_words,
                        OptionalArrayRefParameter<"StringAttr">:$workspace_per);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The ABI of a loop program (one program of the grid, on any target).
    static KernelAttr getProgram(MLIRContext *context, ArrayRef<StringRef> sizes,
                                 ArrayRef<GridDimAttr> grid);
    /// This ABI launched as a GPU kernel: `threads` per CTA, `sharedBytes` of dynamic
    /// shared memory, the sizes fixed at compile time (may be empty).
    KernelAttr withLaunch(int64_t threads, int64_t sharedBytes,
                          ArrayRef<NamedAttribute> specialized) const;
    /// This ABI with the TMA descriptors its kernel reads.
    KernelAttr withTensorMaps(ArrayRef<TensorMapAttr> maps) const;
    /// This ABI with a workspace of `words` per unit of the product of `per`.
    KernelAttr withWorkspace(int64_t words, ArrayRef<StringAttr> per) const;
  }];
}

#endif // TMIX_ATTRS_TD
