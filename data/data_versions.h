// Versions of the file-format libraries data/ reads and writes with (for --version).
#ifndef GALAXY_DATA_DATA_VERSIONS_H_
#define GALAXY_DATA_DATA_VERSIONS_H_

#include <string>
#include <vector>

namespace galaxy {

// One "name version" line each: HDF5, cfitsio.
std::vector<std::string> DataLibraryVersions();

}  // namespace galaxy

#endif  // GALAXY_DATA_DATA_VERSIONS_H_
