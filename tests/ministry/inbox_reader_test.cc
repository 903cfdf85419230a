#include "gateway/ministry/inbox_reader.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/common/errors.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/sqlite_store.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::ministry {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

using ::iicc::testing::TempDir;

constexpr char kReader[] = "spiffe://uz.iicc/ministry/reader";            // Reads every type.
constexpr char kCargoReader[] = "spiffe://uz.iicc/ministry/checkpoint";   // Reads cargo only.
constexpr char kSubmitter[] = "spiffe://uz.iicc/ministry/submitter";      // Submits; reads nothing.
constexpr char kStranger[] = "spiffe://uz.iicc/ministry/not-configured";  // Not configured.

v1::GatewayConfig Config() {
  v1::GatewayConfig config;
  config.set_jurisdiction(v1::JURISDICTION_UZ);
  auto add = [&config](const char* id, v1::Role role, std::vector<v1::RecordType> types) {
    v1::MinistryIdentity* identity = config.add_ministries();
    identity->set_spiffe_id(id);
    v1::RoleGrant* grant = identity->add_grants();
    grant->set_role(role);
    for (v1::RecordType type : types) grant->add_record_types(type);
  };
  add(kReader, v1::ROLE_READ, {});
  add(kCargoReader, v1::ROLE_READ, {v1::RECORD_TYPE_CARGO});
  add(kSubmitter, v1::ROLE_SUBMIT, {});
  return config;
}

// A record of `type` whose content depends on `n`.
v1::Record MakeRecord(v1::RecordType type, int n) {
  v1::Record record;
  switch (type) {
    case v1::RECORD_TYPE_ENTERPRISE:
      record.mutable_enterprise()->set_name(absl::StrCat("Enterprise ", n));
      record.mutable_enterprise()->set_section(v1::JURISDICTION_KZ);
      break;
    case v1::RECORD_TYPE_CARGO:
      record.mutable_cargo()->set_consignment_id(absl::StrCat("C-", n));
      record.mutable_cargo()->set_direction(v1::DIRECTION_KZ_TO_UZ);
      break;
    case v1::RECORD_TYPE_INVESTMENT:
      record.mutable_investment()->set_project_id(absl::StrCat("P-", n));
      record.mutable_investment()->set_jobs_planned(n);
      break;
    default:
      ADD_FAILURE() << "no record of type " << type;
  }
  return record;
}

const absl::Time kReceived = absl::FromUnixMillis(1795000000000);

// The inbox seeded by the fixture: sequence i + 1 holds kSeedTypes[i].
const std::vector<v1::RecordType> kSeedTypes = {
    v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO,      v1::RECORD_TYPE_INVESTMENT, v1::RECORD_TYPE_CARGO,
    v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT, v1::RECORD_TYPE_CARGO,
};

std::vector<int64_t> Sequences(const v1::ListInboundRecordsResponse& response) {
  std::vector<int64_t> sequences;
  for (const v1::InboundRecord& record : response.records()) sequences.push_back(record.sequence());
  return sequences;
}

std::vector<std::string> ViolationFields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const v1::FieldViolation& violation : ViolationsOf(status)) fields.push_back(violation.field());
  return fields;
}

v1::ListInboundRecordsRequest ListRequest(int page_size, const std::vector<v1::RecordType>& types = {},
                                          const std::string& token = "") {
  v1::ListInboundRecordsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(token);
  for (v1::RecordType type : types) request.add_record_types(type);
  return request;
}

class InboxReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    reader_ = std::make_unique<InboxReader>(store_.get(), &authorizer_);
  }

  void Seed() {
    for (size_t i = 0; i < kSeedTypes.size(); ++i) {
      const int sequence = static_cast<int>(i + 1);
      store::InboundCommit commit;
      commit.record_id = RecordId(sequence);
      commit.origin = v1::JURISDICTION_KZ;
      commit.record_type = kSeedTypes[i];
      commit.record = MakeRecord(kSeedTypes[i], sequence).SerializeAsString();
      commit.payload_digest = absl::StrCat("digest-", sequence);
      commit.accepted = true;
      commit.receipt = absl::StrCat("receipt-", sequence);
      commit.received_time = kReceived + absl::Seconds(sequence);
      absl::StatusOr<store::InboundOutcome> outcome = store_->CommitInbound(commit);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      ASSERT_EQ(outcome->sequence, sequence);
    }
  }

  static std::string RecordId(int sequence) { return absl::StrCat("0190aaaa-0000-7000-8000-00000000000", sequence); }

  // Checks that `record` is the seeded record at its sequence.
  static void ExpectSeeded(const v1::InboundRecord& record) {
    const int64_t sequence = record.sequence();
    ASSERT_GE(sequence, 1);
    ASSERT_LE(sequence, static_cast<int64_t>(kSeedTypes.size()));
    const v1::RecordType type = kSeedTypes[sequence - 1];
    EXPECT_EQ(record.record_id(), RecordId(static_cast<int>(sequence)));
    EXPECT_EQ(record.origin(), v1::JURISDICTION_KZ);
    EXPECT_EQ(record.record_type(), type);
    EXPECT_TRUE(MessageDifferencer::Equals(record.record(), MakeRecord(type, static_cast<int>(sequence))))
        << record.DebugString();
    EXPECT_EQ(TimeUtil::TimestampToNanoseconds(record.received_time()),
              absl::ToUnixNanos(kReceived + absl::Seconds(sequence)));
  }

  TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  const security::Authorizer authorizer_{Config()};
  std::unique_ptr<InboxReader> reader_;
};

TEST_F(InboxReaderTest, EmptyInboxGivesAnEmptyLastPage) {
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(2));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records_size(), 0);
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(InboxReaderTest, PagesWalkTheWholeInboxInOrder) {
  Seed();
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(2, {}, token));
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_LE(page->records_size(), 2);
    for (const v1::InboundRecord& record : page->records()) {
      ExpectSeeded(record);
      seen.push_back(record.sequence());
    }
    token = page->next_page_token();
    if (!token.empty()) {
      EXPECT_EQ(page->records_size(), 2) << "only the last page may be short";
    }
    ASSERT_LT(++pages, 10) << "paging does not end";
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pages, 4);
}

TEST_F(InboxReaderTest, APageThatEndsTheInboxHasNoToken) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(7));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sequences(*page), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(InboxReaderTest, PageSizeZeroMeansTheDefault) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(0));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records_size(), 7);
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(InboxReaderTest, ListsOnlyTheRequestedTypes) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> enterprise =
      reader_->List(kReader, ListRequest(10, {v1::RECORD_TYPE_ENTERPRISE}));
  ASSERT_TRUE(enterprise.ok()) << enterprise.status();
  EXPECT_EQ(Sequences(*enterprise), (std::vector<int64_t>{1, 5}));

  absl::StatusOr<v1::ListInboundRecordsResponse> two =
      reader_->List(kReader, ListRequest(10, {v1::RECORD_TYPE_INVESTMENT, v1::RECORD_TYPE_CARGO}));
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(Sequences(*two), (std::vector<int64_t>{2, 3, 4, 6, 7}));
  for (const v1::InboundRecord& record : two->records()) ExpectSeeded(record);
}

TEST_F(InboxReaderTest, PagesThroughOneType) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> first =
      reader_->List(kCargoReader, ListRequest(2, {v1::RECORD_TYPE_CARGO}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Sequences(*first), (std::vector<int64_t>{2, 4}));
  ASSERT_NE(first->next_page_token(), "");
  absl::StatusOr<v1::ListInboundRecordsResponse> second =
      reader_->List(kCargoReader, ListRequest(2, {v1::RECORD_TYPE_CARGO}, first->next_page_token()));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Sequences(*second), (std::vector<int64_t>{7}));
  EXPECT_EQ(second->next_page_token(), "");
}

TEST_F(InboxReaderTest, EmptyTypesMeansWhatTheCallerMayRead) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kCargoReader, ListRequest(10));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sequences(*page), (std::vector<int64_t>{2, 4, 7}));
}

TEST_F(InboxReaderTest, PageTokenOfOtherRecordTypesIsInvalid) {
  Seed();
  absl::StatusOr<v1::ListInboundRecordsResponse> first =
      reader_->List(kReader, ListRequest(1, {v1::RECORD_TYPE_CARGO}));
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string token = first->next_page_token();
  ASSERT_NE(token, "");
  for (const std::vector<v1::RecordType>& other :
       {std::vector<v1::RecordType>{}, std::vector<v1::RecordType>{v1::RECORD_TYPE_ENTERPRISE},
        std::vector<v1::RecordType>{v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT}}) {
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(1, other, token));
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
    EXPECT_EQ(ViolationFields(page.status()), std::vector<std::string>{"page_token"}) << page.status();
  }
  // The same types again: fine.
  EXPECT_TRUE(reader_->List(kReader, ListRequest(1, {v1::RECORD_TYPE_CARGO}, token)).ok());
}

TEST_F(InboxReaderTest, GarbagePageTokenIsInvalid) {
  Seed();
  const std::string all_types_mask = absl::StrCat((1 << 1) | (1 << 2) | (1 << 3));
  for (const std::string& garbage :
       {std::string("not a token!"), std::string("%%%"), absl::WebSafeBase64Escape("hello"),
        absl::WebSafeBase64Escape(absl::StrCat("v2:2:", all_types_mask)),
        absl::WebSafeBase64Escape(absl::StrCat("v1:-1:", all_types_mask)),
        absl::WebSafeBase64Escape(absl::StrCat("v1:two:", all_types_mask)),
        absl::WebSafeBase64Escape(absl::StrCat("v1:2:", all_types_mask, ":x"))}) {
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(2, {}, garbage));
    ASSERT_FALSE(page.ok()) << garbage;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << garbage << ": " << page.status();
  }
}

TEST_F(InboxReaderTest, NegativePageSizeIsInvalid) {
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, ListRequest(-1));
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
  EXPECT_EQ(ViolationFields(page.status()), std::vector<std::string>{"page_size"}) << page.status();
}

TEST_F(InboxReaderTest, NegativeAfterSequenceIsInvalid) {
  v1::ListInboundRecordsRequest request = ListRequest(2);
  request.set_after_sequence(-5);
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, request);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
}

TEST_F(InboxReaderTest, AfterSequenceStartsAfterTheCursor) {
  Seed();
  v1::ListInboundRecordsRequest request = ListRequest(2);
  request.set_after_sequence(4);
  absl::StatusOr<v1::ListInboundRecordsResponse> first = reader_->List(kReader, request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Sequences(*first), (std::vector<int64_t>{5, 6}));
  ASSERT_NE(first->next_page_token(), "");
  // With a token, the token decides where the page starts.
  v1::ListInboundRecordsRequest next = ListRequest(2, {}, first->next_page_token());
  next.set_after_sequence(1);
  absl::StatusOr<v1::ListInboundRecordsResponse> second = reader_->List(kReader, next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Sequences(*second), (std::vector<int64_t>{7}));
  EXPECT_EQ(second->next_page_token(), "");
}

TEST_F(InboxReaderTest, AfterSequenceWithOneType) {
  Seed();
  v1::ListInboundRecordsRequest request = ListRequest(10, {v1::RECORD_TYPE_CARGO});
  request.set_after_sequence(2);
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kCargoReader, request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sequences(*page), (std::vector<int64_t>{4, 7}));
}

TEST_F(InboxReaderTest, AfterSequencePastTheEndGivesAnEmptyPage) {
  Seed();
  v1::ListInboundRecordsRequest request = ListRequest(10);
  request.set_after_sequence(7);
  absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records_size(), 0);
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(InboxReaderTest, IdentityWithoutReadRoleIsDenied) {
  Seed();
  for (const char* identity : {kSubmitter, kStranger}) {
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(identity, ListRequest(10));
    ASSERT_FALSE(page.ok()) << identity;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kPermissionDenied) << identity << ": " << page.status();
  }
}

TEST_F(InboxReaderTest, AskingForAnUnreadableTypeIsDenied) {
  Seed();
  for (const std::vector<v1::RecordType>& types :
       {std::vector<v1::RecordType>{v1::RECORD_TYPE_ENTERPRISE},
        std::vector<v1::RecordType>{v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT}}) {
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kCargoReader, ListRequest(10, types));
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.status().code(), absl::StatusCode::kPermissionDenied) << page.status();
  }
}

TEST_F(InboxReaderTest, UnknownRecordTypeIsInvalid) {
  for (int type : {0, 99}) {
    v1::ListInboundRecordsRequest request = ListRequest(10);
    request.add_record_types(static_cast<v1::RecordType>(type));
    absl::StatusOr<v1::ListInboundRecordsResponse> page = reader_->List(kReader, request);
    ASSERT_FALSE(page.ok()) << type;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << type << ": " << page.status();
    EXPECT_EQ(ViolationFields(page.status()), std::vector<std::string>{"record_types"}) << page.status();
  }
}

TEST_F(InboxReaderTest, ReadableTypesSortsAndDeduplicates) {
  google::protobuf::RepeatedField<int> requested;
  requested.Add(v1::RECORD_TYPE_INVESTMENT);
  requested.Add(v1::RECORD_TYPE_ENTERPRISE);
  requested.Add(v1::RECORD_TYPE_INVESTMENT);
  absl::StatusOr<std::vector<v1::RecordType>> types = reader_->ReadableTypes(kReader, requested);
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(*types, (std::vector<v1::RecordType>{v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT}));

  absl::StatusOr<std::vector<v1::RecordType>> all = reader_->ReadableTypes(kReader, {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, security::AllRecordTypes());

  absl::StatusOr<std::vector<v1::RecordType>> cargo = reader_->ReadableTypes(kCargoReader, {});
  ASSERT_TRUE(cargo.ok()) << cargo.status();
  EXPECT_EQ(*cargo, std::vector<v1::RecordType>{v1::RECORD_TYPE_CARGO});

  EXPECT_EQ(reader_->ReadableTypes(kSubmitter, {}).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(InboxReaderTest, ReadReturnsInboundRecords) {
  Seed();
  absl::StatusOr<std::vector<v1::InboundRecord>> records = reader_->Read(2, security::AllRecordTypes(), 3);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  for (size_t i = 0; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].sequence(), static_cast<int64_t>(i + 3));
    ExpectSeeded((*records)[i]);
  }
}

}  // namespace
}  // namespace iicc::ministry
