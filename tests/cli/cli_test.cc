// iicc-cli as a user runs it: the real binary, against a real gateway where
// it needs one.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
  const std::string connection =
      absl::StrCat("--target 127.0.0.1:", kz.ministry_port(), " --ca '", pki.File("kz", "ca.crt"), "' --cert '",
                   pki.File("kz", "ministry-client.crt"), "' --key '", pki.File("kz", "ministry-client.key"), "' ");
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

  EXPECT_EQ(Cli(dir, connection + "health", &out), 0);
  EXPECT_THAT(out, HasSubstr("SERVING"));
  EXPECT_EQ(Cli(dir, connection + "submit /nonexistent.json", &out), 2);
  kz.Kill();
  EXPECT_EQ(Cli(dir, connection + "health", &out), 3);
}

}  // namespace
}  // namespace iicc::testing
