// The one FITS reader: every FITS file galaxy-search reads (the client's query images, the
// ingest of cutout stacks, catalogs and SDSS frames) is opened through FitsFile, which checks
// headers before cfitsio parses them (data/fits_header.h), decompresses .bz2 in memory (cfitsio
// reads .gz itself), and refuses, before anything is sized from a header, data the file does not
// hold. The bounds on a cutout's axes are shared too (CheckCutoutAxes).
#ifndef GALAXY_DATA_FITS_FILE_H_
#define GALAXY_DATA_FITS_FILE_H_

#include <fitsio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/band_match.h"

namespace galaxy {

// Largest cutout a FITS header may declare: 4096 pixels a side, 64 bands, 2^26 pixels (256 MiB
// of float32) in one image.
inline constexpr int64_t kMaxCutoutSide = 4096;
inline constexpr int64_t kMaxCutoutBands = 64;
inline constexpr int64_t kMaxCutoutPixels = int64_t{1} << 26;

// INVALID_ARGUMENT naming `path` and what the header declared when a cutout of `width` x `height`
// pixels x `bands` (x `n` images, when n > 0) is outside those bounds.
absl::Status CheckCutoutAxes(const std::string& path, int64_t width, int64_t height, int64_t bands, int64_t n = 0);

// cfitsio's message for `status`.
std::string FitsError(int status);

// An open FITS file, closed on destruction.
class FitsFile {
 public:
  // NOT_FOUND when it cannot be read; INVALID_ARGUMENT for bad header bytes (CheckFitsHeaders*)
  // or a file cfitsio cannot open ("not a readable FITS file: <reason>"); DATA_LOSS for corrupt
  // bzip2 data.
  static absl::StatusOr<std::unique_ptr<FitsFile>> Open(const std::string& path);
  ~FitsFile();
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;

  fitsfile* get() const { return fptr_; }
  const std::string& path() const { return path_; }

  // DATA_LOSS naming the file, `what` and cfitsio's reason when status is not 0.
  absl::Status Check(int status, const std::string& what) const;

  // Makes the first HDU with image data current (a primary HDU without data is skipped).
  // INVALID_ARGUMENT when the file has none.
  absl::Status MoveToFirstImage();

  // Makes each HDU current in turn, from the first, and calls `visit(hdu, type)` (type: IMAGE_HDU,
  // ASCII_TBL or BINARY_TBL); stops at the end of the file, when `visit` returns false, or with
  // the first error (visit's, or DATA_LOSS naming the HDU cfitsio cannot read). HDUs after the
  // one that stops the walk are never parsed: cfitsio's count of HDUs (fits_get_num_hdus) parses
  // every header, and sized allocations from the garbage after a good image (data/fits_fuzzer.cc).
  absl::Status WalkHdus(const std::function<absl::StatusOr<bool>(int hdu, int type)>& visit);

  // Before anything is sized from the current HDU's header: DATA_LOSS unless the file holds the
  // `elements` x `element_bytes` bytes of data the header declares (a truncated file, or a header
  // that claims 10^15 rows, must not turn into an allocation of that size). Tile-compressed
  // images hold fewer bytes than they declare (their tiles are checked, CheckCompressedTiles),
  // and a .gz file's size says nothing: for them the element count is bounded.
  absl::Status CheckDeclaredData(int64_t elements, int64_t element_bytes, const std::string& what) const;

  // For a tile-compressed image: DATA_LOSS unless each tile holding any of the first `elements`
  // pixels unpacks to the bytes its pixels and ZBITPIX make, where that can be told without
  // unpacking it (gzip's stored size, an uncompressed tile's length). cfitsio trusts ZBITPIX and
  // returned bytes it never wrote for a tile of float32 under ZBITPIX -64 (data/fits_fuzzer.cc).
  // CheckDeclaredData calls it.
  absl::Status CheckCompressedTiles(int64_t elements, const std::string& what) const;

 private:
  FitsFile() = default;
  absl::Status Decompress();
  // CheckCompressedTiles for tile `row` of `pixels` in `column` (> 0: gzip streams of `bytes` a
  // pixel, < 0: pixels as they are, 0: none): false when the tile is not in that column.
  absl::StatusOr<bool> CheckTile(int column, int64_t row, int64_t pixels, int64_t bytes, int64_t bitpix,
                                 const std::string& what) const;

  std::string path_;
  fitsfile* fptr_ = nullptr;
  std::vector<char> memory_;
  void* mem_ptr_ = nullptr;
  size_t mem_size_ = 0;
  int64_t file_size_ = -1;  // bytes of FITS data (decompressed for .bz2); -1 when unknown (.gz)
};

// NAXIS of the first HDU with image data (2 or 3 for one galaxy's cutout, 4 for a stack); the
// errors of FitsFile::Open and MoveToFirstImage.
absl::StatusOr<int> FirstImageAxes(const std::string& path);

// One cutout from a FITS file's first image HDU with data: W x H (one band), W x H x C, or row
// `row` of a stack W x H x C x N (FITS axis order), as float32 C x H x W pixels. `file` stays
// open at that HDU, whose header holds the cutout's WCS.
struct FitsCutout {
  std::unique_ptr<FitsFile> file;
  int64_t bands = 0, height = 0, width = 0;
  int64_t rows = 1;  // N of a stack
  std::vector<float> pixels;
};

// INVALID_ARGUMENT naming the file for an image of another rank, axes outside CheckCutoutAxes or
// a row outside the stack; FitsFile::Open's errors; DATA_LOSS for data the file does not hold.
absl::StatusOr<FitsCutout> ReadFitsCutout(const std::string& path, int64_t row = 0);

// The bands a FITS header names for the current HDU's `bands` image planes, in plane order:
// BAND0..BAND<n-1> or BAND1..BAND<n> (as the Legacy Survey's cutouts write them), else BANDS
// ("grz" or "g,r,z"), else, for one plane, FILTER or BAND. The current HDU's header is read
// first, then the primary's. Values as written, trimmed; empty when the header names no bands,
// or not one per plane.
std::vector<std::string> FitsBandNames(FitsFile& file, int64_t bands);

// For a one-band file whose path (name or directory) makes it band `band` of `band_names`: true
// when its header names that band (FitsBandNames), false when it names none of them;
// INVALID_ARGUMENT naming the file, `what` it is ("cutout", "frame") and both bands when the
// header names another.
absl::StatusOr<bool> HeaderNamesBand(FitsFile& file, int band, const std::vector<std::string>& band_names,
                                     const std::string& what);

// Keeps `wanted`'s bands of `cutout` in that order when its header names its bands
// (FitsBandNames), and says so in `*by_header`; a header that names none leaves the pixels as they
// are. INVALID_ARGUMENT naming the file and the bands its header names when one of `wanted` is
// not among them, or two planes name the same band.
absl::Status PickNamedBands(FitsCutout* cutout, const std::vector<std::string>& wanted, bool* by_header);

// The plane of each of `wanted` in an image whose planes `names` names (one per plane), for
// PickNamedBands and FITS stacks; the same errors, naming `path`.
absl::StatusOr<std::vector<int64_t>> PlanesOfBands(const std::string& path, const std::vector<std::string>& names,
                                                   const std::vector<std::string>& wanted);

}  // namespace galaxy

#endif  // GALAXY_DATA_FITS_FILE_H_
