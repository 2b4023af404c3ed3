// Reading and writing datasets in the native HDF5 layout (data/galaxy_batch.h), in batches, so
// that files larger than memory stream through.
//
//   GALAXY_ASSIGN_OR_RETURN(auto reader, DatasetReader::Open("survey.h5"));
//   GalaxyBatch batch;
//   for (int64_t start = 0; start < reader->count(); start += 256) {
//     GALAXY_RETURN_IF_ERROR(reader->Read(start, std::min<int64_t>(256, reader->count() - start),
//                                         &batch));
//     ...
//   }
//
// Writers write to a temporary file beside the target and rename it into place on Commit(): a
// crash or an error never leaves a half-written file under the final name, and an uncommitted
// writer deletes its temporary file when destroyed.
//
// Errors name the file and the key: "survey.h5: key 'images': rank 3, expected 4 (N x C x H x W)".
// HDF5 (serial build) is not thread-safe; every call here takes one process-wide lock, so readers
// and writers may be used from several threads, one call at a time.
#ifndef GALAXY_DATA_HDF5_DATASET_H_
#define GALAXY_DATA_HDF5_DATASET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/galaxy_batch.h"

namespace galaxy {

class DatasetWriter {
 public:
  // Starts a new dataset at `path` (written as `path`.tmp-PID-XXXX until Commit). Removes stale
  // temporary files of dead processes for the same path. INVALID_ARGUMENT for a bad layout,
  // INTERNAL when the file cannot be created.
  static absl::StatusOr<std::unique_ptr<DatasetWriter>> Create(const std::string& path,
                                                               const DatasetLayout& layout);
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;
  // Deletes the temporary file unless Commit() succeeded.
  ~DatasetWriter();

  // Appends a batch. INVALID_ARGUMENT when a column's length does not match, or (unless
  // allow_non_finite) when an image holds NaN or Inf (the message gives the row and band).
  absl::Status Append(const GalaxyBatch& batch);

  // Closes the file and renames it to the final path (replacing an existing file atomically).
  absl::Status Commit();

  int64_t count() const { return count_; }
  const DatasetLayout& layout() const { return layout_; }
  const std::string& temp_path() const { return temp_path_; }

  // Accept non-finite pixels (for tests of readers against bad files). Default false.
  void set_allow_non_finite(bool allow) { allow_non_finite_ = allow; }

 private:
  struct Handles;
  DatasetWriter(std::string path, std::string temp_path, const DatasetLayout& layout);

  std::string path_, temp_path_;
  DatasetLayout layout_;
  std::unique_ptr<Handles> h_;
  int64_t count_ = 0;
  bool committed_ = false;
  bool allow_non_finite_ = false;
};

class DatasetReader {
 public:
  // Opens and validates the layout: `images` rank 4 of floats, ObjID/ra/dec present, every 1-D
  // column as long as images. INVALID_ARGUMENT / NOT_FOUND naming the file and key otherwise;
  // DATA_LOSS for a file HDF5 cannot read (truncated or corrupt).
  static absl::StatusOr<std::unique_ptr<DatasetReader>> Open(const std::string& path);
  DatasetReader(const DatasetReader&) = delete;
  DatasetReader& operator=(const DatasetReader&) = delete;
  ~DatasetReader();

  int64_t count() const { return count_; }
  const DatasetLayout& layout() const { return layout_; }
  const std::string& path() const { return path_; }
  // Which optional standard columns the file has.
  bool has_redshift() const { return has_redshift_; }
  bool has_e_bv() const { return has_e_bv_; }
  // Whether the file names its planes (attribute "bands", one name per plane, as our writer
  // stores them). Otherwise layout().band_names are assumed: u, g, r, i, z for five planes.
  bool bands_named() const { return bands_named_; }

  // Reads rows [start, start + n) into `batch` (resized; extra columns included). Without
  // images when `images` is false (catalog columns only, fast). OUT_OF_RANGE for rows past the
  // end; INVALID_ARGUMENT naming row and band when an image holds NaN/Inf (check_finite).
  absl::Status Read(int64_t start, int64_t n, GalaxyBatch* batch, bool images = true);

  // One whole 1-D column (standard or extra) as doubles. NOT_FOUND for an unknown name.
  // Catalog IDs do not fit a double exactly: read them with ReadIds().
  absl::StatusOr<std::vector<double>> ReadColumn(const std::string& name);

  // The whole ObjID column, exactly.
  absl::StatusOr<std::vector<int64_t>> ReadIds();

  // Check images for NaN/Inf on Read. Default true.
  void set_check_finite(bool check) { check_finite_ = check; }

 private:
  struct Handles;
  DatasetReader() = default;

  std::string path_;
  DatasetLayout layout_;
  std::unique_ptr<Handles> h_;
  int64_t count_ = 0;
  bool has_redshift_ = false, has_e_bv_ = false;
  bool bands_named_ = false;
  bool check_finite_ = true;
};

}  // namespace galaxy

#endif  // GALAXY_DATA_HDF5_DATASET_H_
