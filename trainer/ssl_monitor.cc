#include "trainer/ssl_monitor.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset_split.h"
#include "data/photoz/photoz_baseline.h"
#include "data/photoz/photoz_metrics.h"
#include "model/torch_compat.h"
#include "trainer/galaxy_features.h"

namespace galaxy {
namespace {

// Rows of `data` in split part `part` with a finite redshift, at most `limit` of them.
std::vector<int64_t> PickRows(const TrainingData& data, SplitPart part, int64_t limit) {
  SplitFractions fractions;  // the default 0.8 / 0.1 / 0.1
  const torch::Tensor z = data.redshift.to(torch::kCPU, torch::kFloat64);
  const double* zp = z.data_ptr<double>();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < data.size() && static_cast<int64_t>(rows.size()) < limit; ++i) {
    if (!std::isfinite(zp[i]) || zp[i] < 0) continue;
    if (SplitOf(data.ids[static_cast<size_t>(i)], /*seed=*/0, fractions) == part) rows.push_back(i);
  }
  return rows;
}

// kNN redshift sigma_MAD and type accuracy of queries against references (cosine similarity).
void Score(const torch::Tensor& reference, const torch::Tensor& queries, const torch::Tensor& ref_z,
           const torch::Tensor& query_z, const torch::Tensor& ref_type, const torch::Tensor& query_type, int k,
           double* sigma_mad, double* accuracy) {
  const int64_t kk = std::min<int64_t>(k, reference.size(0));
  const torch::Tensor neighbours = std::get<1>(torch::mm(queries, reference.t()).topk(kk, 1));
  const torch::Tensor z_hat = ref_z.index({neighbours}).mean(1);
  const absl::StatusOr<PhotozMetrics> m = ComputePhotozMetrics(ToDoubles(z_hat), ToDoubles(query_z));
  *sigma_mad = m.ok() ? m->sigma_mad : std::nan("");
  if (!ref_type.defined()) return;
  const int64_t classes = std::max(ref_type.max().item<int64_t>(), query_type.max().item<int64_t>()) + 1;
  const torch::Tensor votes = torch::one_hot(ref_type.index({neighbours}), classes).sum(1);
  *accuracy = (votes.argmax(1) == query_type).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

std::string SslMonitorReading::Line() const {
  std::string line = absl::StrFormat("step %d: kNN z sigma_MAD %.4f (backbone) %.4f (projection)", step,
                                     z_sigma_mad_backbone, z_sigma_mad_projection);
  if (type_accuracy_backbone >= 0) {
    absl::StrAppendFormat(&line, "; kNN type accuracy %.3f (backbone) %.3f (projection)", type_accuracy_backbone,
                          type_accuracy_projection);
  }
  return line;
}

std::string SslMonitorReading::Json() const {
  std::string json = absl::StrFormat(
      "{\"step\":%d,\"knn_z_sigma_mad_backbone\":%.6f,\"knn_z_sigma_mad_projection\":%.6f", step,
      z_sigma_mad_backbone, z_sigma_mad_projection);
  if (type_accuracy_backbone >= 0) {
    absl::StrAppendFormat(&json, ",\"knn_type_accuracy_backbone\":%.6f,\"knn_type_accuracy_projection\":%.6f",
                          type_accuracy_backbone, type_accuracy_projection);
  }
  return json + "}";
}

absl::StatusOr<SslMonitor> SslMonitor::Create(const TrainingData& data, const SslMonitorOptions& options) {
  const std::vector<int64_t> reference = PickRows(data, SplitPart::kTrain, options.reference);
  const std::vector<int64_t> queries = PickRows(data, SplitPart::kTest, options.queries);
  if (static_cast<int64_t>(reference.size()) <= options.k || queries.size() < 10) {
    return absl::FailedPreconditionError(absl::StrCat(
        data.path, ": the representation monitor needs redshifts: ", reference.size(), " reference and ",
        queries.size(), " query galaxies have one (need more than ", options.k, " and at least 10)"));
  }
  SslMonitor monitor;
  monitor.options_ = options;
  monitor.images_ = data.images;  // shares the training data's storage, no copy
  monitor.e_bv_ = data.e_bv;
  monitor.crop_ = std::min<int64_t>(options.crop, data.images.size(2));
  auto take = [&](const std::vector<int64_t>& rows, torch::Tensor* index, torch::Tensor* z, torch::Tensor* type) {
    const torch::Tensor cpu = torch::tensor(rows, torch::kInt64);
    *index = cpu.to(data.images.device());
    *z = data.redshift.index_select(0, *index).to(torch::kCPU, torch::kFloat64);
    const auto it = data.extra.find("type");
    if (it != data.extra.end()) *type = it->second.to(torch::kCPU).index_select(0, cpu).to(torch::kInt64);
  };
  take(reference, &monitor.reference_rows_, &monitor.reference_z_, &monitor.reference_type_);
  take(queries, &monitor.query_rows_, &monitor.query_z_, &monitor.query_type_);
  // The classical reference on the same galaxies.
  int dim = 0;
  const std::vector<double> ref_colours = ApertureColourRows(data, reference, &dim);
  const std::vector<double> query_colours = ApertureColourRows(data, queries, &dim);
  const std::vector<double> ref_z = ToDoubles(monitor.reference_z_), query_z = ToDoubles(monitor.query_z_);
  absl::StatusOr<KnnRegressor> knn = KnnRegressor::Fit(ref_colours, dim, ref_z, options.k);
  if (knn.ok()) {
    const absl::StatusOr<PhotozMetrics> m = ComputePhotozMetrics(knn->Predict(query_colours), query_z);
    if (m.ok()) monitor.colour_sigma_mad_ = m->sigma_mad;
  }
  return monitor;
}

SslMonitorReading SslMonitor::Measure(ResNetImpl& encoder, ProjectionHeadImpl& head, int64_t step) const {
  const bool encoder_training = encoder.is_training(), head_training = head.is_training();
  encoder.eval();
  head.eval();
  SslMonitorReading r;
  r.step = step;
  {
    torch::NoGradGuard no_grad;
    namespace F = torch::nn::functional;
    const auto unit = F::NormalizeFuncOptions().dim(1);
    const torch::Device device = images_.device();
    const Embeddings ref = EmbedImages(encoder, &head, images_, e_bv_, crop_, device, reference_rows_);
    const Embeddings query = EmbedImages(encoder, &head, images_, e_bv_, crop_, device, query_rows_);
    const torch::Tensor ref_features = F::normalize(ref.features, unit), ref_projection = F::normalize(ref.projections, unit);
    const torch::Tensor query_features = F::normalize(query.features, unit),
                        query_projection = F::normalize(query.projections, unit);
    Score(ref_features, query_features, reference_z_, query_z_, reference_type_, query_type_, options_.k,
          &r.z_sigma_mad_backbone, &r.type_accuracy_backbone);
    Score(ref_projection, query_projection, reference_z_, query_z_, reference_type_, query_type_, options_.k,
          &r.z_sigma_mad_projection, &r.type_accuracy_projection);
  }
  encoder.train(encoder_training);
  head.train(head_training);
  return r;
}

}  // namespace galaxy
