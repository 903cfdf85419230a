// The link between two real gateway processes: records cross both ways over
// mutual TLS with pinned identities, exactly once and in order, whatever
// restarts or dies.
#include <signal.h>

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/signed_envelopes.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::ElementsAreArray;

// A pseudonym made with the sending side's key.
::testing::Matcher<const std::string&> PseudonymOf(const std::string& key_id) {
  return ::testing::MatchesRegex("ps:" + key_id + ":[A-Za-z0-9_-]{43}");
}

// `received` is `sent` after the shipped outbound policy: personal fields
// pseudonymised or dropped, everything else (plates, goods, company ids)
// intact.
void ExpectFilteredByDefaultPolicy(const v1::Record& sent, const v1::Record& received, const std::string& key_id) {
  auto expect_person = [&](const v1::Person& in, const v1::Person& out) {
    EXPECT_THAT(out.full_name(), PseudonymOf(key_id));
    EXPECT_EQ(out.national_id().scheme(), in.national_id().scheme());
    EXPECT_THAT(out.national_id().value(), PseudonymOf(key_id));
    if (!in.document_number().empty()) {
      EXPECT_THAT(out.document_number(), PseudonymOf(key_id));
    }
    EXPECT_EQ(out.nationality(), in.nationality());
    EXPECT_FALSE(out.has_birth_date());
    EXPECT_EQ(out.address(), "");
  };
  ASSERT_EQ(received.kind_case(), sent.kind_case());
  switch (sent.kind_case()) {
    case v1::Record::kEnterprise: {
      const v1::EnterpriseRecord& in = sent.enterprise();
      const v1::EnterpriseRecord& out = received.enterprise();
      EXPECT_EQ(out.name(), in.name());
      EXPECT_EQ(out.legal_id().SerializeAsString(), in.legal_id().SerializeAsString());  // A company.
      EXPECT_EQ(out.status(), in.status());
      EXPECT_EQ(out.headcount(), in.headcount());
      EXPECT_EQ(out.contact_phone(), "");
      EXPECT_EQ(out.contact_email(), "");
      expect_person(in.director(), out.director());
      break;
    }
    case v1::Record::kCargo: {
      const v1::CargoRecord& in = sent.cargo();
      const v1::CargoRecord& out = received.cargo();
      EXPECT_EQ(out.consignment_id(), in.consignment_id());
      EXPECT_EQ(out.vehicle().SerializeAsString(), in.vehicle().SerializeAsString());  // Plates stay.
      ASSERT_EQ(out.goods_size(), in.goods_size());
      for (int g = 0; g < in.goods_size(); ++g) {
        EXPECT_EQ(out.goods(g).SerializeAsString(), in.goods(g).SerializeAsString());
      }
      EXPECT_EQ(out.consignor().SerializeAsString(), in.consignor().SerializeAsString());  // Companies.
      EXPECT_EQ(out.consignee().SerializeAsString(), in.consignee().SerializeAsString());
      EXPECT_EQ(out.certificates_size(), in.certificates_size());
      expect_person(in.driver(), out.driver());
      break;
    }
    case v1::Record::kInvestment: {
      const v1::InvestmentRecord& in = sent.investment();
      const v1::InvestmentRecord& out = received.investment();
      EXPECT_EQ(out.project_id(), in.project_id());
      EXPECT_EQ(out.investor().SerializeAsString(), in.investor().SerializeAsString());
      EXPECT_EQ(out.capex().SerializeAsString(), in.capex().SerializeAsString());
      expect_person(in.contact(), out.contact());
      break;
    }
    case v1::Record::KIND_NOT_SET:
      ADD_FAILURE() << "no record kind";
  }
}

class LinkTest : public ::testing::Test {
 protected:
  LinkTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}

  // Submits `count` numbered cargo records to `from` one after another;
  // returns their record ids in acceptance order.
  std::vector<std::string> SubmitNumbered(GatewayProcess& from, const std::string& prefix, int count) {
    auto stub = from.MinistryStub();
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      ids.push_back(SubmitOrFail(*stub, absl::StrCat(prefix, "-", i), NumberedCargo(absl::StrCat(prefix, "-", i))));
    }
    return ids;
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
};

TEST_F(LinkTest, EachRecordTypeCrossesBothWaysAndIsDelivered) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  for (auto [from, to] : {std::pair{&kz_, &uz_}, std::pair{&uz_, &kz_}}) {
    auto sender = from->MinistryStub();
    std::vector<std::string> ids;
    std::vector<v1::Record> sent;
    for (const char* name : {"enterprise", "cargo", "investment"}) {
      sent.push_back(SampleRecord(name));
      ids.push_back(SubmitOrFail(*sender, absl::StrCat(from->side(), "-", name), sent.back()));
    }
    auto receiver = to->MinistryStub();
    const std::vector<v1::InboundRecord> inbound = WaitForInbound(*receiver, 3);
    ASSERT_EQ(inbound.size(), 3u) << to->side() << " log:\n" << to->log();
    EXPECT_THAT(RecordIds(inbound), ElementsAreArray(ids));
    for (size_t i = 0; i < inbound.size(); ++i) {
      EXPECT_EQ(inbound[i].sequence(), static_cast<int64_t>(i + 1));
      EXPECT_EQ(inbound[i].origin(), from->side() == "kz" ? v1::JURISDICTION_KZ : v1::JURISDICTION_UZ);
      EXPECT_GT(inbound[i].received_time().seconds(), 0);
      ExpectFilteredByDefaultPolicy(sent[i], inbound[i].record(), from->side() + "-dev");
    }
    for (const std::string& id : ids) {
      const v1::RecordStatus status = WaitForOutcome(*sender, id);
      EXPECT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED) << id;
      EXPECT_TRUE(status.has_delivered_time());
      v1::ReceiptHeader receipt;
      ASSERT_TRUE(receipt.ParseFromString(status.receipt().header()));
      EXPECT_EQ(receipt.record_id(), id);
      EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
      EXPECT_EQ(receipt.receiver(), to->side() == "kz" ? v1::JURISDICTION_KZ : v1::JURISDICTION_UZ);
      EXPECT_THAT(receipt.policy_version(), ::testing::MatchesRegex("[0-9a-f]{64}"));
    }
  }
}

// The record id in `receipt`'s header if it accepts the record, else
// "rejected" (or "malformed").
std::string AcceptedRecordId(const v1::Receipt& receipt) {
  v1::ReceiptHeader header;
  if (!header.ParseFromString(receipt.header())) return "malformed";
  return header.verdict() == v1::RECEIPT_VERDICT_ACCEPTED ? header.record_id() : "rejected";
}

// Delivers one valid cargo envelope, signed by the UZ gateway's signing key,
// on the KZ peer face over a TLS connection made with
// `cert_side/cert_name`; returns the stream's final status.
grpc::Status DeliverAs(const GatewayProcess& kz, const TestPki& pki, const std::string& cert_side,
                       const std::string& cert_name) {
  auto stub = v1::PeerExchange::NewStub(kz.PeerChannel(cert_side, cert_name));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->Deliver(&context);
  v1::DeliverRequest request;
  *request.mutable_envelope() = SignedCargoEnvelopes(pki, 1, "01890a5d-ac96-774b-bcce-b302099a8057").front();
  stream->Write(request);
  stream->WritesDone();
  v1::DeliverResponse response;
  while (stream->Read(&response)) {
  }
  return stream->Finish();
}

// As the UZ gateway, on the KZ peer face: frames of several envelopes (the
// peer contract's batched frames) are read, judged in order, and answered in
// frames of several receipts when the sender announced it reads them (as
// many as fit in the size it announced), one answer per frame when it did
// not.
TEST_F(LinkTest, FramesOfSeveralEnvelopesAreAnsweredInOrderAsTheSenderAnnounced) {
  kz_.StartAndWait();
  std::vector<std::string> all_sent;
  for (const std::string announced_size : {"1048576", "", "100"}) {
    SCOPED_TRACE("the sender announced frames of receipts up to bytes: " + announced_size);
    const bool announce = !announced_size.empty();
    auto stub = v1::PeerExchange::NewStub(kz_.PeerChannel("uz", "gateway"));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    if (announce) context.AddMetadata("iicc-frame-bytes", announced_size);
    auto stream = stub->Deliver(&context);
    stream->WaitForInitialMetadata();
    // The receiver reads frames up to its peer face's message limit: the
    // demo's max_message_bytes (4 MiB) and 64 KiB for the envelope's proof.
    const auto& announced = context.GetServerInitialMetadata();
    auto frame_bytes = announced.find("iicc-frame-bytes");
    ASSERT_NE(frame_bytes, announced.end());
    EXPECT_EQ(std::string(frame_bytes->second.data(), frame_bytes->second.size()), "4259840");

    // Five envelopes in two frames: three in `envelopes`; then one in
    // `envelope` and one more after it.
    std::vector<v1::Envelope> envelopes = SignedCargoEnvelopes(pki_, 5);
    std::vector<std::string> sent;
    for (const v1::Envelope& envelope : envelopes) {
      v1::EnvelopeHeader header;
      ASSERT_TRUE(header.ParseFromString(envelope.header()));
      sent.push_back(header.record_id());
    }
    v1::DeliverRequest first;
    for (int i = 0; i < 3; ++i) *first.add_envelopes() = envelopes[i];
    v1::DeliverRequest second;
    *second.mutable_envelope() = envelopes[3];
    *second.add_envelopes() = envelopes[4];
    ASSERT_TRUE(stream->Write(first));
    ASSERT_TRUE(stream->Write(second));
    stream->WritesDone();

    std::vector<std::string> answered;
    size_t frames = 0;
    v1::DeliverResponse response;
    while (stream->Read(&response)) {
      ++frames;
      if (announce) {
        EXPECT_EQ(response.result_case(), v1::DeliverResponse::RESULT_NOT_SET) << "receipts come in `receipts`";
        // A receipt is larger than 100 bytes: alone in its frame.
        if (announced_size == "100") {
          EXPECT_EQ(response.receipts_size(), 1);
        }
        for (const v1::Receipt& receipt : response.receipts()) answered.push_back(AcceptedRecordId(receipt));
      } else {
        EXPECT_TRUE(response.receipts().empty()) << "one answer per frame, in `result`";
        ASSERT_TRUE(response.has_receipt());
        answered.push_back(AcceptedRecordId(response.receipt()));
      }
    }
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_THAT(answered, ElementsAreArray(sent));
    // Judged in batches of what had arrived: at most one frame per batch
    // with frames announced, one per envelope without (or when each receipt
    // is larger than the frames announced).
    if (announced_size == "1048576") {
      EXPECT_GE(frames, 1u);
      EXPECT_LE(frames, 2u);
    } else {
      EXPECT_EQ(frames, 5u);
    }
    // Every envelope accepted, and in KZ's inbox in the order sent.
    all_sent.insert(all_sent.end(), sent.begin(), sent.end());
    EXPECT_THAT(RecordIds(WaitForInbound(*kz_.MinistryStub(), all_sent.size())), ElementsAreArray(all_sent));
  }
}

// A frame of more than 256 envelopes (small on the wire if they are empty,
// not in memory) ends the stream with INVALID_ARGUMENT; none of it is stored,
// and the next stream is served.
TEST_F(LinkTest, AFrameOfMoreThan256EnvelopesIsRefusedAndNothingOfItStored) {
  kz_.StartAndWait();
  auto stub = v1::PeerExchange::NewStub(kz_.PeerChannel("uz", "gateway"));
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    auto stream = stub->Deliver(&context);
    v1::DeliverRequest request;
    for (v1::Envelope& envelope : SignedCargoEnvelopes(pki_, 257)) *request.add_envelopes() = std::move(envelope);
    stream->Write(request);
    stream->WritesDone();
    v1::DeliverResponse response;
    EXPECT_FALSE(stream->Read(&response)) << "a frame too large was answered";
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("at most 256 envelopes"));
  }
  EXPECT_TRUE(ListAllInbound(*kz_.MinistryStub()).empty());
  // 256 in one frame are read, judged and stored.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->Deliver(&context);
  v1::DeliverRequest request;
  for (v1::Envelope& envelope : SignedCargoEnvelopes(pki_, 256)) *request.add_envelopes() = std::move(envelope);
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  size_t answers = 0;
  v1::DeliverResponse response;
  while (stream->Read(&response)) answers += response.has_receipt() ? 1 : 0;
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers, 256u);
  EXPECT_EQ(WaitForInbound(*kz_.MinistryStub(), 256).size(), 256u);
}

TEST_F(LinkTest, ForbiddenGoodsAreRejectedByThePeerAndTheSenderSeesWhy) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  v1::Record arms = SampleRecord("cargo");
  arms.mutable_cargo()->mutable_goods(0)->set_hs6("930200");
  arms.mutable_cargo()->mutable_goods(0)->set_national_code("9302000000");
  auto kz = kz_.MinistryStub();
  const std::string rejected = SubmitOrFail(*kz, "arms", arms);
  const std::string accepted = SubmitOrFail(*kz, "wheat", SampleRecord("cargo"));
  const v1::RecordStatus status = WaitForOutcome(*kz, rejected);
  EXPECT_EQ(status.state(), v1::DELIVERY_STATE_REJECTED);
  EXPECT_THAT(status.reason(), ::testing::HasSubstr("cargo.goods[0].hs6"));
  EXPECT_THAT(status.reason(), ::testing::HasSubstr("HS chapter 93 requires a licence exchange"));
  v1::ReceiptHeader receipt;
  ASSERT_TRUE(receipt.ParseFromString(status.receipt().header()));
  EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_REJECTED);
  // The record behind it still arrives; the forbidden one never does.
  EXPECT_EQ(WaitForOutcome(*kz, accepted).state(), v1::DELIVERY_STATE_DELIVERED);
  EXPECT_THAT(RecordIds(ListAllInbound(*uz_.MinistryStub())), ElementsAreArray({accepted}));
}

TEST_F(LinkTest, InvalidRecordsAreRefusedWithEveryBadFieldNamedAndNeverReachThePeer) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  v1::Record bad = SampleRecord("cargo");
  v1::CargoRecord* cargo = bad.mutable_cargo();
  cargo->mutable_consignor()->set_value("100140011058");  // Wrong check digit.
  cargo->mutable_goods(0)->set_hs6("10019");              // Five digits.
  cargo->mutable_goods(0)->set_gross_kg(1);               // Below the net mass.
  cargo->mutable_goods(0)->mutable_customs_value()->set_currency_code("XXZ");
  cargo->mutable_driver()->mutable_national_id()->set_value("ps:kz-dev:abc");  // No pseudonyms from a ministry.
  auto kz = kz_.MinistryStub();
  grpc::ClientContext context;
  v1::SubmitResponse response;
  const grpc::Status status = kz->Submit(&context, MakeSubmit("bad", bad), &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const char* field :
       {"record.cargo.consignor.value", "record.cargo.goods[0].hs6", "record.cargo.goods[0].gross_kg",
        "record.cargo.goods[0].customs_value.currency_code", "record.cargo.driver.national_id.value"}) {
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr(field));
  }
  // No value is quoted back.
  EXPECT_THAT(status.error_message(), ::testing::Not(::testing::HasSubstr("100140011058")));
  const std::string good = SubmitOrFail(*kz, "good", SampleRecord("cargo"));
  EXPECT_EQ(WaitForOutcome(*kz, good).state(), v1::DELIVERY_STATE_DELIVERED);
  EXPECT_THAT(RecordIds(ListAllInbound(*uz_.MinistryStub())), ElementsAreArray({good}));
}

TEST_F(LinkTest, PeerFaceRefusesEveryIdentityButThePeerGateway) {
  kz_.StartAndWait();
  pki_.Issue("uz", "impostor", "spiffe://uz.iicc/gateway-impostor", "both");
  // A ministry certificate of the peer's CA.
  EXPECT_NE(DeliverAs(kz_, pki_, "uz", "ministry-client").error_code(), grpc::StatusCode::OK);
  // A certificate from the wrong CA: KZ's own gateway.
  EXPECT_EQ(DeliverAs(kz_, pki_, "kz", "gateway").error_code(), grpc::StatusCode::UNAVAILABLE);
  // The right CA with the wrong SPIFFE ID.
  EXPECT_NE(DeliverAs(kz_, pki_, "uz", "impostor").error_code(), grpc::StatusCode::OK);
  // The real peer identity is let in (the envelope is judged on its merits).
  EXPECT_TRUE(DeliverAs(kz_, pki_, "uz", "gateway").ok());
  // Only that one was stored.
  EXPECT_EQ(ListAllInbound(*kz_.MinistryStub()).size(), 1u);
}

TEST_F(LinkTest, RecordsQueueWhileThePeerIsDownAndArriveOnceInOrder) {
  kz_.StartAndWait();
  const std::vector<std::string> ids = SubmitNumbered(kz_, "down", 30);
  auto kz_stub = kz_.MinistryStub();
  v1::RecordStatus status;
  {
    grpc::ClientContext context;
    v1::GetRecordStatusRequest request;
    request.set_record_id(ids.back());
    ASSERT_TRUE(kz_stub->GetRecordStatus(&context, request, &status).ok());
    EXPECT_EQ(status.state(), v1::DELIVERY_STATE_QUEUED);
  }
  uz_.StartAndWait();
  const std::vector<v1::InboundRecord> inbound = WaitForInbound(*uz_.MinistryStub(), ids.size());
  EXPECT_THAT(RecordIds(inbound), ElementsAreArray(ids));
  EXPECT_EQ(WaitForOutcome(*kz_stub, ids.back()).state(), v1::DELIVERY_STATE_DELIVERED);
  // Nothing more arrives later.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(ListAllInbound(*uz_.MinistryStub()).size(), ids.size());
}

TEST_F(LinkTest, SenderKilledMidStreamLosesAndDuplicatesNothing) {
  kz_.StartAndWait();
  // A backlog queued while the peer is down, so that the kill lands while
  // it is streaming: several windows, each a few frames (contract.md#frames)
  // that the receiver judges in batches of up to 256.
  constexpr int kRecords = 2000;
  const std::vector<std::string> ids = SubmitNumbered(kz_, "kill-sender", kRecords);
  uz_.StartAndWait();
  auto uz_stub = uz_.MinistryStub();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (ListAllInbound(*uz_stub).empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  kz_.Kill();
  const size_t before = ListAllInbound(*uz_stub).size();
  ASSERT_GT(before, 0u);
  ASSERT_LT(before, ids.size()) << "delivery finished before the kill: the test proved nothing";
  std::cout << "[ killed   ] KZ, with " << before << " of " << ids.size() << " records at UZ\n";
  kz_.StartAndWait();
  const std::vector<v1::InboundRecord> inbound = WaitForInbound(*uz_stub, ids.size());
  EXPECT_THAT(RecordIds(inbound), ElementsAreArray(ids)) << "arrived before the kill: " << before;
  EXPECT_EQ(WaitForOutcome(*kz_.MinistryStub(), ids.back()).state(), v1::DELIVERY_STATE_DELIVERED);
}

TEST_F(LinkTest, ReceiverKilledAfterItsCommitBeforeItsReceiptKeepsExactlyOnce) {
  kz_.StartAndWait();
  // The receiver dies at its first commit, before answering.
  uz_.StartAndWait({"IICC_FAULT=receiver.after_commit"}, /*with_faults=*/true);
  const std::vector<std::string> ids = SubmitNumbered(kz_, "kill-receiver", 5);
  ASSERT_EQ(uz_.WaitExit(absl::Seconds(20)), 128 + SIGKILL) << uz_.log();
  // It died after committing its first batch (the first record, or the
  // first few if they came in one frame) and before answering for it.
  const std::string listing = dir_.File("inbox.txt");
  ASSERT_EQ(
      RunShell("sqlite3 '" + uz_.db_path() + "' 'SELECT record_id FROM inbox ORDER BY sequence' >'" + listing + "'"),
      0);
  const std::vector<std::string> committed = absl::StrSplit(ReadFileOrEmpty(listing), '\n', absl::SkipEmpty());
  ASSERT_FALSE(committed.empty());
  ASSERT_LE(committed.size(), ids.size());
  EXPECT_THAT(committed, ElementsAreArray(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(committed.size())));
  for (const std::string& id : committed) {
    EXPECT_EQ(WaitForOutcome(*kz_.MinistryStub(), id, absl::Milliseconds(300)).state(), v1::DELIVERY_STATE_QUEUED);
  }
  // Back without the fault: the first batch is committed but was never
  // acknowledged, so the sender resends it and the receiver answers the
  // original receipt.
  uz_.StartAndWait();
  const std::vector<v1::InboundRecord> inbound = WaitForInbound(*uz_.MinistryStub(), ids.size());
  EXPECT_THAT(RecordIds(inbound), ElementsAreArray(ids));
  auto kz_stub = kz_.MinistryStub();
  for (const std::string& id : ids) EXPECT_EQ(WaitForOutcome(*kz_stub, id).state(), v1::DELIVERY_STATE_DELIVERED);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(ListAllInbound(*uz_.MinistryStub()).size(), ids.size());
}

TEST_F(LinkTest, SubscriberResumesAfterAGatewayRestartWithoutGapsOrRepeats) {
  kz_.StartAndWait();
  uz_.StartAndWait();
  absl::Mutex mu;
  std::vector<int64_t> sequences;
  std::vector<std::string> received;
  bool stop = false;
  grpc::ClientContext* current = nullptr;
  // A client that keeps its cursor and reconnects, as iicc-cli subscribe
  // --follow does.
  std::thread subscriber([&] {
    int64_t cursor = 0;
    while (true) {
      auto stub = uz_.MinistryStub();
      grpc::ClientContext context;
      {
        absl::MutexLock lock(&mu);
        if (stop) break;
        current = &context;
      }
      v1::SubscribeRequest request;
      request.set_after_sequence(cursor);
      auto reader = stub->Subscribe(&context, request);
      v1::InboundRecord record;
      while (reader->Read(&record)) {
        absl::MutexLock lock(&mu);
        sequences.push_back(record.sequence());
        received.push_back(record.record_id());
        cursor = record.sequence();
      }
      reader->Finish();
      {
        absl::MutexLock lock(&mu);
        current = nullptr;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  std::vector<std::string> ids = SubmitNumbered(kz_, "before", 10);
  auto wait_received = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu);
        if (received.size() >= n) return;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  };
  wait_received(10);
  uz_.Terminate();
  const std::vector<std::string> more = SubmitNumbered(kz_, "during", 10);
  ids.insert(ids.end(), more.begin(), more.end());
  uz_.StartAndWait();
  const std::vector<std::string> after = SubmitNumbered(kz_, "after", 10);
  ids.insert(ids.end(), after.begin(), after.end());
  wait_received(ids.size());
  {
    absl::MutexLock lock(&mu);
    stop = true;
    if (current != nullptr) current->TryCancel();
  }
  subscriber.join();

  absl::MutexLock lock(&mu);
  EXPECT_THAT(received, ElementsAreArray(ids));
  for (size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace iicc::testing
