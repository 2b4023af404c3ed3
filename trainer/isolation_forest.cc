#include "trainer/isolation_forest.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace galaxy {
namespace {

struct Node {
  int64_t feature = -1;  // -1: leaf
  float threshold = 0;
  int32_t left = -1, right = -1;
  int64_t size = 0;  // rows that reached a leaf
};

class Tree {
 public:
  Tree(const float* x, int64_t dim, std::vector<int64_t> rows, int depth_limit, std::mt19937_64* rng)
      : x_(x), dim_(dim), rng_(rng) {
    Grow(rows.data(), static_cast<int64_t>(rows.size()), 0, depth_limit);
  }

  double PathLength(const float* v) const {
    int32_t i = 0;
    double depth = 0;
    while (nodes_[static_cast<size_t>(i)].feature >= 0) {
      const Node& n = nodes_[static_cast<size_t>(i)];
      i = v[n.feature] < n.threshold ? n.left : n.right;
      depth += 1;
    }
    return depth + AveragePathLength(nodes_[static_cast<size_t>(i)].size);
  }

 private:
  // Grows the subtree of rows[0, n) and returns its node index.
  int32_t Grow(int64_t* rows, int64_t n, int depth, int depth_limit) {
    const int32_t index = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
    if (n <= 1 || depth >= depth_limit) {
      nodes_[static_cast<size_t>(index)].size = n;
      return index;
    }
    // A random feature on which these rows differ (a few tries; a leaf when all tried are flat).
    std::uniform_int_distribution<int64_t> pick(0, dim_ - 1);
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int64_t f = pick(*rng_);
      float lo = x_[rows[0] * dim_ + f], hi = lo;
      for (int64_t i = 1; i < n; ++i) {
        const float v = x_[rows[i] * dim_ + f];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (!(hi > lo)) continue;
      float t = std::uniform_real_distribution<float>(lo, hi)(*rng_);
      if (!(t > lo)) t = std::nextafter(lo, hi);  // both sides non-empty
      int64_t* mid = std::partition(rows, rows + n, [&](int64_t r) { return x_[r * dim_ + f] < t; });
      const int64_t left_n = mid - rows;
      nodes_[static_cast<size_t>(index)].feature = f;
      nodes_[static_cast<size_t>(index)].threshold = t;
      const int32_t left = Grow(rows, left_n, depth + 1, depth_limit);
      const int32_t right = Grow(mid, n - left_n, depth + 1, depth_limit);
      nodes_[static_cast<size_t>(index)].left = left;
      nodes_[static_cast<size_t>(index)].right = right;
      return index;
    }
    nodes_[static_cast<size_t>(index)].size = n;
    return index;
  }

  const float* x_;
  int64_t dim_;
  std::mt19937_64* rng_;
  std::vector<Node> nodes_;
};

}  // namespace

double AveragePathLength(int64_t n) {
  if (n <= 1) return 0;
  if (n == 2) return 1;
  const double m = static_cast<double>(n - 1);
  return 2 * (std::log(m) + 0.5772156649015329) - 2 * m / static_cast<double>(n);
}

std::vector<double> IsolationForestScores(const float* x, int64_t rows, int64_t dim,
                                          const IsolationForestOptions& options) {
  if (rows < 2 || dim < 1 || options.trees < 1) return {};
  const int64_t sample = std::clamp<int64_t>(options.sample, 2, rows);
  const int depth_limit = static_cast<int>(std::ceil(std::log2(static_cast<double>(sample))));
  std::vector<double> path(static_cast<size_t>(rows), 0.0);
  std::vector<int64_t> all(static_cast<size_t>(rows));
  std::iota(all.begin(), all.end(), 0);
  for (int t = 0; t < options.trees; ++t) {
    std::mt19937_64 rng(options.seed * 1000003 + static_cast<uint64_t>(t));
    // The first `sample` rows of a partial Fisher-Yates shuffle: a draw without replacement.
    for (int64_t i = 0; i < sample; ++i) {
      std::swap(all[static_cast<size_t>(i)],
                all[static_cast<size_t>(std::uniform_int_distribution<int64_t>(i, rows - 1)(rng))]);
    }
    const Tree tree(x, dim, std::vector<int64_t>(all.begin(), all.begin() + sample), depth_limit, &rng);
    for (int64_t r = 0; r < rows; ++r) path[static_cast<size_t>(r)] += tree.PathLength(x + r * dim);
  }
  const double c = AveragePathLength(sample);
  std::vector<double> scores(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    scores[static_cast<size_t>(r)] = std::pow(2.0, -(path[static_cast<size_t>(r)] / options.trees) / c);
  }
  return scores;
}

}  // namespace galaxy
