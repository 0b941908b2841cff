//===- AttentionGradProgramForm.h - The backward program a target runs -*- C++ -*-===//
//
// An analysis of a tmix_tile.attention_grad program: whether it is the program that
// tmix-tile-attention-grad writes for its part, op by op and value by value (the
// part's attributes decide which ops it holds), and if so which op is which. Every
// target's backward lowering asks it before emitting anything, so that a program it
// cannot run is refused with one error rather than lowered into a wrong kernel. The
// targets then emit their fused kernels for the matched program: the CPU its lane
// tiles, the GPUs their mma.sync fragments.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_ATTENTIONGRADPROGRAMFORM_H
#define TMIX_PASSES_ATTENTIONGRADPROGRAMFORM_H

#include "dialect/TileOps.h"
#include "passes/TileProgram.h"

namespace mlir::tmix {

/// The ops of a backward program, each the only one of its role; those a part does
/// not hold are null.
struct AttentionGradProgramForm {
  tile::AttentionGradProgramOp program;
  AttentionGradOp spec;
  // Part "key_value": the key tile and the walk over the rows that read it.
  tile::LoadKeysOp loadKeys;
  tile::QueryLoopOp queryLoop;
  tile::DotOp keyGrads;   // dS^T q + dk
  tile::DotOp valueGrads; // P^T d_o + dv
  tile::StoreKeyGradOp storeKeyGrad;
  // Part "query" with recompute_dq: the walk over the keys.
  tile::KeyLoopOp keyLoop;
  tile::LoadKeyValueOp loadKeyValue;
  // Both walks.
  tile::LoadQueryGradOp loadQueryGrad;
  tile::DotOp dots;       // q k^T
  tile::DotOp outputDots; // d_o v^T
  tile::PairGradOp pairGrad;
  tile::ParamGradsOp paramGrads;                   // part "key_value" that sums params
  tile::DotOp queryGradTerms;                      // dS k (+ dq with recompute_dq)
  tile::AccumulateQueryGradOp accumulateQueryGrad; // into d_q_partial
  // Part "query".
  tile::SumQueryPartialsOp sumQueryPartials; // without recompute_dq
  tile::StoreQueryGradOp storeQueryGrad;
};

/// Matches `program` against its part's form; failure after one error on the first op
/// that differs (or a program that names no part), saying that `target`'s lowering
/// does not run it.
FailureOr<AttentionGradProgramForm>
matchAttentionGradProgram(tile::AttentionGradProgramOp program, StringRef target);

/// Fails after an error on the first part "key_value" or "query" of `module` without
/// a tile program (tmix-tile-attention-grad did not run).
LogicalResult checkEveryAttentionGradTiled(ModuleOp module);

} // namespace mlir::tmix

#endif // TMIX_PASSES_ATTENTIONGRADPROGRAMFORM_H
