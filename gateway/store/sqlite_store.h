// The embedded Store: one SQLite file per gateway, WAL journal,
// synchronous=FULL (a commit is on disk before it returns).
#ifndef IICC_GATEWAY_STORE_SQLITE_STORE_H_
#define IICC_GATEWAY_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace iicc::store {

// The schema version this build writes. Open() migrates older files up to it
// and refuses newer ones.
inline constexpr int kSchemaVersion = 1;

// Thread-safe: one connection, serialized by a mutex.
class SqliteStore final : public Store {
 public:
  // Opens (creating if missing) the database file at `path` and migrates its
  // schema. FAILED_PRECONDITION if the file was written by a newer version.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  ~SqliteStore() override;

  absl::StatusOr<AcceptOutcome> AcceptOutbound(const OutboundRecord& record) override;
  absl::StatusOr<OutboundStatus> GetOutboundStatus(absl::string_view record_id) override;
  absl::StatusOr<std::vector<PendingEnvelope>> ListPending(int64_t after, int limit) override;
  absl::Status RecordOutcome(absl::string_view record_id, v1::DeliveryState state, absl::string_view reason,
                             absl::string_view receipt, absl::Time delivered_time) override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<InboundOutcome> CommitInbound(const InboundCommit& commit) override;
  absl::StatusOr<std::vector<InboxEntry>> ListInbox(int64_t after, const std::vector<v1::RecordType>& types,
                                                    int limit) override;
  absl::StatusOr<int64_t> InboxHighWater() override;

  // The schema version of the open file.
  int schema_version() const { return schema_version_; }

 private:
  class Statement;

  SqliteStore(sqlite3* db, int schema_version) : db_(db), schema_version_(schema_version) {}

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back on error.
  template <typename Body>
  absl::Status InTransaction(Body body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const int schema_version_;
};

}  // namespace iicc::store

#endif  // IICC_GATEWAY_STORE_SQLITE_STORE_H_
