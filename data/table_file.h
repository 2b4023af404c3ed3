// One table of named columns, written in row blocks to a file that astropy opens as a Table: an
// HDF5 compound dataset ("galaxies", with astropy's column metadata beside it, so that units
// come along) or a FITS binary table (units in TUNITn). A column may hold several values per row
// (an embedding). Rows stream through: a catalog larger than memory is written block by block.
//
//   GALAXY_ASSIGN_OR_RETURN(auto w, TableFileWriter::Create("export.fits", columns, n));
//   GALAXY_RETURN_IF_ERROR(w->Append({ids.data(), ra.data(), embeddings.data()}, block));
//   GALAXY_RETURN_IF_ERROR(w->Commit());
//
// Like the dataset writer, it writes a temporary file beside the target and renames it into
// place on Commit(): an error or a crash never leaves a half-written file under the final name.
#ifndef GALAXY_DATA_TABLE_FILE_H_
#define GALAXY_DATA_TABLE_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/galaxy_batch.h"

namespace galaxy {

struct TableColumn {
  std::string name;
  ColumnType type = ColumnType::kFloat32;
  // Values per row. Default 1.
  int64_t width = 1;
  // Physical unit in astropy's spelling ("deg"); empty: none.
  std::string unit{};
};

enum class TableFormat { kHdf5, kFits };

// The format a path's extension names: .h5 / .hdf5 -> HDF5, .fits / .fit -> FITS;
// INVALID_ARGUMENT naming the path otherwise.
absl::StatusOr<TableFormat> TableFormatOf(const std::string& path);

// The HDF5 dataset that holds the table.
inline constexpr char kTableDatasetName[] = "galaxies";

class TableFileWriter {
 public:
  // Starts a table of `rows` rows of `columns` at `path` (format from its extension).
  // INVALID_ARGUMENT for an unknown extension, no columns, a width below 1 or a duplicate
  // name; INTERNAL naming the reason when the file cannot be created.
  static absl::StatusOr<std::unique_ptr<TableFileWriter>> Create(const std::string& path,
                                                                 std::vector<TableColumn> columns, int64_t rows);
  TableFileWriter(const TableFileWriter&) = delete;
  TableFileWriter& operator=(const TableFileWriter&) = delete;
  // Deletes the temporary file unless Commit() succeeded.
  ~TableFileWriter();

  // Appends `n` rows: data[c] holds n x columns[c].width values of columns[c].type, row-major.
  // INVALID_ARGUMENT when data has the wrong number of columns or the rows would exceed the
  // declared count; INTERNAL naming the file when writing fails.
  absl::Status Append(const std::vector<const void*>& data, int64_t n);

  // FAILED_PRECONDITION unless every declared row was appended; then closes the file and renames
  // it into place (replacing an existing file atomically).
  absl::Status Commit();

  const std::string& temp_path() const { return temp_path_; }

 private:
  struct Handles;
  TableFileWriter(std::string path, TableFormat format, std::vector<TableColumn> columns, int64_t rows);

  std::string path_, temp_path_;
  TableFormat format_;
  std::vector<TableColumn> columns_;
  int64_t rows_ = 0, written_ = 0;
  std::unique_ptr<Handles> h_;
  bool committed_ = false;
};

}  // namespace galaxy

#endif  // GALAXY_DATA_TABLE_FILE_H_
