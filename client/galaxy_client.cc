#include "client/galaxy_client.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "proto/rpc_status.h"

namespace galaxy {
namespace {

using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

absl::StatusOr<std::string> ReadSmallFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// One request/response exchange on the reflection stream.
absl::StatusOr<ServerReflectionResponse> Reflect(const std::shared_ptr<grpc::Channel>& channel,
                                                 absl::Duration timeout,
                                                 const ServerReflectionRequest& request) {
  auto stub = ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  auto stream = stub->ServerReflectionInfo(&context);
  ServerReflectionResponse response;
  bool sent = stream->Write(request);
  bool received = sent && stream->Read(&response);
  stream->WritesDone();
  ServerReflectionResponse extra;
  while (stream->Read(&extra)) {
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!received) return absl::UnavailableError("reflection stream closed without an answer");
  if (response.has_error_response()) {
    return absl::Status(static_cast<absl::StatusCode>(response.error_response().error_code()),
                        response.error_response().error_message());
  }
  return response;
}

}  // namespace

GalaxyClient::GalaxyClient(const ClientOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<GalaxyClient>> GalaxyClient::Connect(const ClientOptions& options) {
  if (options.server.empty()) return absl::InvalidArgumentError("--server: empty address");
  std::unique_ptr<GalaxyClient> client(new GalaxyClient(options));
  if (!options.token_file.empty()) {
    GALAXY_ASSIGN_OR_RETURN(client->token_, ReadBearerToken("--token-file", options.token_file));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    GALAXY_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadSmallFile("--tls-ca", options.tls_ca));
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key: give both or neither");
    }
    if (!options.tls_cert.empty()) {
      GALAXY_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadSmallFile("--tls-cert", options.tls_cert));
      GALAXY_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadSmallFile("--tls-key", options.tls_key));
    }
    credentials = grpc::SslCredentials(ssl);
  } else if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert/--tls-key: need --tls-ca (the CA of the server's certificate)");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  client->channel_ = grpc::CreateCustomChannel(options.server, credentials, args);
  client->search_ = v1::GalaxySearch::NewStub(client->channel_);
  client->admin_ = v1::GalaxyAdmin::NewStub(client->channel_);
  return client;
}

std::unique_ptr<grpc::ClientContext> GalaxyClient::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  SetDeadline(context.get(), options_.timeout);
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  return context;
}

absl::StatusOr<std::string> GalaxyClient::Health(const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

absl::StatusOr<std::vector<std::string>> GalaxyClient::ListServices() {
  ServerReflectionRequest request;
  request.set_list_services("*");
  absl::StatusOr<ServerReflectionResponse> response =
      Reflect(channel_, options_.timeout, request);
  if (!response.ok()) return response.status();
  std::vector<std::string> names;
  for (const auto& service : response->list_services_response().service()) {
    names.push_back(service.name());
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<std::string>> GalaxyClient::ListMethods(const std::string& service) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol(service);
  absl::StatusOr<ServerReflectionResponse> response =
      Reflect(channel_, options_.timeout, request);
  if (!response.ok()) return response.status();
  for (const std::string& bytes : response->file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) {
      return absl::DataLossError("reflection returned an unparsable file descriptor");
    }
    for (const auto& s : file.service()) {
      if (absl::StrCat(file.package(), ".", s.name()) != service) continue;
      std::vector<std::string> methods;
      for (const auto& m : s.method()) methods.push_back(m.name());
      return methods;
    }
  }
  return absl::NotFoundError(absl::StrCat("service ", service, " not found through reflection"));
}

absl::StatusOr<v1::IndexInfo> GalaxyClient::GetIndexInfo() {
  v1::IndexInfo info;
  grpc::Status status = search_->GetIndexInfo(NewContext().get(), v1::GetIndexInfoRequest(), &info);
  if (!status.ok()) return FromGrpcStatus(status);
  return info;
}

}  // namespace galaxy
