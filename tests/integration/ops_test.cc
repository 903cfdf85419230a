// The ops face (issue #6) of real gateway processes: the admin HTTP endpoints
// (/healthz, /readyz, /status, /metrics) as an operator's probe and
// Prometheus see them, grpc.health.v1 on the gRPC faces, the JSON logs, a
// clean stop on SIGTERM (under load, with a delivery window unanswered, with
// streams open), and a TLS certificate replaced on disk without a restart.
#include <httplib.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "iicc/v1/admin.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

// An idle gRPC C++ client channel reads from its connection only when its
// backup poller runs, every 5 s by default; until then it does not answer
// the ping of a server's graceful GOAWAY, and the server's shutdown waits
// for it. Real clients with calls in progress poll all the time; this test
// process often has none, so it polls as they would (docs/operations.md,
// "Stop", says what an idle client does to a stop).
const bool kPollLikeABusyClient = [] {
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", /*overwrite=*/1);
  return true;
}();

using ::testing::HasSubstr;
using ::testing::Optional;
using Labels = std::map<std::string, std::string>;

// grpc.health.v1 ServingStatus values.
constexpr int kServing = 1;
constexpr int kNotServing = 2;

// One HTTP answer; `status` 0 when there was none (refused, timed out).
struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
};

HttpAnswer HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  httplib::Result result = client.Get(path);
  if (!result) return {};
  return {result->status, result->body, result->get_header_value("Content-Type")};
}

// GET /status, parsed. JsonStringToMessage refuses unknown fields, so a
// field the gateway names differently from admin.proto fails here.
v1::GatewayStatus StatusOf(const GatewayProcess& gateway, std::string* json = nullptr) {
  const HttpAnswer answer = HttpGet(gateway.admin_port(), "/status");
  EXPECT_EQ(answer.status, 200) << answer.body;
  v1::GatewayStatus status;
  const auto parsed = google::protobuf::util::JsonStringToMessage(answer.body, &status);
  EXPECT_TRUE(parsed.ok()) << parsed.message() << "\n" << answer.body;
  if (json != nullptr) *json = answer.body;
  return status;
}

// The check named `name` of `status` (a default one, and a failure, if
// absent).
v1::ReadinessCheck CheckNamed(const v1::GatewayStatus& status, const std::string& name) {
  for (const v1::ReadinessCheck& check : status.checks()) {
    if (check.name() == name) return check;
  }
  ADD_FAILURE() << "no check '" << name << "' in " << status.DebugString();
  return {};
}

// One sample of the Prometheus text format: `name{label="value",...} value`.
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses the text exposition format (comments skipped); a failure for a line
// it cannot read. Values are compared as numbers, never as text.
std::vector<Sample> ParseMetrics(const std::string& text) {
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    Sample sample;
    size_t i = line.find_first_of("{ ");
    if (i == absl::string_view::npos) {
      ADD_FAILURE() << "no value: " << line;
      continue;
    }
    sample.name = std::string(line.substr(0, i));
    bool bad = false;
    if (line[i] == '{') {
      ++i;
      while (!bad && i < line.size() && line[i] != '}') {
        const size_t equals = line.find('=', i);
        if (equals == absl::string_view::npos || equals + 1 >= line.size() || line[equals + 1] != '"') {
          bad = true;
          break;
        }
        const std::string key(line.substr(i, equals - i));
        std::string value;
        size_t j = equals + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          bad = true;
          break;
        }
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) bad = true;
      ++i;  // The '}'.
    }
    if (bad || i >= line.size()) {
      ADD_FAILURE() << "cannot parse: " << line;
      continue;
    }
    const std::vector<absl::string_view> rest =
        absl::StrSplit(absl::StripAsciiWhitespace(line.substr(i)), ' ', absl::SkipEmpty());
    const std::string value_text = rest.empty() ? "" : std::string(rest[0]);
    char* end = nullptr;
    sample.value = std::strtod(value_text.c_str(), &end);
    if (value_text.empty() || *end != '\0') {
      ADD_FAILURE() << "not a number: " << line;
      continue;
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

// A scrape of GET /metrics, parsed.
class Scrape {
 public:
  explicit Scrape(const GatewayProcess& gateway) {
    const HttpAnswer answer = HttpGet(gateway.admin_port(), "/metrics");
    EXPECT_EQ(answer.status, 200);
    text_ = answer.body;
    samples_ = ParseMetrics(text_);
  }

  const std::string& text() const { return text_; }

  // The samples named `name` whose labels include `labels`.
  std::vector<Sample> Matching(const std::string& name, const Labels& labels = {}) const {
    std::vector<Sample> found;
    for (const Sample& sample : samples_) {
      if (sample.name != name) continue;
      bool match = true;
      for (const auto& [key, value] : labels) {
        auto it = sample.labels.find(key);
        match = match && it != sample.labels.end() && it->second == value;
      }
      if (match) found.push_back(sample);
    }
    return found;
  }

  // The value of the one sample `name` with `labels`; nullopt if there is
  // none or more than one.
  std::optional<double> Value(const std::string& name, const Labels& labels = {}) const {
    const std::vector<Sample> found = Matching(name, labels);
    if (found.size() != 1) return std::nullopt;
    return found[0].value;
  }

 private:
  std::string text_;
  std::vector<Sample> samples_;
};

// Runs `promtool check metrics` on `text` (written to `file`); its exit
// status, with what it printed in `output`.
int PromtoolCheck(const std::string& text, const std::string& file, std::string* output) {
  {
    FILE* out = fopen(file.c_str(), "w");
    if (out == nullptr) return -1;
    fwrite(text.data(), 1, text.size(), out);
    fclose(out);
  }
  const int status = RunShell("promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1");
  *output = ReadFileOrEmpty(file + ".out");
  return status;
}

// The ServingStatus in a HealthCheckResponse's wire bytes (field 1, a
// varint); 0 if absent or unreadable.
int ServingStatusIn(const grpc::ByteBuffer& response) {
  grpc::Slice bytes;
  if (!response.DumpToSingleSlice(&bytes).ok()) return 0;
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.begin(), static_cast<int>(bytes.size()))) return 0;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1 && fields.field(i).type() == google::protobuf::UnknownField::TYPE_VARINT) {
      return static_cast<int>(fields.field(i).varint());
    }
  }
  return 0;
}

// The grpc.health.v1 status of the whole server (service "") behind
// `channel`: kServing, kNotServing, or 0 if the call failed. The test speaks
// the protocol itself rather than through the gateway's own health proto:
// the request is the empty message, and the response's field 1 (a varint)
// is read from its wire bytes.
int ServingStatusOf(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::Slice empty("");
  const grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status.ok() ? ServingStatusIn(response) : 0;
}

// A grpc.health.v1.Health/Watch stream of the whole server: what a load
// balancer keeps open. Collects every status the server sends, and when the
// stream ended.
class HealthWatch final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit HealthWatch(const std::shared_ptr<grpc::Channel>& channel) : stub_(channel) {
    grpc::Slice empty("");
    request_ = grpc::ByteBuffer(&empty, 1);
    stub_.PrepareBidiStreamingCall(&context_, "/grpc.health.v1.Health/Watch", grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  ~HealthWatch() override {
    context_.TryCancel();
    done_.WaitForNotification();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      absl::MutexLock lock(&mu_);
      statuses_.push_back(ServingStatusIn(response_));
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      ended_at_ = absl::Now();
    }
    done_.Notify();
  }

  // Whether the stream has sent `status` within `timeout`.
  bool WaitFor(int status, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto sent = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(statuses_.begin(), statuses_.end(), status) != statuses_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&sent), timeout);
  }
  std::vector<int> statuses() {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }
  // When the stream ended (nullopt while open).
  std::optional<absl::Time> ended_at() {
    absl::MutexLock lock(&mu_);
    return ended_at_;
  }

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  absl::Notification done_;
  absl::Mutex mu_;
  std::vector<int> statuses_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> ended_at_ ABSL_GUARDED_BY(mu_);
};

// The gateway's peer face, as the other side's gateway connects to it.
std::shared_ptr<grpc::Channel> PeerFaceChannel(const GatewayProcess& gateway) {
  return gateway.PeerChannel(gateway.side() == "kz" ? "uz" : "kz", "gateway");
}

// The JSON log lines of `log`, in order. Lines that are not JSON objects are
// skipped (gRPC may write its own).
std::vector<google::protobuf::Struct> LogLines(const std::string& log) {
  std::vector<google::protobuf::Struct> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct object;
    if (google::protobuf::util::JsonStringToMessage(std::string(line), &object).ok()) {
      lines.push_back(std::move(object));
    }
  }
  return lines;
}

// A string field of a log line ("" if absent).
std::string FieldOf(const google::protobuf::Struct& line, const std::string& name) {
  auto it = line.fields().find(name);
  return it == line.fields().end() ? "" : it->second.string_value();
}

// The log lines whose event is `event`.
std::vector<google::protobuf::Struct> Events(const std::string& log, const std::string& event) {
  std::vector<google::protobuf::Struct> found;
  for (google::protobuf::Struct& line : LogLines(log)) {
    if (FieldOf(line, "event") == event) found.push_back(std::move(line));
  }
  return found;
}

// The personal values of the sample records, which no log line may show.
std::vector<std::string> PersonalValues() {
  const v1::Record cargo = SampleRecord("cargo");
  const v1::Record enterprise = SampleRecord("enterprise");
  const v1::Person& driver = cargo.cargo().driver();
  const v1::Person& director = enterprise.enterprise().director();
  return {driver.full_name(),
          driver.national_id().value(),
          driver.document_number(),
          driver.address(),
          director.full_name(),
          director.national_id().value(),
          director.document_number(),
          enterprise.enterprise().contact_phone(),
          enterprise.enterprise().contact_email()};
}

// What `command` (a shell command list) writes to stdout, trimmed; it goes
// through a file in `dir`.
std::string ShellOutput(const std::string& command, const TempDir& dir) {
  const std::string out = dir.File("shell.out");
  RunShell("( " + command + " ) > '" + out + "' 2>/dev/null");
  return std::string(absl::StripAsciiWhitespace(ReadFileOrEmpty(out)));
}

// The outbox of the database at `db_path`: record id -> state (1 queued,
// 2 delivered, 3 rejected). Read with the sqlite3 shell (WAL lets it read
// beside a running gateway).
std::map<std::string, int> OutboxOf(const std::string& db_path, const TempDir& dir) {
  std::map<std::string, int> outbox;
  const std::string rows = ShellOutput("sqlite3 '" + db_path + "' 'SELECT record_id, state FROM outbox'", dir);
  for (absl::string_view row : absl::StrSplit(rows, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> columns = absl::StrSplit(row, '|');
    if (columns.size() == 2) outbox[columns[0]] = std::atoi(columns[1].c_str());
  }
  return outbox;
}

// A cargo record of about 64 KiB: many goods lines with long descriptions,
// so that a 1 MiB store fills after a few.
v1::Record BulkyCargo(const std::string& consignment_id) {
  v1::Record record = NumberedCargo(consignment_id);
  v1::CargoRecord* cargo = record.mutable_cargo();
  cargo->mutable_goods(0)->set_description(std::string(500, 'w'));
  const v1::GoodsLine line = cargo->goods(0);
  for (int i = 1; i < 120; ++i) *cargo->add_goods() = line;
  return record;
}

// A GetRecordStatus call for an id no record has: a NOT_FOUND answer is a
// full round trip over the channel.
grpc::StatusCode ProbeCall(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::MinistryGateway::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetRecordStatusRequest request;
  request.set_record_id("01890a5d-ac96-774b-bcce-b302099a8057");
  v1::RecordStatus status;
  return stub->GetRecordStatus(&context, request, &status).error_code();
}

// Polls `condition` every 50 ms until it holds or `timeout` passes.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Polls /readyz until it answers `status` (within 5 s: readiness is checked
// every 200 ms in tests); the last answer, with a test failure if it never
// did.
HttpAnswer ReadyzBecomes(const GatewayProcess& gateway, int status) {
  HttpAnswer readyz;
  EXPECT_TRUE(Eventually(
      [&] {
        readyz = HttpGet(gateway.admin_port(), "/readyz");
        return readyz.status == status;
      },
      absl::Seconds(5)))
      << readyz.status << " " << readyz.body;
  return readyz;
}

double SecondsOf(const google::protobuf::Timestamp& t) { return t.seconds() + t.nanos() / 1e9; }

class OpsTest : public ::testing::Test {
 protected:
  OpsTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}

  // Stops both gateways together (each one's forwarder ends its stream to the
  // other), then checks both audit chains.
  void TearDown() override {
    uz_.Signal(SIGCONT);
    StopTogether({&kz_, &uz_});
    for (const GatewayProcess* gateway : {&kz_, &uz_}) {
      if (access(gateway->db_path().c_str(), F_OK) != 0) continue;
      const std::string verify =
          ShellOutput("'" + BinDir() + "/iicc-cli' audit verify '" + gateway->db_path() + "'; echo \"exit $?\"", dir_);
      EXPECT_THAT(verify, ::testing::EndsWith("exit 0")) << gateway->side() << ": " << verify;
      std::cout << "[ audit    ] " << gateway->side() << ": " << verify.substr(0, verify.find('\n')) << "\n";
    }
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
};

TEST_F(OpsTest, EveryEndpointAnswers) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  auto kz = kz_.MinistryStub();
  const std::string cargo_id = SubmitOrFail(*kz, "ops-cargo", SampleRecord("cargo"));
  const std::string enterprise_id = SubmitOrFail(*kz, "ops-enterprise", SampleRecord("enterprise"));
  ASSERT_FALSE(cargo_id.empty());
  ASSERT_FALSE(enterprise_id.empty());
  double last_delivered = 0;  // The later receipt's time.
  for (const std::string& id : {cargo_id, enterprise_id}) {
    const v1::RecordStatus delivered = WaitForOutcome(*kz, id);
    ASSERT_EQ(delivered.state(), v1::DELIVERY_STATE_DELIVERED) << id << "\n" << kz_.log();
    last_delivered = std::max(last_delivered, SecondsOf(delivered.delivered_time()));
  }
  const absl::Time now = absl::Now();

  // Liveness and readiness, over HTTP and grpc.health.v1 on both faces.
  for (const GatewayProcess* gateway : {&kz_, &uz_}) {
    SCOPED_TRACE(gateway->side());
    const HttpAnswer healthz = HttpGet(gateway->admin_port(), "/healthz");
    EXPECT_EQ(healthz.status, 200);
    EXPECT_EQ(healthz.body, "ok\n");
    const HttpAnswer readyz = HttpGet(gateway->admin_port(), "/readyz");
    EXPECT_EQ(readyz.status, 200);
    EXPECT_EQ(readyz.body, "ready\n");
    EXPECT_EQ(ServingStatusOf(gateway->MinistryChannel()), kServing);
    EXPECT_EQ(ServingStatusOf(PeerFaceChannel(*gateway)), kServing);
  }

  // KZ's /status.
  std::string json;
  const v1::GatewayStatus status = StatusOf(kz_, &json);
  // proto field names, and every primitive field, even when empty.
  for (const char* key : {"\"high_water_sequence\"", "\"oldest_undelivered_age_seconds\"", "\"last_delivery_time\"",
                          "\"last_error\"", "\"detail\"", "\"problem\"", "\"spiffe_id\""}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
  EXPECT_EQ(status.jurisdiction(), v1::JURISDICTION_KZ);
  EXPECT_FALSE(status.version().empty());
  EXPECT_TRUE(status.ready());
  EXPECT_NEAR(SecondsOf(status.time()), absl::ToUnixSeconds(now), 10);
  ASSERT_EQ(status.checks_size(), 3) << status.DebugString();
  for (const char* name : {"store", "policy", "certificates"}) {
    const v1::ReadinessCheck check = CheckNamed(status, name);
    EXPECT_TRUE(check.ok()) << name;
    EXPECT_EQ(check.detail(), "") << name;
  }
  EXPECT_TRUE(status.peer().link_up());
  EXPECT_EQ(status.peer().address(), kz_.config().peer().peer_address());
  EXPECT_EQ(status.peer().spiffe_id(), "spiffe://uz.iicc/gateway");
  EXPECT_TRUE(status.peer().has_last_delivery_time());
  EXPECT_NEAR(SecondsOf(status.peer().last_delivery_time()), last_delivered, 0.001);
  EXPECT_EQ(status.outbox().depth(), 0);
  EXPECT_FALSE(status.outbox().has_oldest_accepted_time());
  EXPECT_EQ(status.outbox().oldest_undelivered_age_seconds(), 0);
  EXPECT_EQ(status.inbox().high_water_sequence(), 0);
  EXPECT_THAT(status.policy().version(), ::testing::MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(status.policy().file(), kz_.config().policy_file());
  // The version in force is the one the gateway logged when it loaded it.
  const std::vector<google::protobuf::Struct> loaded = Events(kz_.log(), "policy.loaded");
  ASSERT_EQ(loaded.size(), 1u) << kz_.log();
  EXPECT_EQ(status.policy().version(), FieldOf(loaded[0], "version"));
  ASSERT_EQ(status.certificates_size(), 3) << status.DebugString();
  std::map<std::string, int64_t> not_after;
  for (const v1::CertificateStatus& certificate : status.certificates()) {
    SCOPED_TRACE(certificate.name());
    EXPECT_EQ(certificate.spiffe_id(), "spiffe://kz.iicc/gateway");
    EXPECT_GT(certificate.not_after().seconds(), absl::ToUnixSeconds(now));
    EXPECT_LT(certificate.not_before().seconds(), absl::ToUnixSeconds(now));
    EXPECT_EQ(certificate.problem(), "");
    not_after[certificate.name()] = certificate.not_after().seconds();
  }
  EXPECT_EQ(not_after.size(), 3u);
  const std::map<std::string, std::string> files = {{"ministry_tls", kz_.config().ministry_face().tls().cert_file()},
                                                    {"peer_tls", kz_.config().peer().tls().cert_file()},
                                                    {"signing", kz_.config().signing().cert_file()}};
  for (const v1::CertificateStatus& certificate : status.certificates()) {
    auto it = files.find(certificate.name());
    ASSERT_NE(it, files.end()) << "unknown certificate " << certificate.name();
    EXPECT_EQ(certificate.file(), it->second) << certificate.name();
  }

  // UZ's /status: the two records, in its inbox.
  const v1::GatewayStatus uz_status = StatusOf(uz_);
  EXPECT_EQ(uz_status.jurisdiction(), v1::JURISDICTION_UZ);
  EXPECT_TRUE(uz_status.ready());
  EXPECT_EQ(uz_status.inbox().high_water_sequence(), 2);

  // /metrics: valid for Prometheus, and the numbers of what just happened.
  EXPECT_THAT(HttpGet(kz_.admin_port(), "/metrics").content_type, ::testing::StartsWith("text/plain; version=0.0.4"));
  EXPECT_EQ(HttpGet(kz_.admin_port(), "/status").content_type, "application/json");
  const Scrape kz_metrics(kz_);
  const Scrape uz_metrics(uz_);
  for (const auto& [side, scrape] : {std::pair<const char*, const Scrape*>{"kz", &kz_metrics}, {"uz", &uz_metrics}}) {
    std::string promtool;
    EXPECT_EQ(PromtoolCheck(scrape->text(), dir_.File(absl::StrCat(side, ".metrics")), &promtool), 0)
        << side << ": " << promtool << "\n"
        << scrape->text();
  }
  EXPECT_THAT(kz_metrics.Value("iicc_records_submitted_total", {{"record_type", "cargo"}}), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_records_submitted_total", {{"record_type", "enterprise"}}), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_records_submitted_total", {{"record_type", "investment"}}), Optional(0.0));
  EXPECT_THAT(kz_metrics.Value("iicc_records_delivered_total", {{"record_type", "cargo"}}), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_records_delivered_total", {{"record_type", "enterprise"}}), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_delivery_latency_seconds_count"), Optional(2.0));
  EXPECT_THAT(kz_metrics.Value("iicc_delivery_latency_seconds_bucket", {{"le", "+Inf"}}), Optional(2.0));
  EXPECT_THAT(kz_metrics.Value("iicc_delivery_latency_seconds_sum"), Optional(::testing::Gt(0.0)));
  EXPECT_THAT(kz_metrics.Value("iicc_peer_link_up"), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_ready"), Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_outbox_depth"), Optional(0.0));
  EXPECT_THAT(kz_metrics.Value("iicc_oldest_undelivered_age_seconds"), Optional(0.0));
  EXPECT_EQ(kz_metrics.Matching("iicc_build_info").size(), 1u) << kz_metrics.text();
  EXPECT_THAT(kz_metrics.Value("iicc_build_info", {{"jurisdiction", "KZ"}, {"version", status.version()}}),
              Optional(1.0));
  EXPECT_THAT(kz_metrics.Value("iicc_grpc_requests_total",
                               {{"service", "iicc.v1.MinistryGateway"}, {"method", "Submit"}, {"code", "OK"}}),
              Optional(2.0));
  for (const auto& [name, seconds] : not_after) {
    EXPECT_THAT(kz_metrics.Value("iicc_certificate_expiry_timestamp_seconds", {{"cert", name}}),
                Optional(static_cast<double>(seconds)))
        << name;
  }
  EXPECT_THAT(kz_metrics.Value("iicc_certificate_expiry_timestamp_seconds", {{"cert", "signing"}}),
              Optional(::testing::Gt(static_cast<double>(absl::ToUnixSeconds(now)))));
  EXPECT_THAT(uz_metrics.Value("iicc_records_received_total", {{"record_type", "cargo"}}), Optional(1.0));
  EXPECT_THAT(uz_metrics.Value("iicc_records_received_total", {{"record_type", "enterprise"}}), Optional(1.0));
  EXPECT_THAT(uz_metrics.Value("iicc_records_submitted_total", {{"record_type", "cargo"}}), Optional(0.0));
  EXPECT_THAT(uz_metrics.Value("iicc_inbox_sequence"), Optional(2.0));
  EXPECT_THAT(uz_metrics.Value("iicc_build_info", {{"jurisdiction", "UZ"}}), Optional(1.0));

  // The logs: one line per submit, delivery and receipt of each record,
  // naming the caller, and never a personal value of the records.
  const std::string kz_log = kz_.log();
  const std::string uz_log = uz_.log();
  std::map<std::string, std::string> expected_type = {{cargo_id, "cargo"}, {enterprise_id, "enterprise"}};
  struct Expected {
    const std::string* log;
    const char* event;
    const char* outcome;
    const char* caller;
  };
  for (const Expected& e :
       {Expected{&kz_log, "record.submitted", "queued", "spiffe://kz.iicc/ministry/ministry-client"},
        Expected{&kz_log, "record.delivered", "delivered", "spiffe://uz.iicc/gateway"},
        Expected{&uz_log, "record.received", "accepted", "spiffe://kz.iicc/gateway"}}) {
    SCOPED_TRACE(e.event);
    const std::vector<google::protobuf::Struct> lines = Events(*e.log, e.event);
    ASSERT_EQ(lines.size(), 2u) << *e.log;
    std::set<std::string> ids;
    for (const google::protobuf::Struct& line : lines) {
      const std::string id = FieldOf(line, "record_id");
      ids.insert(id);
      EXPECT_EQ(FieldOf(line, "record_type"), expected_type[id]) << id;
      EXPECT_EQ(FieldOf(line, "outcome"), e.outcome);
      EXPECT_EQ(FieldOf(line, "caller"), e.caller);
      double duration_ms = -1;
      EXPECT_TRUE(absl::SimpleAtod(FieldOf(line, "duration_ms"), &duration_ms) && duration_ms >= 0)
          << FieldOf(line, "duration_ms");
    }
    EXPECT_EQ(ids, (std::set<std::string>{cargo_id, enterprise_id}));
  }
  for (const std::string& value : PersonalValues()) {
    ASSERT_FALSE(value.empty());
    EXPECT_THAT(kz_log, ::testing::Not(HasSubstr(value)));
    EXPECT_THAT(uz_log, ::testing::Not(HasSubstr(value)));
  }
}

TEST_F(OpsTest, PeerDownIsNotALocalReadinessFailure) {
  kz_.StartAndWait();  // UZ is never started: its peer port refuses.
  const HttpAnswer readyz = HttpGet(kz_.admin_port(), "/readyz");
  EXPECT_EQ(readyz.status, 200) << readyz.body;
  EXPECT_EQ(ServingStatusOf(kz_.MinistryChannel()), kServing);
  {
    const Scrape metrics(kz_);
    EXPECT_THAT(metrics.Value("iicc_peer_link_up"), Optional(0.0));
    EXPECT_THAT(metrics.Value("iicc_ready"), Optional(1.0));
  }
  // The forwarder's first attempt may still be under way.
  v1::GatewayStatus status;
  EXPECT_TRUE(Eventually(
      [&] {
        status = StatusOf(kz_);
        return !status.peer().last_error().empty();
      },
      absl::Seconds(10)))
      << status.DebugString();
  EXPECT_FALSE(status.peer().link_up());
  EXPECT_TRUE(status.ready());
  std::cout << "[ link     ] last_error: " << status.peer().last_error() << "\n";

  auto stub = kz_.MinistryStub();
  const std::string id = SubmitOrFail(*stub, "waits", SampleRecord("cargo"));
  ASSERT_FALSE(id.empty());
  v1::RecordStatus record;
  {
    grpc::ClientContext context;
    v1::GetRecordStatusRequest request;
    request.set_record_id(id);
    ASSERT_TRUE(stub->GetRecordStatus(&context, request, &record).ok());
    EXPECT_EQ(record.state(), v1::DELIVERY_STATE_QUEUED);
  }

  // The backlog's age grows with the time between two scrapes.
  const Scrape first(kz_);
  const absl::Time first_at = absl::Now();
  EXPECT_THAT(first.Value("iicc_outbox_depth"), Optional(1.0));
  EXPECT_THAT(first.Value("iicc_ready"), Optional(1.0));
  absl::SleepFor(absl::Milliseconds(1500));  // The interval measured, not a wait for a condition.
  const Scrape second(kz_);
  const double between = absl::ToDoubleSeconds(absl::Now() - first_at);
  const std::optional<double> age_first = first.Value("iicc_oldest_undelivered_age_seconds");
  const std::optional<double> age_second = second.Value("iicc_oldest_undelivered_age_seconds");
  ASSERT_TRUE(age_first.has_value() && age_second.has_value()) << second.text();
  EXPECT_GT(*age_first, 0);
  EXPECT_GE(*age_second - *age_first, 1.4) << *age_first << " then " << *age_second;
  EXPECT_LE(*age_second - *age_first, between + 0.5) << *age_first << " then " << *age_second;
  EXPECT_THAT(second.Value("iicc_outbox_depth"), Optional(1.0));

  status = StatusOf(kz_);
  EXPECT_EQ(status.outbox().depth(), 1);
  EXPECT_GT(status.outbox().oldest_undelivered_age_seconds(), *age_first);
  // The oldest queued record is the one just submitted.
  EXPECT_NEAR(SecondsOf(status.outbox().oldest_accepted_time()), SecondsOf(record.accepted_time()), 0.001);
  EXPECT_FALSE(status.peer().link_up());
  EXPECT_FALSE(status.peer().has_last_delivery_time());
  EXPECT_TRUE(status.ready());
  EXPECT_EQ(HttpGet(kz_.admin_port(), "/readyz").status, 200);
}

TEST_F(OpsTest, UnwritableStoreIsNotReady) {
  kz_.config().mutable_store()->set_max_size_mib(1);
  kz_.StartAndWait();
  ASSERT_EQ(HttpGet(kz_.admin_port(), "/readyz").status, 200);
  auto stub = kz_.MinistryStub();
  int accepted = 0;
  grpc::Status refusal;
  for (int i = 0; i < 200; ++i) {
    const std::string request_id = absl::StrCat("bulky-", i);
    std::string record_id;
    const grpc::Status status = TrySubmit(*stub, request_id, BulkyCargo(request_id), &record_id);
    if (!status.ok()) {
      refusal = status;
      break;
    }
    ++accepted;
  }
  ASSERT_EQ(refusal.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refusal.error_message() << " after " << accepted << " records";
  std::cout << "[ full     ] " << accepted << " bulky records accepted before the first refusal\n";

  // Within a few check intervals (200 ms here), readiness follows.
  HttpAnswer readyz = ReadyzBecomes(kz_, 503);
  EXPECT_THAT(readyz.body, ::testing::StartsWith("not ready:\n"));
  EXPECT_THAT(readyz.body, HasSubstr("store: "));
  EXPECT_THAT(readyz.body, ::testing::Not(HasSubstr("certificates:")));
  EXPECT_THAT(readyz.body, ::testing::Not(HasSubstr("policy:")));
  EXPECT_EQ(ServingStatusOf(kz_.MinistryChannel()), kNotServing);
  EXPECT_EQ(ServingStatusOf(PeerFaceChannel(kz_)), kNotServing);
  const Scrape metrics(kz_);
  EXPECT_THAT(metrics.Value("iicc_ready"), Optional(0.0));
  EXPECT_THAT(metrics.Value("iicc_records_rejected_total", {{"stage", "submit"}, {"reason", "store"}}), Optional(1.0));
  EXPECT_THAT(metrics.Value("iicc_records_submitted_total", {{"record_type", "cargo"}}),
              Optional(static_cast<double>(accepted)));
  EXPECT_THAT(
      metrics.Value("iicc_grpc_requests_total",
                    {{"service", "iicc.v1.MinistryGateway"}, {"method", "Submit"}, {"code", "RESOURCE_EXHAUSTED"}}),
      Optional(1.0));
  const v1::GatewayStatus status = StatusOf(kz_);
  EXPECT_FALSE(status.ready());
  const v1::ReadinessCheck store = CheckNamed(status, "store");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(store.detail().empty());
  EXPECT_TRUE(CheckNamed(status, "policy").ok());
  EXPECT_TRUE(CheckNamed(status, "certificates").ok());
  // Not ready is not dead: liveness holds, and so do reads.
  const HttpAnswer healthz = HttpGet(kz_.admin_port(), "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");
  EXPECT_EQ(ProbeCall(kz_.MinistryChannel()), grpc::StatusCode::NOT_FOUND);
  const std::vector<google::protobuf::Struct> refused = Events(kz_.log(), "record.submitted");
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(FieldOf(refused.back(), "outcome"), "refused: RESOURCE_EXHAUSTED");
  EXPECT_FALSE(Events(kz_.log(), "gateway.not_ready").empty()) << kz_.log();
}

// A certificate file replaced by something that is no certificate (a botched
// renewal) makes the gateway not ready, naming the file, and takes out of
// service only the face that presents it; putting the certificate back
// makes it ready again, without a restart. The signing certificate is read
// at start-up only: a broken file beside the one in use needs a restart,
// which /status says, but does not stop the gateway from signing.
TEST_F(OpsTest, BrokenCertificateFileIsNotReadyUntilRepaired) {
  // The peer face presents its own copy of the certificate, so that the two
  // faces' files can differ.
  const std::string ministry_cert = kz_.config().ministry_face().tls().cert_file();
  const std::string peer_cert = pki_.File("kz", "peer-gateway.crt");
  const std::string peer_key = pki_.File("kz", "peer-gateway.key");
  ASSERT_EQ(RunShell("cp '" + ministry_cert + "' '" + peer_cert + "' && cp '" +
                     kz_.config().ministry_face().tls().key_file() + "' '" + peer_key + "'"),
            0);
  kz_.config().mutable_peer()->mutable_tls()->set_cert_file(peer_cert);
  kz_.config().mutable_peer()->mutable_tls()->set_key_file(peer_key);
  kz_.StartAndWait();
  const std::string good = ReadFileOrEmpty(ministry_cert);
  ASSERT_THAT(good, HasSubstr("BEGIN CERTIFICATE"));
  // Replaced as a renewal script would: write beside it, rename over it.
  auto replace = [&](const std::string& file, const std::string& contents) {
    FILE* out = fopen((file + ".swap").c_str(), "w");
    ASSERT_NE(out, nullptr);
    fwrite(contents.data(), 1, contents.size(), out);
    fclose(out);
    ASSERT_EQ(rename((file + ".swap").c_str(), file.c_str()), 0);
  };
  replace(ministry_cert, "not a certificate\n");

  HttpAnswer readyz = ReadyzBecomes(kz_, 503);
  EXPECT_THAT(readyz.body, ::testing::StartsWith("not ready:\n"));
  EXPECT_THAT(readyz.body, HasSubstr("certificates: ministry_tls " + ministry_cert));
  EXPECT_THAT(readyz.body, ::testing::Not(HasSubstr("store:")));
  // The ministry face is out of service; the link is not.
  EXPECT_EQ(ServingStatusOf(kz_.MinistryChannel()), kNotServing);
  EXPECT_EQ(ServingStatusOf(PeerFaceChannel(kz_)), kServing);
  EXPECT_THAT(Scrape(kz_).Value("iicc_ready"), Optional(0.0));
  v1::GatewayStatus status = StatusOf(kz_);
  EXPECT_FALSE(status.ready());
  EXPECT_FALSE(CheckNamed(status, "certificates").ok());
  EXPECT_TRUE(CheckNamed(status, "store").ok());
  for (const v1::CertificateStatus& certificate : status.certificates()) {
    EXPECT_EQ(certificate.problem().empty(), certificate.name() != "ministry_tls") << certificate.DebugString();
  }

  replace(ministry_cert, good);
  readyz = ReadyzBecomes(kz_, 200);
  EXPECT_EQ(readyz.body, "ready\n");
  EXPECT_EQ(ServingStatusOf(kz_.MinistryChannel()), kServing);
  EXPECT_EQ(ServingStatusOf(PeerFaceChannel(kz_)), kServing);
  EXPECT_THAT(Scrape(kz_).Value("iicc_ready"), Optional(1.0));
  status = StatusOf(kz_);
  EXPECT_TRUE(status.ready());
  EXPECT_TRUE(CheckNamed(status, "certificates").ok());
  // The readiness log follows both changes.
  EXPECT_EQ(Events(kz_.log(), "gateway.not_ready").size(), 1u) << kz_.log();
  EXPECT_EQ(Events(kz_.log(), "gateway.ready").size(), 2u) << kz_.log();

  // A broken signing certificate file: the one in use still signs.
  const std::string signing = kz_.config().signing().cert_file();
  const std::string signing_good = ReadFileOrEmpty(signing);
  replace(signing, "not a certificate\n");
  EXPECT_TRUE(Eventually(
      [&] {
        const v1::GatewayStatus now = StatusOf(kz_);
        for (const v1::CertificateStatus& certificate : now.certificates()) {
          if (certificate.name() == "signing") return certificate.restart_needed();
        }
        return false;
      },
      absl::Seconds(5)));
  readyz = HttpGet(kz_.admin_port(), "/readyz");
  EXPECT_EQ(readyz.status, 200) << readyz.body;
  auto stub = kz_.MinistryStub();
  EXPECT_FALSE(SubmitOrFail(*stub, "signed-anyway", NumberedCargo("signed-anyway")).empty());
  replace(signing, signing_good);
}

TEST_F(OpsTest, SigtermUnderLoadLosesNothing) {
  constexpr int kClients = 4;
  kz_.config().mutable_shutdown_grace()->set_seconds(10);
  kz_.StartAndWait();
  uz_.StartAndWait();
  NumberedCargo("warm-up");  // Its sample is read once, here, not by racing threads.

  struct Client {
    std::vector<std::string> acked;  // Record ids answered QUEUED.
    grpc::Status error;              // The call that ended the client.
    std::string error_request_id;    // Its request id.
    absl::Time error_time;
  };
  std::vector<Client> clients(kClients);
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = kz_.MinistryStub();
      for (int n = 0; !stop.load(); ++n) {
        const std::string request_id = absl::StrCat("sigterm-", c, "-", n);
        std::string record_id;
        const grpc::Status status = TrySubmit(*stub, request_id, NumberedCargo(request_id), &record_id);
        if (!status.ok()) {
          clients[c].error = status;
          clients[c].error_request_id = request_id;
          clients[c].error_time = absl::Now();
          return;
        }
        clients[c].acked.push_back(record_id);
        acked.fetch_add(1);
      }
    });
  }
  // About a second of load, and at least some of it acknowledged.
  const absl::Time load_start = absl::Now();
  EXPECT_TRUE(
      Eventually([&] { return absl::Now() - load_start >= absl::Seconds(1) && acked.load() > 0; }, absl::Seconds(20)));
  const int acked_before = acked.load();
  const absl::Time sigterm_at = absl::Now();
  kz_.Signal(SIGTERM);
  const int exit_code = kz_.WaitExit(absl::Seconds(10 + 5));
  const absl::Duration stop_time = absl::Now() - sigterm_at;
  stop = true;
  for (std::thread& thread : threads) thread.join();
  std::cout << "[ sigterm  ] " << acked_before << " acknowledged before SIGTERM, " << acked.load() << " in all; exit "
            << exit_code << " after " << absl::FormatDuration(stop_time) << "\n";
  ASSERT_EQ(exit_code, 0) << kz_.log();
  EXPECT_LT(stop_time, absl::Seconds(10) + absl::Seconds(1));

  // Each client ran until the stop and ended on an error its caller retries
  // with the same request_id. UNAVAILABLE is what docs/operations.md
  // promises; gRPC 1.51 answers CANCELLED instead for a call that reached the
  // server but no handler yet when Shutdown began (grpc/grpc#41785), so both
  // are taken here, and the retry below proves either one safe.
  std::vector<std::string> stored_before_retry(kClients);
  for (int c = 0; c < kClients; ++c) {
    SCOPED_TRACE(absl::StrCat("client ", c));
    EXPECT_FALSE(clients[c].acked.empty());
    // Whether the gateway stored the record whose answer was the error.
    stored_before_retry[c] =
        ShellOutput("sqlite3 '" + kz_.db_path() + "' \"SELECT record_id FROM idempotency WHERE request_id = '" +
                        clients[c].error_request_id + "'\"",
                    dir_);
    const std::string what =
        absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(clients[c].error.error_code())), ": ",
                     clients[c].error.error_message(), " (request ", clients[c].error_request_id, ", ",
                     stored_before_retry[c].empty() ? "not stored" : "stored as record " + stored_before_retry[c], ", ",
                     absl::FormatDuration(clients[c].error_time - sigterm_at), " after the SIGTERM)");
    std::cout << "[ sigterm  ] client " << c << " ended on " << what << "\n";
    EXPECT_THAT(clients[c].error.error_code(),
                ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::CANCELLED))
        << what;
    EXPECT_GE(clients[c].error_time, sigterm_at) << "failed before the SIGTERM";
  }

  // The log tells the stop in order.
  std::vector<std::string> events;
  for (const google::protobuf::Struct& line : LogLines(kz_.log())) events.push_back(FieldOf(line, "event"));
  auto position = [&](const std::string& event) {
    return std::find(events.begin(), events.end(), event) - events.begin();
  };
  const auto draining = position("gateway.draining");
  const auto stopped = position("gateway.stopped");
  const auto exited = position("gateway.exited");
  ASSERT_LT(exited, static_cast<std::ptrdiff_t>(events.size())) << kz_.log();
  EXPECT_LT(draining, stopped);
  EXPECT_LT(stopped, exited);
  ASSERT_EQ(Events(kz_.log(), "gateway.draining").size(), 1u);
  EXPECT_EQ(FieldOf(Events(kz_.log(), "gateway.draining")[0], "grace_ms"), "10000");

  // Every acknowledged record was committed before its answer.
  std::vector<std::string> all_acked;
  for (const Client& client : clients) all_acked.insert(all_acked.end(), client.acked.begin(), client.acked.end());
  const std::set<std::string> acked_set(all_acked.begin(), all_acked.end());
  ASSERT_EQ(acked_set.size(), all_acked.size()) << "a record id answered twice";
  const std::map<std::string, int> outbox = OutboxOf(kz_.db_path(), dir_);
  size_t delivered_at_stop = 0;
  for (const std::string& id : all_acked) {
    auto it = outbox.find(id);
    ASSERT_NE(it, outbox.end()) << id << " acknowledged but not in the stopped gateway's store";
    delivered_at_stop += it->second == 2;
  }
  std::cout << "[ sigterm  ] " << delivered_at_stop << " of " << all_acked.size()
            << " acknowledged records delivered before the stop\n";

  // Back on the same ports and data: each one is known and gets delivered,
  // and the peer holds it exactly once.
  kz_.StartAndWait();
  auto kz = kz_.MinistryStub();
  // Each client retries the call that failed, as a ministry system does: a
  // record stored without its answer is answered again, never stored twice.
  std::vector<std::string> retried;
  for (int c = 0; c < kClients; ++c) {
    const std::string& request_id = clients[c].error_request_id;
    std::string record_id;
    const grpc::Status status = TrySubmit(*kz, request_id, NumberedCargo(request_id), &record_id);
    ASSERT_TRUE(status.ok()) << request_id << ": " << status.error_code() << ": " << status.error_message();
    if (!stored_before_retry[c].empty()) {
      EXPECT_EQ(record_id, stored_before_retry[c]) << request_id;
    }
    EXPECT_EQ(acked_set.count(record_id), 0u) << request_id << " answered with an earlier request's record";
    retried.push_back(record_id);
  }
  all_acked.insert(all_acked.end(), retried.begin(), retried.end());
  for (const std::string& id : all_acked) {
    const v1::RecordStatus status = WaitForOutcome(*kz, id, absl::Seconds(60));
    ASSERT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED) << id;
  }
  const std::vector<v1::InboundRecord> inbound = ListAllInbound(*uz_.MinistryStub());
  std::map<std::string, int> times;
  for (const v1::InboundRecord& record : inbound) ++times[record.record_id()];
  for (const std::string& id : all_acked) EXPECT_EQ(times[id], 1) << id;
  for (const auto& [id, count] : times) EXPECT_EQ(count, 1) << id << " received more than once";
  for (size_t i = 0; i < inbound.size(); ++i) EXPECT_EQ(inbound[i].sequence(), static_cast<int64_t>(i + 1));
  // Only what KZ stored reached UZ (a submit cut by the stop may have been
  // stored without its answer, and is delivered like the others).
  const std::set<std::string> retried_set(retried.begin(), retried.end());
  for (const auto& [id, count] : times) {
    EXPECT_TRUE(outbox.count(id) == 1 || retried_set.count(id) == 1) << id << " was never stored by KZ";
  }
}

// SIGTERM while a delivery window waits for receipts that never come (the
// peer is frozen): the gateway answers "not ready" for the whole drain, waits
// its grace, exits 0, and the unanswered records are delivered after the
// restart, once.
TEST_F(OpsTest, DrainAnswersNotReadyAndKeepsTheUnansweredWindowQueued) {
  constexpr int kGraceSeconds = 3;
  kz_.config().mutable_shutdown_grace()->set_seconds(kGraceSeconds);
  kz_.StartAndWait();
  uz_.StartAndWait();
  ASSERT_TRUE(Eventually([&] { return StatusOf(kz_).peer().link_up(); }, absl::Seconds(10)));
  uz_.Signal(SIGSTOP);
  auto kz = kz_.MinistryStub();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitOrFail(*kz, absl::StrCat("window-", i), NumberedCargo("window")));
  // Nothing marks "sent": the envelopes go out on the live stream within
  // milliseconds (the frozen peer's socket buffers take them).
  absl::SleepFor(absl::Milliseconds(500));

  const absl::Time sigterm_at = absl::Now();
  kz_.Signal(SIGTERM);
  HttpAnswer readyz;
  EXPECT_TRUE(Eventually(
      [&] {
        readyz = HttpGet(kz_.admin_port(), "/readyz");
        return readyz.status == 503;
      },
      absl::Seconds(2)))
      << readyz.status << " " << readyz.body;
  EXPECT_EQ(readyz.body, "not ready: shutting down\n");
  EXPECT_LT(absl::Now() - sigterm_at, absl::Seconds(kGraceSeconds)) << "the drain was over before it was seen";
  EXPECT_EQ(HttpGet(kz_.admin_port(), "/healthz").status, 200);
  EXPECT_FALSE(StatusOf(kz_).ready());
  EXPECT_THAT(Scrape(kz_).Value("iicc_ready"), Optional(0.0));
  // The ministry face takes no new call.
  std::string late_id;
  const grpc::Status late = TrySubmit(*kz_.MinistryStub(), "late", NumberedCargo("late"), &late_id);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAVAILABLE) << late.error_message();

  const int exit_code = kz_.WaitExit(absl::Seconds(kGraceSeconds + 5));
  const absl::Duration stop_time = absl::Now() - sigterm_at;
  std::cout << "[ drain    ] exit " << exit_code << " after " << absl::FormatDuration(stop_time) << "\n";
  ASSERT_EQ(exit_code, 0) << kz_.log();
  // It waited for the receipts until the grace ran out, not longer.
  EXPECT_GE(stop_time, absl::Seconds(kGraceSeconds) - absl::Milliseconds(300));
  EXPECT_LT(stop_time, absl::Seconds(kGraceSeconds) + absl::Seconds(2));
  const std::map<std::string, int> outbox = OutboxOf(kz_.db_path(), dir_);
  for (const std::string& id : ids) {
    auto it = outbox.find(id);
    ASSERT_NE(it, outbox.end()) << id;
    EXPECT_EQ(it->second, 1) << id << " is not queued, but its receipt never came";
  }
  EXPECT_EQ(outbox.count(late_id), 0u);

  uz_.Signal(SIGCONT);
  kz_.StartAndWait();
  auto restarted = kz_.MinistryStub();
  for (const std::string& id : ids) {
    EXPECT_EQ(WaitForOutcome(*restarted, id).state(), v1::DELIVERY_STATE_DELIVERED) << id;
  }
  EXPECT_THAT(RecordIds(ListAllInbound(*uz_.MinistryStub())), ::testing::ElementsAreArray(ids));
}

// The SHA-256 fingerprint openssl gives `cert_file`.
std::string FingerprintOf(const std::string& cert_file, const TempDir& dir) {
  return ShellOutput("openssl x509 -in '" + cert_file + "' -noout -fingerprint -sha256", dir);
}

// The SHA-256 fingerprint of the certificate a new TLS handshake with `port`
// gets, presenting `side`/`name`; "" if the handshake fails.
std::string ServedFingerprint(int port, const TestPki& pki, const std::string& ca_side, const std::string& side,
                              const std::string& name, const TempDir& dir) {
  return ShellOutput(
      absl::StrCat("openssl s_client -connect 127.0.0.1:", port, " -cert '", pki.File(side, name + ".crt"), "' -key '",
                   pki.File(side, name + ".key"), "' -CAfile '", pki.File(ca_side, "ca.crt"),
                   "' </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"),
      dir);
}

TEST_F(OpsTest, ReplacedCertificateServesTheNextHandshake) {
  // The test config gives both faces the same certificate files.
  kz_.config().mutable_ministry_face()->mutable_tls()->mutable_reload_interval()->set_seconds(1);
  kz_.config().mutable_peer()->mutable_tls()->mutable_reload_interval()->set_seconds(1);
  kz_.StartAndWait();
  const std::string cert = pki_.File("kz", "gateway.crt");
  const std::string key = pki_.File("kz", "gateway.key");
  const std::string old_fingerprint = FingerprintOf(cert, dir_);
  ASSERT_THAT(old_fingerprint, ::testing::StartsWith("sha256 Fingerprint="));
  EXPECT_EQ(ServedFingerprint(kz_.ministry_port(), pki_, "kz", "kz", "ministry-client", dir_), old_fingerprint);
  EXPECT_EQ(ServedFingerprint(kz_.peer_port(), pki_, "kz", "uz", "gateway", dir_), old_fingerprint);
  const std::shared_ptr<grpc::Channel> before = kz_.MinistryChannel();
  ASSERT_EQ(ProbeCall(before), grpc::StatusCode::NOT_FOUND);

  // A new certificate for the same identity, put in place atomically: each
  // file is renamed over the old one, key first.
  pki_.Issue("kz", "gateway-next", "spiffe://kz.iicc/gateway", "both");
  const std::string new_fingerprint = FingerprintOf(pki_.File("kz", "gateway-next.crt"), dir_);
  ASSERT_NE(new_fingerprint, old_fingerprint);
  ASSERT_EQ(RunShell("cp '" + pki_.File("kz", "gateway-next.key") + "' '" + key + ".swap' && cp '" +
                     pki_.File("kz", "gateway-next.crt") + "' '" + cert + ".swap'"),
            0);
  const absl::Time swapped_at = absl::Now();
  ASSERT_EQ(rename((key + ".swap").c_str(), key.c_str()), 0);
  ASSERT_EQ(rename((cert + ".swap").c_str(), cert.c_str()), 0);

  std::string served;
  EXPECT_TRUE(Eventually(
      [&] {
        served = ServedFingerprint(kz_.ministry_port(), pki_, "kz", "kz", "ministry-client", dir_);
        return served == new_fingerprint;
      },
      absl::Seconds(15)))
      << "ministry face still serves " << served;
  std::cout << "[ rotate   ] ministry face serves the new certificate "
            << absl::FormatDuration(absl::Trunc(absl::Now() - swapped_at, absl::Milliseconds(1)))
            << " after the swap\n";
  EXPECT_TRUE(Eventually(
      [&] {
        served = ServedFingerprint(kz_.peer_port(), pki_, "kz", "uz", "gateway", dir_);
        return served == new_fingerprint;
      },
      absl::Seconds(15)))
      << "peer face still serves " << served;

  // The connection made before the swap still works, and so do new ones.
  EXPECT_EQ(ProbeCall(before), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ProbeCall(kz_.MinistryChannel()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(HttpGet(kz_.admin_port(), "/readyz").status, 200);
  const v1::GatewayStatus status = StatusOf(kz_);
  EXPECT_TRUE(status.ready());
  for (const v1::CertificateStatus& certificate : status.certificates()) {
    EXPECT_EQ(certificate.problem(), "") << certificate.name();
  }
  EXPECT_TRUE(kz_.Running()) << kz_.log();
}

// What a load balancer keeps open, a grpc.health.v1 Watch on each face, sees
// NOT_SERVING as soon as the stop begins, and does not hold the stop: like
// the subscriptions and the peer's streams, it ends with the drain rather than
// at the end of shutdown_grace.
TEST_F(OpsTest, HealthWatchSeesNotServingAtOnceAndDoesNotHoldTheStop) {
  constexpr int kGraceSeconds = 6;
  kz_.config().mutable_shutdown_grace()->set_seconds(kGraceSeconds);
  kz_.StartAndWait();
  HealthWatch ministry(kz_.MinistryChannel());
  HealthWatch peer(PeerFaceChannel(kz_));
  ASSERT_TRUE(ministry.WaitFor(kServing, absl::Seconds(5))) << ::testing::PrintToString(ministry.statuses());
  ASSERT_TRUE(peer.WaitFor(kServing, absl::Seconds(5))) << ::testing::PrintToString(peer.statuses());

  const absl::Time sigterm_at = absl::Now();
  kz_.Signal(SIGTERM);
  EXPECT_TRUE(ministry.WaitFor(kNotServing, absl::Seconds(1))) << ::testing::PrintToString(ministry.statuses());
  EXPECT_TRUE(peer.WaitFor(kNotServing, absl::Seconds(1))) << ::testing::PrintToString(peer.statuses());
  const int exit_code = kz_.WaitExit(absl::Seconds(kGraceSeconds + 5));
  const absl::Duration stop_time = absl::Now() - sigterm_at;
  std::cout << "[ watch    ] exit " << exit_code << " after " << absl::FormatDuration(stop_time) << "\n";
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(stop_time, absl::Seconds(kGraceSeconds / 2)) << "nothing was in flight but the health watches";
  EXPECT_TRUE(
      Eventually([&] { return ministry.ended_at().has_value() && peer.ended_at().has_value(); }, absl::Seconds(5)));
}

// A ministry client's open streams end with the stop instead of holding it
// for shutdown_grace: a subscription and a SubmitStream that is idle between
// two records both end UNAVAILABLE (resume or retry later), and what the
// stream had acknowledged stays stored.
TEST_F(OpsTest, IdleMinistryStreamsDoNotHoldTheStop) {
  constexpr int kGraceSeconds = 6;
  kz_.config().mutable_shutdown_grace()->set_seconds(kGraceSeconds);
  kz_.StartAndWait();
  auto stub = kz_.MinistryStub();

  grpc::ClientContext submit_context;
  auto submits = stub->SubmitStream(&submit_context);
  ASSERT_TRUE(submits->Write(MakeSubmit("stream-0", NumberedCargo("stream-0"))));
  v1::SubmitResponse acknowledged;
  ASSERT_TRUE(submits->Read(&acknowledged));
  ASSERT_EQ(acknowledged.state(), v1::DELIVERY_STATE_QUEUED) << acknowledged.DebugString();

  // The subscriber waits in Read, as a real one does.
  grpc::ClientContext subscribe_context;
  auto subscription = stub->Subscribe(&subscribe_context, v1::SubscribeRequest());
  // Subscribed for real: a call gRPC has not yet handed to the service when
  // the stop begins is cancelled by gRPC itself (grpc/grpc#41785).
  subscription->WaitForInitialMetadata();
  absl::Notification subscription_ended;
  grpc::Status subscription_status;
  std::thread subscriber([&] {
    v1::InboundRecord record;
    while (subscription->Read(&record)) {
    }
    subscription_status = subscription->Finish();
    subscription_ended.Notify();
  });
  absl::Notification submits_ended;
  grpc::Status submits_status;
  std::thread submitter([&] {
    v1::SubmitResponse response;
    while (submits->Read(&response)) {
    }
    submits_status = submits->Finish();
    submits_ended.Notify();
  });

  const absl::Time sigterm_at = absl::Now();
  kz_.Signal(SIGTERM);
  const int exit_code = kz_.WaitExit(absl::Seconds(kGraceSeconds + 5));
  const absl::Duration stop_time = absl::Now() - sigterm_at;
  std::cout << "[ streams  ] exit " << exit_code << " after " << absl::FormatDuration(stop_time) << "\n";
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(stop_time, absl::Seconds(kGraceSeconds / 2)) << "nothing was in flight but two idle streams";
  EXPECT_TRUE(subscription_ended.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(submits_ended.WaitForNotificationWithTimeout(absl::Seconds(5)));
  subscriber.join();
  submitter.join();
  EXPECT_EQ(subscription_status.error_code(), grpc::StatusCode::UNAVAILABLE) << subscription_status.error_message();
  EXPECT_EQ(submits_status.error_code(), grpc::StatusCode::UNAVAILABLE) << submits_status.error_message();
  std::cout << "[ streams  ] subscription: " << subscription_status.error_message()
            << "; submit stream: " << submits_status.error_message() << "\n";
  const std::map<std::string, int> outbox = OutboxOf(kz_.db_path(), dir_);
  EXPECT_EQ(outbox.count(acknowledged.record_id()), 1u) << acknowledged.record_id();
}

}  // namespace
}  // namespace iicc::testing
