// The HTTP/JSON API (server/http_gateway.h) against its gRPC twin on the same server: each
// endpoint answers what the gRPC call answers for the same request; bad JSON, wrong types,
// oversized bodies and missing tokens get the documented status and message; cutouts, streams,
// security headers and HTTPS.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/web_assets.h"
#include "tests/served.h"
#include "tests/subprocess.h"
#include "tests/test_certificates.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using testutil::Ctx;

constexpr char kSearchToken[] = "search-web-0123456789abcdef";
constexpr char kAdminToken[] = "admin-web-0123456789abcdef";

TEST(WebFixture, Build) { EXPECT_TRUE(fs::exists(testutil::SharedServingFixture().snapshots + "/v1/manifest.json")); }

std::string WriteTokens(const testutil::ScopedTempDir& dir) {
  const std::string path = dir.File("tokens");
  std::ofstream(path) << "search " << kSearchToken << " ada\nadmin " << kAdminToken << "\n";
  return path;
}

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest()
      : served_([this](ServerOptions& o) {
          o.http_listen = "127.0.0.1:0";
          o.auth_token_file = WriteTokens(dir_);
          o.max_message_bytes = 1 << 20;
          o.max_image_bytes = 512 << 10;
        }),
        http_("127.0.0.1", served_.server().http_port()),
        channel_(grpc::CreateChannel(served_.address(), grpc::InsecureChannelCredentials())) {
    http_.set_read_timeout(120);
  }

  httplib::Headers Auth() const { return {{"Authorization", absl::StrCat("Bearer ", kSearchToken)}}; }

  // POST /api/v1/rpc with `json` and the search token.
  httplib::Result Post(const std::string& rpc, const std::string& json) {
    return http_.Post(absl::StrCat("/api/v1/", rpc).c_str(), Auth(), json, "application/json");
  }

  // The gRPC answer to the same request (parsed from `json`), over the TCP port.
  std::unique_ptr<pb::Message> Grpc(const std::string& rpc, const std::string& json, grpc::Status* status) {
    const pb::MethodDescriptor* method =
        pb::DescriptorPool::generated_pool()->FindServiceByName("galaxy.v1.GalaxySearch")->FindMethodByName(rpc);
    auto* factory = pb::MessageFactory::generated_factory();
    std::unique_ptr<pb::Message> request(factory->GetPrototype(method->input_type())->New());
    EXPECT_TRUE(pb::util::JsonStringToMessage(json, request.get()).ok()) << json;
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kSearchToken));
    const std::string bytes = request->SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1), out;
    grpc::CompletionQueue queue;
    auto call = stub.PrepareUnaryCall(&context, absl::StrCat("/galaxy.v1.GalaxySearch/", rpc), in, &queue);
    call->StartCall();
    call->Finish(&out, status, nullptr);
    void* tag;
    bool ok;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    std::vector<grpc::Slice> slices;
    (void)out.Dump(&slices);
    std::string answer;
    for (const auto& s : slices) answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<pb::Message> response(factory->GetPrototype(method->output_type())->New());
    EXPECT_TRUE(response->ParseFromString(answer));
    return response;
  }

  // Expects the JSON endpoint and the gRPC call to answer `json` alike (fields in `ignore`, such
  // as creation times, aside).
  void ExpectTwins(const std::string& rpc, const std::string& json, const std::vector<std::string>& ignore = {}) {
    SCOPED_TRACE(rpc + " " + json);
    grpc::Status status;
    std::unique_ptr<pb::Message> want = Grpc(rpc, json, &status);
    ASSERT_TRUE(status.ok()) << status.error_message();
    httplib::Result got = Post(rpc, json);
    ASSERT_TRUE(got) << httplib::to_string(got.error());
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(got->get_header_value("Content-Type"), "application/json");
    std::unique_ptr<pb::Message> parsed(want->New());
    ASSERT_TRUE(pb::util::JsonStringToMessage(got->body, parsed.get()).ok()) << got->body.substr(0, 300);
    pb::util::MessageDifferencer differ;
    std::string report;
    differ.ReportDifferencesToString(&report);
    for (const std::string& field : ignore) {
      differ.IgnoreField(pb::DescriptorPool::generated_pool()->FindFieldByName(field));
    }
    EXPECT_TRUE(differ.Compare(*want, *parsed)) << report;
  }

  testutil::ScopedTempDir dir_;
  testutil::Served served_;
  httplib::Client http_;
  std::shared_ptr<grpc::Channel> channel_;
};

std::string Id(int row) { return absl::StrCat(testutil::SurveyIds()[row]); }

TEST_F(HttpApiTest, EveryUnaryRpcAnswersAsItsGrpcTwin) {
  const std::string id = Id(7), other = Id(9), third = Id(30);
  ExpectTwins("SimilarGalaxies", absl::StrCat(R"({"id": ")", id, R"(", "k": 12, "includeMetadata": true})"));
  grpc::Status found;
  auto record = Grpc("GetGalaxy", absl::StrCat(R"({"id": ")", third, R"("})"), &found);
  ASSERT_TRUE(found.ok());
  const auto& galaxy = static_cast<const v1::GalaxyRecord&>(*record);
  ExpectTwins("SimilarGalaxies", absl::StrFormat(R"({"position": {"ra": %.9f, "dec": %.9f}, "k": 5})", galaxy.ra(),
                                                 galaxy.dec()));
  ExpectTwins("BatchSimilarGalaxies", absl::StrCat(R"({"queries": [{"id": ")", id, R"(", "k": 3}, {"id": "1", "k": 3}]})"));
  ExpectTwins("Recommend", absl::StrCat(R"({"positives": [{"id": ")", id, R"("}, {"id": ")", other,
                                        R"("}], "negatives": [{"id": ")", third, R"("}], "k": 10})"));
  ExpectTwins("RankByExamples", absl::StrCat(R"({"positives": [{"id": ")", id, R"("}, {"id": ")", other,
                                             R"("}], "pageSize": 10, "seed": "3"})"));
  ExpectTwins("PredictRedshift", absl::StrCat(R"({"queries": [{"id": ")", id, R"("}], "includePdf": true})"));
  ExpectTwins("ScoreAnomaly", absl::StrCat(R"({"id": ")", id, R"(", "includeNeighbors": true})"));
  ExpectTwins("ListAnomalies", R"({"pageSize": 7})");
  ExpectTwins("GetGalaxy", absl::StrCat(R"({"id": ")", id, R"(", "includeImage": true})"));
  ExpectTwins("GetIndexInfo", "{}");
  // Labels: the gRPC call writes first, so both answers carry the same stored labels.
  const std::string label = absl::StrCat(R"({"labels": [{"galaxyId": ")", id, R"(", "className": "ring"}]})");
  ExpectTwins("AddLabels", label, {"galaxy.v1.Label.created_ms"});
  ExpectTwins("ListLabels", R"({"filter": {"className": "ring"}})");
  grpc::Status status;
  Grpc("AddLabels", label, &status);
  ASSERT_TRUE(status.ok());
  httplib::Result deleted = Post("DeleteLabels", label);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(deleted->body, "{\"deleted\":1}");
  std::unique_ptr<pb::Message> again = Grpc("DeleteLabels", label, &status);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(again->ShortDebugString(), "");  // nothing left to delete: deleted 0
}

TEST_F(HttpApiTest, StreamsAnswerAsNdjsonAndCsv) {
  const std::string request = absl::StrCat(R"({"positives": [{"id": ")", Id(7), R"("}], "pageSize": 100, "limit": 250})");
  httplib::Result stream = Post("StreamRankByExamples", request);
  ASSERT_TRUE(stream);
  ASSERT_EQ(stream->status, 200) << stream->body;
  std::vector<std::string> lines = absl::StrSplit(stream->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);  // 100 + 100 + 50
  v1::RankByExamplesResponse last;
  ASSERT_TRUE(pb::util::JsonStringToMessage(lines[2], &last).ok());
  EXPECT_EQ(last.galaxies_size(), 50);
  EXPECT_EQ(last.first_rank(), 201u);  // 1-based

  ASSERT_EQ(Post("AddLabels", absl::StrCat(R"({"labels": [{"galaxyId": ")", Id(3),
                                           R"(", "interest": "INTEREST_INTERESTING", "comment": "a, \"quoted\" arm"}]})"))
                ->status,
            200);
  httplib::Result csv = Post("ExportLabels", "{}");
  ASSERT_TRUE(csv);
  ASSERT_EQ(csv->status, 200);
  EXPECT_TRUE(absl::StartsWith(csv->get_header_value("Content-Type"), "text/csv"));
  auto stub = v1::GalaxySearch::NewStub(channel_);
  auto context = Ctx();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", kSearchToken));
  v1::ExportLabelsRequest export_request;
  auto reader = stub->ExportLabels(context.get(), export_request);
  std::string want;
  v1::ExportLabelsChunk chunk;
  while (reader->Read(&chunk)) want += chunk.csv();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(csv->body, want);
  EXPECT_TRUE(absl::StrContains(csv->body, "\"a, \"\"quoted\"\" arm\"")) << csv->body;
}

TEST_F(HttpApiTest, CutoutIsAnAsinhPngWithAnEtag) {
  const std::string path = absl::StrCat("/api/v1/galaxies/", Id(5), "/cutout.png?size=128&stretch=0.4");
  httplib::Result png = http_.Get(path.c_str(), Auth());
  ASSERT_TRUE(png);
  ASSERT_EQ(png->status, 200) << png->body;
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  ASSERT_GT(png->body.size(), 24u);
  EXPECT_EQ(png->body.substr(1, 3), "PNG");
  const auto be32 = [&](size_t at) {
    const auto* b = reinterpret_cast<const unsigned char*>(png->body.data() + at);
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
  };
  EXPECT_EQ(be32(16), 128);  // the 64 px cutout magnified twice
  const std::string etag = png->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  httplib::Headers again = Auth();
  again.emplace("If-None-Match", etag);
  httplib::Result cached = http_.Get(path.c_str(), again);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  // Another stretch, other bands: another picture.
  const std::string other = absl::StrCat("/api/v1/galaxies/", Id(5), "/cutout.png?stretch=2&bands=z,i,r");
  httplib::Result stretched = http_.Get(other.c_str(), Auth());
  ASSERT_TRUE(stretched);
  ASSERT_EQ(stretched->status, 200) << stretched->body;
  EXPECT_NE(stretched->get_header_value("ETag"), etag);

  const auto status_of = [&](const std::string& p, httplib::Headers headers) {
    httplib::Result r = http_.Get(p.c_str(), headers);
    return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  };
  auto bad_band = status_of(absl::StrCat("/api/v1/galaxies/", Id(5), "/cutout.png?bands=x,r,g"), Auth());
  EXPECT_EQ(bad_band.first, 400);
  EXPECT_TRUE(absl::StrContains(bad_band.second, "bands: 'x' is neither a band name (u,g,r,i,z)")) << bad_band.second;
  auto bad_size = status_of(absl::StrCat("/api/v1/galaxies/", Id(5), "/cutout.png?size=-3"), Auth());
  EXPECT_EQ(bad_size.first, 400);
  EXPECT_TRUE(absl::StrContains(bad_size.second, "size: '-3' is not a number in (0, 1024]")) << bad_size.second;
  auto unknown = status_of("/api/v1/galaxies/42/cutout.png", Auth());
  EXPECT_EQ(unknown.first, 404);
  EXPECT_TRUE(absl::StrContains(unknown.second, "galaxy 42 is not in snapshot")) << unknown.second;
  auto no_token = status_of(path, {});
  EXPECT_EQ(no_token.first, 401);
}

// The documented statuses and messages of bad requests (docs/API.md, "HTTP/JSON").
TEST_F(HttpApiTest, BadRequestsGetTheirStatusAndAMessageNamingTheProblem) {
  struct Case {
    std::string rpc, body;
    httplib::Headers headers;
    int status;
    std::string code, message;
  };
  const httplib::Headers none;
  const httplib::Headers wrong = {{"Authorization", "Bearer not-a-token-of-this-server"}};
  const std::string huge = absl::StrCat(R"({"image": {"data": ")", std::string(1500000, 'A'), R"("}})");
  const std::vector<Case> cases = {
      {"SimilarGalaxies", "{\"k\": 3", Auth(), 400, "INVALID_ARGUMENT",
       "the body is not a galaxy.v1.SimilarGalaxiesRequest in JSON"},
      {"SimilarGalaxies", R"({"k": "three"})", Auth(), 400, "INVALID_ARGUMENT", "(k): invalid value \"three\""},
      {"SimilarGalaxies", R"({"kk": 3})", Auth(), 400, "INVALID_ARGUMENT", "kk: Cannot find field"},
      {"SimilarGalaxies", R"({"id": "1", "k": 5000})", Auth(), 400, "INVALID_ARGUMENT", "k: 5000 exceeds the limit"},
      {"GetGalaxy", R"({"id": "42"})", Auth(), 404, "NOT_FOUND", "galaxy 42 is not in snapshot"},
      {"SimilarGalaxies", huge, Auth(), 413, "RESOURCE_EXHAUSTED", "the request body exceeds the limit of 1048576 bytes"},
      {"GetIndexInfo", "{}", none, 401, "UNAUTHENTICATED", "missing"},
      {"GetIndexInfo", "{}", wrong, 401, "UNAUTHENTICATED", ""},
      {"NoSuchRpc", "{}", Auth(), 404, "NOT_FOUND", "no route POST /api/v1/NoSuchRpc"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rpc + " " + c.body.substr(0, 60));
    httplib::Result r = http_.Post(absl::StrCat("/api/v1/", c.rpc).c_str(), c.headers, c.body, "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, c.status) << r->body;
    nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body.value("code", ""), c.code) << r->body;
    EXPECT_TRUE(absl::StrContains(body.value("message", ""), c.message)) << r->body;
    EXPECT_FALSE(absl::StrContains(r->body, kSearchToken));
  }
}

TEST_F(HttpApiTest, ThePageIsServedWithAStrictContentSecurityPolicyAndNoOutsideAddress) {
  httplib::Result page = http_.Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StartsWith(page->get_header_value("Content-Type"), "text/html"));
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_TRUE(absl::StrContains(csp, "default-src 'none'")) << csp;
  EXPECT_TRUE(absl::StrContains(csp, "script-src 'self';")) << csp;
  EXPECT_FALSE(absl::StrContains(csp, "unsafe")) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page->get_header_value_count("Content-Security-Policy"), 1u);
  httplib::Result script = http_.Get("/app.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_TRUE(absl::StartsWith(script->get_header_value("Content-Type"), "text/javascript"));
  // No asset loads anything from elsewhere (the SVG namespace is a name, not an address), and no
  // script writes HTML from strings.
  for (const WebAsset& asset : WebAssets()) {
    std::string text(asset.data, asset.size);
    text = absl::StrReplaceAll(text, {{"http://www.w3.org/2000/svg", ""}});
    EXPECT_FALSE(absl::StrContains(text, "http://") || absl::StrContains(text, "https://")) << asset.path;
    EXPECT_FALSE(absl::StrContains(text, "innerHTML") || absl::StrContains(text, "insertAdjacentHTML")) << asset.path;
  }
}

TEST(HttpsTest, TheApiAndPageAnswerOverTlsWithTheServersCertificate) {
  testutil::ScopedTempDir dir;
  const std::string d = dir.path().string();
  ASSERT_TRUE(testutil::MakeTestCertificates(d).ok());
  testutil::Served served([&](ServerOptions& o) {
    o.http_listen = "127.0.0.1:0";
    o.tls_cert = d + "/server.pem";
    o.tls_key = d + "/server.key";
  });
  httplib::SSLClient https("127.0.0.1", served.server().http_port());
  https.set_ca_cert_path((d + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result info = https.Post("/api/v1/GetIndexInfo", "{}", "application/json");
  ASSERT_TRUE(info) << httplib::to_string(info.error());
  EXPECT_EQ(info->status, 200);
  EXPECT_TRUE(absl::StrContains(info->body, "\"snapshotVersion\":\"v1\"")) << info->body;
  httplib::Client plain("127.0.0.1", served.server().http_port());
  EXPECT_FALSE(plain.Get("/") && plain.Get("/")->status == 200);  // no plain HTTP on an HTTPS port
}

// The binary: --http-listen with --http-port-file, the explorer's URL in the log, and refused
// HTTP calls logged with the HTTP client as their peer and without the token sent.
TEST(HttpServerProcessTest, TheBinaryServesHttpAndLogsTheHttpClient) {
  testutil::ScopedTempDir dir;
  fs::copy(testutil::SharedServingFixture().snapshots, dir.File("snapshots"), fs::copy_options::recursive);
  absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> server = testutil::ServerProcess::Start(
      {"--snapshots", dir.File("snapshots"), "--device", "cpu", "--http-listen", "127.0.0.1:0", "--http-port-file",
       dir.File("http.port")},
      absl::Seconds(60));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = std::stoi(testutil::ReadFile(dir.File("http.port")));
  httplib::Client http("127.0.0.1", port);
  httplib::Result page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  const httplib::Headers secret = {{"Authorization", "Bearer never-log-this-0123456789"}};
  httplib::Result missing = http.Post("/api/v1/GetGalaxy", secret, R"({"id": "42"})", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  ASSERT_TRUE((*server)->Stop(SIGTERM).ok());
  const std::string log = (*server)->Log();
  EXPECT_TRUE(absl::StrContains(log, absl::StrCat("url=http://127.0.0.1:", port, "/"))) << log;
  EXPECT_TRUE(absl::StrContains(log, "peer=http:127.0.0.1:")) << log;
  EXPECT_FALSE(absl::StrContains(log, "never-log-this")) << log;
}

}  // namespace
}  // namespace galaxy
