// The shards of a router (galaxy-server --shards FILE): one ordinary galaxy-server per shard
// snapshot (galaxy-index build --shard I --shards N), reached over gRPC, watched for health, and
// called in parallel.
//
// The shards file lists one address per line, in shard order (line I is shard I):
//   # comments and blank lines are ignored
//   10.0.0.5:50051
//   10.0.0.6:50051
// A monitor asks every shard for GetIndexInfo every `poll` and keeps what it answered: a shard
// serves when it answers as shard I of N with a snapshot loaded.
#ifndef GALAXY_SERVER_SHARD_SET_H_
#define GALAXY_SERVER_SHARD_SET_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "galaxy/v1/galaxy.grpc.pb.h"

namespace galaxy {

// Parses a shards file's text: the addresses in order. INVALID_ARGUMENT naming `source` and the
// line of anything that is not host:port, or a file without shards.
absl::StatusOr<std::vector<std::string>> ParseShardsFile(const std::string& text, const std::string& source);

// What a shard's answer to GetIndexInfo says of it: serving when it answered as shard `shard` of
// `shards` with a snapshot loaded; otherwise why not.
v1::ShardStatus JudgeShard(int shard, int shards, const std::string& address, const grpc::Status& status,
                           const v1::IndexInfo& info);

// Shards are merged only if they embed alike: the same model (checksum), features and
// dimension; otherwise their scores are not comparable. Among the shards `status` says serve,
// those that differ from the largest group that agrees (on a tie, the group of the lowest shard)
// are marked not serving, with an error saying how they differ; returns that error per shard
// ("" for the others). `infos[i]` is what shard status[i] answered to GetIndexInfo.
std::vector<std::string> JudgeAgreement(std::vector<v1::ShardStatus>* status,
                                        const std::vector<const v1::IndexInfo*>& infos);

// One call of one shard.
template <typename Response>
struct ShardReply {
  int shard = 0;
  grpc::Status status;
  Response response;
};

// How the router calls shards: the caller's authorization passed on, and a deadline.
struct ShardCallOptions {
  std::string authorization;
  absl::Time deadline = absl::InfiniteFuture();
  // Call the shards the monitor left out (JudgeAgreement) too; otherwise they are not called
  // and their replies are UNAVAILABLE, saying why.
  bool include_left_out = false;
};

// Thread-safe.
class ShardSet {
 public:
  // Channels to `addresses` (plaintext: shards sit on the cluster's own network; their tokens
  // are the caller's, passed on). `max_message_bytes` bounds what a shard may send.
  ShardSet(std::vector<std::string> addresses, int max_message_bytes);
  ~ShardSet();

  int size() const { return static_cast<int>(addresses_.size()); }
  const std::string& address(int shard) const { return addresses_[static_cast<size_t>(shard)]; }
  // "shard 2 at 10.0.0.7:50051", for messages.
  std::string Name(int shard) const;
  v1::GalaxySearch::Stub* stub(int shard) const { return stubs_[static_cast<size_t>(shard)].get(); }

  // Polls every shard now (before returning: at most 5 s) and then every `poll`, until
  // destruction; `on_change(any_serving)` is called after the first poll and after each whose
  // outcome differs from the last. `authorization` is sent to shards that need a token.
  void StartMonitor(absl::Duration poll, std::string authorization, std::function<void(bool)> on_change);
  // Every shard as the last poll saw it.
  std::vector<v1::ShardStatus> Status() const;
  // Why the last poll left each shard out ("" for none): it embeds unlike the others.
  std::vector<std::string> LeftOut() const;
  // Whether the router may merge what shard `shard` answered from its snapshot `version`: OK
  // when the monitor has judged that snapshot serving and in agreement with the others. A
  // shard whose snapshot changed since the last poll (a hot swap, a restart) is judged again
  // at once: every shard is polled now, as the monitor does, so a shard rebuilt in another
  // space is left out from its first answer rather than up to a poll later. UNAVAILABLE
  // saying why otherwise ("left out by the router: ...").
  absl::Status Vouch(int shard, const std::string& version);

  // Calls `method` of every shard in `shards` with its request (requests[i] for shards[i]) in
  // parallel; returns when all have answered or passed the deadline.
  template <typename Request, typename Response>
  std::vector<ShardReply<Response>> Call(
      const std::vector<int>& shards, const std::vector<const Request*>& requests,
      void (v1::GalaxySearch::Stub::async::*method)(grpc::ClientContext*, const Request*, Response*,
                                                    std::function<void(grpc::Status)>),
      const ShardCallOptions& options) const {
    std::vector<ShardReply<Response>> replies(shards.size());
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts(shards.size());
    const std::vector<std::string> left_out =
        options.include_left_out ? std::vector<std::string>(addresses_.size()) : LeftOut();
    absl::Mutex mu;
    size_t pending = shards.size();
    for (size_t i = 0; i < shards.size(); ++i) {
      replies[i].shard = shards[i];
      if (const std::string& why = left_out[static_cast<size_t>(shards[i])]; !why.empty()) {
        replies[i].status = grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("left out by the router: ", why));
        absl::MutexLock lock(&mu);
        --pending;
        continue;
      }
      contexts[i] = MakeContext(options);
      (stub(shards[i])->async()->*method)(contexts[i].get(), requests[i], &replies[i].response,
                                          [&, i](grpc::Status status) {
                                            absl::MutexLock lock(&mu);
                                            replies[i].status = std::move(status);
                                            --pending;
                                          });
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](size_t* n) { return *n == 0; }, &pending));
    return replies;
  }

 private:
  std::unique_ptr<grpc::ClientContext> MakeContext(const ShardCallOptions& options) const;
  void Poll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  // What the last poll says of `version` of `shard`: nullopt when it saw another version.
  std::optional<absl::Status> Judged(int shard, const std::string& version) const;

  const std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<v1::GalaxySearch::Stub>> stubs_;
  // One poll at a time (the monitor's, or one for Vouch); the token polls send.
  absl::Mutex poll_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::string poll_authorization_ ABSL_GUARDED_BY(poll_mu_);
  mutable absl::Mutex mu_;
  std::vector<v1::ShardStatus> status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> left_out_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread monitor_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_SHARD_SET_H_
