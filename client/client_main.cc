// galaxy-client: talks to a galaxy-server from the command line.
#include <iostream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/galaxy_client.h"
#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/status_macros.h"
#include "proto/rpc_versions.h"

namespace galaxy {
namespace {

struct GlobalFlags {
  std::string server = "127.0.0.1:50051";
  double timeout_seconds = 30;
  bool json = false;
};

absl::StatusOr<std::unique_ptr<GalaxyClient>> Connect(const GlobalFlags& flags) {
  if (!(flags.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: ", flags.timeout_seconds, " must be > 0 seconds"));
  }
  ClientOptions options;
  options.server = flags.server;
  options.timeout = absl::Seconds(flags.timeout_seconds);
  return GalaxyClient::Connect(options);
}

// Prefixes an RPC failure with the server address, so "UNAVAILABLE" reads as what it is.
absl::Status FromServer(const GlobalFlags& flags, const absl::Status& status) {
  return Annotate(status, absl::StrCat("server ", flags.server));
}

absl::Status Health(const GlobalFlags& flags, const std::string& service) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<std::string> status = client->Health(service);
  if (!status.ok()) return FromServer(flags, status.status());
  std::string name = service.empty() ? "(server)" : service;
  if (flags.json) {
    std::cout << "{\"service\":\"" << service << "\",\"status\":\"" << *status << "\"}\n";
  } else {
    std::cout << name << ": " << *status << "\n";
  }
  if (*status != "SERVING") {
    return absl::UnavailableError(absl::StrCat(name, " is ", *status));
  }
  return absl::OkStatus();
}

absl::Status Services(const GlobalFlags& flags) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<std::vector<std::string>> services = client->ListServices();
  if (!services.ok()) return FromServer(flags, services.status());
  for (const std::string& service : *services) {
    absl::StatusOr<std::vector<std::string>> methods = client->ListMethods(service);
    std::cout << service;
    if (methods.ok()) std::cout << ": " << absl::StrJoin(*methods, ", ");
    std::cout << "\n";
  }
  return absl::OkStatus();
}

absl::Status Info(const GlobalFlags& flags) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<v1::IndexInfo> info = client->GetIndexInfo();
  if (!info.ok()) return FromServer(flags, info.status());
  if (flags.json) {
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.always_print_primitive_fields = true;
    google::protobuf::util::MessageToJsonString(*info, &json, print);
    std::cout << json << "\n";
    return absl::OkStatus();
  }
  std::cout << "server version     " << info->server_version() << "\n"
            << "snapshot           "
            << (info->snapshot_version().empty() ? "(none loaded)" : info->snapshot_version())
            << "\n"
            << "galaxies           " << info->count() << "\n"
            << "dimension          " << info->dimension() << "\n"
            << "index kind         " << v1::IndexKind_Name(info->index_kind()) << "\n"
            << "limits             max_k " << info->limits().max_k() << ", max_batch "
            << info->limits().max_batch() << ", max_message_bytes "
            << info->limits().max_message_bytes() << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace galaxy

int main(int argc, char** argv) {
  galaxy::CommandLine cli("galaxy-client",
                          "Queries a galaxy-search server: similar galaxies, redshifts, anomalies,\n"
                          "index information and administration.");
  cli.SetVersionDetails(galaxy::RpcLibraryVersions);
  galaxy::GlobalFlags flags;
  CLI::App& app = cli.app();
  app.add_option("--server", flags.server, "Server host:port")
      ->capture_default_str()->envname("GALAXY_SERVER");
  app.add_option("--timeout", flags.timeout_seconds, "Deadline of each call, seconds")
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Machine-readable JSON output");

  std::string service;
  CLI::App* health = cli.AddCommand(
      "health", "Ask the standard health service; exit 0 only when SERVING",
      [&] { return galaxy::Health(flags, service); });
  health->add_option("--service", service,
                     "Service to ask about; \"\" for the server as a whole. "
                     "galaxy.v1.GalaxySearch is SERVING once a snapshot is loaded");
  cli.AddCommand("services", "List the server's services and methods (server reflection)",
                 [&] { return galaxy::Services(flags); });
  cli.AddCommand("info", "Snapshot, model, index and limits of the server",
                 [&] { return galaxy::Info(flags); });

  CLI::App* similar = cli.AddPlannedCommand("similar", "Galaxies most similar to a query");
  similar->add_option("--id", "Catalog ID of the query galaxy");
  similar->add_option("--image", "Image file (HDF5 row, FITS or .npy)");
  similar->add_option("--ra", "Right ascension of the query galaxy, degrees");
  similar->add_option("--dec", "Declination of the query galaxy, degrees");
  similar->add_option("--k", "Number of neighbours");
  similar->add_option("--html", "Write a gallery page of the query and its neighbours");
  cli.AddPlannedCommand("predict-z", "Photometric redshift of galaxies (by ID or image)");
  cli.AddPlannedCommand("anomaly", "Anomaly score of a galaxy (by ID or image)");
  cli.AddPlannedCommand("list-anomalies", "The most anomalous galaxies of the snapshot");
  cli.AddPlannedCommand("galaxy", "The stored record of one galaxy");
  cli.AddPlannedCommand("rebuild", "Rebuild the index from a dataset (admin)");
  cli.AddPlannedCommand("reload", "Switch to the snapshot CURRENT names (admin)");
  return cli.Run(argc, argv);
}
