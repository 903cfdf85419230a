// The ministry face of one real gateway process: mutual TLS, roles,
// idempotency, streams, durability across SIGKILL, configuration errors.
// The peer is not running: records stay queued, which is all these tests need.
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::HasSubstr;

bool IsUuidV7(const std::string& id) {
  return id.size() == 36 && id[14] == '7' && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-';
}

class MinistryFaceTest : public ::testing::Test {
 protected:
  MinistryFaceTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_) {}

  void SetUp() override {
    // A system that may only read, and one that may submit cargo only.
    v1::MinistryIdentity* reader = kz_.config().add_ministries();
    reader->set_spiffe_id("spiffe://kz.iicc/ministry/reader");
    reader->add_grants()->set_role(v1::ROLE_READ);
    v1::MinistryIdentity* checkpoint = kz_.config().add_ministries();
    checkpoint->set_spiffe_id("spiffe://kz.iicc/ministry/checkpoint");
    v1::RoleGrant* grant = checkpoint->add_grants();
    grant->set_role(v1::ROLE_SUBMIT);
    grant->add_record_types(v1::RECORD_TYPE_CARGO);
    pki_.Issue("kz", "reader", "spiffe://kz.iicc/ministry/reader");
    pki_.Issue("kz", "checkpoint", "spiffe://kz.iicc/ministry/checkpoint");
    pki_.Issue("kz", "stranger", "spiffe://kz.iicc/ministry/stranger");
    kz_.StartAndWait();
  }

  grpc::Status Submit(v1::MinistryGateway::Stub& stub, const v1::SubmitRequest& request, v1::SubmitResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return stub.Submit(&context, request, response);
  }

  grpc::Status Status(v1::MinistryGateway::Stub& stub, const std::string& record_id, v1::RecordStatus* status) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::GetRecordStatusRequest request;
    request.set_record_id(record_id);
    return stub.GetRecordStatus(&context, request, status);
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
};

TEST_F(MinistryFaceTest, AcceptsEachRecordTypeAndReportsItQueued) {
  auto stub = kz_.MinistryStub();
  for (const char* name : {"enterprise", "cargo", "investment"}) {
    v1::SubmitResponse response;
    const grpc::Status status = Submit(*stub, MakeSubmit(absl::StrCat("req-", name), SampleRecord(name)), &response);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
    EXPECT_EQ(response.request_id(), absl::StrCat("req-", name));
    EXPECT_EQ(response.state(), v1::DELIVERY_STATE_QUEUED);
    EXPECT_TRUE(IsUuidV7(response.record_id())) << response.record_id();

    v1::RecordStatus record_status;
    ASSERT_TRUE(Status(*stub, response.record_id(), &record_status).ok());
    EXPECT_EQ(record_status.state(), v1::DELIVERY_STATE_QUEUED);
    EXPECT_EQ(record_status.record_id(), response.record_id());
    EXPECT_GT(record_status.accepted_time().seconds(), 0);
    EXPECT_FALSE(record_status.has_delivered_time());
  }
}

TEST_F(MinistryFaceTest, ResubmissionReturnsTheFirstAnswerAndAnotherRecordIsAlreadyExists) {
  auto stub = kz_.MinistryStub();
  const v1::SubmitRequest request = MakeSubmit("same-request", SampleRecord("cargo"));
  v1::SubmitResponse first, again;
  ASSERT_TRUE(Submit(*stub, request, &first).ok());
  ASSERT_TRUE(Submit(*stub, request, &again).ok());
  EXPECT_EQ(again.record_id(), first.record_id());
  EXPECT_EQ(again.state(), v1::DELIVERY_STATE_QUEUED);

  v1::SubmitResponse conflict;
  const grpc::Status status = Submit(*stub, MakeSubmit("same-request", SampleRecord("enterprise")), &conflict);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr(first.record_id()));

  // The same request_id from another identity is another request.
  auto checkpoint = kz_.MinistryStub("checkpoint");
  v1::SubmitResponse other;
  ASSERT_TRUE(Submit(*checkpoint, request, &other).ok());
  EXPECT_NE(other.record_id(), first.record_id());
}

TEST_F(MinistryFaceTest, UnaryRefusalsCarryTheirViolationsAsData) {
  auto stub = kz_.MinistryStub();
  grpc::ClientContext context;
  v1::SubmitResponse response;
  const grpc::Status status = stub->Submit(&context, MakeSubmit("", v1::Record()), &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("request_id"));
  EXPECT_THAT(status.error_message(), HasSubstr("record"));
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("iicc-error-bin");
  ASSERT_NE(it, trailers.end());
  v1::Error error;
  ASSERT_TRUE(error.ParseFromString(std::string(it->second.data(), it->second.size())));
  EXPECT_EQ(error.code(), "INVALID_ARGUMENT");
  ASSERT_EQ(error.violations_size(), 2);
  EXPECT_EQ(error.violations(0).field(), "request_id");
  EXPECT_EQ(error.violations(1).field(), "record.kind");
}

TEST_F(MinistryFaceTest, StreamAnswersEveryRequestInOrderAndARefusalDoesNotEndIt) {
  auto stub = kz_.MinistryStub();
  grpc::ClientContext context;
  auto stream = stub->SubmitStream(&context);
  std::vector<v1::SubmitRequest> requests = {
      MakeSubmit("s-1", SampleRecord("cargo")),
      MakeSubmit("s-2", v1::Record()),             // no record kind: refused
      MakeSubmit("", SampleRecord("investment")),  // no request_id: refused
      MakeSubmit("s-4", SampleRecord("enterprise")),
  };
  for (const v1::SubmitRequest& request : requests) ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  std::vector<v1::SubmitResponse> responses;
  v1::SubmitResponse response;
  while (stream->Read(&response)) responses.push_back(response);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(responses.size(), 4u);

  EXPECT_EQ(responses[0].request_id(), "s-1");
  EXPECT_EQ(responses[0].state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_FALSE(responses[0].has_error());

  EXPECT_EQ(responses[1].request_id(), "s-2");
  ASSERT_TRUE(responses[1].has_error());
  EXPECT_EQ(responses[1].error().code(), "INVALID_ARGUMENT");
  ASSERT_EQ(responses[1].error().violations_size(), 1);
  EXPECT_EQ(responses[1].error().violations(0).field(), "record.kind");
  EXPECT_TRUE(responses[1].record_id().empty());

  ASSERT_TRUE(responses[2].has_error());
  EXPECT_EQ(responses[2].error().violations(0).field(), "request_id");

  EXPECT_EQ(responses[3].request_id(), "s-4");
  EXPECT_EQ(responses[3].state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_NE(responses[3].record_id(), responses[0].record_id());
}

TEST_F(MinistryFaceTest, StreamNamesTheFirstRecordOfAReusedRequestId) {
  auto stub = kz_.MinistryStub();
  const std::string first = SubmitOrFail(*stub, "reused", SampleRecord("cargo"));
  grpc::ClientContext context;
  auto stream = stub->SubmitStream(&context);
  ASSERT_TRUE(stream->Write(MakeSubmit("reused", SampleRecord("investment"))));
  stream->WritesDone();
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error().code(), "ALREADY_EXISTS");
  EXPECT_EQ(response.record_id(), first);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(MinistryFaceTest, SighupLeavesItRunningAndSigtermStopsItCleanly) {
  auto stub = kz_.MinistryStub();
  const std::string id = SubmitOrFail(*stub, "before-signals", SampleRecord("cargo"));
  kz_.Signal(SIGHUP);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(kz_.Running());
  EXPECT_FALSE(SubmitOrFail(*stub, "after-sighup", SampleRecord("cargo")).empty());
  EXPECT_EQ(kz_.Terminate(), 0) << kz_.log();
  EXPECT_THAT(kz_.log(), HasSubstr("gateway.stopped"));
}

TEST_F(MinistryFaceTest, RefusesCallersWithoutAnAcceptableCertificate) {
  const std::string address = absl::StrCat("127.0.0.1:", kz_.ministry_port());
  // No client certificate at all.
  {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrEmpty(pki_.File("kz", "ca.crt"));
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = v1::MinistryGateway::NewStub(grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args));
    v1::SubmitResponse response;
    const grpc::Status status = Submit(*stub, MakeSubmit("no-cert", SampleRecord("cargo")), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  // A certificate from another CA (the UZ ministry's client).
  {
    auto stub = v1::MinistryGateway::NewStub(MutualTlsChannel(address, pki_.File("kz", "ca.crt"),
                                                              pki_.File("uz", "ministry-client.crt"),
                                                              pki_.File("uz", "ministry-client.key")));
    v1::SubmitResponse response;
    const grpc::Status status = Submit(*stub, MakeSubmit("uz-cert", SampleRecord("cargo")), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  // Nothing was stored: the one authorized reader of statuses sees nothing,
  // and the next accepted record is the first in the outbox.
  auto stub = kz_.MinistryStub();
  const std::string id = SubmitOrFail(*stub, "after-refusals", SampleRecord("cargo"));
  ASSERT_FALSE(id.empty());
  kz_.Kill();
  EXPECT_EQ(RunShell("test \"$(sqlite3 '" + kz_.db_path() + "' 'SELECT COUNT(*) FROM outbox')\" = 1"), 0);
}

TEST_F(MinistryFaceTest, RefusesIdentitiesWithoutTheRole) {
  v1::SubmitResponse response;
  // Read-only identity.
  auto reader = kz_.MinistryStub("reader");
  grpc::Status status = Submit(*reader, MakeSubmit("r-1", SampleRecord("cargo")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  // Cargo-only identity submitting an enterprise; its cargo passes.
  auto checkpoint = kz_.MinistryStub("checkpoint");
  status = Submit(*checkpoint, MakeSubmit("c-1", SampleRecord("enterprise")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  status = Submit(*checkpoint, MakeSubmit("c-2", SampleRecord("cargo")), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  const std::string cargo_id = response.record_id();
  // A right-CA identity the configuration does not know.
  auto stranger = kz_.MinistryStub("stranger");
  status = Submit(*stranger, MakeSubmit("x-1", SampleRecord("cargo")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();

  // Statuses: the submitter sees its record; a reader without the status
  // role is told it does not exist; the status role sees it.
  v1::RecordStatus record_status;
  EXPECT_TRUE(Status(*checkpoint, cargo_id, &record_status).ok());
  EXPECT_EQ(Status(*reader, cargo_id, &record_status).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Status(*kz_.MinistryStub(), cargo_id, &record_status).ok());
}

TEST_F(MinistryFaceTest, EveryAcknowledgedRecordSurvivesSigkill) {
  constexpr int kClients = 4;
  constexpr int kPerClient = 25;
  std::vector<std::vector<std::string>> acknowledged(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = kz_.MinistryStub();
      for (int i = 0; i < kPerClient; ++i) {
        const std::string id =
            SubmitOrFail(*stub, absl::StrCat("k-", c, "-", i), NumberedCargo(absl::StrCat("C", c, "-", i)));
        if (!id.empty()) acknowledged[c].push_back(id);
      }
    });
  }
  for (std::thread& client : clients) client.join();
  kz_.Kill();  // Right after the last acknowledgement.

  kz_.StartAndWait();
  auto stub = kz_.MinistryStub();
  int found = 0;
  for (const auto& ids : acknowledged) {
    ASSERT_EQ(ids.size(), static_cast<size_t>(kPerClient));
    for (const std::string& id : ids) {
      v1::RecordStatus status;
      const grpc::Status rpc = Status(*stub, id, &status);
      EXPECT_TRUE(rpc.ok()) << id << ": " << rpc.error_message();
      found += rpc.ok();
    }
  }
  EXPECT_EQ(found, kClients * kPerClient);
}

TEST_F(MinistryFaceTest, ASecondGatewayOnTheSamePortFailsLoudly) {
  TempDir other_dir;
  ReservedPort other_peer, other_target;
  GatewayProcess second("kz", pki_, other_dir.path(), kz_.ministry_port(), other_peer.port(), other_target.port());
  second.Start();
  EXPECT_EQ(second.WaitExit(absl::Seconds(20)), 1);
  EXPECT_THAT(second.log(), HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", kz_.ministry_port())));
  EXPECT_TRUE(kz_.Running());
}

TEST_F(MinistryFaceTest, ARecordOverTheMessageLimitIsResourceExhaustedAndStoresNothing) {
  auto stub = kz_.MinistryStub();
  v1::Record huge = SampleRecord("cargo");
  huge.mutable_cargo()->mutable_goods(0)->set_description(std::string(5 * 1024 * 1024, 'x'));
  v1::SubmitResponse response;
  const grpc::Status status = Submit(*stub, MakeSubmit("huge", huge), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  // The gateway goes on serving, and stored nothing for it.
  EXPECT_FALSE(SubmitOrFail(*stub, "after-huge", SampleRecord("cargo")).empty());
  kz_.Kill();
  EXPECT_EQ(RunShell("test \"$(sqlite3 '" + kz_.db_path() + "' 'SELECT COUNT(*) FROM outbox')\" = 1"), 0);
}

TEST(PolicyReloadTest, SighupPutsANewPolicyInForceAndRefusesABrokenOne) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  const std::string policy = dir.File("kz.policy.textproto");
  const std::string shipped = ReadFileOrEmpty(SourceDir() + "/gateway/config/kz.policy.textproto");
  auto write_policy = [&](const std::string& text) { RunShell("cat > '" + policy + "' <<'EOF'\n" + text + "\nEOF\n"); };
  write_policy(shipped);
  kz.config().set_policy_file(policy);
  kz.StartAndWait();
  auto stub = kz.MinistryStub();
  EXPECT_FALSE(SubmitOrFail(*stub, "cargo-1", SampleRecord("cargo")).empty());

  // A policy without an outbound cargo entry: cargo may no longer leave.
  std::string no_cargo = shipped;
  const size_t start = no_cargo.find("outbound {\n  record_type: RECORD_TYPE_CARGO");
  ASSERT_NE(start, std::string::npos);
  const size_t end = no_cargo.find("\n}\n", start);
  no_cargo.erase(start, end + 3 - start);
  write_policy(no_cargo);
  kz.Signal(SIGHUP);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (kz.log().find("policy.reloaded") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  grpc::ClientContext context;
  v1::SubmitResponse response;
  grpc::Status status = stub->Submit(&context, MakeSubmit("cargo-2", SampleRecord("cargo")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("cargo records may not leave this jurisdiction"));

  // A broken file is refused and the policy in force stays.
  write_policy(
      "jurisdiction: JURISDICTION_KZ\noutbound { record_type: RECORD_TYPE_CARGO rules { field: \"cargo.x\" } }");
  kz.Signal(SIGHUP);
  const absl::Time deadline2 = absl::Now() + absl::Seconds(10);
  while (kz.log().find("policy.reload_refused") == std::string::npos && absl::Now() < deadline2) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(kz.log(), HasSubstr("policy.reload_refused"));
  EXPECT_TRUE(kz.Running());
  grpc::ClientContext again;
  status = stub->Submit(&again, MakeSubmit("cargo-3", SampleRecord("cargo")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(SubmitOrFail(*stub, "enterprise-1", SampleRecord("enterprise")).empty());
}

TEST(GatewayConfigTest, ABadConfigurationListsEveryErrorAndExitsNonZero) {
  TempDir dir;
  const std::string config = dir.File("bad.textproto");
  RunShell("cat > '" + config +
           "' <<'EOF'\n"
           "jurisdiction: JURISDICTION_KZ\n"
           "ministry_face { listen_address: \"127.0.0.1\" tls { cert_file: \"/nonexistent/gateway.crt\" } }\n"
           "peer { listen_address: \"127.0.0.1:1\" peer_spiffe_id: \"https://uz.iicc/gateway\" }\n"
           "ministries { spiffe_id: \"spiffe://kz.iicc/ministry/a\" grants { } }\n"
           "EOF\n");
  const std::string log = dir.File("stderr");
  const int code = RunShell("'" + BinDir() + "/iicc-gateway' --config '" + config + "' --check-config 2>'" + log + "'");
  EXPECT_EQ(code, 1);
  const std::string errors = ReadFileOrEmpty(log);
  for (const char* field : {"data_dir: required", "ministry_face.listen_address", "ministry_face.tls.cert_file",
                            "ministry_face.tls.key_file", "peer.peer_spiffe_id", "peer.peer_address: required",
                            "peer.tls.ca_file", "ministries[0].grants[0].role"}) {
    EXPECT_THAT(errors, HasSubstr(field));
  }
  EXPECT_THAT(errors, HasSubstr(config));

  // A syntax error names the line.
  RunShell("printf 'jurisdiction: JURISDICTION_KZ\\nnot_a_field: 1\\n' > '" + config + "'");
  EXPECT_EQ(RunShell("'" + BinDir() + "/iicc-gateway' --config '" + config + "' --check-config 2>'" + log + "'"), 1);
  EXPECT_THAT(ReadFileOrEmpty(log), HasSubstr("line 2"));

  // --check-config of a valid configuration succeeds and writes nothing.
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  kz.config().set_data_dir(dir.File("never-created"));
  kz.WriteConfig();
  EXPECT_EQ(RunShell("'" + BinDir() + "/iicc-gateway' --config '" + kz.config_path() + "' --check-config >/dev/null"),
            0);
  EXPECT_NE(RunShell("test -e '" + dir.File("never-created") + "'"), 0);

  // A missing file, and bad usage.
  EXPECT_EQ(RunShell("'" + BinDir() + "/iicc-gateway' --config /nonexistent.textproto 2>/dev/null"), 1);
  EXPECT_EQ(RunShell("'" + BinDir() + "/iicc-gateway' --bogus 2>/dev/null"), 2);
}

TEST(GatewayConfigTest, ACertificateThatIsNotTheKeysIsAStartUpError) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  kz.config().mutable_ministry_face()->mutable_tls()->set_key_file(pki.File("kz", "ministry-client.key"));
  kz.Start();
  EXPECT_EQ(kz.WaitExit(absl::Seconds(20)), 1);
  EXPECT_THAT(kz.log(), HasSubstr("ministry_face.tls.key_file"));
}

// The signing key must sign as the gateway the peer pins; a key that signs
// as anyone else, or the TLS key in its place, is refused at start-up
// (--check-config too), before the peer would refuse every envelope.
TEST(GatewayConfigTest, ASigningKeyForAnotherIdentityOrUnfitForSigningIsAStartUpError) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  pki.Issue("kz", "rogue-signer", "spiffe://kz.iicc/rogue", "signing");
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  const std::string log = dir.File("stderr");
  const std::string check =
      "'" + BinDir() + "/iicc-gateway' --config '" + kz.config_path() + "' --check-config 2>'" + log + "'";

  kz.config().mutable_signing()->set_cert_file(pki.File("kz", "rogue-signer.crt"));
  kz.config().mutable_signing()->set_key_file(pki.File("kz", "rogue-signer.key"));
  kz.WriteConfig();
  EXPECT_EQ(RunShell(check), 1);
  EXPECT_THAT(ReadFileOrEmpty(log), HasSubstr("signing.cert_file: signs as spiffe://kz.iicc/rogue"));

  // The gateway's TLS certificate has the right identity but no signing use.
  kz.config().mutable_signing()->set_cert_file(pki.File("kz", "gateway.crt"));
  kz.config().mutable_signing()->set_key_file(pki.File("kz", "gateway.key"));
  kz.WriteConfig();
  EXPECT_EQ(RunShell(check), 1);
  EXPECT_THAT(ReadFileOrEmpty(log), HasSubstr("signing: "));

  kz.config().mutable_signing()->set_key_file(pki.File("kz", "gateway.key"));
  kz.config().mutable_signing()->set_cert_file(pki.File("kz", "signing.crt"));
  kz.WriteConfig();
  EXPECT_EQ(RunShell(check), 1);  // The key is not the certificate's.
  EXPECT_THAT(ReadFileOrEmpty(log), HasSubstr("signing: "));
}

}  // namespace
}  // namespace iicc::testing
