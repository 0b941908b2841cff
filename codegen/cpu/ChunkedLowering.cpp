//===- ChunkedLowering.cpp - Decaying recurrences, chunk by chunk ---------===//
//
// For a chunk of L steps starting at state S0, with Γ_i the product of the gates of
// the chunk's steps 0..i (kept as a cumulative log LG_i and a sign SG_i = ±1):
//
//   o_i = (q_i ⊙ Γ_i) @ S0 + sum_{s <= i} (q_i · (Γ_i / Γ_s) ⊙ k_s) v_s
//   S_L = Γ_L ⊙ S0 + sum_s ((Γ_L / Γ_s) ⊙ k_s) outer v_s
//
// Ratios of gates are exp of differences of cumulative logs, never exp(-LG) alone,
// which overflows for decays near 0. Signs (gates that may be negative) are folded
// into the staged queries and keys: SG_i q_i, SG_s k_s. A delta rule is the same
// with pseudo-values w_s in place of v_s, solved for first (solveDelta: ChunkMath.h's
// WY solve).
//
// Phases per chunk: (1) the step ops the chunk needs (gates, keys, values, queries),
// staged as rows of chunk buffers; (2) the delta rule's solve, the readouts and the
// state update, mostly as row combinations in vector FMAs (VectorRows.h); (3) the
// rest of the step, step by step, with the readouts read from the chunk buffers.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/ChunkedLowering.h"
#include "passes/ChunkMath.h"
#include "codegen/cpu/VectorRows.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tmix;

ChunkedSteps::ChunkedSteps(StepLowering &steps, ArrayRef<ChunkForm> forms,
                           int64_t chunkSize)
    : steps(steps), kb(steps.kernel()), b(kb.builder()), forms(forms),
      chunkSize(chunkSize) {
  collectOps();
}

// Arithmetic with the flags that let LLVM vectorise and contract.
static constexpr arith::FastMathFlags kFastAdd =
    arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
Value ChunkedSteps::add(Value x, Value y) { return arith::AddFOp::create(b, x, y, kFastAdd); }
Value ChunkedSteps::sub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
Value ChunkedSteps::mul(Value x, Value y) {
  return arith::MulFOp::create(b, x, y, arith::FastMathFlags::contract);
}
Value ChunkedSteps::exp(Value x) { return math::ExpOp::create(b, x); }
Value ChunkedSteps::load(Value buffer, ValueRange indices) {
  return memref::LoadOp::create(b, buffer, indices);
}
void ChunkedSteps::store(Value value, Value buffer, ValueRange indices) {
  memref::StoreOp::create(b, value, buffer, indices);
}
Value ChunkedSteps::logOf(const StateChunk &chunk, Value row, Value g) {
  return add(load(chunk.logGate, {row, g}), load(chunk.logGateLow, {row, g}));
}
/// (hi_to - hi_from) + (lo_to - lo_from): the high parts of nearby rows subtract
/// exactly, so a small ratio after large decays stays exact.
Value ChunkedSteps::logRatio(const StateChunk &chunk, Value to, Value from, Value g) {
  Value high = sub(load(chunk.logGate, {to, g}), load(chunk.logGate, {from, g}));
  Value low = sub(load(chunk.logGateLow, {to, g}), load(chunk.logGateLow, {from, g}));
  return arith::AddFOp::create(b, high, low);
}
Value ChunkedSteps::gateIndex(const StateChunk &chunk, Value k) {
  return chunk.form->hasRowGate() ? k : kb.index(0);
}
/// for (iv = 0; iv < ub; ++iv)
void ChunkedSteps::forRange(Value ub, function_ref<void(Value)> body) {
  kb.loop(kb.index(0), ub, kb.index(1), {}, [&](Value iv, ValueRange) {
    body(iv);
    return SmallVector<Value>{};
  });
}
/// sum over iv < ub of term(iv), reassociable.
Value ChunkedSteps::sumRange(Value ub, function_ref<Value(Value)> term) {
  return kb.loop(kb.index(0), ub, kb.index(1), {kb.f32(0.0)},
                 [&](Value iv, ValueRange acc) {
                   return SmallVector<Value>{add(acc[0], term(iv))};
                 })[0];
}

void ChunkedSteps::collectOps() {
  Block &body = steps.stepBody();
  SmallVector<Value> stagedRoots;
  DenseSet<Operation *> replaced;
  for (const ChunkForm &form : forms) {
    chunked.insert(form.stateIndex);
    for (const ChunkFactor &factor : form.gate)
      stagedRoots.push_back(factor.value);
    for (const RankOneTerm &term : form.terms) {
      stagedRoots.append({term.key, term.value});
      for (const ChunkFactor &factor : term.factors)
        stagedRoots.push_back(factor.value);
    }
    if (form.delta) {
      stagedRoots.append({form.delta->key, form.delta->value});
      for (const ChunkFactor &factor : form.delta->strength)
        stagedRoots.push_back(factor.value);
    }
    collectProducers(body, stagedRoots, {}, stateStaged);
    for (VecMatOp readout : form.readouts) {
      stagedRoots.push_back(readout.getLhs());
      replaced.insert(readout);
    }
    replaced.insert(form.chain.begin(), form.chain.end());
  }
  collectProducers(body, stagedRoots, {}, staged);
  SmallVector<Value> stepRoots;
  for (auto [index, value] : llvm::enumerate(steps.stepYield().getValues()))
    if (!chunked.contains(index))
      stepRoots.push_back(value);
  collectProducers(body, stepRoots, replaced, rest);
}

void ChunkedSteps::allocate() {
  Value rows = kb.index(chunkSize);
  auto type =
      MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, b.getF32Type());
  // [C, cols], one row per step; [rowsOf, C], one column per step.
  auto alloc = [&](Value cols) {
    return kb.allocateScratch(type, ValueRange{rows, cols});
  };
  auto allocTransposed = [&](Value rowsOf) {
    return kb.allocateScratch(type, ValueRange{rowsOf, rows});
  };
  for (const ChunkForm &form : forms) {
    StateChunk chunk;
    chunk.form = &form;
    auto stateType =
        cast<SpecTensorType>(steps.stepBody().getArgument(1 + form.stateIndex).getType());
    chunk.kSize = kb.dimValue(stateType.getDims()[0]);
    chunk.vSize = kb.dimValue(stateType.getDims()[1]);
    chunk.gateSize = form.hasRowGate() ? chunk.kSize : kb.index(1);
    chunk.logGate = alloc(chunk.gateSize);
    chunk.logGateLow = alloc(chunk.gateSize);
    if (form.needsSign())
      chunk.sign = alloc(chunk.gateSize);
    size_t numTerms = form.delta ? 1 : form.terms.size();
    for (size_t term = 0; term < numTerms; ++term) {
      chunk.keys.push_back(alloc(chunk.kSize));
      chunk.values.push_back(alloc(chunk.vSize));
      chunk.keysByColumn.push_back(form.hasRowGate() ? alloc(chunk.kSize)
                                                     : allocTransposed(chunk.kSize));
    }
    chunk.decayedKeys = alloc(chunk.kSize);
    chunk.scores = allocTransposed(kb.index(1));
    for (size_t r = 0; r < form.readouts.size(); ++r) {
      chunk.queries.push_back(alloc(chunk.kSize));
      chunk.outputs.push_back(alloc(chunk.vSize));
    }
    auto vectorType = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
    if (form.delta)
      chunk.strengths = kb.allocateScratch(vectorType, ValueRange{rows});
    Value most = arith::MaxUIOp::create(b, rows, chunk.kSize);
    chunk.weights = kb.allocateScratch(vectorType, ValueRange{most});
    stateChunks.push_back(chunk);
  }
}

Value ChunkedSteps::factorValue(const ChunkFactor &factor, Value k) {
  bool vector = isa<SpecTensorType>(factor.value.getType());
  Value value = steps.element(factor.value, {}, vector ? ValueRange{k} : ValueRange{});
  return factor.isExp ? exp(value) : value;
}

/// Stages row `row` of the chunk buffers from the current step's values (the queries
/// only with `readouts`).
void ChunkedSteps::stage(StateChunk &chunk, Value row, bool readouts) {
  const ChunkForm &form = *chunk.form;
  Value zero = kb.index(0), one = kb.index(1);
  Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, row, zero);
  Value previous =
      arith::SelectOp::create(b, first, zero, arith::SubIOp::create(b, row, one));

  // ---- LG_i = LG_{i-1} + max(log |G_i|, floor), SG_i = SG_{i-1} * sign(G_i) ----
  forRange(chunk.gateSize, [&](Value g) {
    auto [log, sign] = stepGateLog(
        kb, form,
        [&](const ChunkFactor &factor) {
          bool vector = isa<SpecTensorType>(factor.value.getType());
          return steps.element(factor.value, {}, vector ? ValueRange{g} : ValueRange{});
        },
        kFastAdd);
    // The running sum in f64, stored as hi = f32(sum), lo = f32(sum - hi).
    Type f64 = b.getF64Type();
    auto wide = [&](Value x) { return Value(arith::ExtFOp::create(b, f64, x)); };
    auto narrow = [&](Value x) {
      return Value(arith::TruncFOp::create(b, b.getF32Type(), x));
    };
    Value before = arith::AddFOp::create(b, wide(load(chunk.logGate, {previous, g})),
                                         wide(load(chunk.logGateLow, {previous, g})));
    Value zero64 = arith::ConstantOp::create(b, b.getF64FloatAttr(0.0));
    Value sum = arith::AddFOp::create(
        b, arith::SelectOp::create(b, first, zero64, before).getResult(), wide(log));
    Value high = narrow(sum);
    store(high, chunk.logGate, {row, g});
    store(narrow(arith::SubFOp::create(b, sum, wide(high))), chunk.logGateLow, {row, g});
    if (chunk.sign) {
      Value signBefore = load(chunk.sign, {previous, g});
      store(mul(arith::SelectOp::create(b, first, kb.f32(1.0), signBefore), sign),
            chunk.sign, {row, g});
    }
  });

  // ---- keys (with their factors and SG_s), values, queries (with SG_i) ----
  auto signAt = [&](Value k) { return load(chunk.sign, {row, gateIndex(chunk, k)}); };
  if (form.delta)
    stageDelta(chunk, row);
  for (size_t index = 0; index < form.terms.size(); ++index) {
    const RankOneTerm &term = form.terms[index];
    forRange(chunk.kSize, [&](Value k) {
      Value key = steps.element(term.key, {}, k);
      for (const ChunkFactor &factor : term.factors) {
        Value value = factorValue(factor, k);
        key = factor.inverse ? Value(arith::DivFOp::create(b, key, value))
                             : mul(key, value);
      }
      if (term.negated)
        key = arith::NegFOp::create(b, key);
      if (chunk.sign)
        key = mul(key, signAt(k));
      store(key, chunk.keys[index], {row, k});
      if (!form.hasRowGate())
        store(key, chunk.keysByColumn[index], {k, row});
    });
    forRange(chunk.vSize, [&](Value v) {
      store(steps.element(term.value, {}, v), chunk.values[index], {row, v});
    });
  }
  for (size_t index = 0; index < form.readouts.size() && readouts; ++index) {
    VecMatOp readout = form.readouts[index];
    forRange(chunk.kSize, [&](Value k) {
      Value query = steps.element(readout.getLhs(), {}, k);
      if (chunk.sign)
        query = mul(query, signAt(k));
      store(query, chunk.queries[index], {row, k});
    });
  }
}

/// Delta rule: keys SG_i k_i (also by column), values v_i and strengths b_i (for the
/// solve's right-hand sides).
void ChunkedSteps::stageDelta(StateChunk &chunk, Value row) {
  const DeltaTerm &delta = *chunk.form->delta;
  Value strength = kb.f32(1.0);
  for (const ChunkFactor &factor : delta.strength) {
    Value value = factorValue(factor, Value());
    strength = factor.inverse ? Value(arith::DivFOp::create(b, strength, value))
                              : mul(strength, value);
  }
  store(strength, chunk.strengths, row);
  Value zero = kb.index(0);
  forRange(chunk.kSize, [&](Value k) {
    Value key = steps.element(delta.key, {}, k);
    if (chunk.sign)
      key = mul(key, load(chunk.sign, {row, zero}));
    store(key, chunk.keys[0], {row, k});
    store(key, chunk.keysByColumn[0], {k, row});
  });
  forRange(chunk.vSize, [&](Value v) {
    store(steps.element(delta.value, {}, v), chunk.values[0], {row, v});
  });
}

/// The delta rule's WY solve (ChunkMath.h): pseudo-values w in place of the staged
/// values, a row at a time; each sum over rows (the start state's prediction p_i, the
/// keys' scores, the earlier w_s) is a row combination in vector FMAs. The readouts and
/// the state update then treat w as the values of a scalar decay.
void ChunkedSteps::solveDelta(StateChunk &chunk, Value length) {
  Value state = steps.stateBuffer(chunk.form->stateIndex);
  Value keys = chunk.keys[0], pseudo = chunk.values[0], zero = kb.index(0);
  auto lanes = VectorType::get({kRowLanes}, b.getF32Type());
  auto beginRow = [&](Value i) {
    Value strength = load(chunk.strengths, i);
    // ---- r_i = b_i (v_i - p_i), p_i = Γ_i S0^T k_i ----
    Value startDecay = exp(logOf(chunk, i, zero));
    Value strengthLanes = vector::BroadcastOp::create(b, lanes, strength);
    combineRowsInto(
        kb, pseudo, i, chunk.vSize,
        [&](Value value, Value prediction) {
          return deltaRightHandSide(b, strengthLanes, value, prediction,
                                    arith::FastMathFlags::contract);
        },
        [&](Value k) {
          return mul(startDecay, load(keys, {i, k}));
        },
        state, chunk.kSize);
    // ---- A_is = b_i D_is, D_is = (Γ_i / Γ_s) (k_i · k_s), s < i ----
    combineRows(
        kb, chunk.scores, zero, i, Value(),
        [&](Value k) {
          return load(keys, {i, k});
        },
        chunk.keysByColumn[0], chunk.kSize);
    forRange(i, [&](Value s) {
      Value decay = exp(logRatio(chunk, i, s, zero));
      Value score = mul(load(chunk.scores, {zero, s}), decay);
      store(deltaSystemEntry(b, strength, score, arith::FastMathFlags::contract),
            chunk.weights, s);
    });
  };
  // ---- w_i = r_i - sum_{s < i} A_is w_s ----
  substituteDeltaRows(
      kb, length, beginRow, [&](Value, Value s) { return load(chunk.weights, s); },
      [&](Value i, Value count, function_ref<Value(Value)> entry,
          function_ref<Value(Value, Value)> finish) {
        combineRowsInto(kb, pseudo, i, chunk.vSize, finish, entry, pseudo, count);
      });
}

/// scores[0, s] = sum_k q_i[k] k_s[k] exp(LG_i[k] - LG_s[k]) for s <= i, with a row
/// gate. Per element, that is an exp per (i, s, k); instead, keys of the sub-chunks
/// before i's go through the reference row r = (start of i's sub-chunk) - 1:
///   exp(LG_i - LG_s) = exp(LG_i - LG_r) exp(LG_r - LG_s),   s <= r < i,
/// both factors products of gates over steps, so neither overflows for decays <= 1
/// (a factor that underflows means the product does too), and the scores of those keys
/// are plain dot products with the decayed keys. Keys of i's own sub-chunk take the
/// exp per element.
void ChunkedSteps::rowGateScores(StateChunk &chunk, unsigned term, Value queries,
                                    Value i) {
  Value keys = chunk.keys[term], decayedKeys = chunk.keysByColumn[term];
  Value zero = kb.index(0), one = kb.index(1), subChunk = kb.index(kSubChunk);
  Value within = arith::RemUIOp::create(b, i, subChunk);
  Value base = arith::SubIOp::create(b, i, within);
  Value through = arith::AddIOp::create(b, i, one);
  // ---- on entering a sub-chunk: the earlier keys decayed to its reference row ----
  Value entering = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, within, zero),
      arith::CmpIOp::create(b, arith::CmpIPredicate::ne, i, zero));
  kb.ifElse(
      entering, {},
      [&] {
        Value reference = arith::SubIOp::create(b, i, one);
        forRange(i, [&](Value s) {
          forRange(chunk.kSize, [&](Value k) {
            Value decay = exp(logRatio(chunk, reference, s, k));
            store(mul(load(keys, {s, k}), decay), decayedKeys, {s, k});
          });
        });
        return SmallVector<Value>{};
      },
      [] { return SmallVector<Value>{}; });
  // ---- keys before the sub-chunk: q_i decayed from the reference row ----
  Value reference = arith::SubIOp::create(b, arith::MaxUIOp::create(b, base, one), one);
  forRange(chunk.kSize, [&](Value k) {
    Value decay = exp(logRatio(chunk, i, reference, k));
    store(mul(load(queries, {i, k}), decay), chunk.weights, k);
  });
  forRange(base, [&](Value s) {
    Value score = sumRange(chunk.kSize, [&](Value k) {
      return mul(load(chunk.weights, k), load(decayedKeys, {s, k}));
    });
    store(score, chunk.scores, {zero, s});
  });
  // ---- keys of i's own sub-chunk, an exp per element ----
  kb.loop(base, through, one, {}, [&](Value s, ValueRange) {
    Value score = sumRange(chunk.kSize, [&](Value k) {
      Value decay = exp(logRatio(chunk, i, s, k));
      return mul(mul(load(queries, {i, k}), load(keys, {s, k})), decay);
    });
    store(score, chunk.scores, {zero, s});
    return SmallVector<Value>{};
  });
}

/// outputs[index][i] = (q_i ⊙ Γ_i) @ S0 + sum_{s <= i} scores(i, s) v_s.
void ChunkedSteps::readout(StateChunk &chunk, unsigned index, Value length) {
  Value state = steps.stateBuffer(chunk.form->stateIndex);
  Value queries = chunk.queries[index], out = chunk.outputs[index];
  bool rowGate = chunk.form->hasRowGate();
  forRange(length, [&](Value i) {
    // ---- the chunk's start state ----
    forRange(chunk.kSize, [&](Value k) {
      Value decay = exp(logOf(chunk, i, gateIndex(chunk, k)));
      store(mul(load(queries, {i, k}), decay), chunk.weights, k);
    });
    auto weightAt = [&](Value s) { return load(chunk.weights, s); };
    combineRows(kb, out, i, chunk.vSize, Value(), weightAt, state, chunk.kSize);
    // ---- the chunk's own steps s <= i ----
    Value through = arith::AddIOp::create(b, i, kb.index(1));
    for (size_t term = 0; term < chunk.keys.size(); ++term) {
      Value keys = chunk.keys[term];
      Value zero = kb.index(0);
      if (rowGate) {
        rowGateScores(chunk, term, queries, i);
        combineRows(
            kb, out, i, chunk.vSize, kb.f32(1.0),
            [&](Value s) {
              return load(chunk.scores, {zero, s});
            },
            chunk.values[term], through);
        continue;
      }
      // q_i · k_s for every s <= i at once, a row combination of the keys' columns.
      auto queryAt = [&](Value k) { return load(queries, {i, k}); };
      combineRows(kb, chunk.scores, zero, through, Value(), queryAt,
                  chunk.keysByColumn[term], chunk.kSize);
      forRange(through, [&](Value s) {
        Value decay = exp(logRatio(chunk, i, s, zero));
        store(mul(load(chunk.scores, {zero, s}), decay), chunk.weights, s);
      });
      combineRows(kb, out, i, chunk.vSize, kb.f32(1.0), weightAt, chunk.values[term],
                  through);
    }
  });
}

/// S = SG_L ⊙ (exp(LG_L) ⊙ S + sum_s exp(LG_L - LG_s) ⊙ k_s outer v_s).
void ChunkedSteps::update(StateChunk &chunk, Value length) {
  Value state = steps.stateBuffer(chunk.form->stateIndex);
  Value last = arith::SubIOp::create(b, length, kb.index(1));
  for (size_t term = 0; term < chunk.keys.size(); ++term) {
    // ---- the keys decayed to the chunk's end, row by row (contiguous in k) ----
    Value keys = chunk.keys[term];
    forRange(length, [&](Value s) {
      forRange(chunk.kSize, [&](Value k) {
        Value g = gateIndex(chunk, k);
        Value weight = mul(load(keys, {s, k}), exp(logRatio(chunk, last, s, g)));
        if (chunk.sign)
          weight = mul(weight, load(chunk.sign, {last, g}));
        store(weight, chunk.decayedKeys, {s, k});
      });
    });
    // ---- each row of S: decayed (first term), plus the decayed keys' outer products
    // ----
    // (kRowBlock rows of S at once: each value row loaded once for them)
    forRowBlocks(kb, kb.index(0), chunk.kSize, [&](ArrayRef<Value> rows) {
      SmallVector<Value> scales;
      for (Value k : rows) {
        Value scale = kb.f32(1.0);
        if (term == 0) {
          Value g = gateIndex(chunk, k);
          scale = exp(logOf(chunk, last, g));
          if (chunk.sign)
            scale = mul(scale, load(chunk.sign, {last, g}));
        }
        scales.push_back(scale);
      }
      combineRowBlock(
          kb, state, rows, chunk.vSize, scales,
          [&](unsigned r, Value s) { return load(chunk.decayedKeys, {s, rows[r]}); },
          chunk.values[term], kb.index(0), length);
    });
  }
}

void ChunkedSteps::stageChunk(Value start, Value length, bool readouts) {
  const DenseSet<Operation *> &ops = readouts ? staged : stateStaged;
  forRange(length, [&](Value row) {
    steps.beginStep(arith::AddIOp::create(b, start, row));
    steps.lowerOps([&](Operation *op) { return ops.contains(op); });
    for (StateChunk &state : stateChunks)
      stage(state, row, readouts);
  });
}

void mlir::tmix::lowerChunked(StepLowering &steps, const RecurrenceProgramForm &program,
                              int64_t chunkSize) {
  ChunkedSteps chunked(steps, program.forms, chunkSize);
  KernelBuilder &kb = steps.kernel();
  ImplicitLocOpBuilder &b = kb.builder();
  // The chunk buffers; the chunks run only once all are allocated (KernelBuilder's
  // status word).
  chunked.allocate();
  kb.guardScratch();
  // The chunk buffers of the state a program op names.
  auto chunkOf = [&](Operation *op) -> StateChunk & {
    for (const ChunkedStateOps &state : program.states)
      if (state.solve == op || state.update == op ||
          llvm::is_contained(state.readouts, op))
        return chunked.chunks()[state.formIndex];
    llvm_unreachable("an op of the matched chunk loop names a chunked state");
  };
  auto forRange = [&](Value ub, function_ref<void(Value)> body) {
    kb.loop(kb.index(0), ub, kb.index(1), {}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>{};
    });
  };
  Value numSteps = steps.numSteps();
  Value chunk = kb.index(chunkSize);
  kb.loop(kb.index(0), numSteps, chunk, {}, [&](Value start, ValueRange) {
    Value length = arith::MinUIOp::create(
        b, chunk, arith::SubIOp::create(b, numSteps, start).getResult());
    // One step of the chunk's work per op of the program's chunk loop.
    tile::ChunkLoopOp chunkLoop = program.chunkLoop;
    for (Operation &op : chunkLoop.getBodyBlock())
      llvm::TypeSwitch<Operation *>(&op)
          // ---- (1) stage what the chunk needs, step by step: the step values, the
          // cumulative gate logs (so gate_logs has nothing left to do) ----
          .Case([&](tile::StageStepsOp) { chunked.stageChunk(start, length); })
          // ---- (2) readouts from the start state (their scores a row at a time,
          // inside the readout), then the state at the chunk's end ----
          .Case([&](tile::DeltaSolveOp solve) { chunked.solveDelta(chunkOf(solve), length); })
          .Case([&](tile::ChunkReadoutOp readoutOp) {
            chunked.readout(chunkOf(readoutOp), readoutOp.getReadout(), length);
          })
          .Case([&](tile::StateUpdateOp updateOp) {
            chunked.update(chunkOf(updateOp), length);
          })
          .Case<tile::GateLogsOp, tile::ChunkScoresOp>([](Operation *) {})
          // ---- (3) the rest of each step, with the readouts from (2) ----
          .Case([&](tile::FinishStepsOp) {
            forRange(length, [&](Value row) {
              steps.beginStep(arith::AddIOp::create(b, start, row));
              for (StateChunk &state : chunked.chunks())
                for (size_t index = 0; index < state.form->readouts.size(); ++index) {
                  VecMatOp readoutOp = state.form->readouts[index];
                  Value target = steps.bufferOf(readoutOp.getResult());
                  Value out = state.outputs[index];
                  forRange(state.vSize, [&](Value v) {
                    memref::StoreOp::create(b, memref::LoadOp::create(b, out, {row, v}),
                                            target, v);
                  });
                }
              steps.lowerOps([&](Operation *op) { return chunked.stepOps().contains(op); });
              steps.storeOutputs();
              steps.writeBackStates(
                  [&](unsigned index) { return !chunked.chunkedStates().contains(index); });
            });
          });
    return SmallVector<Value>{};
  });
  kb.freeScratch();
}
