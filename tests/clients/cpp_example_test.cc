// The C++ example client (clients/cpp/example_client.cc) as an integrator runs
// it: the real binary, against a real KZ and UZ gateway pair over mutual TLS.
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

struct ClientRun {
  int code;
  std::string out;
  std::string err;
};

// Runs iicc-example-client from the repository root with `args`, after the
// shell assignments `env` ("NAME='value' ...").
ClientRun Client(const TempDir& dir, const std::string& args, const std::string& env = "") {
  ClientRun run;
  run.code = RunShell(absl::StrCat("cd '", SourceDir(), "' && ", env, " '", BinDir(), "/iicc-example-client' ", args,
                                   " >'", dir.File("out"), "' 2>'", dir.File("err"), "'"));
  run.out = ReadFileOrEmpty(dir.File("out"));
  run.err = ReadFileOrEmpty(dir.File("err"));
  return run;
}

// The request id iicc-cli and the example derive from a record, computed here
// independently of the client.
std::string ContentRequestId(const v1::Record& record) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    record.SerializeToCodedStream(&coded);
  }
  return "sha256-" + absl::BytesToHexString(Sha256Of(bytes).substr(0, 16));
}

void WriteFile(const TempDir& dir, const std::string& name, const std::string& contents) {
  ASSERT_EQ(RunShell(absl::StrCat("cat > '", dir.File(name), "' <<'EOF'\n", contents, "\nEOF\n")), 0);
}

class CppExampleClientTest : public ::testing::Test {
 protected:
  CppExampleClientTest()
      : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}
  ~CppExampleClientTest() override { StopTogether({&kz_, &uz_}); }

  // The connection to KZ's ministry face as flags, or as the environment.
  std::string Flags() const {
    return absl::StrCat("--target 127.0.0.1:", kz_.ministry_port(), " --ca '", pki_.File("kz", "ca.crt"), "' --cert '",
                        pki_.File("kz", "ministry-client.crt"), "' --key '", pki_.File("kz", "ministry-client.key"),
                        "'");
  }
  std::string Env() const {
    return absl::StrCat("IICC_TARGET=127.0.0.1:", kz_.ministry_port(), " IICC_CA='", pki_.File("kz", "ca.crt"),
                        "' IICC_CERT='", pki_.File("kz", "ministry-client.crt"), "' IICC_KEY='",
                        pki_.File("kz", "ministry-client.key"), "'");
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
};

constexpr char kUuidV7[] = "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

TEST_F(CppExampleClientTest, AValidRecordEndsDeliveredAndRunningAgainIsTheSameRecord) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  const ClientRun run = Client(dir_, Flags() + " --wait-s 30 clients/examples/cargo.json");
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, ContainsRegex(absl::StrCat("^record ", kUuidV7, ": DELIVERY_STATE_QUEUED\n")));
  EXPECT_THAT(run.out, ContainsRegex(absl::StrCat("\nrecord ", kUuidV7, ": DELIVERY_STATE_DELIVERED\n$")));
  const std::string record_id = run.out.substr(run.out.find("record ") + 7, 36);

  // The gateway agrees, and the peer holds the record once.
  auto kz = kz_.MinistryStub();
  const v1::RecordStatus status = RecordStatusOf(*kz, record_id);
  EXPECT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED);
  EXPECT_FALSE(status.receipt().header().empty());
  auto uz = uz_.MinistryStub();
  EXPECT_THAT(RecordIds(ListAllInbound(*uz)), ::testing::ElementsAre(record_id));

  // Its request id is the record's content-derived one: the same record,
  // sent again (here from the environment's connection), is the same request.
  std::string replayed_id;
  ASSERT_TRUE(TrySubmit(*kz, ContentRequestId(SampleRecord("cargo")), SampleRecord("cargo"), &replayed_id).ok());
  EXPECT_EQ(replayed_id, record_id);
  const ClientRun again = Client(dir_, "--wait-s 30 clients/examples/cargo.json", Env());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr(absl::StrCat("record ", record_id, ": DELIVERY_STATE_DELIVERED")));
  EXPECT_EQ(ListAllInbound(*uz).size(), 1u);
}

TEST_F(CppExampleClientTest, AnInvalidRecordExitsOneNamingEachFieldPathAndNoValue) {
  kz_.StartAndWait();
  std::string record = ReadFileOrEmpty(SourceDir() + "/clients/examples/cargo.json");
  record.replace(record.find("\"100190\""), 8, "\"10019\"");                // Five digits.
  record.replace(record.find("\"900101300057\""), 14, "\"900101300058\"");  // A wrong check digit.
  WriteFile(dir_, "bad.json", record);
  const ClientRun run = Client(dir_, Flags() + " '" + dir_.File("bad.json") + "'");
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("iicc-example-client: INVALID_ARGUMENT: invalid request:"));
  // The violations, one line each, from the iicc-error-bin trailer.
  EXPECT_THAT(run.err, ContainsRegex("\n  record\\.cargo\\.goods\\[0\\]\\.hs6: [^\n]+\n"));
  EXPECT_THAT(run.err, ContainsRegex("\n  record\\.cargo\\.driver\\.national_id\\.value: [^\n]+\n"));
  EXPECT_THAT(run.err, Not(HasSubstr("900101300058")));
  EXPECT_THAT(run.err, Not(HasSubstr("Aidos")));
  EXPECT_THAT(run.err, Not(HasSubstr("retrying")));  // A refusal is final.
  EXPECT_EQ(run.out, "");                            // No record_id: nothing was stored.

  // Input that is not a record never reaches the gateway: a usage error.
  WriteFile(dir_, "not-a-record.json", "{\"cargo\": {\"no_such_field\": 1}}");
  EXPECT_EQ(Client(dir_, Flags() + " '" + dir_.File("not-a-record.json") + "'").code, 2);
  EXPECT_EQ(Client(dir_, Flags()).code, 2);  // No record file.
}

TEST_F(CppExampleClientTest, RetriesUntilTheGatewayComesUpAndDeliversOnce) {
  // The client starts while KZ is down, in the background; the pair starts
  // once the client has been refused at least once.
  ASSERT_EQ(
      RunShell(absl::StrCat("(cd '", SourceDir(), "' && '", BinDir(), "/iicc-example-client' ", Flags(),
                            " --attempts 12 --backoff-ms 200 --wait-s 30 clients/examples/cargo.json >'",
                            dir_.File("out"), "' 2>'", dir_.File("err"), "'; echo $? >'", dir_.File("rc"), "') &")),
      0);
  const auto refused_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ReadFileOrEmpty(dir_.File("err")).find("retrying") == std::string::npos &&
         std::chrono::steady_clock::now() < refused_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_THAT(ReadFileOrEmpty(dir_.File("err")), HasSubstr("attempt 1 of 12: UNAVAILABLE; retrying"));
  kz_.StartAndWait();
  uz_.StartAndWait();
  const auto done_by = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ReadFileOrEmpty(dir_.File("rc")).empty() && std::chrono::steady_clock::now() < done_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string out = ReadFileOrEmpty(dir_.File("out"));
  EXPECT_EQ(ReadFileOrEmpty(dir_.File("rc")), "0\n") << ReadFileOrEmpty(dir_.File("err"));
  EXPECT_THAT(out, ContainsRegex(absl::StrCat("\nrecord ", kUuidV7, ": DELIVERY_STATE_DELIVERED\n$")));
  auto uz = uz_.MinistryStub();
  EXPECT_EQ(ListAllInbound(*uz).size(), 1u);
}

TEST(CppExampleClientDownTest, AGatewayThatIsDownExitsThreeAfterItsRetries) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  ReservedPort nobody;  // Reserved, and nothing listens on it.
  const std::string env =
      absl::StrCat("IICC_TARGET=", nobody.address(), " IICC_CA='", pki.File("kz", "ca.crt"), "' IICC_CERT='",
                   pki.File("kz", "ministry-client.crt"), "' IICC_KEY='", pki.File("kz", "ministry-client.key"), "'");
  const auto start = std::chrono::steady_clock::now();
  const ClientRun run = Client(dir, "--attempts 3 --backoff-ms 20 --deadline-s 2 clients/examples/cargo.json", env);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_THAT(run.err, HasSubstr("attempt 1 of 3: UNAVAILABLE; retrying\n"));
  EXPECT_THAT(run.err, HasSubstr("attempt 2 of 3: UNAVAILABLE; retrying\n"));
  EXPECT_THAT(run.err, Not(HasSubstr("attempt 3 of 3")));  // The last attempt's failure is the final word.
  EXPECT_THAT(run.err, HasSubstr("iicc-example-client: UNAVAILABLE: "));
  EXPECT_EQ(run.out, "");
}

}  // namespace
}  // namespace iicc::testing
