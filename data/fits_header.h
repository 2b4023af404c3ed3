// A check of FITS headers made before cfitsio parses them: cfitsio trusts header values in ways
// that aborted, crashed or exhausted memory on bad files (each found by data/fits_fuzzer.cc). The
// check walks every HDU's header (skipping each HDU's data by its BITPIX/NAXISn/PCOUNT/GCOUNT)
// and refuses, naming the HDU, the card and its offset:
//   - bytes outside printable ASCII (FITS 4.0, section 4.1; cfitsio overflowed a fixed-size field);
//   - a table column's name, format, unit, display or shape keyword whose value is not quoted (an
//     unquoted 70-character name overflowed cfitsio's field the same way);
//   - a keyword that sizes an HDU (BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, TFIELDS, and a
//     tile-compressed image's ZBITPIX, ZNAXIS, ZNAXISn, ZTILEn, ZPCOUNT, ZGCOUNT) without a value
//     or with one that is not an integer;
//   - a table whose first eight cards are not XTENSION, BITPIX 8, NAXIS 2, NAXIS1 >= 0,
//     NAXIS2 >= 0, PCOUNT >= 0, GCOUNT 1, TFIELDS 0..999 in that order (where cfitsio refused one,
//     it still allocated and filled column descriptors for a count it had not read);
//   - a compressed image's ZTILEn below 1 (cfitsio divided by it), ZNAXISn below 0, ZNAXIS
//     outside 0..999, or a ZBITPIX that is no FITS BITPIX.
#ifndef GALAXY_DATA_FITS_HEADER_H_
#define GALAXY_DATA_FITS_HEADER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace galaxy {

// INVALID_ARGUMENT naming `path`, the HDU and the offset of the first of those. A file that ends
// early passes: cfitsio reports truncation in its own words.
absl::Status CheckFitsHeadersInFile(const std::string& path);
// The same over a FITS file held in memory (a decompressed .fits.bz2); `path` names it in errors.
absl::Status CheckFitsHeadersInMemory(const std::string& path, const std::vector<char>& bytes);

}  // namespace galaxy

#endif  // GALAXY_DATA_FITS_HEADER_H_
