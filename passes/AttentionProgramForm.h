//===- AttentionProgramForm.h - The tile program a target runs -*- C++ -*-===//
//
// An analysis of a tmix_tile.attention program: whether it is the online-softmax
// program that tmix-tile-attention writes, op by op and value by value, and if so
// which op is which. Every target's lowering asks it before emitting anything, so a
// program it cannot run (a hand-written one, or one a future pass rewrote) is refused
// with one error rather than lowered into a wrong kernel:
//
//   q = load_query(batch, head, row)
//   acc0, max0, sum0 = softmax_init
//   acc, max, sum = kv_loop(batch, head, row) carry(acc0, max0, sum0) {
//   ^(key, a, m, l):
//     k, v = load_kv(batch, head, key)
//     s = score(dot(q, k^T) at (batch, head, row, key))
//     p, m', l', r = softmax_update(s, m, l)
//     yield dot(p, v, acc = rescale(a, r)), m', l'
//   }
//   o, lse = finalize(batch, head, acc, max, sum)
//   store(batch, head, row, o[, lse])
//
// The CPU lowering walks these ops in order, each one a step of its loop program; the
// GPU lowerings emit their fused kernels for the program once it matches.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_PASSES_ATTENTIONPROGRAMFORM_H
#define TMIX_PASSES_ATTENTIONPROGRAMFORM_H

#include "dialect/TileOps.h"
#include "passes/TileProgram.h"

namespace mlir::tmix {

/// The ops of an online-softmax attention program, each the only one of its role.
struct AttentionProgramForm {
  tile::LoadQueryOp loadQuery;
  tile::SoftmaxInitOp init;
  tile::KeyValueLoopOp loop;
  tile::LoadKeyValueOp loadKeyValue;
  tile::DotOp scores;     // q k^T
  tile::ScoreOp score;    // the spec's score and mask
  tile::SoftmaxUpdateOp update;
  tile::RescaleOp rescale;
  tile::DotOp accumulate; // p v + rescaled acc
  tile::FinalizeOp finalize;
  tile::StoreOp store;
};

/// Matches `program` against the online-softmax form; failure after one error on the
/// first op that differs, saying that `target`'s lowering does not run it.
FailureOr<AttentionProgramForm> matchAttentionProgram(tile::AttentionProgramOp program,
                                                      StringRef target);

using RunnableAttentionProgram =
    RunnableProgram<AttentionOp, AttentionProgramForm, AttentionScheduleAttr>;

/// checkProgram (TileProgram.h) of an attention program: its spec, the online-softmax
/// form, a schedule `target` runs. Failure after one error.
FailureOr<RunnableAttentionProgram> checkAttentionProgram(tile::AttentionProgramOp program,
                                                          const TargetInfo &target,
                                                          const FixedSizes &fixed);

/// Fails after an error on the first attention spec of `module` without a tile program
/// (never tiled: tmix-tile-attention did not run).
LogicalResult checkEveryAttentionTiled(ModuleOp module);

} // namespace mlir::tmix

#endif // TMIX_PASSES_ATTENTIONPROGRAMFORM_H
