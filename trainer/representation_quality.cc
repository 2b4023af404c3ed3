#include "trainer/representation_quality.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/statistics.h"
#include "core/status_macros.h"
#include "core/whitening/catalog_whitening.h"
#include "data/npy.h"
#include "data/sim/synth_population.h"
#include "nlohmann/json.hpp"
#include "trainer/galaxy_features.h"
#include "trainer/isolation_forest.h"
#include "trainer/probe.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

// For each row, the mean of its rank under `a` and under `b` (0 = lowest; ties by order), over
// the row count: a combination of two scores on different scales.
std::vector<double> MeanRank(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  std::vector<double> out(n, 0.0);
  for (const std::vector<double>* s : {&a, &b}) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return (*s)[i] < (*s)[j]; });
    for (size_t r = 0; r < n; ++r) out[order[r]] += 0.5 * static_cast<double>(r) / static_cast<double>(n);
  }
  return out;
}

// Indices (N x k, int64) of each row's k nearest other rows of `x` (N x D): by cosine
// similarity for unit rows (`euclidean` false) or by Euclidean distance. Also the mean cosine
// distance to them (N) when `mean_distance` is given. Queries go in chunks.
torch::Tensor Neighbours(const torch::Tensor& x, int k, bool euclidean, torch::Tensor* mean_distance = nullptr) {
  const int64_t n = x.size(0);
  const torch::Tensor norms = euclidean ? x.pow(2).sum(1) : torch::Tensor();
  std::vector<torch::Tensor> index, distance;
  for (int64_t start = 0; start < n; start += 1024) {
    const int64_t m = std::min<int64_t>(1024, n - start);
    torch::Tensor score = torch::mm(x.narrow(0, start, m), x.t());
    if (euclidean) score = 2 * score - norms.unsqueeze(0);  // -|a - b|^2 up to a per-row constant
    // The galaxy itself is not its own neighbour.
    score.scatter_(1, torch::arange(start, start + m, torch::kInt64).unsqueeze(1), -1e30);
    auto [top, idx] = score.topk(k, 1);
    index.push_back(idx);
    if (mean_distance != nullptr) distance.push_back((1 - top.clamp(-1, 1)).mean(1));
  }
  if (mean_distance != nullptr) *mean_distance = torch::cat(distance);
  return torch::cat(index);
}

// Mean over rows of the share of neighbours whose label equals the row's.
double SameLabelPrecision(const torch::Tensor& neighbours, const torch::Tensor& labels, const torch::Tensor& rows) {
  const torch::Tensor own = labels.index_select(0, rows).unsqueeze(1);
  const torch::Tensor theirs = labels.index({neighbours.index_select(0, rows)});
  return (theirs == own).to(torch::kFloat64).mean().item<double>();
}

// Median over rows of the median |z_neighbour - z| / (1 + z).
double NeighbourDz(const torch::Tensor& neighbours, const torch::Tensor& z) {
  const torch::Tensor dz = (z.index({neighbours}) - z.unsqueeze(1)).abs() / (1 + z.unsqueeze(1));
  return std::get<0>(dz.median(1)).median().item<double>();
}

// Mean overlap of two neighbour lists (rows x k), as a fraction of k.
double Overlap(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor same = (a.unsqueeze(2) == b.unsqueeze(1)).any(2);
  return same.to(torch::kFloat64).mean().item<double>();
}

// The k nearest of `queries` (Q x D, unit rows) among `base` (N x D), leaving out row
// `exclude[i]` of base for query i.
torch::Tensor NeighboursOf(const torch::Tensor& queries, const torch::Tensor& base, const torch::Tensor& exclude, int k) {
  torch::Tensor score = torch::mm(queries, base.t());
  score.scatter_(1, exclude.unsqueeze(1), -1e30);
  return std::get<1>(score.topk(k, 1));
}

std::string Optional(double v, const char* format) { return v < 0 ? std::string("-") : absl::StrFormat(format, v); }

struct Loaded {
  FrozenModel model;
  TrainingData data;
  int64_t n = 0;
};

// What the reports on one model's representations of the same galaxies share, each computed the
// first time it is asked for: both representations (a report reads one, its score with turns
// both), the neighbours in colour space, the random neighbours' dz and the score with turns. The
// one-view report and the turn-average report then embed each representation once, and search
// the colour space and whiten the joined vector once.
class SharedMeasures {
 public:
  SharedMeasures(Loaded* loaded, const QualityOptions& o)
      : loaded_(loaded),
        n_(loaded->n),
        k_(o.k),
        features_(o.features),
        images_(loaded->data.images.narrow(0, 0, loaded->n)),
        e_bv_(loaded->data.e_bv.narrow(0, 0, loaded->n)) {}

  // The galaxies' representation as unit rows, one view or averaged over kDihedralViews.
  const torch::Tensor& Representation(bool dihedral) {
    torch::Tensor& x = dihedral ? averaged_ : one_view_;
    if (!x.defined()) {
      log::Info(absl::StrFormat("quality: embedding %d galaxies (%s features, %s)", n_, features_,
                                dihedral ? absl::StrCat("averaged over ", kDihedralViews) : "one view"));
      x = Embed(images_, e_bv_, dihedral);
    }
    return x;
  }

  // Unit rows of the representation of `images`, one view or averaged.
  torch::Tensor Embed(const torch::Tensor& images, const torch::Tensor& e_bv, bool dihedral) {
    loaded_->model.embed.dihedral = dihedral;
    namespace F = torch::nn::functional;
    return F::normalize(FrozenFeatures(loaded_->model, images, e_bv), F::NormalizeFuncOptions().dim(1))
        .contiguous();
  }

  // Each galaxy's k nearest in the standardised aperture-colour space: the classical comparison.
  const torch::Tensor& ColourNeighbours() {
    if (!colour_neighbours_.defined()) {
      std::vector<int64_t> all(static_cast<size_t>(n_));
      std::iota(all.begin(), all.end(), 0);
      int dim = 0;
      const std::vector<double> colours = ApertureColourRows(loaded_->data, all, &dim);
      torch::Tensor c = torch::tensor(colours, torch::kFloat64).view({n_, dim}).to(torch::kFloat32);
      c = (c - c.mean(0)) / c.std(0).clamp_min(1e-6);
      colour_neighbours_ = Neighbours(c, k_, /*euclidean=*/true);
    }
    return colour_neighbours_;
  }

  // The median |dz|/(1+z) to k galaxies drawn at random for each (torch's generator, seed 0).
  double RandomDz(const torch::Tensor& z) {
    if (random_dz_ < 0) {
      torch::manual_seed(0);
      random_dz_ = NeighbourDz(torch::randint(n_, {n_, k_}, torch::kInt64), z);
    }
    return random_dz_;
  }

  // The squared whitened norm of [one view, the turn average] of each galaxy (kMahalanobisTurns).
  absl::StatusOr<std::vector<double>> TurnsScores() {
    if (turns_.empty()) {
      const torch::Tensor joined = torch::cat({Representation(false), Representation(true)}, 1).contiguous();
      GALAXY_ASSIGN_OR_RETURN(const CatalogWhitening whitening,
                              FitCatalogWhitening(joined.data_ptr<float>(), n_, static_cast<int>(joined.size(1)),
                                                  kAnomalyShrinkage, kWhiteningMaxRows));
      turns_ = SquaredWhitenedNorms(whitening, joined.data_ptr<float>(), n_);
    }
    return turns_;
  }

  const TrainingData& data() const { return loaded_->data; }
  int64_t n() const { return n_; }
  const torch::Tensor& images() const { return images_; }
  const torch::Tensor& e_bv() const { return e_bv_; }

 private:
  Loaded* loaded_;
  int64_t n_;
  int k_;
  std::string features_;
  torch::Tensor images_, e_bv_;
  torch::Tensor one_view_, averaged_, colour_neighbours_;
  double random_dz_ = -1;
  std::vector<double> turns_;
};

absl::StatusOr<Loaded> LoadForQuality(const QualityOptions& o) {
  if (o.model_path.empty()) return absl::InvalidArgumentError("--model: required");
  if (o.data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (o.k < 1 || o.k > 1000) return absl::InvalidArgumentError(absl::StrCat("--k: ", o.k, " is outside 1..1000"));
  if (o.max_galaxies < 1) return absl::InvalidArgumentError(absl::StrCat("--max-galaxies: ", o.max_galaxies, " < 1"));
  if (o.stability_queries < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--stability-queries: ", o.stability_queries, " < 1"));
  }
  Loaded loaded;
  GALAXY_ASSIGN_OR_RETURN(loaded.model, LoadFrozenModel(o.model_path, o.features, o.device, o.threads));
  RowSelection rows;
  rows.extra_columns = {"type", "anomaly_kind"};
  GALAXY_ASSIGN_OR_RETURN(loaded.data, LoadTrainingData(o.data_path, rows));
  loaded.n = std::min(loaded.data.size(), o.max_galaxies);
  if (loaded.n < 2 * o.k) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.data_path, ": ", loaded.n, " galaxies; need at least ", 2 * o.k));
  }
  return loaded;
}

// The report on o.dihedral's representation of the galaxies `shared` measures.
absl::StatusOr<QualityReport> Measure(const QualityOptions& o, SharedMeasures& shared) {
  const TrainingData& data = shared.data();
  const int64_t n = shared.n();
  const torch::Tensor& x = shared.Representation(o.dihedral);
  if (!o.embeddings_path.empty()) {
    GALAXY_RETURN_IF_ERROR(WriteNpy(o.embeddings_path, "<f4", {x.size(0), x.size(1)}, x.data_ptr<float>(),
                                    x.numel() * static_cast<int64_t>(sizeof(float))));
  }
  QualityReport report;
  report.dihedral = o.dihedral;
  report.features = o.features;
  report.galaxies = n;
  report.k = o.k;
  torch::Tensor score;
  const torch::Tensor neighbours = Neighbours(x, o.k, /*euclidean=*/false, &score);
  const torch::Tensor& colour_neighbours = shared.ColourNeighbours();
  const torch::Tensor everyone = torch::arange(n, torch::kInt64);

  if (auto it = data.extra.find("type"); it != data.extra.end()) {
    const torch::Tensor type = it->second.narrow(0, 0, n).to(torch::kInt64);
    report.type_precision = SameLabelPrecision(neighbours, type, everyone);
    report.type_precision_colour = SameLabelPrecision(colour_neighbours, type, everyone);
    const torch::Tensor share = torch::bincount(type).to(torch::kFloat64) / static_cast<double>(n);
    report.type_precision_chance = share.pow(2).sum().item<double>();
  }
  const torch::Tensor z = data.redshift.narrow(0, 0, n).to(torch::kFloat64);
  if (torch::isfinite(z).all().item<bool>()) {
    report.dz_median = NeighbourDz(neighbours, z);
    report.dz_median_colour = NeighbourDz(colour_neighbours, z);
    report.dz_median_random = shared.RandomDz(z);
  }

  // Stability under the augmentations' symmetries.
  const int64_t q = std::min(o.stability_queries, n);
  const torch::Tensor first = everyone.narrow(0, 0, q);
  const torch::Tensor own = neighbours.narrow(0, 0, q);
  const torch::Tensor images = shared.images().narrow(0, 0, q);
  auto overlap_with = [&](const torch::Tensor& changed) {
    const torch::Tensor y = shared.Embed(changed, shared.e_bv().narrow(0, 0, q), o.dihedral);
    return Overlap(own, NeighboursOf(y, x, first, o.k));
  };
  report.rotation_overlap = overlap_with(torch::rot90(images, 1, {2, 3}));
  report.flip_overlap = overlap_with(images.flip({3}));

  // Anomalies.
  if (auto it = data.extra.find("anomaly_kind"); it != data.extra.end()) {
    const torch::Tensor kinds = it->second.narrow(0, 0, n).to(torch::kInt64);
    const std::vector<double> s(score.data_ptr<float>(), score.data_ptr<float>() + n);
    std::vector<int64_t> kind(kinds.data_ptr<int64_t>(), kinds.data_ptr<int64_t>() + n);
    std::vector<bool> anomalous(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) anomalous[static_cast<size_t>(i)] = kind[static_cast<size_t>(i)] != 0;
    if (std::count(anomalous.begin(), anomalous.end(), true) > 0) {
      report.anomaly_auc = RocAuc(s, anomalous);
      const torch::Tensor xc = x.contiguous();
      IsolationForestOptions forest;
      const std::vector<double> iforest = IsolationForestScores(xc.data_ptr<float>(), n, xc.size(1), forest);
      const std::vector<double> combined = MeanRank(s, iforest);
      const int dim = static_cast<int>(xc.size(1));
      GALAXY_ASSIGN_OR_RETURN(const CatalogWhitening whitening,
                              FitCatalogWhitening(xc.data_ptr<float>(), n, dim, kAnomalyShrinkage, kWhiteningMaxRows));
      const std::vector<double> mahalanobis = SquaredWhitenedNorms(whitening, xc.data_ptr<float>(), n);
      // The same distance of [one view, the turn average] (kMahalanobisTurns), when asked for.
      std::vector<double> turns;
      if (o.turns_score) {
        GALAXY_ASSIGN_OR_RETURN(turns, shared.TurnsScores());
        report.turns_anomaly_auc = RocAuc(turns, anomalous);
      }
      report.mahalanobis_anomaly_auc = RocAuc(mahalanobis, anomalous);
      report.iforest_anomaly_auc = RocAuc(iforest, anomalous);
      report.combined_anomaly_auc = RocAuc(combined, anomalous);
      const int64_t top = std::max<int64_t>(1, n / 100);
      const torch::Tensor top_rows = std::get<1>(score.topk(top));
      const torch::Tensor top_kinds = kinds.index_select(0, top_rows);
      report.top1_precision = (top_kinds != 0).to(torch::kFloat64).mean().item<double>();
      const torch::Tensor mahalanobis_top = std::get<1>(torch::tensor(mahalanobis, torch::kFloat64).topk(top));
      report.mahalanobis_top1_precision =
          (kinds.index_select(0, mahalanobis_top) != 0).to(torch::kFloat64).mean().item<double>();
      for (int k = 1; k < kAnomalyKinds; ++k) {
        // This kind against the normal galaxies: the rows compared, and which of them are this kind.
        std::vector<size_t> compared;
        std::vector<bool> positive;
        std::vector<int64_t> members;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t ki = kind[static_cast<size_t>(i)];
          if (ki != 0 && ki != k) continue;
          compared.push_back(static_cast<size_t>(i));
          positive.push_back(ki == k);
          if (ki == k) members.push_back(i);
        }
        if (members.empty()) continue;
        auto auc = [&](const std::vector<double>& score) {
          std::vector<double> rows;
          rows.reserve(compared.size());
          for (size_t i : compared) rows.push_back(score[i]);
          return RocAuc(rows, positive);
        };
        AnomalyKindQuality quality;
        quality.kind = k;
        quality.name = AnomalyKindName(static_cast<AnomalyKind>(k));
        quality.count = static_cast<int64_t>(members.size());
        quality.auc = auc(s);
        quality.iforest_auc = auc(iforest);
        quality.combined_auc = auc(combined);
        quality.mahalanobis_auc = auc(mahalanobis);
        if (o.turns_score) quality.turns_auc = auc(turns);
        quality.found_in_top1 = (top_kinds == k).sum().item<double>() / static_cast<double>(members.size());
        quality.same_kind_precision = SameLabelPrecision(neighbours, kinds, torch::tensor(members, torch::kInt64));
        report.kinds.push_back(quality);
      }
    }
  }
  return report;
}

}  // namespace

absl::StatusOr<QualityReport> RunQuality(const QualityOptions& o) {
  GALAXY_ASSIGN_OR_RETURN(Loaded loaded, LoadForQuality(o));
  SharedMeasures shared(&loaded, o);
  return Measure(o, shared);
}

absl::StatusOr<QualityPair> RunQualityBothViews(const QualityOptions& o) {
  GALAXY_ASSIGN_OR_RETURN(Loaded loaded, LoadForQuality(o));
  SharedMeasures shared(&loaded, o);
  QualityOptions averaged = o, one_view = o;
  averaged.dihedral = true;
  one_view.dihedral = false;
  one_view.embeddings_path.clear();
  QualityPair pair;
  GALAXY_ASSIGN_OR_RETURN(pair.averaged, Measure(averaged, shared));
  GALAXY_ASSIGN_OR_RETURN(pair.one_view, Measure(one_view, shared));
  return pair;
}

std::string QualityReport::Markdown() const {
  std::string md = absl::StrFormat("Representation quality: %d galaxies, k = %d; %s features%s\n\n"
                                   "| measure | representation | aperture colours | random |\n| --- | --- | --- | --- |\n",
                                   galaxies, k, features,
                                   dihedral ? absl::StrCat(", averaged over ", kDihedralViews) : "");
  absl::StrAppendFormat(&md, "| same-type precision@%d | %s | %s | %s |\n", k, Optional(type_precision, "%.3f"),
                        Optional(type_precision_colour, "%.3f"), Optional(type_precision_chance, "%.3f"));
  absl::StrAppendFormat(&md, "| neighbours' median abs(dz)/(1+z) | %s | %s | %s |\n", Optional(dz_median, "%.4f"),
                        Optional(dz_median_colour, "%.4f"), Optional(dz_median_random, "%.4f"));
  absl::StrAppendFormat(&md, "\nTop-%d overlap with the image turned by 90 degrees: %.3f; mirrored: %.3f\n", k,
                        rotation_overlap, flip_overlap);
  if (!kinds.empty()) {
    absl::StrAppendFormat(&md,
                          "\nAnomaly score (mean cosine distance to the %d nearest): ROC AUC %.3f over all kinds; "
                          "anomalies make up %.3f of the top 1%%. Isolation forest: ROC AUC %.3f; both scores' "
                          "mean rank: %.3f. Mahalanobis distance: ROC AUC %.3f, anomalies %.3f of its top 1%%; "
                          "of one view joined with its turn average: %s\n\n"
                          "| kind | count | ROC AUC | isolation forest AUC | mean-rank AUC | Mahalanobis AUC | "
                          "Mahalanobis with turns AUC | found in the top 1%% | same-kind precision@%d |\n"
                          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
                          k, anomaly_auc, top1_precision, iforest_anomaly_auc, combined_anomaly_auc,
                          mahalanobis_anomaly_auc, mahalanobis_top1_precision, Optional(turns_anomaly_auc, "%.3f"), k);
    for (const AnomalyKindQuality& q : kinds) {
      absl::StrAppendFormat(&md, "| %s | %d | %.3f | %.3f | %.3f | %.3f | %s | %.3f | %.3f |\n", q.name, q.count,
                            q.auc, q.iforest_auc, q.combined_auc, q.mahalanobis_auc, Optional(q.turns_auc, "%.3f"),
                            q.found_in_top1,
                            q.same_kind_precision);
    }
  }
  return md;
}

std::string QualityReport::Json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const AnomalyKindQuality& q : kinds) {
    list.push_back({{"kind", q.name}, {"anomaly_kind", q.kind}, {"count", q.count}, {"auc", q.auc},
                    {"iforest_auc", q.iforest_auc}, {"combined_auc", q.combined_auc},
                    {"mahalanobis_auc", q.mahalanobis_auc}, {"turns_auc", q.turns_auc},
                    {"found_in_top1", q.found_in_top1}, {"same_kind_precision", q.same_kind_precision}});
  }
  return nlohmann::json({{"galaxies", galaxies},
                         {"k", k},
                         {"dihedral", dihedral},
                         {"features", features},
                         {"type_precision", type_precision},
                         {"type_precision_colour", type_precision_colour},
                         {"type_precision_chance", type_precision_chance},
                         {"dz_median", dz_median},
                         {"dz_median_colour", dz_median_colour},
                         {"dz_median_random", dz_median_random},
                         {"rotation_overlap", rotation_overlap},
                         {"flip_overlap", flip_overlap},
                         {"anomaly_auc", anomaly_auc},
                         {"iforest_anomaly_auc", iforest_anomaly_auc},
                         {"combined_anomaly_auc", combined_anomaly_auc},
                         {"mahalanobis_anomaly_auc", mahalanobis_anomaly_auc},
                         {"mahalanobis_top1_precision", mahalanobis_top1_precision},
                         {"turns_anomaly_auc", turns_anomaly_auc},
                         {"top1_precision", top1_precision},
                         {"anomaly_kinds", list}})
      .dump(2);
}

}  // namespace galaxy
