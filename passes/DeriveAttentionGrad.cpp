//===- DeriveAttentionGrad.cpp - The backward kernels of attention specs --===//
//
// For `tmix.attention @X`, the kernels a training step needs beside X:
//
//   @X_forward   X with an lse output (only when X has none): the backward
//                recomputes P_ij = exp(s_ij - lse_i) rather than storing P
//   @X_grad_q    tmix.attention_grad part "query":     (X's args, o, lse, d_o) -> dq
//   @X_grad_kv   tmix.attention_grad part "key_value": (X's args, o, lse, d_o) -> dk, dv
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

namespace mlir::tmix {
#define GEN_PASS_DEF_DERIVEATTENTIONGRAD
#include "passes/Passes.h.inc"
} // namespace mlir::tmix

using namespace mlir;
using namespace mlir::tmix;

namespace {

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
                                         Type lseType) {
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
  SmallVector<Attribute> defaults(spec.getArgDefaults().getValue());
  defaults.append(3, b.getUnitAttr());

  bool query = part == AttentionGradOp::kQueryPart;
  SmallVector<std::string> resultNames;
  SmallVector<Type> resultTypes;
  for (unsigned index : query ? SmallVector<unsigned>{0} : SmallVector<unsigned>{1, 2}) {
    resultNames.push_back("d_" + spec.getArgName(index).str());
    resultTypes.push_back(forwardArgs[index]);
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
    if (failed(buildRegionGradient(score.getBody(), 4, scoreGrad.getBody(), mapping))) {
      grad.erase();
      return failure();
    }
  }
  return grad;
}

struct DeriveAttentionGrad
    : tmix::impl::DeriveAttentionGradBase<DeriveAttentionGrad> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (AttentionOp spec : llvm::to_vector(module.getOps<AttentionOp>())) {
      std::string name = spec.getSymName().str();
      bool hasLse = spec.getNumSpecResults() == 2;
      std::string forwardName = hasLse ? name : name + "_forward";
      std::string queryName = name + "_grad_q", keyValueName = name + "_grad_kv";
      for (const std::string &derived : {forwardName, queryName, keyValueName})
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
      for (auto [partName, part] : {std::pair{queryName, AttentionGradOp::kQueryPart},
                                    {keyValueName, AttentionGradOp::kKeyValuePart}}) {
        FailureOr<AttentionGradOp> grad =
            buildGradPart(b, spec, partName, part, forwardName, lseType);
        if (failed(grad))
          return signalPassFailure();
        symbols.insert(*grad);
        b.setInsertionPointAfter(*grad);
      }
      ++numDerived;
    }
  }
};

} // namespace
