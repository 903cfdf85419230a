#include "gateway/store/evidence_reader.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/store/audit.h"
#include "gateway/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/testing/test_env.h"

namespace iicc::store {
namespace {

using ::iicc::testing::ReadFileOrEmpty;
using ::iicc::testing::TempDir;

const absl::Time kAccepted = absl::FromUnixNanos(1795000000123456789);

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// An envelope whose fields are recognisable, with binary bytes.
v1::Envelope MakeEnvelope(const std::string& record_id) {
  v1::Envelope envelope;
  envelope.set_header(absl::StrCat(std::string("\x0a\0\xff", 3), "header ", record_id));
  envelope.set_payload(absl::StrCat(std::string("\0\x01", 2), "payload ", record_id));
  envelope.mutable_proof()->set_signature("signature");
  envelope.mutable_proof()->add_certificate_chain("certificate");
  envelope.mutable_proof()->set_leaf_count(1);
  return envelope;
}

v1::Receipt MakeReceipt(const std::string& record_id) {
  v1::Receipt receipt;
  receipt.set_header(absl::StrCat("receipt header ", record_id));
  receipt.mutable_proof()->set_signature("receipt signature");
  return receipt;
}

OutboundRecord Outbound(const std::string& record_id) {
  OutboundRecord record;
  record.record_id = record_id;
  record.record_type = v1::RECORD_TYPE_CARGO;
  record.submitter = "spiffe://kz.iicc/ministry/registry";
  record.request_id = absl::StrCat("req-", record_id);
  record.request_digest = std::string(32, 'r') + record_id;
  record.envelope = MakeEnvelope(record_id).SerializeAsString();
  record.accepted_time = kAccepted;
  record.payload_digest = std::string(32, 'p');
  record.policy_version = "abc";
  return record;
}

InboundCommit Inbound(const std::string& record_id, bool accepted) {
  InboundCommit commit;
  commit.record_id = record_id;
  commit.origin = v1::JURISDICTION_UZ;
  commit.record_type = v1::RECORD_TYPE_CARGO;
  commit.payload_digest = std::string(32, 'd');
  commit.accepted = accepted;
  if (accepted) commit.record = "record";
  commit.receipt = MakeReceipt(record_id).SerializeAsString();
  commit.envelope = MakeEnvelope(record_id).SerializeAsString();
  commit.received_time = kAccepted;
  commit.sender = "spiffe://uz.iicc/gateway";
  commit.reason = accepted ? "" : "invalid record";
  return commit;
}

std::unique_ptr<EvidenceReader> OpenOrDie(const std::string& path) {
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

std::vector<v1::AuditEntry> AllAudit(EvidenceReader& reader, int page) {
  std::vector<v1::AuditEntry> all;
  int64_t after = 0;
  while (true) {
    absl::StatusOr<std::vector<v1::AuditEntry>> entries = reader.ListAudit(after, page);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok() || entries->empty()) return all;
    EXPECT_LE(entries->size(), static_cast<size_t>(page));
    all.insert(all.end(), entries->begin(), entries->end());
    after = entries->back().sequence();
  }
}

// A gateway file with two outbound records (one delivered, one queued) and
// two inbound ones (one accepted, one rejected).
class EvidenceReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-1")).ok());
    ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-2")).ok());
    ASSERT_TRUE(store_
                    ->RecordOutcome("out-1", v1::DELIVERY_STATE_DELIVERED, "", MakeReceipt("out-1").SerializeAsString(),
                                    kAccepted + absl::Seconds(1))
                    .ok());
    ASSERT_TRUE(store_->CommitInbound(Inbound("in-1", true)).ok());
    ASSERT_TRUE(store_->CommitInbound(Inbound("in-2", false)).ok());
  }

  // Closes the store (its WAL is checkpointed and removed) and returns a
  // copy of the file.
  std::string ClosedCopy() {
    store_.reset();
    EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
    const std::string copy = dir_.File("copy.db");
    std::filesystem::copy_file(path_, copy);
    return copy;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("gateway.db");
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(EvidenceReaderTest, OutboundEvidenceHasTheEnvelopeAsStoredAndTheReceiptOnceDelivered) {
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(path_);
  ASSERT_NE(reader, nullptr);
  EXPECT_FALSE(reader->immutable());  // The store has the file open.

  absl::StatusOr<RecordEvidence> delivered = reader->FindRecord("out-1");
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_EQ(delivered->direction, RecordEvidence::Direction::kOutbound);
  EXPECT_EQ(delivered->state, v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(delivered->evidence.envelope().SerializeAsString(), MakeEnvelope("out-1").SerializeAsString());
  ASSERT_TRUE(delivered->evidence.has_receipt());
  EXPECT_EQ(delivered->evidence.receipt().SerializeAsString(), MakeReceipt("out-1").SerializeAsString());

  absl::StatusOr<RecordEvidence> queued = reader->FindRecord("out-2");
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->state, v1::DELIVERY_STATE_QUEUED);
  EXPECT_TRUE(queued->evidence.has_envelope());
  EXPECT_FALSE(queued->evidence.has_receipt());
}

TEST_F(EvidenceReaderTest, InboundEvidenceHasTheEnvelopeAsReceivedAndTheReceiptAnswered) {
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(path_);
  ASSERT_NE(reader, nullptr);
  for (const char* id : {"in-1", "in-2"}) {  // Accepted and rejected alike.
    absl::StatusOr<RecordEvidence> found = reader->FindRecord(id);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->direction, RecordEvidence::Direction::kInbound);
    EXPECT_EQ(found->state, v1::DELIVERY_STATE_UNSPECIFIED);
    EXPECT_EQ(found->evidence.envelope().SerializeAsString(), MakeEnvelope(id).SerializeAsString());
    EXPECT_EQ(found->evidence.receipt().SerializeAsString(), MakeReceipt(id).SerializeAsString());
  }
}

TEST_F(EvidenceReaderTest, AnUnknownRecordIsNotFound) {
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(path_);
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<RecordEvidence> found = reader->FindRecord("01890a5d-ac96-774b-bcce-b302099a8057");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound) << found.status();
  EXPECT_EQ(reader->FindRecord("").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EvidenceReaderTest, ListsTheAuditChainInPagesThatVerify) {
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(path_);
  ASSERT_NE(reader, nullptr);
  // SUBMIT, SUBMIT, DELIVER, RECEIVE, INBOUND_REJECT.
  const std::vector<v1::AuditEntry> entries = AllAudit(*reader, 2);
  absl::StatusOr<std::vector<v1::AuditEntry>> written = store_->ListAudit(0, 100);
  ASSERT_TRUE(written.ok());
  ASSERT_EQ(entries.size(), 5u);
  ASSERT_EQ(written->size(), entries.size());
  AuditChainVerifier verifier;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].SerializeAsString(), (*written)[i].SerializeAsString()) << i;
    EXPECT_TRUE(verifier.Next(entries[i]).ok()) << i;
  }
  EXPECT_EQ(entries[2].kind(), v1::AUDIT_EVENT_KIND_DELIVER);
  EXPECT_EQ(reader->ListAudit(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// The reader beside a running gateway: it sees what is committed after it
// opened, through the WAL, and does not disturb the writer.
TEST_F(EvidenceReaderTest, ReadsALiveFileAndSeesLaterCommits) {
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(path_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->FindRecord("out-3").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-3")).ok());
  EXPECT_TRUE(reader->FindRecord("out-3").ok());
  EXPECT_EQ(AllAudit(*reader, 100).size(), 6u);
  ASSERT_TRUE(store_->AcceptOutbound(Outbound("out-4")).ok());  // The writer is not blocked.
  EXPECT_EQ(AllAudit(*reader, 100).size(), 7u);
}

// Evidence kept as a copy stays byte for byte as it was: the reader creates
// no journal, WAL or shared-memory file, and changes nothing in the file.
TEST_F(EvidenceReaderTest, AClosedCopyIsReadWithoutWritingAnything) {
  const std::string copy = ClosedCopy();
  const std::string before = ReadFileOrEmpty(copy);
  struct stat stat_before = {};
  ASSERT_EQ(stat(copy.c_str(), &stat_before), 0);
  {
    std::unique_ptr<EvidenceReader> reader = OpenOrDie(copy);
    ASSERT_NE(reader, nullptr);
    EXPECT_TRUE(reader->immutable());
    EXPECT_TRUE(reader->FindRecord("out-1").ok());
    EXPECT_TRUE(reader->FindRecord("in-2").ok());
    EXPECT_EQ(AllAudit(*reader, 2).size(), 5u);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      EXPECT_FALSE(std::filesystem::exists(copy + suffix)) << suffix;
    }
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    EXPECT_FALSE(std::filesystem::exists(copy + suffix)) << suffix;
  }
  struct stat stat_after = {};
  ASSERT_EQ(stat(copy.c_str(), &stat_after), 0);
  EXPECT_EQ(stat_after.st_mtim.tv_sec, stat_before.st_mtim.tv_sec);
  EXPECT_EQ(stat_after.st_mtim.tv_nsec, stat_before.st_mtim.tv_nsec);
  EXPECT_EQ(ReadFileOrEmpty(copy), before);
}

// A read-only copy (as root, the mode alone would not stop a writer).
TEST_F(EvidenceReaderTest, AReadOnlyCopyIsReadable) {
  const std::string copy = ClosedCopy();
  ASSERT_EQ(chmod(copy.c_str(), 0444), 0);
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(copy);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->FindRecord("in-1").ok());
}

// The reader never migrates: an older file is refused and left at its
// version, where SqliteStore::Open would have upgraded it.
TEST_F(EvidenceReaderTest, AnOlderSchemaIsRefusedAndLeftAsItIs) {
  const std::string old = dir_.File("old.db");
  ExecSql(old, "PRAGMA user_version = 1");
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(old);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "schema version 1; this build reads versions 2 to 3"))
      << reader.status();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(old.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// Version 3 only added the readiness probe's table: a version-2 file (from a
// gateway not yet upgraded) reads as well.
TEST_F(EvidenceReaderTest, AVersionTwoFileIsRead) {
  const std::string copy = ClosedCopy();
  ExecSql(copy, "DROP TABLE health_probe; PRAGMA user_version = 2");
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(copy);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<v1::AuditEntry>> audit = (*reader)->ListAudit(0, 10);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_FALSE(audit->empty());
}

TEST_F(EvidenceReaderTest, ANewerSchemaIsRefusedNamingBothVersions) {
  const std::string copy = ClosedCopy();
  ExecSql(copy, "PRAGMA user_version = 4");
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(copy);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "schema version 4; this build reads versions 2 to 3"))
      << reader.status();
}

TEST(EvidenceReaderOpenTest, AMissingFileIsNotFoundAndNotCreated) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(dir.File("none.db"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound) << reader.status();
  EXPECT_FALSE(std::filesystem::exists(dir.File("none.db")));
}

TEST(EvidenceReaderOpenTest, AFileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  iicc::testing::RunShell("echo 'not a database, but long enough to have a header of sorts' > '" + dir.File("text.db") +
                          "'");
  absl::StatusOr<std::unique_ptr<EvidenceReader>> reader = EvidenceReader::Open(dir.File("text.db"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition) << reader.status();
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "not a gateway database")) << reader.status();
}

// File names holding URI syntax are file names, not URI parameters.
TEST(EvidenceReaderOpenTest, AFileNameWithUriCharactersIsReadAsItIs) {
  TempDir dir;
  const std::string odd = dir.File("gate?way#1%20.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(odd);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AcceptOutbound(Outbound("out-1")).ok());
  }
  std::unique_ptr<EvidenceReader> reader = OpenOrDie(odd);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->FindRecord("out-1").ok());
}

}  // namespace
}  // namespace iicc::store
