#include "server/server_options.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace galaxy {
namespace {

// Splits "host:port" / "[v6]:port"; false when there is no port.
bool SplitHostPort(const std::string& listen, std::string* host, std::string* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  *port = listen.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> ParseListen(const std::string& flag, const std::string& listen) {
  std::string host, port;
  int port_number = -1;
  if (!SplitHostPort(listen, &host, &port) || host.empty() || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", listen, "' is not host:port (e.g. 127.0.0.1:50051)"));
  }
  return std::make_pair(host, port_number);
}

bool IsLoopbackAddress(const std::string& listen) {
  std::string host, port;
  if (!SplitHostPort(listen, &host, &port)) return false;
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status ServerOptions::Validate() const {
  GALAXY_RETURN_IF_ERROR(ParseListen("--listen", listen).status());
  if (!metrics_listen.empty()) GALAXY_RETURN_IF_ERROR(ParseListen("--metrics-listen", metrics_listen).status());
  if (!http_listen.empty()) GALAXY_RETURN_IF_ERROR(ParseListen("--http-listen", http_listen).status());
  if (max_message_bytes < (1ull << 20) || max_message_bytes > (1ull << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-message-bytes: ", max_message_bytes, " is outside 1 MiB .. 1 GiB"));
  }
  if (max_k < 1 || max_k > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("--max-k: ", max_k, " is outside 1 .. 100000"));
  }
  if (max_batch < 1 || max_batch > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-batch: ", max_batch, " is outside 1 .. 65536"));
  }
  if (max_image_bytes < 1024 || max_image_bytes > max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-image-bytes: ", max_image_bytes, " is outside 1 KiB .. --max-message-bytes (",
        max_message_bytes, ")"));
  }
  if (!(drain_seconds >= 0 && drain_seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--drain-seconds: ", drain_seconds, " is outside 0 .. 3600"));
  }
  if (snapshots_dir.empty() && shards_file.empty()) {
    return absl::InvalidArgumentError(
        "--snapshots: required (the directory galaxy-index build --out wrote), or --shards for a router");
  }
  if (!snapshots_dir.empty() && !shards_file.empty()) {
    return absl::InvalidArgumentError("--shards: a router serves no snapshot of its own; drop --snapshots");
  }
  if (!(shard_timeout_ms > 0 && shard_timeout_ms <= 3600000)) {
    return absl::InvalidArgumentError(absl::StrCat("--shard-timeout-ms: ", shard_timeout_ms, " is outside (0, 3600000]"));
  }
  if (device != "cpu" && device != "cuda" && device != "auto") {
    return absl::InvalidArgumentError(absl::StrCat("--device: '", device, "' is not cpu, cuda or auto"));
  }
  if (batch_max_size < 1 || batch_max_size > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("--batch-max-size: ", batch_max_size, " is outside 1 .. 4096"));
  }
  if (!(batch_max_delay_ms >= 0 && batch_max_delay_ms <= 1000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch-max-delay-ms: ", batch_max_delay_ms, " is outside 0 .. 1000"));
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: give both or neither");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca: needs --tls-cert and --tls-key (mutual TLS is TLS)");
  }
  return absl::OkStatus();
}

}  // namespace galaxy
