#include "server/label_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "indexer/metadata_store.h"

namespace galaxy {

struct LabelStore::Impl {
  std::string path;
  std::unique_ptr<rocksdb::DB> db;
  std::atomic<uint64_t> generation{0};

  absl::Status Failed(const char* what, const rocksdb::Status& s) const {
    return absl::InternalError(absl::StrCat(path, ": ", what, " failed: ", s.ToString()));
  }

  // Writes `batch` synced to the write-ahead log, then moves the generation on.
  absl::Status Commit(rocksdb::WriteBatch* batch, const char* what) {
    rocksdb::WriteOptions options;
    options.sync = true;
    rocksdb::Status s = db->Write(options, batch);
    if (!s.ok()) return Failed(what, s);
    ++generation;
    return absl::OkStatus();
  }
};

LabelStore::LabelStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LabelStore::~LabelStore() = default;

absl::StatusOr<std::unique_ptr<LabelStore>> LabelStore::Open(const std::string& path) {
  // The snapshots directory may not exist yet (a server started before the first build).
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create the label store ", path, ": ", ec.message()));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    const bool locked = absl::StrContains(s.ToString(), "lock");
    return absl::InternalError(absl::StrCat("cannot open the label store ", path, ": ", s.ToString(),
                                            locked ? " (another galaxy-server on the same label store? --labels-db)"
                                                   : ""));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->db.reset(raw);
  impl->generation = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  return std::unique_ptr<LabelStore>(new LabelStore(std::move(impl)));
}

std::string LabelStore::Key(const v1::Label& label) {
  return absl::StrCat(MetadataKey(label.galaxy_id()), label.author(), std::string(1, '\0'), label.class_name());
}

bool LabelStore::Matches(const v1::LabelFilter& f, const v1::Label& l) {
  return (!f.has_galaxy_id() || f.galaxy_id() == l.galaxy_id()) &&
         (!f.has_class_name() || f.class_name() == l.class_name()) &&
         (f.interest() == v1::INTEREST_UNSPECIFIED || f.interest() == l.interest()) &&
         (!f.has_author() || f.author() == l.author());
}

absl::Status LabelStore::Put(const std::vector<v1::Label>& labels) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (const v1::Label& l : labels) {
    value.clear();
    l.SerializeToString(&value);
    batch.Put(Key(l), value);
  }
  absl::MutexLock lock(&write_mu_);
  return impl_->Commit(&batch, "writing labels");
}

absl::StatusOr<int> LabelStore::Delete(const std::vector<v1::Label>& labels) {
  rocksdb::WriteBatch batch;
  int existed = 0;
  absl::MutexLock lock(&write_mu_);  // the count and the deletion see the same labels
  std::string value;
  for (const v1::Label& l : labels) {
    const std::string key = Key(l);
    rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return impl_->Failed("reading a label", s);
    ++existed;
    batch.Delete(key);
  }
  if (absl::Status s = impl_->Commit(&batch, "deleting labels"); !s.ok()) return s;
  return existed;
}

absl::Status LabelStore::Scan(const v1::LabelFilter& filter, const std::string& after, size_t limit,
                              std::vector<v1::Label>* out, std::string* next) const {
  next->clear();
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  // One galaxy's labels share the key's first 8 bytes.
  const std::string prefix = filter.has_galaxy_id() ? MetadataKey(filter.galaxy_id()) : std::string();
  if (!after.empty()) {
    it->Seek(after);
    if (it->Valid() && it->key().ToString() == after) it->Next();
  } else {
    it->Seek(prefix);
  }
  v1::Label label;
  for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!label.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat(impl_->path, ": a label does not parse"));
    }
    if (!Matches(filter, label)) continue;
    if (out->size() == limit) {
      *next = Key(out->back());
      return absl::OkStatus();
    }
    out->push_back(label);
  }
  if (!it->status().ok()) return impl_->Failed("reading labels", it->status());
  return absl::OkStatus();
}

absl::Status LabelStore::ForEach(const v1::LabelFilter& filter,
                                 const std::function<absl::Status(const v1::Label&)>& fn) const {
  std::string after;
  std::vector<v1::Label> page;
  do {
    page.clear();
    std::string next;
    if (absl::Status s = Scan(filter, after, 1024, &page, &next); !s.ok()) return s;
    for (const v1::Label& l : page) {
      if (absl::Status s = fn(l); !s.ok()) return s;
    }
    after = next;
  } while (!after.empty());
  return absl::OkStatus();
}

uint64_t LabelStore::generation() const { return impl_->generation.load(); }

}  // namespace galaxy
