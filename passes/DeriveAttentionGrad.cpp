//===- DeriveAttentionGrad.cpp - The backward kernels of attention specs --===//
//
// For `tmix.attention @X`, the kernels a training step needs beside X:
//
//   @X_forward   X with an lse output (only when X has none): the backward
//                recomputes P_ij = exp(s_ij - lse_i) rather than storing P
//   @X_grad_kv   tmix.attention_grad part "key_value": (X's args, o, lse, d_o)
//                -> dk, dv, d_q_partial (dq's sums per key split, f32 [S, B, H, N, D])
//   @X_grad_q    tmix.attention_grad part "query": (X's args, o, lse, d_o, d_q_partial)
//                -> dq, the partials summed in split order
//                (and d_lse after d_o when X has lse among its outputs)
//   (with recompute-dq, the GPUs' choice: no d_q_partial; part "query" sums
//   dq_i = sum_j dS_ij k_j over its rows' pairs itself)
//   @X_grad_params  part "params", when X's score, sink, scale or rope reads float
//                extra arguments (bias tables, sink logits, scalars): their gradients
//   (without recompute-dq, @X_grad_kv sums the score's gradients of small tensor
//   params, such as a table [H, R], and rope's theta's per key split beside dq's, into
//   partials that @X_grad_params takes and sums in order: splitParamsByKey; with it,
//   rope's theta is summed per row instead, by @X_grad_kv and @X_grad_q as they store
//   dk and dq: addRopeRows)
//
// The two grad kernels carry X's statements, whose regions read X's arguments: they
// are cloned with X's block arguments mapped to the grad op's, which start with the
// same arguments. The score statement's derivative is derived here, once
// (passes/RegionGradient.h); the targets inline it as they inline the score.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/TmixOps.h"
#include "passes/RegionGradient.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::tmix {
#define GEN_PASS_DEF_DERIVEATTENTIONGRAD
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

/// The key splits of part "key_value": its programs run per (batch, KV head, split),
/// each summing dq over its split's keys into its slice of d_q_partial. More splits
/// run more programs at once; each costs a copy of dq in f32. The count is fixed
/// here, never by the thread count, so that the gradients are the same at any.
constexpr int64_t kKeySplits = 4;

/// The statements of `from` cloned into the (empty) body of `to`, whose first block
/// arguments stand for `from`'s.
void cloneStatements(Operation *from, Block &toBody, IRMapping &mapping) {
  Block &fromBody = from->getRegion(0).front();
  for (auto [source, target] : llvm::zip(fromBody.getArguments(), toBody.getArguments()))
    mapping.map(source, target);
  OpBuilder b = OpBuilder::atBlockEnd(&toBody);
  for (Operation &statement : fromBody)
    b.clone(statement, mapping);
}

struct Names {
  StringRef forward, query, keyValue;
};

/// X with an lse output `lse: f32[B, H, N]` (q's first three logical dims).
AttentionOp buildForwardWithLse(OpBuilder &b, AttentionOp spec, StringRef name) {
  auto q = cast<SpecTensorType>(spec.getSpecArgTypes()[0]);
  auto lseType = SpecTensorType::get(b.getContext(), q.getDims().take_front(3),
                                     b.getF32Type());
  SmallVector<StringRef> argNames, resultNames;
  for (unsigned index = 0; index < spec.getSpecArgTypes().size(); ++index)
    argNames.push_back(spec.getArgName(index));
  resultNames = {spec.getResultName(0), "lse"};
  auto forward = AttentionOp::create(
      b, spec.getLoc(), name, argNames, spec.getSpecArgTypes(),
      spec.getArgDefaults().getValue(), resultNames,
      {spec.getSpecResultTypes()[0], lseType});
  IRMapping mapping;
  cloneStatements(spec, forward.getBodyBlock(), mapping);
  return forward;
}

/// One of the two grad kernels of `spec`.
FailureOr<AttentionGradOp> buildGradPart(OpBuilder &b, AttentionOp spec, StringRef name,
                                         StringRef part, StringRef forwardName,
                                         Type lseType, bool recomputeDq) {
  MLIRContext *context = b.getContext();
  ArrayRef<Type> forwardArgs = spec.getSpecArgTypes();
  Type outputType = spec.getSpecResultTypes()[0];
  StringRef outputName = spec.getResultName(0);
  std::string lseName =
      spec.getNumSpecResults() == 2 ? spec.getResultName(1).str() : std::string("lse");
  std::string outputGradName = "d_" + outputName.str();

  SmallVector<std::string> argNames;
  SmallVector<Type> argTypes(forwardArgs);
  for (unsigned index = 0; index < forwardArgs.size(); ++index)
    argNames.push_back(spec.getArgName(index).str());
  argNames.append({outputName.str(), lseName, outputGradName});
  argTypes.append({outputType, lseType, outputType});
  // A forward with lse among its outputs may have a loss that reads it: d_lse too.
  bool lseGrad = spec.getNumSpecResults() == 2;
  if (lseGrad) {
    argNames.push_back("d_" + lseName);
    argTypes.push_back(lseType);
  }
  bool query = part == AttentionGradOp::kQueryPart;
  SpecTensorType partialType = AttentionGradOp::getQueryPartialType(
      cast<SpecTensorType>(forwardArgs[0]), kKeySplits);
  std::string partialName = "d_" + spec.getArgName(0).str() + "_partial";
  bool partial = !recomputeDq;
  if (query && partial) {
    argNames.push_back(partialName);
    argTypes.push_back(partialType);
  }
  SmallVector<Attribute> defaults(spec.getArgDefaults().getValue());
  defaults.append(argTypes.size() - defaults.size(), b.getUnitAttr());

  SmallVector<std::string> resultNames;
  SmallVector<Type> resultTypes;
  for (unsigned index : query ? SmallVector<unsigned>{0} : SmallVector<unsigned>{1, 2}) {
    resultNames.push_back("d_" + spec.getArgName(index).str());
    resultTypes.push_back(forwardArgs[index]);
  }
  if (!query && partial) {
    resultNames.push_back(partialName);
    resultTypes.push_back(partialType);
  }

  OperationState state(spec.getLoc(), AttentionGradOp::getOperationName());
  auto strings = [&](ArrayRef<std::string> texts) {
    return b.getStrArrayAttr(SmallVector<StringRef>(texts.begin(), texts.end()));
  };
  state.addAttribute("sym_name", b.getStringAttr(name));
  state.addAttribute("function_type",
                     TypeAttr::get(FunctionType::get(context, argTypes, resultTypes)));
  state.addAttribute("arg_names", strings(argNames));
  state.addAttribute("arg_defaults", b.getArrayAttr(defaults));
  state.addAttribute("result_names", strings(resultNames));
  state.addAttribute("forward", b.getStringAttr(forwardName));
  state.addAttribute("part", b.getStringAttr(part));
  if (lseGrad)
    state.addAttribute("lse_grad", b.getUnitAttr());
  if (recomputeDq)
    state.addAttribute("recompute_dq", b.getUnitAttr());
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Type type : argTypes)
    block->addArgument(type, spec.getLoc());
  auto grad = cast<AttentionGradOp>(b.create(state));

  IRMapping mapping;
  cloneStatements(spec, *block, mapping);
  for (ScoreOp score : spec.getBodyBlock().getOps<ScoreOp>()) {
    OpBuilder inside = OpBuilder::atBlockEnd(block);
    auto scoreGrad = ScoreGradOp::create(inside, score.getLoc());
    // Argument 4 of the score region is s.
    if (failed(buildRegionGradient(score.getBody(), scoreGrad.getBody(), mapping, 4,
                                   /*params=*/false))) {
      grad.erase();
      return failure();
    }
  }
  return grad;
}

/// The part "params" of `spec`'s backward when its score, sink or scale reads float
/// extra arguments (null when they read none): their gradients, accumulated by the
/// derived tmix.score_param_grad, tmix.sink_grad and tmix.scale_grad.
FailureOr<AttentionGradOp> buildParamsPart(OpBuilder &b, AttentionOp spec,
                                           AttentionGradOp keyValuePart, StringRef name) {
  // A copy of the key-value part's arguments and statements (the query part's take
  // d_q_partial too), with the param regions and the params' gradients as its
  // results. It keeps the key-value part's score_grad only for a scale_grad: the
  // scale's gradient sums the scaled scores' gradients, the score's others.
  OpBuilder::InsertionGuard guard(b);
  auto params = cast<AttentionGradOp>(b.clone(*keyValuePart));
  params.setSymName(name);
  params.setPart(AttentionGradOp::kParamsPart);
  params.setRecomputeDq(false);
  IRMapping mapping;
  for (auto [source, target] : llvm::zip(spec.getBodyBlock().getArguments(),
                                         params.getBodyBlock().getArguments()))
    mapping.map(source, target);
  OpBuilder inside = OpBuilder::atBlockEnd(&params.getBodyBlock());
  for (ScoreOp score : spec.getBodyBlock().getOps<ScoreOp>()) {
    auto grad = ScoreParamGradOp::create(inside, score.getLoc());
    if (failed(buildRegionGradient(score.getBody(), grad.getBody(), mapping, std::nullopt,
                                   /*params=*/true)))
      return failure();
  }
  for (SinkOp sink : spec.getBodyBlock().getOps<SinkOp>()) {
    auto grad = SinkGradOp::create(inside, sink.getLoc());
    if (failed(buildRegionGradient(sink.getBody(), grad.getBody(), mapping, std::nullopt,
                                   /*params=*/true)))
      return failure();
  }
  // rope's theta: its gradient is a sum over the rotated rows of q and k, which the
  // targets take from dq and dk before they rotate them back.
  for (RopeOp rope : spec.getBodyBlock().getOps<RopeOp>()) {
    auto grad = RopeGradOp::create(inside, rope.getLoc());
    if (failed(buildRegionGradient(rope.getBody(), grad.getBody(), mapping, std::nullopt,
                                   /*params=*/true)))
      return failure();
    // A theta of constants has no gradient to sum.
    if (grad.getBody().getOps<AccumulateOp>().empty())
      grad.erase();
  }
  bool scaleGrad = false;
  for (ScaleOp scale : spec.getBodyBlock().getOps<ScaleOp>()) {
    auto grad = ScaleGradOp::create(inside, scale.getLoc());
    if (failed(buildRegionGradient(scale.getBody(), grad.getBody(), mapping, std::nullopt,
                                   /*params=*/true)))
      return failure();
    // A scale of constants and sizes has no gradient to sum.
    scaleGrad = !grad.getBody().getOps<AccumulateOp>().empty();
    if (!scaleGrad)
      grad.erase();
  }
  if (!scaleGrad)
    for (ScoreGradOp grad : llvm::to_vector(params.getBodyBlock().getOps<ScoreGradOp>()))
      grad.erase();

  // The params, in argument order; per param the dim that every accumulation indexes
  // by exactly b (h) and that has q's batch (head) dim, or -1.
  Block &body = params.getBodyBlock();
  auto qDims = cast<SpecTensorType>(spec.getSpecArgTypes()[0]).getDims();
  SmallVector<int64_t> indices, owned;
  SmallVector<Type> resultTypes;
  SmallVector<Attribute> resultNames;
  for (unsigned argument = 3; argument < spec.getSpecArgTypes().size(); ++argument) {
    SmallVector<AccumulateOp> uses;
    params.walk([&](AccumulateOp op) {
      if (op.getTarget() == body.getArgument(argument))
        uses.push_back(op);
    });
    if (uses.empty())
      continue;
    indices.push_back(argument);
    Type type = spec.getSpecArgTypes()[argument];
    auto tensor = dyn_cast<SpecTensorType>(type);
    resultTypes.push_back(AttentionGradOp::getParamGradType(type));
    resultNames.push_back(b.getStringAttr("d_" + spec.getArgName(argument).str()));
    for (unsigned which : {0u, 1u}) { // b, then h: the regions' block arguments 0 and 1
      int64_t position = -1;
      for (unsigned dim = 0; tensor && dim < tensor.getRank() && position < 0; ++dim) {
        bool everywhere = tensor.getDims()[dim] == qDims[which] &&
                          llvm::all_of(uses, [&](AccumulateOp op) {
                            auto index = dyn_cast<BlockArgument>(op.getIndices()[dim]);
                            return index && index.getArgNumber() == which &&
                                   index.getOwner()->getParentOp() != params;
                          });
        if (everywhere)
          position = dim;
      }
      owned.push_back(position);
    }
  }
  if (indices.empty()) {
    params.erase();
    return AttentionGradOp();
  }
  auto inputs = params.getFunctionType().getInputs();
  params.setFunctionType(FunctionType::get(b.getContext(), inputs, resultTypes));
  params.setResultNamesAttr(b.getArrayAttr(resultNames));
  params.setParamsAttr(b.getDenseI64ArrayAttr(indices));
  params.setOwnedAttr(b.getDenseI64ArrayAttr(owned));
  return params;
}

/// Erases the tmix.accumulate ops of `region` whose target `erase` picks, then the
/// computations only they used.
void eraseAccumulates(Region &region, function_ref<bool(Value target)> erase) {
  Block &body = region.front();
  for (AccumulateOp op : llvm::to_vector(body.getOps<AccumulateOp>()))
    if (erase(op.getTarget()))
      op.erase();
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
}

/// Whether a param of type `type` is small enough to be summed per key split by part
/// "key_value", its partials (a copy per split) held beside d_q_partial's: a tensor with
/// at most one dim of a sequence's length (q's N or k's M). A table [H, R] or [H, M] is;
/// a pair bias [B, H, N, M] keeps part "params"'s own pass over the pairs, and a scalar
/// its sum in f64 there (its pairs' terms cancel).
bool summedPerKeySplit(Type type, SpecTensorType q, SpecTensorType k) {
  auto tensor = dyn_cast<SpecTensorType>(type);
  if (!tensor)
    return false;
  return llvm::count_if(tensor.getDims(), [&](Attribute dim) {
           return dim == q.getDims()[2] || dim == k.getDims()[2];
         }) <= 1;
}

/// Moves the score's gradients of the small tensor params of `params` (summedPerKeySplit)
/// into `keyValue`: it accumulates them per key split where it has dS, as it does dq's,
/// and produces their partials after d_q_partial; `params` takes those (its `split`) and
/// sums them in order instead of recomputing P and dP for them. rope's theta goes the
/// same way, whole: `keyValue` has its split's share of dq and its keys' dk, from which
/// it sums its programs' shares of theta's gradient.
void splitParamsByKey(AttentionGradOp keyValue, AttentionGradOp params,
                      AttentionOp spec) {
  Block &paramsBody = params.getBodyBlock();
  auto scoreParams = paramsBody.getOps<ScoreParamGradOp>();
  ScoreParamGradOp scoreParam = scoreParams.empty() ? nullptr : *scoreParams.begin();
  auto ropeParams = paramsBody.getOps<RopeGradOp>();
  RopeGradOp ropeParam = ropeParams.empty() ? nullptr : *ropeParams.begin();
  if (!scoreParam && !ropeParam)
    return;
  auto q = cast<SpecTensorType>(spec.getSpecArgTypes()[0]);
  auto k = cast<SpecTensorType>(spec.getSpecArgTypes()[1]);
  // The candidates: small tensors that the score reads, and what rope reads.
  llvm::SmallDenseSet<unsigned> scoreSplit, ropeReads;
  if (scoreParam)
    scoreParam.walk([&](AccumulateOp op) {
      if (summedPerKeySplit(spec.getSpecArgTypes()[op.getTargetArgument()], q, k))
        scoreSplit.insert(op.getTargetArgument());
    });
  if (ropeParam)
    ropeParam.walk([&](AccumulateOp op) { ropeReads.insert(op.getTargetArgument()); });
  ArrayRef<int64_t> all = params.getParamArgs();
  ArrayRef<int64_t> allOwned = params.getOwnedAttr().asArrayRef();
  SmallVector<int64_t> split, owned;
  for (auto [position, argument] : llvm::enumerate(all))
    if (scoreSplit.contains(argument) || ropeReads.contains(argument)) {
      split.push_back(argument);
      owned.append({allOwned[2 * position], allOwned[2 * position + 1]});
    }
  if (split.empty())
    return;
  // A score's accumulation moves when its target is a small tensor (a scalar the score
  // reads stays in part "params", summed in f64 there, even if rope reads it too).
  auto isScoreSplit = [&](Value target) {
    return scoreSplit.contains(cast<BlockArgument>(target).getArgNumber());
  };
  MLIRContext *context = spec.getContext();
  Builder b(context);
  auto partialName = [&](int64_t argument) {
    return b.getStringAttr("d_" + spec.getArgName(argument).str() + "_partial");
  };

  // Part "key_value": the score_param_grad of the split params, and their partials.
  {
    IRMapping mapping;
    Block &body = keyValue.getBodyBlock();
    // The params part is a copy of this one: the same arguments so far.
    for (auto [from, to] :
         llvm::zip_equal(paramsBody.getArguments(), body.getArguments()))
      mapping.map(from, to);
    OpBuilder inside = OpBuilder::atBlockEnd(&body);
    if (scoreParam && !scoreSplit.empty()) {
      auto cloned = cast<ScoreParamGradOp>(inside.clone(*scoreParam, mapping));
      eraseAccumulates(cloned.getBody(),
                       [&](Value target) { return !isScoreSplit(target); });
    }
    if (ropeParam)
      inside.clone(*ropeParam, mapping);
    FunctionType type = keyValue.getFunctionType();
    int64_t splits = *cast<SpecTensorType>(type.getResult(2)).getStaticSize(0);
    SmallVector<Type> results(type.getResults());
    SmallVector<Attribute> names(keyValue.getResultNames().getValue());
    for (auto [position, argument] : llvm::enumerate(split)) {
      results.push_back(AttentionGradOp::getParamPartialType(
          AttentionGradOp::getParamGradType(spec.getSpecArgTypes()[argument]), k, splits,
          owned[2 * position], owned[2 * position + 1]));
      names.push_back(partialName(argument));
    }
    keyValue.setFunctionType(FunctionType::get(context, type.getInputs(), results));
    keyValue.setResultNamesAttr(b.getArrayAttr(names));
    keyValue.setParamsAttr(b.getDenseI64ArrayAttr(split));
    keyValue.setOwnedAttr(b.getDenseI64ArrayAttr(owned));
  }

  // Part "params": the split params' partials in, their score and rope terms out.
  if (scoreParam) {
    eraseAccumulates(scoreParam.getBody(), isScoreSplit);
    if (scoreParam.getBody().getOps<AccumulateOp>().empty())
      scoreParam.erase();
  }
  if (ropeParam)
    ropeParam.erase();
  FunctionType type = params.getFunctionType();
  SmallVector<Type> inputs(type.getInputs());
  SmallVector<Attribute> names(params.getArgNames().getValue());
  SmallVector<Attribute> defaults(params.getArgDefaults().getValue());
  ArrayRef<Type> partialTypes = keyValue.getFunctionType().getResults().drop_front(3);
  for (auto [argument, partialType] : llvm::zip(split, partialTypes)) {
    inputs.push_back(partialType);
    names.push_back(partialName(argument));
    defaults.push_back(b.getUnitAttr());
    paramsBody.addArgument(partialType, spec.getLoc());
  }
  params.setFunctionType(FunctionType::get(context, inputs, type.getResults()));
  params.setArgNamesAttr(b.getArrayAttr(names));
  params.setArgDefaultsAttr(b.getArrayAttr(defaults));
  params.setSplitAttr(b.getDenseI64ArrayAttr(split));
}

/// The GPUs' form of rope's theta (recompute_dq: no d_q_partial to sum it per key split
/// into): `keyValue` and `query` produce each row's term of its gradient (d_rope_k,
/// d_rope_q), which `params` takes last and sums for its tmix.rope_grad.
void addRopeRows(AttentionGradOp query, AttentionGradOp keyValue, AttentionGradOp params,
                 AttentionOp spec) {
  if (params.getBodyBlock().getOps<RopeGradOp>().empty())
    return;
  MLIRContext *context = spec.getContext();
  Builder b(context);
  auto rowsOf = [&](unsigned argument) {
    return AttentionGradOp::getRopeRowsType(
        cast<SpecTensorType>(spec.getSpecArgTypes()[argument]));
  };
  for (auto [part, argument, name] :
       {std::tuple{keyValue, 1u, "d_rope_k"}, {query, 0u, "d_rope_q"}}) {
    FunctionType type = part.getFunctionType();
    SmallVector<Type> results(type.getResults());
    SmallVector<Attribute> names(part.getResultNames().getValue());
    results.push_back(rowsOf(argument));
    names.push_back(b.getStringAttr(name));
    part.setFunctionType(FunctionType::get(context, type.getInputs(), results));
    part.setResultNamesAttr(b.getArrayAttr(names));
    part.setRopeRows(true);
  }
  FunctionType type = params.getFunctionType();
  SmallVector<Type> inputs(type.getInputs());
  SmallVector<Attribute> names(params.getArgNames().getValue());
  SmallVector<Attribute> defaults(params.getArgDefaults().getValue());
  for (auto [argument, name] : {std::pair{1u, "d_rope_k"}, {0u, "d_rope_q"}}) {
    inputs.push_back(rowsOf(argument));
    names.push_back(b.getStringAttr(name));
    defaults.push_back(b.getUnitAttr());
    params.getBodyBlock().addArgument(rowsOf(argument), spec.getLoc());
  }
  params.setFunctionType(FunctionType::get(context, inputs, type.getResults()));
  params.setArgNamesAttr(b.getArrayAttr(names));
  params.setArgDefaultsAttr(b.getArrayAttr(defaults));
  params.setRopeRows(true);
}

struct DeriveAttentionGrad
    : tmix::impl::DeriveAttentionGradBase<DeriveAttentionGrad> {
  using DeriveAttentionGradBase::DeriveAttentionGradBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (AttentionOp spec : llvm::to_vector(module.getOps<AttentionOp>())) {
      std::string name = spec.getSymName().str();
      bool hasLse = spec.getNumSpecResults() == 2;
      std::string forwardName = hasLse ? name : name + "_forward";
      std::string queryName = name + "_grad_q", keyValueName = name + "_grad_kv",
                  paramsName = name + "_grad_params";
      for (const std::string &derived : {forwardName, queryName, keyValueName, paramsName})
        if (derived != name && symbols.lookup(derived)) {
          spec.emitOpError() << "derives its backward kernel '" << derived
                             << "', but that name is taken";
          return signalPassFailure();
        }
      OpBuilder b(spec.getContext());
      b.setInsertionPointAfter(spec);
      Type lseType;
      if (hasLse) {
        lseType = spec.getSpecResultTypes()[1];
      } else {
        AttentionOp forward = buildForwardWithLse(b, spec, forwardName);
        lseType = forward.getSpecResultTypes()[1];
        symbols.insert(forward);
        b.setInsertionPointAfter(forward);
      }
      AttentionGradOp queryPart, keyValuePart;
      for (auto [partName, part] : {std::pair{queryName, AttentionGradOp::kQueryPart},
                                    {keyValueName, AttentionGradOp::kKeyValuePart}}) {
        FailureOr<AttentionGradOp> grad =
            buildGradPart(b, spec, partName, part, forwardName, lseType, recomputeDq);
        if (failed(grad))
          return signalPassFailure();
        symbols.insert(*grad);
        b.setInsertionPointAfter(*grad);
        (part == AttentionGradOp::kQueryPart ? queryPart : keyValuePart) = *grad;
      }
      FailureOr<AttentionGradOp> params =
          buildParamsPart(b, spec, keyValuePart, paramsName);
      if (failed(params))
        return signalPassFailure();
      if (*params) {
        symbols.insert(*params);
        // A target that sums dq per key split sums the small params so too.
        if (!recomputeDq)
          splitParamsByKey(keyValuePart, *params, spec);
        else
          addRopeRows(queryPart, keyValuePart, *params, spec);
      }
      ++numDerived;
    }
  }
};

} // namespace
