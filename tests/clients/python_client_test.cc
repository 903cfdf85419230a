// clients/python/iicc_client.py against real gateways: the contract works
// from another implementation (Python's gRPC and protobuf runtimes, stubs
// generated from proto/ by protoc) and another language. Everything the test
// checks, it reads from the client's output, as an integrator would.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "iicc/v1/ministry_gateway.pb.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kUuidV7[] = "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

// One run of the Python client (or of IICC_PYTHON).
struct ClientRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Parses one line of the client's output, failing the test if it is not a
// `Message` in protobuf JSON.
template <typename Message>
Message Parse(const std::string& json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.message() << " in: " << json;
  return message;
}

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n', absl::SkipEmpty()); }

class PythonClientTest : public ::testing::Test {
 protected:
  PythonClientTest()
      : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}

  void SetUp() override {
    // Fails (never skips) where Debian's python3-grpcio or the stubs are
    // missing: CI installs the one and builds the other.
    const ClientRun probe = Python("-c 'import grpc, iicc.v1.ministry_gateway_pb2_grpc'");
    ASSERT_EQ(probe.code, 0) << IICC_PYTHON
                             << " cannot import grpc or the generated stubs (install python3-grpcio with "
                                "scripts/setup.sh, build the iicc_python_stubs target): "
                             << probe.err;
  }

  void TearDown() override { StopTogether({&kz_, &uz_}); }

  // `IICC_PYTHON args` from the source root, with the stubs and the client
  // on PYTHONPATH and `env` ("NAME=value ...") in front. No bytecode cache:
  // the test leaves no __pycache__ in the source tree.
  ClientRun Python(const std::string& args, const std::string& env = "") {
    ClientRun run;
    run.code = RunShell(absl::StrCat("cd '", SourceDir(), "' && ", env, " PYTHONDONTWRITEBYTECODE=1 PYTHONPATH='",
                                     IICC_PYTHON_STUBS_DIR, ":", SourceDir(), "/clients/python' '", IICC_PYTHON, "' ",
                                     args, " >'", dir_.File("out"), "' 2>'", dir_.File("err"), "'"));
    run.out = ReadFileOrEmpty(dir_.File("out"));
    run.err = ReadFileOrEmpty(dir_.File("err"));
    return run;
  }

  // The client with its connection to `gateway`'s ministry face, as
  // ministry-client, in the environment (as a deployment would set it).
  ClientRun Client(const GatewayProcess& gateway, const std::string& args) {
    const std::string& side = gateway.side();
    return Python("clients/python/iicc_client.py " + args,
                  absl::StrCat("IICC_TARGET=127.0.0.1:", gateway.ministry_port(), " IICC_CA='",
                               pki_.File(side, "ca.crt"), "' IICC_CERT='", pki_.File(side, "ministry-client.crt"),
                               "' IICC_KEY='", pki_.File(side, "ministry-client.key"), "'"));
  }

  // Submits `file` to KZ with the Python client; its record_id.
  std::string SubmitToKz(const std::string& file) {
    const ClientRun run = Client(kz_, "submit " + file);
    EXPECT_EQ(run.code, 0) << run.err;
    return Parse<v1::SubmitResponse>(run.out).record_id();
  }

  // Waits with `status --wait` until KZ has UZ's verdict on `record_id`.
  v1::RecordStatus StatusFromKz(const std::string& record_id) {
    const ClientRun run = Client(kz_, "status " + record_id + " --wait 30");
    EXPECT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(Lines(run.out).size(), 1u) << run.out;
    return Parse<v1::RecordStatus>(run.out);
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
};

TEST_F(PythonClientTest, SubmitsFollowsTheStatusAndReceivesThePseudonymisedRecord) {
  kz_.StartAndWait();
  uz_.StartAndWait();

  const ClientRun submitted = Client(kz_, "submit clients/examples/cargo.json");
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  ASSERT_EQ(Lines(submitted.out).size(), 1u) << submitted.out;
  const auto response = Parse<v1::SubmitResponse>(submitted.out);
  EXPECT_THAT(response.record_id(), MatchesRegex(kUuidV7));
  EXPECT_EQ(response.state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_THAT(response.request_id(), MatchesRegex("sha256-[0-9a-f]{32}"));
  // Proto field names, compact: what docs/integration.md quotes.
  EXPECT_THAT(submitted.out, HasSubstr("\"record_id\":\""));

  const v1::RecordStatus status = StatusFromKz(response.record_id());
  EXPECT_EQ(status.record_id(), response.record_id());
  ASSERT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED) << status.ShortDebugString();
  EXPECT_FALSE(status.receipt().header().empty());

  // UZ's ministry follows its inbox from an empty cursor file.
  const std::string cursor = dir_.File("uz.cursor");
  const ClientRun followed = Client(uz_, "subscribe --follow --max 1 --cursor-file '" + cursor + "'");
  ASSERT_EQ(followed.code, 0) << followed.err;
  ASSERT_EQ(Lines(followed.out).size(), 1u) << followed.out;
  const auto inbound = Parse<v1::InboundRecord>(followed.out);
  EXPECT_EQ(inbound.record_id(), response.record_id());
  EXPECT_EQ(inbound.origin(), v1::JURISDICTION_KZ);
  EXPECT_THAT(inbound.record().cargo().driver().full_name(), MatchesRegex("ps:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{43}"));
  EXPECT_THAT(followed.out, Not(HasSubstr("Aidos")));
  EXPECT_EQ(inbound.record().cargo().vehicle().plate(), "123ABC02");  // Kept in clear.
  EXPECT_EQ(ReadFileOrEmpty(cursor), absl::StrCat(inbound.sequence(), "\n"));
  EXPECT_FALSE(std::filesystem::exists(cursor + ".tmp"));
}

TEST_F(PythonClientTest, ResubmittingIsIdempotentAndTheCursorResumes) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  const std::string cargo_id = SubmitToKz("clients/examples/cargo.json");
  ASSERT_THAT(cargo_id, MatchesRegex(kUuidV7));

  // The same file again: the content-derived request_id makes it the same
  // request, answered with the first record_id and no second record.
  EXPECT_EQ(SubmitToKz("clients/examples/cargo.json"), cargo_id);
  // iicc-cli derives the same request_id from the same record (C++ and
  // Python serialize it deterministically to the same bytes).
  ASSERT_EQ(RunShell(absl::StrCat("cd '", SourceDir(), "' && '", BinDir(),
                                  "/iicc-cli' --target 127.0.0.1:", kz_.ministry_port(), " --ca '",
                                  pki_.File("kz", "ca.crt"), "' --cert '", pki_.File("kz", "ministry-client.crt"),
                                  "' --key '", pki_.File("kz", "ministry-client.key"),
                                  "' submit clients/examples/cargo.json >'", dir_.File("cli.out"), "'")),
            0);
  EXPECT_EQ(Parse<v1::SubmitResponse>(ReadFileOrEmpty(dir_.File("cli.out"))).record_id(), cargo_id);

  // The same request_id for another record: ALREADY_EXISTS naming the first.
  const ClientRun reused =
      Client(kz_, "submit clients/examples/enterprise.json --request-id " +
                      Parse<v1::SubmitResponse>(ReadFileOrEmpty(dir_.File("cli.out"))).request_id());
  EXPECT_EQ(reused.code, 1);
  EXPECT_THAT(reused.err, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(reused.err, HasSubstr(cargo_id));
  EXPECT_THAT(reused.out, IsEmpty());

  ASSERT_EQ(StatusFromKz(cargo_id).state(), v1::DELIVERY_STATE_DELIVERED);
  const std::string cursor = dir_.File("uz.cursor");
  ClientRun first = Client(uz_, "subscribe --follow --max 1 --cursor-file '" + cursor + "'");
  ASSERT_EQ(first.code, 0) << first.err;
  const auto cargo = Parse<v1::InboundRecord>(first.out);
  ASSERT_EQ(cargo.record_id(), cargo_id);

  const std::string enterprise_id = SubmitToKz("clients/examples/enterprise.json");
  ASSERT_EQ(StatusFromKz(enterprise_id).state(), v1::DELIVERY_STATE_DELIVERED);
  // From the saved cursor: the newer record only, then (without --follow)
  // nothing more: the idempotent resubmits above made no second record.
  const ClientRun resumed = Client(uz_, "subscribe --cursor-file '" + cursor + "'");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  ASSERT_EQ(Lines(resumed.out).size(), 1u) << resumed.out;
  const auto enterprise = Parse<v1::InboundRecord>(resumed.out);
  EXPECT_EQ(enterprise.record_id(), enterprise_id);
  EXPECT_GT(enterprise.sequence(), cargo.sequence());
  EXPECT_EQ(ReadFileOrEmpty(cursor), absl::StrCat(enterprise.sequence(), "\n"));
  const ClientRun caught_up = Client(uz_, "subscribe --cursor-file '" + cursor + "'");
  EXPECT_EQ(caught_up.code, 0) << caught_up.err;
  EXPECT_THAT(caught_up.out, IsEmpty());

  // One page of one record, and the token to the next.
  const ClientRun listed = Client(uz_, "list --page-size 1");
  ASSERT_EQ(listed.code, 0) << listed.err;
  const auto page = Parse<v1::ListInboundRecordsResponse>(listed.out);
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.records(0).record_id(), cargo_id);
  EXPECT_FALSE(page.next_page_token().empty());
}

TEST_F(PythonClientTest, FollowingResubscribesFromItsCursorAfterTheGatewayRestarts) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  const std::string cursor = dir_.File("uz.cursor");
  const std::string out = dir_.File("follow.out");
  const std::string rc = dir_.File("follow.rc");
  // In the background, as a ministry's follower runs: two records, then stop.
  RunShell(absl::StrCat("cd '", SourceDir(), "' && (IICC_TARGET=127.0.0.1:", uz_.ministry_port(), " IICC_CA='",
                        pki_.File("uz", "ca.crt"), "' IICC_CERT='", pki_.File("uz", "ministry-client.crt"),
                        "' IICC_KEY='", pki_.File("uz", "ministry-client.key"),
                        "' PYTHONDONTWRITEBYTECODE=1 PYTHONPATH='", IICC_PYTHON_STUBS_DIR, "' timeout 90 '",
                        IICC_PYTHON, "' clients/python/iicc_client.py subscribe --follow --max 2 --cursor-file '",
                        cursor, "' >'", out, "' 2>'", dir_.File("follow.err"), "'; echo $? >'", rc, "') &"));

  const std::string cargo_id = SubmitToKz("clients/examples/cargo.json");
  for (int i = 0; i < 300 && ReadFileOrEmpty(cursor).empty(); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_FALSE(ReadFileOrEmpty(cursor).empty()) << ReadFileOrEmpty(dir_.File("follow.err"));

  // The stream ends with UNAVAILABLE; the follower comes back on its own.
  ASSERT_EQ(uz_.Terminate(), 0);
  uz_.StartAndWait();
  const std::string enterprise_id = SubmitToKz("clients/examples/enterprise.json");
  for (int i = 0; i < 600 && ReadFileOrEmpty(rc).empty(); ++i) absl::SleepFor(absl::Milliseconds(100));
  const std::string err = ReadFileOrEmpty(dir_.File("follow.err"));
  ASSERT_EQ(ReadFileOrEmpty(rc), "0\n") << err;
  const std::vector<std::string> lines = Lines(ReadFileOrEmpty(out));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Parse<v1::InboundRecord>(lines[0]).record_id(), cargo_id);
  EXPECT_EQ(Parse<v1::InboundRecord>(lines[1]).record_id(), enterprise_id);
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE: resubscribing after"));
}

TEST_F(PythonClientTest, AnInvalidRecordIsRefusedNamingTheFieldPath) {
  kz_.StartAndWait();
  std::string record = ReadFileOrEmpty(SourceDir() + "/clients/examples/cargo.json");
  record.replace(record.find("\"100190\""), 8, "\"12\"");
  RunShell("cat > '" + dir_.File("bad.json") + "' <<'EOF'\n" + record + "\nEOF\n");

  const ClientRun run = Client(kz_, "submit '" + dir_.File("bad.json") + "'");
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("record.cargo.goods[0].hs6"));
  // The violations, read from the iicc-error-bin trailer as data.
  EXPECT_THAT(run.err, ContainsRegex("\n\\S+:   record\\.cargo\\.goods\\[0\\]\\.hs6: "));
  EXPECT_THAT(run.err, Not(HasSubstr("Aidos")));
  EXPECT_THAT(run.out, IsEmpty());
}

TEST_F(PythonClientTest, ExitCodesForBadInputAndAnUnreachableGateway) {
  // Nothing listens on a reserved port: every attempt is UNAVAILABLE.
  ReservedPort nobody;
  const std::string connection =
      absl::StrCat("--target ", nobody.address(), " --ca '", pki_.File("kz", "ca.crt"), "' --cert '",
                   pki_.File("kz", "ministry-client.crt"), "' --key '", pki_.File("kz", "ministry-client.key"), "' ");
  const ClientRun unreachable =
      Python("clients/python/iicc_client.py " + connection + "submit clients/examples/cargo.json --attempts 2");
  EXPECT_EQ(unreachable.code, 3);
  EXPECT_THAT(unreachable.err, HasSubstr("UNAVAILABLE: retrying"));                    // Retried once...
  EXPECT_THAT(unreachable.err, ContainsRegex("iicc_client: UNAVAILABLE: [^\n]*\n$"));  // ...then gave up.
  EXPECT_THAT(unreachable.out, IsEmpty());

  const ClientRun missing_file = Python("clients/python/iicc_client.py " + connection + "submit /nonexistent.json");
  EXPECT_EQ(missing_file.code, 2);
  EXPECT_THAT(missing_file.err, HasSubstr("/nonexistent.json"));
  const ClientRun no_target =
      Python("clients/python/iicc_client.py status 01890a5d-ac96-774b-bcce-b302099a8057", "env -u IICC_TARGET");
  EXPECT_EQ(no_target.code, 2);
  EXPECT_THAT(no_target.err, HasSubstr("--target"));
  RunShell("echo not-a-number > '" + dir_.File("bad.cursor") + "'");
  const ClientRun bad_cursor = Python("clients/python/iicc_client.py " + connection + "subscribe --cursor-file '" +
                                      dir_.File("bad.cursor") + "'");
  EXPECT_EQ(bad_cursor.code, 2);

  // A record that is not JSON of the contract is refused before anything is
  // sent, naming the place and never quoting the file's personal data.
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {R"({"cargo": {"goods": [{"packages": "Aidos Nurlanov 880101300123"}]}})",
       "goods.packages: a value of the wrong type"},
      {R"({"cargo": {"direction": "Aidos Nurlanov 880101300123"}})", "direction: a value of the wrong type"},
      {R"({"cargo": {"driver": {"full_name": "Aidos Nurlanov 880101300123")", "not JSON: "},
      {R"({"request_id": "r1", "record": {"cargo": {"consignmentid": "X"}}})", "unknown field consignmentid"},
  };
  for (const auto& [json, says] : malformed) {
    RunShell("cat > '" + dir_.File("bad.json") + "' <<'EOF'\n" + json + "\nEOF\n");
    const ClientRun run =
        Python("clients/python/iicc_client.py " + connection + "submit '" + dir_.File("bad.json") + "'");
    EXPECT_EQ(run.code, 2) << json;
    EXPECT_THAT(run.err, HasSubstr(says)) << json;
    EXPECT_THAT(run.err, Not(HasSubstr("Aidos"))) << json;
    EXPECT_THAT(run.err, Not(HasSubstr("880101300123"))) << json;
  }
}

}  // namespace
}  // namespace iicc::testing
