// The embedded Store: one SQLite file per gateway, WAL journal,
// synchronous=FULL (a commit is on disk before it returns).
#ifndef IICC_GATEWAY_STORE_SQLITE_STORE_H_
#define IICC_GATEWAY_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace iicc::store {

// The schema version this build writes. Open() migrates older files up to it
// and refuses newer ones.
inline constexpr int kSchemaVersion = 3;

struct SqliteStoreOptions {
  // The most the file may grow to, in bytes (rounded down to whole pages);
  // 0 for no limit. A write beyond it fails with RESOURCE_EXHAUSTED, as on a
  // full disk.
  int64_t max_size_bytes = 0;
};

// Thread-safe: one connection. Writers queue; the first in the queue commits
// for everyone queued behind it in one transaction and one fsync (LevelDB's
// group commit), each call in its own savepoint so that one failure does not
// undo the others.
class SqliteStore final : public Store {
 public:
  // Opens (creating if missing) the database file at `path` and migrates its
  // schema. FAILED_PRECONDITION if the file was written by a newer version.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const SqliteStoreOptions& options = {});

  ~SqliteStore() override;

  absl::StatusOr<AcceptOutcome> AcceptOutbound(const OutboundRecord& record) override;
  absl::StatusOr<std::vector<AcceptOutcome>> AcceptOutboundBatch(const std::vector<OutboundRecord>& records) override;
  absl::StatusOr<OutboundStatus> GetOutboundStatus(absl::string_view record_id) override;
  absl::StatusOr<std::vector<PendingEnvelope>> ListPending(int64_t after, int limit) override;
  absl::Status RecordOutcomes(const std::vector<Outcome>& outcomes) override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<absl::Time> OldestPendingAcceptedTime() override;
  absl::Status CheckWritable() override;
  absl::StatusOr<std::vector<InboundOutcome>> CommitInboundBatch(const std::vector<InboundCommit>& commits) override;
  absl::StatusOr<std::vector<InboxEntry>> ListInbox(int64_t after, const std::vector<v1::RecordType>& types,
                                                    int limit) override;
  absl::StatusOr<std::string> GetInboundReceipt(absl::string_view record_id) override;
  absl::StatusOr<int64_t> InboxHighWater() override;
  absl::Status AppendAudit(const AuditEvent& event) override;
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int64_t after, int limit) override;

  // Transactions committed so far; with group commit, fewer than the calls
  // that changed something. For tests and benchmarks.
  int64_t commits() const {
    absl::MutexLock lock(&mu_);
    return commits_;
  }

  // The schema version of the open file.
  int schema_version() const { return schema_version_; }

 private:
  class Statement;
  struct Writer;
  // The chain's last entry: what the next entry links to.
  struct AuditHead {
    int64_t sequence = 0;
    std::string hash;
  };

  SqliteStore(sqlite3* db, int schema_version, AuditHead head)
      : db_(db), schema_version_(schema_version), audit_head_(std::move(head)) {}

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `body` in a transaction, durably, possibly together with the bodies
  // of concurrent calls. `body` must leave the database as it found it when
  // it fails (its savepoint is rolled back, but the caller's variables are
  // its own business).
  // With `alone`, the body commits in a transaction of its own, never with
  // others (a probe that may fail must not take the others down with it).
  absl::Status Write(absl::FunctionRef<absl::Status()> body, bool alone = false) ABSL_LOCKS_EXCLUDED(mu_, queue_mu_);
  // Commits `batch` (the leader's work in Write).
  void CommitBatch(const std::vector<Writer*>& batch) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RecordOutcomeLocked(const Outcome& outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AcceptOutboundLocked(const OutboundRecord& record, AcceptOutcome* outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitInboundLocked(const InboundCommit& commit, InboundOutcome* outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends one entry to the chain inside the current transaction.
  absl::Status AppendAuditLocked(const AuditEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const int schema_version_;
  AuditHead audit_head_ ABSL_GUARDED_BY(mu_);
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  // Prepared statements not in use, by their SQL literal (Statement).
  absl::flat_hash_map<const char*, sqlite3_stmt*> statements_ ABSL_GUARDED_BY(mu_);

  absl::Mutex queue_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(queue_mu_);
};

}  // namespace iicc::store

#endif  // IICC_GATEWAY_STORE_SQLITE_STORE_H_
