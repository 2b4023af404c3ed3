#include "server/rank_by_examples.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace galaxy {
namespace {

std::string Token(const ServingSnapshot& snap, const RankQuery& q, uint64_t offset) {
  return absl::StrCat(snap.version(), "/", absl::Hex(q.fingerprint), "/", offset);
}

// The offset q.page_token names (0 without one). INVALID_ARGUMENT for a token of another
// request or one this server did not issue; FAILED_PRECONDITION for another snapshot's.
absl::StatusOr<uint64_t> TokenOffset(const ServingSnapshot& snap, const RankQuery& q) {
  if (q.page_token.empty()) return 0;
  // Version names hold no '/' (ValidateVersionName).
  const std::vector<std::string> parts = absl::StrSplit(q.page_token, '/');
  uint64_t fingerprint = 0, offset = 0;
  if (parts.size() != 3 || !absl::SimpleHexAtoi(parts[1], &fingerprint) || !absl::SimpleAtoi(parts[2], &offset)) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  GALAXY_RETURN_IF_ERROR(snap.IssuedHere(parts[0], "ranking"));
  if (fingerprint != q.fingerprint) {
    return absl::InvalidArgumentError(
        "page_token: issued for another ranking (or the labels it uses have changed since); send the request "
        "that issued it, changing only page_token, page_size and limit");
  }
  return offset;
}

// Rows of `rows` stacked into one matrix.
std::vector<float> Stack(const std::vector<WeightedVector>& rows) {
  std::vector<float> out;
  for (const WeightedVector& v : rows) out.insert(out.end(), v.vector.begin(), v.vector.end());
  return out;
}

}  // namespace

absl::StatusOr<FewShotRanking> RankCatalog(const ServingSnapshot& snap, const RankQuery& q,
                                           const std::vector<WeightedVector>& positives,
                                           const std::vector<WeightedVector>& negatives,
                                           const std::vector<int64_t>& example_ids, uint64_t count) {
  FewShotRanking ranking;
  GALAXY_ASSIGN_OR_RETURN(ranking.offset, TokenOffset(snap, q));
  GALAXY_ASSIGN_OR_RETURN(const ServingSnapshot::CatalogVectors* all, snap.AllVectors());
  const int64_t n = snap.count();
  const size_t dim = static_cast<size_t>(snap.shape().dim);
  // The examples' rows (never ranked, never drawn as negatives).
  std::vector<bool> is_example(static_cast<size_t>(n), false);
  int64_t examples = 0;
  for (int64_t id : example_ids) {
    const std::optional<uint32_t> row = snap.RowOf(id);
    if (row && !is_example[*row]) {
      is_example[*row] = true;
      ++examples;
    }
  }
  // Random negatives: distinct catalog galaxies that are not examples (all of them when fewer).
  std::vector<int64_t> pool;  // positions in `all`
  const auto example_at = [&](int64_t i) { return is_example[all->row[static_cast<size_t>(i)]]; };
  const int64_t available = n - examples;
  const int64_t want = std::min<int64_t>(q.random_negatives, available);
  Random rng(q.seed, 0);
  if (want * 2 > available) {  // dense: a partial shuffle of every candidate
    for (int64_t i = 0; i < n; ++i) {
      if (!example_at(i)) pool.push_back(i);
    }
    for (int64_t j = 0; j < want; ++j) {
      const uint64_t left = static_cast<uint64_t>(available - j);
      std::swap(pool[static_cast<size_t>(j)], pool[static_cast<size_t>(j) + rng.Next() % left]);
    }
    pool.resize(static_cast<size_t>(want));
  } else {  // sparse: draws until `want` distinct candidates
    std::unordered_set<int64_t> seen;
    while (static_cast<int64_t>(pool.size()) < want) {
      const int64_t at = static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(n));
      if (!example_at(at) && seen.insert(at).second) pool.push_back(at);
    }
  }
  std::vector<float> negative_rows = Stack(negatives);
  for (int64_t at : pool) {
    negative_rows.insert(negative_rows.end(), all->vectors + static_cast<size_t>(at) * dim,
                         all->vectors + static_cast<size_t>(at + 1) * dim);
  }
  // Fitted in the catalog's whitened coordinates (core/whitening/catalog_whitening.h), used in its own.
  GALAXY_ASSIGN_OR_RETURN(const CatalogWhitening* whitening, snap.Whitening());
  GALAXY_ASSIGN_OR_RETURN(LinearClassifier whitened,
                          FitClassifier(Whiten(*whitening, Stack(positives)), Whiten(*whitening, negative_rows),
                                        static_cast<int>(dim), q.c));
  ToCatalogCoordinates(*whitening, &whitened.weights, &whitened.bias);
  ranking.classifier = std::move(whitened);
  float min_decision = -std::numeric_limits<float>::infinity();
  if (q.min_probability) {
    const double p = *q.min_probability;
    min_decision = p <= 0 ? -std::numeric_limits<float>::infinity()
                   : p >= 1 ? std::numeric_limits<float>::infinity()
                            : static_cast<float>(std::log(p / (1 - p)));
  }
  // Never ranked: the examples and the filter's exclusions (by snapshot row).
  std::vector<bool> excluded = std::move(is_example);
  bool any_excluded = examples > 0;
  for (int64_t id : q.filter.exclude_ids()) {
    if (const std::optional<uint32_t> row = snap.RowOf(id)) {
      excluded[*row] = true;
      any_excluded = true;
    }
  }
  const bool conditions = ServingSnapshot::Conditions(q.filter);
  std::function<bool(int64_t)> keep;
  if (conditions || any_excluded) {
    keep = [&](int64_t i) {
      const uint32_t row = all->row[static_cast<size_t>(i)];
      return !excluded[row] && (!conditions || snap.PassesFilter(row, q.filter));
    };
  }
  const size_t wanted = count == 0 ? static_cast<size_t>(n) : static_cast<size_t>(ranking.offset + count);
  RankedRows ranked =
      RankRows(all->vectors, n, static_cast<int>(dim), ranking.classifier, wanted, min_decision, keep, /*threads=*/0);
  ranking.total = ranked.passing;
  ranking.top.reserve(ranked.top.size());
  for (const auto& [i, decision] : ranked.top) {
    ranking.top.emplace_back(all->row[static_cast<size_t>(i)], static_cast<float>(1 / (1 + std::exp(-decision))));
  }
  if (ranking.offset > static_cast<uint64_t>(ranking.total)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: offset ", ranking.offset, " is past the end of the ranking (", ranking.total, ")"));
  }
  return ranking;
}

absl::Status FillRankPage(const ServingSnapshot& snap, const RankQuery& q, const FewShotRanking& ranking,
                          uint64_t offset, v1::RankByExamplesResponse* out) {
  const uint64_t end = std::min<uint64_t>(offset + static_cast<uint64_t>(q.page_size), ranking.top.size());
  for (uint64_t i = offset; i < end; ++i) {
    const auto& [row, probability] = ranking.top[i];
    v1::RankedGalaxy* g = out->add_galaxies();
    g->set_id(snap.IdAt(row));
    g->set_probability(probability);
    g->set_rank(i + 1);
    if (q.include_metadata || q.include_embeddings) {
      GALAXY_ASSIGN_OR_RETURN(*g->mutable_galaxy(), snap.Record(g->id(), q.include_embeddings));
    }
  }
  out->set_first_rank(offset + 1);
  out->set_total_count(static_cast<uint64_t>(ranking.total));
  out->set_snapshot_version(snap.version());
  if (end < static_cast<uint64_t>(ranking.total)) out->set_next_page_token(Token(snap, q, end));
  v1::FewShotClassifier* c = out->mutable_classifier();
  c->mutable_weights()->Add(ranking.classifier.weights.begin(), ranking.classifier.weights.end());
  c->set_bias(ranking.classifier.bias);
  c->set_positives(static_cast<uint32_t>(ranking.classifier.positives));
  c->set_negatives(static_cast<uint32_t>(ranking.classifier.negatives));
  c->set_training_accuracy(static_cast<float>(ranking.classifier.training_accuracy));
  return absl::OkStatus();
}

}  // namespace galaxy
