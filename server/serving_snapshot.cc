#include "server/serving_snapshot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/galaxy_batch.h"
#include "data/hdf5_dataset.h"
#include "indexer/anomaly_score.h"
#include "server/few_shot.h"

namespace galaxy {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kDegree = M_PI / 180.0;

}  // namespace

double AngularSeparationDegrees(double ra1, double dec1, double ra2, double dec2) {
  // Haversine: accurate at small separations, where catalog matches happen.
  const double s1 = std::sin((dec2 - dec1) * kDegree / 2), s2 = std::sin((ra2 - ra1) * kDegree / 2);
  const double h = s1 * s1 + std::cos(dec1 * kDegree) * std::cos(dec2 * kDegree) * s2 * s2;
  return 2 * std::asin(std::min(1.0, std::sqrt(h))) / kDegree;
}

ServingSnapshot::~ServingSnapshot() = default;

absl::StatusOr<std::shared_ptr<const ServingSnapshot>> ServingSnapshot::Open(const std::string& dir,
                                                                             const std::string& device,
                                                                             const EmbedderLoader& load) {
  std::shared_ptr<ServingSnapshot> s(new ServingSnapshot());
  // A torch-flat index searches where the model runs.
  GALAXY_ASSIGN_OR_RETURN(s->snapshot_, Snapshot::Open(dir, device));
  const SnapshotManifest& m = s->snapshot_->manifest();
  // Uploaded images are embedded as the index's vectors were.
  GALAXY_ASSIGN_OR_RETURN(s->model_, (load ? load : LoadEmbedder)(dir + "/" + kModelFile, device, m.features));
  if (s->model_->embedding_dim() != m.dimension) {
    return absl::DataLossError(absl::StrCat(dir, ": the model's ", EmbeddingFeaturesName(m.features), " features have ",
                                            s->model_->embedding_dim(), " dimensions but the index holds ",
                                            m.dimension));
  }
  const size_t n = static_cast<size_t>(m.count);
  s->ids_.reserve(n);
  s->ra_.reserve(n);
  s->dec_.reserve(n);
  s->specz_.reserve(n);
  s->zphot_.reserve(n);
  s->row_of_.reserve(n);
  std::vector<float> scores;
  scores.reserve(n);
  s->percentile_.reserve(n);
  std::vector<float> percentile_by_row;
  percentile_by_row.reserve(n);
  GALAXY_RETURN_IF_ERROR(s->snapshot_->metadata().ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
    s->row_of_.emplace(r.id(), static_cast<uint32_t>(s->ids_.size()));
    s->ids_.push_back(r.id());
    s->ra_.push_back(r.ra());
    s->dec_.push_back(r.dec());
    s->specz_.push_back(r.has_specz() ? r.specz() : kNaN);
    s->zphot_.push_back(r.has_zphot() ? r.zphot() : kNaN);
    scores.push_back(r.anomaly_score());
    percentile_by_row.push_back(r.anomaly_percentile());
    return absl::OkStatus();
  }));
  if (s->ids_.size() != n || s->snapshot_->index().count() != m.count) {
    return absl::DataLossError(absl::StrCat(dir, ": the manifest says ", m.count, " galaxies, the metadata holds ",
                                            s->ids_.size(), " and the index ", s->snapshot_->index().count()));
  }
  s->by_dec_.resize(n);
  std::iota(s->by_dec_.begin(), s->by_dec_.end(), 0u);
  std::sort(s->by_dec_.begin(), s->by_dec_.end(), [&](uint32_t a, uint32_t b) { return s->dec_[a] < s->dec_[b]; });
  s->anomaly_rank_.resize(n);
  std::iota(s->anomaly_rank_.begin(), s->anomaly_rank_.end(), 0u);
  std::sort(s->anomaly_rank_.begin(), s->anomaly_rank_.end(), [&](uint32_t a, uint32_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : s->ids_[a] < s->ids_[b];
  });
  for (uint32_t row : s->anomaly_rank_) s->percentile_.push_back(percentile_by_row[row]);
  if (n > 0) s->median_score_ = scores[s->anomaly_rank_[n / 2]];
  s->rank_of_.resize(n);
  for (uint32_t i = 0; i < n; ++i) s->rank_of_[s->anomaly_rank_[i]] = i;
  s->score_ = std::move(scores);
  return std::shared_ptr<const ServingSnapshot>(std::move(s));
}

ModelShape ServingSnapshot::shape() const {
  const ModelMetadata& m = model_->metadata();
  return ModelShape{m.bands(), static_cast<int>(m.image_size), snapshot_->manifest().dimension, m.band_names};
}

absl::StatusOr<v1::GalaxyRecord> ServingSnapshot::Record(int64_t id, bool with_embedding) const {
  absl::StatusOr<v1::GalaxyRecord> r = snapshot_->metadata().Get(id);
  if (!r.ok()) {
    if (r.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("galaxy ", id, " is not in snapshot ", version()));
    }
    return r.status();
  }
  if (!with_embedding) r->clear_embedding();
  return r;
}

absl::Status ServingSnapshot::StoredEmbedding(int64_t id, std::vector<float>* out) const {
  out->resize(static_cast<size_t>(snapshot_->manifest().dimension));
  absl::Status s = snapshot_->index().StoredVector(id, out->data());
  if (s.ok()) return s;
  if (s.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("galaxy ", id, " is not in snapshot ", version()));
  }
  GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record, Record(id, /*with_embedding=*/true));
  out->assign(record.embedding().begin(), record.embedding().end());
  return absl::OkStatus();
}

absl::StatusOr<const ServingSnapshot::CatalogVectors*> ServingSnapshot::AllVectors() const {
  absl::MutexLock lock(&vectors_mu_);
  if (vectors_ != nullptr) return vectors_.get();
  auto all = std::make_unique<CatalogVectors>();
  absl::StatusOr<VectorIndex::VectorView> view = snapshot_->index().ExactVectors();
  if (view.ok()) {
    if (view->n != count()) {
      return absl::DataLossError(absl::StrCat("snapshot ", version(), ": the index holds ", view->n,
                                              " vectors for ", count(), " galaxies"));
    }
    all->vectors = view->vectors;
    all->row.resize(static_cast<size_t>(view->n));
    for (int64_t i = 0; i < view->n; ++i) {
      const std::optional<uint32_t> row = RowOf(view->ids[i]);
      if (!row) return absl::DataLossError(absl::StrCat("snapshot ", version(), ": the index holds ID ", view->ids[i],
                                                        ", which has no record"));
      all->row[static_cast<size_t>(i)] = *row;
    }
  } else if (view.status().code() == absl::StatusCode::kUnimplemented) {
    // Compressed index: the exact vectors are the records' embeddings.
    const size_t dim = static_cast<size_t>(snapshot_->manifest().dimension);
    all->owned.resize(ids_.size() * dim);
    all->row.resize(ids_.size());
    for (uint32_t row = 0; row < ids_.size(); ++row) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord r, Record(ids_[row], /*with_embedding=*/true));
      if (static_cast<size_t>(r.embedding_size()) != dim) {
        return absl::DataLossError(absl::StrCat("snapshot ", version(), ": galaxy ", r.id(), " has an embedding of ",
                                                r.embedding_size(), " values, not ", dim));
      }
      std::copy(r.embedding().begin(), r.embedding().end(), all->owned.begin() + static_cast<ptrdiff_t>(row * dim));
      all->row[row] = row;
    }
    all->vectors = all->owned.data();
  } else {
    return view.status();
  }
  vectors_ = std::move(all);
  return vectors_.get();
}

absl::StatusOr<const CatalogWhitening*> ServingSnapshot::Whitening() const {
  absl::MutexLock lock(&whitening_mu_);
  if (whitening_ != nullptr) return whitening_.get();
  GALAXY_ASSIGN_OR_RETURN(const CatalogVectors* all, AllVectors());
  const absl::Time start = absl::Now();
  GALAXY_ASSIGN_OR_RETURN(CatalogWhitening w, FitCatalogWhitening(all->vectors, count(), shape().dim));
  log::Info("catalog whitening for few-shot rankings",
            {{"snapshot", version()}, {"rows", absl::StrCat(w.rows, " of ", count())}, {"dim", absl::StrCat(w.dim)},
             {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  whitening_ = std::make_unique<CatalogWhitening>(std::move(w));
  return whitening_.get();
}

std::optional<uint32_t> ServingSnapshot::RowOf(int64_t id) const {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<int64_t> ServingSnapshot::MatchPosition(const v1::SkyPosition& p) const {
  const double radius =
      (p.match_radius_arcsec() > 0 ? p.match_radius_arcsec() : kDefaultMatchRadiusArcsec) / 3600.0;
  auto first = std::lower_bound(by_dec_.begin(), by_dec_.end(), p.dec() - radius,
                                [&](uint32_t row, double v) { return dec_[row] < v; });
  double best = std::numeric_limits<double>::infinity();
  int64_t best_id = 0;
  for (auto it = first; it != by_dec_.end() && dec_[*it] <= p.dec() + radius; ++it) {
    const double d = AngularSeparationDegrees(p.ra(), p.dec(), ra_[*it], dec_[*it]);
    if (d <= radius && d < best) {
      best = d;
      best_id = ids_[*it];
    }
  }
  if (!std::isfinite(best)) {
    return absl::NotFoundError(absl::StrCat("no galaxy of snapshot ", version(), " lies within ", radius * 3600,
                                            " arcsec of ra ", p.ra(), ", dec ", p.dec()));
  }
  return best_id;
}

bool ServingSnapshot::PassesFilter(uint32_t row, const v1::SearchFilter& f) const {
  if (f.has_z_min() || f.has_z_max()) {
    float z = kNaN;
    switch (f.z_source()) {
      case v1::REDSHIFT_SOURCE_SPECTROSCOPIC: z = specz_[row]; break;
      case v1::REDSHIFT_SOURCE_PHOTOMETRIC: z = zphot_[row]; break;
      default: z = std::isnan(specz_[row]) ? zphot_[row] : specz_[row]; break;
    }
    if (std::isnan(z)) return false;
    if (f.has_z_min() && z < f.z_min()) return false;
    if (f.has_z_max() && z > f.z_max()) return false;
  }
  if (f.has_cone() &&
      AngularSeparationDegrees(f.cone().ra(), f.cone().dec(), ra_[row], dec_[row]) > f.cone().radius()) {
    return false;
  }
  return true;
}

absl::Status ServingSnapshot::Similar(const float* query, const SimilarQuery& q, std::optional<int64_t> self,
                                      v1::SimilarGalaxiesResponse* out) const {
  out->set_snapshot_version(version());
  std::unordered_set<int64_t> excluded(q.filter.exclude_ids().begin(), q.filter.exclude_ids().end());
  if (self) excluded.insert(*self);
  const bool filtered = Conditions(q.filter);
  const bool dedupe = self.has_value() && q.duplicate_threshold.has_value();
  const int64_t n = count();
  const int want = Candidates(q);
  int64_t fetch = std::min<int64_t>(n, want + static_cast<int64_t>(excluded.size()) + (filtered || dedupe ? q.k : 0));
  std::vector<float> scores;
  std::vector<int64_t> found;
  std::vector<std::pair<int64_t, float>> kept;
  while (true) {
    scores.resize(static_cast<size_t>(fetch));
    found.resize(static_cast<size_t>(fetch));
    GALAXY_RETURN_IF_ERROR(snapshot_->index().Search(query, 1, static_cast<int>(fetch), scores.data(), found.data()));
    kept.clear();
    bool below_threshold = false;
    for (int64_t j = 0; j < fetch && static_cast<int>(kept.size()) < want; ++j) {
      const int64_t id = found[static_cast<size_t>(j)];
      const float score = scores[static_cast<size_t>(j)];
      if (id < 0 || excluded.count(id) > 0) continue;
      if (q.min_score && score < *q.min_score) {
        below_threshold = true;  // scores come best first: nothing further can pass
        break;
      }
      if (dedupe && score >= *q.duplicate_threshold) continue;
      if (filtered && !IdPassesFilter(id, q.filter)) continue;
      kept.emplace_back(id, score);
    }
    if (static_cast<int>(kept.size()) >= want || below_threshold || fetch >= n) break;
    fetch = std::min<int64_t>(n, fetch * 4);
  }
  GALAXY_RETURN_IF_ERROR(Diversify(q, self, &kept));
  return AddNeighbors(kept, q, out);
}

int ServingSnapshot::Candidates(const SimilarQuery& q) {
  return q.k * (q.mmr_lambda ? 4 : 1) + (q.sky_duplicate_degrees ? q.k : 0);
}

absl::Status ServingSnapshot::Diversify(const SimilarQuery& q, std::optional<int64_t> self,
                                        std::vector<std::pair<int64_t, float>>* kept) const {
  if (q.sky_duplicate_degrees) {
    // Best first: each galaxy is dropped when it lies within the radius of the query galaxy or
    // of one already kept.
    std::vector<uint32_t> accepted;
    if (self) {
      if (auto row = row_of_.find(*self); row != row_of_.end()) accepted.push_back(row->second);
    }
    std::vector<std::pair<int64_t, float>> distinct;
    for (const auto& candidate : *kept) {
      auto row = row_of_.find(candidate.first);
      if (row == row_of_.end()) continue;
      const bool duplicate = std::any_of(accepted.begin(), accepted.end(), [&](uint32_t a) {
        return AngularSeparationDegrees(ra_[a], dec_[a], ra_[row->second], dec_[row->second]) <=
               *q.sky_duplicate_degrees;
      });
      if (duplicate) continue;
      accepted.push_back(row->second);
      distinct.push_back(candidate);
    }
    *kept = std::move(distinct);
  }
  if (q.mmr_lambda && static_cast<int>(kept->size()) > 1) {
    // Greedy maximal marginal relevance over the candidates' stored embeddings.
    const size_t dim = static_cast<size_t>(shape().dim);
    std::vector<float> vectors(kept->size() * dim);
    for (size_t i = 0; i < kept->size(); ++i) {
      std::vector<float> v;
      GALAXY_RETURN_IF_ERROR(StoredEmbedding((*kept)[i].first, &v));
      std::copy(v.begin(), v.end(), vectors.begin() + static_cast<ptrdiff_t>(i * dim));
    }
    const float lambda = *q.mmr_lambda;
    std::vector<float> closest(kept->size(), -std::numeric_limits<float>::infinity());
    std::vector<bool> picked(kept->size(), false);
    std::vector<std::pair<int64_t, float>> order;
    while (order.size() < kept->size() && static_cast<int>(order.size()) < q.k) {
      size_t best = kept->size();
      float best_value = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < kept->size(); ++i) {
        if (picked[i]) continue;
        const float novelty = order.empty() ? 0.0f : closest[i];
        const float value = lambda * (*kept)[i].second - (1 - lambda) * novelty;
        if (value > best_value) {
          best_value = value;
          best = i;
        }
      }
      picked[best] = true;
      order.push_back((*kept)[best]);
      const float* chosen = vectors.data() + best * dim;
      for (size_t i = 0; i < kept->size(); ++i) {
        if (picked[i]) continue;
        closest[i] = std::max(closest[i], InnerProduct(vectors.data() + i * dim, chosen, dim));
      }
    }
    *kept = std::move(order);
  }
  if (static_cast<int>(kept->size()) > q.k) kept->resize(static_cast<size_t>(q.k));
  return absl::OkStatus();
}

bool ServingSnapshot::IdPassesFilter(int64_t id, const v1::SearchFilter& filter) const {
  const std::optional<uint32_t> row = RowOf(id);
  return row && PassesFilter(*row, filter);
}

bool ServingSnapshot::Conditions(const v1::SearchFilter& filter) {
  return filter.has_z_min() || filter.has_z_max() || filter.has_cone();
}

absl::Status ServingSnapshot::AddNeighbors(const std::vector<std::pair<int64_t, float>>& kept, const SimilarQuery& q,
                                           v1::SimilarGalaxiesResponse* out) const {
  out->set_exhausted(static_cast<int>(kept.size()) < q.k);
  uint32_t rank = 0;
  for (const auto& [id, score] : kept) {
    v1::Neighbor* nb = out->add_neighbors();
    nb->set_id(id);
    nb->set_score(score);
    nb->set_rank(++rank);
    if (q.include_metadata || q.include_embeddings) {
      GALAXY_ASSIGN_OR_RETURN(*nb->mutable_galaxy(), Record(id, q.include_embeddings));
    }
  }
  return absl::OkStatus();
}

absl::Status ServingSnapshot::RecommendBestScore(const std::vector<WeightedVector>& positives,
                                                 const std::vector<WeightedVector>& negatives, const SimilarQuery& q,
                                                 v1::SimilarGalaxiesResponse* out) const {
  out->set_snapshot_version(version());
  const std::unordered_set<int64_t> excluded(q.filter.exclude_ids().begin(), q.filter.exclude_ids().end());
  const bool filtered = Conditions(q.filter);
  const int64_t n = count();
  const size_t dim = static_cast<size_t>(shape().dim);
  const auto best = [dim](const std::vector<WeightedVector>& examples, const float* c) {
    float top = -std::numeric_limits<float>::infinity();
    for (const WeightedVector& e : examples) {
      top = std::max(top, e.weight * std::clamp(InnerProduct(e.vector.data(), c, dim), -1.0f, 1.0f));
    }
    return top;
  };
  float worst_negative = 0;  // the negative term is at least -max_j w_j
  for (const WeightedVector& e : negatives) worst_negative = std::max(worst_negative, e.weight);
  const int want = Candidates(q);
  int64_t fetch = std::min<int64_t>(n, want + static_cast<int64_t>(excluded.size()) + (filtered ? q.k : 0));
  std::vector<float> scores, stored;
  std::vector<int64_t> found;
  std::unordered_set<int64_t> seen;
  std::vector<std::pair<int64_t, float>> kept;
  while (true) {
    scores.resize(static_cast<size_t>(fetch));
    found.resize(static_cast<size_t>(fetch));
    seen.clear();
    kept.clear();
    // The highest score a galaxy beyond every positive's `fetch` nearest could reach.
    float unseen = -std::numeric_limits<float>::infinity();
    for (const WeightedVector& p : positives) {
      GALAXY_RETURN_IF_ERROR(
          snapshot_->index().Search(p.vector.data(), 1, static_cast<int>(fetch), scores.data(), found.data()));
      unseen = std::max(unseen, p.weight * scores.back());
      for (int64_t id : found) {
        if (id < 0 || excluded.count(id) > 0 || !seen.insert(id).second) continue;
        if (filtered && !IdPassesFilter(id, q.filter)) continue;
        GALAXY_RETURN_IF_ERROR(StoredEmbedding(id, &stored));
        const float score =
            best(positives, stored.data()) - (negatives.empty() ? 0.0f : best(negatives, stored.data()));
        if (q.min_score && score < *q.min_score) continue;
        kept.emplace_back(id, score);
      }
    }
    const bool none_unseen_pass = q.min_score && unseen + worst_negative < *q.min_score;
    if (static_cast<int>(kept.size()) >= want || fetch >= n || none_unseen_pass) break;
    fetch = std::min<int64_t>(n, fetch * 4);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<int>(kept.size()) > want) kept.resize(static_cast<size_t>(want));
  GALAXY_RETURN_IF_ERROR(Diversify(q, std::nullopt, &kept));
  return AddNeighbors(kept, q, out);
}

absl::Status ServingSnapshot::ScoreEmbedding(const float* query, const float* turn_averaged,
                                             v1::ScoreAnomalyResponse* out, bool with_neighbors) const {
  const bool turns = ScoresTurnAverage();
  if (turns && turn_averaged == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot ", version(),
                                                   " scores anomalies on the turn-averaged embedding too; none given"));
  }
  const int k = static_cast<int>(std::min<int64_t>(snapshot_->manifest().anomaly_k, count()));
  const CatalogWhitening* whitening = snapshot_->anomaly_whitening();
  std::vector<float> scores(static_cast<size_t>(k));
  std::vector<int64_t> found(static_cast<size_t>(k));
  // The neighbour search: for the kNN score, or to show the neighbours (a Mahalanobis score needs none).
  if (whitening == nullptr || with_neighbors) {
    GALAXY_RETURN_IF_ERROR(snapshot_->index().Search(query, 1, k, scores.data(), found.data()));
  }
  if (with_neighbors) {
    uint32_t rank = 0;
    for (int j = 0; j < k; ++j) {
      if (found[static_cast<size_t>(j)] < 0) continue;
      v1::Neighbor* nb = out->add_neighbors();
      nb->set_id(found[static_cast<size_t>(j)]);
      nb->set_score(scores[static_cast<size_t>(j)]);
      nb->set_rank(++rank);
    }
  }
  // An uploaded image is not in the index: no galaxy is skipped as itself.
  double score = 0;
  if (whitening == nullptr) {
    score = AnomalyScore(scores.data(), found.data(), k, k, /*self=*/-1);
  } else if (turns) {
    score = SquaredWhitenedNorms(*whitening, JoinTurnAverage(query, turn_averaged, shape().dim).data(), 1).front();
  } else {
    score = SquaredWhitenedNorms(*whitening, query, 1).front();
  }
  out->set_score(static_cast<float>(score));
  out->set_percentile(static_cast<float>(snapshot_->AnomalyPercentile(score)));
  out->set_k(static_cast<uint32_t>(k));
  out->set_snapshot_version(version());
  return absl::OkStatus();
}

absl::Status ServingSnapshot::IssuedHere(absl::string_view issued_by, absl::string_view listing) const {
  if (issued_by == version()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("page_token: issued by snapshot ", issued_by,
                                                    "; the snapshot changed to ", version(), "; restart the ",
                                                    listing));
}

absl::Status ServingSnapshot::ListAnomalies(const v1::ListAnomaliesRequest& request, int page_size,
                                            const AnomalyRerank* rerank, v1::ListAnomaliesResponse* out) const {
  // Tokens: "<version>/<offset>", and "/<labels' generation, hex>" when re-ranked.
  uint64_t offset = 0;
  if (!request.page_token().empty()) {
    const std::vector<std::string> parts = absl::StrSplit(request.page_token(), '/');
    uint64_t generation = 0;
    if (parts.size() < 2 || parts.size() > 3 || !absl::SimpleAtoi(parts[1], &offset) ||
        (parts.size() == 3) != (rerank != nullptr) || (parts.size() == 3 && !absl::SimpleHexAtoi(parts[2], &generation))) {
      return absl::InvalidArgumentError(
          "page_token: not a token this server issued for this listing (rerank_by_labels must stay as it was)");
    }
    GALAXY_RETURN_IF_ERROR(IssuedHere(parts[0], "listing"));
    if (rerank != nullptr && generation != rerank->generation) {
      return absl::FailedPreconditionError("page_token: the labels changed since; restart the listing");
    }
  }
  // Percentiles fall along the ranking, so the galaxies at or above a percentile are a prefix.
  uint64_t total = percentile_.size();
  if (request.has_min_percentile()) {
    total = static_cast<uint64_t>(
        std::partition_point(percentile_.begin(), percentile_.end(),
                             [&](float p) { return p >= request.min_percentile(); }) -
        percentile_.begin());
  }
  if (offset > total) {
    return absl::InvalidArgumentError(absl::StrCat("page_token: offset ", offset, " is past the end (", total, ")"));
  }
  const uint64_t end = std::min<uint64_t>(total, offset + static_cast<uint64_t>(page_size));
  // The listing's rows from 0 to `end`: the stored ranking, or with labels the affected galaxies
  // (re-sorted by their adjusted scores) merged into the others, which keep their order.
  std::vector<std::pair<uint32_t, float>> rows;  // (row, score)
  if (rerank == nullptr) {
    for (uint64_t i = offset; i < end; ++i) rows.emplace_back(anomaly_rank_[i], score_[anomaly_rank_[i]]);
  } else {
    std::vector<std::pair<uint32_t, float>> moved;
    for (const auto& [row, factor] : rerank->factor) {
      if (rank_of_[row] < total) moved.emplace_back(row, score_[row] * factor);  // in the listing
    }
    std::sort(moved.begin(), moved.end(), [&](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : ids_[a.first] < ids_[b.first];
    });
    size_t base = 0, next = 0;
    for (uint64_t i = 0; i < end; ++i) {
      while (base < total && rerank->factor.count(anomaly_rank_[base]) > 0) ++base;
      std::pair<uint32_t, float> item;
      if (next < moved.size() && (base >= total || moved[next].second > score_[anomaly_rank_[base]])) {
        item = moved[next++];
      } else {
        item = {anomaly_rank_[base], score_[anomaly_rank_[base]]};
        ++base;
      }
      if (i >= offset) rows.push_back(item);
    }
  }
  for (const auto& [row, score] : rows) {
    GALAXY_ASSIGN_OR_RETURN(*out->add_galaxies(), Record(ids_[row], request.include_embeddings()));
    if (rerank != nullptr) out->add_adjusted_scores(score);
  }
  out->set_first_rank(offset + 1);
  out->set_total_count(total);
  if (end < total) {
    out->set_next_page_token(rerank == nullptr ? absl::StrCat(version(), "/", end)
                                               : absl::StrCat(version(), "/", end, "/", absl::Hex(rerank->generation)));
  }
  out->set_snapshot_version(version());
  return absl::OkStatus();
}

absl::Status ServingSnapshot::ReadSource(int64_t id, uint64_t row, GalaxyBatch* batch, int* bands, int* height,
                                         int* width) const {
  const std::string& path = snapshot_->manifest().data_path;
  absl::MutexLock lock(&source_mu_);
  if (source_ == nullptr) {
    absl::StatusOr<std::unique_ptr<DatasetReader>> reader = DatasetReader::Open(path);
    if (!reader.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("galaxy ", id, "'s image is in ", path,
                                                        ", which cannot be read now: ", reader.status().message()));
    }
    source_ = std::move(*reader);
  }
  if (row >= static_cast<uint64_t>(source_->count()) || !source_->Read(static_cast<int64_t>(row), 1, batch).ok() ||
      batch->ids[0] != id) {
    return absl::FailedPreconditionError(absl::StrCat(path, " no longer holds galaxy ", id, " at row ", row,
                                                      " (changed since the snapshot was built)"));
  }
  *bands = source_->layout().bands;
  *height = source_->layout().height;
  *width = source_->layout().width;
  return absl::OkStatus();
}

absl::Status ServingSnapshot::StoredRedshiftPdf(const v1::GalaxyRecord& record,
                                                google::protobuf::RepeatedField<float>* out) const {
  std::vector<float> pdf;
  GALAXY_RETURN_IF_ERROR(snapshot_->RedshiftPdf(record.source_row(), &pdf));
  out->Add(pdf.begin(), pdf.end());
  return absl::OkStatus();
}

absl::Status ServingSnapshot::SourceCutout(int64_t id, uint64_t row, v1::Image* out) const {
  GalaxyBatch batch;
  int bands = 0, height = 0, width = 0;
  GALAXY_RETURN_IF_ERROR(ReadSource(id, row, &batch, &bands, &height, &width));
  out->set_bands(static_cast<uint32_t>(bands));
  out->set_height(static_cast<uint32_t>(height));
  out->set_width(static_cast<uint32_t>(width));
  out->set_dtype(v1::DTYPE_FLOAT32);
  out->set_data(std::string(reinterpret_cast<const char*>(batch.images.data()), batch.images.size() * sizeof(float)));
  out->set_e_bv(batch.e_bv[0]);
  return absl::OkStatus();
}

}  // namespace galaxy
