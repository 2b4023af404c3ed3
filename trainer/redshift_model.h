// What the redshift commands (trainer/redshift_training.h: training, calibration, evaluation)
// share about a network with a redshift head: where they run, its estimates batch by batch,
// saving it, fitting its pdfs' temperature, and summarising how well pdfs describe known
// redshifts. Include only from .cc files that already use LibTorch.
#ifndef GALAXY_TRAINER_REDSHIFT_MODEL_H_
#define GALAXY_TRAINER_REDSHIFT_MODEL_H_

#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "trainer/redshift_training.h"
#include "trainer/training_data.h"

namespace galaxy {

// What every redshift command starts with: its CPU threads, the cache of large freed blocks, and
// the device it runs on (`device`: cpu | cuda | auto).
absl::StatusOr<torch::Device> StartOn(const std::string& device, int threads);

// The network's redshift estimate of every galaxy of `data`, `batch` galaxies at a time, without
// gradients and with the backbone and the head in evaluation mode: visit(start, n, estimate) for
// each batch of rows [start, start + n). Each part's mode is put back as it was: during a head
// warm-up the backbone is in eval mode and the head is training.
template <typename Visit>
void EstimateInBatches(GalaxyNet& net, const TrainingData& data, torch::Device device, int64_t batch, Visit&& visit) {
  torch::NoGradGuard no_grad;
  const bool backbone_training = net.backbone->is_training(), head_training = net.redshift->is_training();
  net.backbone->eval();
  net.redshift->eval();
  GalaxyNet::Parts parts;
  parts.embedding = false;
  parts.redshift = true;
  for (int64_t start = 0; start < data.size(); start += batch) {
    const int64_t n = std::min(batch, data.size() - start);
    visit(start, n, net.Infer(data.images.narrow(0, start, n), data.e_bv.narrow(0, start, n), device, parts).redshift);
  }
  net.backbone->train(backbone_training);
  net.redshift->train(head_training);
}

// The network of a checkpoint with a redshift head, on `device`; FAILED_PRECONDITION naming the
// checkpoint when it has none (a pretrained model: fine-tune it first).
absl::StatusOr<GalaxyNet> LoadRedshiftModel(const std::string& path, torch::Device device);

// A redshift training's model: backbone, redshift head, and the projection head when it has one.
absl::Status SaveRedshiftModel(GalaxyNet& net, const std::string& path);

// How well pdfs describe known redshifts, from each galaxy's PIT and CRPS (model/heads.h
// ScorePdf): the PIT histogram in 10 equal bins (flat when calibrated), the mean CRPS, and the
// fractions of true redshifts inside the central 68% (0.16 <= PIT <= 0.84) and 95% intervals.
struct PdfSummary {
  std::vector<int64_t> pit_histogram;
  double crps_mean = 0, coverage_68 = 0, coverage_95 = 0;
};
PdfSummary SummarisePdfScores(const std::vector<double>& pit, const std::vector<double>& crps);

// Fits the pdfs' temperature of `net` on the galaxies `val` (model/heads.h FitPdfTemperature)
// and writes the network with it to `out_path`. `val` is not empty (loading the data refuses a
// selection that matches no galaxy).
absl::StatusOr<PdfCalibration> CalibratePdfs(GalaxyNet& net, const TrainingData& val, torch::Device device,
                                             const std::string& out_path);

// The share of the validation part's labels a redshift model was trained with, from its record
// (ModelMetadata::training_json): its label fraction when it was trained with
// `--validation-labels label-fraction`, otherwise (and for a record without it) 1.
double RecordedValidationFraction(const std::string& training_json);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_REDSHIFT_MODEL_H_
