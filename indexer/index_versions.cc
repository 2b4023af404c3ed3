#include "indexer/index_versions.h"

// FAISS 1.7.3 headers use uint8_t without including <cstdint> (newer GCCs do not pull it in).
#include <cstdint>

#include <faiss/Index.h>
#include <rocksdb/version.h>

#include "absl/strings/str_cat.h"

namespace galaxy {

std::vector<std::string> IndexLibraryVersions() {
  return {absl::StrCat("FAISS ", FAISS_VERSION_MAJOR, ".", FAISS_VERSION_MINOR, ".",
                       FAISS_VERSION_PATCH,
#ifdef GALAXY_FAISS_GPU
                       " (GPU indexes compiled in)"
#else
                       " (CPU)"
#endif
                       ),
          absl::StrCat("RocksDB ", ROCKSDB_MAJOR, ".", ROCKSDB_MINOR, ".", ROCKSDB_PATCH)};
}

}  // namespace galaxy
