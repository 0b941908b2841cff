//===- ReferenceAttention.cpp - Reference softmax attention ---------------===//
//
// DSL.md's attention formula with plain loops in double: for every (b, h, i), the
// scores of the kept keys (rope, scale, score), a max-subtracted softmax with the sink
// logit in the denominator, o and lse. NaN propagates: a row with a NaN among its kept
// scores (or a NaN sink) gives NaN in o and lse; a masked key's scores are never read.
//
//===----------------------------------------------------------------------===//

#include "codegen/reference/SpecEvaluators.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace ::tmix::reference;
namespace rt = ::tmix::rt;

namespace {

/// The statement ops of an attention body (null when absent).
struct Statements {
  mlir::tmix::ScaleOp scale;
  mlir::tmix::MaskOp mask;
  mlir::tmix::ScoreOp score;
  mlir::tmix::SinkOp sink;
  mlir::tmix::RopeOp rope;
};

Statements collectStatements(mlir::tmix::AttentionOp op) {
  Statements statements;
  for (Operation &statement : op.getBodyBlock()) {
    if (auto scale = llvm::dyn_cast<mlir::tmix::ScaleOp>(statement))
      statements.scale = scale;
    else if (auto mask = llvm::dyn_cast<mlir::tmix::MaskOp>(statement))
      statements.mask = mask;
    else if (auto score = llvm::dyn_cast<mlir::tmix::ScoreOp>(statement))
      statements.score = score;
    else if (auto sink = llvm::dyn_cast<mlir::tmix::SinkOp>(statement))
      statements.sink = sink;
    else if (auto rope = llvm::dyn_cast<mlir::tmix::RopeOp>(statement))
      statements.rope = rope;
  }
  return statements;
}

/// Row `[a, b, c, :]` of a rank-4 tensor, as doubles.
std::vector<double> row(const rt::HostTensor &tensor, int64_t a, int64_t b, int64_t c) {
  const std::vector<int64_t> &shape = tensor.shape();
  int64_t base = ((a * shape[1] + b) * shape[2] + c) * shape[3];
  std::vector<double> values(shape[3]);
  for (int64_t d = 0; d < shape[3]; ++d)
    values[d] = tensor.get(base + d);
  return values;
}

/// Rotary embedding at position `pos`, half-split convention (DSL.md): for p < D/2,
/// angle = pos * theta^(-2p/D), out[p] = a cos - c sin, out[p + D/2] = c cos + a sin,
/// with a = x[p], c = x[p + D/2].
std::vector<double> rotate(const std::vector<double> &x, int64_t pos, double theta) {
  int64_t dim = static_cast<int64_t>(x.size()), half = dim / 2;
  std::vector<double> out(dim);
  for (int64_t p = 0; p < half; ++p) {
    double angle =
        static_cast<double>(pos) *
        std::pow(theta, -2.0 * static_cast<double>(p) / static_cast<double>(dim));
    double a = x[p], c = x[p + half];
    out[p] = a * std::cos(angle) - c * std::sin(angle);
    out[p + half] = c * std::cos(angle) + a * std::sin(angle);
  }
  return out;
}

double dot(const std::vector<double> &a, const std::vector<double> &b) {
  double sum = 0.0;
  for (size_t d = 0; d < a.size(); ++d)
    sum += a[d] * b[d];
  return sum;
}

/// A statement's scalar value as a double, checking that it is one.
llvm::Expected<double> runFloat(RegionInterpreter &interpreter, Region &region,
                                llvm::ArrayRef<RefValue> arguments) {
  auto value = interpreter.runScalar(region, arguments);
  if (!value)
    return value.takeError();
  return value->asDouble();
}

/// The scale (the statement's, or 1/sqrt(D)) and rope's theta (when the spec has rope).
struct ScaleAndRope {
  double scale;
  std::optional<double> theta;
};

llvm::Expected<ScaleAndRope> readScaleAndRope(RegionInterpreter &interpreter,
                                              Statements statements,
                                              int64_t headDim) {
  ScaleAndRope result{1.0 / std::sqrt(static_cast<double>(headDim)), std::nullopt};
  if (statements.scale) {
    auto value = runFloat(interpreter, statements.scale.getBody(), {});
    if (!value)
      return value.takeError();
    result.scale = *value;
  }
  if (statements.rope) {
    if (headDim % 2 != 0)
      return makeError("rope needs an even head dim, got " + llvm::Twine(headDim));
    auto value = runFloat(interpreter, statements.rope.getBody(), {});
    if (!value)
      return value.takeError();
    result.theta = *value;
  }
  return result;
}

/// The keys that query row (b, h, i) keeps, with each kept key's scaled score s and
/// its score statement's value.
struct RowScores {
  std::vector<int64_t> kept;
  std::vector<double> scaled, scores;
};

llvm::Expected<RowScores> scoreRow(RegionInterpreter &interpreter,
                                   Statements statements, double scale, int64_t b,
                                   int64_t h, int64_t i, const std::vector<double> &query,
                                   const std::vector<std::vector<double>> &keyRows) {
  RowScores row;
  for (int64_t j = 0; j < static_cast<int64_t>(keyRows.size()); ++j) {
    llvm::SmallVector<RefValue, 5> indices = {RefValue::ofInt(b), RefValue::ofInt(h),
                                              RefValue::ofInt(i), RefValue::ofInt(j)};
    if (statements.mask) {
      auto keep = interpreter.runScalar(statements.mask.getBody(), indices);
      if (!keep)
        return keep.takeError();
      if (keep->kind != RefValue::Kind::Bool)
        return makeError("the mask must yield an i1");
      if (!keep->b)
        continue;
    }
    double s = scale * dot(query, keyRows[j]), score = s;
    if (statements.score) {
      indices.push_back(RefValue::ofFloat(s));
      auto value = runFloat(interpreter, statements.score.getBody(), indices);
      if (!value)
        return value.takeError();
      score = *value;
    }
    row.kept.push_back(j);
    row.scaled.push_back(s);
    row.scores.push_back(score);
  }
  return row;
}

/// The sizes of a call (q [B, H, N, D], k [B, HK, M, D], v [B, HK, M, DV]) and the
/// statements with the scale and rope's theta, as the forward and its gradient read them.
struct AttentionCall {
  int64_t batch, heads, queries, headDim, kvHeads, keys, valueDim, group;
  Statements statements;
  ScaleAndRope scaleAndRope;
};

llvm::Expected<AttentionCall> readCall(mlir::tmix::AttentionOp op,
                                       RegionInterpreter &interpreter) {
  const rt::HostTensor &q = interpreter.argumentTensor(0);
  const rt::HostTensor &k = interpreter.argumentTensor(1);
  const rt::HostTensor &v = interpreter.argumentTensor(2);
  // Shapes were checked against the signature, so q/k/v agree where the spec says so.
  AttentionCall call{q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3],
                     k.shape()[1], k.shape()[2], v.shape()[3], 0,
                     collectStatements(op), {}};
  if (call.kvHeads <= 0 || call.heads % call.kvHeads != 0)
    return makeError("the query head count " + llvm::Twine(call.heads) +
                     " is not a multiple of the key/value head count " +
                     llvm::Twine(call.kvHeads));
  call.group = call.heads / call.kvHeads;
  auto scaleAndRope = readScaleAndRope(interpreter, call.statements, call.headDim);
  if (!scaleAndRope)
    return scaleAndRope.takeError();
  call.scaleAndRope = *scaleAndRope;
  return call;
}

} // namespace

namespace tmix::reference {

llvm::Expected<std::vector<rt::HostTensor>>
evaluateAttention(mlir::tmix::AttentionOp op, RegionInterpreter &interpreter) {
  const rt::HostTensor &q = interpreter.argumentTensor(0);
  const rt::HostTensor &k = interpreter.argumentTensor(1);
  const rt::HostTensor &v = interpreter.argumentTensor(2);
  auto call = readCall(op, interpreter);
  if (!call)
    return call.takeError();
  auto [batch, heads, queries, headDim, kvHeads, keys, valueDim, group, statements,
        scaleAndRope] = *call;
  double scale = scaleAndRope.scale;
  std::optional<double> theta = scaleAndRope.theta;

  std::vector<rt::HostTensor> outputs;
  for (Type type : op.getSpecResultTypes()) {
    auto shape = interpreter.resolveShape(llvm::cast<mlir::tmix::SpecTensorType>(type));
    if (!shape)
      return shape.takeError();
    outputs.emplace_back(rt::DType::F64, *shape);
  }
  rt::HostTensor &o = outputs[0];
  rt::HostTensor *lse = outputs.size() > 1 ? &outputs[1] : nullptr;
  if (o.shape() != std::vector<int64_t>{batch, heads, queries, valueDim} ||
      (lse && lse->shape() != std::vector<int64_t>{batch, heads, queries}))
    return makeError("the outputs' shapes do not match q and v");
  const double negInf = -std::numeric_limits<double>::infinity();

  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      int64_t hk = h / group; // grouped-query attention: h / (H / HK)
      std::optional<double> sink;
      if (statements.sink) {
        auto value = runFloat(interpreter, statements.sink.getBody(),
                              {RefValue::ofInt(b), RefValue::ofInt(h)});
        if (!value)
          return value.takeError();
        sink = *value;
      }
      std::vector<std::vector<double>> keyRows(keys);
      for (int64_t j = 0; j < keys; ++j) {
        keyRows[j] = row(k, b, hk, j);
        if (theta)
          keyRows[j] = rotate(keyRows[j], j, *theta);
      }

      for (int64_t i = 0; i < queries; ++i) {
        std::vector<double> query = row(q, b, h, i);
        if (theta)
          query = rotate(query, i, *theta);

        // Scores of the kept keys.
        auto scored = scoreRow(interpreter, statements, scale, b, h, i, query, keyRows);
        if (!scored)
          return scored.takeError();
        const std::vector<int64_t> &kept = scored->kept;
        const std::vector<double> &scores = scored->scores;

        // Softmax with the max subtracted; the sink joins the denominator and lse only.
        // A NaN score (or sink) is the max, so that o and lse are NaN on the rows that
        // see it, as in PyTorch; a max that skipped it made an all-NaN row look empty.
        double maxScore = sink ? *sink : negInf;
        for (double s : scores)
          if (s > maxScore || std::isnan(s))
            maxScore = std::isnan(maxScore) ? maxScore : s;
        int64_t outBase = ((b * heads + h) * queries + i) * valueDim;
        int64_t lseIndex = (b * heads + h) * queries + i;
        if (maxScore == negInf) {
          // No kept key (and no finite sink or score): o = 0, lse = -inf, never NaN.
          for (int64_t d = 0; d < valueDim; ++d)
            o.set(outBase + d, 0.0);
          if (lse)
            lse->set(lseIndex, negInf);
          continue;
        }
        double denominator = sink ? std::exp(*sink - maxScore) : 0.0;
        std::vector<double> acc(valueDim, 0.0);
        for (size_t n = 0; n < kept.size(); ++n) {
          double weight = std::exp(scores[n] - maxScore);
          denominator += weight;
          std::vector<double> value = row(v, b, hk, kept[n]);
          for (int64_t d = 0; d < valueDim; ++d)
            acc[d] += weight * value[d];
        }
        for (int64_t d = 0; d < valueDim; ++d)
          o.set(outBase + d, acc[d] / denominator);
        if (lse)
          lse->set(lseIndex, maxScore + std::log(denominator));
      }
    }
  }
  return outputs;
}

} // namespace tmix::reference

namespace tmix::reference {

/// The derivative of the score statement at `s` by a central difference in double:
/// the oracle does not share the derivation of the compiled path (RegionGradient.h).
/// Its error, O(h^2) from the truncation and O(eps / h) from rounding, is ~1e-10
/// relative at h = 1e-5 (1 + |s|): far below what an f32 gradient can resolve.
static llvm::Expected<double> scoreDerivative(RegionInterpreter &interpreter,
                                              Region &score,
                                              llvm::SmallVector<RefValue, 5> indices,
                                              double s) {
  double h = 1e-5 * (1.0 + std::fabs(s));
  indices.push_back(RefValue::ofFloat(s + h));
  auto up = runFloat(interpreter, score, indices);
  if (!up)
    return up.takeError();
  indices.back() = RefValue::ofFloat(s - h);
  auto down = runFloat(interpreter, score, indices);
  if (!down)
    return down.takeError();
  return (*up - *down) / (2.0 * h);
}

llvm::Expected<std::vector<rt::HostTensor>>
evaluateAttentionGrad(mlir::tmix::AttentionOp op, RegionInterpreter &interpreter,
                      const rt::HostTensor &outputGrad, const rt::HostTensor *lseGrad) {
  const rt::HostTensor &q = interpreter.argumentTensor(0);
  const rt::HostTensor &k = interpreter.argumentTensor(1);
  const rt::HostTensor &v = interpreter.argumentTensor(2);
  auto call = readCall(op, interpreter);
  if (!call)
    return call.takeError();
  auto [batch, heads, queries, headDim, kvHeads, keys, valueDim, group, statements,
        scaleAndRope] = *call;
  if (outputGrad.shape() != std::vector<int64_t>{batch, heads, queries, valueDim})
    return makeError("the output's gradient does not have o's shape");
  if (lseGrad && lseGrad->shape() != std::vector<int64_t>{batch, heads, queries})
    return makeError("the lse's gradient does not have lse's shape");
  double scale = scaleAndRope.scale;
  std::optional<double> theta = scaleAndRope.theta;
  // The transpose of the rotation at `pos`: the rotation by the opposite angle, which
  // rotate() gives for the position -pos.
  auto rotateBack = [&](const std::vector<double> &x, int64_t pos) {
    return theta ? rotate(x, -pos, *theta) : x;
  };

  std::vector<rt::HostTensor> grads;
  grads.emplace_back(rt::DType::F64, q.shape());
  grads.emplace_back(rt::DType::F64, k.shape());
  grads.emplace_back(rt::DType::F64, v.shape());
  rt::HostTensor &dq = grads[0], &dk = grads[1], &dv = grads[2];
  const double negInf = -std::numeric_limits<double>::infinity();

  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t hk = 0; hk < kvHeads; ++hk) {
      std::vector<std::vector<double>> keyRows(keys), valueRows(keys);
      for (int64_t j = 0; j < keys; ++j) {
        keyRows[j] = row(k, b, hk, j);
        if (theta)
          keyRows[j] = rotate(keyRows[j], j, *theta);
        valueRows[j] = row(v, b, hk, j);
      }
      // dk in the rotated frame, summed over the group's query heads.
      std::vector<std::vector<double>> keyGrad(keys, std::vector<double>(headDim, 0.0));
      std::vector<std::vector<double>> valueGrad(keys,
                                                 std::vector<double>(valueDim, 0.0));
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        std::optional<double> sink;
        if (statements.sink) {
          auto value = runFloat(interpreter, statements.sink.getBody(),
                                {RefValue::ofInt(b), RefValue::ofInt(h)});
          if (!value)
            return value.takeError();
          sink = *value;
        }
        for (int64_t i = 0; i < queries; ++i) {
          std::vector<double> query = row(q, b, h, i);
          if (theta)
            query = rotate(query, i, *theta);
          std::vector<double> outGrad = row(outputGrad, b, h, i);
          auto scored = scoreRow(interpreter, statements, scale, b, h, i, query, keyRows);
          if (!scored)
            return scored.takeError();
          const std::vector<int64_t> &kept = scored->kept;
          const std::vector<double> &scaled = scored->scaled, &scores = scored->scores;
          double maxScore = sink ? *sink : negInf;
          for (double s : scores)
            maxScore = std::max(maxScore, s);
          if (maxScore == negInf)
            continue; // a row that kept nothing: o = 0 whatever q, k and v are
          double denominator = sink ? std::exp(*sink - maxScore) : 0.0;
          for (double s : scores)
            denominator += std::exp(s - maxScore);
          // P, dP = dO . v, D = sum_j P dP (= dO . o) - dlse (d lse / d s_j = P_j),
          // dS = P (dP - D) d score / d s.
          std::vector<double> probability(kept.size()), outputDot(kept.size());
          double delta = 0.0;
          for (size_t n = 0; n < kept.size(); ++n) {
            probability[n] = std::exp(scores[n] - maxScore) / denominator;
            outputDot[n] = dot(outGrad, valueRows[kept[n]]);
            delta += probability[n] * outputDot[n];
          }
          if (lseGrad)
            delta -= lseGrad->get((b * heads + h) * queries + i);
          std::vector<double> queryGrad(headDim, 0.0);
          for (size_t n = 0; n < kept.size(); ++n) {
            int64_t j = kept[n];
            double scoreGrad = probability[n] * (outputDot[n] - delta);
            if (statements.score) {
              auto derivative = scoreDerivative(
                  interpreter, statements.score.getBody(),
                  {RefValue::ofInt(b), RefValue::ofInt(h), RefValue::ofInt(i),
                   RefValue::ofInt(j)},
                  scaled[n]);
              if (!derivative)
                return derivative.takeError();
              scoreGrad *= *derivative;
            }
            double dotGrad = scoreGrad * scale;
            for (int64_t d = 0; d < headDim; ++d) {
              queryGrad[d] += dotGrad * keyRows[j][d];
              keyGrad[j][d] += dotGrad * query[d];
            }
            for (int64_t d = 0; d < valueDim; ++d)
              valueGrad[j][d] += probability[n] * outGrad[d];
          }
          queryGrad = rotateBack(queryGrad, i);
          int64_t base = ((b * heads + h) * queries + i) * headDim;
          for (int64_t d = 0; d < headDim; ++d)
            dq.set(base + d, queryGrad[d]);
        }
      }
      for (int64_t j = 0; j < keys; ++j) {
        std::vector<double> grad = rotateBack(keyGrad[j], j);
        int64_t keyBase = ((b * kvHeads + hk) * keys + j) * headDim;
        for (int64_t d = 0; d < headDim; ++d)
          dk.set(keyBase + d, grad[d]);
        int64_t valueBase = ((b * kvHeads + hk) * keys + j) * valueDim;
        for (int64_t d = 0; d < valueDim; ++d)
          dv.set(valueBase + d, valueGrad[j][d]);
      }
    }
  }
  return grads;
}

} // namespace tmix::reference
