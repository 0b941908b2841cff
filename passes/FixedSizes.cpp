//===- FixedSizes.cpp - Size symbols fixed at compile time ----------------===//
//
// Parses `specialize` entries and reads dims through them.
//
//===----------------------------------------------------------------------===//

#include "passes/FixedSizes.h"

using namespace mlir;

FailureOr<tmix::FixedSizes> tmix::parseSpecializations(ModuleOp module,
                                                       ArrayRef<std::string> entries) {
  FixedSizes fixed;
  for (const std::string &entry : entries) {
    auto [symbol, text] = StringRef(entry).split('=');
    int64_t value = 0;
    if (symbol.empty() || text.getAsInteger(10, value) || value <= 0)
      return module.emitError()
             << "bad specialization '" << entry << "' (expected SYMBOL=POSITIVE_INTEGER)";
    fixed[symbol] = value;
  }
  return fixed;
}

std::optional<int64_t> tmix::fixedDim(Attribute dim, const FixedSizes &fixed) {
  if (auto value = dyn_cast<IntegerAttr>(dim))
    return value.getInt();
  auto found = fixed.find(cast<StringAttr>(dim).getValue());
  if (found != fixed.end())
    return found->second;
  return std::nullopt;
}
