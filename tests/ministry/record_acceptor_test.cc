#include "gateway/ministry/record_acceptor.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/common/errors.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/uuid.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/sqlite_store.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/testing/full_disk_store.h"
#include "tests/testing/test_env.h"
#include "tests/testing/test_policies.h"

namespace iicc::ministry {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

using ::iicc::testing::TempDir;

using ::iicc::testing::Sha256Of;

constexpr char kRegistry[] = "spiffe://kz.iicc/ministry/registry";  // Submits every type.
constexpr char kCustoms[] = "spiffe://kz.iicc/ministry/customs";    // Submits cargo only.
constexpr char kAuditor[] = "spiffe://kz.iicc/ministry/auditor";    // Status of cargo only.
constexpr char kReader[] = "spiffe://kz.iicc/ministry/reader";      // Reads only.
constexpr char kStranger[] = "spiffe://kz.iicc/ministry/stranger";  // Not configured.

v1::GatewayConfig Config() {
  v1::GatewayConfig config;
  config.set_jurisdiction(v1::JURISDICTION_KZ);
  auto add = [&config](const char* id, v1::Role role, std::vector<v1::RecordType> types) {
    v1::MinistryIdentity* identity = config.add_ministries();
    identity->set_spiffe_id(id);
    v1::RoleGrant* grant = identity->add_grants();
    grant->set_role(role);
    for (v1::RecordType type : types) grant->add_record_types(type);
  };
  add(kRegistry, v1::ROLE_SUBMIT, {});
  add(kCustoms, v1::ROLE_SUBMIT, {v1::RECORD_TYPE_CARGO});
  add(kAuditor, v1::ROLE_STATUS, {v1::RECORD_TYPE_CARGO});
  add(kReader, v1::ROLE_READ, {});
  return config;
}

v1::Record CargoRecord(const std::string& consignment_id) {
  v1::Record record;
  v1::CargoRecord* cargo = record.mutable_cargo();
  cargo->set_consignment_id(consignment_id);
  cargo->set_direction(v1::DIRECTION_KZ_TO_UZ);
  cargo->set_checkpoint(v1::CHECKPOINT_ATAMEKEN);
  cargo->mutable_vehicle()->set_plate("123ABC02");
  cargo->mutable_vehicle()->set_country("KZ");
  v1::GoodsLine* goods = cargo->add_goods();
  goods->set_hs6("080810");
  goods->set_national_code("0808108000");
  goods->set_description("Fresh apples");
  goods->set_gross_kg(1000);
  goods->set_net_kg(950);
  goods->set_quantity(950);
  goods->set_unit("KGM");
  goods->set_packages(40);
  goods->set_origin_country("KZ");
  goods->mutable_customs_value()->set_currency_code("USD");
  goods->mutable_customs_value()->set_units(800);
  return record;
}

v1::Record EnterpriseRecord() {
  v1::Record record;
  v1::EnterpriseRecord* enterprise = record.mutable_enterprise();
  enterprise->set_section(v1::JURISDICTION_KZ);
  enterprise->mutable_legal_id()->set_scheme(v1::ID_SCHEME_KZ_BIN);
  enterprise->mutable_legal_id()->set_value("230540001230");
  enterprise->set_name("Atameken Agro LLP");
  enterprise->set_status(v1::ENTERPRISE_STATUS_REGISTERED);
  return record;
}

v1::SubmitRequest Request(const std::string& request_id, const v1::Record& record) {
  v1::SubmitRequest request;
  request.set_request_id(request_id);
  *request.mutable_record() = record;
  return request;
}

std::vector<std::string> ViolationFields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const v1::FieldViolation& violation : ViolationsOf(status)) fields.push_back(violation.field());
  return fields;
}

class RecordAcceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    acceptor_ = std::make_unique<RecordAcceptor>(v1::JURISDICTION_KZ, store_.get(), &authorizer_, &policy_,
                                                 signer_.get(), &outbox_);
  }

  int64_t Pending() {
    absl::StatusOr<int64_t> count = store_->CountPending();
    EXPECT_TRUE(count.ok()) << count.status();
    return count.value_or(-1);
  }

  // The only queued envelope, parsed.
  v1::Envelope OnlyEnvelope() {
    absl::StatusOr<std::vector<store::PendingEnvelope>> pending = store_->ListPending(0, 10);
    EXPECT_TRUE(pending.ok()) << pending.status();
    v1::Envelope envelope;
    if (!pending.ok() || pending->size() != 1) {
      ADD_FAILURE() << "expected exactly one queued envelope";
      return envelope;
    }
    EXPECT_TRUE(envelope.ParseFromString((*pending)[0].envelope));
    return envelope;
  }

  static std::unique_ptr<proof::Signer> KzSigner() {
    absl::StatusOr<std::unique_ptr<proof::Signer>> signer = proof::Signer::Load(
        testing::SharedPki().File("kz", "signing.crt"), testing::SharedPki().File("kz", "signing.key"));
    EXPECT_TRUE(signer.ok()) << signer.status();
    return signer.ok() ? *std::move(signer) : nullptr;
  }

  TempDir dir_;
  const std::unique_ptr<proof::Signer> signer_ = KzSigner();
  std::unique_ptr<store::SqliteStore> store_;
  const security::Authorizer authorizer_{Config()};
  // Lets everything out unchanged: these tests are about the acceptor.
  policy::ActivePolicy policy_{testing::KeepAllPolicy(v1::JURISDICTION_KZ)};
  SequenceNotifier outbox_;
  std::unique_ptr<RecordAcceptor> acceptor_;
};

TEST_F(RecordAcceptorTest, SubmitQueuesTheRecord) {
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->request_id(), "req-1");
  EXPECT_EQ(response->state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_TRUE(IsUuidV7(response->record_id())) << response->record_id();
  EXPECT_FALSE(response->has_error());
  EXPECT_EQ(outbox_.high_water(), 1);
  EXPECT_EQ(Pending(), 1);
}

TEST_F(RecordAcceptorTest, SubmitWakesOutboxWatchers) {
  int calls = 0;
  ASSERT_NE(outbox_.Watch(0, [&calls] { ++calls; }), 0u);
  ASSERT_TRUE(acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1"))).ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(RecordAcceptorTest, StoredEnvelopeCarriesHeaderAndPayload) {
  const v1::Record submitted = CargoRecord("C-1");
  const absl::Time before = absl::Now();
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kCustoms, Request("req-1", submitted));
  const absl::Time after = absl::Now();
  ASSERT_TRUE(response.ok()) << response.status();

  const v1::Envelope envelope = OnlyEnvelope();
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  EXPECT_EQ(header.record_id(), response->record_id());
  EXPECT_EQ(header.origin(), v1::JURISDICTION_KZ);
  EXPECT_EQ(header.destination(), v1::JURISDICTION_UZ);
  EXPECT_EQ(header.record_type(), v1::RECORD_TYPE_CARGO);
  EXPECT_EQ(header.payload_digest(), Sha256Of(envelope.payload()));
  EXPECT_EQ(header.payload_digest().size(), 32u);
  const absl::Time accepted = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(header.accepted_time()));
  EXPECT_GE(accepted, before);
  EXPECT_LE(accepted, after);

  v1::Record payload;
  ASSERT_TRUE(payload.ParseFromString(envelope.payload()));
  EXPECT_TRUE(MessageDifferencer::Equals(payload, submitted)) << payload.DebugString();

  // Signed by the KZ gateway, checkable with the KZ CA alone.
  absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier =
      proof::Verifier::Create({testing::SharedPki().File("kz", "ca.crt")});
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  absl::StatusOr<proof::Verifier::Verified> verified = (*verifier)->Verify(
      proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), "spiffe://kz.iicc/gateway", accepted);
  EXPECT_TRUE(verified.ok()) << verified.status();
  EXPECT_FALSE((*verifier)->Verify(proof::Purpose::kReceipt, envelope.header(), envelope.proof(), "", accepted).ok());

  // And audited in the same commit.
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = store_->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].kind(), v1::AUDIT_EVENT_KIND_SUBMIT);
  EXPECT_EQ((*audit)[0].record_id(), response->record_id());
  EXPECT_EQ((*audit)[0].identity(), kCustoms);
  EXPECT_EQ((*audit)[0].digest(), header.payload_digest());
}

// The gateway hands Submit the request it parsed and lets it filter the
// record in place. Idempotency still compares the record as submitted.
TEST_F(RecordAcceptorTest, InPlaceSubmitFiltersTheRequestAndRemembersItAsSubmitted) {
  v1::Record submitted = CargoRecord("C-1");
  submitted.mutable_cargo()->mutable_goods(0)->set_unit("PCE");  // Normalized to H87 on the way out.
  v1::SubmitRequest request = Request("req-1", submitted);
  absl::StatusOr<v1::SubmitResponse> first = acceptor_->Submit(kRegistry, &request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(request.request_id(), "req-1");
  EXPECT_EQ(request.record().cargo().goods(0).unit(), "H87");
  v1::Record payload;
  ASSERT_TRUE(payload.ParseFromString(OnlyEnvelope().payload()));
  EXPECT_TRUE(MessageDifferencer::Equals(payload, request.record())) << payload.DebugString();

  // A retry of the original request is the same record...
  absl::StatusOr<v1::SubmitResponse> replay = acceptor_->Submit(kRegistry, Request("req-1", submitted));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->record_id(), first->record_id());
  // ...while the filtered record under the same request_id is other content.
  absl::StatusOr<v1::SubmitResponse> changed = acceptor_->Submit(kRegistry, request);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kAlreadyExists) << changed.status();
  EXPECT_EQ(Pending(), 1);
}

TEST_F(RecordAcceptorTest, UzGatewayAddressesEnvelopesToKz) {
  RecordAcceptor uz(v1::JURISDICTION_UZ, store_.get(), &authorizer_, &policy_, signer_.get(), &outbox_);
  absl::StatusOr<v1::SubmitResponse> response = uz.Submit(kRegistry, Request("req-1", EnterpriseRecord()));
  ASSERT_TRUE(response.ok()) << response.status();
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(OnlyEnvelope().header()));
  EXPECT_EQ(header.origin(), v1::JURISDICTION_UZ);
  EXPECT_EQ(header.destination(), v1::JURISDICTION_KZ);
  EXPECT_EQ(header.record_type(), v1::RECORD_TYPE_ENTERPRISE);
}

TEST_F(RecordAcceptorTest, ReplayReturnsTheSameRecordId) {
  const v1::SubmitRequest request = Request("req-1", CargoRecord("C-1"));
  absl::StatusOr<v1::SubmitResponse> first = acceptor_->Submit(kRegistry, request);
  absl::StatusOr<v1::SubmitResponse> second = acceptor_->Submit(kRegistry, request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->record_id(), first->record_id());
  EXPECT_EQ(second->state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_EQ(second->request_id(), "req-1");
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(outbox_.high_water(), 1);  // Nothing new to forward.
}

TEST_F(RecordAcceptorTest, SameRequestIdWithAnotherRecordIsAlreadyExists) {
  absl::StatusOr<v1::SubmitResponse> first = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::SubmitResponse> second = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-2")));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), first->record_id())) << second.status();
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(outbox_.high_water(), 1);
}

TEST_F(RecordAcceptorTest, SameRequestIdFromAnotherIdentityIsAnotherRecord) {
  absl::StatusOr<v1::SubmitResponse> first = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  absl::StatusOr<v1::SubmitResponse> second = acceptor_->Submit(kCustoms, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->record_id(), second->record_id());
  EXPECT_EQ(Pending(), 2);
  EXPECT_EQ(outbox_.high_water(), 2);
}

TEST_F(RecordAcceptorTest, SubmitWithoutRoleForTheTypeIsDeniedAndStoresNothing) {
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kCustoms, Request("req-1", EnterpriseRecord()));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kPermissionDenied) << response.status();
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(outbox_.high_water(), 0);
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = store_->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].kind(), v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE);
  EXPECT_EQ((*audit)[0].identity(), kCustoms);
}

// A policy that lets nothing out: the refusal is answered and audited, with
// the digest of what was submitted, and nothing is stored.
TEST_F(RecordAcceptorTest, OutboundDenyIsAuditedAndStoresNothing) {
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> closed =
      policy::CompiledPolicy::Parse("jurisdiction: JURISDICTION_KZ\n", "closed", {}, v1::JURISDICTION_KZ);
  ASSERT_TRUE(closed.ok()) << closed.status();
  policy_.Set(*closed);
  const v1::SubmitRequest request = Request("req-1", CargoRecord("C-1"));
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kRegistry, request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition) << response.status();
  EXPECT_EQ(Pending(), 0);
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = store_->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].kind(), v1::AUDIT_EVENT_KIND_OUTBOUND_DENY);
  EXPECT_EQ((*audit)[0].identity(), kRegistry);
  EXPECT_EQ((*audit)[0].digest(), Sha256Of(request.record().SerializeAsString()));
  EXPECT_TRUE(absl::StartsWith((*audit)[0].detail(), "refused by policy")) << (*audit)[0].detail();
}

TEST_F(RecordAcceptorTest, SubmitFromIdentitiesWithoutSubmitRoleIsDenied) {
  for (const char* identity : {kReader, kAuditor, kStranger}) {
    absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(identity, Request("req-1", CargoRecord("C-1")));
    ASSERT_FALSE(response.ok()) << identity;
    EXPECT_EQ(response.status().code(), absl::StatusCode::kPermissionDenied) << identity << ": " << response.status();
  }
  EXPECT_EQ(Pending(), 0);
}

TEST_F(RecordAcceptorTest, UnauthorizedInvalidRequestIsDeniedNotValidated) {
  // An identity without the submit role learns nothing about the rules.
  v1::SubmitRequest request;
  request.mutable_record();
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kReader, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kPermissionDenied) << response.status();
}

TEST_F(RecordAcceptorTest, InvalidRequestNamesEveryViolationAndStoresNothing) {
  v1::SubmitRequest request;  // No request_id, and a record with no kind.
  request.mutable_record();
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kRegistry, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << response.status();
  EXPECT_EQ(ViolationFields(response.status()), (std::vector<std::string>{"request_id", "record.kind"}))
      << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), "request_id")) << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), "record.kind")) << response.status();
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(outbox_.high_water(), 0);
}

TEST_F(RecordAcceptorTest, MissingRecordIsInvalid) {
  v1::SubmitRequest request;
  request.set_request_id("req-1");
  absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kRegistry, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << response.status();
  EXPECT_EQ(ViolationFields(response.status()), std::vector<std::string>{"record"}) << response.status();
  EXPECT_EQ(Pending(), 0);
}

TEST_F(RecordAcceptorTest, BadRequestIdsAreInvalid) {
  for (const std::string& bad : {std::string(129, 'a'), std::string("with space"), std::string("tab\there")}) {
    absl::StatusOr<v1::SubmitResponse> response = acceptor_->Submit(kRegistry, Request(bad, CargoRecord("C-1")));
    ASSERT_FALSE(response.ok()) << bad;
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ViolationFields(response.status()), std::vector<std::string>{"request_id"}) << response.status();
  }
  EXPECT_EQ(Pending(), 0);
  EXPECT_TRUE(acceptor_->Submit(kRegistry, Request(std::string(128, 'a'), CargoRecord("C-1"))).ok());
}

TEST_F(RecordAcceptorTest, GetStatusOfOwnRecord) {
  absl::StatusOr<v1::SubmitResponse> submitted = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(kRegistry, submitted->record_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->record_id(), submitted->record_id());
  EXPECT_EQ(status->state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_EQ(status->record_type(), v1::RECORD_TYPE_CARGO);
  EXPECT_EQ(status->reason(), "");
  EXPECT_FALSE(status->has_receipt());
  EXPECT_FALSE(status->has_delivered_time());
  // The accepted time is the envelope header's.
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(OnlyEnvelope().header()));
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(status->accepted_time()),
            TimeUtil::TimestampToNanoseconds(header.accepted_time()));
}

TEST_F(RecordAcceptorTest, GetStatusAfterDeliveryCarriesTheReceipt) {
  absl::StatusOr<v1::SubmitResponse> submitted = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  v1::ReceiptHeader receipt_header;
  receipt_header.set_record_id(submitted->record_id());
  receipt_header.set_verdict(v1::RECEIPT_VERDICT_ACCEPTED);
  v1::Receipt receipt;
  receipt.set_header(receipt_header.SerializeAsString());
  const absl::Time delivered = absl::FromUnixSeconds(1800000000);
  ASSERT_TRUE(store_
                  ->RecordOutcome(submitted->record_id(), v1::DELIVERY_STATE_DELIVERED, "", receipt.SerializeAsString(),
                                  delivered)
                  .ok());
  absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(kRegistry, submitted->record_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::DELIVERY_STATE_DELIVERED);
  EXPECT_TRUE(MessageDifferencer::Equals(status->receipt(), receipt));
  ASSERT_TRUE(status->has_delivered_time());
  EXPECT_EQ(status->delivered_time().seconds(), 1800000000);
}

TEST_F(RecordAcceptorTest, GetStatusOfRejectedRecordCarriesTheReason) {
  absl::StatusOr<v1::SubmitResponse> submitted = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_TRUE(
      store_->RecordOutcome(submitted->record_id(), v1::DELIVERY_STATE_REJECTED, "HS chapter 93", "", absl::Now())
          .ok());
  absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(kRegistry, submitted->record_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::DELIVERY_STATE_REJECTED);
  EXPECT_EQ(status->reason(), "HS chapter 93");
}

TEST_F(RecordAcceptorTest, GetStatusOfAnotherIdentitysRecordIsNotFound) {
  absl::StatusOr<v1::SubmitResponse> submitted = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  for (const char* identity : {kCustoms, kReader, kStranger}) {
    absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(identity, submitted->record_id());
    ASSERT_FALSE(status.ok()) << identity;
    EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << identity << ": " << status.status();
  }
}

TEST_F(RecordAcceptorTest, GetStatusWithStatusRoleForTheType) {
  absl::StatusOr<v1::SubmitResponse> cargo = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  absl::StatusOr<v1::SubmitResponse> enterprise = acceptor_->Submit(kRegistry, Request("req-2", EnterpriseRecord()));
  ASSERT_TRUE(cargo.ok()) << cargo.status();
  ASSERT_TRUE(enterprise.ok()) << enterprise.status();

  absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(kAuditor, cargo->record_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->record_id(), cargo->record_id());
  EXPECT_EQ(status->state(), v1::DELIVERY_STATE_QUEUED);

  // The auditor's status role covers cargo only.
  EXPECT_EQ(acceptor_->GetStatus(kAuditor, enterprise->record_id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RecordAcceptorTest, GetStatusOfMalformedRecordIdIsInvalid) {
  absl::StatusOr<v1::SubmitResponse> submitted = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::string upper = submitted->record_id();
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad :
       {std::string(""), std::string("not-a-uuid"), std::string("f47ac10b-58cc-4372-a567-0e02b2c3d479"), upper}) {
    absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(kRegistry, bad);
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ViolationFields(status.status()), std::vector<std::string>{"record_id"}) << status.status();
  }
}

TEST_F(RecordAcceptorTest, GetStatusOfUnknownRecordIsNotFound) {
  const std::string unknown = NewUuidV7(absl::Now());
  for (const char* identity : {kRegistry, kAuditor}) {
    absl::StatusOr<v1::RecordStatus> status = acceptor_->GetStatus(identity, unknown);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << status.status();
  }
}

// ---------------------------------------------------------------------------
// SubmitBatch: records judged together, one signature and one commit for
// those that pass, one answer each, in order.

constexpr char kKzGateway[] = "spiffe://kz.iicc/gateway";

// Every queued envelope, parsed, in outbox order.
std::vector<v1::Envelope> QueuedEnvelopes(store::Store* store) {
  absl::StatusOr<std::vector<store::PendingEnvelope>> pending = store->ListPending(0, 1000);
  EXPECT_TRUE(pending.ok()) << pending.status();
  std::vector<v1::Envelope> envelopes;
  if (!pending.ok()) return envelopes;
  for (const store::PendingEnvelope& one : *pending) {
    v1::Envelope envelope;
    EXPECT_TRUE(envelope.ParseFromString(one.envelope)) << one.record_id;
    envelopes.push_back(std::move(envelope));
  }
  return envelopes;
}

v1::EnvelopeHeader HeaderOf(const v1::Envelope& envelope) {
  v1::EnvelopeHeader header;
  EXPECT_TRUE(header.ParseFromString(envelope.header()));
  return header;
}

std::unique_ptr<proof::Verifier> KzVerifier() {
  absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier =
      proof::Verifier::Create({testing::SharedPki().File("kz", "ca.crt")});
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return verifier.ok() ? *std::move(verifier) : nullptr;
}

absl::Time AcceptedTimeOf(const v1::EnvelopeHeader& header) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(header.accepted_time()));
}

TEST_F(RecordAcceptorTest, SubmitBatchAnswersEachRecordInOrderAsSubmitWould) {
  v1::SubmitRequest first = Request("req-1", CargoRecord("C-1"));
  v1::SubmitRequest invalid;  // A record of no kind.
  invalid.set_request_id("req-2");
  invalid.mutable_record();
  v1::SubmitRequest repeated = Request("req-1", CargoRecord("C-1"));  // The first again.
  v1::SubmitRequest denied = Request("req-4", EnterpriseRecord());    // Customs submits cargo only.

  const std::vector<absl::StatusOr<v1::SubmitResponse>> results = acceptor_->SubmitBatch({
      {kRegistry, &first, "Submit"},
      {kRegistry, &invalid, "Submit"},
      {kRegistry, &repeated, "SubmitStream"},
      {kCustoms, &denied, "Submit"},
  });
  ASSERT_EQ(results.size(), 4u);

  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->request_id(), "req-1");
  EXPECT_EQ(results[0]->state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_TRUE(IsUuidV7(results[0]->record_id())) << results[0]->record_id();
  EXPECT_FALSE(results[0]->has_error());

  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument) << results[1].status();
  EXPECT_EQ(ViolationFields(results[1].status()), std::vector<std::string>{"record.kind"}) << results[1].status();
  EXPECT_TRUE(absl::StrContains(results[1].status().message(), "record.kind")) << results[1].status();

  // A replay of the first, within the same batch: the first's record.
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[2]->request_id(), "req-1");
  EXPECT_EQ(results[2]->state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_EQ(results[2]->record_id(), results[0]->record_id());

  ASSERT_FALSE(results[3].ok());
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kPermissionDenied) << results[3].status();

  // One record stored, once.
  EXPECT_EQ(Pending(), 1);
  const std::vector<v1::Envelope> envelopes = QueuedEnvelopes(store_.get());
  ASSERT_EQ(envelopes.size(), 1u);
  const v1::EnvelopeHeader header = HeaderOf(envelopes[0]);
  EXPECT_EQ(header.record_id(), results[0]->record_id());
  EXPECT_EQ(header.record_type(), v1::RECORD_TYPE_CARGO);
  // The two records that passed the checks were signed together (the
  // repeated one was found to be a replay only at the commit, and dropped):
  // the stored proof is leaf 0 of 2, and verifies alone.
  EXPECT_EQ(envelopes[0].proof().leaf_count(), 2u);
  EXPECT_EQ(envelopes[0].proof().leaf_index(), 0u);
  const std::unique_ptr<proof::Verifier> verifier = KzVerifier();
  ASSERT_NE(verifier, nullptr);
  absl::StatusOr<proof::Verifier::Verified> verified = verifier->Verify(
      proof::Purpose::kEnvelope, envelopes[0].header(), envelopes[0].proof(), kKzGateway, AcceptedTimeOf(header));
  EXPECT_TRUE(verified.ok()) << verified.status();

  // Audited: the refusal for lack of a role, and the one record stored.
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = store_->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  int submits = 0, denials = 0;
  for (const v1::AuditEntry& entry : *audit) {
    if (entry.kind() == v1::AUDIT_EVENT_KIND_SUBMIT) {
      ++submits;
      EXPECT_EQ(entry.record_id(), results[0]->record_id());
    }
    if (entry.kind() == v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE) {
      ++denials;
      EXPECT_EQ(entry.identity(), kCustoms);
    }
  }
  EXPECT_EQ(submits, 1);
  EXPECT_EQ(denials, 1);
  EXPECT_EQ(audit->size(), 2u);

  // Each answer is the one Submit gives on its own afterwards.
  absl::StatusOr<v1::SubmitResponse> again = acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1")));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->record_id(), results[0]->record_id());
  EXPECT_EQ(acceptor_->Submit(kCustoms, Request("req-4", EnterpriseRecord())).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Pending(), 1);
}

TEST_F(RecordAcceptorTest, SubmitBatchSignsTheRecordsThatPassTogetherAndStoresThemInOrder) {
  v1::SubmitRequest first = Request("req-1", CargoRecord("C-1"));
  v1::SubmitRequest invalid = Request("with space", CargoRecord("C-2"));
  v1::SubmitRequest second = Request("req-3", CargoRecord("C-3"));
  v1::SubmitRequest denied = Request("req-4", CargoRecord("C-4"));
  const int64_t commits = store_->commits();
  const std::vector<absl::StatusOr<v1::SubmitResponse>> results = acceptor_->SubmitBatch({
      {kRegistry, &first, "Submit"},
      {kRegistry, &invalid, "Submit"},
      {kCustoms, &second, "Submit"},
      {kReader, &denied, "Submit"},
  });
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument) << results[1].status();
  EXPECT_EQ(ViolationFields(results[1].status()), std::vector<std::string>{"request_id"}) << results[1].status();
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kPermissionDenied) << results[3].status();
  EXPECT_EQ(results[0]->request_id(), "req-1");
  EXPECT_EQ(results[2]->request_id(), "req-3");
  EXPECT_NE(results[0]->record_id(), results[2]->record_id());
  // Both records in one transaction; the refusal's audit entry in its own.
  EXPECT_EQ(store_->commits(), commits + 2);
  EXPECT_GE(outbox_.high_water(), 1);  // The forwarder was woken.

  // In the outbox in batch order, one signature over both headers.
  const std::vector<v1::Envelope> envelopes = QueuedEnvelopes(store_.get());
  ASSERT_EQ(envelopes.size(), 2u);
  EXPECT_EQ(HeaderOf(envelopes[0]).record_id(), results[0]->record_id());
  EXPECT_EQ(HeaderOf(envelopes[1]).record_id(), results[2]->record_id());
  EXPECT_EQ(envelopes[0].proof().signature(), envelopes[1].proof().signature());
  EXPECT_FALSE(envelopes[0].proof().signature().empty());
  for (size_t i = 0; i < envelopes.size(); ++i) {
    const v1::BatchProof& proof = envelopes[i].proof();
    EXPECT_EQ(proof.leaf_count(), 2u) << i;
    EXPECT_EQ(proof.leaf_index(), i) << i;
    EXPECT_EQ(proof.merkle_path_size(), 1) << i;
    const v1::EnvelopeHeader header = HeaderOf(envelopes[i]);
    EXPECT_EQ(header.payload_digest(), Sha256Of(envelopes[i].payload())) << i;
    v1::Record payload;
    ASSERT_TRUE(payload.ParseFromString(envelopes[i].payload()));
    EXPECT_EQ(payload.cargo().consignment_id(), i == 0 ? "C-1" : "C-3");
  }
  // Each verifies on its own with the KZ CA, and only for its own header.
  const std::unique_ptr<proof::Verifier> verifier = KzVerifier();
  ASSERT_NE(verifier, nullptr);
  for (size_t i = 0; i < envelopes.size(); ++i) {
    const absl::Time accepted = AcceptedTimeOf(HeaderOf(envelopes[i]));
    absl::StatusOr<proof::Verifier::Verified> verified =
        verifier->Verify(proof::Purpose::kEnvelope, envelopes[i].header(), envelopes[i].proof(), kKzGateway, accepted);
    EXPECT_TRUE(verified.ok()) << i << ": " << verified.status();
    EXPECT_FALSE(
        verifier
            ->Verify(proof::Purpose::kEnvelope, envelopes[1 - i].header(), envelopes[i].proof(), kKzGateway, accepted)
            .ok())
        << i;
  }
  // Audited in batch order.
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = store_->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<std::string> submitted;
  for (const v1::AuditEntry& entry : *audit) {
    if (entry.kind() == v1::AUDIT_EVENT_KIND_SUBMIT) submitted.push_back(entry.record_id());
  }
  EXPECT_EQ(submitted, (std::vector<std::string>{results[0]->record_id(), results[2]->record_id()}));
}

TEST_F(RecordAcceptorTest, SubmitBatchOfNothingAnswersNothing) {
  const int64_t commits = store_->commits();
  EXPECT_TRUE(acceptor_->SubmitBatch({}).empty());
  EXPECT_EQ(store_->commits(), commits);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(outbox_.high_water(), 0);
}

TEST_F(RecordAcceptorTest, SubmitBatchWithARequestIdReusedForOtherContentIsAlreadyExistsForTheFirst) {
  v1::SubmitRequest first = Request("req-1", CargoRecord("C-1"));
  v1::SubmitRequest other = Request("req-1", CargoRecord("C-2"));
  const std::vector<absl::StatusOr<v1::SubmitResponse>> results =
      acceptor_->SubmitBatch({{kRegistry, &first, "Submit"}, {kRegistry, &other, "Submit"}});
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists) << results[1].status();
  EXPECT_EQ(RecordIdOf(results[1].status()), results[0]->record_id());
  EXPECT_TRUE(absl::StrContains(results[1].status().message(), results[0]->record_id())) << results[1].status();
  EXPECT_EQ(Pending(), 1);
}

TEST_F(RecordAcceptorTest, SubmitBatchOfReplaysOnlyStoresNothingAndWakesNobody) {
  ASSERT_TRUE(acceptor_->Submit(kRegistry, Request("req-1", CargoRecord("C-1"))).ok());
  ASSERT_TRUE(acceptor_->Submit(kCustoms, Request("req-1", CargoRecord("C-1"))).ok());
  const int64_t mark = outbox_.high_water();
  v1::SubmitRequest a = Request("req-1", CargoRecord("C-1"));
  v1::SubmitRequest b = Request("req-1", CargoRecord("C-1"));
  const std::vector<absl::StatusOr<v1::SubmitResponse>> results =
      acceptor_->SubmitBatch({{kRegistry, &a, "Submit"}, {kCustoms, &b, "Submit"}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(Pending(), 2);
  EXPECT_EQ(outbox_.high_water(), mark);
}

TEST_F(RecordAcceptorTest, WhenTheCommitFailsEveryRecordThatReachedItGetsTheError) {
  testing::FullDiskStore full;
  RecordAcceptor acceptor(v1::JURISDICTION_KZ, &full, &authorizer_, &policy_, signer_.get(), &outbox_);
  v1::SubmitRequest first = Request("req-1", CargoRecord("C-1"));
  v1::SubmitRequest denied = Request("req-2", EnterpriseRecord());
  v1::SubmitRequest second = Request("req-3", CargoRecord("C-3"));
  v1::SubmitRequest invalid;
  invalid.mutable_record();
  const std::vector<absl::StatusOr<v1::SubmitResponse>> results = acceptor.SubmitBatch({
      {kRegistry, &first, "Submit"},
      {kCustoms, &denied, "Submit"},
      {kCustoms, &second, "Submit"},
      {kRegistry, &invalid, "Submit"},
  });
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kResourceExhausted) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kPermissionDenied) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kResourceExhausted) << results[2].status();
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kInvalidArgument) << results[3].status();
  // One commit tried, for the two that passed.
  EXPECT_EQ(full.outbound_batch_sizes, std::vector<size_t>{2});
  EXPECT_EQ(outbox_.high_water(), 0);
}

}  // namespace
}  // namespace iicc::ministry
