#include "data/fits_file.h"

#include <bzlib.h>
#include <fitsio.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "data/fits_header.h"

namespace galaxy {

absl::Status CheckCutoutAxes(const std::string& path, int64_t width, int64_t height, int64_t bands, int64_t n) {
  // The product only once the axes are bounded.
  if (width < 1 || width > kMaxCutoutSide || height < 1 || height > kMaxCutoutSide || bands < 1 ||
      bands > kMaxCutoutBands || n < 0 || bands * height * width > kMaxCutoutPixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the header declares an image of ", width, " x ", height, " pixels x ", bands, " bands",
        n > 0 ? absl::StrCat(" x ", n) : "", "; expected 1..", kMaxCutoutSide, " pixels a side, 1..",
        kMaxCutoutBands, " bands and at most ", kMaxCutoutPixels, " pixels an image"));
  }
  return absl::OkStatus();
}

std::string FitsError(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  return text;
}

absl::StatusOr<std::unique_ptr<FitsFile>> FitsFile::Open(const std::string& path) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  std::unique_ptr<FitsFile> f(new FitsFile);
  f->path_ = path;
  int status = 0;
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".bz2")) {
    GALAXY_RETURN_IF_ERROR(f->Decompress());
    f->file_size_ = static_cast<int64_t>(f->memory_.size());
    GALAXY_RETURN_IF_ERROR(CheckFitsHeadersInMemory(path, f->memory_));
    f->mem_ptr_ = f->memory_.data();
    f->mem_size_ = f->memory_.size();
    fits_open_memfile(&f->fptr_, path.c_str(), READONLY, &f->mem_ptr_, &f->mem_size_, 0, nullptr, &status);
  } else if (absl::EndsWith(lower, ".gz")) {
    // cfitsio decompresses it; its headers are checked by cfitsio alone, its size is unknown.
    fits_open_file(&f->fptr_, path.c_str(), READONLY, &status);
  } else {
    std::error_code error;
    f->file_size_ = static_cast<int64_t>(std::filesystem::file_size(path, error));
    if (error) f->file_size_ = -1;
    GALAXY_RETURN_IF_ERROR(CheckFitsHeadersInFile(path));
    fits_open_file(&f->fptr_, path.c_str(), READONLY, &status);
  }
  if (status != 0) {
    f->fptr_ = nullptr;
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable FITS file: ", FitsError(status)));
  }
  return f;
}

FitsFile::~FitsFile() {
  int status = 0;
  if (fptr_ != nullptr) fits_close_file(fptr_, &status);
}

absl::Status FitsFile::Check(int status, const std::string& what) const {
  if (status == 0) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(path_, ": ", what, ": ", FitsError(status)));
}

absl::Status FitsFile::WalkHdus(const std::function<absl::StatusOr<bool>(int hdu, int type)>& visit) {
  for (int h = 1;; ++h) {
    int status = 0, type = 0;
    fits_movabs_hdu(fptr_, h, &type, &status);
    if (status == END_OF_FILE) return absl::OkStatus();
    GALAXY_RETURN_IF_ERROR(Check(status, absl::StrCat("reading HDU ", h)));
    GALAXY_ASSIGN_OR_RETURN(const bool more, visit(h, type));
    if (!more) return absl::OkStatus();
  }
}

absl::Status FitsFile::MoveToFirstImage() {
  bool found = false;
  GALAXY_RETURN_IF_ERROR(WalkHdus([&](int h, int type) -> absl::StatusOr<bool> {
    if (type != IMAGE_HDU) return true;
    int status = 0, naxis = 0;
    fits_get_img_dim(fptr_, &naxis, &status);
    GALAXY_RETURN_IF_ERROR(Check(status, absl::StrCat("reading HDU ", h)));
    found = naxis > 0;
    return !found;
  }));
  if (!found) return absl::InvalidArgumentError(absl::StrCat(path_, ": no image HDU with data"));
  return absl::OkStatus();
}

namespace {

// The integer value of header keyword `key` in the current HDU, or `fallback` when it is missing.
int64_t IntKey(fitsfile* fptr, const std::string& key, int64_t fallback) {
  LONGLONG value = 0;
  int status = 0;
  fits_read_key(fptr, TLONGLONG, key.c_str(), &value, nullptr, &status);
  return status == 0 ? value : fallback;
}

// The column of the current HDU named `name` (any case), or 0 for none.
int Column(fitsfile* fptr, const char* name) {
  int column = 0, status = 0;
  fits_get_colnum(fptr, CASEINSEN, const_cast<char*>(name), &column, &status);
  return status == 0 ? column : 0;
}

// Whether `column` (0: none) holds variable-length arrays of bytes (1PB, 1QB).
bool ByteArrays(fitsfile* fptr, int column) {
  if (column == 0) return false;
  int type = 0, status = 0;
  LONGLONG repeat = 0, width = 0;
  fits_get_coltypell(fptr, column, &type, &repeat, &width, &status);
  return status == 0 && type == -TBYTE;
}

}  // namespace

absl::StatusOr<bool> FitsFile::CheckTile(int column, int64_t row, int64_t pixels, int64_t bytes, int64_t bitpix,
                                          const std::string& what) const {
  // A column > 0 holds gzip streams of bytes; < 0 the pixels as they are (UNCOMPRESSED_DATA).
  const bool gzip = column > 0;
  column = std::abs(column);
  if (column == 0) return false;
  const std::string tile = absl::StrCat("tile ", row, " of the compressed image");
  int status = 0;
  LONGLONG length = 0, offset = 0;
  fits_read_descriptll(fptr_, column, row, &length, &offset, &status);
  GALAXY_RETURN_IF_ERROR(Check(status, absl::StrCat("reading ", tile)));
  if (length == 0) return false;  // the tile is in another column
  int64_t holds = length, expected = pixels;
  if (gzip) {
    // A gzip stream ends with the size of what it unpacks to (RFC 1952), which zlib checks.
    unsigned char end[4] = {0}, nul = 0;
    int anynul = 0;
    if (length >= 18) fits_read_col(fptr_, TBYTE, column, row, length - 3, 4, &nul, end, &anynul, &status);
    GALAXY_RETURN_IF_ERROR(Check(status, absl::StrCat("reading ", tile)));
    holds = int64_t{end[0]} | int64_t{end[1]} << 8 | int64_t{end[2]} << 16 | int64_t{end[3]} << 24;
    expected = pixels * bytes;
  }
  if (holds != expected) {
    return absl::DataLossError(absl::StrCat(path_, ": ", what, ": ", tile, " holds ", holds, gzip ? " bytes" : " values",
                                            " where its ", pixels, " pixels of ZBITPIX ", bitpix, " make ", expected,
                                            " (corrupt header or data)"));
  }
  return true;
}

absl::Status FitsFile::CheckCompressedTiles(int64_t elements, const std::string& what) const {
  constexpr int kMaxDims = 6;  // cfitsio's MAX_COMPRESS_DIM: it refuses more itself
  const int64_t bitpix = IntKey(fptr_, "ZBITPIX", 0), naxis = IntKey(fptr_, "ZNAXIS", 0);
  if (naxis < 1 || naxis > kMaxDims || bitpix == 0) return absl::OkStatus();  // cfitsio says what is wrong
  int64_t dims[kMaxDims], tile[kMaxDims], across[kMaxDims], all = 1;
  for (int i = 0; i < naxis; ++i) {
    dims[i] = IntKey(fptr_, absl::StrCat("ZNAXIS", i + 1), 0);
    tile[i] = IntKey(fptr_, absl::StrCat("ZTILE", i + 1), i == 0 ? dims[0] : 1);
    // No pixels, or more than 2^62 (then no index below overflows): the caller's bounds refuse it.
    if (dims[i] < 1 || tile[i] < 1 || __builtin_mul_overflow(all, dims[i], &all) || all > (int64_t{1} << 62)) {
      return absl::OkStatus();
    }
    across[i] = (dims[i] - 1) / tile[i] + 1;
  }
  char text[FLEN_VALUE] = {0};
  int status = 0;
  fits_read_key(fptr_, TSTRING, "ZCMPTYPE", text, nullptr, &status);
  const std::string method = status == 0 ? absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text)) : "";
  status = 0;
  fits_read_key(fptr_, TSTRING, "ZQUANTIZ", text, nullptr, &status);
  const bool lossless = status == 0 && absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text)) == "NONE";
  status = 0;
  // The columns whose tiles can be checked: gzip streams of bytes, and pixels as they are.
  int compressed = absl::StartsWith(method, "GZIP_") ? Column(fptr_, "COMPRESSED_DATA") : 0;
  int gzipped = Column(fptr_, "GZIP_COMPRESSED_DATA");
  if (!ByteArrays(fptr_, compressed)) compressed = 0;
  if (!ByteArrays(fptr_, gzipped)) gzipped = 0;
  const int raw = Column(fptr_, "UNCOMPRESSED_DATA");
  // Floating-point pixels in COMPRESSED_DATA are quantized to 4-byte integers (ZSCALE, ZZERO) unless
  // ZQUANTIZ is NONE; GZIP_COMPRESSED_DATA and UNCOMPRESSED_DATA hold them as they are.
  const bool quantized = bitpix < 0 && !lossless && (Column(fptr_, "ZSCALE") != 0 || IntKey(fptr_, "ZSCALE", 0) != 0);
  const int64_t pixel_bytes = std::abs(bitpix) / 8, compressed_bytes = quantized ? 4 : pixel_bytes;
  LONGLONG rows = 0;
  fits_get_num_rowsll(fptr_, &rows, &status);
  GALAXY_RETURN_IF_ERROR(Check(status, "reading the compressed image's tiles"));
  for (LONGLONG row = 1; row <= rows; ++row) {
    // The tile's first pixel, and its pixels (tiles at an edge are cut short); tiles go with the
    // first axis fastest, so their first pixels rise with the row.
    int64_t index = row - 1, first = 0, stride = 1, pixels = 1;
    for (int i = 0; i < naxis; ++i) {
      const int64_t k = index % across[i];
      index /= across[i];
      first += k * tile[i] * stride;
      stride *= dims[i];
      pixels *= std::min(tile[i], dims[i] - k * tile[i]);
    }
    if (index > 0 || first >= elements) break;  // more rows than tiles, or past what is read
    GALAXY_ASSIGN_OR_RETURN(const bool found, CheckTile(compressed, row, pixels, compressed_bytes, bitpix, what));
    if (found) continue;
    GALAXY_ASSIGN_OR_RETURN(const bool gzip_found, CheckTile(gzipped, row, pixels, pixel_bytes, bitpix, what));
    if (gzip_found) continue;
    GALAXY_RETURN_IF_ERROR(CheckTile(-raw, row, pixels, 1, bitpix, what).status());
  }
  return absl::OkStatus();
}

absl::Status FitsFile::CheckDeclaredData(int64_t elements, int64_t element_bytes, const std::string& what) const {
  constexpr int64_t kMaxElements = int64_t{1} << 34;  // 64 GiB of float32
  int status = 0;
  if (elements < 0 || element_bytes <= 0 || elements > kMaxElements) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": ", what, ": ", elements, " elements declared; out of range"));
  }
  if (fits_is_compressed_image(fptr_, &status)) return CheckCompressedTiles(elements, what);
  if (file_size_ < 0) return absl::OkStatus();
  LONGLONG head = 0, data_start = 0, data_end = 0;
  fits_get_hduaddrll(fptr_, &head, &data_start, &data_end, &status);
  GALAXY_RETURN_IF_ERROR(Check(status, "locating the data"));
  const int64_t available = file_size_ - data_start;
  if (elements * element_bytes > available) {
    return absl::DataLossError(absl::StrCat(path_, ": ", what, ": the header declares ", elements * element_bytes,
                                            " bytes of data, the file holds ", std::max<int64_t>(0, available),
                                            " after it (truncated?)"));
  }
  return absl::OkStatus();
}

absl::Status FitsFile::Decompress() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path_, ": cannot open"));
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return absl::InternalError("bzip2 init failed");
  stream.next_in = packed.data();
  stream.avail_in = static_cast<unsigned>(packed.size());
  std::string out(packed.size() * 4 + 65536, '\0');
  size_t used = 0;
  int rc = BZ_OK;
  while (rc == BZ_OK) {
    if (used == out.size()) out.resize(out.size() * 2);
    stream.next_out = out.data() + used;
    stream.avail_out = static_cast<unsigned>(out.size() - used);
    rc = BZ2_bzDecompress(&stream);
    used = out.size() - stream.avail_out;
  }
  BZ2_bzDecompressEnd(&stream);
  if (rc != BZ_STREAM_END) return absl::DataLossError(absl::StrCat(path_, ": corrupt or truncated bzip2 data"));
  out.resize(used);
  memory_.assign(out.begin(), out.end());
  return absl::OkStatus();
}

absl::StatusOr<int> FirstImageAxes(const std::string& path) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<FitsFile> f, FitsFile::Open(path));
  GALAXY_RETURN_IF_ERROR(f->MoveToFirstImage());
  int status = 0, naxis = 0;
  fits_get_img_dim(f->get(), &naxis, &status);
  GALAXY_RETURN_IF_ERROR(f->Check(status, "reading the image's axes"));
  return naxis;
}

absl::StatusOr<FitsCutout> ReadFitsCutout(const std::string& path, int64_t row) {
  FitsCutout cutout;
  GALAXY_ASSIGN_OR_RETURN(cutout.file, FitsFile::Open(path));
  FitsFile& f = *cutout.file;
  GALAXY_RETURN_IF_ERROR(f.MoveToFirstImage());
  int status = 0, naxis = 0;
  long dims[4] = {1, 1, 1, 1};
  fits_get_img_dim(f.get(), &naxis, &status);
  if (status == 0 && naxis >= 2 && naxis <= 4) fits_get_img_size(f.get(), naxis, dims, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the image size"));
  if (naxis < 2 || naxis > 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected an image of 2 axes (width, height), 3 (width, "
                                                   "height, bands) or 4 (width, height, bands, n); it has ",
                                                   naxis));
  }
  cutout.width = dims[0];
  cutout.height = dims[1];
  cutout.bands = dims[2];
  cutout.rows = dims[3];
  GALAXY_RETURN_IF_ERROR(CheckCutoutAxes(path, cutout.width, cutout.height, cutout.bands, naxis == 4 ? cutout.rows : 0));
  if (row < 0 || row >= cutout.rows) {
    return absl::InvalidArgumentError(absl::StrCat("--row: ", row, " is outside 0..", cutout.rows - 1));
  }
  const int64_t count = cutout.bands * cutout.height * cutout.width;
  int bitpix = 0;
  fits_get_img_type(f.get(), &bitpix, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the image type"));
  GALAXY_RETURN_IF_ERROR(f.CheckDeclaredData((row + 1) * count, std::abs(bitpix) / 8, absl::StrCat("images up to row ", row)));
  cutout.pixels.resize(static_cast<size_t>(count));
  int anynul = 0;
  float nul = 0;
  fits_read_img(f.get(), TFLOAT, row * count + 1, count, &nul, cutout.pixels.data(), &anynul, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the pixels"));
  return cutout;
}

namespace {

// The string value of header keyword `key` in the current HDU, trimmed; empty when it is missing.
std::string KeyValue(FitsFile& file, const std::string& key) {
  char value[FLEN_VALUE] = {0};
  int status = 0;
  fits_read_key(file.get(), TSTRING, key.c_str(), value, nullptr, &status);
  if (status != 0) return "";
  return std::string(absl::StripAsciiWhitespace(value));
}

// FitsBandNames in the current HDU.
std::vector<std::string> BandNamesHere(FitsFile& file, int64_t bands) {
  for (int first : {0, 1}) {
    std::vector<std::string> names;
    for (int64_t b = 0; b < bands; ++b) {
      std::string value = KeyValue(file, absl::StrCat("BAND", b + first));
      if (value.empty()) break;
      names.push_back(std::move(value));
    }
    if (static_cast<int64_t>(names.size()) == bands) return names;
  }
  const std::string list = KeyValue(file, "BANDS");
  if (!list.empty()) {
    std::vector<std::string> names = absl::StrSplit(list, absl::ByAnyChar(", "), absl::SkipEmpty());
    if (names.size() == 1 && bands > 1 && static_cast<int64_t>(list.size()) == bands) {
      names.clear();  // "grz": one letter a band
      for (char c : list) names.emplace_back(1, c);
    }
    if (static_cast<int64_t>(names.size()) == bands) return names;
  }
  if (bands == 1) {
    for (const char* key : {"FILTER", "BAND"}) {
      std::string value = KeyValue(file, key);
      if (!value.empty()) return {value};
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> FitsBandNames(FitsFile& file, int64_t bands) {
  std::vector<std::string> names = BandNamesHere(file, bands);
  int here = 1, status = 0, type = 0;
  fits_get_hdu_num(file.get(), &here);
  if (!names.empty() || here == 1) return names;
  fits_movabs_hdu(file.get(), 1, &type, &status);
  if (status == 0) names = BandNamesHere(file, bands);
  status = 0;
  fits_movabs_hdu(file.get(), here, &type, &status);
  return names;
}

absl::StatusOr<std::vector<int64_t>> PlanesOfBands(const std::string& path, const std::vector<std::string>& names,
                                                   const std::vector<std::string>& wanted) {
  BandPlanes match = MatchBands(names, wanted);
  if (!match.twice.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": its header names band ", match.twice, " twice (bands ",
                                                   absl::StrJoin(names, ", "), ")"));
  }
  if (!match.missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": its header names bands ", absl::StrJoin(names, ", "),
                                                   "; no ", absl::StrJoin(match.missing, ", "), " among them (--bands ",
                                                   "names the bands to keep, e.g. --bands ", absl::StrJoin(names, ","),
                                                   ")"));
  }
  return std::move(match.planes);
}

absl::StatusOr<bool> HeaderNamesBand(FitsFile& file, int band, const std::vector<std::string>& band_names,
                                     const std::string& what) {
  const std::vector<std::string> named = FitsBandNames(file, 1);
  const int in_header = named.empty() ? -1 : BandNamed(named[0], band_names);
  if (in_header >= 0 && in_header != band) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": its path makes it the ",
                                                   band_names[static_cast<size_t>(band)], "-band ", what,
                                                   ", but its header says '", named[0], "' (",
                                                   band_names[static_cast<size_t>(in_header)], ")"));
  }
  return in_header == band;
}

absl::Status PickNamedBands(FitsCutout* cutout, const std::vector<std::string>& wanted, bool* by_header) {
  *by_header = false;
  const std::vector<std::string> names = FitsBandNames(*cutout->file, cutout->bands);
  if (names.empty()) return absl::OkStatus();
  GALAXY_ASSIGN_OR_RETURN(const std::vector<int64_t> planes, PlanesOfBands(cutout->file->path(), names, wanted));
  const int64_t plane = cutout->width * cutout->height;
  std::vector<float> picked(wanted.size() * static_cast<size_t>(plane));
  PickPlanes(cutout->pixels.data(), 1, cutout->bands, plane, planes, picked.data());
  cutout->pixels = std::move(picked);
  cutout->bands = static_cast<int64_t>(wanted.size());
  *by_header = true;
  return absl::OkStatus();
}

}  // namespace galaxy
