#include "gateway/exchange/envelope_receiver.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/store/sqlite_store.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"
#include "tests/testing/test_policies.h"

namespace iicc::exchange {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

using ::iicc::testing::TempDir;

using ::iicc::testing::Sha256Of;

// A Store whose every operation fails as a full disk does. Only
// CommitInbound is expected to be called.
class FullDiskStore : public store::Store {
 public:
  absl::StatusOr<store::AcceptOutcome> AcceptOutbound(const store::OutboundRecord&) override { return Full(); }
  absl::StatusOr<store::OutboundStatus> GetOutboundStatus(absl::string_view) override { return Full(); }
  absl::StatusOr<std::vector<store::PendingEnvelope>> ListPending(int64_t, int) override { return Full(); }
  absl::Status RecordOutcome(absl::string_view, v1::DeliveryState, absl::string_view, absl::string_view,
                             absl::Time) override {
    return Full();
  }
  absl::StatusOr<int64_t> CountPending() override { return Full(); }
  absl::StatusOr<store::InboundOutcome> CommitInbound(const store::InboundCommit&) override {
    ++commits;
    return Full();
  }
  absl::StatusOr<std::vector<store::InboxEntry>> ListInbox(int64_t, const std::vector<v1::RecordType>&, int) override {
    return Full();
  }
  absl::StatusOr<int64_t> InboxHighWater() override { return Full(); }

  int commits = 0;

 private:
  static absl::Status Full() { return absl::ResourceExhaustedError("database or disk is full"); }
};

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
  *parts.header.mutable_accepted_time() = TimeUtil::SecondsToTimestamp(1795000000);
  parts.header.set_payload_digest(Sha256Of(parts.payload));
  return parts;
}

v1::Envelope Assemble(const EnvelopeParts& parts) {
  v1::Envelope envelope;
  envelope.set_header(parts.header.SerializeAsString());
  envelope.set_payload(parts.payload);
  return envelope;
}

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
    receiver_ = std::make_unique<EnvelopeReceiver>(v1::JURISDICTION_KZ, store_.get(), &policy_, &inbox_);
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

TEST_F(EnvelopeReceiverTest, DigestMismatchIsRejected) {
  EnvelopeParts parts = Parts(kRecordId, CargoRecord("C-1"));
  parts.header.set_payload_digest(Sha256Of("something else"));
  ExpectRejectedAndNotStored(Assemble(parts));

  // A payload altered in transit, header untouched.
  EnvelopeParts altered = Parts(kOtherRecordId, CargoRecord("C-1"));
  altered.payload = CargoRecord("C-2").SerializeAsString();
  ExpectRejectedAndNotStored(Assemble(altered));
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

TEST(EnvelopeReceiverStoreFailureTest, StoreThatCannotWriteGetsARetryableRefusal) {
  FullDiskStore store;
  SequenceNotifier inbox;
  policy::ActivePolicy policy(testing::KeepAllPolicy(v1::JURISDICTION_KZ));
  EnvelopeReceiver receiver(v1::JURISDICTION_KZ, &store, &policy, &inbox);
  const v1::DeliverResponse response = receiver.Receive(MakeEnvelope(kRecordId, CargoRecord("C-1")));
  EXPECT_EQ(store.commits, 1);
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
