// How good a frozen representation is for what the server does with it (galaxy-train quality):
// similarity search ("galaxies like this one") and anomaly ranking. On a dataset with truth
// columns (type, anomaly_kind, specz_redshift; the synthetic survey has them all) it measures
//   - same-type precision@k of each galaxy's k nearest neighbours (cosine), beside the same
//     for neighbours in aperture-colour space and for random galaxies (chance);
//   - the neighbours' median |z_neighbour - z| / (1 + z), beside colour space and random;
//   - stability: the overlap of the k neighbours of an image and of its copy turned by 90
//     degrees (and of its mirror image), which the augmentations teach the network to ignore;
//   - for anomalies: the anomaly score the indexer stores (mean cosine distance to the k
//     nearest other galaxies), its ROC AUC per anomaly kind against normal galaxies, the share
//     of each kind found in the top 1% of scores, the precision of the top 1%, and the same-kind
//     precision@k of anomalies; beside it, the ROC AUC of an isolation forest on the same
//     embedding (200 trees of 256, Stein et al.'s method) and of the mean of both scores' ranks.
#ifndef GALAXY_TRAINER_REPRESENTATION_QUALITY_H_
#define GALAXY_TRAINER_REPRESENTATION_QUALITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct QualityOptions {
  // Checkpoint and dataset. Required.
  std::string model_path;
  std::string data_path;
  // "backbone" (default), "stages" (every stage of the backbone pooled, concatenated) or
  // "projection".
  std::string features = "backbone";
  // Average the representation over each image's turns by 90 degrees and mirrors (EmbedImages).
  bool dihedral = false;
  // Neighbours. Default 10.
  int k = 10;
  // Galaxies used (the first ones of the file). Default 50,000.
  int64_t max_galaxies = 50000;
  // Galaxies whose turned and mirrored copies are searched. Default 1,000.
  int64_t stability_queries = 1000;
  // Also measure the anomaly score of one view joined with its turn average (kMahalanobisTurns,
  // what `galaxy-index build --anomaly-score mahalanobis-turns` serves). It needs both
  // representations, so a one-view run embeds every galaxy eight more times; off, the
  // run embeds each galaxy once and the turns AUCs stay at -1.
  bool turns_score = true;
  // When set, the measured representation (unit vectors, galaxies x dimensions, float32, the
  // file's first galaxies in order) is written here as .npy, for analysis beside the report.
  std::string embeddings_path;
  std::string device = "auto";
  int threads = 0;
};

struct AnomalyKindQuality {
  int kind = 0;
  std::string name;
  int64_t count = 0;
  double auc = 0;             // ROC AUC of the anomaly score against normal galaxies
  double iforest_auc = 0;     // the same for the isolation forest's score
  double combined_auc = 0;    // and for the mean of both scores' ranks
  double mahalanobis_auc = 0; // and for the Mahalanobis distance from the catalog's mean (as served)
  // and for the Mahalanobis distance of the one-view representation joined with its average over
  // the image's turns and mirrors (`galaxy-index build --anomaly-score mahalanobis-turns`)
  double turns_auc = -1;      // -1: not measured (QualityOptions::turns_score off)
  double found_in_top1 = 0;   // share of this kind among the top 1% of scores
  double same_kind_precision = 0;  // of its k neighbours, the share of the same kind
};

struct QualityReport {
  int64_t galaxies = 0;
  int k = 10;
  // Whether the representation was averaged over each image's turns and mirrors (then exactly
  // invariant to the 90-degree turn and the mirror image that the overlaps below measure).
  bool dihedral = false;
  // The frozen representation read (QualityOptions::features).
  std::string features = "backbone";
  // Same-type precision@k: representation, aperture-colour space, chance (sum of p_type^2).
  double type_precision = -1, type_precision_colour = -1, type_precision_chance = -1;
  // Median over galaxies of the neighbours' median |dz| / (1 + z).
  double dz_median = -1, dz_median_colour = -1, dz_median_random = -1;
  // Mean top-k overlap between an image and its 90-degree turned / mirrored copy.
  double rotation_overlap = 0, flip_overlap = 0;
  // Anomalies (empty without an anomaly_kind column or without anomalies).
  double anomaly_auc = -1;          // all kinds together
  double iforest_anomaly_auc = -1;  // the isolation forest's score (trainer/isolation_forest.h)
  double combined_anomaly_auc = -1; // the mean of the two scores' ranks
  // The squared Mahalanobis distance from the catalog's mean, exactly as `galaxy-index build`
  // stores it (core/whitening/catalog_whitening.h: the covariance of up to 20,000 evenly spaced
  // galaxies, shrinkage kAnomalyShrinkage): a global outlier score, which unlike the k-nearest
  // score does not call a tight group of alike anomalies normal.
  double mahalanobis_anomaly_auc = -1;
  double mahalanobis_top1_precision = -1;  // share of anomalies among its top 1%
  // The Mahalanobis distance of [one view, the average over the eight turns and mirrors]
  // (indexer/anomaly_score.h, kMahalanobisTurns), whichever of the two the report reads: the
  // average holds what does not turn (rings), the difference what does (mergers).
  double turns_anomaly_auc = -1;
  double top1_precision = -1;       // share of anomalies among the top 1% of scores
  std::vector<AnomalyKindQuality> kinds;
  std::string Markdown() const;
  // `galaxy-train quality --json`, also the form the science report saves each seed's quality
  // in (trainer/science_seed.h). Each of "anomaly_kinds" names its kind and gives its value in
  // the data's anomaly_kind column ("anomaly_kind").
  std::string Json() const;
};

// INVALID_ARGUMENT for bad options; FAILED_PRECONDITION for fewer than 2k galaxies; errors of
// the checkpoint and dataset readers pass through. Metrics whose truth column is missing stay
// at -1 (and are left out of the markdown).
absl::StatusOr<QualityReport> RunQuality(const QualityOptions& options);

// The report on the representation averaged over the turns and mirrors and the one on one view
// (what the index stores), on the same galaxies: each representation is embedded once, where two
// RunQuality calls would embed both twice (each report's score with turns reads the other), and
// the colour-space neighbours and the score with turns, the same in both reports, are computed once.
// options.dihedral is ignored; options.embeddings_path receives the averaged representation.
struct QualityPair {
  QualityReport averaged;
  QualityReport one_view;
};
absl::StatusOr<QualityPair> RunQualityBothViews(const QualityOptions& options);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_REPRESENTATION_QUALITY_H_
