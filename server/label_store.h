// Labels users attach to galaxies (AddLabels and friends), in their own RocksDB (`galaxy-server
// --labels-db DIR`), outside every snapshot: they survive rebuilds, swaps and restarts.
//
// Key: the galaxy ID as 8 big-endian bytes with the sign bit flipped (ID order, as the snapshot
// records), then the author, a 0 byte, and the class name; value: the v1::Label. One label per
// galaxy, author and class name: writing it again replaces it. Writes are synced to the
// write-ahead log before they are acknowledged. Thread-safe. No RocksDB type appears here.
#ifndef GALAXY_SERVER_LABEL_STORE_H_
#define GALAXY_SERVER_LABEL_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

class LabelStore {
 public:
  // Opens (creating when missing) the store at `path`. INTERNAL naming RocksDB's reason (e.g.
  // another server holds its lock).
  static absl::StatusOr<std::unique_ptr<LabelStore>> Open(const std::string& path);
  ~LabelStore();
  LabelStore(const LabelStore&) = delete;
  LabelStore& operator=(const LabelStore&) = delete;

  // Writes every label in one atomic, synced batch.
  absl::Status Put(const std::vector<v1::Label>& labels);
  // Deletes the labels with the keys of `labels` (galaxy_id, author, class_name); how many existed.
  absl::StatusOr<int> Delete(const std::vector<v1::Label>& labels);
  // Up to `limit` labels matching `filter` in key order, after the key `after` ("": from the
  // first); `next` is the key to continue after, "" when none are left.
  absl::Status Scan(const v1::LabelFilter& filter, const std::string& after, size_t limit,
                    std::vector<v1::Label>* out, std::string* next) const;
  // Calls `fn` for every label matching `filter`, in key order; stops at its first error.
  absl::Status ForEach(const v1::LabelFilter& filter, const std::function<absl::Status(const v1::Label&)>& fn) const;
  // Changes with every write; starts at the time the store was opened (ns), so no two runs share
  // a value. Listings that depend on the labels bind it into their page tokens.
  uint64_t generation() const;

  static std::string Key(const v1::Label& label);
  static bool Matches(const v1::LabelFilter& filter, const v1::Label& label);

 private:
  struct Impl;
  explicit LabelStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  mutable absl::Mutex write_mu_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_LABEL_STORE_H_
