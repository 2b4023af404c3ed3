// The standard check of a self-supervised representation while it trains: embed a fixed,
// labelled held-out sample with the current query encoder (frozen, evaluation mode) and ask how
// well its nearest neighbours predict what we need: redshift (kNN mean, sigma_MAD) and, when the
// data has a `type` column, galaxy type (kNN majority vote, accuracy). Measured on both the
// backbone's features and the projection head's output, since either may serve downstream.
// Labels are read for this measurement only; training never sees them.
//
//   GALAXY_ASSIGN_OR_RETURN(SslMonitor monitor, SslMonitor::Create(data, {}));
//   SslMonitorReading r = monitor.Measure(*moco->encoder_q, *moco->head_q, step);
//
// Include only from .cc files that use LibTorch.
#ifndef GALAXY_TRAINER_SSL_MONITOR_H_
#define GALAXY_TRAINER_SSL_MONITOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/heads.h"
#include "model/resnet.h"
#include "trainer/training_data.h"

namespace galaxy {

struct SslMonitorOptions {
  // Labelled galaxies whose embeddings are searched (from the training part of the default
  // 0.8/0.1/0.1 ID-hash split) and galaxies whose labels are predicted (from its test part).
  // Defaults 2000 and 1000; fewer when the data has fewer.
  int64_t reference = 2000;
  int64_t queries = 1000;
  // Neighbours. Default 20.
  int k = 20;
  // Side of the centre crop the model sees. Default 64.
  int64_t crop = 64;
};

struct SslMonitorReading {
  int64_t step = 0;
  // sigma_MAD of kNN redshift on backbone features and on the projection output.
  double z_sigma_mad_backbone = 0, z_sigma_mad_projection = 0;
  // kNN type accuracy on each (-1 when the data has no type column).
  double type_accuracy_backbone = -1, type_accuracy_projection = -1;
  // One line for logs, and a JSON object.
  std::string Line() const;
  std::string Json() const;
};

class SslMonitor {
 public:
  // Picks the reference and query galaxies (finite redshift) of `data` by ID hash. Shares
  // (does not copy) `data`'s image and E(B-V) tensors, which must not be modified in place
  // while the monitor lives. FAILED_PRECONDITION when fewer than k + 1 reference or
  // fewer than 10 query galaxies have a redshift.
  static absl::StatusOr<SslMonitor> Create(const TrainingData& data, const SslMonitorOptions& options);

  // Embeds the sample with `encoder` and `head` in evaluation mode (restoring their modes after)
  // and scores the neighbours. Not thread-safe with training on the same modules.
  SslMonitorReading Measure(ResNetImpl& encoder, ProjectionHeadImpl& head, int64_t step) const;

  // sigma_MAD of the same kNN on the sample's de-reddened aperture colours and r magnitude
  // (data/photoz/photometry.h): the classical figure the representation's is to be read against.
  double colour_sigma_mad() const { return colour_sigma_mad_; }

  int64_t reference_count() const { return reference_z_.size(0); }
  int64_t query_count() const { return query_z_.size(0); }

 private:
  SslMonitorOptions options_;
  torch::Tensor images_, e_bv_;                    // the training data's (shared storage)
  int64_t crop_ = 64;
  torch::Tensor reference_rows_, query_rows_;      // rows of images_, on its device
  torch::Tensor reference_z_, query_z_;            // float64, CPU
  torch::Tensor reference_type_, query_type_;      // int64, CPU; undefined without types
  double colour_sigma_mad_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_TRAINER_SSL_MONITOR_H_
