// A FITS header's celestial WCS (wcslib), for the ingests that place cutouts on the sky: SDSS
// frames cut at catalog positions, and single-galaxy cutouts positioned by their centre. For the
// .cc files of data/ingest/.
#ifndef GALAXY_DATA_INGEST_FITS_WCS_H_
#define GALAXY_DATA_INGEST_FITS_WCS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "data/fits_file.h"

struct wcsprm;

namespace galaxy {

class Wcs {
 public:
  // The current HDU's WCS; a header that also describes other axes (a cutout's band axis) keeps
  // its two celestial ones. INVALID_ARGUMENT naming the file when it has no usable celestial WCS.
  static absl::StatusOr<std::unique_ptr<Wcs>> FromHeader(const FitsFile& f);
  ~Wcs();
  Wcs(const Wcs&) = delete;
  Wcs& operator=(const Wcs&) = delete;

  // Sky (degrees) to 0-based pixel-centre coordinates, and back; false where wcslib finds none.
  bool SkyToPixel(double ra, double dec, double* x, double* y) const;
  bool PixelToSky(double x, double y, double* ra, double* dec) const;

 private:
  Wcs() = default;
  wcsprm* prm() const { return celestial_ ? celestial_.get() : wcs_; }
  int nwcs_ = 0;
  wcsprm* wcs_ = nullptr;
  std::unique_ptr<wcsprm> celestial_;  // the sky axes of a header with more
};

}  // namespace galaxy

#endif  // GALAXY_DATA_INGEST_FITS_WCS_H_
