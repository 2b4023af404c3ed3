// Versions of the storage libraries, for --version and benchmark reports.
#ifndef GALAXY_INDEXER_INDEX_VERSIONS_H_
#define GALAXY_INDEXER_INDEX_VERSIONS_H_

#include <string>
#include <vector>

namespace galaxy {

// "FAISS 1.7.3 (CPU)", "RocksDB 7.8.3".
std::vector<std::string> IndexLibraryVersions();

}  // namespace galaxy

#endif  // GALAXY_INDEXER_INDEX_VERSIONS_H_
