// Versions of the libraries galaxy-search is built with, for --version and benchmark reports
// ("HDF5 1.10.8", ...). Each library folder adds its own (HDF5 and cfitsio in data/data_versions.h,
// LibTorch in model/torch_info.h, FAISS and RocksDB in indexer/, gRPC and Protobuf in proto/).
#ifndef GALAXY_CORE_LIBRARY_VERSIONS_H_
#define GALAXY_CORE_LIBRARY_VERSIONS_H_

#include <string>
#include <vector>

namespace galaxy {

// One "name version" line per library of core/: Abseil.
std::vector<std::string> CoreLibraryVersions();

// Concatenates version lists, for --version of binaries that use several libraries.
std::vector<std::string> JoinVersions(std::initializer_list<std::vector<std::string>> lists);

}  // namespace galaxy

#endif  // GALAXY_CORE_LIBRARY_VERSIONS_H_
