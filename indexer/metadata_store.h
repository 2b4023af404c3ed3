// The per-galaxy records of a snapshot (galaxy.v1.GalaxyRecord) in RocksDB, keyed by ID.
// Keys are the ID as 8 big-endian bytes with the sign bit flipped, so that iteration is in ID
// order. No RocksDB type appears here.
#ifndef GALAXY_INDEXER_METADATA_STORE_H_
#define GALAXY_INDEXER_METADATA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

// Thread-safety: Get and ForEach may run concurrently; writes need external serialisation.
class MetadataStore {
 public:
  // A new, empty store at `path` (which must not exist). INTERNAL naming RocksDB's reason.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Create(const std::string& path);
  // An existing store, read-only. NOT_FOUND / DATA_LOSS naming the path.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> OpenReadOnly(const std::string& path);
  ~MetadataStore();
  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;

  // Writes the records in one atomic batch (replacing records with the same IDs).
  absl::Status Put(const std::vector<v1::GalaxyRecord>& records);
  // NOT_FOUND for an unknown ID; DATA_LOSS for a record that does not parse.
  absl::StatusOr<v1::GalaxyRecord> Get(int64_t id) const;
  // Calls `fn` for every record in ID order; stops at the first non-OK status and returns it.
  absl::Status ForEach(const std::function<absl::Status(const v1::GalaxyRecord&)>& fn) const;
  // Compacts and flushes everything to disk (before the store's files are checksummed).
  absl::Status Finish();
  // RocksDB's own block checksums over every file. DATA_LOSS on a mismatch.
  absl::Status VerifyChecksums() const;

 private:
  struct Impl;
  explicit MetadataStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The RocksDB key of an ID, and back.
std::string MetadataKey(int64_t id);
int64_t MetadataKeyToId(const std::string& key);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_METADATA_STORE_H_
