#include "trainer/redshift_model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/dataset_split.h"
#include "model/heads.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"
#include "nlohmann/json.hpp"
#include "trainer/train_options.h"

namespace galaxy {

absl::StatusOr<torch::Device> StartOn(const std::string& device, int threads) {
  SetCpuThreads(threads);
  KeepFreedMemoryForReuse();
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(device));
  return kind == DeviceKind::kCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

absl::StatusOr<GalaxyNet> LoadRedshiftModel(const std::string& path, torch::Device device) {
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet net, LoadGalaxyNet(path, device));
  if (!net.metadata.has_redshift_head) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is a ", net.metadata.kind, " checkpoint without a redshift head; fine-tune it first"));
  }
  return net;
}

absl::Status SaveRedshiftModel(GalaxyNet& net, const std::string& path) {
  CheckpointWriter writer(net.metadata);
  writer.AddModule(kBackbonePart, *net.backbone);
  writer.AddModule(kRedshiftPart, *net.redshift);
  if (net.projection) writer.AddModule(kProjectionPart, *net.projection);
  return writer.Save(path);
}

PdfSummary SummarisePdfScores(const std::vector<double>& pit, const std::vector<double>& crps) {
  PdfSummary s;
  s.pit_histogram.assign(10, 0);
  double crps_sum = 0;
  int64_t in_68 = 0, in_95 = 0;
  for (size_t i = 0; i < pit.size(); ++i) {
    const double p = pit[i];
    ++s.pit_histogram[static_cast<size_t>(std::clamp(static_cast<int>(p * 10), 0, 9))];
    in_68 += p >= 0.16 && p <= 0.84;
    in_95 += p >= 0.025 && p <= 0.975;
    crps_sum += crps[i];
  }
  const double count = std::max<double>(1, static_cast<double>(pit.size()));
  s.crps_mean = crps_sum / count;
  s.coverage_68 = static_cast<double>(in_68) / count;
  s.coverage_95 = static_cast<double>(in_95) / count;
  return s;
}

absl::StatusOr<PdfCalibration> CalibratePdfs(GalaxyNet& net, const TrainingData& val, torch::Device device,
                                             const std::string& out_path) {
  std::vector<torch::Tensor> parts;
  EstimateInBatches(net, val, device, 256,
                    [&](int64_t, int64_t, const RedshiftEstimate& e) { parts.push_back(e.logits.cpu()); });
  const torch::Tensor logits = torch::cat(parts).to(torch::kFloat64);
  const PdfTemperatureFit fit = FitPdfTemperature(logits, val.redshift, net.bins);
  const auto coverage_68 = [&](double temperature) {
    const PdfScores scores = ScorePdf(torch::softmax(logits / temperature, 1), val.redshift, net.bins);
    return SummarisePdfScores(ToDoubles(scores.pit), ToDoubles(scores.crps)).coverage_68;
  };
  PdfCalibration c;
  c.temperature = fit.temperature;
  c.galaxies = val.size();
  c.coverage_68_before = coverage_68(1);
  c.coverage_68_after = coverage_68(fit.temperature);
  log::Info(absl::StrFormat(
      "pdf calibration on %d validation galaxies: temperature %.3f (mean CRPS %.5f -> %.5f); 68%% interval holds "
      "%.3f -> %.3f",
      c.galaxies, c.temperature, fit.crps_before, fit.crps_after, c.coverage_68_before, c.coverage_68_after));
  net.metadata.redshift_temperature = fit.temperature;
  GALAXY_RETURN_IF_ERROR(SaveRedshiftModel(net, out_path));
  return c;
}

double RecordedValidationFraction(const std::string& training_json) {
  const nlohmann::json t = nlohmann::json::parse(training_json, nullptr, /*allow_exceptions=*/false);
  if (!t.is_object()) return 1.0;
  FinetuneOptions recorded;
  const nlohmann::json labels = t.value("validation_labels", nlohmann::json());
  const nlohmann::json fraction = t.value("label_fraction", nlohmann::json());
  if (labels.is_string()) recorded.validation_labels = labels.get<std::string>();
  if (fraction.is_number()) recorded.label_fraction = fraction.get<double>();
  // A record that names neither choice, or a fraction outside (0, 1], calibrates on every label.
  if (!ValidateValidationLabels(recorded.validation_labels).ok() ||
      !(recorded.label_fraction > 0 && recorded.label_fraction <= 1)) {
    return 1.0;
  }
  return recorded.ValidationFraction();
}

absl::StatusOr<PdfCalibration> RunCalibrate(const CalibrateOptions& options) {
  GALAXY_ASSIGN_OR_RETURN(const torch::Device device, StartOn(options.device, options.threads));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions fractions, ParseSplitFractions(options.fractions));
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet net, LoadRedshiftModel(options.model_path, device));
  RowSelection val_rows = LabelledPart(SplitPart::kValidation, fractions, options.split_seed);
  val_rows.label_fraction = RecordedValidationFraction(net.metadata.training_json);
  GALAXY_ASSIGN_OR_RETURN(TrainingData val, LoadTrainingData(options.data_path, val_rows));
  try {
    return CalibratePdfs(net, val, device, options.out_path.empty() ? options.model_path : options.out_path);
  } catch (const std::exception& e) {
    return StatusFromException(e, "pdf calibration");
  }
}

}  // namespace galaxy
