#include "trainer/probe.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/dataset_split.h"
#include "data/galaxy_batch.h"
#include "data/ingest/ingest_catalog.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/torch_compat.h"
#include "nlohmann/json.hpp"
#include "trainer/galaxy_features.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

constexpr int64_t kMaxClasses = 1000;
// How many of the training part's galaxies at least the features are standardised on.
constexpr double kStandardisationRows = 5000;

absl::Status Validate(const ProbeOptions& o) {
  if (o.model_path.empty()) return absl::InvalidArgumentError("--model: required");
  if (o.data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (o.label_column.empty()) return absl::InvalidArgumentError("--label: required");
  if (o.task != "auto" && o.task != "classification" && o.task != "regression") {
    return absl::InvalidArgumentError(
        absl::StrCat("--task: unknown '", o.task, "' (expected auto, classification or regression)"));
  }
  if (o.fractions.empty()) return absl::InvalidArgumentError("--fractions: at least one");
  for (double f : o.fractions) {
    if (!(f > 0 && f <= 1)) return absl::InvalidArgumentError(absl::StrCat("--fractions: ", f, " is outside (0, 1]"));
  }
  if (o.steps < 1) return absl::InvalidArgumentError(absl::StrCat("--steps: ", o.steps, " < 1"));
  if (!(o.lr > 0)) return absl::InvalidArgumentError(absl::StrCat("--lr: ", o.lr, " must be > 0"));
  if (std::isnan(o.weight_decay)) return absl::InvalidArgumentError("--weight-decay: NaN");
  if (o.scratch_steps < 0) return absl::InvalidArgumentError(absl::StrCat("--scratch-steps: ", o.scratch_steps, " < 0"));
  if (o.scratch_batch < 2) return absl::InvalidArgumentError(absl::StrCat("--scratch-batch: ", o.scratch_batch, " < 2"));
  if (!(o.scratch_lr > 0)) return absl::InvalidArgumentError(absl::StrCat("--scratch-lr: ", o.scratch_lr, " must be > 0"));
  return absl::OkStatus();
}

// The label value of every row (NaN: unlabelled): the dataset's column, or the CSV's joined by
// ObjID.
absl::StatusOr<std::vector<double>> LabelValues(const ProbeOptions& o, const TrainingData& data) {
  if (o.labels_csv.empty()) {
    // The standard columns (the redshift, E(B-V)) are loaded apart from the extra ones.
    torch::Tensor source;
    if (o.label_column == kRedshiftKey) {
      source = data.redshift;
    } else if (o.label_column == kEbvKey) {
      source = data.e_bv;
    } else if (const auto it = data.extra.find(o.label_column); it != data.extra.end()) {
      source = it->second;
    } else {
      return absl::NotFoundError(absl::StrCat(o.data_path, ": no column '", o.label_column,
                                              "' (give --labels CSV with ObjID and ", o.label_column, ")"));
    }
    return ToDoubles(source);
  }
  GALAXY_ASSIGN_OR_RETURN(InputCatalog csv, ReadNumericCsv(o.labels_csv));
  std::vector<double> values(static_cast<size_t>(data.size()), std::nan(""));
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
  return values;
}

// Whether a finite, non-negative label value can be a class: an integer below kMaxClasses.
bool IsClass(double v) { return v == std::floor(v) && v < kMaxClasses; }

// "classification" or "regression" for o.task "auto": classes when every finite label is a
// non-negative integer.
std::string ResolveTask(const ProbeOptions& o, const std::vector<double>& values) {
  if (o.task != "auto") return o.task;
  for (double v : values) {
    if (std::isfinite(v) && (v < 0 || !IsClass(v))) return "regression";
  }
  return "classification";
}

// The class of every row (-1: unlabelled, as are negative values).
absl::StatusOr<std::vector<int64_t>> Classes(const ProbeOptions& o, const TrainingData& data,
                                             const std::vector<double>& values) {
  std::vector<int64_t> out(values.size(), -1);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v) || v < 0) continue;
    if (!IsClass(v)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "label '", o.label_column, "' of galaxy ", data.ids[i], " is ", v, ": classes must be integers in 0..",
          kMaxClasses - 1, " (--task regression for a continuous label)"));
    }
    out[i] = static_cast<int64_t>(v);
  }
  return out;
}

// Multinomial logistic regressions with L2 penalties, fitted side by side: problem p trains on the
// rows of `x` where `train_mask`[p] is true, with penalty `penalties`[p] on its weights (full
// batch, Adam, every problem from the same initial weights). The same fits as one at a time, since
// the problems share no parameter and Adam works element by element, but one matrix product a
// step for all of them: cross-validation's 30 fits of 500 steps were most of the probe's time.
struct SoftmaxModels {
  torch::Tensor weight;  // problems x classes x features
  torch::Tensor bias;    // problems x classes

  // Every problem's logits for every row of `x`: rows x problems x classes.
  torch::Tensor Logits(const torch::Tensor& x) const {
    const int64_t problems = weight.size(0), classes = weight.size(1);
    return x.mm(weight.reshape({problems * classes, weight.size(2)}).t()).view({x.size(0), problems, classes}) + bias;
  }
};

// Cross-entropy of each row's logits (rows x problems x classes) against its class: rows x problems.
torch::Tensor CrossEntropyPerRow(const torch::Tensor& logits, const torch::Tensor& y) {
  const torch::Tensor target = y.view({-1, 1, 1}).expand({logits.size(0), logits.size(1), 1});
  return -torch::log_softmax(logits, 2).gather(2, target).squeeze(2);
}

SoftmaxModels FitSoftmaxModels(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& train_mask,
                               const std::vector<double>& penalties, int64_t classes, const ProbeOptions& o) {
  const int64_t problems = train_mask.size(0);
  torch::manual_seed(o.seed);
  torch::nn::Linear first(x.size(1), classes);
  SoftmaxModels m;
  m.weight = first->weight.detach().to(x.device()).unsqueeze(0).repeat({problems, 1, 1}).requires_grad_();
  m.bias = first->bias.detach().to(x.device()).unsqueeze(0).repeat({problems, 1}).requires_grad_();
  const torch::Tensor weights = train_mask.t().to(x.dtype());  // rows x problems
  const torch::Tensor counts = weights.sum(0);
  const torch::Tensor penalty = torch::tensor(penalties, x.options());
  torch::optim::Adam adam(std::vector<torch::Tensor>{m.weight, m.bias}, torch::optim::AdamOptions(o.lr));
  for (int step = 0; step < o.steps; ++step) {
    adam.zero_grad();
    const torch::Tensor mean_loss = (CrossEntropyPerRow(m.Logits(x), y) * weights).sum(0) / counts;
    (mean_loss + penalty * m.weight.pow(2).sum({1, 2})).sum().backward();
    adam.step();
  }
  m.weight = m.weight.detach();
  m.bias = m.bias.detach();
  return m;
}

// One multinomial logistic regression on all of `train_x`; returns the logits of `test_x`.
torch::Tensor SoftmaxFitAndPredict(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                                   int64_t classes, double penalty, const ProbeOptions& o) {
  const torch::Tensor all = torch::ones({1, train_x.size(0)}, torch::TensorOptions().dtype(torch::kBool).device(train_x.device()));
  return FitSoftmaxModels(train_x, train_y, all, {penalty}, classes, o).Logits(test_x).squeeze(1);
}

// Ridge regression with an intercept, solved exactly in double precision: the penalty is
// `penalty` per training galaxy on the (standardised) features' weights. Returns the test part's
// predictions (float64).
torch::Tensor RidgeFitAndPredict(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                                 double penalty) {
  const torch::Tensor x = train_x.to(torch::kFloat64), y = train_y.to(torch::kFloat64);
  const torch::Tensor x_mean = x.mean(0), y_mean = y.mean();
  const torch::Tensor xc = x - x_mean;
  const int64_t n = x.size(0), d = x.size(1);
  const torch::Tensor gram = xc.t().mm(xc) + penalty * static_cast<double>(n) * torch::eye(d, torch::kFloat64) +
                             1e-9 * torch::eye(d, torch::kFloat64);
  const torch::Tensor w = at::linalg_solve(gram, xc.t().mv(y - y_mean).unsqueeze(1)).squeeze(1);
  return (test_x.to(torch::kFloat64) - x_mean).mv(w) + y_mean;
}

// The L2 penalty of the linear model: o.weight_decay when it is >= 0; otherwise the value of
// kPenaltyGrid with the lowest mean validation loss over kFolds folds of the labelled rows (row i
// in fold i % kFolds; at most kMaxCrossValidationRows of them, evenly spaced), the standard way
// to regularise a linear probe: a fixed penalty right for 40,000 labels overfits 400.
constexpr int kFolds = 5;
constexpr int64_t kMaxCrossValidationRows = 5000;
constexpr double kPenaltyGrid[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};

// For each value of kPenaltyGrid, the validation loss summed over the folds: on each fold's rows,
// of the model trained on the other folds' rows. `fold` holds each row's fold (int64).
using CrossValidationLosses =
    std::function<std::vector<double>(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& fold)>;

double ChoosePenalty(const torch::Tensor& x, const torch::Tensor& y, const ProbeOptions& o,
                     const CrossValidationLosses& cross_validation_losses) {
  if (o.weight_decay >= 0) return o.weight_decay;
  const int64_t n = x.size(0);
  if (n < 2 * kFolds) return 1e-3;
  const int64_t m = std::min(n, kMaxCrossValidationRows);
  const torch::Tensor rows = torch::linspace(0, static_cast<double>(n - 1), m, torch::kFloat64).round().to(torch::kInt64);
  const torch::Tensor fold = torch::arange(m, torch::kInt64).remainder(kFolds);
  const std::vector<double> losses =
      cross_validation_losses(x.index_select(0, rows.to(x.device())), y.index_select(0, rows.to(y.device())), fold);
  // The first of equal losses, as the grid runs from the weakest penalty.
  return kPenaltyGrid[static_cast<size_t>(std::min_element(losses.begin(), losses.end()) - losses.begin())];
}

std::vector<double> RidgeCrossValidationLosses(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& fold) {
  std::vector<double> losses;
  for (double penalty : kPenaltyGrid) {
    double loss = 0;
    for (int f = 0; f < kFolds; ++f) {
      const torch::Tensor train = (fold != f).nonzero().squeeze(1), val = (fold == f).nonzero().squeeze(1);
      const torch::Tensor predicted =
          RidgeFitAndPredict(x.index_select(0, train), y.index_select(0, train), x.index_select(0, val), penalty);
      loss += (predicted - y.index_select(0, val)).pow(2).mean().item<double>();
    }
    losses.push_back(loss);
  }
  return losses;
}

// Every (penalty, fold) problem in one batched fit (FitSoftmaxModels), penalty-major.
std::vector<double> SoftmaxCrossValidationLosses(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& fold,
                                                 int64_t classes, const ProbeOptions& o) {
  std::vector<torch::Tensor> train_masks;
  std::vector<double> penalties;
  for (double penalty : kPenaltyGrid) {
    for (int f = 0; f < kFolds; ++f) {
      train_masks.push_back(fold != f);
      penalties.push_back(penalty);
    }
  }
  const torch::Tensor train_mask = torch::stack(train_masks).to(x.device());  // problems x rows
  const SoftmaxModels models = FitSoftmaxModels(x, y, train_mask, penalties, classes, o);
  torch::NoGradGuard no_grad;
  const torch::Tensor val = (~train_mask).t().to(x.dtype());                   // rows x problems
  const torch::Tensor val_loss = (CrossEntropyPerRow(models.Logits(x), y) * val).sum(0) / val.sum(0);
  return ToDoubles(val_loss.view({static_cast<int64_t>(std::size(kPenaltyGrid)), kFolds}).sum(1));
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

// The model's network from random weights with a linear output of `outputs` values, trained on
// rows `chosen` of `data` against `targets` (int64 classes with cross-entropy when `regression`
// is false, float standardised values with squared error when true); returns its outputs for
// rows `test` (CPU, test x outputs).
torch::Tensor TrainFromScratchAndPredict(const FrozenModel& model, const TrainingData& data, const torch::Tensor& targets,
                                         const std::vector<int64_t>& chosen, const torch::Tensor& test, int64_t outputs,
                                         bool regression, const ProbeOptions& o) {
  torch::manual_seed(o.seed);
  const ModelMetadata& meta = model.net.metadata;
  const ResNetConfig config = BackboneConfig(meta);  // the model's own input stretch included
  ResNet backbone(config);
  torch::nn::Linear head(config.feature_dim(), outputs);
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
    const torch::Tensor out = head(backbone(x));
    const torch::Tensor target = targets.index_select(0, index).to(model.device);
    const torch::Tensor loss = regression ? torch::nn::functional::mse_loss(out.squeeze(1), target)
                                          : torch::nn::functional::cross_entropy(out, target);
    adam.zero_grad();
    loss.backward();
    adam.step();
    progress.Update(step + 1);
  }
  progress.Finish(o.scratch_steps);
  backbone->eval();
  head->eval();
  torch::NoGradGuard no_grad;
  // With --dihedral the network from scratch is scored on the same eight-view average as the
  // probe (for its linear output layer, the mean of its eight outputs).
  EmbedOptions views;
  views.dihedral = o.dihedral;
  const Embeddings e =
      EmbedImages(*backbone, nullptr, data.images, data.e_bv, meta.image_size, model.device, test, views);
  return head(e.features.to(model.device)).to(torch::kCPU);
}

// Root-mean-square error and R^2 (against the variance of `truth`) of `predicted`.
std::pair<double, double> RmseAndR2(const torch::Tensor& truth, const torch::Tensor& predicted) {
  const torch::Tensor t = truth.to(torch::kFloat64), p = predicted.to(torch::kCPU, torch::kFloat64).reshape({-1});
  const double mse = (p - t).pow(2).mean().item<double>();
  const double variance = (t - t.mean()).pow(2).mean().item<double>();
  return {std::sqrt(mse), variance > 0 ? 1 - mse / variance : std::nan("")};
}

}  // namespace

std::string ProbeReport::Markdown() const {
  const std::string views =
      dihedral || features != "backbone"
          ? absl::StrCat("Representation: ", features, " features",
                         dihedral ? absl::StrCat(", the mean over ", kDihedralViews) : "", ".\n\n")
          : "";
  if (task == "regression") {
    const bool scratch = !rows.empty() && std::isfinite(rows.front().scratch_rmse);
    std::string md = views + absl::StrFormat(
        "Linear probe (ridge regression): %d test galaxies, label mean %.4g, standard deviation %.4g; predicting "
        "the training mean: RMSE %.4g\n\n| label fraction | labels | penalty | probe RMSE | probe R^2 |%s\n| --- | --- | --- | --- | --- |%s\n",
        test_count, label_mean, label_std, mean_rmse, scratch ? " from scratch RMSE | from scratch R^2 |" : "",
        scratch ? " --- | --- |" : "");
    for (const ProbeRow& r : rows) {
      absl::StrAppendFormat(&md, "| %g | %d | %g | %.4g | %.3f |", r.fraction, r.labels, r.penalty, r.rmse, r.r2);
      if (scratch) absl::StrAppendFormat(&md, " %.4g | %.3f |", r.scratch_rmse, r.scratch_r2);
      md += "\n";
    }
    return md;
  }
  const bool scratch = !rows.empty() && rows.front().scratch_accuracy >= 0;
  std::string md = views + absl::StrFormat(
      "Linear probe: %d classes, %d test galaxies; predicting the most common class: accuracy %.3f\n\n"
      "| label fraction | labels | penalty | probe accuracy | probe recall per class |%s\n| --- | --- | --- | --- | --- |%s\n",
      classes, test_count, majority_accuracy,
      scratch ? " from scratch accuracy | from scratch recall per class |" : "", scratch ? " --- | --- |" : "");
  auto join = [](const std::vector<double>& v) {
    std::string out;
    for (size_t c = 0; c < v.size(); ++c) absl::StrAppendFormat(&out, "%s%.2f", c ? " " : "", v[c]);
    return out;
  };
  for (const ProbeRow& r : rows) {
    absl::StrAppendFormat(&md, "| %g | %d | %g | %.3f | %s |", r.fraction, r.labels, r.penalty, r.accuracy, join(r.recall));
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
  // NaN (a figure not measured) is written as null.
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"task", task}, {"test_count", test_count}, {"dihedral", dihedral}, {"features", features}};
  nlohmann::json list = nlohmann::json::array();
  if (task == "regression") {
    j["label_mean"] = label_mean;
    j["label_std"] = label_std;
    j["mean_rmse"] = mean_rmse;
    for (const ProbeRow& r : rows) {
      list.push_back({{"fraction", r.fraction}, {"labels", r.labels}, {"penalty", r.penalty}, {"rmse", number(r.rmse)}, {"r2", number(r.r2)},
                      {"scratch_rmse", number(r.scratch_rmse)}, {"scratch_r2", number(r.scratch_r2)}});
    }
  } else {
    j["classes"] = classes;
    j["majority_accuracy"] = majority_accuracy;
    j["class_counts"] = class_counts;
    for (const ProbeRow& r : rows) {
      list.push_back({{"fraction", r.fraction}, {"labels", r.labels}, {"penalty", r.penalty}, {"accuracy", r.accuracy},
                      {"recall", r.recall}, {"confusion", r.confusion}});
      if (r.scratch_accuracy >= 0) {
        list.back()["scratch_accuracy"] = r.scratch_accuracy;
        list.back()["scratch_recall"] = r.scratch_recall;
      }
    }
  }
  j["rows"] = list;
  return j.dump(2);
}

absl::StatusOr<ProbeReport> RunProbe(const ProbeOptions& o) {
  GALAXY_RETURN_IF_ERROR(Validate(o));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions split, ParseSplitFractions(o.split));
  GALAXY_ASSIGN_OR_RETURN(FrozenModel model, LoadFrozenModel(o.model_path, o.features, o.device, o.threads));
  model.embed.dihedral = o.dihedral;
  const GalaxyNet& net = model.net;
  RowSelection selection;
  if (o.labels_csv.empty()) selection.extra_columns = {o.label_column};
  GALAXY_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(o.data_path, selection));
  if (data.layout.bands != net.metadata.bands()) {
    return absl::InvalidArgumentError(absl::StrCat(o.model_path, " was trained on ", net.metadata.bands(),
                                                   " bands; ", o.data_path, " has ", data.layout.bands));
  }
  GALAXY_ASSIGN_OR_RETURN(const std::vector<double> values, LabelValues(o, data));
  ProbeReport report;
  report.task = ResolveTask(o, values);
  report.dihedral = o.dihedral;
  report.features = o.features;
  const bool regression = report.task == "regression";
  std::vector<int64_t> classes;
  if (!regression) {
    GALAXY_ASSIGN_OR_RETURN(classes, Classes(o, data, values));
  }
  auto labelled = [&](size_t i) { return regression ? std::isfinite(values[i]) : classes[i] >= 0; };

  std::vector<int64_t> train_rows, test_rows;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (!labelled(static_cast<size_t>(i))) continue;
    const SplitPart part = SplitOf(data.ids[static_cast<size_t>(i)], o.split_seed, split);
    if (part == SplitPart::kTrain) train_rows.push_back(i);
    if (part == SplitPart::kTest) test_rows.push_back(i);
  }
  if (train_rows.size() < 10 || test_rows.size() < 10) {
    return absl::FailedPreconditionError(absl::StrCat("probe: ", train_rows.size(), " training and ", test_rows.size(),
                                                      " test galaxies are labelled; at least 10 of each are needed"));
  }
  // Only the galaxies the probe reads are embedded: the test part, and the training part's labelled
  // galaxies within the largest label fraction, or within a fraction holding about
  // kStandardisationRows of them when that is larger (the features are standardised on those; no
  // labels are used for that). At 1% of a large catalog that is a fraction of the cost of the whole.
  const double top_fraction = *std::max_element(o.fractions.begin(), o.fractions.end());
  const double standardise_fraction =
      std::max(top_fraction, std::min(1.0, kStandardisationRows / static_cast<double>(train_rows.size())));
  // The training part's labelled rows within a label fraction (nested: a smaller fraction's are a subset).
  auto rows_in_fraction = [&](double fraction) {
    std::vector<int64_t> rows;
    for (int64_t r : train_rows) {
      if (InLabelFraction(data.ids[static_cast<size_t>(r)], fraction)) rows.push_back(r);
    }
    return rows;
  };
  const std::vector<int64_t> standardise_rows = rows_in_fraction(standardise_fraction);
  std::vector<int64_t> embedded = standardise_rows;
  embedded.insert(embedded.end(), test_rows.begin(), test_rows.end());
  log::Info(absl::StrFormat("probe: %s of '%s'; embedding %d of %d galaxies (%d training, %d test) with %s (%s features)",
                            report.task, o.label_column, embedded.size(), data.size(), standardise_rows.size(),
                            test_rows.size(), o.model_path, o.features));
  const torch::Tensor embedded_index = torch::tensor(embedded, torch::kInt64);
  const torch::Tensor computed =
      FrozenFeatures(model, data.images, data.e_bv, embedded_index.to(data.images.device()));
  // Standardised on the training galaxies embedded, the first rows of `computed`; then indexed by
  // dataset row like the labels (rows not embedded stay zero and are never read).
  const torch::Tensor standardise = computed.narrow(0, 0, static_cast<int64_t>(standardise_rows.size()));
  const torch::Tensor mean = standardise.mean(0);
  const torch::Tensor scale = standardise.std(0).clamp_min(1e-6);
  const torch::Tensor x = torch::zeros({data.size(), computed.size(1)}, computed.options());
  x.index_copy_(0, embedded_index, (computed - mean) / scale);
  const torch::Tensor test_index = torch::tensor(test_rows, torch::kInt64);
  const torch::Tensor all_train = torch::tensor(train_rows, torch::kInt64);
  const torch::Tensor test_x = x.index_select(0, test_index);
  // Classes as int64 (-1 unlabelled); regression labels as float64 (0 where unlabelled, never read).
  const torch::Tensor label_tensor =
      regression ? torch::tensor(values, torch::kFloat64).nan_to_num(0.0) : torch::tensor(classes, torch::kInt64);
  const torch::Tensor test_y = label_tensor.index_select(0, test_index);
  report.test_count = static_cast<int64_t>(test_rows.size());
  if (regression) {
    const double train_mean = label_tensor.index_select(0, all_train).mean().item<double>();
    report.label_mean = test_y.mean().item<double>();
    report.label_std = test_y.std(/*unbiased=*/false).item<double>();
    report.mean_rmse = RmseAndR2(test_y, torch::full_like(test_y, train_mean)).first;
  } else {
    report.classes = label_tensor.max().item<int64_t>() + 1;
    report.class_counts.assign(static_cast<size_t>(report.classes), 0);
    for (int64_t r : test_rows) ++report.class_counts[static_cast<size_t>(classes[static_cast<size_t>(r)])];
    const int64_t majority = torch::bincount(label_tensor.index_select(0, all_train)).argmax().item<int64_t>();
    report.majority_accuracy = (test_y == majority).to(torch::kFloat64).mean().item<double>();
  }
  for (double fraction : o.fractions) {
    const std::vector<int64_t> chosen = rows_in_fraction(fraction);
    if (chosen.size() < 2) {
      log::Warn(absl::StrFormat("probe: fraction %g leaves %d labels; skipped", fraction, chosen.size()));
      continue;
    }
    const torch::Tensor index = torch::tensor(chosen, torch::kInt64);
    const torch::Tensor train_y = label_tensor.index_select(0, index);
    ProbeRow row;
    row.fraction = fraction;
    row.labels = static_cast<int64_t>(chosen.size());
    const torch::Tensor train_x = x.index_select(0, index);
    if (regression) {
      row.penalty = ChoosePenalty(train_x, train_y, o, RidgeCrossValidationLosses);
      std::tie(row.rmse, row.r2) = RmseAndR2(test_y, RidgeFitAndPredict(train_x, train_y, test_x, row.penalty));
      log::Info(absl::StrFormat("probe: fraction %g (%d labels, penalty %g): test RMSE %.4g, R^2 %.3f", fraction,
                                row.labels, row.penalty, row.rmse, row.r2));
    } else {
      const int64_t classes_n = report.classes;
      row.penalty = ChoosePenalty(train_x, train_y, o, [&](const torch::Tensor& cx, const torch::Tensor& cy,
                                                           const torch::Tensor& fold) {
        return SoftmaxCrossValidationLosses(cx, cy, fold, classes_n, o);
      });
      const torch::Tensor predicted =
          SoftmaxFitAndPredict(train_x, train_y, test_x, report.classes, row.penalty, o).argmax(1);
      row.accuracy = (predicted == test_y).to(torch::kFloat64).mean().item<double>();
      row.recall = RecallPerClass(test_y, predicted, report.classes, &row.confusion);
      log::Info(absl::StrFormat("probe: fraction %g (%d labels, penalty %g): test accuracy %.3f", fraction, row.labels,
                                row.penalty, row.accuracy));
    }
    if (o.scratch_steps > 0) {
      if (regression) {
        // Trained on the labels standardised with this fraction's own mean and spread.
        const double mu = train_y.mean().item<double>();
        const double sd = std::max(train_y.std().item<double>(), 1e-12);
        const torch::Tensor targets = ((label_tensor - mu) / sd).to(torch::kFloat32);
        const torch::Tensor out =
            TrainFromScratchAndPredict(model, data, targets, chosen, test_index, 1, /*regression=*/true, o);
        std::tie(row.scratch_rmse, row.scratch_r2) = RmseAndR2(test_y, out.to(torch::kFloat64) * sd + mu);
        log::Info(absl::StrFormat("probe: fraction %g: the network from scratch, test RMSE %.4g, R^2 %.3f", fraction,
                                  row.scratch_rmse, row.scratch_r2));
      } else {
        const torch::Tensor scratch =
            TrainFromScratchAndPredict(model, data, label_tensor, chosen, test_index, report.classes, false, o).argmax(1);
        row.scratch_accuracy = (scratch == test_y).to(torch::kFloat64).mean().item<double>();
        row.scratch_recall = RecallPerClass(test_y, scratch, report.classes, nullptr);
        log::Info(absl::StrFormat("probe: fraction %g: the network from scratch, test accuracy %.3f", fraction,
                                  row.scratch_accuracy));
      }
    }
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace galaxy
