//===- ChunkedLowering.h - Decaying recurrences, chunk by chunk -*- C++ -*-===//
//
// The chunk-parallel form of the states that have a chunk form (ChunkForm.h): the
// steps run in chunks of C; within a chunk the readouts are an intra-chunk quadratic
// part plus the chunk's start state, and the state moves to the chunk's end in one
// update. Everything else of the step (other states, the outputs around the
// readouts) still runs step by step inside the chunk.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H
#define TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H

#include "passes/RecurrenceProgramForm.h"
#include "passes/StepLowering.h"

namespace mlir::tmix {

/// Emits steps 0 .. T-1 of `steps`' recurrence in chunks of `chunkSize` at the
/// builder's insertion point: the chunk loop of `program` (matched by
/// RecurrenceProgramForm.h), one step of the chunk's work per op, the states of its
/// chunk forms in chunk-parallel form.
void lowerChunked(StepLowering &steps, const RecurrenceProgramForm &program,
                  int64_t chunkSize);

} // namespace mlir::tmix

#endif // TMIX_CODEGEN_CPU_CHUNKEDLOWERING_H
