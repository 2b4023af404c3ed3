// A check of FITS headers made before cfitsio parses them. FITS headers are printable ASCII
// (FITS 4.0, section 4.1); cfitsio copies keyword values into fixed-size fields, and a header of
// other bytes made it overflow one and abort the process (found by data/fits_fuzzer.cc). These
// walk every HDU's header (skipping each HDU's data by its BITPIX/NAXISn/PCOUNT/GCOUNT) and
// refuse such a file, naming the HDU and the byte's offset; likewise a table column's name,
// format, unit, display or shape keyword whose value is not quoted (an unquoted 70-character
// column name overflowed cfitsio's field the same way), and a TFIELDS outside the standard's 0 to
// 999 (cfitsio allocates and fills a column descriptor for each while it parses the header).
#ifndef GALAXY_DATA_FITS_HEADER_H_
#define GALAXY_DATA_FITS_HEADER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace galaxy {

// INVALID_ARGUMENT naming `path`, the HDU and the offset of the first header byte outside
// printable ASCII, of the first unquoted TTYPEn/TFORMn/TUNITn/TDISPn/TDIMn value, or of a
// TFIELDS card outside 0..999. A file that ends early passes: cfitsio reports truncation in its
// own words.
absl::Status CheckFitsHeadersInFile(const std::string& path);
// The same over a FITS file held in memory (a decompressed .fits.bz2); `path` names it in errors.
absl::Status CheckFitsHeadersInMemory(const std::string& path, const std::vector<char>& bytes);

}  // namespace galaxy

#endif  // GALAXY_DATA_FITS_HEADER_H_
