#include "gateway/exchange/envelope_receiver.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/store/sqlite_store.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/full_disk_store.h"
#include "tests/testing/test_env.h"
#include "tests/testing/test_policies.h"

namespace iicc::exchange {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

using ::iicc::testing::TempDir;

using ::iicc::testing::Sha256Of;

v1::Record CargoRecord(const std::string& consignment_id) {
  v1::Record record;
  v1::CargoRecord* cargo = record.mutable_cargo();
  cargo->set_consignment_id(consignment_id);
  cargo->set_direction(v1::DIRECTION_UZ_TO_KZ);
  cargo->set_checkpoint(v1::CHECKPOINT_GULISTAN);
  v1::GoodsLine* goods = cargo->add_goods();
  goods->set_hs6("080810");
  goods->set_national_code("0808108000");
  goods->set_gross_kg(1000);
  goods->set_net_kg(950);
  goods->set_unit("KGM");
  return record;
}

// The sender's view of one envelope, before it is assembled: tests change a
// field to break exactly one thing.
struct EnvelopeParts {
  v1::EnvelopeHeader header;
  std::string payload;
};

// A well-formed envelope from UZ to KZ carrying `record`, as the sending
// gateway builds it.
EnvelopeParts Parts(const std::string& record_id, const v1::Record& record) {
  EnvelopeParts parts;
  parts.payload = record.SerializeAsString();
  parts.header.set_record_id(record_id);
  parts.header.set_origin(v1::JURISDICTION_UZ);
  parts.header.set_destination(v1::JURISDICTION_KZ);
  parts.header.set_record_type(v1::RECORD_TYPE_CARGO);
  *parts.header.mutable_accepted_time() = TimeUtil::GetCurrentTime();  // Within the signing certificate's validity.
  parts.header.set_payload_digest(Sha256Of(parts.payload));
  return parts;
}

std::unique_ptr<proof::Signer> SignerOf(const std::string& side, const std::string& name = "signing") {
  absl::StatusOr<std::unique_ptr<proof::Signer>> signer = proof::Signer::Load(
      testing::SharedPki().File(side, name + ".crt"), testing::SharedPki().File(side, name + ".key"));
  EXPECT_TRUE(signer.ok()) << signer.status();
  return signer.ok() ? *std::move(signer) : nullptr;
}

// The UZ gateway's signing key, as the sender's.
const proof::Signer& UzSigner() {
  static const proof::Signer* const signer = SignerOf("uz").release();
  return *signer;
}

// The envelope as the sending gateway assembles it: the header signed by
// `signer` (a batch of one).
v1::Envelope Assemble(const EnvelopeParts& parts, const proof::Signer& signer = UzSigner()) {
  v1::Envelope envelope;
  envelope.set_header(parts.header.SerializeAsString());
  absl::StatusOr<std::vector<v1::BatchProof>> proof = signer.SignBatch(proof::Purpose::kEnvelope, {envelope.header()});
  EXPECT_TRUE(proof.ok()) << proof.status();
  if (proof.ok()) *envelope.mutable_proof() = proof->front();
  envelope.set_payload(parts.payload);
  return envelope;
}

std::unique_ptr<proof::Verifier> VerifierOf(const std::string& side) {
  absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier =
      proof::Verifier::Create({testing::SharedPki().File(side, "ca.crt")});
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return verifier.ok() ? *std::move(verifier) : nullptr;
}

constexpr char kUzGateway[] = "spiffe://uz.iicc/gateway";

v1::Envelope MakeEnvelope(const std::string& record_id, const v1::Record& record) {
  return Assemble(Parts(record_id, record));
}

constexpr char kRecordId[] = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee";
constexpr char kOtherRecordId[] = "0190aaaa-bbbb-7ccc-8ddd-ffffffffffff";

class EnvelopeReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    receiver_ = std::make_unique<EnvelopeReceiver>(v1::JURISDICTION_KZ, store_.get(), &policy_, kz_signer_.get(),
                                                   uz_verifier_.get(), kUzGateway, &inbox_);
  }

  std::vector<v1::AuditEntry> Audit() {
    absl::StatusOr<std::vector<v1::AuditEntry>> entries = store_->ListAudit(0, 1000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<v1::AuditEntry>{};
  }

  // Rejected, audited as INBOUND_REJECT with `reason_start`, and nothing
  // stored under the record id: the genuine envelope is accepted afterwards.
  void ExpectRejectedUnstoredThenGenuineAccepted(const v1::Envelope& bad, const std::string& reason_start) {
    ExpectRejectedAndNotStored(bad);
    const std::vector<v1::AuditEntry> audit = Audit();
    ASSERT_FALSE(audit.empty());
    EXPECT_EQ(audit.back().kind(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT);
    EXPECT_EQ(audit.back().record_id(), kRecordId);
    EXPECT_TRUE(absl::StartsWith(audit.back().detail(), reason_start)) << audit.back().detail();
    const v1::DeliverResponse genuine = receiver_->Receive(MakeEnvelope(kRecordId, CargoRecord("C-1")));
    EXPECT_EQ(ReceiptHeaderOf(genuine).verdict(), v1::RECEIPT_VERDICT_ACCEPTED) << genuine.DebugString();
    EXPECT_EQ(Inbox().size(), 1u);
  }

  std::vector<store::InboxEntry> Inbox() {
    absl::StatusOr<std::vector<store::InboxEntry>> entries = store_->ListInbox(0, {}, 1000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<store::InboxEntry>{};
  }

  // The receipt's header; fails the test when the response is not a receipt.
  static v1::ReceiptHeader ReceiptHeaderOf(const v1::DeliverResponse& response) {
    v1::ReceiptHeader header;
    EXPECT_TRUE(response.has_receipt()) << response.DebugString();
    EXPECT_TRUE(header.ParseFromString(response.receipt().header())) << response.DebugString();
    return header;
  }

  // Expects `envelope` to be rejected for good, with a reason, and the inbox
  // and notifier left as they were.
  void ExpectRejectedAndNotStored(const v1::Envelope& envelope) {
    const int64_t high_water = inbox_.high_water();
    const size_t inbox_size = Inbox().size();
    const v1::DeliverResponse response = receiver_->Receive(envelope);
    ASSERT_TRUE(response.has_receipt()) << response.DebugString();
    const v1::ReceiptHeader header = ReceiptHeaderOf(response);
    EXPECT_EQ(header.verdict(), v1::RECEIPT_VERDICT_REJECTED);
    EXPECT_NE(header.reason(), "");
    EXPECT_EQ(header.receiver(), v1::JURISDICTION_KZ);
    EXPECT_EQ(header.payload_digest(), Sha256Of(envelope.payload()));
    EXPECT_EQ(Inbox().size(), inbox_size);
    EXPECT_EQ(inbox_.high_water(), high_water);
  }

  TempDir dir_;
  const std::unique_ptr<proof::Signer> kz_signer_ = SignerOf("kz");
  const std::unique_ptr<proof::Verifier> uz_verifier_ = VerifierOf("uz");
  std::unique_ptr<store::SqliteStore> store_;
  SequenceNotifier inbox_;
  // Lets everything in unchanged: these tests are about the receiver.
  policy::ActivePolicy policy_{testing::KeepAllPolicy(v1::JURISDICTION_KZ)};
  std::unique_ptr<EnvelopeReceiver> receiver_;
};

TEST_F(EnvelopeReceiverTest, AcceptsAWellFormedEnvelope) {
  const v1::Record record = CargoRecord("C-1");
  const v1::Envelope envelope = MakeEnvelope(kRecordId, record);
  const absl::Time before = absl::Now();
  const v1::DeliverResponse response = receiver_->Receive(envelope);
  const absl::Time after = absl::Now();

  ASSERT_TRUE(response.has_receipt()) << response.DebugString();
  EXPECT_FALSE(response.has_refusal());
  const v1::ReceiptHeader header = ReceiptHeaderOf(response);
  EXPECT_EQ(header.record_id(), kRecordId);
  EXPECT_EQ(header.verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  EXPECT_EQ(header.reason(), "");
  EXPECT_EQ(header.receiver(), v1::JURISDICTION_KZ);
  EXPECT_EQ(header.payload_digest(), Sha256Of(envelope.payload()));
  const absl::Time received = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(header.received_time()));
  EXPECT_GE(received, before);
  EXPECT_LE(received, after);

  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].sequence, 1);
  EXPECT_EQ(inbox[0].record_id, kRecordId);
  EXPECT_EQ(inbox[0].origin, v1::JURISDICTION_UZ);
  EXPECT_EQ(inbox[0].record_type, v1::RECORD_TYPE_CARGO);
  EXPECT_EQ(inbox[0].received_time, received);
  v1::Record stored;
  ASSERT_TRUE(stored.ParseFromString(inbox[0].record));
  EXPECT_TRUE(MessageDifferencer::Equals(stored, record)) << stored.DebugString();

  EXPECT_EQ(inbox_.high_water(), 1);
}

TEST_F(EnvelopeReceiverTest, PublishesEachNewSequence) {
  int woken = 0;
  ASSERT_NE(inbox_.Watch(1, [&woken] { ++woken; }), 0u);
  receiver_->Receive(MakeEnvelope(kRecordId, CargoRecord("C-1")));
  EXPECT_EQ(inbox_.high_water(), 1);
  EXPECT_EQ(woken, 0);
  receiver_->Receive(MakeEnvelope(kOtherRecordId, CargoRecord("C-2")));
  EXPECT_EQ(inbox_.high_water(), 2);
  EXPECT_EQ(woken, 1);
  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[1].record_id, kOtherRecordId);
  EXPECT_EQ(inbox[1].sequence, 2);
}

// A valid record from clients/examples/<name>.json.
v1::Record Example(const std::string& name) {
  v1::Record record;
  const auto status = google::protobuf::util::JsonStringToMessage(
      testing::ReadFileOrEmpty(testing::SourceDir() + "/clients/examples/" + name + ".json"), &record);
  EXPECT_TRUE(status.ok()) << name << ": " << status.message();
  return record;
}

TEST_F(EnvelopeReceiverTest, AcceptsEveryRecordType) {
  const v1::Record enterprise = Example("enterprise");
  const v1::Record investment = Example("investment");
  EnvelopeParts first = Parts(kRecordId, enterprise);
  first.header.set_record_type(v1::RECORD_TYPE_ENTERPRISE);
  EnvelopeParts second = Parts(kOtherRecordId, investment);
  second.header.set_record_type(v1::RECORD_TYPE_INVESTMENT);
  EXPECT_EQ(ReceiptHeaderOf(receiver_->Receive(Assemble(first))).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  EXPECT_EQ(ReceiptHeaderOf(receiver_->Receive(Assemble(second))).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].record_type, v1::RECORD_TYPE_ENTERPRISE);
  EXPECT_EQ(inbox[1].record_type, v1::RECORD_TYPE_INVESTMENT);
}

TEST_F(EnvelopeReceiverTest, DuplicateGetsTheOriginalReceiptByteForByte) {
  const v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  const v1::DeliverResponse first = receiver_->Receive(envelope);
  ASSERT_TRUE(first.has_receipt());
  absl::SleepFor(absl::Milliseconds(2));  // A new receipt would carry a new time.
  const v1::DeliverResponse second = receiver_->Receive(envelope);
  ASSERT_TRUE(second.has_receipt()) << second.DebugString();
  EXPECT_EQ(second.receipt().SerializeAsString(), first.receipt().SerializeAsString());
  EXPECT_EQ(second.receipt().header(), first.receipt().header());
  EXPECT_EQ(Inbox().size(), 1u);
  EXPECT_EQ(inbox_.high_water(), 1);
}

TEST_F(EnvelopeReceiverTest, DuplicateOfARejectedEnvelopeGetsTheOriginalRejection) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_record_type(v1::RECORD_TYPE_ENTERPRISE);  // Rejected: type mismatch.
  const v1::Envelope envelope = Assemble(parts);
  const v1::DeliverResponse first = receiver_->Receive(envelope);
  ASSERT_EQ(ReceiptHeaderOf(first).verdict(), v1::RECEIPT_VERDICT_REJECTED);
  absl::SleepFor(absl::Milliseconds(2));
  const v1::DeliverResponse second = receiver_->Receive(envelope);
  EXPECT_EQ(second.receipt().SerializeAsString(), first.receipt().SerializeAsString());
  EXPECT_TRUE(Inbox().empty());
}

TEST_F(EnvelopeReceiverTest, SameRecordIdWithAnotherPayloadIsRejectedAndTheStoredRecordStays) {
  const v1::Record original = CargoRecord("C-1");
  const v1::DeliverResponse first = receiver_->Receive(MakeEnvelope(kRecordId, original));
  ASSERT_EQ(ReceiptHeaderOf(first).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);

  const v1::Envelope impostor = MakeEnvelope(kRecordId, CargoRecord("C-forged"));
  const v1::DeliverResponse second = receiver_->Receive(impostor);
  const v1::ReceiptHeader header = ReceiptHeaderOf(second);
  EXPECT_EQ(header.verdict(), v1::RECEIPT_VERDICT_REJECTED);
  EXPECT_EQ(header.record_id(), kRecordId);
  EXPECT_NE(header.reason(), "");
  EXPECT_EQ(header.payload_digest(), Sha256Of(impostor.payload()));

  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  v1::Record stored;
  ASSERT_TRUE(stored.ParseFromString(inbox[0].record));
  EXPECT_TRUE(MessageDifferencer::Equals(stored, original)) << stored.DebugString();
  EXPECT_EQ(inbox_.high_water(), 1);

  // The original is still answered with its original receipt.
  const v1::DeliverResponse again = receiver_->Receive(MakeEnvelope(kRecordId, original));
  EXPECT_EQ(again.receipt().SerializeAsString(), first.receipt().SerializeAsString());
}

TEST_F(EnvelopeReceiverTest, WrongDestinationIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_destination(v1::JURISDICTION_UZ);
  ExpectRejectedAndNotStored(Assemble(parts));
  parts.header.set_destination(v1::JURISDICTION_UNSPECIFIED);
  parts.header.set_record_id(kOtherRecordId);
  ExpectRejectedAndNotStored(Assemble(parts));
}

TEST_F(EnvelopeReceiverTest, WrongOriginIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_origin(v1::JURISDICTION_KZ);  // From ourselves.
  ExpectRejectedAndNotStored(Assemble(parts));
  parts.header.set_origin(v1::JURISDICTION_UNSPECIFIED);
  parts.header.set_record_id(kOtherRecordId);
  ExpectRejectedAndNotStored(Assemble(parts));
}

TEST_F(EnvelopeReceiverTest, DigestMismatchIsRejectedAndDoesNotBlockTheGenuineRecord) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_payload_digest(Sha256Of("something else"));
  ExpectRejectedUnstoredThenGenuineAccepted(Assemble(parts), "the payload does not match");

  // A payload altered in transit, header untouched.
  EnvelopeParts altered = Parts(kOtherRecordId, CargoRecord("C-1"));
  altered.payload = CargoRecord("C-2").SerializeAsString();
  ExpectRejectedAndNotStored(Assemble(altered));
}

// ---------------------------------------------------------------------------
// Signatures: checked before anything else.

TEST_F(EnvelopeReceiverTest, ReceiptIsSignedByTheReceiverAndCarriesItsPolicyVersion) {
  const v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  const v1::DeliverResponse response = receiver_->Receive(envelope);
  const v1::ReceiptHeader header = ReceiptHeaderOf(response);
  EXPECT_EQ(header.policy_version(), policy_.Get()->version());
  const std::unique_ptr<proof::Verifier> kz = VerifierOf("kz");
  const absl::Time received = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(header.received_time()));
  absl::StatusOr<proof::Verifier::Verified> verified =
      kz->Verify(proof::Purpose::kReceipt, response.receipt().header(), response.receipt().proof(),
                 "spiffe://kz.iicc/gateway", received);
  EXPECT_TRUE(verified.ok()) << verified.status();
  // Audited with the sender's identity and the payload digest.
  const std::vector<v1::AuditEntry> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].kind(), v1::AUDIT_EVENT_KIND_RECEIVE);
  EXPECT_EQ(audit[0].identity(), kUzGateway);
  EXPECT_EQ(audit[0].digest(), Sha256Of(envelope.payload()));
}

TEST_F(EnvelopeReceiverTest, UnsignedEnvelopeIsRejectedAuditedAndNotStored) {
  v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  envelope.clear_proof();
  ExpectRejectedUnstoredThenGenuineAccepted(envelope, "bad signature");
}

TEST_F(EnvelopeReceiverTest, TamperedSignatureIsRejected) {
  v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  std::string signature = envelope.proof().signature();
  signature[signature.size() / 2] ^= 0x01;
  envelope.mutable_proof()->set_signature(signature);
  ExpectRejectedUnstoredThenGenuineAccepted(envelope, "bad signature");
}

// The header is what is signed: changing any of it breaks the signature.
TEST_F(EnvelopeReceiverTest, HeaderChangedAfterSigningIsRejected) {
  v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  header.set_policy_version("another policy");
  envelope.set_header(header.SerializeAsString());
  ExpectRejectedUnstoredThenGenuineAccepted(envelope, "bad signature");
}

// Signed under our own CA (as KZ): not the peer.
TEST_F(EnvelopeReceiverTest, EnvelopeSignedUnderAnotherCaIsRejected) {
  const std::unique_ptr<proof::Signer> kz = SignerOf("kz");
  ExpectRejectedUnstoredThenGenuineAccepted(Assemble(Parts(kRecordId, CargoRecord("C-1")), *kz),
                                            "bad signature: certificate chain");
}

// Signed under the peer's CA, but not by its gateway.
TEST_F(EnvelopeReceiverTest, EnvelopeSignedByAnotherPeerIdentityIsRejected) {
  testing::SharedPki().Issue("uz", "rogue-signer", "spiffe://uz.iicc/rogue", "signing");
  const std::unique_ptr<proof::Signer> rogue = SignerOf("uz", "rogue-signer");
  ASSERT_NE(rogue, nullptr);
  ExpectRejectedUnstoredThenGenuineAccepted(Assemble(Parts(kRecordId, CargoRecord("C-1")), *rogue),
                                            "bad signature: signer spiffe://uz.iicc/rogue is not the expected");
}

TEST_F(EnvelopeReceiverTest, PayloadThatIsNotARecordIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.payload = std::string("\xff\xff\xff\xff\xff", 5);
  parts.header.set_payload_digest(Sha256Of(parts.payload));
  ExpectRejectedAndNotStored(Assemble(parts));
}

TEST_F(EnvelopeReceiverTest, EmptyRecordIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, v1::Record());
  parts.header.set_record_type(v1::RECORD_TYPE_UNSPECIFIED);
  ExpectRejectedAndNotStored(Assemble(parts));
}

TEST_F(EnvelopeReceiverTest, RecordTypeMismatchIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_record_type(v1::RECORD_TYPE_INVESTMENT);
  ExpectRejectedAndNotStored(Assemble(parts));
}

TEST_F(EnvelopeReceiverTest, MalformedHeaderIsRejected) {
  v1::Envelope envelope = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  envelope.set_header(std::string("\xff\xff\xff\xff", 4));
  ExpectRejectedAndNotStored(envelope);
}

TEST_F(EnvelopeReceiverTest, HeaderWithoutRecordIdIsRejected) {
  EnvelopeParts parts = Parts("", CargoRecord("C-1"));
  ExpectRejectedAndNotStored(Assemble(parts));
}

// Bytes the peer did not sign must not get a signed verdict that contradicts
// the one already given for that record id.
TEST_F(EnvelopeReceiverTest, UnverifiedEnvelopeForAJudgedRecordIdGetsTheStoredReceipt) {
  const v1::DeliverResponse first = receiver_->Receive(MakeEnvelope(kRecordId, CargoRecord("C-1")));
  ASSERT_EQ(ReceiptHeaderOf(first).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  v1::Envelope forged = MakeEnvelope(kRecordId, CargoRecord("C-forged"));
  forged.clear_proof();
  const v1::DeliverResponse second = receiver_->Receive(forged);
  EXPECT_EQ(second.receipt().SerializeAsString(), first.receipt().SerializeAsString());
  EXPECT_EQ(Inbox().size(), 1u);
  // Still audited as what it was.
  const std::vector<v1::AuditEntry> audit = Audit();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().kind(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT);
  EXPECT_EQ(audit.back().digest(), Sha256Of(forged.payload()));
  EXPECT_TRUE(absl::StartsWith(audit.back().detail(), "bad signature")) << audit.back().detail();
}

// The signer picks the time its chain is checked at: not beyond the clocks'
// skew ahead of ours.
TEST_F(EnvelopeReceiverTest, AnEnvelopeDatedInTheFutureIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  *parts.header.mutable_accepted_time() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now() + exchange::kMaxClockSkew + absl::Minutes(1)));
  ExpectRejectedUnstoredThenGenuineAccepted(Assemble(parts), "the envelope's accepted_time lies in the future");
}

TEST_F(EnvelopeReceiverTest, RecordIdThatIsNotAUuidV7IsNotEchoedIntoASignedReceipt) {
  for (const std::string& id : {std::string("not-a-uuid"), std::string(10000, 'x'), std::string(kRecordId) + "0"}) {
    const v1::Envelope envelope = Assemble(Parts(id, CargoRecord("C-1")));
    ExpectRejectedAndNotStored(envelope);
    const v1::ReceiptHeader header = ReceiptHeaderOf(receiver_->Receive(envelope));
    EXPECT_EQ(header.record_id(), "") << id.substr(0, 40);
    EXPECT_TRUE(absl::StartsWith(header.reason(), "malformed envelope header")) << header.reason();
  }
}

TEST_F(EnvelopeReceiverTest, RejectionDoesNotBlockALaterValidRecord) {
  EnvelopeParts bad = Parts(kRecordId, CargoRecord("C-1"));
  bad.header.set_destination(v1::JURISDICTION_UZ);
  ExpectRejectedAndNotStored(Assemble(bad));
  const v1::DeliverResponse good = receiver_->Receive(MakeEnvelope(kOtherRecordId, CargoRecord("C-2")));
  EXPECT_EQ(ReceiptHeaderOf(good).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].sequence, 1);  // The rejection consumed no sequence.
  EXPECT_EQ(inbox_.high_water(), 1);
}

// Envelopes that arrived together: answered in order, their receipts under
// one signature, their records in one commit, in the inbox in their order.
TEST_F(EnvelopeReceiverTest, ABatchIsAnsweredInOrderWithOneSignatureAndOneCommit) {
  std::vector<v1::Envelope> envelopes;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(absl::StrCat("0190aaaa-bbbb-7ccc-8ddd-00000000000", i));
    envelopes.push_back(MakeEnvelope(ids.back(), CargoRecord(absl::StrCat("C-", i))));
  }
  envelopes[2].clear_proof();  // Unsigned: rejected, not stored.
  std::vector<const v1::Envelope*> batch;
  for (const v1::Envelope& envelope : envelopes) batch.push_back(&envelope);

  const int64_t commits_before = store_->commits();
  const std::vector<v1::DeliverResponse> responses = receiver_->ReceiveBatch(batch);
  EXPECT_EQ(store_->commits() - commits_before, 1 + 1);  // The batch, and the audit entry of the unsigned one.

  ASSERT_EQ(responses.size(), 5u);
  const std::unique_ptr<proof::Verifier> kz = VerifierOf("kz");
  for (int i = 0; i < 5; ++i) {
    const v1::ReceiptHeader header = ReceiptHeaderOf(responses[i]);
    EXPECT_EQ(header.record_id(), ids[i]);
    EXPECT_EQ(header.verdict(), i == 2 ? v1::RECEIPT_VERDICT_REJECTED : v1::RECEIPT_VERDICT_ACCEPTED) << i;
    const v1::BatchProof& proof = responses[i].receipt().proof();
    EXPECT_EQ(proof.leaf_count(), 5u);
    EXPECT_EQ(proof.leaf_index(), static_cast<uint32_t>(i));
    EXPECT_EQ(proof.signature(), responses[0].receipt().proof().signature());
    EXPECT_TRUE(kz->Verify(proof::Purpose::kReceipt, responses[i].receipt().header(), proof, "spiffe://kz.iicc/gateway",
                           absl::Now())
                    .ok())
        << i;
  }
  const std::vector<store::InboxEntry> inbox = Inbox();
  ASSERT_EQ(inbox.size(), 4u);
  EXPECT_EQ(inbox[0].record_id, ids[0]);
  EXPECT_EQ(inbox[1].record_id, ids[1]);
  EXPECT_EQ(inbox[2].record_id, ids[3]);
  EXPECT_EQ(inbox[3].record_id, ids[4]);
  EXPECT_EQ(inbox_.high_water(), 4);
}

// A stream judges a batch while it stores the one before: an unverified
// copy judged before its genuine record was stored still gets the stored
// receipt, never a rejection that contradicts it.
TEST_F(EnvelopeReceiverTest, AnUnverifiedCopyJudgedBeforeTheGenuineRecordIsStoredGetsTheStoredReceipt) {
  const v1::Envelope genuine = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  v1::Envelope forged = MakeEnvelope(kRecordId, CargoRecord("C-forged"));
  forged.clear_proof();
  JudgedBatch first = receiver_->Judge({&genuine});
  JudgedBatch second = receiver_->Judge({&forged});
  const std::vector<v1::DeliverResponse> stored = receiver_->Commit(std::move(first));
  const std::vector<v1::DeliverResponse> copy = receiver_->Commit(std::move(second));
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(copy.size(), 1u);
  ASSERT_EQ(ReceiptHeaderOf(stored[0]).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  EXPECT_EQ(copy[0].receipt().SerializeAsString(), stored[0].receipt().SerializeAsString());
  EXPECT_EQ(Inbox().size(), 1u);
  const std::vector<v1::AuditEntry> audit = Audit();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().kind(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT);
}

// An unverified copy in the same batch as its genuine record, before or
// after it, gets the genuine record's receipt.
TEST_F(EnvelopeReceiverTest, AnUnverifiedCopyInTheBatchOfItsGenuineRecordGetsThatRecordsReceipt) {
  const std::string ids[] = {kRecordId, kOtherRecordId};
  for (const bool copy_first : {false, true}) {
    SCOPED_TRACE(copy_first ? "the copy first" : "the genuine record first");
    const std::string& id = ids[copy_first ? 1 : 0];
    const v1::Envelope genuine = MakeEnvelope(id, CargoRecord("C-1"));
    v1::Envelope forged = MakeEnvelope(id, CargoRecord("C-forged"));
    forged.clear_proof();
    const std::vector<v1::DeliverResponse> responses =
        copy_first ? receiver_->ReceiveBatch({&forged, &genuine}) : receiver_->ReceiveBatch({&genuine, &forged});
    ASSERT_EQ(responses.size(), 2u);
    const v1::DeliverResponse& answer = responses[copy_first ? 1 : 0];
    const v1::DeliverResponse& copy = responses[copy_first ? 0 : 1];
    ASSERT_EQ(ReceiptHeaderOf(answer).verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
    EXPECT_EQ(ReceiptHeaderOf(answer).record_id(), id);
    EXPECT_EQ(copy.receipt().SerializeAsString(), answer.receipt().SerializeAsString());
    const absl::StatusOr<std::string> stored = store_->GetInboundReceipt(id);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, answer.receipt().SerializeAsString());
    const std::vector<v1::AuditEntry> audit = Audit();
    EXPECT_EQ(std::count_if(audit.begin(), audit.end(),
                            [&](const v1::AuditEntry& entry) {
                              return entry.kind() == v1::AUDIT_EVENT_KIND_INBOUND_REJECT && entry.record_id() == id &&
                                     entry.digest() == Sha256Of(forged.payload());
                            }),
              1);
  }
  EXPECT_EQ(Inbox().size(), 2u);
}

// Judging touches no store: a batch judged and then dropped (its stream
// ended after a refusal) leaves no record, receipt or audit entry behind.
TEST_F(EnvelopeReceiverTest, AJudgedBatchLeavesNothingInTheStoreUntilItIsCommitted) {
  const v1::Envelope genuine = MakeEnvelope(kRecordId, CargoRecord("C-1"));
  v1::Envelope unsigned_copy = MakeEnvelope(kOtherRecordId, CargoRecord("C-2"));
  unsigned_copy.clear_proof();
  const int64_t commits_before = store_->commits();
  {
    JudgedBatch dropped = receiver_->Judge({&genuine, &unsigned_copy});
    EXPECT_EQ(dropped.size(), 2u);
  }
  EXPECT_EQ(store_->commits(), commits_before);
  EXPECT_TRUE(Inbox().empty());
  EXPECT_TRUE(Audit().empty());
  EXPECT_TRUE(absl::IsNotFound(store_->GetInboundReceipt(kRecordId).status()));
  EXPECT_EQ(inbox_.high_water(), 0);
}

TEST(EnvelopeReceiverStoreFailureTest, StoreThatCannotWriteGetsARetryableRefusal) {
  testing::FullDiskStore store;  // Only CommitInboundBatch is expected to be called.
  SequenceNotifier inbox;
  policy::ActivePolicy policy(testing::KeepAllPolicy(v1::JURISDICTION_KZ));
  const std::unique_ptr<proof::Signer> kz_signer = SignerOf("kz");
  const std::unique_ptr<proof::Verifier> uz_verifier = VerifierOf("uz");
  EnvelopeReceiver receiver(v1::JURISDICTION_KZ, &store, &policy, kz_signer.get(), uz_verifier.get(), kUzGateway,
                            &inbox);
  const v1::DeliverResponse response = receiver.Receive(MakeEnvelope(kRecordId, CargoRecord("C-1")));
  EXPECT_EQ(store.inbound_commits, 1);
  ASSERT_TRUE(response.has_refusal()) << response.DebugString();
  EXPECT_FALSE(response.has_receipt());
  EXPECT_EQ(response.refusal().record_id(), kRecordId);
  EXPECT_NE(response.refusal().reason(), "");
  const absl::Duration retry_after = absl::Seconds(response.refusal().retry_after().seconds()) +
                                     absl::Nanoseconds(response.refusal().retry_after().nanos());
  EXPECT_GT(retry_after, absl::ZeroDuration());
  EXPECT_EQ(inbox.high_water(), 0);
}

}  // namespace
}  // namespace iicc::exchange
