//===- RunCommand.cpp - `tmixc run`: compile, run and check a spec --------===//
//
// Every user mistake (an unknown kernel, a missing size, a bad --set, a .npy of the
// wrong shape or type) ends here as one `tmixc: error:` line and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "tools/tmixc/RunCommand.h"

#include "codegen/Signature.h"
#include "codegen/cpu/KernelCache.h"
#include "codegen/nvidia/NvidiaCompiler.h"
#include "codegen/nvidia/ParamGradKernel.h"
#include "codegen/nvidia/RecurrenceGradKernel.h"
#include "codegen/reference/ReferenceEvaluator.h"
#include "codegen/reference/RegionInterpreter.h"
#include "dialect/DimList.h"
#include "dialect/ScheduleBounds.h"
#include "dialect/TmixOps.h"
#include "passes/TargetInfo.h"
#include "runtime/AtomicFiles.h"
#include "runtime/GradientReduction.h"
#include "runtime/Npy.h"
#include "runtime/Random.h"
#include "tools/tmixc/GpuRun.h"

#include "codegen/ErrorCollector.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <unistd.h>

using namespace tmix;
using mlir::Operation;
using rt::DType;
using rt::HostTensor;

namespace {

constexpr int kExitError = 1;
constexpr uint64_t kDefaultSeed = 0;
constexpr int kBenchRuns = 7;
/// Random integer tensors (document ids, lengths) take values in [0, kRandomIntMax].
constexpr double kRandomIntMax = 7;
/// Above this many (b, h, i, j) pairs the mask density is estimated from a sample.
constexpr int64_t kExactDensityPairs = 1 << 22;
constexpr int64_t kDensitySamples = 1 << 20;
/// The largest integer every smaller one of which a double holds exactly.
constexpr long long kLargestExactInteger = 1LL << 53;

int fail(const llvm::Twine &message) {
  llvm::errs() << "tmixc: error: " << message << "\n";
  return kExitError;
}

/// ‖out − ref‖ / ‖ref‖ bounds per storage type of the inputs (DSL contract).
double errorBound(DType dtype) {
  switch (dtype) {
  case DType::F16: return 2e-3;
  case DType::BF16: return 1e-2;
  default: return 1e-5;
  }
}

struct Runner {
  Operation *spec = nullptr;
  rt::SpecSignature signature;
  rt::Bindings bindings;
  const RunOptions &options;
  bool onGpu = false; // the kernel ran on a GPU target

  explicit Runner(const RunOptions &options) : options(options) {}

  std::string bindSizesFromOption();
  std::string bindScalars();
  std::string bindTensors(uint64_t seed);
  std::string allocateOutputs(std::vector<HostTensor> &outputs);
  std::string checkShapes();
  int check(const std::vector<HostTensor> &outputs);
  double flopCount();
  /// The run-time size of a dimension (1 for a symbol not bound yet).
  int64_t sizeOf(const rt::DimDecl &dim) const;
  int64_t sizeOf(mlir::Attribute dim) const;
};

std::string Runner::bindSizesFromOption() {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (options.sizes)
    if (std::string error = rt::parseNamePairs(*options.sizes, "--sizes", pairs); !error.empty())
      return error;
  std::set<std::string> symbols;
  for (const auto &params : {signature.args, signature.results})
    for (const rt::ParamDecl &param : params)
      for (const rt::DimDecl &dim : param.dims)
        if (!dim.symbol.empty())
          symbols.insert(dim.symbol);
  for (auto &[name, text] : pairs) {
    if (!symbols.count(name))
      return "--sizes names '" + name + "', which is not a size symbol of '" +
             signature.name + "' (its symbols: " + llvm::join(symbols, ", ") + ")";
    long long value;
    if (llvm::StringRef(text).getAsInteger(10, value) || value <= 0)
      return "--sizes gives " + name + "=" + text + ": sizes are positive integers";
    if (!bindings.sizes.emplace(name, value).second)
      return "--sizes gives " + name + " twice";
  }
  return {};
}

std::string Runner::bindScalars() {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string &set : options.sets)
    if (std::string error = rt::parseNamePairs(set, "--set", pairs); !error.empty())
      return error;
  bindings.scalars.assign(signature.args.size(), 0.0);
  std::vector<bool> given(signature.args.size(), false);
  std::set<std::string> seen;
  for (auto &pair : pairs) {
    const std::string &name = pair.first, &text = pair.second;
    if (!seen.insert(name).second)
      return "--set gives '" + name + "' twice";
    auto it = llvm::find_if(signature.args,
                            [&](const rt::ParamDecl &p) { return p.name == name; });
    if (it == signature.args.end() || it->isTensor)
      return "--set names '" + name + "', which is not a scalar argument of '" +
             signature.name + "'";
    size_t index = it - signature.args.begin();
    double value;
    llvm::StringRef spelling(text);
    if (it->dtype == DType::Bool) {
      if (spelling != "true" && spelling != "false" && spelling != "0" && spelling != "1")
        return "--set " + name + "=" + text + ": '" + name + "' is bool (true or false)";
      value = spelling == "true" || spelling == "1";
    } else if (!rt::isFloat(it->dtype)) {
      long long integer;
      if (spelling.getAsInteger(10, integer))
        return "--set " + name + "=" + text + ": '" + name + "' is " +
               rt::dtypeName(it->dtype) + " and needs an integer";
      if (it->dtype == DType::I32 && (integer < INT32_MIN || integer > INT32_MAX))
        return "--set " + name + "=" + text + " does not fit in i32";
      // Scalars travel as doubles (rt::Bindings): beyond 2^53 an i64 would be rounded.
      if (integer < -kLargestExactInteger || integer > kLargestExactInteger)
        return "--set " + name + "=" + text + ": i64 scalars are limited to magnitudes "
               "up to 2^53 (" + std::to_string(kLargestExactInteger) + ")";
      value = static_cast<double>(integer);
    } else if (spelling == "inf" || spelling == "-inf") {
      value = spelling == "inf" ? INFINITY : -INFINITY;
    } else if (spelling.getAsDouble(value) || std::isnan(value)) {
      return "--set " + name + "=" + text + ": '" + name + "' needs a number";
    } else if (std::fabs(value) > rt::largestFinite(it->dtype)) {
      // 1e400 parses as inf, and 1e39 would become inf in f32: say so rather than run
      // with an infinity nobody asked for. An infinity is given as inf or -inf.
      return "--set " + name + "=" + text + " is beyond the range of " +
             rt::dtypeName(it->dtype) + " (give inf or -inf for an infinity)";
    }
    bindings.scalars[index] = value;
    given[index] = true;
  }
  for (auto [index, arg] : llvm::enumerate(signature.args)) {
    if (arg.isTensor || given[index])
      continue;
    if (!arg.defaultValue)
      return "scalar '" + arg.name + "' has no default: give it with --set=" + arg.name +
             "=VALUE";
    bindings.scalars[index] = *arg.defaultValue;
  }
  return {};
}

std::string Runner::bindTensors(uint64_t seed) {
  bindings.tensors.assign(signature.args.size(), HostTensor());
  std::vector<bool> loaded(signature.args.size(), false);
  if (options.inputs && !llvm::sys::fs::is_directory(*options.inputs))
    return "--inputs=" + *options.inputs + " is not a directory";
  // Tensors from --inputs first: their shapes bind sizes. Every tensor argument must
  // be there: a file left out (or misnamed) is an error, never silently random data.
  for (auto [index, arg] : llvm::enumerate(signature.args)) {
    if (!arg.isTensor || !options.inputs)
      continue;
    llvm::SmallString<256> path(*options.inputs);
    llvm::sys::path::append(path, arg.name + ".npy");
    // Not following links: a dangling one exists, and readNpy says it dangles.
    llvm::sys::fs::file_status status;
    if (llvm::sys::fs::status(path, status, /*follow=*/false) ==
        std::errc::no_such_file_or_directory)
      return "no input for tensor argument '" + arg.name + "': '" + path.str().str() +
             "' does not exist (--inputs=DIR needs DIR/NAME.npy for every tensor "
             "argument)";
    HostTensor tensor;
    if (std::string error = rt::readNpy(path.str().str(), tensor); !error.empty())
      return error;
    bool floatOk = rt::isFloat(arg.dtype) && rt::isFloat(tensor.dtype());
    bool intOk = !rt::isFloat(arg.dtype) && tensor.dtype() == arg.dtype;
    if (!floatOk && !intOk)
      return "'" + path.str().str() + "' holds " + rt::dtypeName(tensor.dtype()) +
             " but '" + arg.name + "' is " + rt::dtypeName(arg.dtype) +
             (rt::isFloat(arg.dtype) ? " (give float32)" : "");
    bindings.tensors[index] = tensor.convertedTo(arg.dtype);
    loaded[index] = true;
  }
  // Check the loaded shapes and bind their sizes before making the rest.
  {
    rt::Bindings partial;
    partial.sizes = bindings.sizes;
    rt::SpecSignature loadedOnly = signature;
    for (auto [index, arg] : llvm::enumerate(loadedOnly.args))
      if (!loaded[index])
        arg.isTensor = false;
    partial.tensors = bindings.tensors;
    if (std::string error = rt::bindSizes(loadedOnly, partial); !error.empty())
      return error;
    bindings.sizes = partial.sizes;
  }
  for (auto [index, arg] : llvm::enumerate(signature.args))
    for (const rt::DimDecl &dim : arg.dims)
      if (arg.isTensor && !loaded[index] && !dim.symbol.empty() &&
          !bindings.sizes.count(dim.symbol))
        return "size '" + dim.symbol + "' of '" + arg.name +
               "' is unknown: give it with " + "--sizes=" + dim.symbol +
               "=... (or its tensor with --inputs)";
  if (std::string error = checkShapes(); !error.empty())
    return error;
  for (auto [index, arg] : llvm::enumerate(signature.args)) {
    if (!arg.isTensor || loaded[index])
      continue;
    for (const rt::DimDecl &dim : arg.dims)
      if (!dim.symbol.empty() && !bindings.sizes.count(dim.symbol))
        return "size '" + dim.symbol + "' of '" + arg.name +
               "' is unknown: give it with " + "--sizes=" + dim.symbol +
               "=... (or its tensor with --inputs)";
    HostTensor tensor(arg.dtype, rt::shapeOf(arg, bindings.sizes));
    bool integer = !rt::isFloat(arg.dtype);
    if (signature.sequenceOffsets == index)
      rt::fillRandomOffsets(tensor, seed + index, bindings.sizes.at(signature.timeSymbol));
    else
      rt::fillRandom(tensor, seed + index, integer ? 0.0 : -1.0,
                     integer ? kRandomIntMax : 1.0);
    bindings.tensors[index] = std::move(tensor);
  }
  return rt::bindSizes(signature, bindings);
}

/// Checks, before any allocation, that every tensor fits in this machine's memory.
int64_t Runner::sizeOf(const rt::DimDecl &dim) const {
  if (dim.symbol.empty())
    return dim.size;
  auto it = bindings.sizes.find(dim.symbol);
  int64_t size = 0;
  // Saturated: the memory check that reads it refuses such a size.
  if (__builtin_add_overflow(it == bindings.sizes.end() ? 1 : it->second, dim.offset, &size))
    return std::numeric_limits<int64_t>::max();
  return size;
}

int64_t Runner::sizeOf(mlir::Attribute dim) const {
  if (auto size = mlir::dyn_cast<mlir::IntegerAttr>(dim))
    return size.getInt();
  std::optional<mlir::tmix::SymbolicDim> split =
      mlir::tmix::splitSymbolicDim(mlir::cast<mlir::StringAttr>(dim).getValue());
  rt::DimDecl decl;
  decl.symbol = split ? split->symbol.str() : "";
  decl.offset = split ? split->offset : 0;
  return sizeOf(decl);
}

std::string Runner::checkShapes() {
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                        static_cast<double>(sysconf(_SC_PAGE_SIZE));
  double total = 0;
  for (const auto &params : {signature.args, signature.results})
    for (const rt::ParamDecl &param : params) {
      if (!param.isTensor)
        continue;
      double bytes = static_cast<double>(rt::dtypeSize(param.dtype));
      for (const rt::DimDecl &dim : param.dims)
        bytes *= static_cast<double>(sizeOf(dim));
      total += bytes;
    }
  if (total > memory)
    return "the tensors of '" + signature.name + "' need " +
           llvm::formatv("{0:F1}", total / (1 << 30)).str() + " GiB, more than this " +
           "machine's " + llvm::formatv("{0:F1}", memory / (1 << 30)).str() + " GiB";
  return {};
}

std::string Runner::allocateOutputs(std::vector<HostTensor> &outputs) {
  for (const rt::ParamDecl &result : signature.results) {
    for (const rt::DimDecl &dim : result.dims)
      if (!dim.symbol.empty() && !bindings.sizes.count(dim.symbol))
        return "size '" + dim.symbol + "' of output '" + result.name +
               "' is unknown: give it with --sizes=" + dim.symbol + "=...";
    outputs.emplace_back(result.dtype, rt::shapeOf(result, bindings.sizes));
  }
  return {};
}

/// Compares each output with the reference: ‖out − ref‖ / ‖ref‖ over finite reference
/// entries; an infinite reference entry (lse of an empty row) must be matched exactly,
/// and a NaN one (a row that saw a NaN input) by a NaN.
int Runner::check(const std::vector<HostTensor> &outputs) {
  auto reference = evaluateReference(spec, bindings);
  if (!reference)
    return fail("reference evaluation failed: " + llvm::toString(reference.takeError()));
  DType inputType = signature.args.front().dtype;
  // The GPU kernels compute f32 specs in bf16 (docs/gpu.md): bf16's bound applies.
  if (onGpu && inputType == DType::F32)
    inputType = DType::BF16;
  double worst = 0.0;
  bool pass = true;
  for (auto [index, output] : llvm::enumerate(outputs)) {
    const HostTensor &ref = (*reference)[index];
    double diff = 0.0, norm = 0.0, largest = 0.0;
    int64_t unmatched = 0; // outputs that differ where the reference is infinite or NaN
    int64_t nonFinite = 0; // outputs that are NaN or infinite where the reference is finite
    for (int64_t e = 0; e < output.numElements(); ++e) {
      double want = ref.get(e), got = output.get(e);
      if (!std::isfinite(want)) {
        unmatched += std::isnan(want) ? !std::isnan(got) : got != want;
        continue;
      }
      nonFinite += !std::isfinite(got) && std::isfinite(want);
      largest = std::max(largest, std::fabs(want));
      diff += (got - want) * (got - want);
      norm += want * want;
    }
    double error = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    if (std::isnan(error) || unmatched > 0)
      error = INFINITY;
    worst = std::max(worst, error);
    double bound = errorBound(inputType);
    bool ok = error <= bound;
    pass &= ok;
    llvm::outs() << "output " << signature.results[index].name << ": rel_err=" << error
                 << " (bound " << bound << ")" << (ok ? "" : " FAIL") << "\n";
    if (unmatched > 0)
      llvm::outs() << "note: " << unmatched << " entries of "
                   << signature.results[index].name
                   << " differ where the float64 reference is infinite or NaN (these "
                      "must match exactly)\n";
    // Growing states (gates above 1, a delta rule with |beta k k^T| > 2) overflow f32
    // long before the float64 reference does: say so rather than leave a bare INF.
    if (nonFinite > 0)
      llvm::outs() << "note: " << nonFinite << " entries of "
                   << signature.results[index].name
                   << " are NaN or infinite where the float64 reference is finite (its "
                      "largest magnitude is "
                   << llvm::format("%.3g", largest)
                   << (largest > std::numeric_limits<float>::max()
                           ? ", beyond f32's range: the inputs make the computation "
                             "overflow; give bounded inputs with --inputs=DIR"
                           : "")
                   << ")\n";
  }
  llvm::outs() << "max_rel_err=" << worst << "\n" << (pass ? "PASS" : "FAIL") << "\n";
  return pass ? 0 : kExitError;
}

/// Attention: 4·B·H·N·M·D times the fraction of (b, h, i, j) the mask keeps (exact for
/// small problems, sampled above kExactDensityPairs). Recurrences: 2 FLOPs per element of
/// every vector/matrix product and 1 per element of every element-wise op, per step.
double Runner::flopCount() {
  auto get = [&](const rt::ParamDecl &param, size_t dim) {
    return static_cast<double>(sizeOf(param.logicalDim(dim)));
  };
  if (signature.isAttention) {
    const rt::ParamDecl &q = signature.args[0], &k = signature.args[1];
    double b = get(q, 0), h = get(q, 1), n = get(q, 2), d = get(q, 3), m = get(k, 2);
    double dense = 4.0 * b * h * n * m * d;
    auto attention = mlir::cast<mlir::tmix::AttentionOp>(spec);
    auto masks = attention.getBodyBlock().getOps<mlir::tmix::MaskOp>();
    if (masks.empty())
      return dense;
    mlir::tmix::MaskOp mask = *masks.begin();
    reference::RegionInterpreter interpreter(spec, bindings);
    if (llvm::Error error = interpreter.initialize()) {
      llvm::consumeError(std::move(error));
      return dense;
    }
    int64_t pairs = static_cast<int64_t>(b * h * n * m);
    bool exact = pairs <= kExactDensityPairs;
    int64_t samples = exact ? pairs : kDensitySamples;
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int64_t kept = 0;
    for (int64_t s = 0; s < samples; ++s) {
      int64_t linear = s;
      if (!exact) { // xorshift64: a cheap deterministic sample of the pairs
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        linear = static_cast<int64_t>(state % static_cast<uint64_t>(pairs));
      }
      int64_t j = linear % (int64_t)m, i = linear / (int64_t)m % (int64_t)n;
      int64_t hh = linear / (int64_t)(m * n) % (int64_t)h,
              bb = linear / (int64_t)(m * n * h);
      auto keep = interpreter.runScalar(
          mask.getBody(), {reference::RefValue::ofInt(bb), reference::RefValue::ofInt(hh),
                           reference::RefValue::ofInt(i), reference::RefValue::ofInt(j)});
      if (!keep) {
        llvm::consumeError(keep.takeError());
        return dense;
      }
      kept += keep->asDouble() != 0.0;
    }
    return dense * static_cast<double>(kept) / static_cast<double>(samples);
  }
  auto recurrence = mlir::cast<mlir::tmix::RecurrenceOp>(spec);
  auto stepDims = [&](mlir::Type type) {
    double count = 1;
    if (auto tensor = mlir::dyn_cast<mlir::tmix::SpecTensorType>(type))
      for (mlir::Attribute dim : tensor.getDims())
        count *= sizeOf(dim);
    return count;
  };
  double perStep = 0;
  recurrence.getStepOp().walk([&](mlir::Operation *op) {
    if (mlir::isa<mlir::tmix::VecMatOp, mlir::tmix::MatVecOp>(op))
      perStep += 2 * std::max(stepDims(op->getOperand(0).getType()),
                              stepDims(op->getOperand(1).getType()));
    else if (mlir::isa<mlir::tmix::OuterOp, mlir::tmix::MapOp>(op))
      perStep += stepDims(op->getResult(0).getType());
    else if (mlir::isa<mlir::tmix::DotOp, mlir::tmix::SumOp>(op))
      perStep += 2 * stepDims(op->getOperand(0).getType());
  });
  double points = 1;
  for (mlir::Attribute dim : recurrence.getParallelDims())
    points *= sizeOf(dim);
  rt::DimDecl time;
  time.symbol = recurrence.getTimeSymbol().str();
  return perStep * points * sizeOf(time);
}

} // namespace

std::string tmix::parseSchedule(llvm::StringRef text,
                                mlir::tmix::ScheduleOverride &schedule) {
  // A bare form name stands for form=NAME: --schedule=chunked,chunk=32.
  llvm::SmallVector<llvm::StringRef> items;
  text.split(items, ',', -1, /*KeepEmpty=*/false);
  std::string normalised;
  for (llvm::StringRef item : items) {
    llvm::StringRef word = item.trim();
    if (!normalised.empty())
      normalised += ",";
    normalised += word.contains('=') ? word.str() : "form=" + word.str();
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  if (std::string error = rt::parseNamePairs(normalised, "--schedule", pairs); !error.empty())
    return error;
  for (auto &[key, value] : pairs) {
    if (key == "form") {
      if (value != "auto" && value != "chunked" && value != "recurrent")
        return "--schedule form=" + value + ": expected auto, chunked or recurrent";
      schedule.recurrenceForm = value;
      continue;
    }
    std::optional<mlir::tmix::ScheduleRange> range = mlir::tmix::scheduleRange(key);
    if (!range)
      return "unknown --schedule key '" + key +
             "' (expected block_m, block_n, lanes, vector_registers, warps, stages, "
             "chunk, chunked_min_steps, or a form: auto, chunked, recurrent)";
    // Every value has a range (dialect/ScheduleBounds.h): it reaches tile sizes, unrolled
    // blocks and buffer sizes. Digits past int64 are out of range too.
    int64_t size;
    bool digits = !value.empty() && llvm::all_of(value, llvm::isDigit);
    if (llvm::StringRef(value).getAsInteger(10, size))
      size = digits ? std::numeric_limits<int64_t>::max() : 0;
    if (size <= 0)
      return "--schedule " + key + "=" + value + ": tile sizes are positive integers";
    if (std::string error = mlir::tmix::scheduleRangeError(*range, size); !error.empty())
      return "--schedule " + key + "=" + value + ": " + error;
    if (key == "block_m")
      schedule.blockM = size;
    else if (key == "block_n")
      schedule.blockN = size;
    else if (key == "lanes")
      schedule.lanes = size;
    else if (key == "vector_registers")
      schedule.vectorRegisters = size;
    else if (key == "warps")
      schedule.warps = size;
    else if (key == "stages")
      schedule.stages = size;
    else if (key == "chunk")
      schedule.chunk = size;
    else
      schedule.chunkedMinSteps = size;
  }
  // The lane vectors of a query tile, when both are given (else the schedule pass checks
  // them with the host's lanes).
  if (schedule.blockM > 0 && schedule.lanes > 0)
    if (std::string error = mlir::tmix::rowVectorsError(schedule.blockM, schedule.lanes);
        !error.empty())
      return "--schedule " + error;
  return {};
}

/// --outputs=DIR: one .npy per result, all written or none (an AtomicFileSet: each
/// to a temporary renamed into place once every one is written, so that a failure
/// leaves no partial set and a link at an output path is replaced, not followed).
/// Returns an error or empty.
static std::string writeOutputs(const Runner &runner, std::vector<HostTensor> &outputs) {
  const RunOptions &options = runner.options;
  if (!options.outputs)
    return {};
  rt::AtomicFileSet files;
  if (std::string error = files.createDirectories(*options.outputs); !error.empty())
    return error;
  for (auto [index, output] : llvm::enumerate(outputs)) {
    llvm::SmallString<256> path(*options.outputs);
    llvm::sys::path::append(path, runner.signature.results[index].name + ".npy");
    if (std::string error = files.write(path.str().str(), rt::serializeNpy(output));
        !error.empty())
      return error;
  }
  return files.commit();
}

/// The gradient of what rope reads is held to its dtype's bound times the longest
/// sequence over this many positions (at least 1).
constexpr double kRopeBoundPositions = 16.0;

/// The gradient of the loss that `--grad` draws: seeded apart from the inputs' seeds.
constexpr uint64_t kOutputGradSeed = 0x6772616400000000ull; // "grad"

/// Compares each gradient with the float64 reference (`Runner::check`'s measure)
/// within its bound; returns the exit status.
static int checkGrads(const std::vector<HostTensor> &grads,
                      const std::vector<std::string> &names,
                      const std::vector<double> &bounds,
                      const std::vector<HostTensor> &reference) {
  double worst = 0.0;
  bool pass = true;
  for (auto [index, grad] : llvm::enumerate(grads)) {
    const HostTensor &want = reference[index];
    double diff = 0.0, norm = 0.0;
    int64_t nonFinite = 0;
    for (int64_t e = 0; e < grad.numElements(); ++e) {
      double expected = want.get(e), got = grad.get(e);
      nonFinite += !std::isfinite(got);
      diff += (got - expected) * (got - expected);
      norm += expected * expected;
    }
    double error = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    if (nonFinite > 0 || std::isnan(error))
      error = INFINITY;
    worst = std::max(worst, error);
    double bound = bounds[index];
    bool ok = error <= bound;
    pass &= ok;
    llvm::outs() << "output " << names[index] << ": rel_err=" << error << " (bound "
                 << bound << ")" << (ok ? "" : " FAIL") << "\n";
  }
  llvm::outs() << "max_rel_err=" << worst << "\n" << (pass ? "PASS" : "FAIL") << "\n";
  return pass ? 0 : kExitError;
}

namespace {

/// What `tmixc run --grad` does for either kind of spec: derive its backward kernels in
/// a module of their own, launch them, draw or read the output gradients, write files,
/// time.
class GradRun {
public:
  /// `gpuTarget`: the kernels run on the GPU of that target (empty: on the CPU).
  GradRun(Runner &runner, const cpu::ScheduleOverride &schedule, uint64_t seed,
          unsigned threads, std::string gpuTarget = {})
      : runner(runner), options(runner.options), schedule(schedule), seed(seed),
        pool(threads), gpuTarget(std::move(gpuTarget)) {}

  /// The spec alone in a module of its own, with its derived kernels beside it (for a
  /// GPU, part "query" recomputes dq: docs/training.md).
  std::string derive() {
    mlir::OpBuilder builder(runner.spec->getContext());
    module = mlir::ModuleOp::create(runner.spec->getLoc());
    builder.setInsertionPointToEnd(module->getBody());
    builder.clone(*runner.spec);
    ErrorCollector errors(runner.spec->getContext());
    mlir::PassManager pm(runner.spec->getContext());
    mlir::tmix::DeriveAttentionGradOptions attentionOptions;
    attentionOptions.recomputeDq = !gpuTarget.empty();
    pm.addPass(mlir::tmix::createDeriveAttentionGrad(attentionOptions));
    pm.addPass(mlir::tmix::createDeriveRecurrenceGrad());
    if (mlir::failed(pm.run(*module)))
      return "cannot derive the backward of '" + runner.signature.name + "': " + errors.str();
    return {};
  }

  /// Whether the kernels run on a GPU.
  bool onGpu() const { return !gpuTarget.empty(); }

  Operation *lookup(const std::string &name) {
    return mlir::SymbolTable::lookupSymbolIn(*module, name);
  }

  std::string launch(Operation *spec, rt::Bindings &bindings,
                     std::vector<HostTensor> &outputs) {
    // The outputs of the last launch when they fit (a kernel writes every element of
    // its outputs): --bench times the kernels, not the allocation and zeroing of
    // their outputs.
    const std::vector<rt::ParamDecl> &results = signatureOf(spec).results;
    bool fits = outputs.size() == results.size();
    for (size_t index = 0; fits && index < results.size(); ++index)
      fits = outputs[index].dtype() == results[index].dtype &&
             outputs[index].shape() == rt::shapeOf(results[index], bindings.sizes);
    if (!fits) {
      outputs.clear();
      for (const rt::ParamDecl &result : results)
        outputs.emplace_back(result.dtype, rt::shapeOf(result, bindings.sizes));
    }
    // On a GPU: compiled for the bound head dims, run, and the outputs copied back.
    if (!gpuTarget.empty())
      return runOnGpu(spec, gpuTarget, bindings, schedule, outputs);
    auto kernel = cache.getOrCompile(spec, schedule);
    if (!kernel)
      return "compiling '" + mlir::SymbolTable::getSymbolName(spec).str() +
             "' failed: " + llvm::toString(kernel.takeError());
    return rt::launchOnCpu((*kernel)->program, (*kernel)->manifest, bindings, outputs, pool);
  }

  /// The gradient of the forward's output `result` (`output`), named `name` among the
  /// backward's arguments: DIR/<name>.npy under --inputs when there is one, else random.
  std::string outputGradient(const std::string &name, unsigned result,
                             const HostTensor &output, HostTensor &gradient) {
    gradient = HostTensor(output.dtype(), output.shape());
    llvm::SmallString<256> path(options.inputs.value_or(""));
    llvm::sys::path::append(path, name + ".npy");
    if (!options.inputs || !llvm::sys::fs::exists(path)) {
      rt::fillRandom(gradient, seed + kOutputGradSeed + result, -1.0, 1.0);
      return {};
    }
    HostTensor loaded;
    if (std::string error = rt::readNpy(path.str().str(), loaded); !error.empty())
      return error;
    if (!rt::isFloat(loaded.dtype()) || loaded.shape() != gradient.shape())
      return "'" + path.str().str() + "' must hold floats of the shape of '" +
             runner.signature.results[result].name + "', [" +
             llvm::join(llvm::map_range(gradient.shape(),
                                        [](int64_t n) { return std::to_string(n); }),
                        ", ") +
             "]";
    gradient = loaded.convertedTo(output.dtype());
    return {};
  }

  /// --outputs=DIR: every (name, tensor) of `files`, then each gradient under its name,
  /// as DIR/<name>.npy, all or none.
  std::string write(std::vector<std::pair<std::string, const HostTensor *>> files,
                    llvm::ArrayRef<std::string> names, llvm::ArrayRef<HostTensor> grads) {
    if (!options.outputs)
      return {};
    for (auto [name, grad] : llvm::zip(names, grads))
      files.push_back({name, &grad});
    rt::AtomicFileSet set;
    if (std::string error = set.createDirectories(*options.outputs); !error.empty())
      return error;
    for (auto &[file, tensor] : files) {
      llvm::SmallString<256> path(*options.outputs);
      llvm::sys::path::append(path, file + ".npy");
      if (std::string error = set.write(path.str().str(), rt::serializeNpy(*tensor));
          !error.empty())
        return error;
    }
    return set.commit();
  }

  /// --bench: the medians of the forward and the backward, and their ratio.
  void bench(llvm::function_ref<void()> forward, llvm::function_ref<void()> backward,
             double backwardFlops) {
    auto median = [&](llvm::function_ref<void()> run) {
      std::vector<double> times;
      for (int index = 0; index < kBenchRuns; ++index) {
        auto start = std::chrono::steady_clock::now();
        run();
        times.push_back(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count());
      }
      std::sort(times.begin(), times.end());
      return times[times.size() / 2];
    };
    double forwardMs = median(forward), backwardMs = median(backward);
    llvm::outs() << llvm::format("forward_ms=%.3f backward_ms=%.3f ratio=%.2f\n", forwardMs,
                                 backwardMs, backwardMs / forwardMs)
                 << llvm::format("time_ms=%.3f gflops=%.2f\n", backwardMs,
                                 backwardFlops / (backwardMs * 1e6));
  }

  Runner &runner;
  const RunOptions &options;

private:
  const cpu::ScheduleOverride &schedule;
  uint64_t seed;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  cpu::KernelCache cache;
  rt::ThreadPool pool;
  std::string gpuTarget;
};

} // namespace

/// `tmixc run --grad` of an attention spec: the forward with lse, then the derived
/// backward kernels on a random gradient of o (docs/training.md).
static int runAttentionGrad(GradRun &run) {
  Runner &runner = run.runner;
  const RunOptions &options = run.options;
  auto attention = mlir::cast<mlir::tmix::AttentionOp>(runner.spec);
  std::string name = runner.signature.name;
  Operation *forward =
      run.lookup(attention.getNumSpecResults() == 2 ? name : name + "_forward");
  // dk, dv and dq's partial sums per key split (and those of the small params, which
  // the key split sums as it does dq's); dq from those; and the gradients of the
  // score's and sink's float extra arguments when they read any.
  Operation *keyValuePart = run.lookup(name + "_grad_kv");
  Operation *queryPart = run.lookup(name + "_grad_q");
  Operation *paramsPart = run.lookup(name + "_grad_params");
  std::vector<unsigned> paramArgs;
  if (paramsPart)
    for (int64_t argument :
         mlir::cast<mlir::tmix::AttentionGradOp>(paramsPart).getParamsAttr().asArrayRef())
      paramArgs.push_back(static_cast<unsigned>(argument));

  // The forward: o and lse.
  std::vector<HostTensor> forwardOutputs;
  if (std::string error = run.launch(forward, runner.bindings, forwardOutputs);
      !error.empty())
    return fail(error);
  // d_o (and d_lse, when the spec's outputs have lse: its loss may read it).
  const std::vector<rt::ParamDecl> &partArgs = signatureOf(keyValuePart).args;
  size_t outputArg = runner.signature.args.size(); // o, lse, d_o, d_lse follow
  bool lseGrad = attention.getNumSpecResults() == 2;
  HostTensor outputGrad, lseGradient;
  if (std::string error =
          run.outputGradient(partArgs[outputArg + 2].name, 0, forwardOutputs[0], outputGrad);
      !error.empty())
    return fail(error);
  if (lseGrad)
    if (std::string error = run.outputGradient(partArgs[outputArg + 3].name, 1,
                                               forwardOutputs[1], lseGradient);
        !error.empty())
      return fail(error);

  // The backward: the forward's arguments, then o, lse, d_o (and d_lse).
  rt::Bindings gradBindings = runner.bindings;
  gradBindings.tensors.insert(gradBindings.tensors.end(),
                              {forwardOutputs[0], forwardOutputs[1], outputGrad});
  if (lseGrad)
    gradBindings.tensors.push_back(lseGradient);
  gradBindings.scalars.resize(gradBindings.tensors.size(), 0.0);
  // The query part takes d_q_partial after them (unless it recomputes dq: a GPU's),
  // the params part its split params' partials: slots moved in and out per run.
  bool recomputeDq = mlir::cast<mlir::tmix::AttentionGradOp>(queryPart).getRecomputeDq();
  rt::Bindings queryBindings = gradBindings;
  if (!recomputeDq)
    queryBindings.tensors.emplace_back();
  queryBindings.scalars.resize(queryBindings.tensors.size(), 0.0);
  size_t numParamPartials =
      paramsPart
          ? mlir::cast<mlir::tmix::AttentionGradOp>(paramsPart).getSplitParams().size()
          : 0;
  bool ropeRows =
      paramsPart && mlir::cast<mlir::tmix::AttentionGradOp>(paramsPart).getRopeRows();
  rt::Bindings paramsBindings = gradBindings;
  paramsBindings.tensors.resize(gradBindings.tensors.size() + numParamPartials +
                                (ropeRows ? 2 : 0));
  paramsBindings.scalars.resize(paramsBindings.tensors.size(), 0.0);
  // The gradients in argument order: dq, dk, dv, then the params'.
  std::vector<HostTensor> grads, keyValueOutputs, queryOutputs, partOutputs;
  // What part "params" takes after them, swapped in and out per run: the split params'
  // partials (part "key_value"'s results after d_q_partial) or, with rope_rows, the
  // rows' terms of rope's theta (part "key_value"'s after dv, part "query"'s after dq).
  auto swapParamsInputs = [&] {
    size_t at = gradBindings.tensors.size();
    for (size_t index = 0; index < numParamPartials; ++index)
      std::swap(paramsBindings.tensors[at++], keyValueOutputs[3 + index]);
    if (ropeRows) {
      std::swap(paramsBindings.tensors[at++], keyValueOutputs[2]);
      std::swap(paramsBindings.tensors[at++], queryOutputs[1]);
    }
  };
  std::vector<std::string> names;
  auto backward = [&]() -> std::string {
    grads.clear();
    if (std::string error = run.launch(keyValuePart, gradBindings, keyValueOutputs);
        !error.empty())
      return error;
    if (!recomputeDq)
      std::swap(queryBindings.tensors.back(), keyValueOutputs[2]);
    std::string error = run.launch(queryPart, queryBindings, queryOutputs);
    if (!recomputeDq)
      std::swap(queryBindings.tensors.back(), keyValueOutputs[2]);
    if (!error.empty())
      return error;
    if (paramsPart) {
      swapParamsInputs();
      error = run.launch(paramsPart, paramsBindings, partOutputs);
      swapParamsInputs();
      if (!error.empty())
        return error;
    }
    grads = {std::move(queryOutputs[0]), std::move(keyValueOutputs[0]),
             std::move(keyValueOutputs[1])};
    if (paramsPart)
      grads.insert(grads.end(), partOutputs.begin(), partOutputs.end());
    return {};
  };
  if (std::string error = backward(); !error.empty())
    return fail(error);
  names.push_back(signatureOf(queryPart).results[0].name);
  for (unsigned result : {0u, 1u})
    names.push_back(signatureOf(keyValuePart).results[result].name);
  if (paramsPart)
    for (const rt::ParamDecl &result : signatureOf(paramsPart).results)
      names.push_back(result.name);

  // o, lse and d_o under the backward's names for them, then the gradients.
  std::vector<std::pair<std::string, const HostTensor *>> written = {
      {partArgs[outputArg].name, &forwardOutputs[0]},
      {partArgs[outputArg + 1].name, &forwardOutputs[1]},
      {partArgs[outputArg + 2].name, &outputGrad}};
  if (lseGrad)
    written.push_back({partArgs[outputArg + 3].name, &lseGradient});
  if (std::string error = run.write(written, names, grads); !error.empty())
    return fail(error);

  int status = 0;
  if (options.check) {
    auto reference =
        evaluateReferenceGrad(runner.spec, runner.bindings, outputGrad, paramArgs,
                              lseGrad ? &lseGradient : nullptr);
    if (!reference)
      return fail("reference evaluation failed: " + llvm::toString(reference.takeError()));
    // The GPU kernels compute f32 specs in bf16 (docs/gpu.md): bf16's bound applies.
    auto boundOf = [&](unsigned argument) {
      DType dtype = runner.signature.args[argument].dtype;
      return errorBound(run.onGpu() && dtype == DType::F32 ? DType::BF16 : dtype);
    };
    std::vector<double> bounds;
    for (unsigned argument : {0u, 1u, 2u})
      bounds.push_back(boundOf(argument));
    // A param's gradient is computed in f32 from inputs of the spec's dtype. What rope
    // reads sums its terms over every rotated row, each weighted by its angle: an f32
    // angle at position p is off by about p ulps, so its bound grows with the longest
    // sequence (docs/training.md). On the GPUs each row's term carries the error of
    // 16-bit products, and the terms of q's rows and k's nearly cancel: the bound grows
    // by that cancellation too, sum |term| / |sum of the terms| over the rows' terms.
    bounds.resize(grads.size(), boundOf(0));
    double cancellation = 1.0;
    if (ropeRows) {
      double magnitude = 0.0, sum = 0.0;
      for (const HostTensor *rows : {&keyValueOutputs[2], &queryOutputs[1]})
        for (int64_t e = 0; e < rows->numElements(); ++e) {
          magnitude += std::abs(rows->get(e));
          sum += rows->get(e);
        }
      cancellation = std::max(1.0, magnitude / std::max(std::abs(sum), 1e-30));
      llvm::outs() << "rope rows' cancellation=" << cancellation << "\n";
    }
    llvm::SmallDenseSet<unsigned> ropeReads;
    for (Operation *part : {keyValuePart, paramsPart})
      if (part)
        part->walk([&](mlir::tmix::RopeGradOp rope) {
          rope.walk([&](mlir::tmix::AccumulateOp accumulate) {
            ropeReads.insert(accumulate.getTargetArgument());
          });
        });
    auto qDims = mlir::cast<mlir::tmix::SpecTensorType>(attention.getSpecArgTypes()[0]);
    auto kDims = mlir::cast<mlir::tmix::SpecTensorType>(attention.getSpecArgTypes()[1]);
    double longest = static_cast<double>(
        std::max(runner.sizeOf(qDims.getDims()[2]), runner.sizeOf(kDims.getDims()[2])));
    for (auto [position, argument] : llvm::enumerate(paramArgs))
      if (ropeReads.contains(argument))
        bounds[3 + position] *=
            std::max(1.0, longest / kRopeBoundPositions) * cancellation;
    status = checkGrads(grads, names, bounds, *reference);
  }
  if (options.bench)
    run.bench([&] { (void)run.launch(forward, runner.bindings, forwardOutputs); },
              [&] { (void)backward(); }, 2.5 * runner.flopCount());
  return status;
}

/// `tmixc run --grad` of a recurrence: the forward, then its adjoint X_grad on random
/// gradients of every output; the gradients shared by several parallel points summed
/// (rt::reduceSharedGradient), then checked against central differences of the float64
/// reference (docs/training.md).
static int runRecurrenceGrad(GradRun &run) {
  Runner &runner = run.runner;
  const RunOptions &options = run.options;
  std::string name = runner.signature.name;
  Operation *forward = run.lookup(name), *adjoint = run.lookup(name + "_grad");
  rt::SpecSignature adjointSignature = signatureOf(adjoint);

  std::vector<HostTensor> forwardOutputs;
  if (std::string error = run.launch(forward, runner.bindings, forwardOutputs);
      !error.empty())
    return fail(error);
  size_t numArgs = runner.signature.args.size();
  std::vector<HostTensor> outputGrads(forwardOutputs.size());
  for (unsigned result = 0; result < forwardOutputs.size(); ++result)
    if (std::string error =
            run.outputGradient(adjointSignature.args[numArgs + result].name, result,
                               forwardOutputs[result], outputGrads[result]);
        !error.empty())
      return fail(error);

  // The adjoint: the forward's arguments, then the gradients of its outputs.
  rt::Bindings gradBindings = runner.bindings;
  for (const HostTensor &gradient : outputGrads)
    gradBindings.tensors.push_back(gradient);
  gradBindings.scalars.resize(gradBindings.tensors.size(), 0.0);
  // Each result d_<x> is the gradient of argument x.
  std::vector<unsigned> arguments;
  std::vector<std::string> names;
  for (const rt::ParamDecl &result : adjointSignature.results) {
    size_t argument = rt::gradientArgument(runner.signature, result);
    if (argument == runner.signature.args.size())
      return fail("internal error: the backward's result '" + result.name +
                  "' is the gradient of no argument");
    arguments.push_back(static_cast<unsigned>(argument));
    names.push_back(result.name);
  }
  std::vector<HostTensor> partials, grads;
  auto backward = [&]() -> std::string {
    if (std::string error = run.launch(adjoint, gradBindings, partials); !error.empty())
      return error;
    grads.resize(partials.size());
    for (auto [index, partial] : llvm::enumerate(partials)) {
      const rt::ParamDecl &result = adjointSignature.results[index];
      // A gradient that shares nothing is the program's result itself (no copy; the
      // last run's buffer goes back for the next); the GPUs sum the others on the
      // device (runtime/cuda/GpuManifest.h, `gradients summed`).
      if (run.onGpu() ||
          (partial.dtype() == rt::DType::F32 &&
           rt::sharesNothing(runner.signature.args[arguments[index]], result))) {
        std::swap(grads[index], partial);
        continue;
      }
      if (std::string error =
              rt::reduceSharedGradient(runner.signature, arguments[index], result,
                                       partial, gradBindings.sizes, grads[index]);
          !error.empty())
        return error;
    }
    return {};
  };
  if (std::string error = backward(); !error.empty())
    return fail(error);

  std::vector<std::pair<std::string, const HostTensor *>> written;
  for (unsigned result = 0; result < forwardOutputs.size(); ++result) {
    written.push_back({runner.signature.results[result].name, &forwardOutputs[result]});
    written.push_back({adjointSignature.args[numArgs + result].name, &outputGrads[result]});
  }
  if (std::string error = run.write(written, names, grads); !error.empty())
    return fail(error);

  int status = 0;
  if (options.check) {
    auto reference = evaluateReferenceRecurrenceGrad(runner.spec, runner.bindings,
                                                     outputGrads, arguments);
    if (!reference)
      return fail("reference evaluation failed: " + llvm::toString(reference.takeError()));
    // Computed in f32 from inputs of the spec's dtypes: the bound of the outputs'.
    std::vector<double> bounds(grads.size(),
                               errorBound(runner.signature.results[0].dtype));
    status = checkGrads(grads, names, bounds, *reference);
  }
  if (options.bench)
    run.bench([&] { (void)run.launch(forward, runner.bindings, forwardOutputs); },
              [&] { (void)backward(); }, 3.0 * runner.flopCount());
  return status;
}

int tmix::runSpec(mlir::ModuleOp module, const RunOptions &options) {
  std::string target = options.target.value_or(mlir::tmix::kCpuTarget.str());
  bool onGpu = nvidia::isGpuTarget(target);
  if (target != mlir::tmix::kCpuTarget && !onGpu)
    return fail("unknown target '" + target + "' (expected cpu, sm_80 or sm_90a)");
  if (onGpu && options.bench)
    return fail("--bench times the CPU kernels; GPU timings come from bench/gpu");
  Runner runner(options);
  runner.onGpu = onGpu;
  llvm::SmallVector<Operation *> specs;
  for (Operation &op : *module.getBody())
    specs.push_back(&op);
  if (options.kernel) {
    runner.spec = mlir::SymbolTable::lookupSymbolIn(module, *options.kernel);
    if (!runner.spec)
      return fail("no spec named '" + *options.kernel + "' in '" + options.file + "'");
  } else if (specs.size() == 1) {
    runner.spec = specs.front();
  } else {
    return fail("'" + options.file + "' holds " + llvm::Twine(specs.size()) +
                " specs: choose one with --kernel=NAME");
  }
  runner.signature = signatureOf(runner.spec);

  uint64_t seed = kDefaultSeed;
  if (options.seed && llvm::StringRef(*options.seed).getAsInteger(10, seed))
    return fail("--seed=" + *options.seed + " is not a non-negative integer");
  cpu::ScheduleOverride schedule;
  if (options.schedule)
    if (std::string error = parseSchedule(*options.schedule, schedule); !error.empty())
      return fail(error);

  for (std::string error :
       {runner.bindSizesFromOption(), runner.bindScalars(), runner.bindTensors(seed)})
    if (!error.empty())
      return fail(error);
  unsigned threads = 0; // all cores
  if (options.threads) {
    long long count;
    if (llvm::StringRef(*options.threads).getAsInteger(10, count) || count < 1 ||
        count > 4096)
      return fail("--threads=" + *options.threads + ": a thread count from 1 to 4096");
    threads = static_cast<unsigned>(count);
  }
  if (options.grad) {
    bool attention = mlir::isa<mlir::tmix::AttentionOp>(runner.spec);
    GradRun run(runner, schedule, seed, threads, onGpu ? target : std::string());
    if (std::string error = run.derive(); !error.empty())
      return fail(error);
    if (auto adjoint = mlir::dyn_cast_or_null<mlir::tmix::RecurrenceOp>(
            run.lookup(runner.signature.name + "_grad"));
        onGpu && adjoint)
      if (std::string limit = mlir::tmix::gpuRecurrenceGradLimit(
              adjoint,
              mlir::cast<mlir::tmix::RecurrenceOp>(run.lookup(runner.signature.name)));
          !limit.empty()) {
        llvm::errs() << "tmixc: --grad with --target=" << target << ": " << limit << "\n";
        return kExitNotImplemented;
      }
    if (auto params = mlir::dyn_cast_or_null<mlir::tmix::AttentionGradOp>(
            run.lookup(runner.signature.name + "_grad_params"));
        onGpu && params)
      if (std::string limit = mlir::tmix::gpuParamsPartLimit(params); !limit.empty()) {
        llvm::errs() << "tmixc: --grad with --target=" << target << ": " << limit << "\n";
        return kExitNotImplemented;
      }
    return attention ? runAttentionGrad(run) : runRecurrenceGrad(run);
  }
  std::vector<HostTensor> outputs;
  if (std::string error = runner.allocateOutputs(outputs); !error.empty())
    return fail(error);

  if (onGpu) {
    if (std::string error =
            runOnGpu(runner.spec, target, runner.bindings, schedule, outputs);
        !error.empty())
      return fail(error);
    if (std::string error = writeOutputs(runner, outputs); !error.empty())
      return fail(error);
    return options.check ? runner.check(outputs) : 0;
  }
  cpu::KernelCache cache;
  auto kernel = cache.getOrCompile(runner.spec, schedule);
  if (!kernel)
    return fail("compiling '" + runner.signature.name +
                "' failed: " + llvm::toString(kernel.takeError()));
  rt::ThreadPool pool(threads);
  if (std::string error = rt::launchOnCpu((*kernel)->program, (*kernel)->manifest,
                                          runner.bindings, outputs, pool);
      !error.empty())
    return fail(error);

  if (std::string error = writeOutputs(runner, outputs); !error.empty())
    return fail(error);

  int status = 0;
  if (options.check)
    status = runner.check(outputs);

  if (options.bench) {
    std::vector<double> times;
    for (int run = 0; run < kBenchRuns; ++run) {
      auto start = std::chrono::steady_clock::now();
      rt::launchOnCpu((*kernel)->program, (*kernel)->manifest, runner.bindings, outputs,
                      pool);
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    double gflops = runner.flopCount() / (median * 1e6);
    llvm::outs() << llvm::format("time_ms=%.3f gflops=%.2f\n", median, gflops);
  }
  return status;
}
