// The ministry face's per-identity limits and the link's receipt timeout, on
// real gateway processes with real mutual TLS (issue #8): rate limits and
// bursts, concurrent streams and subscriptions, idle streams, the audit of
// denied calls and its throttle, a frozen peer. Each refusal is checked for
// its code, the limit its message names, and that it stored nothing.
#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iicc/v1/audit.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFlooder[] = "spiffe://kz.iicc/ministry/flooder";
constexpr char kReader[] = "spiffe://kz.iicc/ministry/reader";

// The first line `command` writes to stdout, or all of it.
std::string ShellOutput(const std::string& command, const TempDir& dir) {
  const std::string out = dir.File("shell.out");
  RunShell("( " + command + " ) > '" + out + "' 2>/dev/null");
  return std::string(absl::StripAsciiWhitespace(ReadFileOrEmpty(out)));
}

bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

std::chrono::system_clock::time_point In(absl::Duration d) { return absl::ToChronoTime(absl::Now() + d); }

class LimitsTest : public ::testing::Test {
 protected:
  // One PKI for the suite: making one takes seconds.
  static void SetUpTestSuite() {
    pki_dir_ = new TempDir();
    pki_ = new TestPki(pki_dir_->File("pki"));
    pki_->Issue("kz", "flooder", kFlooder);
    pki_->Issue("kz", "reader", kReader);
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
  }

  LimitsTest() : kz_("kz", *pki_, dir_.path(), ports_) {
    // A system with a tight rate of its own (1 per second, burst 3), and one
    // that may only read.
    v1::MinistryIdentity* flooder = kz_.config().add_ministries();
    flooder->set_spiffe_id(kFlooder);
    flooder->add_grants()->set_role(v1::ROLE_SUBMIT);
    flooder->add_grants()->set_role(v1::ROLE_READ);
    flooder->mutable_rate_limit()->set_requests_per_second(1);
    flooder->mutable_rate_limit()->set_burst(3);
    v1::MinistryIdentity* reader = kz_.config().add_ministries();
    reader->set_spiffe_id(kReader);
    v1::RoleGrant* read = reader->add_grants();
    read->set_role(v1::ROLE_READ);
    read->add_record_types(v1::RECORD_TYPE_CARGO);
    v1::LimitsConfig* limits = kz_.config().mutable_limits();
    limits->set_max_streams_per_identity(2);
    limits->set_max_subscriptions_per_identity(2);
    limits->mutable_stream_idle_timeout()->set_seconds(60);
    limits->set_audited_denials_per_minute(3);
  }

  // The audit entries of `kind` (iicc.v1.AuditEventKind's number):
  // "identity|detail" each.
  std::vector<std::string> Audit(int kind) {
    const std::string rows =
        ShellOutput(absl::StrCat("sqlite3 '", kz_.db_path(),
                                 "' 'SELECT identity, detail FROM audit WHERE kind = ", kind, " ORDER BY sequence'"),
                    dir_);
    return absl::StrSplit(rows, '\n', absl::SkipEmpty());
  }

  int OutboxCount() {
    return std::atoi(ShellOutput("sqlite3 '" + kz_.db_path() + "' 'SELECT COUNT(*) FROM outbox'", dir_).c_str());
  }

  static TempDir* pki_dir_;
  static TestPki* pki_;
  TempDir dir_;
  PairPorts ports_;
  GatewayProcess kz_;
};

TempDir* LimitsTest::pki_dir_ = nullptr;
TestPki* LimitsTest::pki_ = nullptr;

TEST_F(LimitsTest, PastTheBurstCallsAreRefusedNamingTheLimitStoreNothingAndPassAgainAfterRefill) {
  kz_.StartAndWait();
  auto flooder = kz_.MinistryStub("flooder");
  auto other = kz_.MinistryStub();

  // A stream of five: the burst of three is accepted, the rest answered
  // RESOURCE_EXHAUSTED, and the stream goes on to its end.
  int queued = 0;
  {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(20)));
    auto stream = flooder->SubmitStream(&context);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(stream->Write(MakeSubmit(absl::StrCat("f-", i), NumberedCargo("F"))));
    stream->WritesDone();
    std::vector<v1::SubmitResponse> responses;
    v1::SubmitResponse response;
    while (stream->Read(&response)) responses.push_back(response);
    ASSERT_TRUE(stream->Finish().ok());
    ASSERT_EQ(responses.size(), 5u);
    // The refill may have added a token by the last ones.
    for (const v1::SubmitResponse& answer : responses) {
      if (answer.has_error()) {
        EXPECT_EQ(answer.error().code(), "RESOURCE_EXHAUSTED");
        EXPECT_THAT(answer.error().message(), HasSubstr("ministries[1].rate_limit: 1 requests per second, burst 3"));
        EXPECT_TRUE(answer.record_id().empty());
      } else {
        ++queued;
        EXPECT_EQ(answer.state(), v1::DELIVERY_STATE_QUEUED);
      }
    }
    EXPECT_GE(queued, 3);
    EXPECT_LE(queued, 4);
  }

  // A unary call past the limit: the code, the limit, when to retry, and
  // the error as data.
  grpc::Status status;
  grpc::ClientContext refused;
  int accepted = queued;
  {
    v1::SubmitResponse response;
    // Empty the bucket, whatever the refill gave.
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext context;
      status = flooder->Submit(&context, MakeSubmit(absl::StrCat("u-", i), NumberedCargo("U")), &response);
      if (!status.ok()) break;
      ++accepted;
    }
    status = flooder->Submit(&refused, MakeSubmit("u-refused", NumberedCargo("U")), &response);
  }
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("rate limit exceeded (ministries[1].rate_limit"));
  EXPECT_THAT(status.error_message(), HasSubstr("retry after"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("flooder")));
  EXPECT_EQ(refused.GetServerTrailingMetadata().count("iicc-error-bin"), 1u);
  // Reads count too.
  {
    grpc::ClientContext context;
    v1::ListInboundRecordsResponse page;
    EXPECT_EQ(flooder->ListInboundRecords(&context, v1::ListInboundRecordsRequest(), &page).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // Another identity is not slowed by the flood.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(SubmitOrFail(*other, absl::StrCat("o-", i), NumberedCargo("O")).empty());

  // Nothing refused was stored: every outbox row is an accepted answer.
  EXPECT_EQ(OutboxCount(), accepted + 10);

  // After the refill, the next call passes.
  absl::SleepFor(absl::Milliseconds(1100));
  std::string id;
  status = TrySubmit(*flooder, "after-refill", NumberedCargo("A"), &id);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(id.empty());

  // The refusals were counted and audited (throttled: 3 a minute).
  const std::vector<std::string> audited = Audit(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED);
  ASSERT_EQ(audited.size(), 3u);
  for (const std::string& row : audited) {
    EXPECT_THAT(row, HasSubstr(absl::StrCat(kFlooder, "|")));
    EXPECT_THAT(row, HasSubstr("rate_limit"));
  }
  EXPECT_THAT(audited[0], HasSubstr("SubmitStream (cargo)"));
}

TEST_F(LimitsTest, OneStreamOrSubscriptionTooManyIsRefusedUntilOneCloses) {
  kz_.StartAndWait();
  auto client = kz_.MinistryStub();

  // Two SubmitStreams, each answering: open and counted.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderWriter<v1::SubmitRequest, v1::SubmitResponse>>> streams;
  for (int s = 0; s < 2; ++s) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(In(absl::Seconds(30)));
    streams.push_back(client->SubmitStream(contexts.back().get()));
    v1::SubmitResponse response;
    ASSERT_TRUE(streams.back()->Write(MakeSubmit(absl::StrCat("s-", s), NumberedCargo("S"))));
    ASSERT_TRUE(streams.back()->Read(&response));
    EXPECT_FALSE(response.has_error()) << response.DebugString();
  }
  auto third = [&](grpc::Status* status) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    auto stream = client->SubmitStream(&context);
    stream->Write(MakeSubmit("third", NumberedCargo("T")));
    v1::SubmitResponse response;
    const bool answered = stream->Read(&response);
    stream->WritesDone();
    while (stream->Read(&response)) {
    }
    *status = stream->Finish();
    return answered;
  };
  grpc::Status status;
  EXPECT_FALSE(third(&status));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("limits.max_streams_per_identity: 2"));
  // The refused stream stored nothing: two records, from the two streams.
  EXPECT_EQ(OutboxCount(), 2);

  // Another identity has its own count.
  {
    grpc::ClientContext context;
    auto stream = kz_.MinistryStub("flooder")->SubmitStream(&context);
    ASSERT_TRUE(stream->Write(MakeSubmit("flooder-stream", NumberedCargo("F"))));
    v1::SubmitResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_FALSE(response.has_error());
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }

  // One closes: the next one is let in (once the server has seen it close).
  streams[0]->WritesDone();
  ASSERT_TRUE(streams[0]->Finish().ok());
  EXPECT_TRUE(Eventually([&] { return third(&status) && status.ok(); }, absl::Seconds(5)))
      << status.error_code() << ": " << status.error_message();
  streams[1]->WritesDone();
  EXPECT_TRUE(streams[1]->Finish().ok());

  // Subscriptions: two open, the third refused, room again when one ends.
  std::vector<std::unique_ptr<grpc::ClientContext>> subscription_contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::InboundRecord>>> subscriptions;
  for (int s = 0; s < 2; ++s) {
    subscription_contexts.push_back(std::make_unique<grpc::ClientContext>());
    subscriptions.push_back(client->Subscribe(subscription_contexts.back().get(), v1::SubscribeRequest()));
    subscriptions.back()->WaitForInitialMetadata();
  }
  auto subscribe = [&](v1::MinistryGateway::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Milliseconds(500)));
    auto reader = stub.Subscribe(&context, v1::SubscribeRequest());
    v1::InboundRecord record;
    while (reader->Read(&record)) {
    }
    // An admitted subscription waits for records until its deadline.
    return reader->Finish();
  };
  status = subscribe(*client);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("limits.max_subscriptions_per_identity: 2"));
  EXPECT_EQ(subscribe(*kz_.MinistryStub("reader")).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  subscription_contexts[0]->TryCancel();
  subscriptions[0]->Finish();
  EXPECT_TRUE(Eventually([&] { return subscribe(*client).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED; },
                         absl::Seconds(5)));
  subscription_contexts[1]->TryCancel();
  subscriptions[1]->Finish();

  // The refusals were counted for /metrics and audited.
  EXPECT_GE(Audit(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED).size(), 2u);
}

TEST_F(LimitsTest, AnIdleSubmitStreamIsCutAndAWaitingSubscriptionIsNot) {
  kz_.config().mutable_limits()->mutable_stream_idle_timeout()->set_seconds(0);
  kz_.config().mutable_limits()->mutable_stream_idle_timeout()->set_nanos(500'000'000);
  kz_.StartAndWait();
  auto client = kz_.MinistryStub();

  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(20)));
  auto stream = client->SubmitStream(&context);
  ASSERT_TRUE(stream->Write(MakeSubmit("before-idle", NumberedCargo("I"))));
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_FALSE(response.has_error());
  // Then nothing: the gateway ends the stream, long before the deadline.
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("limits.stream_idle_timeout"));

  // A subscription that waits for records is not idle: it lasts until its
  // own deadline, well past the idle timeout.
  grpc::ClientContext subscribe_context;
  subscribe_context.set_deadline(In(absl::Seconds(2)));
  auto reader = client->Subscribe(&subscribe_context, v1::SubscribeRequest());
  v1::InboundRecord record;
  EXPECT_FALSE(reader->Read(&record));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(kz_.log(), HasSubstr("stream.idle_cut"));
}

TEST_F(LimitsTest, DeniedCallsAreAuditedThrottledPerIdentityAndStoreNothing) {
  kz_.StartAndWait();
  auto reader = kz_.MinistryStub("reader");
  const v1::Record record = NumberedCargo("SECRET-CONSIGNMENT-42");
  for (int i = 0; i < 10; ++i) {
    std::string id;
    const grpc::Status status = TrySubmit(*reader, absl::StrCat("r-", i), record, &id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  // A type it may not read, on the stream that checks types up front.
  {
    grpc::ClientContext context;
    v1::SubscribeRequest request;
    request.add_record_types(v1::RECORD_TYPE_ENTERPRISE);
    auto subscription = reader->Subscribe(&context, request);
    v1::InboundRecord inbound;
    EXPECT_FALSE(subscription->Read(&inbound));
    EXPECT_EQ(subscription->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Three a minute are audited one by one, with the caller, the method and
  // the record type; never the record's content.
  std::vector<std::string> denied;
  ASSERT_TRUE(Eventually(
      [&] {
        denied = Audit(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE);
        return denied.size() >= 3;
      },
      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));  // Nothing more comes.
  denied = Audit(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE);
  ASSERT_EQ(denied.size(), 3u);
  for (const std::string& row : denied) {
    EXPECT_THAT(row, HasSubstr(absl::StrCat(kReader, "|Submit: ")));
    EXPECT_THAT(row, HasSubstr("cargo"));
    EXPECT_THAT(row, Not(HasSubstr("SECRET")));
  }
  EXPECT_EQ(OutboxCount(), 0);

  // The rest is counted; the count is written when the minute ends, or at
  // the latest when the gateway stops.
  EXPECT_EQ(kz_.Terminate(), 0) << kz_.log();
  const std::vector<std::string> counted = Audit(v1::AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED);
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_THAT(counted[0], HasSubstr(absl::StrCat(kReader, "|8 more denied calls")));
  const std::string verify =
      ShellOutput("'" + BinDir() + "/iicc-cli' audit verify '" + kz_.db_path() + "'; echo \"exit $?\"", dir_);
  EXPECT_THAT(verify, ::testing::EndsWith("exit 0")) << verify;
  const std::string exported = ShellOutput("'" + BinDir() + "/iicc-cli' audit export '" + kz_.db_path() + "'", dir_);
  EXPECT_THAT(exported, HasSubstr("AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED"));
  EXPECT_THAT(exported, Not(HasSubstr("SECRET")));
}

// A peer that stops answering (SIGSTOP: its sockets stay open, nothing is
// read) holds the forwarder for limits.receipt_timeout, not for ever; after
// SIGCONT everything arrives, once, in order.
TEST(ReceiptTimeoutTest, AFrozenPeerEndsTheSessionAndEverythingIsDeliveredOnceAfterIt) {
  TempDir dir;
  TestPki pki(dir.File("pki"));
  PairPorts ports;
  GatewayProcess kz("kz", pki, dir.path(), ports);
  GatewayProcess uz("uz", pki, dir.path(), ports);
  kz.config().mutable_limits()->mutable_receipt_timeout()->set_seconds(1);
  kz.config().mutable_peer()->mutable_max_backoff()->set_seconds(1);
  kz.StartAndWait();
  uz.StartAndWait();
  auto stub = kz.MinistryStub();
  std::vector<std::string> ids;
  ids.push_back(SubmitOrFail(*stub, "before", NumberedCargo("B")));
  ASSERT_EQ(WaitForOutcome(*stub, ids[0]).state(), v1::DELIVERY_STATE_DELIVERED);

  uz.Signal(SIGSTOP);
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitOrFail(*stub, absl::StrCat("frozen-", i), NumberedCargo("F")));
  EXPECT_TRUE(
      Eventually([&] { return kz.log().find("limits.receipt_timeout") != std::string::npos; }, absl::Seconds(10)))
      << kz.log();
  uz.Signal(SIGCONT);
  for (const std::string& id : ids) {
    EXPECT_EQ(WaitForOutcome(*stub, id).state(), v1::DELIVERY_STATE_DELIVERED) << id;
  }
  EXPECT_THAT(RecordIds(ListAllInbound(*uz.MinistryStub())), ::testing::ElementsAreArray(ids));
  StopTogether({&kz, &uz});
}

}  // namespace
}  // namespace iicc::testing
