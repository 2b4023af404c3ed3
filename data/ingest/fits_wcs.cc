#include "data/ingest/fits_wcs.h"

#include <fitsio.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"

namespace galaxy {

absl::StatusOr<std::unique_ptr<Wcs>> Wcs::FromHeader(const FitsFile& f) {
  int status = 0, nkeys = 0;
  char* header = nullptr;
  fits_hdr2str(f.get(), 1, nullptr, 0, &header, &nkeys, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the header"));
  // WCSLIB's header parser overflows a buffer (a fortified strcpy aborts) on a string value
  // without its closing quote, which cfitsio passes through (found by fits_fuzzer): such a card
  // is refused here, before wcspih sees it.
  for (int k = 0; k < nkeys; ++k) {
    const absl::string_view card(header + static_cast<size_t>(k) * 80, 80);
    if (card.substr(8, 2) != "= ") continue;
    const size_t open = card.find_first_not_of(' ', 10);
    if (open == absl::string_view::npos || card[open] != '\'') continue;
    size_t at = open + 1;
    bool closed = false;
    while (at < card.size() && !closed) {
      if (card[at] != '\'') {
        ++at;
      } else if (at + 1 < card.size() && card[at + 1] == '\'') {
        at += 2;  // '' is a quote inside the string
      } else {
        closed = true;
      }
    }
    if (!closed) {
      absl::Status refused = absl::InvalidArgumentError(absl::StrCat(
          f.path(), ": header card ", k + 1, " (", absl::StripTrailingAsciiWhitespace(card.substr(0, 8)),
          ") has a string value without its closing quote"));
      fits_free_memory(header, &status);
      return refused;
    }
  }
  std::unique_ptr<Wcs> w(new Wcs);
  int nreject = 0;
  const int rc = wcspih(header, nkeys, WCSHDR_all, 0, &nreject, &w->nwcs_, &w->wcs_);
  fits_free_memory(header, &status);
  const auto unusable = [&] {
    return absl::InvalidArgumentError(absl::StrCat(f.path(), ": no usable celestial WCS in the header (CTYPE/CRVAL/CRPIX/CD)"));
  };
  if (rc != 0 || w->nwcs_ < 1 || w->wcs_ == nullptr) return unusable();
  if (w->wcs_->naxis > 2) {
    // A cutout of several bands: its header describes the band axis too; keep the sky's two.
    int nsub = 2, axes[2] = {WCSSUB_LONGITUDE, WCSSUB_LATITUDE};
    w->celestial_ = std::make_unique<wcsprm>();
    w->celestial_->flag = -1;
    if (wcssub(1, w->wcs_, &nsub, axes, w->celestial_.get()) != 0 || nsub != 2) {
      wcsfree(w->celestial_.get());
      w->celestial_.reset();
      return unusable();
    }
  }
  if (wcsset(w->prm()) != 0 || w->prm()->naxis != 2) return unusable();
  return w;
}

Wcs::~Wcs() {
  if (celestial_) wcsfree(celestial_.get());
  if (wcs_ != nullptr) wcsvfree(&nwcs_, &wcs_);
}

bool Wcs::SkyToPixel(double ra, double dec, double* x, double* y) const {
  double world[2] = {ra, dec}, phi, theta, img[2], pix[2];
  int stat = 0;
  if (wcss2p(prm(), 1, 2, world, &phi, &theta, img, pix, &stat) != 0) return false;
  *x = pix[0] - 1;
  *y = pix[1] - 1;
  return true;
}

bool Wcs::PixelToSky(double x, double y, double* ra, double* dec) const {
  double pix[2] = {x + 1, y + 1}, img[2], phi, theta, world[2];
  int stat = 0;
  if (wcsp2s(prm(), 1, 2, pix, img, &phi, &theta, world, &stat) != 0) return false;
  *ra = world[0];
  *dec = world[1];
  return true;
}

}  // namespace galaxy
