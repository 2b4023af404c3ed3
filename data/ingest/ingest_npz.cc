// Pasquet-style .npz ingest: `cube` (N x H x W x C, float32/float64) + `labels` (record array).
#include <zip.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest.h"
#include "data/ingest/ingest_catalog.h"
#include "data/npy.h"

namespace galaxy {
namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// A ByteSource over one member of an open archive; `holder` keeps the member open.
absl::StatusOr<ByteSource> OpenMember(zip_t* archive, const std::string& path,
                                      const std::string& member) {
  std::string name = member;
  zip_int64_t index = zip_name_locate(archive, name.c_str(), 0);
  if (index < 0) {
    name = member.substr(0, member.size() - 4);  // "cube" instead of "cube.npy"
    index = zip_name_locate(archive, name.c_str(), 0);
  }
  if (index < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": missing key '",
                                            member.substr(0, member.size() - 4), "'"));
  }
  std::shared_ptr<zip_file_t> file(zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0),
                                   ZipFileCloser());
  if (!file) return absl::DataLossError(absl::StrCat(path, ": cannot open member ", name));
  const std::string label = absl::StrCat(path, ": key '", member.substr(0, member.size() - 4), "'");
  return ByteSource([file, label](char* buffer, int64_t n) -> absl::StatusOr<int64_t> {
    const zip_int64_t got = zip_fread(file.get(), buffer, static_cast<zip_uint64_t>(n));
    if (got < 0) return absl::DataLossError(absl::StrCat(label, ": corrupt archive data"));
    return static_cast<int64_t>(got);
  });
}

absl::StatusOr<InputCatalog> ReadLabels(const ByteSource& source, const std::string& label) {
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(source, label));
  if (header.fields.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": expected a record array (named fields)"));
  }
  if (header.shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": rank ", header.shape.size(), ", expected 1 (one record per galaxy)"));
  }
  InputCatalog catalog;
  catalog.rows = header.shape[0];
  std::string data(static_cast<size_t>(catalog.rows * header.item_size), '\0');
  GALAXY_RETURN_IF_ERROR(ReadExactly(source, data.data(), static_cast<int64_t>(data.size()), label));
  for (const NpyField& f : header.fields) {
    for (int64_t k = 0; k < f.count; ++k) {
      const std::string name = f.count == 1 ? f.name : absl::StrCat(f.name, "_", k);
      catalog.order.push_back(name);
      std::vector<double>& values = catalog.values[name];
      values.resize(static_cast<size_t>(catalog.rows));
      const bool exact64 = f.type.kind != 'f' && f.type.size == 8;
      std::vector<int64_t>* ints = exact64 ? &catalog.integers[name] : nullptr;
      if (ints) ints->resize(static_cast<size_t>(catalog.rows));
      for (int64_t r = 0; r < catalog.rows; ++r) {
        const char* p = data.data() + r * header.item_size + f.offset + k * f.type.size;
        values[static_cast<size_t>(r)] = f.type.Read(p);
        if (ints) std::memcpy(&(*ints)[static_cast<size_t>(r)], p, 8);
      }
    }
  }
  return catalog;
}

}  // namespace

absl::StatusOr<IngestReport> IngestNpz(const std::string& path, const IngestOptions& options) {
  int error = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_open(path.c_str(), ZIP_RDONLY, &error));
  if (!archive) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string reason = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable .npz archive: ", reason));
  }
  IngestReport report;
  GALAXY_ASSIGN_OR_RETURN(ByteSource labels_source, OpenMember(archive.get(), path, "labels.npy"));
  GALAXY_ASSIGN_OR_RETURN(InputCatalog catalog,
                          ReadLabels(labels_source, absl::StrCat(path, ": key 'labels'")));
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, options, &report.notes));
  GALAXY_RETURN_IF_ERROR(CheckUniqueIds(catalog, plan, options, path));

  GALAXY_ASSIGN_OR_RETURN(ByteSource cube, OpenMember(archive.get(), path, "cube.npy"));
  const std::string label = absl::StrCat(path, ": key 'cube'");
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(cube, label));
  if (!header.fields.empty() || header.scalar.kind != 'f') {
    return absl::InvalidArgumentError(absl::StrCat(label, ": expected float32 or float64 pixels"));
  }
  if (header.fortran_order) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": Fortran order is not supported; save with np.ascontiguousarray"));
  }
  if (header.shape.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": rank ", header.shape.size(), ", expected 4 (N x H x W x C)"));
  }
  const int bands = static_cast<int>(options.bands.size());
  // Pasquet's cube is N x H x W x C; accept N x C x H x W too when unambiguous.
  const bool channels_last = header.shape[3] == bands;
  if (!channels_last && header.shape[1] != bands) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": shape (", header.shape[0], ", ",
                                                   header.shape[1], ", ", header.shape[2], ", ",
                                                   header.shape[3], ") has no axis of ", bands,
                                                   " bands (expected N x H x W x ", bands, ")"));
  }
  if (header.shape[0] != catalog.rows) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", header.shape[0], " images but 'labels' has ",
                                                   catalog.rows, " rows"));
  }
  DatasetLayout layout;
  layout.bands = bands;
  layout.band_names = options.bands;
  layout.height = static_cast<int>(channels_last ? header.shape[1] : header.shape[2]);
  layout.width = static_cast<int>(channels_last ? header.shape[2] : header.shape[3]);
  layout.extra_columns = PlanExtraColumns(plan, options);
  layout.attributes = {{"source", path}, {"flux_unit", "as in source"}};
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(options.out, layout));

  const int64_t ppi = layout.pixels_per_image();
  const int64_t step = std::max<int64_t>(1, (64ll << 20) / (ppi * header.scalar.size));
  std::string raw;
  GalaxyBatch batch;
  Progress progress("ingest", "galaxies", catalog.rows);
  for (int64_t start = 0; start < catalog.rows; start += step) {
    const int64_t n = std::min(step, catalog.rows - start);
    raw.resize(static_cast<size_t>(n * ppi * header.scalar.size));
    GALAXY_RETURN_IF_ERROR(ReadExactly(cube, raw.data(), static_cast<int64_t>(raw.size()), label));
    batch.Resize(layout, n);
    const int64_t plane = static_cast<int64_t>(layout.height) * layout.width;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t p = 0; p < plane; ++p) {
        for (int b = 0; b < bands; ++b) {
          const int64_t src = channels_last ? (i * plane + p) * bands + b : (i * bands + b) * plane + p;
          batch.images[static_cast<size_t>((i * bands + b) * plane + p)] =
              static_cast<float>(header.scalar.Read(raw.data() + src * header.scalar.size));
        }
      }
    }
    FillCatalogRows(catalog, plan, options, start, n, &batch);
    GALAXY_RETURN_IF_ERROR(AppendGalaxies(writer.get(), &batch, options, &report));
    progress.Update(start + n);
  }
  GALAXY_RETURN_IF_ERROR(FinishIngest(writer.get(), options, &report));
  return report;
}

}  // namespace galaxy
