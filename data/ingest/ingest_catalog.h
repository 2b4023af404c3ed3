// Shared by the ingest formats: turning named catalog columns into a GalaxyBatch's columns.
#ifndef GALAXY_DATA_INGEST_INGEST_CATALOG_H_
#define GALAXY_DATA_INGEST_INGEST_CATALOG_H_

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/galaxy_batch.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest.h"

namespace galaxy {

// The column that counts the pixels set to 0 (NonFinite::kZero).
inline constexpr char kNonFiniteColumn[] = "non_finite_pixels";

// Named numeric columns of an input catalog, all of the same length. IDs are kept apart as
// int64 (a double cannot hold every 64-bit ID).
struct InputCatalog {
  // Rows held, the first of them row `first_row` of the source (a window of a larger catalog; 0
  // when the whole catalog is held). Rows are numbered in the source's terms everywhere below.
  int64_t rows = 0;
  int64_t first_row = 0;
  std::vector<std::string> order;                        // column names as found
  std::map<std::string, std::vector<double>> values;     // numeric columns
  std::map<std::string, std::vector<int64_t>> integers;  // exact 64-bit integer columns
  // Unsigned 64-bit columns holding a value above 2^63 - 1 (not in `integers`): its first row.
  std::map<std::string, int64_t> beyond_int64;
};

// Reads a CSV file: a header line of column names, then rows of numeric cells (blank lines
// skipped); columns whose every cell is an integer are also kept exactly in `integers`.
// NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT naming the line and column of a
// cell that is not a number, a row of the wrong length, or a file without rows.
absl::StatusOr<InputCatalog> ReadNumericCsv(const std::string& path);

// How input columns map onto the native layout.
struct CatalogPlan {
  std::string id, ra, dec, e_bv, redshift;  // input names ("" when absent)
  std::vector<std::pair<std::string, std::string>> extra;  // input name -> output name
};

// Plans the mapping; INVALID_ARGUMENT when ObjID (without id_base), ra or dec is missing (the
// message lists the columns found), or two columns map to one name.
absl::StatusOr<CatalogPlan> PlanCatalog(const InputCatalog& catalog, const IngestOptions& options,
                                        std::vector<std::string>* notes);

// The layout's extra columns: the plan's (float64), and `non_finite_pixels` (int32) when
// options.non_finite is kZero.
std::vector<ColumnSpec> PlanExtraColumns(const CatalogPlan& plan, const IngestOptions& options);

// Appends `batch` (catalog rows filled) to `writer`, its galaxies with NaN or Inf pixels dealt
// with as options.non_finite says: left out and listed in report->skipped, kept with those pixels
// set to 0 and counted in `non_finite_pixels`, or INVALID_ARGUMENT naming the galaxy, band and
// pixel. Counts them in report->non_finite_galaxies.
absl::Status AppendGalaxies(DatasetWriter* writer, GalaxyBatch* batch, const IngestOptions& options,
                            IngestReport* report);

// Ends an ingest: commits, sets report->written and notes what was done with non-finite pixels.
// INVALID_ARGUMENT (and nothing written) when every galaxy was left out.
absl::Status FinishIngest(DatasetWriter* writer, const IngestOptions& options, IngestReport* report);

// Fills rows [start, start + n) of the catalog (held: within [first_row, first_row + rows)) into
// batch columns at batch rows [batch_row, batch_row + n) (batch already sized).
void FillCatalogRows(const InputCatalog& catalog, const CatalogPlan& plan, const IngestOptions& options,
                     int64_t start, int64_t n, GalaxyBatch* batch, int64_t batch_row = 0);

// The input columns an ingest writes: the ID's first (when there is one), then ra, dec, e_bv, the
// redshift and the extra columns, as planned.
std::vector<std::string> WrittenColumns(const CatalogPlan& plan);

// A catalog read a window of rows at a time, for files whose catalog need not be held whole.
// `read(names, first, rows, window)` fills rows [first, first + rows) of the named input columns
// into `window` (a fresh catalog whose first_row and rows are set).
class CatalogWindows {
 public:
  using Read = std::function<absl::Status(const std::vector<std::string>& names, int64_t first, int64_t rows,
                                          InputCatalog* window)>;
  CatalogWindows(CatalogPlan plan, int64_t total_rows, int64_t window_rows, Read read)
      : plan_(std::move(plan)), columns_(WrittenColumns(plan_)), total_rows_(total_rows),
        window_rows_(std::max<int64_t>(1, window_rows)), read_(std::move(read)) {}

  // Reads the ID column whole (the only one ever held whole) and checks it (CheckUniqueIds);
  // OK without reading when the plan numbers the rows.
  absl::Status CheckIds(const IngestOptions& options, const std::string& source);

  // Fills rows [start, start + n) into batch rows [0, n) (batch already sized), reading the
  // windows they fall in; errors of `read` pass through.
  absl::Status Fill(const IngestOptions& options, int64_t start, int64_t n, GalaxyBatch* batch);

 private:
  CatalogPlan plan_;
  std::vector<std::string> columns_;  // WrittenColumns(plan_)
  int64_t total_rows_, window_rows_;
  Read read_;
  InputCatalog window_;
};

// The ID of catalog row `row` (from the ID column, or id_base + row).
int64_t IdAt(const InputCatalog& catalog, const CatalogPlan& plan, const IngestOptions& options,
             int64_t row);

// Checks that IDs are exact and unique (the whole ID column held, first_row 0); INVALID_ARGUMENT
// naming the row of a duplicate, of an unsigned value above 2^63 - 1, or of a floating-point ID
// that is not an integer float64 holds exactly (NaN, fractional, beyond 2^53: such a column has
// lost the catalog's IDs already).
absl::Status CheckUniqueIds(const InputCatalog& catalog, const CatalogPlan& plan,
                            const IngestOptions& options, const std::string& source);

}  // namespace galaxy

#endif  // GALAXY_DATA_INGEST_INGEST_CATALOG_H_
