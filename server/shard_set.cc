#include "server/shard_set.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/log.h"
#include "proto/enum_flags.h"
#include "server/server_options.h"

namespace galaxy {

absl::StatusOr<std::vector<std::string>> ParseShardsFile(const std::string& text, const std::string& source) {
  std::vector<std::string> addresses;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    absl::StatusOr<std::pair<std::string, int>> parsed = ParseListen("shard", std::string(line));
    if (!parsed.ok() || parsed->second == 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": '", line,
                                                     "' is not the host:port of a shard server"));
    }
    addresses.emplace_back(line);
  }
  if (addresses.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no shard addresses"));
  return addresses;
}

v1::ShardStatus JudgeShard(int shard, int shards, const std::string& address, const grpc::Status& status,
                           const v1::IndexInfo& info) {
  v1::ShardStatus s;
  s.set_shard(static_cast<uint32_t>(shard));
  s.set_address(address);
  if (!status.ok()) {
    s.set_error(status.error_code() == grpc::StatusCode::UNAUTHENTICATED
                    ? absl::StrCat(status.error_message(), " (give the router --shard-token-file)")
                    : status.error_message());
  } else if (info.snapshot_version().empty()) {
    s.set_error("no snapshot loaded");
  } else if (info.shards() != static_cast<uint32_t>(shards) || info.shard() != static_cast<uint32_t>(shard)) {
    s.set_error(absl::StrCat("serves shard ", info.shard(), " of ", std::max(1u, info.shards()), ", not shard ", shard,
                             " of ", shards));
  } else {
    s.set_serving(true);
    s.set_snapshot_version(info.snapshot_version());
    s.set_count(info.count());
  }
  return s;
}

namespace {

// "backbone features (128-d) of model 3f2a9c0d1e4b, mahalanobis anomaly scores": how a shard
// embeds and scores (scores of two kinds cannot be merged into one anomaly ranking).
std::string EmbeddingOf(const v1::IndexInfo& info) {
  return absl::StrCat(EnumFlagName(*v1::EmbeddingFeatures_descriptor(), info.model().features()), " features (",
                      info.dimension(), "-d) of model ", info.model().checksum().substr(0, 12),
                      info.anomaly_score().empty() ? "" : absl::StrCat(", ", info.anomaly_score(), " anomaly scores"));
}

}  // namespace

std::vector<std::string> JudgeAgreement(std::vector<v1::ShardStatus>* status,
                                        const std::vector<const v1::IndexInfo*>& infos) {
  std::vector<std::string> why(status->size());
  // The serving shards by how they embed, in shard order.
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  for (size_t i = 0; i < status->size(); ++i) {
    if (!(*status)[i].serving()) continue;
    const std::string embedding = EmbeddingOf(*infos[i]);
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == embedding; });
    if (group == groups.end()) {
      groups.push_back({embedding, {i}});
    } else {
      group->second.push_back(i);
    }
  }
  if (groups.size() < 2) return why;
  auto largest = groups.begin();
  for (auto g = groups.begin(); g != groups.end(); ++g) {
    if (g->second.size() > largest->second.size()) largest = g;
  }
  std::vector<std::string> agreeing;
  for (size_t i : largest->second) agreeing.push_back(absl::StrCat((*status)[i].shard()));
  for (auto g = groups.begin(); g != groups.end(); ++g) {
    if (g == largest) continue;
    for (size_t i : g->second) {
      why[i] = absl::StrCat("it embeds with ", g->first, ", shard", agreeing.size() > 1 ? "s " : " ",
                            absl::StrJoin(agreeing, ", "), " with ", largest->first,
                            ": build every shard with the same model, --features and --anomaly-score");
      (*status)[i].set_serving(false);
      (*status)[i].set_error(why[i]);
    }
  }
  return why;
}

ShardSet::ShardSet(std::vector<std::string> addresses, int max_message_bytes) : addresses_(std::move(addresses)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  // Reconnect soon after a shard comes back: the default backoff grows to two minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  for (size_t i = 0; i < addresses_.size(); ++i) {
    stubs_.push_back(v1::GalaxySearch::NewStub(
        grpc::CreateCustomChannel(addresses_[i], grpc::InsecureChannelCredentials(), args)));
    v1::ShardStatus status;
    status.set_shard(static_cast<uint32_t>(i));
    status.set_address(addresses_[i]);
    status.set_error("not asked yet");
    status_.push_back(status);
  }
  left_out_.resize(addresses_.size());
}

ShardSet::~ShardSet() {
  stop_.Notify();
  if (monitor_.joinable()) monitor_.join();
}

std::string ShardSet::Name(int shard) const { return absl::StrCat("shard ", shard, " at ", address(shard)); }

std::unique_ptr<grpc::ClientContext> ShardSet::MakeContext(const ShardCallOptions& options) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options.authorization.empty()) context->AddMetadata("authorization", options.authorization);
  if (options.deadline != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(options.deadline));
  return context;
}

void ShardSet::Poll() {
  const std::string& authorization = poll_authorization_;
  std::vector<int> all;
  for (int i = 0; i < size(); ++i) all.push_back(i);
  v1::GetIndexInfoRequest request;
  std::vector<const v1::GetIndexInfoRequest*> requests(all.size(), &request);
  ShardCallOptions options;
  options.authorization = authorization;
  options.deadline = absl::Now() + absl::Seconds(5);
  options.include_left_out = true;
  auto replies = Call(all, requests, &v1::GalaxySearch::Stub::async::GetIndexInfo, options);
  std::vector<v1::ShardStatus> status(all.size());
  std::vector<const v1::IndexInfo*> infos(all.size());
  for (const auto& reply : replies) {
    status[static_cast<size_t>(reply.shard)] =
        JudgeShard(reply.shard, size(), address(reply.shard), reply.status, reply.response);
    infos[static_cast<size_t>(reply.shard)] = &reply.response;
  }
  std::vector<std::string> left_out = JudgeAgreement(&status, infos);
  absl::MutexLock lock(&mu_);
  left_out_ = std::move(left_out);
  for (size_t i = 0; i < status.size(); ++i) {
    if (status[i].serving() != status_[i].serving() || status[i].error() != status_[i].error()) {
      if (status[i].serving()) {
        log::Info("shard serving", {{"shard", absl::StrCat(i)}, {"address", address(static_cast<int>(i))},
                                    {"snapshot", status[i].snapshot_version()}});
      } else {
        log::Warn("shard not serving", {{"shard", absl::StrCat(i)}, {"address", address(static_cast<int>(i))},
                                        {"reason", status[i].error()}});
      }
    }
  }
  status_ = std::move(status);
}

void ShardSet::StartMonitor(absl::Duration poll, std::string authorization, std::function<void(bool)> on_change) {
  // The first poll before returning: the router's health says from its start what its shards do.
  const auto any_serving = [this] {
    for (const v1::ShardStatus& s : Status()) {
      if (s.serving()) return true;
    }
    return false;
  };
  {
    absl::MutexLock lock(&poll_mu_);
    poll_authorization_ = std::move(authorization);
    Poll();
  }
  bool last = any_serving();
  if (on_change) on_change(last);
  monitor_ = std::thread([this, poll, last, any_serving, on_change = std::move(on_change)]() mutable {
    while (!stop_.WaitForNotificationWithTimeout(poll)) {
      {
        absl::MutexLock lock(&poll_mu_);
        Poll();
      }
      const bool any = any_serving();
      if (any != last && on_change) on_change(any);
      last = any;
    }
  });
}

std::optional<absl::Status> ShardSet::Judged(int shard, const std::string& version) const {
  absl::MutexLock lock(&mu_);
  const size_t i = static_cast<size_t>(shard);
  // A shard's status names its snapshot only when it answered as that shard with it loaded.
  if (version.empty() || status_[i].snapshot_version() != version) return std::nullopt;
  if (!left_out_[i].empty()) return absl::UnavailableError(absl::StrCat("left out by the router: ", left_out_[i]));
  return absl::OkStatus();
}

absl::Status ShardSet::Vouch(int shard, const std::string& version) {
  if (std::optional<absl::Status> judged = Judged(shard, version)) return *judged;
  absl::MutexLock lock(&poll_mu_);
  if (std::optional<absl::Status> judged = Judged(shard, version)) return *judged;  // polled meanwhile
  log::Info("shard answered from a snapshot the router had not seen: polling the shards now",
            {{"shard", absl::StrCat(shard)}, {"snapshot", version}});
  Poll();
  if (std::optional<absl::Status> judged = Judged(shard, version)) return *judged;
  return absl::UnavailableError(
      absl::StrCat("left out by the router: it answered from snapshot ", version, ", which a poll could not confirm it serves"));
}

std::vector<v1::ShardStatus> ShardSet::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::vector<std::string> ShardSet::LeftOut() const {
  absl::MutexLock lock(&mu_);
  return left_out_;
}

}  // namespace galaxy
