#include "data/data_versions.h"

#include "absl/strings/str_cat.h"
#include "fitsio.h"
#include "hdf5.h"

namespace galaxy {

std::vector<std::string> DataLibraryVersions() {
  std::vector<std::string> lines;
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  lines.push_back(absl::StrCat("HDF5 ", major, ".", minor, ".", release));
  float cfitsio = 0;
  fits_get_version(&cfitsio);
  lines.push_back(absl::StrCat("cfitsio ", cfitsio));
  return lines;
}

}  // namespace galaxy
