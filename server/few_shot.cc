#include "server/few_shot.h"

#include <linear.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/parallel.h"

namespace galaxy {
namespace {

// LIBLINEAR prints its solver's progress to stdout unless told otherwise (a process-wide setting).
void QuietLiblinear() {
  static std::once_flag once;
  std::call_once(once, [] { set_print_string_function([](const char*) {}); });
}

// The value of the constant feature that carries the bias. LIBLINEAR penalises its weight like any
// other, so the bias b costs (b / kBiasFeature)^2: at 10 it is nearly free, as the bias of a
// logistic regression should be (a penalised bias cost the few-shot rankings 0.02 of precision on
// mergers at C = 0.01; docs/SCIENCE.md, "Few-shot discovery").
constexpr double kBiasFeature = 10;

// Best first; ties by lower row.
bool Better(const std::pair<int64_t, float>& a, const std::pair<int64_t, float>& b) {
  return a.second != b.second ? a.second > b.second : a.first < b.first;
}

}  // namespace

float InnerProduct(const float* a, const float* b, size_t dim) {
  float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const size_t blocked = dim - dim % 8;
  for (size_t d = 0; d < blocked; d += 8) {
    for (size_t j = 0; j < 8; ++j) sums[j] += a[d + j] * b[d + j];
  }
  float sum = 0;
  for (size_t d = blocked; d < dim; ++d) sum += a[d] * b[d];
  for (float partial : sums) sum += partial;
  return sum;
}

float LinearClassifier::Decision(const float* x) const { return InnerProduct(weights.data(), x, weights.size()) + bias; }

absl::StatusOr<LinearClassifier> FitClassifier(const std::vector<float>& positives, const std::vector<float>& negatives,
                                               int dim, double c) {
  const size_t d = static_cast<size_t>(dim);
  const int n_pos = static_cast<int>(positives.size() / d), n_neg = static_cast<int>(negatives.size() / d);
  if (n_pos == 0) return absl::InvalidArgumentError("positives: none to train on");
  if (n_neg == 0) return absl::InvalidArgumentError("negatives: none to train on (give some, or draw random ones)");
  if (!(c > 0 && std::isfinite(c))) return absl::InvalidArgumentError(absl::StrCat("regularization: C = ", c));
  QuietLiblinear();
  // One node per dimension, the bias node (index dim + 1, value kBiasFeature) and the terminator, per row.
  const int rows = n_pos + n_neg;
  const size_t stride = d + 2;
  std::vector<feature_node> nodes(static_cast<size_t>(rows) * stride);
  std::vector<feature_node*> x(static_cast<size_t>(rows));
  std::vector<double> y(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    const float* v = r < n_pos ? positives.data() + static_cast<size_t>(r) * d
                               : negatives.data() + static_cast<size_t>(r - n_pos) * d;
    feature_node* row = nodes.data() + static_cast<size_t>(r) * stride;
    for (size_t k = 0; k < d; ++k) row[k] = {static_cast<int>(k) + 1, v[k]};
    row[d] = {dim + 1, kBiasFeature};
    row[d + 1] = {-1, 0.0};
    x[static_cast<size_t>(r)] = row;
    y[static_cast<size_t>(r)] = r < n_pos ? 1 : -1;
  }
  problem prob{};
  prob.l = rows;
  prob.n = dim + 1;
  prob.y = y.data();
  prob.x = x.data();
  prob.bias = kBiasFeature;
  // Classes weighed equally: each class's weights sum to rows / 2.
  int labels[2] = {1, -1};
  double class_weights[2] = {rows / (2.0 * n_pos), rows / (2.0 * n_neg)};
  parameter param{};
  param.solver_type = L2R_LR;
  param.eps = 0.01;
  param.C = c;
  param.nr_weight = 2;
  param.weight_label = labels;
  param.weight = class_weights;
  if (const char* error = check_parameter(&prob, &param)) {
    return absl::InternalError(absl::StrCat("LIBLINEAR refused the problem: ", error));
  }
  std::unique_ptr<model, void (*)(model*)> fitted(train(&prob, &param), [](model* m) { free_and_destroy_model(&m); });
  if (fitted == nullptr) return absl::InternalError("LIBLINEAR failed to fit the classifier");
  // For two classes, label index 0 gives the decision function of the first label seen (+1).
  const double sign = get_nr_class(fitted.get()) == 2 && fitted->label[0] == 1 ? 1.0 : -1.0;
  LinearClassifier out;
  out.weights.resize(d);
  for (size_t k = 0; k < d; ++k) {
    out.weights[k] = static_cast<float>(sign * get_decfun_coef(fitted.get(), static_cast<int>(k) + 1, 0));
  }
  out.bias = static_cast<float>(sign * get_decfun_bias(fitted.get(), 0));
  out.positives = n_pos;
  out.negatives = n_neg;
  int right_pos = 0, right_neg = 0;
  for (int r = 0; r < n_pos; ++r) right_pos += out.Decision(positives.data() + static_cast<size_t>(r) * d) > 0;
  for (int r = 0; r < n_neg; ++r) right_neg += out.Decision(negatives.data() + static_cast<size_t>(r) * d) <= 0;
  out.training_accuracy = 0.5 * (static_cast<double>(right_pos) / n_pos + static_cast<double>(right_neg) / n_neg);
  return out;
}

RankedRows RankRows(const float* vectors, int64_t n, int dim, const LinearClassifier& classifier, size_t want,
                    float min_decision, const std::function<bool(int64_t)>& keep, int threads) {
  if (threads <= 0) threads = UsableCpus();
  threads = static_cast<int>(std::clamp<int64_t>(n / 4096, 1, threads));
  // Each thread keeps its best `want` in a heap whose top is the worst kept.
  std::vector<std::vector<std::pair<int64_t, float>>> heaps(static_cast<size_t>(threads));
  std::vector<int64_t> passing(static_cast<size_t>(threads), 0);
  const int64_t block = (n + threads - 1) / threads;
  ParallelFor(threads, threads, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      auto& heap = heaps[static_cast<size_t>(t)];
      int64_t& passed = passing[static_cast<size_t>(t)];
      const int64_t end = std::min(n, (t + 1) * block);
      for (int64_t row = t * block; row < end; ++row) {
        const float decision = classifier.Decision(vectors + static_cast<size_t>(row) * static_cast<size_t>(dim));
        if (decision < min_decision || (keep && !keep(row))) continue;
        ++passed;
        const std::pair<int64_t, float> item(row, decision);
        if (heap.size() < want) {
          heap.push_back(item);
          std::push_heap(heap.begin(), heap.end(), Better);
        } else if (want > 0 && Better(item, heap.front())) {
          std::pop_heap(heap.begin(), heap.end(), Better);
          heap.back() = item;
          std::push_heap(heap.begin(), heap.end(), Better);
        }
      }
    }
  });
  RankedRows out;
  for (size_t t = 0; t < heaps.size(); ++t) {
    out.passing += passing[t];
    out.top.insert(out.top.end(), heaps[t].begin(), heaps[t].end());
  }
  const size_t kept = std::min(want, out.top.size());
  std::partial_sort(out.top.begin(), out.top.begin() + static_cast<ptrdiff_t>(kept), out.top.end(), Better);
  out.top.resize(kept);
  return out;
}

}  // namespace galaxy
