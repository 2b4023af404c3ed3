#include "trainer/training_data.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/str_format.h"
#include "core/hdf5_dataset.h"
#include "core/log.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace galaxy {

RowSelection LabelledPart(SplitPart part, const SplitFractions& fractions, uint64_t split_seed) {
  RowSelection rows;
  rows.use_split = true;
  rows.part = part;
  rows.fractions = fractions;
  rows.split_seed = split_seed;
  rows.require_redshift = true;
  return rows;
}

bool InLabelFraction(int64_t id, double fraction) {
  if (fraction >= 1) return true;
  const double u = static_cast<double>(Mix64(static_cast<uint64_t>(id) ^ 0x1ABE1ull) >> 11) * 0x1.0p-53;
  return u < fraction;
}

torch::Tensor EpochOrder::Batch(int64_t step, int64_t batch) {
  const int64_t per_epoch = std::max<int64_t>(1, rows_ / batch);
  const int64_t epoch = step / per_epoch, offset = (step % per_epoch) * batch;
  if (epoch != epoch_) {
    perm_.resize(static_cast<size_t>(rows_));
    for (int64_t i = 0; i < rows_; ++i) perm_[static_cast<size_t>(i)] = i;
    Random rng(seed_ ^ 0xE90C0DEull, static_cast<uint64_t>(epoch));
    for (int64_t i = rows_ - 1; i > 0; --i) {
      std::swap(perm_[static_cast<size_t>(i)], perm_[rng.Below(static_cast<uint64_t>(i) + 1)]);
    }
    epoch_ = epoch;
  }
  return torch::from_blob(perm_.data() + offset, {batch}, torch::kInt64).clone();
}

absl::StatusOr<TrainingData> LoadTrainingData(const std::string& path,
                                              const RowSelection& selection, int64_t max_bytes) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(path));
  const DatasetLayout& layout = reader->layout();
  if (max_bytes <= 0) {
    max_bytes = static_cast<int64_t>(0.6 * static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                                     static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  // Choose the rows from the catalog columns first (cheap), then read their images.
  GalaxyBatch catalog;
  GALAXY_RETURN_IF_ERROR(reader->Read(0, reader->count(), &catalog, /*images=*/false));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < reader->count(); ++i) {
    const int64_t id = catalog.ids[static_cast<size_t>(i)];
    if (selection.use_split && SplitOf(id, selection.split_seed, selection.fractions) != selection.part) continue;
    const float z = catalog.redshift[static_cast<size_t>(i)];
    if (selection.require_redshift && !(std::isfinite(z) && z >= 0)) continue;
    if (!InLabelFraction(id, selection.label_fraction)) continue;
    rows.push_back(i);
  }
  if (rows.empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: no galaxy matches the selection (%s%s)", path,
        selection.use_split ? std::string("split part ") + SplitPartName(selection.part) : "all rows",
        selection.require_redshift ? ", with redshift" : ""));
  }
  const int64_t bytes = static_cast<int64_t>(rows.size()) * layout.pixels_per_image() * 4;
  if (bytes > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s: the %d selected galaxies take %.1f GiB, more than the %.1f GiB allowed in memory; "
        "train on a part (galaxy-data split) or on a machine with more memory",
        path, rows.size(), bytes / 1073741824.0, max_bytes / 1073741824.0));
  }
  TrainingData data;
  data.path = path;
  data.layout = layout;
  const int64_t n = static_cast<int64_t>(rows.size());
  data.images = torch::empty({n, layout.bands, layout.height, layout.width}, torch::kFloat32);
  data.e_bv = torch::empty({n}, torch::kFloat32);
  data.redshift = torch::empty({n}, torch::kFloat32);
  for (const std::string& name : selection.extra_columns) {
    if (catalog.extra.count(name)) data.extra[name] = torch::empty({n}, torch::kFloat64);
  }
  // Read contiguous runs of selected rows in chunks.
  GalaxyBatch batch;
  const int64_t ppi = layout.pixels_per_image();
  float* out = data.images.data_ptr<float>();
  float* ebv = data.e_bv.data_ptr<float>();
  float* z = data.redshift.data_ptr<float>();
  for (int64_t k = 0; k < n;) {
    int64_t run = 1;
    while (k + run < n && rows[k + run] == rows[k] + run && run < 1024) ++run;
    GALAXY_RETURN_IF_ERROR(reader->Read(rows[k], run, &batch));
    std::copy(batch.images.begin(), batch.images.end(), out + k * ppi);
    for (int64_t j = 0; j < run; ++j) {
      ebv[k + j] = batch.e_bv[static_cast<size_t>(j)];
      z[k + j] = batch.redshift[static_cast<size_t>(j)];
      data.ids.push_back(batch.ids[static_cast<size_t>(j)]);
      for (auto& [name, tensor] : data.extra) {
        tensor.data_ptr<double>()[k + j] = batch.extra[name][static_cast<size_t>(j)];
      }
    }
    k += run;
  }
  return data;
}

bool MoveToDeviceIfItFits(TrainingData* data, const torch::Device& device) {
  if (device.is_cpu()) return true;
  try {
    torch::Tensor images = data->images.to(device), e_bv = data->e_bv.to(device);
    torch::Tensor redshift = data->redshift.defined() ? data->redshift.to(device) : data->redshift;
    data->images = images;
    data->e_bv = e_bv;
    data->redshift = redshift;
    log::Info("training data resident on the GPU");
    return true;
  } catch (const std::exception& e) {
    log::Warn("training data does not fit on the GPU; batches are copied each step");
    return false;
  }
}

AugmentOptions LabelTrainingAugmentations(int64_t crop, const std::vector<double>& band_noise, int64_t bands) {
  AugmentOptions aug;
  aug.crop = crop;
  aug.max_dust = 0;
  aug.max_blur = 0.5;
  aug.band_noise = band_noise;
  if (bands != 5) aug.extinction.assign(static_cast<size_t>(bands), 0.0);
  return aug;
}

void SetLearningRates(torch::optim::Adam& optimizer, const std::vector<double>& rates) {
  for (size_t i = 0; i < optimizer.param_groups().size() && i < rates.size(); ++i) {
    static_cast<torch::optim::AdamOptions&>(optimizer.param_groups()[i].options()).lr(rates[i]);
  }
}

}  // namespace galaxy
