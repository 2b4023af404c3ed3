#include "trainer/training_data.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>

#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"

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

namespace {

// The rows of `catalog` (a whole file's columns) that `selection` keeps; FAILED_PRECONDITION
// when none, RESOURCE_EXHAUSTED when their images would take more than `max_bytes`.
absl::StatusOr<std::vector<int64_t>> ChooseRows(const std::string& path, const DatasetLayout& layout,
                                                const GalaxyBatch& catalog, const RowSelection& selection,
                                                int64_t max_bytes) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < catalog.count; ++i) {
    const int64_t id = catalog.ids[static_cast<size_t>(i)];
    if (selection.use_split && SplitOf(id, selection.split_seed, selection.fractions) != selection.part) continue;
    const float z = catalog.redshift[static_cast<size_t>(i)];
    if (selection.require_redshift && !HasKnownRedshift(z)) continue;
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
  return rows;
}

// The selected rows' catalog columns; images allocated, not filled.
TrainingData Columns(const std::string& path, const DatasetLayout& layout, const GalaxyBatch& catalog,
                     const std::vector<int64_t>& rows, const RowSelection& selection) {
  TrainingData data;
  data.path = path;
  data.layout = layout;
  const int64_t n = static_cast<int64_t>(rows.size());
  data.e_bv = torch::empty({n}, torch::kFloat32);
  data.redshift = torch::empty({n}, torch::kFloat32);
  float* ebv = data.e_bv.data_ptr<float>();
  float* z = data.redshift.data_ptr<float>();
  data.ids.reserve(rows.size());
  for (int64_t k = 0; k < n; ++k) {
    const size_t r = static_cast<size_t>(rows[static_cast<size_t>(k)]);
    ebv[k] = catalog.e_bv[r];
    z[k] = catalog.redshift[r];
    data.ids.push_back(catalog.ids[r]);
  }
  for (const std::string& name : selection.extra_columns) {
    auto column = catalog.extra.find(name);
    if (column == catalog.extra.end()) continue;
    torch::Tensor t = torch::empty({n}, torch::kFloat64);
    double* v = t.data_ptr<double>();
    for (int64_t k = 0; k < n; ++k) v[k] = column->second[static_cast<size_t>(rows[static_cast<size_t>(k)])];
    data.extra[name] = t;
  }
  return data;
}

// The images of `rows` (ascending) read into a new tensor, contiguous runs of up to 1024 rows at
// a time; with `progress`, logged as they come.
absl::StatusOr<torch::Tensor> ReadImages(DatasetReader& reader, const std::vector<int64_t>& rows,
                                         Progress* progress = nullptr) {
  const DatasetLayout& layout = reader.layout();
  const int64_t n = static_cast<int64_t>(rows.size()), ppi = layout.pixels_per_image();
  torch::Tensor images = torch::empty({n, layout.bands, layout.height, layout.width}, torch::kFloat32);
  float* out = images.data_ptr<float>();
  GalaxyBatch batch;
  for (int64_t k = 0; k < n;) {
    int64_t run = 1;
    while (k + run < n && rows[k + run] == rows[k] + run && run < 1024) ++run;
    GALAXY_RETURN_IF_ERROR(reader.Read(rows[k], run, &batch));
    std::copy(batch.images.begin(), batch.images.end(), out + k * ppi);
    k += run;
    if (progress != nullptr) progress->Update(k);
  }
  if (progress != nullptr) progress->Finish(n);
  return images;
}

// The selected rows read from the file.
absl::StatusOr<TrainingData> LoadFromReader(DatasetReader& reader, const std::string& path, const GalaxyBatch& catalog,
                                            const RowSelection& selection, int64_t max_bytes) {
  GALAXY_ASSIGN_OR_RETURN(const std::vector<int64_t> rows,
                          ChooseRows(path, reader.layout(), catalog, selection, max_bytes));
  TrainingData data = Columns(path, reader.layout(), catalog, rows, selection);
  GALAXY_ASSIGN_OR_RETURN(data.images, ReadImages(reader, rows));
  return data;
}

// The dataset held by a live ScopedDatasetCache: a whole file's catalog and images.
struct CachedDataset {
  FileIdentity identity;
  DatasetLayout layout;
  GalaxyBatch catalog;    // every row, without images
  torch::Tensor images;   // every row
};

std::mutex cache_mu;
int cache_scopes = 0;
int64_t cache_hits = 0;
std::unique_ptr<CachedDataset> cached;

// The selected rows from a cached whole file.
absl::StatusOr<TrainingData> SelectFromCache(const CachedDataset& whole, const std::string& path,
                                             const RowSelection& selection, int64_t max_bytes) {
  GALAXY_ASSIGN_OR_RETURN(const std::vector<int64_t> rows,
                          ChooseRows(path, whole.layout, whole.catalog, selection, max_bytes));
  TrainingData data = Columns(path, whole.layout, whole.catalog, rows, selection);
  // Every row (pretraining, the probe, quality): the cache's own tensor, not a second copy of a
  // survey that may take a third of the memory.
  data.images = static_cast<int64_t>(rows.size()) == whole.catalog.count
                    ? whole.images
                    : whole.images.index_select(0, torch::tensor(rows, torch::kInt64));
  return data;
}

}  // namespace

ScopedDatasetCache::ScopedDatasetCache() {
  std::lock_guard<std::mutex> lock(cache_mu);
  ++cache_scopes;
}

ScopedDatasetCache::~ScopedDatasetCache() {
  std::lock_guard<std::mutex> lock(cache_mu);
  if (--cache_scopes == 0) cached.reset();
}

int64_t ScopedDatasetCache::Hits() {
  std::lock_guard<std::mutex> lock(cache_mu);
  return cache_hits;
}

absl::StatusOr<TrainingData> LoadTrainingData(const std::string& path,
                                              const RowSelection& selection, int64_t max_bytes) {
  if (max_bytes <= 0) {
    max_bytes = static_cast<int64_t>(0.6 * static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                                     static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  // Served from a live cache when it holds this file unchanged; filled with the whole file first
  // when a cache is live, holds another file (or none) and the whole file fits in memory.
  std::unique_lock<std::mutex> lock(cache_mu);
  const std::optional<FileIdentity> identity = cache_scopes > 0 ? IdentityOf(path) : std::nullopt;
  if (!identity || !cached || !(cached->identity == *identity)) {
    if (!identity) lock.unlock();
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(path));
    auto whole = std::make_unique<CachedDataset>();
    whole->layout = reader->layout();
    // Choose the rows from the catalog columns first (cheap), then read their images.
    GALAXY_RETURN_IF_ERROR(reader->Read(0, reader->count(), &whole->catalog, /*images=*/false));
    const int64_t file_bytes = reader->count() * whole->layout.pixels_per_image() * 4;
    if (identity && file_bytes <= max_bytes / 2) {
      log::Info(absl::StrFormat("reading all %d images into memory (%.1f GiB) for the stages that follow",
                                reader->count(), file_bytes / 1073741824.0), {{"path", path}});
      whole->identity = *identity;
      cached.reset();  // the previous file's memory first
      std::vector<int64_t> every_row(static_cast<size_t>(reader->count()));
      std::iota(every_row.begin(), every_row.end(), int64_t{0});
      Progress progress("reading images", "galaxies", reader->count());
      GALAXY_ASSIGN_OR_RETURN(whole->images, ReadImages(*reader, every_row, &progress));
      cached = std::move(whole);
    } else {
      if (lock.owns_lock()) lock.unlock();
      return LoadFromReader(*reader, path, whole->catalog, selection, max_bytes);
    }
  } else {
    ++cache_hits;
  }
  return SelectFromCache(*cached, path, selection, max_bytes);
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
