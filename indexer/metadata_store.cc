#include "indexer/metadata_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"

namespace galaxy {

std::string MetadataKey(int64_t id) {
  const uint64_t u = static_cast<uint64_t>(id) ^ (1ull << 63);
  std::string key(8, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xFF);
  return key;
}

int64_t MetadataKeyToId(const std::string& key) {
  uint64_t u = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(key.size()); ++i) {
    u = (u << 8) | static_cast<unsigned char>(key[i]);
  }
  return static_cast<int64_t>(u ^ (1ull << 63));
}

struct MetadataStore::Impl {
  std::string path;
  std::unique_ptr<rocksdb::DB> db;
};

MetadataStore::MetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetadataStore::~MetadataStore() = default;

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Create(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  options.compression = rocksdb::kLZ4Compression;
  options.IncreaseParallelism(2);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return absl::InternalError(absl::StrCat("cannot create ", path, ": ", s.ToString()));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->db.reset(raw);
  return std::unique_ptr<MetadataStore>(new MetadataStore(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::OpenReadOnly(const std::string& path) {
  rocksdb::Options options;
  options.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, path, &raw);
  if (s.IsNotFound() || s.IsPathNotFound()) {
    return absl::NotFoundError(absl::StrCat(path, ": no metadata store: ", s.ToString()));
  }
  if (!s.ok()) return absl::DataLossError(absl::StrCat(path, ": cannot open the metadata store: ", s.ToString()));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->db.reset(raw);
  return std::unique_ptr<MetadataStore>(new MetadataStore(std::move(impl)));
}

absl::Status MetadataStore::Put(const std::vector<v1::GalaxyRecord>& records) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (const v1::GalaxyRecord& r : records) {
    value.clear();
    r.SerializeToString(&value);
    batch.Put(MetadataKey(r.id()), value);
  }
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // the store is rebuilt from scratch if a build dies
  rocksdb::Status s = impl_->db->Write(options, &batch);
  if (!s.ok()) return absl::InternalError(absl::StrCat(impl_->path, ": write failed: ", s.ToString()));
  return absl::OkStatus();
}

absl::StatusOr<v1::GalaxyRecord> MetadataStore::Get(int64_t id) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), MetadataKey(id), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("galaxy ", id, " is not in the snapshot"));
  if (!s.ok()) return absl::DataLossError(absl::StrCat(impl_->path, ": reading galaxy ", id, ": ", s.ToString()));
  v1::GalaxyRecord record;
  if (!record.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat(impl_->path, ": the record of galaxy ", id, " does not parse"));
  }
  return record;
}

absl::Status MetadataStore::ForEach(const std::function<absl::Status(const v1::GalaxyRecord&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  v1::GalaxyRecord record;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat(impl_->path, ": the record under key of galaxy ",
                                              MetadataKeyToId(it->key().ToString()), " does not parse"));
    }
    if (absl::Status s = fn(record); !s.ok()) return s;
  }
  if (!it->status().ok()) {
    return absl::DataLossError(absl::StrCat(impl_->path, ": iteration failed: ", it->status().ToString()));
  }
  return absl::OkStatus();
}

absl::Status MetadataStore::Finish() {
  rocksdb::Status s = impl_->db->Flush(rocksdb::FlushOptions());
  if (s.ok()) s = impl_->db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
  if (!s.ok()) return absl::InternalError(absl::StrCat(impl_->path, ": finishing failed: ", s.ToString()));
  return absl::OkStatus();
}

absl::Status MetadataStore::VerifyChecksums() const {
  rocksdb::Status s = impl_->db->VerifyChecksum();
  if (!s.ok()) return absl::DataLossError(absl::StrCat(impl_->path, ": checksum mismatch: ", s.ToString()));
  return absl::OkStatus();
}

}  // namespace galaxy
