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

#endif // TMIX_ATTRS_TD
