#include "gateway/ministry/denial_auditor.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::ministry {
namespace {

using ::iicc::testing::TempDir;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);
constexpr char kFlooder[] = "spiffe://kz.iicc/ministry/flooder";
constexpr char kOther[] = "spiffe://kz.iicc/ministry/other";

class DenialAuditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::vector<v1::AuditEntry> Entries() {
    absl::StatusOr<std::vector<v1::AuditEntry>> entries = store_->ListAudit(0, 1000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<v1::AuditEntry>{};
  }

  TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(DenialAuditorTest, AuditsTheFirstDenialsOfAMinuteAndCountsTheRest) {
  DenialAuditor denials(store_.get(), /*workers=*/nullptr, /*per_minute=*/3);
  for (int i = 0; i < 100; ++i) {
    denials.Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, kFlooder, "Submit: may not submit CARGO records",
                   kStart + absl::Milliseconds(i));
  }
  // Another identity has its own quota.
  denials.Denied(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED, kOther, "Subscribe: rate limit exceeded", kStart);
  std::vector<v1::AuditEntry> entries = Entries();
  ASSERT_EQ(entries.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(entries[i].kind(), v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE);
    EXPECT_EQ(entries[i].identity(), kFlooder);
    EXPECT_EQ(entries[i].detail(), "Submit: may not submit CARGO records");
  }
  EXPECT_EQ(entries[3].kind(), v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED);
  EXPECT_EQ(entries[3].identity(), kOther);

  // Within the minute, a flush writes nothing; once it is over, the count.
  denials.Flush(kStart + absl::Seconds(59));
  EXPECT_EQ(Entries().size(), 4u);
  denials.Flush(kStart + absl::Seconds(60));
  entries = Entries();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[4].kind(), v1::AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED);
  EXPECT_EQ(entries[4].identity(), kFlooder);
  EXPECT_THAT(entries[4].detail(), HasSubstr("97 more denied calls"));
  // The other identity stayed within its quota: no count for it.
  denials.Flush(kStart + absl::Hours(1));
  EXPECT_EQ(Entries().size(), 5u);
}

TEST_F(DenialAuditorTest, TheNextMinutesFirstDenialWritesTheCountBeforeItself) {
  DenialAuditor denials(store_.get(), /*workers=*/nullptr, /*per_minute=*/1);
  denials.Denied(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED, kFlooder, "Submit: a", kStart);
  denials.Denied(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED, kFlooder, "Submit: b", kStart + absl::Seconds(1));
  denials.Denied(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED, kFlooder, "Submit: c", kStart + absl::Seconds(61));
  const std::vector<v1::AuditEntry> entries = Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].detail(), "Submit: a");
  EXPECT_EQ(entries[1].kind(), v1::AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED);
  EXPECT_THAT(entries[1].detail(), HasSubstr("1 more denied calls"));
  EXPECT_EQ(entries[2].detail(), "Submit: c");
}

TEST_F(DenialAuditorTest, AFloodOfIdentitiesIsBounded) {
  DenialAuditor denials(store_.get(), /*workers=*/nullptr, /*per_minute=*/1, /*max_identities=*/5);
  const int identities = 5 + 50;
  for (int i = 0; i < identities; ++i) {
    denials.Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, absl::StrCat("spiffe://kz.iicc/ministry/m", i),
                   "Submit: denied", kStart);
  }
  denials.Flush(kStart + absl::Minutes(1));
  // One entry per tracked identity, one for the first of the others, then
  // one count for the rest.
  const std::vector<v1::AuditEntry> entries = Entries();
  ASSERT_EQ(entries.size(), 5u + 2);
  EXPECT_EQ(entries.back().kind(), v1::AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED);
  EXPECT_EQ(entries.back().identity(), DenialAuditor::kOtherIdentities);
  EXPECT_THAT(entries.back().detail(), HasSubstr("49 more denied calls"));
}

}  // namespace
}  // namespace iicc::ministry
