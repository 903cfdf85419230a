#include "gateway/store/sqlite_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/common/digest.h"
#include "gateway/store/audit.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::store {
namespace {

using ::iicc::testing::TempDir;

// Runs `sql` on the file at `path` with the SQLite C API, returning the
// first column of the first row as text ("" when there is none).
std::string QueryText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK) << path;
  std::string result;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) result = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

const absl::Time kAccepted = absl::FromUnixNanos(1795000000123456789);

// A digest-like value: 32 bytes, including NULs, different per `seed`.
std::string Digest(int seed) {
  std::string digest(32, '\0');
  for (int i = 0; i < 32; i += 3) digest[i] = static_cast<char>(seed * 31 + i);
  return digest;
}

// Envelope-like bytes: binary, with NULs.
std::string EnvelopeBytes(absl::string_view tag) { return absl::StrCat(std::string("\0\x01\xff", 3), tag); }

OutboundRecord Outbound(const std::string& record_id, const std::string& submitter, const std::string& request_id,
                        int digest_seed, v1::RecordType type = v1::RECORD_TYPE_CARGO) {
  OutboundRecord record;
  record.record_id = record_id;
  record.record_type = type;
  record.submitter = submitter;
  record.request_id = request_id;
  record.request_digest = Digest(digest_seed);
  record.envelope = EnvelopeBytes(record_id);
  record.accepted_time = kAccepted;
  return record;
}

InboundCommit Inbound(const std::string& record_id, v1::RecordType type, int digest_seed, bool accepted = true) {
  InboundCommit commit;
  commit.record_id = record_id;
  commit.origin = v1::JURISDICTION_UZ;
  commit.record_type = type;
  commit.payload_digest = Digest(digest_seed);
  if (accepted) commit.record = absl::StrCat(std::string("\x0a\0", 2), "record ", record_id);
  commit.accepted = accepted;
  commit.receipt = absl::StrCat(std::string("\x0a\0", 2), "receipt ", record_id, accepted ? " ok" : " rejected");
  commit.received_time = kAccepted + absl::Seconds(digest_seed);
  return commit;
}

constexpr char kSubmitter[] = "spiffe://kz.iicc/ministry/registry";
constexpr char kOtherSubmitter[] = "spiffe://kz.iicc/ministry/customs";

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  int64_t Pending() {
    absl::StatusOr<int64_t> count = store_->CountPending();
    EXPECT_TRUE(count.ok()) << count.status();
    return count.value_or(-1);
  }

  std::vector<PendingEnvelope> ListPending(int64_t after, int limit) {
    absl::StatusOr<std::vector<PendingEnvelope>> pending = store_->ListPending(after, limit);
    EXPECT_TRUE(pending.ok()) << pending.status();
    return pending.ok() ? *pending : std::vector<PendingEnvelope>{};
  }

  std::vector<InboxEntry> ListInbox(int64_t after, const std::vector<v1::RecordType>& types, int limit) {
    absl::StatusOr<std::vector<InboxEntry>> entries = store_->ListInbox(after, types, limit);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<InboxEntry>{};
  }

  static std::vector<int64_t> Sequences(const std::vector<InboxEntry>& entries) {
    std::vector<int64_t> sequences;
    for (const InboxEntry& entry : entries) sequences.push_back(entry.sequence);
    return sequences;
  }

  static std::vector<std::string> RecordIds(const std::vector<PendingEnvelope>& pending) {
    std::vector<std::string> ids;
    for (const PendingEnvelope& envelope : pending) ids.push_back(envelope.record_id);
    return ids;
  }

  // Commits one accepted record per type in `types`, ids "in-1", "in-2", ...
  void SeedInbox(const std::vector<v1::RecordType>& types) {
    for (size_t i = 0; i < types.size(); ++i) {
      absl::StatusOr<InboundOutcome> outcome =
          store_->CommitInbound(Inbound(absl::StrCat("in-", i + 1), types[i], static_cast<int>(i + 1)));
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      ASSERT_EQ(outcome->kind, InboundOutcome::Kind::kCommitted);
      ASSERT_EQ(outcome->sequence, static_cast<int64_t>(i + 1));
    }
  }

  TempDir dir_;
  const std::string path_ = dir_.File("gateway.db");
  std::unique_ptr<SqliteStore> store_;
};

// ---------------------------------------------------------------------------
// Opening.

TEST(SqliteStoreOpenTest, CreatesTheFileAtTheCurrentSchemaVersion) {
  TempDir dir;
  const std::string path = dir.File("new.db");
  ASSERT_FALSE(std::filesystem::exists(path));
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->schema_version(), kSchemaVersion);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_EQ(QueryText(path, "PRAGMA user_version"), absl::StrCat(kSchemaVersion));
}

TEST(SqliteStoreOpenTest, UsesTheWalJournal) {
  TempDir dir;
  const std::string path = dir.File("wal.db");
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  // WAL is a property of the file: another connection sees it.
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
}

TEST(SqliteStoreOpenTest, ReopenKeepsData) {
  TempDir dir;
  const std::string path = dir.File("reopen.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
    ASSERT_TRUE((*store)->CommitInbound(Inbound("in-1", v1::RECORD_TYPE_CARGO, 1)).ok());
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), kSchemaVersion);
  absl::StatusOr<OutboundStatus> status = (*store)->GetOutboundStatus("out-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->submitter, kSubmitter);
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_QUEUED);
  absl::StatusOr<int64_t> pending = (*store)->CountPending();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(*pending, 1);
  absl::StatusOr<int64_t> high_water = (*store)->InboxHighWater();
  ASSERT_TRUE(high_water.ok());
  EXPECT_EQ(*high_water, 1);
  // The idempotency key survived too.
  absl::StatusOr<AcceptOutcome> replay = (*store)->AcceptOutbound(Outbound("out-2", kSubmitter, "req-1", 1));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->kind, AcceptOutcome::Kind::kReplay);
  EXPECT_EQ(replay->record_id, "out-1");
}

TEST(SqliteStoreOpenTest, RefusesAFileFromANewerVersion) {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  ExecSql(path, absl::StrCat("PRAGMA user_version = ", kSchemaVersion + 1));
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  // The file is left as it was.
  EXPECT_EQ(QueryText(path, "PRAGMA user_version"), absl::StrCat(kSchemaVersion + 1));
}

TEST(SqliteStoreOpenTest, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  {
    FILE* file = fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    const std::string garbage(4096, 'x');
    fwrite(garbage.data(), 1, garbage.size(), file);
    fclose(file);
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_FALSE(store.ok());
}

TEST(SqliteStoreOpenTest, FailsInAMissingDirectory) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir.File("no/such/dir/gateway.db"));
  EXPECT_FALSE(store.ok());
}

// ---------------------------------------------------------------------------
// Outbox.

TEST_F(SqliteStoreTest, AcceptOutboundStoresTheRecord) {
  absl::StatusOr<AcceptOutcome> outcome =
      store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1, v1::RECORD_TYPE_INVESTMENT));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, AcceptOutcome::Kind::kAccepted);
  EXPECT_EQ(outcome->record_id, "out-1");
  EXPECT_EQ(Pending(), 1);

  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->record_id, "out-1");
  EXPECT_EQ(status->record_type, v1::RECORD_TYPE_INVESTMENT);
  EXPECT_EQ(status->submitter, kSubmitter);
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_QUEUED);
  EXPECT_EQ(status->reason, "");
  EXPECT_EQ(status->receipt, "");
  EXPECT_EQ(status->accepted_time, kAccepted);
  EXPECT_FALSE(status->delivered_time.has_value());

  const std::vector<PendingEnvelope> pending = ListPending(0, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].record_id, "out-1");
  EXPECT_EQ(pending[0].envelope, EnvelopeBytes("out-1"));  // Binary-safe.
  EXPECT_GT(pending[0].outbox_sequence, 0);
}

TEST_F(SqliteStoreTest, ReplayReturnsTheFirstRecordAndStoresNothing) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  absl::StatusOr<AcceptOutcome> replay = store_->AcceptOutbound(Outbound("out-2", kSubmitter, "req-1", 1));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->kind, AcceptOutcome::Kind::kReplay);
  EXPECT_EQ(replay->record_id, "out-1");
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(RecordIds(ListPending(0, 10)), std::vector<std::string>{"out-1"});
  EXPECT_EQ(store_->GetOutboundStatus("out-2").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ConflictReturnsTheFirstRecordAndStoresNothing) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  absl::StatusOr<AcceptOutcome> conflict = store_->AcceptOutbound(Outbound("out-2", kSubmitter, "req-1", 2));
  ASSERT_TRUE(conflict.ok()) << conflict.status();
  EXPECT_EQ(conflict->kind, AcceptOutcome::Kind::kConflict);
  EXPECT_EQ(conflict->record_id, "out-1");
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(store_->GetOutboundStatus("out-2").status().code(), absl::StatusCode::kNotFound);
  // The key still belongs to the first record.
  absl::StatusOr<AcceptOutcome> replay = store_->AcceptOutbound(Outbound("out-3", kSubmitter, "req-1", 1));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->kind, AcceptOutcome::Kind::kReplay);
  EXPECT_EQ(replay->record_id, "out-1");
}

TEST_F(SqliteStoreTest, DigestsDifferingAfterANulByteConflict) {
  // Digests are bytes: a difference after a NUL byte is a difference.
  OutboundRecord first = Outbound("out-1", kSubmitter, "req-1", 1);
  first.request_digest = std::string("\0\0\0a", 4);
  OutboundRecord second = Outbound("out-2", kSubmitter, "req-1", 1);
  second.request_digest = std::string("\0\0\0b", 4);
  ASSERT_TRUE(store_->AcceptOutbound(first).ok());
  absl::StatusOr<AcceptOutcome> outcome = store_->AcceptOutbound(second);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, AcceptOutcome::Kind::kConflict);
}

TEST_F(SqliteStoreTest, IdempotencyIsPerSubmitter) {
  absl::StatusOr<AcceptOutcome> first = store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1));
  absl::StatusOr<AcceptOutcome> second = store_->AcceptOutbound(Outbound("out-2", kOtherSubmitter, "req-1", 1));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->kind, AcceptOutcome::Kind::kAccepted);
  EXPECT_EQ(second->kind, AcceptOutcome::Kind::kAccepted);
  EXPECT_EQ(second->record_id, "out-2");
  EXPECT_EQ(Pending(), 2);
  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-2");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->submitter, kOtherSubmitter);
}

TEST_F(SqliteStoreTest, GetOutboundStatusOfUnknownRecordIsNotFound) {
  EXPECT_EQ(store_->GetOutboundStatus("01890a5d-ac96-774b-bcce-b302099a8057").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetOutboundStatus("").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ListPendingIsInAcceptanceOrderAndHonoursAfterAndLimit) {
  // Ids deliberately not in lexical order: the order is the acceptance order.
  const std::vector<std::string> ids = {"out-c", "out-a", "out-e", "out-b", "out-d"};
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(store_->AcceptOutbound(Outbound(ids[i], kSubmitter, absl::StrCat("req-", i), 1)).ok());
  }
  const std::vector<PendingEnvelope> all = ListPending(0, 100);
  EXPECT_EQ(RecordIds(all), ids);
  ASSERT_EQ(all.size(), ids.size());
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].outbox_sequence, all[i].outbox_sequence);
  for (const PendingEnvelope& envelope : all) EXPECT_EQ(envelope.envelope, EnvelopeBytes(envelope.record_id));

  EXPECT_EQ(RecordIds(ListPending(0, 2)), (std::vector<std::string>{"out-c", "out-a"}));
  EXPECT_EQ(RecordIds(ListPending(all[1].outbox_sequence, 2)), (std::vector<std::string>{"out-e", "out-b"}));
  EXPECT_EQ(RecordIds(ListPending(all[3].outbox_sequence, 100)), (std::vector<std::string>{"out-d"}));
  EXPECT_TRUE(ListPending(all[4].outbox_sequence, 100).empty());
}

TEST_F(SqliteStoreTest, RecordOutcomeDeliveredStoresTheReceipt) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-2", kSubmitter, "req-2", 2)).ok());
  EXPECT_EQ(Pending(), 2);
  const std::string receipt = std::string("\x0a\x00receipt-1", 11);
  const absl::Time delivered = kAccepted + absl::Milliseconds(1500);
  ASSERT_TRUE(store_->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, "", receipt, delivered).ok());
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(RecordIds(ListPending(0, 10)), std::vector<std::string>{"out-2"});

  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(status->reason, "");
  EXPECT_EQ(status->receipt, receipt);
  ASSERT_TRUE(status->delivered_time.has_value());
  EXPECT_EQ(*status->delivered_time, delivered);
  EXPECT_EQ(status->accepted_time, kAccepted);
}

TEST_F(SqliteStoreTest, RecordOutcomeRejectedStoresTheReason) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  ASSERT_TRUE(store_->RecordOutcome("out-1", v1::DELIVERY_STATE_REJECTED, "invalid record", "rcpt", kAccepted).ok());
  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_REJECTED);
  EXPECT_EQ(status->reason, "invalid record");
  EXPECT_EQ(status->receipt, "rcpt");
  EXPECT_EQ(Pending(), 0);
}

TEST_F(SqliteStoreTest, RecordOutcomeLeavesARecordNoLongerQueuedAsItIs) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  const absl::Time first_time = kAccepted + absl::Seconds(1);
  ASSERT_TRUE(store_->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, "", "first", first_time).ok());
  // A duplicate receipt after a resend.
  EXPECT_TRUE(
      store_->RecordOutcome("out-1", v1::DELIVERY_STATE_REJECTED, "late", "second", kAccepted + absl::Seconds(2)).ok());
  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(status->reason, "");
  EXPECT_EQ(status->receipt, "first");
  ASSERT_TRUE(status->delivered_time.has_value());
  EXPECT_EQ(*status->delivered_time, first_time);
  EXPECT_EQ(Pending(), 0);
}

TEST_F(SqliteStoreTest, RecordOutcomeAcceptsEmptyStringViews) {
  // An empty reason may come as a default-constructed string_view.
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  const absl::Status status =
      store_->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, absl::string_view(), "receipt", kAccepted);
  EXPECT_TRUE(status.ok()) << status;
  absl::StatusOr<OutboundStatus> stored = store_->GetOutboundStatus("out-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(stored->reason, "");
}

TEST_F(SqliteStoreTest, CountPendingFollowsAcceptsAndOutcomes) {
  EXPECT_EQ(Pending(), 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->AcceptOutbound(Outbound(absl::StrCat("out-", i), kSubmitter, absl::StrCat("req-", i), i)).ok());
  }
  EXPECT_EQ(Pending(), 5);
  ASSERT_TRUE(store_->RecordOutcome("out-0", v1::DELIVERY_STATE_DELIVERED, "", "r", kAccepted).ok());
  ASSERT_TRUE(store_->RecordOutcome("out-3", v1::DELIVERY_STATE_REJECTED, "no", "r", kAccepted).ok());
  EXPECT_EQ(Pending(), 3);
  // An outcome for an unknown record changes nothing.
  EXPECT_TRUE(store_->RecordOutcome("out-x", v1::DELIVERY_STATE_DELIVERED, "", "r", kAccepted).ok());
  EXPECT_EQ(Pending(), 3);
}

TEST_F(SqliteStoreTest, OldestPendingAcceptedTimeIsTheOldestStillQueued) {
  EXPECT_EQ(store_->OldestPendingAcceptedTime().status().code(), absl::StatusCode::kNotFound);
  for (int i = 0; i < 3; ++i) {
    OutboundRecord record = Outbound(absl::StrCat("out-", i), kSubmitter, absl::StrCat("req-", i), i);
    record.accepted_time = kAccepted + absl::Seconds(i);
    ASSERT_TRUE(store_->AcceptOutbound(record).ok());
  }
  EXPECT_EQ(store_->OldestPendingAcceptedTime().value_or(absl::InfinitePast()), kAccepted);
  ASSERT_TRUE(store_->RecordOutcome("out-0", v1::DELIVERY_STATE_DELIVERED, "", "r", kAccepted).ok());
  EXPECT_EQ(store_->OldestPendingAcceptedTime().value_or(absl::InfinitePast()), kAccepted + absl::Seconds(1));
  ASSERT_TRUE(store_->RecordOutcome("out-1", v1::DELIVERY_STATE_REJECTED, "no", "r", kAccepted).ok());
  ASSERT_TRUE(store_->RecordOutcome("out-2", v1::DELIVERY_STATE_DELIVERED, "", "r", kAccepted).ok());
  EXPECT_EQ(store_->OldestPendingAcceptedTime().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, CheckWritableCommitsAndLeavesNothingBehind) {
  const int64_t commits = store_->commits();
  ASSERT_TRUE(store_->CheckWritable().ok());
  EXPECT_EQ(store_->commits(), commits + 1);  // A real, durable transaction.
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM health_probe"), "0");
  EXPECT_TRUE(store_->ListAudit(0, 10).value_or(std::vector<v1::AuditEntry>{1}).empty());  // Not an event.
}

TEST_F(SqliteStoreTest, ConcurrentAcceptsAreAllStoredWithUniqueSequences) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<AcceptOutcome> outcome = store_->AcceptOutbound(
            Outbound(absl::StrCat("out-", t, "-", i), absl::StrCat(kSubmitter, "-", t), absl::StrCat("req-", i), i));
        if (!outcome.ok() || outcome->kind != AcceptOutcome::Kind::kAccepted) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  EXPECT_EQ(Pending(), kThreads * kPerThread);
  const std::vector<PendingEnvelope> pending = ListPending(0, 10000);
  ASSERT_EQ(pending.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<int64_t> sequences;
  std::set<std::string> ids;
  for (const PendingEnvelope& envelope : pending) {
    sequences.insert(envelope.outbox_sequence);
    ids.insert(envelope.record_id);
  }
  EXPECT_EQ(sequences.size(), pending.size());
  EXPECT_EQ(ids.size(), pending.size());
  // Each thread's records are in its own submission order.
  for (int t = 0; t < kThreads; ++t) {
    int next = 0;
    for (const PendingEnvelope& envelope : pending) {
      if (envelope.record_id == absl::StrCat("out-", t, "-", next)) ++next;
    }
    EXPECT_EQ(next, kPerThread) << "thread " << t;
  }
}

// ---------------------------------------------------------------------------
// Inbox.

TEST_F(SqliteStoreTest, InboxHighWaterIsZeroWhenEmpty) {
  absl::StatusOr<int64_t> high_water = store_->InboxHighWater();
  ASSERT_TRUE(high_water.ok()) << high_water.status();
  EXPECT_EQ(*high_water, 0);
  EXPECT_TRUE(ListInbox(0, {}, 100).empty());
}

TEST_F(SqliteStoreTest, CommitInboundAssignsGaplessSequences) {
  for (int i = 1; i <= 3; ++i) {
    const InboundCommit commit = Inbound(absl::StrCat("in-", i), v1::RECORD_TYPE_CARGO, i);
    absl::StatusOr<InboundOutcome> outcome = store_->CommitInbound(commit);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->kind, InboundOutcome::Kind::kCommitted);
    EXPECT_EQ(outcome->sequence, i);
    EXPECT_EQ(outcome->receipt, commit.receipt);
  }
  absl::StatusOr<int64_t> high_water = store_->InboxHighWater();
  ASSERT_TRUE(high_water.ok());
  EXPECT_EQ(*high_water, 3);

  const std::vector<InboxEntry> entries = ListInbox(0, {}, 100);
  ASSERT_EQ(entries.size(), 3u);
  for (int i = 1; i <= 3; ++i) {
    const InboundCommit expected = Inbound(absl::StrCat("in-", i), v1::RECORD_TYPE_CARGO, i);
    const InboxEntry& entry = entries[i - 1];
    EXPECT_EQ(entry.sequence, i);
    EXPECT_EQ(entry.record_id, expected.record_id);
    EXPECT_EQ(entry.origin, v1::JURISDICTION_UZ);
    EXPECT_EQ(entry.record_type, v1::RECORD_TYPE_CARGO);
    EXPECT_EQ(entry.record, expected.record);  // Binary-safe.
    EXPECT_EQ(entry.received_time, expected.received_time);
  }
}

TEST_F(SqliteStoreTest, DuplicateReturnsTheOriginalReceipt) {
  const InboundCommit first = Inbound("in-1", v1::RECORD_TYPE_ENTERPRISE, 7);
  ASSERT_TRUE(store_->CommitInbound(first).ok());
  InboundCommit again = first;
  again.receipt = "a newer receipt";
  again.received_time = first.received_time + absl::Minutes(5);
  absl::StatusOr<InboundOutcome> outcome = store_->CommitInbound(again);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, InboundOutcome::Kind::kDuplicate);
  EXPECT_EQ(outcome->receipt, first.receipt);
  absl::StatusOr<int64_t> high_water = store_->InboxHighWater();
  ASSERT_TRUE(high_water.ok());
  EXPECT_EQ(*high_water, 1);
  const std::vector<InboxEntry> entries = ListInbox(0, {}, 100);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].received_time, first.received_time);
}

TEST_F(SqliteStoreTest, ConflictLeavesTheStoredRecordUntouched) {
  const InboundCommit first = Inbound("in-1", v1::RECORD_TYPE_CARGO, 1);
  ASSERT_TRUE(store_->CommitInbound(first).ok());
  InboundCommit other = Inbound("in-1", v1::RECORD_TYPE_INVESTMENT, 2);
  other.record = "another record";
  other.receipt = "another receipt";
  absl::StatusOr<InboundOutcome> outcome = store_->CommitInbound(other);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, InboundOutcome::Kind::kConflict);

  const std::vector<InboxEntry> entries = ListInbox(0, {}, 100);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].record_id, "in-1");
  EXPECT_EQ(entries[0].record_type, v1::RECORD_TYPE_CARGO);
  EXPECT_EQ(entries[0].record, first.record);
  // The first receipt is still the one answered for the first payload.
  absl::StatusOr<InboundOutcome> again = store_->CommitInbound(first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kind, InboundOutcome::Kind::kDuplicate);
  EXPECT_EQ(again->receipt, first.receipt);
}

TEST_F(SqliteStoreTest, RejectedCommitKeepsTheReceiptButNoInboxRow) {
  ASSERT_TRUE(store_->CommitInbound(Inbound("in-1", v1::RECORD_TYPE_CARGO, 1)).ok());
  const InboundCommit rejected = Inbound("in-2", v1::RECORD_TYPE_CARGO, 2, /*accepted=*/false);
  absl::StatusOr<InboundOutcome> outcome = store_->CommitInbound(rejected);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->kind, InboundOutcome::Kind::kCommitted);
  EXPECT_EQ(outcome->receipt, rejected.receipt);
  absl::StatusOr<int64_t> high_water = store_->InboxHighWater();
  ASSERT_TRUE(high_water.ok());
  EXPECT_EQ(*high_water, 1);
  EXPECT_EQ(ListInbox(0, {}, 100).size(), 1u);

  // The rejected record consumed no sequence.
  absl::StatusOr<InboundOutcome> next = store_->CommitInbound(Inbound("in-3", v1::RECORD_TYPE_CARGO, 3));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sequence, 2);
  // Its receipt is answered again for a resend.
  absl::StatusOr<InboundOutcome> resend = store_->CommitInbound(rejected);
  ASSERT_TRUE(resend.ok());
  EXPECT_EQ(resend->kind, InboundOutcome::Kind::kDuplicate);
  EXPECT_EQ(resend->receipt, rejected.receipt);
  EXPECT_EQ(Sequences(ListInbox(0, {}, 100)), (std::vector<int64_t>{1, 2}));
}

TEST_F(SqliteStoreTest, ListInboxHonoursAfterAndLimit) {
  SeedInbox({v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_CARGO,
             v1::RECORD_TYPE_CARGO});
  EXPECT_EQ(Sequences(ListInbox(0, {}, 2)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Sequences(ListInbox(2, {}, 2)), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Sequences(ListInbox(4, {}, 2)), (std::vector<int64_t>{5}));
  EXPECT_TRUE(ListInbox(5, {}, 2).empty());
  EXPECT_EQ(Sequences(ListInbox(3, {}, 100)), (std::vector<int64_t>{4, 5}));
}

TEST_F(SqliteStoreTest, ListInboxFiltersByEachType) {
  // 1 enterprise, 2 cargo, 3 investment, 4 cargo, 5 enterprise, 6 investment.
  SeedInbox({v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT, v1::RECORD_TYPE_CARGO,
             v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT});
  EXPECT_EQ(Sequences(ListInbox(0, {v1::RECORD_TYPE_ENTERPRISE}, 100)), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(Sequences(ListInbox(0, {v1::RECORD_TYPE_CARGO}, 100)), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(Sequences(ListInbox(0, {v1::RECORD_TYPE_INVESTMENT}, 100)), (std::vector<int64_t>{3, 6}));
}

TEST_F(SqliteStoreTest, ListInboxFiltersBySeveralTypes) {
  SeedInbox({v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT, v1::RECORD_TYPE_CARGO,
             v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT});
  EXPECT_EQ(Sequences(ListInbox(0, {v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT}, 100)),
            (std::vector<int64_t>{1, 3, 5, 6}));
  EXPECT_EQ(Sequences(ListInbox(0, {v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_ENTERPRISE}, 100)),
            (std::vector<int64_t>{1, 2, 4, 5}));
  // Naming every type is the same as naming none.
  EXPECT_EQ(
      Sequences(ListInbox(0, {v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT}, 100)),
      (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Sequences(ListInbox(0, {}, 100)), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(SqliteStoreTest, ListInboxFiltersWithAfterAndLimit) {
  SeedInbox({v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_ENTERPRISE,
             v1::RECORD_TYPE_CARGO});
  EXPECT_EQ(Sequences(ListInbox(1, {v1::RECORD_TYPE_CARGO}, 1)), (std::vector<int64_t>{3}));
  EXPECT_EQ(Sequences(ListInbox(3, {v1::RECORD_TYPE_CARGO}, 10)), (std::vector<int64_t>{5}));
  EXPECT_TRUE(ListInbox(5, {v1::RECORD_TYPE_CARGO}, 10).empty());
}

// ---------------------------------------------------------------------------
// Audit chain.

std::vector<v1::AuditEntry> AllAudit(Store* store) {
  absl::StatusOr<std::vector<v1::AuditEntry>> entries = store->ListAudit(0, 1000000);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::vector<v1::AuditEntry>{};
}

absl::Status VerifyChain(const std::vector<v1::AuditEntry>& entries) {
  AuditChainVerifier verifier;
  for (const v1::AuditEntry& entry : entries) {
    if (absl::Status status = verifier.Next(entry); !status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<v1::AuditEventKind> Kinds(const std::vector<v1::AuditEntry>& entries) {
  std::vector<v1::AuditEventKind> kinds;
  for (const v1::AuditEntry& entry : entries) kinds.push_back(entry.kind());
  return kinds;
}

TEST_F(SqliteStoreTest, EachStateChangeAppendsOneAuditEntryAndNothingElseDoes) {
  OutboundRecord record = Outbound("out-1", kSubmitter, "req-1", 1);
  record.payload_digest = Digest(100);
  record.policy_version = "abc123";
  ASSERT_TRUE(store_->AcceptOutbound(record).ok());
  ASSERT_TRUE(store_->AcceptOutbound(record).ok());                                     // Replay: nothing.
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-2", kSubmitter, "req-1", 2)).ok());  // Conflict: nothing.
  ASSERT_TRUE(store_->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, "", "receipt-1", kAccepted).ok());
  ASSERT_TRUE(
      store_->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, "", "receipt-1", kAccepted).ok());  // Not queued.
  InboundCommit received = Inbound("in-1", v1::RECORD_TYPE_CARGO, 1);
  received.sender = "spiffe://uz.iicc/gateway";
  ASSERT_TRUE(store_->CommitInbound(received).ok());
  ASSERT_TRUE(store_->CommitInbound(received).ok());  // Duplicate: nothing.
  InboundCommit refused = Inbound("in-2", v1::RECORD_TYPE_CARGO, 2, /*accepted=*/false);
  refused.reason = "refused by policy: cargo.goods[0].hs6: HS chapter 93 requires a licence exchange";
  ASSERT_TRUE(store_->CommitInbound(refused).ok());
  ASSERT_TRUE(store_->CommitInbound(Inbound("in-1", v1::RECORD_TYPE_CARGO, 9)).ok());  // Conflict: audited.
  ASSERT_TRUE(store_->AppendAudit(AuditEvent{v1::AUDIT_EVENT_KIND_POLICY_RELOAD, "", "", Digest(7), "v2"}).ok());

  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  EXPECT_EQ(Kinds(entries),
            (std::vector<v1::AuditEventKind>{v1::AUDIT_EVENT_KIND_SUBMIT, v1::AUDIT_EVENT_KIND_DELIVER,
                                             v1::AUDIT_EVENT_KIND_RECEIVE, v1::AUDIT_EVENT_KIND_INBOUND_REJECT,
                                             v1::AUDIT_EVENT_KIND_INBOUND_REJECT, v1::AUDIT_EVENT_KIND_POLICY_RELOAD}));
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0].record_id(), "out-1");
  EXPECT_EQ(entries[0].identity(), kSubmitter);
  EXPECT_EQ(entries[0].digest(), Digest(100));
  EXPECT_EQ(entries[0].detail(), "policy abc123");
  EXPECT_EQ(entries[1].digest(), testing::Sha256Of("receipt-1"));
  EXPECT_EQ(entries[2].identity(), "spiffe://uz.iicc/gateway");
  EXPECT_EQ(entries[2].digest(), Digest(1));
  EXPECT_EQ(entries[3].detail(), refused.reason);
  EXPECT_EQ(entries[4].record_id(), "in-1");
  EXPECT_EQ(entries[4].digest(), Digest(9));
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].sequence(), static_cast<int64_t>(i + 1));
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
}

TEST_F(SqliteStoreTest, TheChainContinuesAcrossReopen) {
  ASSERT_TRUE(store_->AppendAudit(AuditEvent{v1::AUDIT_EVENT_KIND_POLICY_RELOAD, "", "", "", "v1"}).ok());
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1", kSubmitter, "req-1", 1)).ok());
  store_.reset();
  absl::StatusOr<std::unique_ptr<SqliteStore>> reopened = SqliteStore::Open(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_TRUE((*reopened)->AcceptOutbound(Outbound("out-2", kSubmitter, "req-2", 2)).ok());
  const std::vector<v1::AuditEntry> entries = AllAudit(reopened->get());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].previous_hash(), entries[1].hash());
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
}

TEST_F(SqliteStoreTest, SqlCannotChangeOrDeleteAuditEntries) {
  ASSERT_TRUE(store_->AppendAudit(AuditEvent{v1::AUDIT_EVENT_KIND_POLICY_RELOAD, "", "", "", "v1"}).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET detail = 'v2'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(AllAudit(store_.get()).size(), 1u);
}

// Someone with the file drops the triggers and edits: the verifier names the
// first entry that no longer fits.
TEST_F(SqliteStoreTest, VerifierNamesTheFirstTamperedEntry) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store_->AcceptOutbound(Outbound(absl::StrCat("out-", i), kSubmitter, absl::StrCat("req-", i), i)).ok());
  }
  ASSERT_TRUE(VerifyChain(AllAudit(store_.get())).ok());
  ExecSql(path_, "DROP TRIGGER audit_no_update; UPDATE audit SET identity = 'spiffe://kz.iicc/x' WHERE sequence = 3");
  absl::Status changed = VerifyChain(AllAudit(store_.get()));
  EXPECT_EQ(changed.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(changed.message(), "audit entry 3: hash does not match")) << changed;

  ExecSql(path_, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE sequence = 2");
  absl::Status missing = VerifyChain(AllAudit(store_.get()));
  EXPECT_TRUE(absl::StartsWith(missing.message(), "audit entry 2: sequence 3 where 2 was due")) << missing;
}

// ---------------------------------------------------------------------------
// Group commit.

TEST_F(SqliteStoreTest, ConcurrentWritersShareCommitsAndOneFailureUndoesOnlyItself) {
  constexpr int kThreads = 12;
  constexpr int kPerThread = 30;
  std::vector<std::thread> threads;
  std::vector<int> good_failed(kThreads, 0), bad_succeeded(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string submitter = absl::StrCat(kSubmitter, "-", t);
        absl::StatusOr<AcceptOutcome> good =
            store_->AcceptOutbound(Outbound(absl::StrCat("out-", t, "-", i), submitter, absl::StrCat("req-", i), i));
        if (!good.ok() || good->kind != AcceptOutcome::Kind::kAccepted) ++good_failed[t];
        // A new request that reuses a stored record_id: the outbox insert
        // fails after the idempotency row and must take nothing with it.
        absl::StatusOr<AcceptOutcome> bad = store_->AcceptOutbound(
            Outbound(absl::StrCat("out-", t, "-", i), submitter, absl::StrCat("bad-", i), 1000 + i));
        if (bad.ok()) ++bad_succeeded[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(good_failed[t], 0) << "thread " << t;
    EXPECT_EQ(bad_succeeded[t], 0) << "thread " << t;
  }
  constexpr int kGood = kThreads * kPerThread;
  EXPECT_EQ(Pending(), kGood);
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM idempotency"), absl::StrCat(kGood));
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  EXPECT_EQ(entries.size(), static_cast<size_t>(kGood));
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
  // 2 x 360 calls from 12 threads at once: many share a transaction.
  EXPECT_LT(store_->commits(), kGood) << "no two writers ever shared a commit";
}

// Many writers fill the store together: each call is either stored whole or
// refused with RESOURCE_EXHAUSTED, never another error, and the chain holds.
TEST(SqliteStoreLimitTest, ConcurrentWritersOnAFullStoreGetResourceExhaustedOnly) {
  TempDir dir;
  const std::string path = dir.File("small.db");
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, {/*max_size_bytes=*/768 * 1024});
  ASSERT_TRUE(store.ok()) << store.status();
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  std::vector<int> stored(kThreads, 0), other_errors(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        OutboundRecord record =
            Outbound(absl::StrCat("out-", t, "-", i), absl::StrCat(kSubmitter, "-", t), absl::StrCat("req-", i), i);
        record.envelope = std::string(4096, 'x');
        absl::StatusOr<AcceptOutcome> outcome = (*store)->AcceptOutbound(record);
        if (outcome.ok()) {
          ++stored[t];
        } else if (outcome.status().code() != absl::StatusCode::kResourceExhausted) {
          ++other_errors[t];
          ADD_FAILURE() << outcome.status();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int total = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(other_errors[t], 0) << "thread " << t;
    total += stored[t];
  }
  EXPECT_LT(total, kThreads * 40) << "the store never filled";
  EXPECT_EQ((*store)->CountPending().value_or(-1), total);
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM idempotency"), absl::StrCat(total));
  const std::vector<v1::AuditEntry> entries = AllAudit(store->get());
  EXPECT_EQ(entries.size(), static_cast<size_t>(total));
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
}

TEST(SqliteStoreLimitTest, AFullStoreRefusesWithResourceExhaustedWritesNothingHalfAndResumes) {
  TempDir dir;
  const std::string path = dir.File("small.db");
  const std::string big(16 * 1024, 'x');
  int accepted = 0;
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, {/*max_size_bytes=*/1024 * 1024});
    ASSERT_TRUE(store.ok()) << store.status();
    absl::Status full;
    for (int i = 0; i < 200 && full.ok(); ++i) {
      OutboundRecord record = Outbound(absl::StrCat("out-", i), kSubmitter, absl::StrCat("req-", i), i);
      record.envelope = big;
      absl::StatusOr<AcceptOutcome> outcome = (*store)->AcceptOutbound(record);
      if (outcome.ok()) {
        ++accepted;
      } else {
        full = outcome.status();
      }
    }
    EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
    EXPECT_GT(accepted, 0);
    // The readiness probe sees it too.
    EXPECT_EQ((*store)->CheckWritable().code(), absl::StatusCode::kResourceExhausted);
    // Nothing half-written: every idempotency key has its record and its
    // audit entry, and the chain holds.
    EXPECT_EQ((*store)->CountPending().value_or(-1), accepted);
    EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM idempotency"), absl::StrCat(accepted));
    const std::vector<v1::AuditEntry> entries = AllAudit(store->get());
    EXPECT_EQ(entries.size(), static_cast<size_t>(accepted));
    EXPECT_TRUE(VerifyChain(entries).ok());
  }
  // Space returns: the same file takes records again.
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->CheckWritable().ok());
  EXPECT_TRUE((*store)->AcceptOutbound(Outbound("out-after", kSubmitter, "req-after", 7)).ok());
  EXPECT_EQ((*store)->CountPending().value_or(-1), accepted + 1);
  EXPECT_TRUE(VerifyChain(AllAudit(store->get())).ok());
}

// ---------------------------------------------------------------------------
// Batches of outbound records (AcceptOutboundBatch), and the prepared
// statements the store keeps between calls.

std::vector<AcceptOutcome::Kind> OutcomeKinds(const std::vector<AcceptOutcome>& outcomes) {
  std::vector<AcceptOutcome::Kind> kinds;
  for (const AcceptOutcome& outcome : outcomes) kinds.push_back(outcome.kind);
  return kinds;
}

std::vector<std::string> OutcomeRecordIds(const std::vector<AcceptOutcome>& outcomes) {
  std::vector<std::string> ids;
  for (const AcceptOutcome& outcome : outcomes) ids.push_back(outcome.record_id);
  return ids;
}

TEST_F(SqliteStoreTest, AcceptOutboundBatchStoresEachRecordInOrderInOneCommit) {
  OutboundRecord first = Outbound("out-1", kSubmitter, "req-1", 1, v1::RECORD_TYPE_INVESTMENT);
  first.payload_digest = Digest(101);
  first.policy_version = "p1";
  OutboundRecord second = Outbound("out-2", kOtherSubmitter, "req-1", 2, v1::RECORD_TYPE_CARGO);
  second.accepted_time = kAccepted + absl::Seconds(2);
  OutboundRecord third = Outbound("out-3", kSubmitter, "req-3", 3, v1::RECORD_TYPE_ENTERPRISE);
  const int64_t commits = store_->commits();

  absl::StatusOr<std::vector<AcceptOutcome>> outcomes = store_->AcceptOutboundBatch({first, second, third});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(OutcomeKinds(*outcomes),
            (std::vector<AcceptOutcome::Kind>{AcceptOutcome::Kind::kAccepted, AcceptOutcome::Kind::kAccepted,
                                              AcceptOutcome::Kind::kAccepted}));
  EXPECT_EQ(OutcomeRecordIds(*outcomes), (std::vector<std::string>{"out-1", "out-2", "out-3"}));
  EXPECT_EQ(store_->commits(), commits + 1);  // One transaction, one fsync.

  EXPECT_EQ(Pending(), 3);
  const std::vector<PendingEnvelope> pending = ListPending(0, 10);
  EXPECT_EQ(RecordIds(pending), (std::vector<std::string>{"out-1", "out-2", "out-3"}));
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_LT(pending[0].outbox_sequence, pending[1].outbox_sequence);
  EXPECT_LT(pending[1].outbox_sequence, pending[2].outbox_sequence);
  for (const PendingEnvelope& envelope : pending) EXPECT_EQ(envelope.envelope, EnvelopeBytes(envelope.record_id));

  absl::StatusOr<OutboundStatus> status = store_->GetOutboundStatus("out-2");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->submitter, kOtherSubmitter);
  EXPECT_EQ(status->record_type, v1::RECORD_TYPE_CARGO);
  EXPECT_EQ(status->accepted_time, kAccepted + absl::Seconds(2));
  EXPECT_EQ(status->state, v1::DELIVERY_STATE_QUEUED);

  // One SUBMIT entry per record, in batch order, chained.
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(Kinds(entries), (std::vector<v1::AuditEventKind>(3, v1::AUDIT_EVENT_KIND_SUBMIT)));
  EXPECT_EQ(entries[0].record_id(), "out-1");
  EXPECT_EQ(entries[0].digest(), Digest(101));
  EXPECT_EQ(entries[0].detail(), "policy p1");
  EXPECT_EQ(entries[1].record_id(), "out-2");
  EXPECT_EQ(entries[1].identity(), kOtherSubmitter);
  EXPECT_EQ(entries[2].record_id(), "out-3");
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);

  // The keys are stored: each record sent again alone is a replay.
  for (const OutboundRecord& record : {first, second, third}) {
    OutboundRecord again = record;
    again.record_id = "out-again";
    absl::StatusOr<AcceptOutcome> replay = store_->AcceptOutbound(again);
    ASSERT_TRUE(replay.ok()) << replay.status();
    EXPECT_EQ(replay->kind, AcceptOutcome::Kind::kReplay);
    EXPECT_EQ(replay->record_id, record.record_id);
  }
  EXPECT_EQ(Pending(), 3);
}

TEST_F(SqliteStoreTest, AcceptOutboundBatchOfNothingStoresNothing) {
  absl::StatusOr<std::vector<AcceptOutcome>> outcomes = store_->AcceptOutboundBatch({});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_TRUE(outcomes->empty());
  EXPECT_EQ(Pending(), 0);
  EXPECT_TRUE(AllAudit(store_.get()).empty());
}

TEST_F(SqliteStoreTest, ARequestIdRepeatedInABatchIsAReplayOrAConflictOfItsFirstRecord) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-0", kSubmitter, "req-0", 0)).ok());
  absl::StatusOr<std::vector<AcceptOutcome>> outcomes = store_->AcceptOutboundBatch({
      Outbound("out-1", kSubmitter, "req-1", 1),
      Outbound("out-2", kSubmitter, "req-1", 1),       // Same key, same digest: the first, replayed.
      Outbound("out-3", kSubmitter, "req-1", 2),       // Same key, another digest: a conflict.
      Outbound("out-4", kOtherSubmitter, "req-1", 1),  // Another submitter: its own key.
      Outbound("out-5", kSubmitter, "req-0", 0),       // A key stored before the batch.
      Outbound("out-6", kSubmitter, "req-0", 6),
      Outbound("out-7", kOtherSubmitter, "req-1", 7),  // A conflict with out-4, of this batch.
  });
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(OutcomeKinds(*outcomes),
            (std::vector<AcceptOutcome::Kind>{AcceptOutcome::Kind::kAccepted, AcceptOutcome::Kind::kReplay,
                                              AcceptOutcome::Kind::kConflict, AcceptOutcome::Kind::kAccepted,
                                              AcceptOutcome::Kind::kReplay, AcceptOutcome::Kind::kConflict,
                                              AcceptOutcome::Kind::kConflict}));
  EXPECT_EQ(OutcomeRecordIds(*outcomes),
            (std::vector<std::string>{"out-1", "out-1", "out-1", "out-4", "out-0", "out-0", "out-4"}));

  EXPECT_EQ(RecordIds(ListPending(0, 10)), (std::vector<std::string>{"out-0", "out-1", "out-4"}));
  for (const char* id : {"out-2", "out-3", "out-5", "out-6", "out-7"}) {
    EXPECT_EQ(store_->GetOutboundStatus(id).status().code(), absl::StatusCode::kNotFound) << id;
  }
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM idempotency"), "3");
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  ASSERT_EQ(entries.size(), 3u);  // out-0, out-1, out-4: replays and conflicts write nothing.
  EXPECT_EQ(entries[1].record_id(), "out-1");
  EXPECT_EQ(entries[2].record_id(), "out-4");
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
}

// The schema makes outbox.record_id UNIQUE: a record reusing a stored id
// (or one used earlier in the same batch) fails the batch, which then
// stores none of its records, keys or audit entries.
TEST_F(SqliteStoreTest, ABatchWithARecordThatCannotBeStoredStoresNoneOfIt) {
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-0", kSubmitter, "req-0", 0)).ok());
  const int64_t commits = store_->commits();
  const std::vector<std::vector<OutboundRecord>> batches = {
      // A stored record_id under a new key, in the middle.
      {Outbound("out-1", kSubmitter, "req-1", 1), Outbound("out-2", kSubmitter, "req-2", 2),
       Outbound("out-0", kSubmitter, "req-3", 3), Outbound("out-4", kSubmitter, "req-4", 4)},
      // Last.
      {Outbound("out-1", kSubmitter, "req-1", 1), Outbound("out-0", kOtherSubmitter, "req-0", 0)},
      // First.
      {Outbound("out-0", kSubmitter, "req-9", 9), Outbound("out-1", kSubmitter, "req-1", 1)},
      // An id used twice within the batch.
      {Outbound("out-1", kSubmitter, "req-1", 1), Outbound("out-1", kSubmitter, "req-2", 2)},
  };
  for (size_t b = 0; b < batches.size(); ++b) {
    absl::StatusOr<std::vector<AcceptOutcome>> outcomes = store_->AcceptOutboundBatch(batches[b]);
    ASSERT_FALSE(outcomes.ok()) << "batch " << b;
    EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kInternal) << outcomes.status();
    EXPECT_TRUE(absl::StrContains(outcomes.status().message(), "outbox insert")) << outcomes.status();
    EXPECT_TRUE(absl::StrContains(outcomes.status().message(), "UNIQUE")) << outcomes.status();

    EXPECT_EQ(Pending(), 1) << "batch " << b;
    EXPECT_EQ(RecordIds(ListPending(0, 10)), std::vector<std::string>{"out-0"}) << "batch " << b;
    EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM idempotency"), "1") << "batch " << b;
    EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM outbox"), "1") << "batch " << b;
    EXPECT_EQ(AllAudit(store_.get()).size(), 1u) << "batch " << b;
  }
  EXPECT_EQ(store_->GetOutboundStatus("out-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->commits(), commits);  // Each rolled back.

  // The keys of the failed batches were not kept: the same records are new.
  absl::StatusOr<std::vector<AcceptOutcome>> outcomes = store_->AcceptOutboundBatch(
      {Outbound("out-1", kSubmitter, "req-1", 1), Outbound("out-2", kSubmitter, "req-2", 2)});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(OutcomeKinds(*outcomes),
            (std::vector<AcceptOutcome::Kind>{AcceptOutcome::Kind::kAccepted, AcceptOutcome::Kind::kAccepted}));
  EXPECT_EQ(RecordIds(ListPending(0, 10)), (std::vector<std::string>{"out-0", "out-1", "out-2"}));
  // The chain goes on from the last entry actually stored.
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].sequence(), 2);
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
}

// The store keeps its prepared statements between calls: one that failed,
// or a read left before its last row, must not leave anything behind for
// the next call.
TEST_F(SqliteStoreTest, ManyCallsAfterFailuresAndUnfinishedReadsStillWork) {
  constexpr int kRounds = 25;
  for (int i = 0; i < kRounds; ++i) {
    const std::string id = absl::StrCat("out-", i);
    // A record reusing the first record_id: the outbox insert fails (after
    // the idempotency insert, in the same statement cache).
    if (i > 0) {
      absl::StatusOr<AcceptOutcome> bad =
          store_->AcceptOutbound(Outbound("out-0", kSubmitter, absl::StrCat("bad-", i), 1000 + i));
      EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal) << i << ": " << bad.status();
      absl::StatusOr<std::vector<AcceptOutcome>> bad_batch = store_->AcceptOutboundBatch(
          {Outbound(absl::StrCat("batch-", i), kSubmitter, absl::StrCat("batch-", i), 2000 + i),
           Outbound("out-0", kSubmitter, absl::StrCat("bad-batch-", i), 3000 + i)});
      EXPECT_FALSE(bad_batch.ok()) << i;
    }
    absl::StatusOr<AcceptOutcome> good = store_->AcceptOutbound(Outbound(id, kSubmitter, absl::StrCat("req-", i), i));
    ASSERT_TRUE(good.ok()) << i << ": " << good.status();
    EXPECT_EQ(good->kind, AcceptOutcome::Kind::kAccepted) << i;
    EXPECT_EQ(good->record_id, id);
    // A replay and a conflict: the lookup statement, stepped to a row and
    // left there.
    absl::StatusOr<AcceptOutcome> replay =
        store_->AcceptOutbound(Outbound("x", kSubmitter, absl::StrCat("req-", i), i));
    ASSERT_TRUE(replay.ok()) << replay.status();
    EXPECT_EQ(replay->kind, AcceptOutcome::Kind::kReplay);
    EXPECT_EQ(replay->record_id, id);
    absl::StatusOr<AcceptOutcome> conflict =
        store_->AcceptOutbound(Outbound("x", kSubmitter, absl::StrCat("req-", i), i + 500));
    ASSERT_TRUE(conflict.ok()) << conflict.status();
    EXPECT_EQ(conflict->kind, AcceptOutcome::Kind::kConflict);
    EXPECT_EQ(conflict->record_id, id);
    // Reads that stop before their last row, or find nothing.
    const std::vector<PendingEnvelope> first = ListPending(0, 1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].record_id, "out-0");
    EXPECT_EQ(ListPending(first[0].outbox_sequence, 1000).size(), static_cast<size_t>(i));
    EXPECT_EQ(store_->GetOutboundStatus(id).value_or(OutboundStatus{}).record_id, id);
    EXPECT_EQ(store_->GetOutboundStatus("missing").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(Pending(), i + 1);
    EXPECT_EQ(store_->OldestPendingAcceptedTime().value_or(absl::InfinitePast()), kAccepted);
  }
  // Every earlier statement let go of its read: outcomes, probes and the
  // file as another connection sees it agree.
  ASSERT_TRUE(store_->RecordOutcome("out-0", v1::DELIVERY_STATE_DELIVERED, "", "receipt", kAccepted).ok());
  ASSERT_TRUE(store_->CheckWritable().ok());
  EXPECT_EQ(Pending(), kRounds - 1);
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM outbox"), absl::StrCat(kRounds));
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM idempotency"), absl::StrCat(kRounds));
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  EXPECT_EQ(entries.size(), static_cast<size_t>(kRounds + 1));
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);

  // And the same after a reopen (the statements are finalized on close).
  store_.reset();
  absl::StatusOr<std::unique_ptr<SqliteStore>> reopened = SqliteStore::Open(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->CountPending().value_or(-1), kRounds - 1);
  EXPECT_TRUE(VerifyChain(AllAudit(reopened->get())).ok());
}

// Batches that share a group commit with others: a failing one undoes only
// itself, whole.
TEST_F(SqliteStoreTest, ConcurrentBatchesShareCommitsAndAFailingBatchUndoesOnlyItself) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::vector<int> good_failed(kThreads, 0), bad_succeeded(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string submitter = absl::StrCat(kSubmitter, "-", t);
      for (int i = 0; i < kPerThread; ++i) {
        const std::string a = absl::StrCat("out-", t, "-", i, "-a");
        const std::string b = absl::StrCat("out-", t, "-", i, "-b");
        absl::StatusOr<std::vector<AcceptOutcome>> good =
            store_->AcceptOutboundBatch({Outbound(a, submitter, absl::StrCat("req-", i, "-a"), i),
                                         Outbound(b, submitter, absl::StrCat("req-", i, "-b"), i)});
        if (!good.ok() || OutcomeRecordIds(*good) != std::vector<std::string>{a, b} ||
            (*good)[0].kind != AcceptOutcome::Kind::kAccepted || (*good)[1].kind != AcceptOutcome::Kind::kAccepted) {
          ++good_failed[t];
        }
        // A new record, then one reusing a stored record_id: neither stays.
        absl::StatusOr<std::vector<AcceptOutcome>> bad = store_->AcceptOutboundBatch(
            {Outbound(absl::StrCat("out-", t, "-", i, "-c"), submitter, absl::StrCat("req-", i, "-c"), i),
             Outbound(a, submitter, absl::StrCat("req-", i, "-d"), 1000 + i)});
        if (bad.ok()) ++bad_succeeded[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(good_failed[t], 0) << "thread " << t;
    EXPECT_EQ(bad_succeeded[t], 0) << "thread " << t;
  }
  constexpr int kGood = kThreads * kPerThread * 2;
  EXPECT_EQ(Pending(), kGood);
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM idempotency"), absl::StrCat(kGood));
  EXPECT_EQ(QueryText(path_, "SELECT COUNT(*) FROM outbox WHERE record_id LIKE '%-c'"), "0");
  const std::vector<PendingEnvelope> pending = ListPending(0, 100000);
  // Each batch's two records next to each other, a before b.
  for (size_t k = 0; k + 1 < pending.size(); k += 2) {
    EXPECT_TRUE(absl::EndsWith(pending[k].record_id, "-a")) << pending[k].record_id;
    EXPECT_EQ(pending[k + 1].record_id, pending[k].record_id.substr(0, pending[k].record_id.size() - 1) + "b");
  }
  const std::vector<v1::AuditEntry> entries = AllAudit(store_.get());
  EXPECT_EQ(entries.size(), static_cast<size_t>(kGood));
  EXPECT_TRUE(VerifyChain(entries).ok()) << VerifyChain(entries);
  // 2 x 160 batches from 8 threads at once: many share a transaction (so the
  // failing ones were undone by their savepoint, not by a rollback).
  EXPECT_LT(store_->commits(), kThreads * kPerThread) << "no two batches ever shared a commit";
}

}  // namespace
}  // namespace iicc::store
