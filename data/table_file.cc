#include "data/table_file.h"

#include <fitsio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "data/fits_file.h"
#include "data/hdf5_util.h"

namespace galaxy {
namespace {

size_t ItemSize(ColumnType type) {
  switch (type) {
    case ColumnType::kFloat32: case ColumnType::kInt32: return 4;
    case ColumnType::kFloat64: case ColumnType::kInt64: return 8;
    case ColumnType::kUInt8: return 1;
  }
  return 4;
}

// FITS binary-table form letter and cfitsio datatype.
char FitsForm(ColumnType type) {
  switch (type) {
    case ColumnType::kFloat32: return 'E';
    case ColumnType::kFloat64: return 'D';
    case ColumnType::kInt32: return 'J';
    case ColumnType::kInt64: return 'K';
    case ColumnType::kUInt8: return 'B';
  }
  return 'E';
}

int FitsType(ColumnType type) {
  switch (type) {
    case ColumnType::kFloat32: return TFLOAT;
    case ColumnType::kFloat64: return TDOUBLE;
    case ColumnType::kInt32: return TINT;
    case ColumnType::kInt64: return TLONGLONG;
    case ColumnType::kUInt8: return TBYTE;
  }
  return TFLOAT;
}

}  // namespace

struct TableFileWriter::Handles {
  // HDF5
  Hid file, dataset, memory_type;
  size_t record = 0;
  std::vector<size_t> offsets;
  // FITS
  fitsfile* fits = nullptr;
};

absl::StatusOr<TableFormat> TableFormatOf(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".h5") || absl::EndsWith(lower, ".hdf5")) return TableFormat::kHdf5;
  if (absl::EndsWith(lower, ".fits") || absl::EndsWith(lower, ".fit")) return TableFormat::kFits;
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected a .h5, .hdf5, .fits or .fit file"));
}

TableFileWriter::TableFileWriter(std::string path, TableFormat format, std::vector<TableColumn> columns, int64_t rows)
    : path_(std::move(path)), temp_path_(TempPathFor(path_)), format_(format), columns_(std::move(columns)),
      rows_(rows), h_(std::make_unique<Handles>()) {}

absl::StatusOr<std::unique_ptr<TableFileWriter>> TableFileWriter::Create(const std::string& path,
                                                                         std::vector<TableColumn> columns,
                                                                         int64_t rows) {
  GALAXY_ASSIGN_OR_RETURN(TableFormat format, TableFormatOf(path));
  if (columns.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": a table needs columns"));
  if (rows < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": ", rows, " rows"));
  std::set<std::string> names;
  for (const TableColumn& c : columns) {
    if (c.width < 1 || c.name.empty() || !names.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": column '", c.name, "' of width ", c.width,
                                                     " (empty, repeated or narrower than 1)"));
    }
  }
  RemoveStaleTemps(path);
  std::unique_ptr<TableFileWriter> w(new TableFileWriter(path, format, std::move(columns), rows));
  Handles& h = *w->h_;
  if (format == TableFormat::kFits) {
    int status = 0;
    std::vector<std::string> types, forms, units;
    for (const TableColumn& c : w->columns_) {
      types.push_back(c.name);
      forms.push_back(absl::StrCat(c.width, std::string(1, FitsForm(c.type))));
      units.push_back(c.unit);
    }
    std::vector<char*> t, f, u;
    for (size_t i = 0; i < types.size(); ++i) {
      t.push_back(types[i].data());
      f.push_back(forms[i].data());
      u.push_back(units[i].data());
    }
    fits_create_file(&h.fits, w->temp_path_.c_str(), &status);
    if (status == 0) {
      fits_create_tbl(h.fits, BINARY_TBL, 0, static_cast<int>(t.size()), t.data(), f.data(), u.data(), "GALAXIES",
                      &status);
    }
    if (status != 0) {
      return absl::InternalError(absl::StrCat(path, ": cannot create ", w->temp_path_, ": ", FitsError(status)));
    }
    return w;
  }

  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  QuietHdf5();
  h.file = Hid(H5Fcreate(w->temp_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!h.file.ok()) {
    return absl::InternalError(absl::StrCat(path, ": cannot create ", w->temp_path_, ": ", Hdf5Reason()));
  }
  // One packed record per row; a column of several values is an array member.
  std::vector<Hid> member_types;
  for (const TableColumn& c : w->columns_) {
    h.offsets.push_back(h.record);
    h.record += ItemSize(c.type) * static_cast<size_t>(c.width);
    if (c.width == 1) {
      member_types.emplace_back(H5Tcopy(Hdf5FileType(c.type)), H5Tclose);
    } else {
      const hsize_t dims[1] = {static_cast<hsize_t>(c.width)};
      member_types.emplace_back(H5Tarray_create2(Hdf5FileType(c.type), 1, dims), H5Tclose);
    }
  }
  h.memory_type = Hid(H5Tcreate(H5T_COMPOUND, h.record), H5Tclose);
  for (size_t i = 0; i < w->columns_.size(); ++i) {
    H5Tinsert(h.memory_type.get(), w->columns_[i].name.c_str(), h.offsets[i], member_types[i].get());
  }
  const hsize_t dims[1] = {static_cast<hsize_t>(rows)};
  Hid space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (rows > 0) {
    const hsize_t chunk[1] = {std::min<hsize_t>(dims[0], std::max<hsize_t>(1, (1u << 20) / h.record))};
    H5Pset_chunk(dcpl.get(), 1, chunk);
  }
  h.dataset = Hid(H5Dcreate2(h.file.get(), kTableDatasetName, h.memory_type.get(), space.get(), H5P_DEFAULT,
                             dcpl.get(), H5P_DEFAULT),
                  H5Dclose);
  if (!h.dataset.ok()) {
    return absl::InternalError(absl::StrCat(path, ": cannot create the table: ", Hdf5Reason()));
  }
  // astropy's column metadata (units), which Table.read applies: the YAML lines of its header.
  std::vector<std::string> yaml = {"datatype:"};
  for (const TableColumn& c : w->columns_) {
    std::string line = absl::StrCat("- {name: ", c.name);
    if (!c.unit.empty()) absl::StrAppend(&line, ", unit: ", c.unit);
    absl::StrAppend(&line, ", datatype: ", ColumnTypeName(c.type));  // numpy's names, as astropy's
    if (c.width > 1) absl::StrAppend(&line, ", subtype: '", ColumnTypeName(c.type), "[", c.width, "]'");
    yaml.push_back(line + "}");
  }
  size_t longest = 1;
  for (const std::string& l : yaml) longest = std::max(longest, l.size());
  std::string packed(longest * yaml.size(), '\0');
  for (size_t i = 0; i < yaml.size(); ++i) std::memcpy(&packed[i * longest], yaml[i].data(), yaml[i].size());
  Hid text(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(text.get(), longest);
  H5Tset_strpad(text.get(), H5T_STR_NULLPAD);
  const hsize_t lines[1] = {yaml.size()};
  Hid meta_space(H5Screate_simple(1, lines, nullptr), H5Sclose);
  const std::string meta_name = absl::StrCat(kTableDatasetName, ".__table_column_meta__");
  Hid meta(H5Dcreate2(h.file.get(), meta_name.c_str(), text.get(), meta_space.get(), H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT),
           H5Dclose);
  if (!meta.ok() || H5Dwrite(meta.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()) < 0) {
    return absl::InternalError(absl::StrCat(path, ": cannot write the column metadata: ", Hdf5Reason()));
  }
  return w;
}

TableFileWriter::~TableFileWriter() {
  if (committed_) return;
  if (h_->fits != nullptr) {
    int status = 0;
    fits_close_file(h_->fits, &status);
    h_->fits = nullptr;
  }
  {
    std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
    h_.reset();
  }
  ::unlink(temp_path_.c_str());
}

absl::Status TableFileWriter::Append(const std::vector<const void*>& data, int64_t n) {
  if (committed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": already committed"));
  if (data.size() != columns_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": ", data.size(), " columns of data for a table of ", columns_.size()));
  }
  if (n < 0 || written_ + n > rows_) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", n, " more rows after ", written_, " of ", rows_));
  }
  if (n == 0) return absl::OkStatus();
  if (format_ == TableFormat::kFits) {
    int status = 0;
    for (size_t c = 0; c < columns_.size() && status == 0; ++c) {
      fits_write_col(h_->fits, FitsType(columns_[c].type), static_cast<int>(c + 1), written_ + 1, 1,
                     n * columns_[c].width, const_cast<void*>(data[c]), &status);
    }
    if (status != 0) {
      return absl::InternalError(absl::StrCat(path_, ": writing rows ", written_, "..", written_ + n, " failed: ",
                                              FitsError(status)));
    }
    written_ += n;
    return absl::OkStatus();
  }
  // Rows packed into records, then one hyperslab.
  std::vector<char> records(h_->record * static_cast<size_t>(n));
  for (size_t c = 0; c < columns_.size(); ++c) {
    const size_t bytes = ItemSize(columns_[c].type) * static_cast<size_t>(columns_[c].width);
    const char* from = static_cast<const char*>(data[c]);
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(&records[static_cast<size_t>(r) * h_->record + h_->offsets[c]], from + static_cast<size_t>(r) * bytes,
                  bytes);
    }
  }
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  Hid space(H5Dget_space(h_->dataset.get()), H5Sclose);
  const hsize_t start[1] = {static_cast<hsize_t>(written_)}, count[1] = {static_cast<hsize_t>(n)};
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  Hid memory(H5Screate_simple(1, count, nullptr), H5Sclose);
  if (H5Dwrite(h_->dataset.get(), h_->memory_type.get(), memory.get(), space.get(), H5P_DEFAULT, records.data()) < 0) {
    return absl::InternalError(
        absl::StrCat(path_, ": writing rows ", written_, "..", written_ + n, " failed: ", Hdf5Reason()));
  }
  written_ += n;
  return absl::OkStatus();
}

absl::Status TableFileWriter::Commit() {
  if (committed_) return absl::OkStatus();
  if (written_ != rows_) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": ", written_, " of ", rows_, " rows written"));
  }
  if (format_ == TableFormat::kFits) {
    int status = 0;
    fits_close_file(h_->fits, &status);
    h_->fits = nullptr;
    if (status != 0) return absl::InternalError(absl::StrCat(path_, ": closing failed: ", FitsError(status)));
  } else {
    std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
    h_->dataset.Reset();
    if (H5Fflush(h_->file.get(), H5F_SCOPE_GLOBAL) < 0) {
      return absl::InternalError(absl::StrCat(path_, ": flushing failed: ", Hdf5Reason()));
    }
    h_->file.Reset();
  }
  GALAXY_RETURN_IF_ERROR(DurableRename(temp_path_, path_));
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace galaxy
