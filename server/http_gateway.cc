#include "server/http_gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <cstring>
#include <functional>
#include <list>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/composite.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/server_options.h"
#include "server/service_state.h"
#include "server/web_assets.h"

namespace galaxy {
namespace {

namespace pb = google::protobuf;

constexpr char kApiPrefix[] = "/api/v1/";
constexpr char kJson[] = "application/json";
// Nothing but this origin's own scripts, styles, images (and the blob: URLs the page makes of
// cutouts it fetched with the token) and API; no inline script, no framing.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
// A call the page makes waits at most this long for the gRPC server.
constexpr auto kCallTimeout = std::chrono::minutes(5);

// The HTTP status of a gRPC status code (google.rpc's mapping, but RESOURCE_EXHAUSTED, which this
// server answers for a request over its size limits, is 413).
int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::FAILED_PRECONDITION: return 412;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 413;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}

std::string JsonString(absl::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SetError(httplib::Response& res, int http_status, absl::string_view code, absl::string_view message) {
  res.status = http_status;
  res.set_content(absl::StrCat("{\"code\": ", JsonString(code), ", \"message\": ", JsonString(message), "}\n"), kJson);
}

void SetError(httplib::Response& res, const grpc::Status& status) {
  SetError(res, HttpStatusOf(status.error_code()),
           absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), status.error_message());
}

void SetSecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

std::string Concatenate(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& slice : slices) out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return out;
}

// One call's client context: the caller's token passed on, a deadline.
void Prepare(const httplib::Request& req, grpc::ClientContext* context) {
  const std::string authorization = req.get_header_value("Authorization");
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  context->AddMetadata(kHttpPeerMetadata, absl::StrCat(req.remote_addr, ":", req.remote_port));
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// A unary call of `method` ("/galaxy.v1.GalaxySearch/X") with a serialised request.
grpc::Status CallUnary(const std::shared_ptr<grpc::Channel>& channel, const httplib::Request& req, const std::string& method,
                       const std::string& request, std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  Prepare(req, &context);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1), response_buffer;
  grpc::CompletionQueue queue;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, method, request_buffer, &queue);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!queue.Next(&tag, &ok) || !ok) status = grpc::Status(grpc::StatusCode::INTERNAL, "the in-process call failed");
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  if (status.ok()) *response = Concatenate(response_buffer);
  return status;
}

// Parses a JSON body into `message`; INVALID_ARGUMENT naming the message type and the problem.
absl::Status ParseBody(const std::string& body, pb::Message* message) {
  if (absl::StripAsciiWhitespace(body).empty()) return absl::OkStatus();
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  pb::util::Status parsed = pb::util::JsonStringToMessage(body, message, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the body is not a ", message->GetDescriptor()->full_name(),
                                                    " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

std::string ToJson(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)pb::util::MessageToJsonString(message, &out, options);
  return out;
}

// The routes of the JSON twin of every unary GalaxySearch RPC.
void AddUnaryRoutes(httplib::Server& http, const std::shared_ptr<grpc::Channel>& channel) {
  const pb::ServiceDescriptor* service =
      pb::DescriptorPool::generated_pool()->FindServiceByName(v1::GalaxySearch::service_full_name());
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* method = service->method(i);
    if (method->client_streaming() || method->server_streaming()) continue;
    const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
    http.Post(absl::StrCat(kApiPrefix, method->name()), [channel, method, path](const httplib::Request& req,
                                                                                  httplib::Response& res) {
      const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(method->input_type());
      std::unique_ptr<pb::Message> request(prototype->New());
      absl::Status parsed = ParseBody(req.body, request.get());
      if (!parsed.ok()) return SetError(res, 400, "INVALID_ARGUMENT", parsed.message());
      std::string answer;
      grpc::Status status = CallUnary(channel, req, path, request->SerializeAsString(), &answer);
      if (!status.ok()) return SetError(res, status);
      std::unique_ptr<pb::Message> response(
          pb::MessageFactory::generated_factory()->GetPrototype(method->output_type())->New());
      if (!response->ParseFromString(answer)) return SetError(res, 500, "INTERNAL", "unreadable answer");
      res.set_content(ToJson(*response), kJson);
    });
  }
}

// A server-streaming call read message by message as the HTTP answer is written (chunked).
template <typename Request, typename Response>
struct StreamCall {
  grpc::ClientContext context;
  Request request;
  std::unique_ptr<grpc::ClientReader<Response>> reader;
  Response first;
  bool has_first = false;
};

// Starts the call and reads its first message, so that a refused call answers with its own
// status; the rest is sent as it comes, each message written by `write`.
template <typename Request, typename Response>
void StreamRoute(httplib::Server& http, const std::shared_ptr<grpc::Channel>& channel, const std::string& rpc, const char* content_type,
                 std::unique_ptr<grpc::ClientReader<Response>> (v1::GalaxySearch::Stub::*start)(
                     grpc::ClientContext*, const Request&),
                 std::function<std::string(const Response&)> write) {
  http.Post(absl::StrCat(kApiPrefix, rpc), [=](const httplib::Request& req, httplib::Response& res) {
    auto call = std::make_shared<StreamCall<Request, Response>>();
    absl::Status parsed = ParseBody(req.body, &call->request);
    if (!parsed.ok()) return SetError(res, 400, "INVALID_ARGUMENT", parsed.message());
    Prepare(req, &call->context);
    auto stub = std::make_shared<v1::GalaxySearch::Stub>(channel);
    call->reader = ((*stub).*start)(&call->context, call->request);
    call->has_first = call->reader->Read(&call->first);
    if (!call->has_first) {
      grpc::Status status = call->reader->Finish();
      if (!status.ok()) return SetError(res, status);
      return res.set_content("", content_type);
    }
    res.set_chunked_content_provider(content_type, [call, stub, write](size_t, httplib::DataSink& sink) {
      if (call->has_first) {
        call->has_first = false;
        const std::string text = write(call->first);
        return sink.write(text.data(), text.size());
      }
      Response next;
      if (call->reader->Read(&next)) {
        const std::string text = write(next);
        return sink.write(text.data(), text.size());
      }
      grpc::Status status = call->reader->Finish();
      if (!status.ok()) {
        // The status line is gone: the error ends the answer, and the chunked answer is cut.
        log::Info("http stream ended by an error", {{"rpc", "stream"}, {"error", status.error_message()}});
        return false;
      }
      sink.done();
      return true;
    }, [call](bool success) {
      if (!success) call->context.TryCancel();
    });
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Cutouts

namespace {

// Rendered cutouts by ETag, least recently used first out.
class CutoutCache {
 public:
  explicit CutoutCache(uint64_t capacity) : capacity_(capacity) {}
  bool Get(const std::string& etag, std::string* png) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(etag);
    if (it == entries_.end()) return false;
    order_.splice(order_.begin(), order_, it->second.second);
    *png = it->second.first;
    return true;
  }
  void Put(const std::string& etag, const std::string& png) {
    absl::MutexLock lock(&mu_);
    if (png.size() > capacity_ || entries_.count(etag)) return;
    order_.push_front(etag);
    entries_[etag] = {png, order_.begin()};
    bytes_ += png.size();
    while (bytes_ > capacity_) {
      auto last = entries_.find(order_.back());
      bytes_ -= last->second.first.size();
      entries_.erase(last);
      order_.pop_back();
    }
  }

 private:
  absl::Mutex mu_;
  const uint64_t capacity_;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::pair<std::string, std::list<std::string>::iterator>> entries_
      ABSL_GUARDED_BY(mu_);
};

struct CutoutQuery {
  int64_t id = 0;
  std::string bands;  // as asked ("" for the default)
  int size = 128;
  float stretch = 0.4f, q = 8.0f;
};

absl::StatusOr<float> PositiveParam(const httplib::Request& req, const char* name, float fallback, float most) {
  if (!req.has_param(name)) return fallback;
  float value = 0;
  const std::string text = req.get_param_value(name);
  if (!absl::SimpleAtof(text, &value) || !(value > 0 && value <= most)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": '", text, "' is not a number in (0, ", most, "]"));
  }
  return value;
}

absl::StatusOr<CutoutQuery> ParseCutoutQuery(const httplib::Request& req) {
  CutoutQuery query;
  const std::string id = req.matches[1];
  if (!absl::SimpleAtoi(id, &query.id)) {
    return absl::InvalidArgumentError(absl::StrCat("galaxy ID '", id, "' is not a 64-bit integer"));
  }
  query.bands = req.get_param_value("bands");
  GALAXY_ASSIGN_OR_RETURN(float size, PositiveParam(req, "size", 128, 1024));
  query.size = static_cast<int>(size);
  GALAXY_ASSIGN_OR_RETURN(query.stretch, PositiveParam(req, "stretch", 0.4f, 1000));
  GALAXY_ASSIGN_OR_RETURN(query.q, PositiveParam(req, "q", 8, 1000));
  return query;
}

// The composite options of `query` for an image with `bands` bands named `names` (may be
// empty). INVALID_ARGUMENT for a band that is not there.
absl::StatusOr<CompositeOptions> CompositeFor(const CutoutQuery& query, int bands,
                                              const std::vector<std::string>& names, int height) {
  CompositeOptions options = DefaultComposite(bands);
  options.stretch = query.stretch;
  options.q = query.q;
  options.zoom = std::clamp((query.size + height - 1) / std::max(1, height), 1, 8);
  if (query.bands.empty()) return options;
  std::vector<std::string> asked = absl::StrSplit(query.bands, ',');
  if (asked.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("bands: '", query.bands, "' is not three bands (red,green,blue)"));
  }
  int chosen[3];
  for (int c = 0; c < 3; ++c) {
    auto named = std::find(names.begin(), names.end(), asked[c]);
    int index = -1;
    if (named != names.end()) {
      index = static_cast<int>(named - names.begin());
    } else if (!absl::SimpleAtoi(asked[c], &index) || index < 0 || index >= bands) {
      return absl::InvalidArgumentError(absl::StrCat("bands: '", asked[c], "' is neither a band name (",
                                                     absl::StrJoin(names, ","), ") nor an index below ", bands));
    }
    chosen[c] = index;
  }
  options.red = chosen[0];
  options.green = chosen[1];
  options.blue = chosen[2];
  return options;
}

std::string EtagOf(const v1::Image& image, const CompositeOptions& o) {
  const size_t h = std::hash<std::string>()(image.data()) ^
                   (std::hash<std::string>()(absl::StrCat(image.bands(), "x", image.height(), "x", image.width(), "/",
                                                          o.red, o.green, o.blue, "/", o.stretch, "/", o.q, "/",
                                                          o.zoom)) * 1099511628211ull);
  return absl::StrCat("\"", absl::Hex(h, absl::kZeroPad16), "\"");
}

void AddCutoutRoute(httplib::Server& http, const std::shared_ptr<grpc::Channel>& channel, std::shared_ptr<CutoutCache> cache) {
  http.Get(R"(/api/v1/galaxies/(-?\d+)/cutout\.png)", [channel, cache](const httplib::Request& req,
                                                                     httplib::Response& res) {
    absl::StatusOr<CutoutQuery> query = ParseCutoutQuery(req);
    if (!query.ok()) return SetError(res, 400, "INVALID_ARGUMENT", query.status().message());
    v1::GetGalaxyRequest get;
    get.set_id(query->id);
    get.set_include_image(true);
    std::string answer;
    grpc::Status status = CallUnary(channel, req, "/galaxy.v1.GalaxySearch/GetGalaxy", get.SerializeAsString(), &answer);
    if (!status.ok()) return SetError(res, status);
    v1::GalaxyRecord record;
    if (!record.ParseFromString(answer)) return SetError(res, 500, "INTERNAL", "unreadable GetGalaxy answer");
    const v1::Image& image = record.image();
    const int bands = static_cast<int>(image.bands()), height = static_cast<int>(image.height()),
              width = static_cast<int>(image.width());
    std::vector<std::string> names;
    if (!query->bands.empty()) {
      std::string info;
      if (CallUnary(channel, req, "/galaxy.v1.GalaxySearch/GetIndexInfo", "", &info).ok()) {
        v1::IndexInfo parsed;
        if (parsed.ParseFromString(info)) names.assign(parsed.model().band_names().begin(), parsed.model().band_names().end());
      }
    }
    absl::StatusOr<CompositeOptions> options = CompositeFor(*query, bands, names, height);
    if (!options.ok()) return SetError(res, 400, "INVALID_ARGUMENT", options.status().message());
    const std::string etag = EtagOf(image, *options);
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "private, no-cache");
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    std::string png;
    if (!cache->Get(etag, &png)) {
      const size_t n = static_cast<size_t>(bands) * height * width;
      if (image.dtype() != v1::DTYPE_FLOAT32 || image.data().size() != n * 4) {
        return SetError(res, 500, "INTERNAL", "the stored cutout does not match its shape");
      }
      std::vector<float> pixels(n);
      std::memcpy(pixels.data(), image.data().data(), n * 4);
      absl::StatusOr<std::string> rendered = CompositePng(pixels.data(), bands, height, width, *options);
      if (!rendered.ok()) return SetError(res, 400, "INVALID_ARGUMENT", rendered.status().message());
      png = std::move(*rendered);
      cache->Put(etag, png);
    }
    res.set_content(png, "image/png");
  });
}

void AddStaticRoutes(httplib::Server& http) {
  for (const WebAsset& asset : WebAssets()) {
    const std::string path = asset.path == "index.html" ? "/" : absl::StrCat("/", asset.path);
    http.Get(path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(asset.data, asset.size, asset.content_type);
      res.set_header("Cache-Control", "no-cache");
    });
  }
}

}  // namespace

struct HttpGateway::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(const HttpGatewayOptions& options,
                                                                std::shared_ptr<grpc::Channel> channel) {
  GALAXY_ASSIGN_OR_RETURN(auto host_port, ParseListen("--http-listen", options.listen));
  const auto& [host, port] = host_port;
  std::unique_ptr<HttpGateway> gateway(new HttpGateway());
  gateway->impl_ = std::make_unique<Impl>();
  Impl& impl = *gateway->impl_;
  impl.channel = std::move(channel);
  if (options.tls_cert.empty()) {
    impl.http = std::make_unique<httplib::Server>();
  } else {
    impl.http = std::make_unique<httplib::SSLServer>(
        options.tls_cert.c_str(), options.tls_key.c_str(),
        options.tls_client_ca.empty() ? nullptr : options.tls_client_ca.c_str());
    if (!impl.http->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("--http-listen: cannot load the TLS certificate ", options.tls_cert,
                                                     " and key ", options.tls_key));
    }
  }
  httplib::Server& http = *impl.http;
  http.set_payload_max_length(options.max_body_bytes);
  const uint64_t limit = options.max_body_bytes;
  http.set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
    SetSecurityHeaders(res);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers itself (no route, a body over the limit) get the API's JSON body.
  http.set_error_handler([limit](const httplib::Request& req, httplib::Response& res) {
    if (!res.has_header("Content-Security-Policy")) SetSecurityHeaders(res);
    if (!res.body.empty()) return;
    if (res.status == 413) {
      SetError(res, 413, "RESOURCE_EXHAUSTED", absl::StrCat("the request body exceeds the limit of ", limit, " bytes"));
    } else if (res.status == 404) {
      SetError(res, 404, "NOT_FOUND", absl::StrCat("no route ", req.method, " ", req.path));
    } else {
      SetError(res, res.status, "INVALID_ARGUMENT",
               absl::StrCat("the request could not be read (HTTP ", res.status,
                            "); a POST needs a body with its Content-Length: {} for an empty request"));
    }
  });
  http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (res.status >= 400 && res.status != 404) {
      log::Info("http request refused", {{"method", req.method}, {"path", req.path},
                                         {"status", absl::StrCat(res.status)}, {"peer", req.remote_addr}});
    }
  });
  const std::shared_ptr<grpc::Channel>& raw = impl.channel;
  AddUnaryRoutes(http, raw);
  StreamRoute<v1::RankByExamplesRequest, v1::RankByExamplesResponse>(
      http, raw, "StreamRankByExamples", "application/x-ndjson", &v1::GalaxySearch::Stub::StreamRankByExamples,
      [](const v1::RankByExamplesResponse& page) {
        pb::util::JsonPrintOptions options;
        std::string line;
        (void)pb::util::MessageToJsonString(page, &line, options);
        return line + "\n";
      });
  StreamRoute<v1::ExportLabelsRequest, v1::ExportLabelsChunk>(
      http, raw, "ExportLabels", "text/csv; charset=utf-8", &v1::GalaxySearch::Stub::ExportLabels,
      [](const v1::ExportLabelsChunk& chunk) { return chunk.csv(); });
  AddCutoutRoute(http, raw, std::make_shared<CutoutCache>(options.cutout_cache_bytes));
  AddStaticRoutes(http);

  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("--http-listen: cannot listen on ", options.listen));
  gateway->port_ = bound;
  impl.thread = std::thread([&http] { http.listen_after_bind(); });
  return gateway;
}

HttpGateway::~HttpGateway() {
  if (impl_ == nullptr) return;
  impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace galaxy
