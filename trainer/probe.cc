#include "trainer/probe.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/dataset_split.h"
#include "core/ingest_catalog.h"
#include "core/log.h"
#include "core/model/augment.h"
#include "core/progress.h"
#include "core/model/checkpoint.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/galaxy_features.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

constexpr int64_t kMaxClasses = 1000;

absl::Status Validate(const ProbeOptions& o) {
  if (o.model_path.empty()) return absl::InvalidArgumentError("--model: required");
  if (o.data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (o.label_column.empty()) return absl::InvalidArgumentError("--label: required");
  if (o.fractions.empty()) return absl::InvalidArgumentError("--fractions: at least one");
  for (double f : o.fractions) {
    if (!(f > 0 && f <= 1)) return absl::InvalidArgumentError(absl::StrCat("--fractions: ", f, " is outside (0, 1]"));
  }
  if (o.steps < 1) return absl::InvalidArgumentError(absl::StrCat("--steps: ", o.steps, " < 1"));
  if (!(o.lr > 0)) return absl::InvalidArgumentError(absl::StrCat("--lr: ", o.lr, " must be > 0"));
  if (!(o.weight_decay >= 0)) return absl::InvalidArgumentError(absl::StrCat("--weight-decay: ", o.weight_decay, " < 0"));
  if (o.scratch_steps < 0) return absl::InvalidArgumentError(absl::StrCat("--scratch-steps: ", o.scratch_steps, " < 0"));
  if (o.scratch_batch < 2) return absl::InvalidArgumentError(absl::StrCat("--scratch-batch: ", o.scratch_batch, " < 2"));
  if (!(o.scratch_lr > 0)) return absl::InvalidArgumentError(absl::StrCat("--scratch-lr: ", o.scratch_lr, " must be > 0"));
  return absl::OkStatus();
}

// The label of every row (-1: unlabelled): the dataset's column, or the CSV's joined by ObjID.
absl::StatusOr<std::vector<int64_t>> Labels(const ProbeOptions& o, const TrainingData& data) {
  std::vector<double> values(static_cast<size_t>(data.size()), std::nan(""));
  if (o.labels_csv.empty()) {
    const auto it = data.extra.find(o.label_column);
    if (it == data.extra.end()) {
      return absl::NotFoundError(absl::StrCat(o.data_path, ": no column '", o.label_column,
                                              "' (give --labels CSV with ObjID and ", o.label_column, ")"));
    }
    const torch::Tensor column = it->second.to(torch::kCPU, torch::kFloat64).contiguous();
    std::copy(column.data_ptr<double>(), column.data_ptr<double>() + column.numel(), values.begin());
  } else {
    GALAXY_ASSIGN_OR_RETURN(InputCatalog csv, ReadNumericCsv(o.labels_csv));
    const auto ids = csv.integers.find("ObjID");
    const auto labels = csv.values.find(o.label_column);
    if (ids == csv.integers.end() || labels == csv.values.end()) {
      return absl::InvalidArgumentError(absl::StrCat(o.labels_csv, ": needs integer column 'ObjID' and column '",
                                                     o.label_column, "'"));
    }
    std::unordered_map<int64_t, double> by_id;
    for (int64_t r = 0; r < csv.rows; ++r) by_id[ids->second[static_cast<size_t>(r)]] = labels->second[static_cast<size_t>(r)];
    int64_t joined = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      if (auto hit = by_id.find(data.ids[i]); hit != by_id.end()) {
        values[i] = hit->second;
        ++joined;
      }
    }
    log::Info(absl::StrFormat("probe: %d of %d CSV labels joined to galaxies of %s", joined, csv.rows, o.data_path));
  }
  std::vector<int64_t> out(values.size(), -1);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v) || v < 0) continue;
    if (v != std::floor(v) || v >= kMaxClasses) {
      return absl::FailedPreconditionError(absl::StrCat(
          "label '", o.label_column, "' of galaxy ", data.ids[i], " is ", v, ": classes must be integers in 0..",
          kMaxClasses - 1));
    }
    out[i] = static_cast<int64_t>(v);
  }
  return out;
}

// Multinomial logistic regression, full batch, Adam; returns the test part's predictions.
torch::Tensor FitAndPredict(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                            int64_t classes, const ProbeOptions& o) {
  torch::manual_seed(o.seed);
  torch::nn::Linear linear(train_x.size(1), classes);
  torch::optim::Adam adam(linear->parameters(), torch::optim::AdamOptions(o.lr));
  for (int step = 0; step < o.steps; ++step) {
    adam.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(linear(train_x), train_y) +
                         o.weight_decay * linear->weight.pow(2).sum();
    loss.backward();
    adam.step();
  }
  torch::NoGradGuard no_grad;
  return linear(test_x).argmax(1);
}

// Recall per class from true and predicted classes (int64 tensors of one length).
std::vector<double> RecallPerClass(const torch::Tensor& truth, const torch::Tensor& predicted, int64_t classes,
                                   std::vector<std::vector<int64_t>>* confusion) {
  std::vector<std::vector<int64_t>> matrix(static_cast<size_t>(classes), std::vector<int64_t>(static_cast<size_t>(classes), 0));
  const torch::Tensor t = truth.contiguous(), p = predicted.to(torch::kCPU).contiguous();
  for (int64_t i = 0; i < t.size(0); ++i) {
    ++matrix[static_cast<size_t>(t.data_ptr<int64_t>()[i])][static_cast<size_t>(p.data_ptr<int64_t>()[i])];
  }
  std::vector<double> recall;
  for (size_t c = 0; c < matrix.size(); ++c) {
    int64_t total = 0;
    for (int64_t v : matrix[c]) total += v;
    recall.push_back(total > 0 ? static_cast<double>(matrix[c][c]) / static_cast<double>(total) : std::nan(""));
  }
  if (confusion != nullptr) *confusion = std::move(matrix);
  return recall;
}

// The model's network from random weights with a linear classifier, trained on rows `chosen` of
// `data` with their labels; returns its predictions for rows `test`.
torch::Tensor TrainFromScratchAndPredict(const FrozenModel& model, const TrainingData& data,
                                         const torch::Tensor& labels, const std::vector<int64_t>& chosen,
                                         const torch::Tensor& test, int64_t classes, const ProbeOptions& o) {
  torch::manual_seed(o.seed);
  const ModelMetadata& meta = model.net.metadata;
  const ResNetConfig config = BackboneConfig(meta);  // the model's own input stretch included
  ResNet backbone(config);
  torch::nn::Linear head(config.feature_dim(), classes);
  backbone->to(model.device);
  head->to(model.device);
  std::vector<torch::Tensor> params = backbone->parameters();
  for (const torch::Tensor& p : head->parameters()) params.push_back(p);
  torch::optim::Adam adam(params, torch::optim::AdamOptions(o.scratch_lr).weight_decay(1e-4));
  const Augmenter augmenter(LabelTrainingAugmentations(meta.image_size, meta.band_noise, data.layout.bands),
                            data.layout.bands, data.layout.height);
  const torch::Tensor rows = torch::tensor(chosen, torch::kInt64);
  const int64_t n = rows.size(0);
  const int64_t batch = std::min<int64_t>(o.scratch_batch, n);
  EpochOrder order(n, o.seed);
  Progress progress("probe from scratch", "steps", o.scratch_steps);
  backbone->train();
  head->train();
  for (int step = 0; step < o.scratch_steps; ++step) {
    const double cosine = 0.5 * (1 + std::cos(M_PI * step / o.scratch_steps));
    SetLearningRates(adam, {o.scratch_lr * cosine});
    const torch::Tensor index = rows.index_select(0, order.Batch(step, batch));
    const torch::Tensor x = augmenter.Apply(data.images.index_select(0, index).to(model.device),
                                            data.e_bv.index_select(0, index).to(model.device),
                                            augmenter.Draw(batch, o.seed, static_cast<uint64_t>(step)));
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(head(backbone(x)), labels.index_select(0, index).to(model.device));
    adam.zero_grad();
    loss.backward();
    adam.step();
    progress.Update(step + 1);
  }
  progress.Finish(o.scratch_steps);
  backbone->eval();
  head->eval();
  torch::NoGradGuard no_grad;
  const Embeddings e = EmbedImages(*backbone, nullptr, data.images, data.e_bv, meta.image_size, model.device, test);
  return head(e.features.to(model.device)).argmax(1).to(torch::kCPU);
}

}  // namespace

std::string ProbeReport::Markdown() const {
  const bool scratch = !rows.empty() && rows.front().scratch_accuracy >= 0;
  std::string md = absl::StrFormat(
      "Linear probe: %d classes, %d test galaxies; predicting the most common class: accuracy %.3f\n\n"
      "| label fraction | labels | probe accuracy | probe recall per class |%s\n| --- | --- | --- | --- |%s\n",
      classes, test_count, majority_accuracy,
      scratch ? " from scratch accuracy | from scratch recall per class |" : "", scratch ? " --- | --- |" : "");
  auto join = [](const std::vector<double>& v) {
    std::string out;
    for (size_t c = 0; c < v.size(); ++c) absl::StrAppendFormat(&out, "%s%.2f", c ? " " : "", v[c]);
    return out;
  };
  for (const ProbeRow& r : rows) {
    absl::StrAppendFormat(&md, "| %g | %d | %.3f | %s |", r.fraction, r.labels, r.accuracy, join(r.recall));
    if (scratch) absl::StrAppendFormat(&md, " %.3f | %s |", r.scratch_accuracy, join(r.scratch_recall));
    md += "\n";
  }
  if (!rows.empty()) {
    const ProbeRow& last = rows.back();
    absl::StrAppendFormat(&md, "\nConfusion matrix at fraction %g (rows: true class, columns: predicted):\n\n", last.fraction);
    for (const auto& row : last.confusion) {
      std::string line = "|";
      for (int64_t v : row) absl::StrAppendFormat(&line, " %d |", v);
      md += line + "\n";
    }
  }
  return md;
}

std::string ProbeReport::Json() const {
  nlohmann::json j = {{"classes", classes}, {"test_count", test_count}, {"majority_accuracy", majority_accuracy},
                      {"class_counts", class_counts}};
  nlohmann::json list = nlohmann::json::array();
  for (const ProbeRow& r : rows) {
    list.push_back({{"fraction", r.fraction}, {"labels", r.labels}, {"accuracy", r.accuracy},
                    {"recall", r.recall}, {"confusion", r.confusion}});
    if (r.scratch_accuracy >= 0) {
      list.back()["scratch_accuracy"] = r.scratch_accuracy;
      list.back()["scratch_recall"] = r.scratch_recall;
    }
  }
  j["rows"] = list;
  return j.dump(2);
}

absl::StatusOr<ProbeReport> RunProbe(const ProbeOptions& o) {
  GALAXY_RETURN_IF_ERROR(Validate(o));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions split, ParseSplitFractions(o.split));
  GALAXY_ASSIGN_OR_RETURN(FrozenModel model, LoadFrozenModel(o.model_path, o.features, o.device, o.threads));
  const GalaxyNet& net = model.net;
  RowSelection rows;
  if (o.labels_csv.empty()) rows.extra_columns = {o.label_column};
  GALAXY_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(o.data_path, rows));
  if (data.layout.bands != net.metadata.bands()) {
    return absl::InvalidArgumentError(absl::StrCat(o.model_path, " was trained on ", net.metadata.bands(),
                                                   " bands; ", o.data_path, " has ", data.layout.bands));
  }
  GALAXY_ASSIGN_OR_RETURN(std::vector<int64_t> labels, Labels(o, data));

  std::vector<int64_t> train_rows, test_rows;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (labels[static_cast<size_t>(i)] < 0) continue;
    const SplitPart part = SplitOf(data.ids[static_cast<size_t>(i)], o.split_seed, split);
    if (part == SplitPart::kTrain) train_rows.push_back(i);
    if (part == SplitPart::kTest) test_rows.push_back(i);
  }
  if (train_rows.size() < 10 || test_rows.size() < 10) {
    return absl::FailedPreconditionError(absl::StrCat("probe: ", train_rows.size(), " training and ", test_rows.size(),
                                                      " test galaxies are labelled; at least 10 of each are needed"));
  }
  log::Info(absl::StrFormat("probe: embedding %d galaxies with %s (%s features)", data.size(), o.model_path, o.features));
  const torch::Tensor features = FrozenFeatures(model, data.images, data.e_bv);
  const torch::Tensor label_tensor = torch::tensor(labels, torch::kInt64);
  const torch::Tensor test_index = torch::tensor(test_rows, torch::kInt64);
  const torch::Tensor all_train = torch::tensor(train_rows, torch::kInt64);
  // Standardised on the whole training part (no labels are used for that).
  const torch::Tensor mean = features.index_select(0, all_train).mean(0);
  const torch::Tensor scale = features.index_select(0, all_train).std(0).clamp_min(1e-6);
  const torch::Tensor x = (features - mean) / scale;
  const torch::Tensor test_x = x.index_select(0, test_index), test_y = label_tensor.index_select(0, test_index);

  ProbeReport report;
  report.classes = label_tensor.max().item<int64_t>() + 1;
  report.test_count = static_cast<int64_t>(test_rows.size());
  report.class_counts.assign(static_cast<size_t>(report.classes), 0);
  for (int64_t r : test_rows) ++report.class_counts[static_cast<size_t>(labels[static_cast<size_t>(r)])];
  const int64_t majority = torch::bincount(label_tensor.index_select(0, all_train)).argmax().item<int64_t>();
  report.majority_accuracy = (test_y == majority).to(torch::kFloat64).mean().item<double>();
  for (double fraction : o.fractions) {
    std::vector<int64_t> chosen;
    for (int64_t r : train_rows) {
      if (InLabelFraction(data.ids[static_cast<size_t>(r)], fraction)) chosen.push_back(r);
    }
    if (chosen.size() < 2) {
      log::Warn(absl::StrFormat("probe: fraction %g leaves %d labels; skipped", fraction, chosen.size()));
      continue;
    }
    const torch::Tensor index = torch::tensor(chosen, torch::kInt64);
    const torch::Tensor predicted =
        FitAndPredict(x.index_select(0, index), label_tensor.index_select(0, index), test_x, report.classes, o);
    ProbeRow row;
    row.fraction = fraction;
    row.labels = static_cast<int64_t>(chosen.size());
    row.accuracy = (predicted == test_y).to(torch::kFloat64).mean().item<double>();
    row.recall = RecallPerClass(test_y, predicted, report.classes, &row.confusion);
    log::Info(absl::StrFormat("probe: fraction %g (%d labels): test accuracy %.3f", fraction, row.labels, row.accuracy));
    if (o.scratch_steps > 0) {
      const torch::Tensor scratch =
          TrainFromScratchAndPredict(model, data, label_tensor, chosen, test_index, report.classes, o);
      row.scratch_accuracy = (scratch == test_y).to(torch::kFloat64).mean().item<double>();
      row.scratch_recall = RecallPerClass(test_y, scratch, report.classes, nullptr);
      log::Info(absl::StrFormat("probe: fraction %g: the network from scratch, test accuracy %.3f", fraction,
                                row.scratch_accuracy));
    }
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace galaxy
