// Heads on top of the backbone: the MoCo projection MLP and the photometric-redshift classifier.
// Include only from .cc files that already use LibTorch.
#ifndef GALAXY_MODEL_HEADS_H_
#define GALAXY_MODEL_HEADS_H_

#include <torch/torch.h>

#include <memory>

#include "model/sync_batch_norm.h"

namespace galaxy {

// MoCo v2 projection head: Linear(d, d) - ReLU - Linear(d, out) (2048 -> 2048 -> 128 for
// ResNet50).
struct ProjectionHeadImpl : torch::nn::Module {
  ProjectionHeadImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ProjectionHead);

// The binning of the redshift classifier: `bins` equal bins on [z_min, z_max].
struct RedshiftBins {
  double z_min = 0.0, z_max = 0.4;
  int64_t bins = 180;
  double width() const { return (z_max - z_min) / static_cast<double>(bins); }
  // Bin centres, `bins` values.
  torch::Tensor Centres(torch::Device device = torch::kCPU) const;
  // Index of the bin holding z (clamped to the range). z: N -> N int64.
  torch::Tensor Index(const torch::Tensor& z) const;
};

// Redshift head: [BatchNorm1d(d)] - Linear(d, d/2) - ReLU - Linear(d/2, bins), logits over
// redshift bins. The input BatchNorm (input_norm) puts a pretrained backbone's features, whose
// scale MoCo leaves arbitrary, on the scale the head's learning rate is meant for (as linear
// probes of self-supervised models do).
struct RedshiftHeadImpl : torch::nn::Module {
  RedshiftHeadImpl(int64_t in, int64_t bins, bool input_norm = false);
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::BatchNorm1d norm{nullptr};
  // Set: the input BatchNorm trains with the statistics of the batch across the processes of
  // the group (model/sync_batch_norm.h), as the backbone's (ResNetImpl::SetBatchNormSync).
  std::shared_ptr<BatchNormSync> norm_sync;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(RedshiftHead);

// From logits (N x bins): the pdf softmax(logits / temperature); the point estimate z, the mean
// of the head's own pdf softmax(logits) whatever the temperature (calibration widens or sharpens
// the pdf and leaves the estimate the model was chosen by); sigma, the pdf's root-mean-square
// distance from z (its standard deviation at T = 1); and the logits as given. `temperature` is
// the model's calibration (ModelMetadata::redshift_temperature, FitPdfTemperature).
struct RedshiftEstimate {
  torch::Tensor pdf, mean, sigma, logits;
};
RedshiftEstimate EstimateRedshift(const torch::Tensor& logits, const RedshiftBins& bins, double temperature = 1.0);

// Temperature scaling of the redshift pdfs (after Guo et al. 2017): the T in
// [kMinPdfTemperature, kMaxPdfTemperature] whose pdfs softmax(logits / T) give the known
// redshifts z_true the lowest mean CRPS (ScorePdf), found by golden-section search on log T.
// CRPS is a proper score: the pdfs that minimise it are the calibrated ones, and, unlike the
// log-likelihood, a few far outliers do not set the width of everyone's pdf. T > 1 widens pdfs
// that are too sure of themselves, T < 1 sharpens pdfs that are too wide. 1 when no T does
// better, or no galaxies are given. logits: N x bins; z_true: N.
inline constexpr double kMinPdfTemperature = 0.25, kMaxPdfTemperature = 4.0;
struct PdfTemperatureFit {
  double temperature = 1;
  // Mean CRPS at T = 1 and at the fitted T.
  double crps_before = 0, crps_after = 0;
};
PdfTemperatureFit FitPdfTemperature(const torch::Tensor& logits, const torch::Tensor& z_true,
                                    const RedshiftBins& bins);

// How well binned pdfs (N x bins, rows summing to 1, uniform within each bin) describe the true
// redshifts z_true (N): the probability integral transform PIT = CDF(z_true) (uniform on [0, 1]
// for calibrated pdfs; z_true inside the central 68% interval exactly when 0.16 <= PIT <= 0.84)
// and the continuous ranked probability score CRPS = integral (CDF(z) - H(z - z_true))^2 dz over
// [z_min, z_max], in redshift units (lower is better). Both N, float64, on the pdf's device.
struct PdfScores {
  torch::Tensor pit, crps;
};
PdfScores ScorePdf(const torch::Tensor& pdf, const torch::Tensor& z_true, const RedshiftBins& bins);

}  // namespace galaxy

#endif  // GALAXY_MODEL_HEADS_H_
