// PeerService's Deliver stream on its own: a real PeerService and
// EnvelopeReceiver served in this process over loopback mutual TLS (KZ's peer
// face, with KZ's gateway certificate), fed by a raw client holding UZ's
// gateway certificate, storing into a real SqliteStore behind a wrapper that
// can hold back or fail the first inbound commit. The stream judges one batch
// while it commits the one before; these tests check what that must not
// change: batches are stored in the order they came, and nothing judged
// after a refused batch is stored.
#include "gateway/exchange/peer_service.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/thread_pool.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/tls.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iicc/v1/config.pb.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"
#include "tests/testing/signed_envelopes.h"
#include "tests/testing/test_env.h"
#include "tests/testing/test_policies.h"

namespace iicc::exchange {
namespace {

using ::testing::ElementsAreArray;

constexpr char kKzGateway[] = "spiffe://kz.iicc/gateway";
constexpr char kUzGateway[] = "spiffe://uz.iicc/gateway";

// A real SqliteStore whose first CommitInboundBatch waits `first_delay`
// first, then fails as a full disk does if `fail_first`. Counts the inbound
// commits that reached the real store.
class FirstCommitStore final : public store::Store {
 public:
  FirstCommitStore(std::unique_ptr<store::SqliteStore> store, absl::Duration first_delay, bool fail_first)
      : store_(std::move(store)), first_delay_(first_delay), fail_first_(fail_first) {}

  absl::StatusOr<std::vector<store::InboundOutcome>> CommitInboundBatch(
      const std::vector<store::InboundCommit>& commits) override {
    if (calls_++ == 0) {
      absl::SleepFor(first_delay_);
      if (fail_first_) return absl::ResourceExhaustedError("database or disk is full");
    }
    ++stored_;
    return store_->CommitInboundBatch(commits);
  }
  // The CommitInboundBatch calls, and those that reached the real store.
  int calls() const { return calls_; }
  int stored() const { return stored_; }

  absl::StatusOr<store::AcceptOutcome> AcceptOutbound(const store::OutboundRecord& record) override {
    return store_->AcceptOutbound(record);
  }
  absl::StatusOr<std::vector<store::AcceptOutcome>> AcceptOutboundBatch(
      const std::vector<store::OutboundRecord>& records) override {
    return store_->AcceptOutboundBatch(records);
  }
  absl::StatusOr<store::OutboundStatus> GetOutboundStatus(absl::string_view record_id) override {
    return store_->GetOutboundStatus(record_id);
  }
  absl::StatusOr<std::vector<store::PendingEnvelope>> ListPending(int64_t after, int limit) override {
    return store_->ListPending(after, limit);
  }
  absl::Status RecordOutcomes(const std::vector<store::Outcome>& outcomes) override {
    return store_->RecordOutcomes(outcomes);
  }
  absl::StatusOr<int64_t> CountPending() override { return store_->CountPending(); }
  absl::StatusOr<absl::Time> OldestPendingAcceptedTime() override { return store_->OldestPendingAcceptedTime(); }
  absl::Status CheckWritable() override { return store_->CheckWritable(); }
  absl::StatusOr<std::vector<store::InboxEntry>> ListInbox(int64_t after, const std::vector<v1::RecordType>& types,
                                                           int limit) override {
    return store_->ListInbox(after, types, limit);
  }
  absl::StatusOr<std::string> GetInboundReceipt(absl::string_view record_id) override {
    return store_->GetInboundReceipt(record_id);
  }
  absl::StatusOr<int64_t> InboxHighWater() override { return store_->InboxHighWater(); }
  absl::Status AppendAudit(const store::AuditEvent& event) override { return store_->AppendAudit(event); }
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int64_t after, int limit) override {
    return store_->ListAudit(after, limit);
  }

 private:
  const std::unique_ptr<store::SqliteStore> store_;
  const absl::Duration first_delay_;
  const bool fail_first_;
  std::atomic<int> calls_{0};
  std::atomic<int> stored_{0};
};

std::string RecordIdOf(const v1::Envelope& envelope) {
  v1::EnvelopeHeader header;
  EXPECT_TRUE(header.ParseFromString(envelope.header()));
  return header.record_id();
}

// KZ's peer face in this process: PeerService and its EnvelopeReceiver on
// `store`, with the gateway's worker pool.
class PeerFace {
 public:
  explicit PeerFace(store::Store* store)
      : policy_(testing::KeepAllPolicy(v1::JURISDICTION_KZ)),
        signer_(Load(proof::Signer::Load(testing::SharedPki().File("kz", "signing.crt"),
                                         testing::SharedPki().File("kz", "signing.key")))),
        verifier_(Load(proof::Verifier::Create({testing::SharedPki().File("uz", "ca.crt")}))),
        receiver_(v1::JURISDICTION_KZ, store, &policy_, signer_.get(), verifier_.get(), kUzGateway, &inbox_),
        service_(kUzGateway, &receiver_, &workers_, kMaxFrameBytes) {
    v1::TlsConfig tls;
    tls.set_cert_file(testing::SharedPki().File("kz", "gateway.crt"));
    tls.set_key_file(testing::SharedPki().File("kz", "gateway.key"));
    tls.set_ca_file(testing::SharedPki().File("uz", "ca.crt"));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(
        "127.0.0.1:0", security::MakeServerCredentials(tls, security::MakeSpiffeVerifier(std::string(kUzGateway))),
        &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~PeerFace() {
    if (server_ == nullptr) return;
    service_.Close();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    server_->Wait();
    workers_.WaitIdle();
  }

  bool serving() const { return server_ != nullptr && port_ > 0; }

  // A Deliver stub as UZ's gateway, which announces that it reads frames of
  // receipts.
  std::unique_ptr<v1::PeerExchange::Stub> UzStub() const {
    v1::TlsConfig tls;
    tls.set_cert_file(testing::SharedPki().File("uz", "gateway.crt"));
    tls.set_key_file(testing::SharedPki().File("uz", "gateway.key"));
    tls.set_ca_file(testing::SharedPki().File("kz", "ca.crt"));
    return v1::PeerExchange::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_),
        security::MakeChannelCredentials(tls, security::MakeSpiffeVerifier(std::string(kKzGateway)))));
  }

 private:
  template <typename T>
  static T Load(absl::StatusOr<T> loaded) {
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? *std::move(loaded) : T();
  }

  SequenceNotifier inbox_;
  policy::ActivePolicy policy_;
  const std::unique_ptr<proof::Signer> signer_;
  const std::unique_ptr<proof::Verifier> verifier_;
  EnvelopeReceiver receiver_;
  ThreadPool workers_{4};
  PeerService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// What came back on a Deliver stream: each answer, as the record id of an
// accepted receipt or "refused <id>", and how the stream ended.
struct Answers {
  std::vector<std::string> answers;
  grpc::Status status;
};

// Sends `frames` (each a frame of envelopes) on one Deliver stream, half-
// closes it, and reads every answer.
Answers Deliver(v1::PeerExchange::Stub& stub, const std::vector<std::vector<v1::Envelope>>& frames) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  context.AddMetadata(kFrameBytesMetadataKey, absl::StrCat(kMaxFrameBytes));
  auto stream = stub.Deliver(&context);
  for (const std::vector<v1::Envelope>& envelopes : frames) {
    v1::DeliverRequest frame;
    for (const v1::Envelope& envelope : envelopes) *frame.add_envelopes() = envelope;
    if (!stream->Write(frame)) break;
  }
  stream->WritesDone();
  Answers out;
  v1::DeliverResponse response;
  while (stream->Read(&response)) {
    for (const v1::Receipt& receipt : response.receipts()) {
      v1::ReceiptHeader header;
      EXPECT_TRUE(header.ParseFromString(receipt.header()));
      out.answers.push_back(header.verdict() == v1::RECEIPT_VERDICT_ACCEPTED ? header.record_id() : "rejected");
    }
    if (response.has_refusal()) out.answers.push_back("refused " + response.refusal().record_id());
  }
  out.status = stream->Finish();
  return out;
}

std::vector<std::string> InboxRecordIds(store::Store& store) {
  absl::StatusOr<std::vector<store::InboxEntry>> inbox = store.ListInbox(0, {}, 10000);
  EXPECT_TRUE(inbox.ok()) << inbox.status();
  std::vector<std::string> ids;
  if (inbox.ok()) {
    for (const store::InboxEntry& entry : *inbox) ids.push_back(entry.record_id);
  }
  return ids;
}

class PeerServiceTest : public ::testing::Test {
 protected:
  std::unique_ptr<store::SqliteStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  testing::TempDir dir_;
};

// Three full batches, the first one's commit held back for a second (judging
// a batch takes milliseconds), so that the next is judged behind it and would
// be stored first if commits did not keep their order: stored and answered in
// the order they came, each in its own commit.
TEST_F(PeerServiceTest, BatchesAreStoredAndAnsweredInTheOrderTheyCame) {
  std::unique_ptr<store::SqliteStore> sqlite = OpenStore();
  ASSERT_NE(sqlite, nullptr);
  FirstCommitStore store(std::move(sqlite), absl::Seconds(1), /*fail_first=*/false);
  PeerFace face(&store);
  ASSERT_TRUE(face.serving());

  const std::vector<v1::Envelope> envelopes = testing::SignedCargoEnvelopes(testing::SharedPki(), 3 * kMaxFrameItems);
  std::vector<std::vector<v1::Envelope>> frames(3);
  std::vector<std::string> sent;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    frames[i / kMaxFrameItems].push_back(envelopes[i]);
    sent.push_back(RecordIdOf(envelopes[i]));
  }
  const Answers answers = Deliver(*face.UzStub(), frames);
  ASSERT_TRUE(answers.status.ok()) << answers.status.error_message();
  EXPECT_THAT(answers.answers, ElementsAreArray(sent));
  EXPECT_THAT(InboxRecordIds(store), ElementsAreArray(sent));
  EXPECT_EQ(store.stored(), 3);  // A batch of 256 per commit.
}

// The first batch's commit fails (a full disk) after a second, while the
// second batch is judged behind it: the stream answers one retryable refusal,
// for the first envelope, and ends; the second batch is never stored, so the
// sender's resend keeps the link's order.
TEST_F(PeerServiceTest, NothingJudgedBehindARefusedBatchIsStored) {
  std::unique_ptr<store::SqliteStore> sqlite = OpenStore();
  ASSERT_NE(sqlite, nullptr);
  FirstCommitStore store(std::move(sqlite), absl::Seconds(1), /*fail_first=*/true);
  PeerFace face(&store);
  ASSERT_TRUE(face.serving());

  const std::vector<v1::Envelope> envelopes = testing::SignedCargoEnvelopes(testing::SharedPki(), 2 * kMaxFrameItems);
  const std::vector<std::vector<v1::Envelope>> frames = {{envelopes.begin(), envelopes.begin() + kMaxFrameItems},
                                                         {envelopes.begin() + kMaxFrameItems, envelopes.end()}};
  const Answers refused = Deliver(*face.UzStub(), frames);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.status.error_message();
  EXPECT_THAT(refused.answers, ElementsAreArray({"refused " + RecordIdOf(envelopes[0])}));
  EXPECT_EQ(store.calls(), 1);
  EXPECT_EQ(store.stored(), 0);
  EXPECT_TRUE(InboxRecordIds(store).empty());

  // The sender resends from the refused envelope, on a new stream: all of
  // it arrives, in order.
  const Answers resent = Deliver(*face.UzStub(), frames);
  ASSERT_TRUE(resent.status.ok()) << resent.status.error_message();
  std::vector<std::string> sent;
  for (const v1::Envelope& envelope : envelopes) sent.push_back(RecordIdOf(envelope));
  EXPECT_THAT(resent.answers, ElementsAreArray(sent));
  EXPECT_THAT(InboxRecordIds(store), ElementsAreArray(sent));
}

}  // namespace
}  // namespace iicc::exchange
