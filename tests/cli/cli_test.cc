// iicc-cli as a user runs it: the real binary, against a real gateway where
// it needs one.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/common/proto_time.h"
#include "gateway/proof/batch_signature.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "iicc/v1/audit.pb.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs iicc-cli with `args`; stdout to `out`, stderr to `err`. Returns the
// exit code.
int Cli(const TempDir& dir, const std::string& args, std::string* out, std::string* err = nullptr) {
  const int code = RunShell(absl::StrCat("cd '", SourceDir(), "' && '", BinDir(), "/iicc-cli' ", args, " >'",
                                         dir.File("out"), "' 2>'", dir.File("err"), "'"));
  *out = ReadFileOrEmpty(dir.File("out"));
  if (err != nullptr) *err = ReadFileOrEmpty(dir.File("err"));
  return code;
}

// Parses `json` as `Message`, failing the test if it does not parse.
template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.message() << " in " << json;
  return message;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.flush()) << path;
}

// iicc-cli's connection flags for `gateway`'s ministry face, as its side's
// ministry-client, with a trailing space.
std::string ConnectionFlags(const TestPki& pki, const GatewayProcess& gateway) {
  const std::string& side = gateway.side();
  return absl::StrCat("--target 127.0.0.1:", gateway.ministry_port(), " --ca '", pki.File(side, "ca.crt"), "' --cert '",
                      pki.File(side, "ministry-client.crt"), "' --key '", pki.File(side, "ministry-client.key"), "' ");
}

// `message` as one line of JSON (protobuf's JSON mapping).
std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

TEST(CliPolicyTest, ShowsTheRecordAfterTheOutboundPolicyAndTheRulesThatActed) {
  TempDir dir;
  RunShell("head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > '" + dir.File("key") + "'");
  std::string out, err;
  ASSERT_EQ(Cli(dir,
                "policy test --policy gateway/config/kz.policy.textproto --record clients/examples/cargo.json --key '" +
                    dir.File("key") + "'",
                &out, &err),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"verdict\":\"pass\""));
  EXPECT_THAT(out, ::testing::ContainsRegex("\"full_name\":\"ps:kz-dev:[A-Za-z0-9_-]{43}\""));
  EXPECT_THAT(out, Not(HasSubstr("Aidos")));              // The driver's name does not leave.
  EXPECT_THAT(out, Not(HasSubstr("birth_date\":{")));     // Dropped.
  EXPECT_THAT(out, HasSubstr("\"plate\":\"123ABC02\""));  // Kept: checkpoint control.
  EXPECT_THAT(out, HasSubstr("{\"field\":\"cargo.driver.full_name\",\"action\":\"pseudonymise\",\"line\":"));
  EXPECT_THAT(out, HasSubstr("{\"field\":\"cargo.driver.address\",\"action\":\"drop\""));
}

TEST(CliPolicyTest, InboundRefusalExitsOneWithTheReason) {
  TempDir dir;
  std::string record = ReadFileOrEmpty(SourceDir() + "/clients/examples/cargo.json");
  record.replace(record.find("\"100190\""), 8, "\"930200\"");
  RunShell("cat > '" + dir.File("arms.json") + "' <<'EOF'\n" + record + "\nEOF\n");
  std::string out;
  EXPECT_EQ(Cli(dir,
                "policy test --direction inbound --policy gateway/config/uz.policy.textproto --record '" +
                    dir.File("arms.json") + "'",
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("\"verdict\":\"refused\""));
  EXPECT_THAT(out, HasSubstr("cargo.goods[0].hs6: HS chapter 93 requires a licence exchange"));
}

TEST(CliPolicyTest, ABrokenPolicyIsAUsageErrorNamingTheLine) {
  TempDir dir;
  RunShell(
      "printf 'jurisdiction: JURISDICTION_KZ\\noutbound {\\n  record_type: RECORD_TYPE_CARGO\\n"
      "  default_action: DEFAULT_ACTION_DROP\\n  rules { field: \"cargo.nope\" keep {} reason: \"x\" }\\n}\\n' > '" +
      dir.File("bad.policy") + "'");
  std::string out, err;
  EXPECT_EQ(Cli(dir, "policy test --policy '" + dir.File("bad.policy") + "' --record clients/examples/cargo.json", &out,
                &err),
            2);
  EXPECT_THAT(err, HasSubstr("bad.policy:5: field 'cargo.nope'"));
}

TEST(CliGatewayTest, SubmitsReadsStatusesAndExitsWithDocumentedCodes) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  kz.StartAndWait();
  const std::string connection = ConnectionFlags(pki, kz);
  std::string out, err;
  ASSERT_EQ(Cli(dir, connection + "submit clients/examples/cargo.json", &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("\"state\":\"DELIVERY_STATE_QUEUED\""));
  const std::string record_id = out.substr(out.find("\"record_id\":\"") + 13, 36);
  // The same file again is the same request (content-derived request_id).
  std::string again;
  ASSERT_EQ(Cli(dir, connection + "submit clients/examples/cargo.json", &again), 0);
  EXPECT_THAT(again, HasSubstr(record_id));

  ASSERT_EQ(Cli(dir, connection + "status " + record_id, &out), 0);
  EXPECT_THAT(out, HasSubstr("\"state\":\"DELIVERY_STATE_QUEUED\""));
  EXPECT_EQ(Cli(dir, connection + "status 01890a5d-ac96-774b-bcce-b302099a8057", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("NOT_FOUND"));

  // A JSON-lines file goes through SubmitStream: one answer per line.
  RunShell("(tr -d '\\n' < '" + SourceDir() + "/clients/examples/enterprise.json'; echo; echo '{\"cargo\": {}}') > '" +
           dir.File("batch.jsonl") + "'");
  EXPECT_EQ(Cli(dir, connection + "submit '" + dir.File("batch.jsonl") + "'", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("submitted 2: 1 accepted, 1 refused"));
  // The summary names each refusal by its line, with the gateway's reason.
  EXPECT_THAT(err, HasSubstr("line 2: INVALID_ARGUMENT: invalid request: record.cargo."));
  // A line that is not a record refuses the whole file before anything is
  // sent: nothing is accepted, the answer is usage (2).
  RunShell("(echo '{\"cargo\": {}}'; echo 'not json') > '" + dir.File("broken.jsonl") + "'");
  EXPECT_EQ(Cli(dir, connection + "submit '" + dir.File("broken.jsonl") + "'", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("broken.jsonl:2: not a record"));
  EXPECT_EQ(out, "");

  // The shipped batch: each line answered as clients/examples/batch.expected.tsv
  // declares (the manifest tests/validation checks against the validator).
  EXPECT_EQ(Cli(dir, connection + "submit clients/examples/batch.jsonl", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("submitted 5: 3 accepted, 2 refused"));
  std::vector<std::vector<std::string>> expected;
  for (absl::string_view row :
       absl::StrSplit(ReadFileOrEmpty(SourceDir() + "/clients/examples/batch.expected.tsv"), '\n')) {
    if (row.empty() || row[0] == '#' || absl::StartsWith(row, "line\t")) continue;
    expected.push_back(absl::StrSplit(row, '\t'));
  }
  const std::vector<std::string> answers = absl::StrSplit(absl::StripSuffix(out, "\n"), '\n');
  ASSERT_EQ(answers.size(), expected.size()) << out;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto answer = ParseJson<v1::SubmitResponse>(answers[i]);
    SCOPED_TRACE(absl::StrCat("batch.jsonl line ", expected[i][0]));
    if (expected[i][1] == "OK") {
      EXPECT_FALSE(answer.has_error());
      EXPECT_EQ(answer.state(), v1::DELIVERY_STATE_QUEUED);
    } else {
      EXPECT_EQ(answer.error().code(), expected[i][1]);
      std::vector<std::string> fields;
      for (const v1::FieldViolation& violation : answer.error().violations()) fields.push_back(violation.field());
      EXPECT_THAT(fields, ::testing::UnorderedElementsAreArray(absl::StrSplit(expected[i][2], ',')));
    }
  }

  EXPECT_EQ(Cli(dir, connection + "health", &out), 0);
  EXPECT_THAT(out, HasSubstr("SERVING"));
  EXPECT_EQ(Cli(dir, connection + "submit /nonexistent.json", &out), 2);
  kz.Kill();
  EXPECT_EQ(Cli(dir, connection + "health", &out), 3);
  EXPECT_EQ(Cli(dir, connection + "submit --retry-for 0 clients/examples/cargo.json", &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE"));
}

// A record file with a mistake is refused before anything is sent, and the
// message names the place of the mistake, never the value there (a record's
// values are personal data; stderr ends up in logs).
TEST(CliRecordJsonTest, MistakesAreNamedByPlaceNeverByValue) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"cargo": {"goods": [{"packages": "Aidos Nurlanov 880101300123"}]}})",
       "cargo.goods[0].packages: a value of the wrong type or out of range"},
      {R"({"cargo": {"direction": "Aidos Nurlanov 880101300123"}})", "cargo.direction: a value of the wrong type"},
      {R"({"cargo": {"driver": {"full_name": "Aidos Nurlanov 880101300123")", "not valid JSON: "},
      {R"({"cargo": {"driver": {"full_name": "Aidos Nurlanov 880101300123" "x"}}})", "not valid JSON: "},
      {R"({"request_id": "r1", "record": {"cargo": {"consignmentid": "X"}}})",
       "record.cargo.consignmentid: no such field"},
      {R"({"request_id": "r1"})", "record: a SubmitRequest needs its record"},
      {R"(["Aidos Nurlanov 880101300123"])", "not a JSON object"},
  };
  for (const auto& [json, says] : cases) {
    SCOPED_TRACE(json);
    WriteFile(dir.File("bad.json"), json);
    WriteFile(dir.File("bad.jsonl"), R"({"cargo": {}})"
                                     "\n" +
                                         json + "\n");
    std::string out, err;
    // submit reads the record before it connects: no gateway is needed.
    EXPECT_EQ(
        Cli(dir, "--target 127.0.0.1:1 --ca x --cert x --key x submit '" + dir.File("bad.json") + "'", &out, &err), 2);
    EXPECT_THAT(err, HasSubstr(says));
    EXPECT_THAT(err, Not(HasSubstr("Aidos")));
    EXPECT_THAT(err, Not(HasSubstr("880101300123")));
    EXPECT_EQ(
        Cli(dir, "--target 127.0.0.1:1 --ca x --cert x --key x submit '" + dir.File("bad.jsonl") + "'", &out, &err), 2);
    EXPECT_THAT(err, HasSubstr("bad.jsonl:2: not a record: " + says.substr(0, 12)));
    EXPECT_THAT(err, Not(HasSubstr("Aidos")));
    EXPECT_EQ(
        Cli(dir, "policy test --policy gateway/config/kz.policy.textproto --record '" + dir.File("bad.json") + "'",
            &out, &err),
        2);
    EXPECT_THAT(err, Not(HasSubstr("Aidos")));
  }
}

// The connection settings from a file beside the certificates: its relative
// paths resolve against the file, not the working directory, and flags and
// the environment win over it.
TEST(CliConnectionFileTest, SettingsComeFromTheFileRelativeToItUnderFlagsAndEnvironment) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  kz.StartAndWait();
  // The file lives in the PKI's kz directory and names the files beside it;
  // Cli() runs from the source tree.
  const std::string file = pki.File("kz", "cli.conf");
  RunShell(absl::StrCat("printf '# the KZ ministry system\\n\\ntarget = 127.0.0.1:", kz.ministry_port(),
                        "\\nca = ca.crt\\ncert = ministry-client.crt\\n  key=ministry-client.key  \\n' > '", file,
                        "'"));
  std::string out, err;
  ASSERT_EQ(Cli(dir, "--config '" + file + "' health", &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("SERVING"));
  ASSERT_EQ(Cli(dir, "--config '" + file + "' submit clients/examples/cargo.json", &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("DELIVERY_STATE_QUEUED"));
  // IICC_CONFIG names it too.
  EXPECT_EQ(Cli(dir, "health", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("missing --target, --ca, --cert, --key"));
  EXPECT_EQ(RunShell(absl::StrCat("cd '", SourceDir(), "' && IICC_CONFIG='", file, "' '", BinDir(),
                                  "/iicc-cli' health >/dev/null")),
            0);
  // A flag wins over the file: this target has nothing listening.
  ReservedPort closed;
  EXPECT_EQ(Cli(dir, absl::StrCat("--config '", file, "' --target 127.0.0.1:", closed.port(), " health"), &out), 3);
  // So does the environment.
  EXPECT_EQ(RunShell(absl::StrCat("cd '", SourceDir(), "' && IICC_TARGET=127.0.0.1:", closed.port(), " '", BinDir(),
                                  "/iicc-cli' --config '", file, "' health >/dev/null 2>&1")),
            3);

  // Mistakes name the file and line.
  RunShell("printf 'target = x:1\\nport = 5\\n' > '" + dir.File("bad.conf") + "'");
  EXPECT_EQ(Cli(dir, "--config '" + dir.File("bad.conf") + "' health", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("bad.conf:2: unknown setting 'port' (target, ca, cert, key)"));
  EXPECT_EQ(Cli(dir, "--config '" + dir.File("missing.conf") + "' health", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("missing.conf"));
}

// A JSON-lines file streamed while the gateway is killed (SIGKILL) and comes
// back on its port: the CLI sends what was not answered again, under the same
// request_ids, and every record is accepted exactly once.
TEST(CliSubmitStreamTest, AKilledAndRestartedGatewayLosesAndDuplicatesNothing) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  GatewayProcess uz("uz", pki, dir.path(), ports);
  kz.StartAndWait();
  uz.StartAndWait();
  constexpr int kRecords = 1500;
  {
    std::ofstream lines(dir.File("batch.jsonl"));
    for (int i = 0; i < kRecords; ++i) {
      lines << ToJsonLine(NumberedCargo(absl::StrCat("KZ-ATM-2026-", 100000 + i))) << "\n";
    }
  }
  const std::string connection = ConnectionFlags(pki, kz);
  RunShell(absl::StrCat("('", BinDir(), "/iicc-cli' ", connection, "submit --retry-for 30 '", dir.File("batch.jsonl"),
                        "' >'", dir.File("out"), "' 2>'", dir.File("err"), "'; echo $? >'", dir.File("code"), "') &"));
  // Kill it once some records are answered and many are not.
  const absl::Time give_up = absl::Now() + absl::Seconds(60) * TestTimeScale();
  auto answered = [&] {
    const std::string out = ReadFileOrEmpty(dir.File("out"));
    return std::count(out.begin(), out.end(), '\n');
  };
  while (answered() < 100 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_GE(answered(), 100);
  ASSERT_LT(answered(), kRecords) << "the gateway answered everything before the kill: make the batch larger";
  kz.Kill();
  absl::SleepFor(absl::Seconds(1));
  kz.StartAndWait();
  while (ReadFileOrEmpty(dir.File("code")).empty() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(ReadFileOrEmpty(dir.File("code")), "0\n") << ReadFileOrEmpty(dir.File("err"));
  EXPECT_THAT(ReadFileOrEmpty(dir.File("err")),
              HasSubstr(absl::StrCat("submitted ", kRecords, ": ", kRecords, " accepted, 0 refused")));
  // It said that it sent again, and from where.
  EXPECT_THAT(ReadFileOrEmpty(dir.File("err")),
              ::testing::ContainsRegex("; sending again from line [0-9]+ \\([0-9]+ answered\\)"));
  // One answer per line, each a different record.
  std::set<std::string> record_ids;
  std::istringstream out(ReadFileOrEmpty(dir.File("out")));
  int lines = 0;
  for (std::string line; std::getline(out, line); ++lines) {
    const auto at = line.find("\"record_id\":\"");
    ASSERT_NE(at, std::string::npos) << line;
    record_ids.insert(line.substr(at + 13, 36));
  }
  EXPECT_EQ(lines, kRecords);
  EXPECT_EQ(record_ids.size(), static_cast<size_t>(kRecords));
  // And UZ receives exactly these, each once.
  const std::vector<v1::InboundRecord> received = WaitForInbound(*uz.MinistryStub(), kRecords, absl::Seconds(60));
  std::vector<std::string> ids = RecordIds(received);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), record_ids);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRecords));

  // A subscriber that cannot keep its cursor does not exit as if it had.
  const std::string uz_connection = ConnectionFlags(pki, uz);
  std::string printed, err;
  EXPECT_EQ(Cli(dir, uz_connection + "subscribe --max 3 --cursor-file '" + dir.File("no-such-dir/cursor") + "'",
                &printed, &err),
            2);
  EXPECT_THAT(err, HasSubstr("cannot write the cursor 1 to"));
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 1) << "stops at the first record it cannot remember";
  StopTogether({&kz, &uz});
}

// ---------------------------------------------------------------------------
// export, verify, audit: offline, on the files of real gateways.

// Audit entries printed one JSON object per line.
std::vector<v1::AuditEntry> ParseAuditLines(const std::string& lines) {
  std::vector<v1::AuditEntry> entries;
  std::istringstream in(lines);
  std::string line;
  while (std::getline(in, line)) entries.push_back(ParseJson<v1::AuditEntry>(line));
  return entries;
}

bool HasEntry(const std::vector<v1::AuditEntry>& entries, v1::AuditEventKind kind, const std::string& record_id) {
  for (const v1::AuditEntry& entry : entries) {
    if (entry.kind() == kind && entry.record_id() == record_id) return true;
  }
  return false;
}

// A KZ and a UZ gateway; SendCargo() sends one record from KZ and waits for
// UZ's receipt.
class CliEvidenceTest : public ::testing::Test {
 protected:
  CliEvidenceTest()
      : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}

  std::string SendCargo() {
    kz_.StartAndWait();
    uz_.StartAndWait();
    auto stub = kz_.MinistryStub();
    const std::string record_id = SubmitOrFail(*stub, "evidence-1", SampleRecord("cargo"));
    EXPECT_EQ(WaitForOutcome(*stub, record_id).state(), v1::DELIVERY_STATE_DELIVERED);
    return record_id;
  }

  std::string Cas(const std::vector<std::string>& sides) const {
    std::string flags;
    for (const std::string& side : sides) absl::StrAppend(&flags, " --ca '", pki_.File(side, "ca.crt"), "'");
    return flags;
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
};

TEST_F(CliEvidenceTest, ExportedEvidenceIsProvenWithBothCasAndEachFailureIsNamed) {
  const std::string record_id = SendCargo();
  ASSERT_FALSE(record_id.empty());
  const std::string evidence = dir_.File("kz-evidence.json");
  std::string out, err;
  // The gateways keep running: the export reads their live files.
  ASSERT_EQ(Cli(dir_, "export " + record_id + " --db '" + kz_.db_path() + "' --out '" + evidence + "'", &out, &err), 0)
      << err;
  const v1::Evidence exported = ParseJson<v1::Evidence>(ReadFileOrEmpty(evidence));
  ASSERT_TRUE(exported.has_receipt());
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(exported.envelope().header()));
  const std::string payload_hex = absl::BytesToHexString(Sha256Of(exported.envelope().payload()));
  ASSERT_EQ(payload_hex, absl::BytesToHexString(header.payload_digest()));

  ASSERT_EQ(Cli(dir_, "verify '" + evidence + "'" + Cas({"kz", "uz"}), &out, &err), 0) << out << err;
  EXPECT_THAT(out,
              HasSubstr(absl::StrCat("proven: spiffe://kz.iicc/gateway signed record ", record_id, " (cargo) on ")));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(", payload SHA-256 ", payload_hex, ", outbound policy ",
                                          header.policy_version(), "\n")));
  EXPECT_THAT(
      out, HasSubstr(absl::StrCat("proven: the payload in this file is the one signed (SHA-256 ", payload_hex, ")")));
  EXPECT_THAT(out, ::testing::ContainsRegex("proven: spiffe://uz.iicc/gateway received it on [0-9T:.-]+Z and "
                                            "ACCEPTED it under inbound policy [0-9a-f]{64}\n"));
  EXPECT_THAT(out, HasSubstr("chains to " + pki_.File("kz", "ca.crt")));
  EXPECT_THAT(out, HasSubstr("chains to " + pki_.File("uz", "ca.crt")));
  EXPECT_THAT(out, Not(HasSubstr("FAILED")));
  EXPECT_THAT(out, Not(HasSubstr("123ABC02")));  // No payload field, not even a kept one (the plate).

  // Trusting only KZ's CA, the envelope is still proven and the receipt is not.
  EXPECT_EQ(Cli(dir_, "verify '" + evidence + "'" + Cas({"kz"}), &out, &err), 1) << err;
  EXPECT_THAT(out, HasSubstr("proven: spiffe://kz.iicc/gateway signed record " + record_id));
  EXPECT_THAT(out, HasSubstr("FAILED: the receipt's signature (expected from spiffe://uz.iicc/gateway): "
                             "certificate chain: "));
  EXPECT_THAT(out, Not(HasSubstr("received it")));

  // One payload byte changed: the signature over the header still holds,
  // the digest does not.
  v1::Evidence tampered = exported;
  (*tampered.mutable_envelope()->mutable_payload())[10] ^= 0x01;
  std::string tampered_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(tampered, &tampered_json).ok());
  WriteFile(dir_.File("tampered.json"), tampered_json);
  EXPECT_EQ(Cli(dir_, "verify '" + dir_.File("tampered.json") + "'" + Cas({"kz", "uz"}), &out, &err), 1) << err;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("FAILED: the payload's SHA-256 is ",
                                          absl::BytesToHexString(Sha256Of(tampered.envelope().payload())),
                                          ", not the signed header's payload digest ", payload_hex)));
  EXPECT_THAT(out, Not(HasSubstr("received it")));

  // The receiver holds the same envelope, byte for byte, and the same receipt.
  ASSERT_EQ(Cli(dir_, "export " + record_id + " --db '" + uz_.db_path() + "'", &out, &err), 0) << err;
  const v1::Evidence received = ParseJson<v1::Evidence>(out);
  EXPECT_EQ(received.envelope().SerializeAsString(), exported.envelope().SerializeAsString());
  EXPECT_EQ(received.receipt().SerializeAsString(), exported.receipt().SerializeAsString());

  EXPECT_EQ(Cli(dir_, "export 01890a5d-ac96-774b-bcce-b302099a8057 --db '" + kz_.db_path() + "'", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("is not in"));
  EXPECT_EQ(Cli(dir_, "export " + record_id + " --db '" + dir_.File("none.db") + "'", &out, &err), 2);
  EXPECT_EQ(Cli(dir_, "verify '" + evidence + "'", &out, &err), 2);  // No --ca.
}

// KZ's CA issues itself a certificate in UZ's name and forges UZ's receipt:
// trusting both CAs must not make that a proof.
TEST_F(CliEvidenceTest, AReceiptForgedUnderTheOtherJurisdictionsCaIsRefused) {
  const std::string record_id = SendCargo();
  ASSERT_FALSE(record_id.empty());
  const std::string evidence = dir_.File("evidence.json");
  std::string out, err;
  ASSERT_EQ(Cli(dir_, "export " + record_id + " --db '" + kz_.db_path() + "' --out '" + evidence + "'", &out, &err), 0)
      << err;
  v1::Evidence forged = ParseJson<v1::Evidence>(ReadFileOrEmpty(evidence));
  v1::ReceiptHeader header;
  ASSERT_TRUE(header.ParseFromString(forged.receipt().header()));
  header.set_verdict(v1::RECEIPT_VERDICT_REJECTED);
  header.set_reason("forged");
  pki_.Issue("kz", "impostor", "spiffe://uz.iicc/gateway", "signing");
  // Dated within the impostor's validity, which starts now.
  *header.mutable_received_time() = ToTimestamp(absl::Now());
  absl::StatusOr<std::unique_ptr<proof::Signer>> impostor =
      proof::Signer::Load(pki_.File("kz", "impostor.crt"), pki_.File("kz", "impostor.key"));
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  const std::string header_bytes = header.SerializeAsString();
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = (*impostor)->SignBatch(proof::Purpose::kReceipt, {header_bytes});
  ASSERT_TRUE(proofs.ok()) << proofs.status();
  forged.mutable_receipt()->set_header(header_bytes);
  *forged.mutable_receipt()->mutable_proof() = proofs->front();
  std::string forged_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(forged, &forged_json).ok());
  const std::string forged_file = dir_.File("forged.json");
  WriteFile(forged_file, forged_json);

  // Unbound CAs: the receipt chains only to KZ's, which already vouches for
  // the envelope.
  EXPECT_EQ(Cli(dir_, "verify '" + forged_file + "'" + Cas({"kz", "uz"}), &out, &err), 1) << err;
  EXPECT_THAT(out, HasSubstr("proven: spiffe://kz.iicc/gateway signed record " + record_id));
  EXPECT_THAT(out, HasSubstr("FAILED: the envelope's and the receipt's signatures both chain to " +
                             pki_.File("kz", "ca.crt") + ": one CA cannot vouch for both"));
  EXPECT_THAT(out, Not(HasSubstr("REJECTED")));

  // Bound CAs: UZ's gateway is vouched for by UZ's CA only.
  const std::string bound =
      " --ca 'kz.iicc=" + pki_.File("kz", "ca.crt") + "' --ca 'uz.iicc=" + pki_.File("uz", "ca.crt") + "'";
  EXPECT_EQ(Cli(dir_, "verify '" + forged_file + "'" + bound, &out, &err), 1) << err;
  EXPECT_THAT(out, HasSubstr("FAILED: the receipt's signature (expected from spiffe://uz.iicc/gateway): "
                             "certificate chain: "));
  // The genuine evidence passes with bound CAs too.
  EXPECT_EQ(Cli(dir_, "verify '" + evidence + "'" + bound, &out, &err), 0) << out << err;
  EXPECT_THAT(out, HasSubstr("the receipt's signing certificate chains to " + pki_.File("uz", "ca.crt")));
}

TEST_F(CliEvidenceTest, ARecordWithoutItsReceiptYetExportsIncompleteEvidence) {
  kz_.StartAndWait();  // UZ is down: the record stays queued.
  auto stub = kz_.MinistryStub();
  const std::string record_id = SubmitOrFail(*stub, "queued-1", SampleRecord("cargo"));
  const std::string evidence = dir_.File("queued.json");
  std::string out, err;
  EXPECT_EQ(Cli(dir_, "export " + record_id + " --db '" + kz_.db_path() + "' --out '" + evidence + "'", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("incomplete: it holds no receipt yet: the record is DELIVERY_STATE_QUEUED"));
  EXPECT_TRUE(ParseJson<v1::Evidence>(ReadFileOrEmpty(evidence)).has_envelope());  // Written anyway.
  EXPECT_EQ(Cli(dir_, "verify '" + evidence + "'" + Cas({"kz", "uz"}), &out, &err), 1);
  EXPECT_THAT(out, HasSubstr("proven: spiffe://kz.iicc/gateway signed record " + record_id));
  EXPECT_THAT(out, HasSubstr("FAILED: the evidence holds no receipt"));
}

TEST_F(CliEvidenceTest, AuditChainsVerifyExportAndNameTheEditedEntry) {
  const std::string record_id = SendCargo();
  ASSERT_FALSE(record_id.empty());
  std::string out, err;
  for (const GatewayProcess* gateway : {&kz_, &uz_}) {
    ASSERT_EQ(Cli(dir_, "audit verify '" + gateway->db_path() + "'", &out, &err), 0) << gateway->side() << err;
    EXPECT_THAT(out, ::testing::MatchesRegex("audit chain intact: [1-9][0-9]* entries, head [0-9a-f]{64}\n"));
  }

  ASSERT_EQ(Cli(dir_, "audit export '" + kz_.db_path() + "'", &out, &err), 0) << err;
  const std::vector<v1::AuditEntry> kz_entries = ParseAuditLines(out);
  EXPECT_TRUE(HasEntry(kz_entries, v1::AUDIT_EVENT_KIND_SUBMIT, record_id)) << out;
  EXPECT_TRUE(HasEntry(kz_entries, v1::AUDIT_EVENT_KIND_DELIVER, record_id)) << out;
  ASSERT_EQ(Cli(dir_, "audit export '" + uz_.db_path() + "'", &out, &err), 0) << err;
  EXPECT_TRUE(HasEntry(ParseAuditLines(out), v1::AUDIT_EVENT_KIND_RECEIVE, record_id)) << out;
  ASSERT_EQ(Cli(dir_, "audit export '" + kz_.db_path() + "' --after 1", &out, &err), 0) << err;
  const std::vector<v1::AuditEntry> after_one = ParseAuditLines(out);
  ASSERT_EQ(after_one.size(), kz_entries.size() - 1);
  EXPECT_EQ(after_one.front().sequence(), 2);

  // Someone with the file drops the trigger and edits the DELIVER entry.
  int64_t edited = 0;
  for (const v1::AuditEntry& entry : kz_entries) {
    if (entry.kind() == v1::AUDIT_EVENT_KIND_DELIVER) edited = entry.sequence();
  }
  ASSERT_GT(edited, 0);
  EXPECT_EQ(kz_.Terminate(), 0);
  const std::string copy = dir_.File("kz-copy.db");
  std::filesystem::copy_file(kz_.db_path(), copy);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  const std::string sql = absl::StrCat("DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'nothing to see' ",
                                       "WHERE sequence = ", edited);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
  EXPECT_EQ(Cli(dir_, "audit verify '" + copy + "'", &out, &err), 1) << err;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("audit entry ", edited, ": hash does not match")));
  EXPECT_EQ(Cli(dir_, "audit verify '" + kz_.db_path() + "'", &out, &err), 0);  // The original is intact.
}

}  // namespace
}  // namespace iicc::testing
