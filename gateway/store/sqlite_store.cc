#include "gateway/store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/status_macros.h"
#include "gateway/store/audit.h"

namespace iicc::store {
namespace {

// Migrations, in order: kMigrations[i] takes the schema from version i to
// i + 1. Never edit a released entry; append a new one.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
    CREATE TABLE outbox (
      sequence        INTEGER PRIMARY KEY,
      record_id       TEXT NOT NULL UNIQUE,
      record_type     INTEGER NOT NULL,
      submitter       TEXT NOT NULL,
      envelope        BLOB NOT NULL,
      accepted_nanos  INTEGER NOT NULL,
      state           INTEGER NOT NULL,
      reason          TEXT NOT NULL DEFAULT '',
      receipt         BLOB,
      delivered_nanos INTEGER
    );
    CREATE INDEX outbox_queued ON outbox (sequence) WHERE state = 1;
    CREATE TABLE idempotency (
      submitter      TEXT NOT NULL,
      request_id     TEXT NOT NULL,
      request_digest BLOB NOT NULL,
      record_id      TEXT NOT NULL,
      PRIMARY KEY (submitter, request_id)
    ) WITHOUT ROWID;
    CREATE TABLE inbox (
      sequence        INTEGER PRIMARY KEY,
      record_id       TEXT NOT NULL UNIQUE,
      origin          INTEGER NOT NULL,
      record_type     INTEGER NOT NULL,
      record          BLOB NOT NULL,
      received_nanos  INTEGER NOT NULL
    );
    CREATE TABLE inbound_receipts (
      record_id      TEXT PRIMARY KEY,
      payload_digest BLOB NOT NULL,
      accepted       INTEGER NOT NULL,
      receipt        BLOB NOT NULL
    ) WITHOUT ROWID;
    )sql",
    // 1 -> 2: the audit chain, append-only even to SQL.
    R"sql(
    CREATE TABLE audit (
      sequence      INTEGER PRIMARY KEY,
      time_nanos    INTEGER NOT NULL,
      kind          INTEGER NOT NULL,
      record_id     TEXT NOT NULL,
      identity      TEXT NOT NULL,
      digest        BLOB NOT NULL,
      detail        TEXT NOT NULL,
      previous_hash BLOB NOT NULL,
      hash          BLOB NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
      BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
      BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
    -- The signed envelope as received: the evidence of who sent which bytes.
    ALTER TABLE inbound_receipts ADD COLUMN envelope BLOB;
    )sql",
    // 2 -> 3: room for the readiness probe's write, always left empty.
    R"sql(
    CREATE TABLE health_probe (pad BLOB NOT NULL);
    )sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion, "one migration per schema version");

int64_t ToNanos(absl::Time t) { return absl::ToUnixNanos(t); }
absl::Time FromNanos(int64_t n) { return absl::FromUnixNanos(n); }

// Writers committed together at most; bounds one transaction's size.
constexpr size_t kMaxGroup = 256;

}  // namespace

// A prepared statement bound to one call. Made from the store, it is taken
// from (and given back to) the store's cache of prepared statements, by SQL
// text: parsing and planning the same few statements for every record cost
// more than running them. REQUIRES: the store's mu_ held for the
// statement's whole life.
class SqliteStore::Statement {
 public:
  // Prepared for this call alone; finalized on destruction.
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  // `sql` must be a string literal: its address is the cache's key.
  Statement(SqliteStore* store, const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->mu_)
      : cache_(&store->statements_), sql_(sql) {
    if (auto cached = cache_->find(sql); cached != cache_->end() && cached->second != nullptr) {
      stmt_ = std::exchange(cached->second, nullptr);  // In use until this is destroyed.
      rc_ = SQLITE_OK;
    } else {
      rc_ = sqlite3_prepare_v3(store->db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    }
  }
  ~Statement() {
    if (cache_ == nullptr || stmt_ == nullptr) {
      sqlite3_finalize(stmt_);
      return;
    }
    // Ready for the next call: no row, no bindings, no lock held.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    sqlite3_stmt*& slot = (*cache_)[sql_];
    if (slot == nullptr) {
      slot = stmt_;
    } else {  // The same statement twice at once: keep one.
      sqlite3_finalize(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // SQLite binds a null pointer as SQL NULL, and an empty string_view may
  // carry one: empty values are bound from a literal.
  Statement& Bind(int i, absl::string_view text) {
    Check(sqlite3_bind_text(stmt_, i, NonNull(text), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindBlob(int i, absl::string_view blob) {
    Check(sqlite3_bind_blob(stmt_, i, NonNull(blob), static_cast<int>(blob.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& Bind(int i, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(stmt_);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
  }

 private:
  static const char* NonNull(absl::string_view value) { return value.data() == nullptr ? "" : value.data(); }
  void Check(int rc) {
    if (rc_ == SQLITE_OK && rc != SQLITE_OK) rc_ = rc;
  }
  absl::flat_hash_map<const char*, sqlite3_stmt*>* cache_ = nullptr;  // Null: not cached.
  const char* sql_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

namespace {

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

// One caller of Write, queued.
struct SqliteStore::Writer {
  Writer(absl::FunctionRef<absl::Status()> b, bool a) : body(b), alone(a) {}
  absl::FunctionRef<absl::Status()> body;
  const bool alone;
  absl::Status status;
  bool done = false;
  absl::CondVar turn;  // Signalled when done, or when first in the queue.
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const SqliteStoreOptions& options) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = absl::StrCat("cannot open store ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return absl::Status(CodeFor(rc), message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  auto exec = [&](const char* sql) -> absl::Status {
    char* error = nullptr;
    const int exec_rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    if (exec_rc == SQLITE_OK) return absl::OkStatus();
    absl::Status status(CodeFor(exec_rc), absl::StrCat("store ", path, ": ", error ? error : "error"));
    sqlite3_free(error);
    return status;
  };
  auto fail = [&](absl::Status status) {
    sqlite3_close(db);
    return status;
  };
  // WAL with synchronous=FULL: every commit is fsynced before it returns.
  // Pages of 16 KiB (a new store's; an existing one keeps its own): a
  // record and its envelope and receipt take about 4 KiB, and SQLite writes
  // each WAL frame with two system calls. Measured on a backlog's drain,
  // 16 KiB pages were faster than 4 KiB and 64 KiB (docs/performance.md).
  // The WAL is checkpointed every 250 pages: about 4 MiB with 16 KiB pages, as
  // with SQLite's default of 1,000 pages of 4 KiB (1 MiB in an older store
  // that keeps 4 KiB pages).
  if (absl::Status s = exec("PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            "PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=250;");
      !s.ok()) {
    return fail(s);
  }
  int version = 0;
  {
    Statement stmt(db, "PRAGMA user_version");
    if (stmt.Step() != SQLITE_ROW) return fail(absl::InternalError("cannot read the store's schema version"));
    version = static_cast<int>(stmt.Int(0));
  }
  if (version > kSchemaVersion) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("store ", path, " has schema version ", version, ", newer than this build's ", kSchemaVersion)));
  }
  for (; version < kSchemaVersion; ++version) {
    const std::string sql =
        absl::StrCat("BEGIN IMMEDIATE;", kMigrations[version], "PRAGMA user_version = ", version + 1, "; COMMIT;");
    if (absl::Status s = exec(sql.c_str()); !s.ok()) {
      exec("ROLLBACK").IgnoreError();
      return fail(s);
    }
  }
  if (options.max_size_bytes > 0) {
    int64_t page_size = 0;
    {
      Statement stmt(db, "PRAGMA page_size");
      if (stmt.Step() != SQLITE_ROW) return fail(absl::InternalError("cannot read the store's page size"));
      page_size = stmt.Int(0);
    }
    const int64_t pages = std::max<int64_t>(1, options.max_size_bytes / page_size);
    if (absl::Status s = exec(absl::StrCat("PRAGMA max_page_count = ", pages).c_str()); !s.ok()) return fail(s);
  }
  AuditHead head{0, AuditGenesisHash()};
  {
    Statement stmt(db, "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1");
    const int rc = stmt.Step();
    if (rc == SQLITE_ROW) {
      head = AuditHead{stmt.Int(0), stmt.Text(1)};
    } else if (rc != SQLITE_DONE) {
      return fail(absl::InternalError(absl::StrCat("store ", path, ": cannot read the audit chain's head")));
    }
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(db, kSchemaVersion, std::move(head)));
}

SqliteStore::~SqliteStore() {
  absl::MutexLock lock(&mu_);
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::Status SqliteStore::Error(const char* what) {
  return absl::Status(CodeFor(sqlite3_extended_errcode(db_)), absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteStore::Exec(const char* sql) {
  // One statement, prepared once (the transaction statements run for every
  // commit).
  Statement stmt(this, sql);
  const int rc = stmt.Step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(sql);
  return absl::OkStatus();
}

absl::Status SqliteStore::Write(absl::FunctionRef<absl::Status()> body, bool alone) {
  Writer self(body, alone);
  queue_mu_.Lock();
  writers_.push_back(&self);
  while (!self.done && writers_.front() != &self) self.turn.Wait(&queue_mu_);
  if (self.done) {  // A leader committed this call with its group.
    queue_mu_.Unlock();
    return self.status;
  }
  // First in the queue: commit for everyone queued so far, up to a writer
  // that must commit alone.
  std::vector<Writer*> batch;
  for (Writer* writer : writers_) {
    if (batch.size() == kMaxGroup || (!batch.empty() && (writer->alone || self.alone))) break;
    batch.push_back(writer);
  }
  queue_mu_.Unlock();
  CommitBatch(batch);
  queue_mu_.Lock();
  for (Writer* member : batch) {
    writers_.pop_front();
    if (member != &self) {
      member->done = true;
      member->turn.Signal();
    }
  }
  if (!writers_.empty()) writers_.front()->turn.Signal();  // The next leader.
  queue_mu_.Unlock();
  return self.status;
}

void SqliteStore::CommitBatch(const std::vector<Writer*>& batch) {
  absl::MutexLock lock(&mu_);
  const AuditHead before = audit_head_;
  auto fail_all = [&](const absl::Status& status) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    audit_head_ = before;
    for (Writer* member : batch) member->status = status;
  };
  if (absl::Status begin = Exec("BEGIN IMMEDIATE"); !begin.ok()) {
    fail_all(begin);
    return;
  }
  const bool alone = batch.size() == 1;
  for (Writer* member : batch) {
    if (!alone) {
      if (absl::Status mark = Exec("SAVEPOINT writer"); !mark.ok()) {
        fail_all(mark);
        return;
      }
    }
    const AuditHead head = audit_head_;
    member->status = member->body();
    if (alone) {
      if (!member->status.ok()) {
        fail_all(member->status);
        return;
      }
      continue;
    }
    if (!member->status.ok()) {
      // On some errors (a full disk among them) SQLite has already rolled
      // back the whole transaction: the others' changes are gone too.
      if (sqlite3_get_autocommit(db_) != 0) {
        fail_all(member->status);
        return;
      }
      // Undo this call alone; the others keep their changes.
      audit_head_ = head;
      if (absl::Status undo = Exec("ROLLBACK TO writer"); !undo.ok()) {
        fail_all(undo);
        return;
      }
    }
    if (absl::Status release = Exec("RELEASE writer"); !release.ok()) {
      fail_all(release);
      return;
    }
  }
  if (absl::Status commit = Exec("COMMIT"); !commit.ok()) {
    fail_all(commit);
    return;
  }
  ++commits_;
}

absl::Status SqliteStore::AppendAuditLocked(const AuditEvent& event) {
  v1::AuditEntry entry;
  entry.set_sequence(audit_head_.sequence + 1);
  const int64_t now = ToNanos(absl::Now());
  entry.mutable_time()->set_seconds(now / 1000000000);
  entry.mutable_time()->set_nanos(static_cast<int32_t>(now % 1000000000));
  entry.set_kind(event.kind);
  entry.set_record_id(event.record_id);
  entry.set_identity(event.identity);
  entry.set_digest(event.digest);
  entry.set_detail(event.detail);
  entry.set_previous_hash(audit_head_.hash);
  entry.set_hash(AuditHash(entry));
  Statement insert(this,
                   "INSERT INTO audit (sequence, time_nanos, kind, record_id, identity, digest, detail, "
                   "previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, entry.sequence())
      .Bind(2, now)
      .Bind(3, static_cast<int64_t>(entry.kind()))
      .Bind(4, entry.record_id())
      .Bind(5, entry.identity())
      .BindBlob(6, entry.digest())
      .Bind(7, entry.detail())
      .BindBlob(8, entry.previous_hash())
      .BindBlob(9, entry.hash());
  if (insert.Step() != SQLITE_DONE) return Error("audit insert");
  audit_head_ = AuditHead{entry.sequence(), entry.hash()};
  return absl::OkStatus();
}

absl::Status SqliteStore::AppendAudit(const AuditEvent& event) {
  return Write([&] { return AppendAuditLocked(event); });
}

absl::StatusOr<std::vector<v1::AuditEntry>> SqliteStore::ListAudit(int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  Statement stmt(this,
                 "SELECT sequence, time_nanos, kind, record_id, identity, digest, detail, previous_hash, hash "
                 "FROM audit WHERE sequence > ? ORDER BY sequence LIMIT ?");
  stmt.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<v1::AuditEntry> entries;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    v1::AuditEntry entry;
    entry.set_sequence(stmt.Int(0));
    const int64_t nanos = stmt.Int(1);
    entry.mutable_time()->set_seconds(nanos / 1000000000);
    entry.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
    entry.set_kind(static_cast<v1::AuditEventKind>(stmt.Int(2)));
    entry.set_record_id(stmt.Text(3));
    entry.set_identity(stmt.Text(4));
    entry.set_digest(stmt.Text(5));
    entry.set_detail(stmt.Text(6));
    entry.set_previous_hash(stmt.Text(7));
    entry.set_hash(stmt.Text(8));
    entries.push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE) return Error("audit scan");
  return entries;
}

absl::StatusOr<AcceptOutcome> SqliteStore::AcceptOutbound(const OutboundRecord& record) {
  IICC_ASSIGN_OR_RETURN(std::vector<AcceptOutcome> outcomes, AcceptOutboundBatch({record}));
  return std::move(outcomes.front());
}

absl::StatusOr<std::vector<AcceptOutcome>> SqliteStore::AcceptOutboundBatch(
    const std::vector<OutboundRecord>& records) {
  std::vector<AcceptOutcome> outcomes(records.size());
  absl::Status status = Write([&]() -> absl::Status {
    for (size_t i = 0; i < records.size(); ++i) IICC_RETURN_IF_ERROR(AcceptOutboundLocked(records[i], &outcomes[i]));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::Status SqliteStore::AcceptOutboundLocked(const OutboundRecord& record, AcceptOutcome* outcome) {
  Statement find(this, "SELECT request_digest, record_id FROM idempotency WHERE submitter = ? AND request_id = ?");
  find.Bind(1, record.submitter).Bind(2, record.request_id);
  const int rc = find.Step();
  if (rc == SQLITE_ROW) {
    outcome->kind =
        find.Text(0) == record.request_digest ? AcceptOutcome::Kind::kReplay : AcceptOutcome::Kind::kConflict;
    outcome->record_id = find.Text(1);
    return absl::OkStatus();
  }
  if (rc != SQLITE_DONE) return Error("idempotency lookup");

  Statement key(this, "INSERT INTO idempotency (submitter, request_id, request_digest, record_id) VALUES (?, ?, ?, ?)");
  key.Bind(1, record.submitter).Bind(2, record.request_id).BindBlob(3, record.request_digest).Bind(4, record.record_id);
  if (key.Step() != SQLITE_DONE) return Error("idempotency insert");

  Statement insert(this,
                   "INSERT INTO outbox (record_id, record_type, submitter, envelope, accepted_nanos, state) "
                   "VALUES (?, ?, ?, ?, ?, ?)");
  insert.Bind(1, record.record_id)
      .Bind(2, static_cast<int64_t>(record.record_type))
      .Bind(3, record.submitter)
      .BindBlob(4, record.envelope)
      .Bind(5, ToNanos(record.accepted_time))
      .Bind(6, static_cast<int64_t>(v1::DELIVERY_STATE_QUEUED));
  if (insert.Step() != SQLITE_DONE) return Error("outbox insert");
  IICC_RETURN_IF_ERROR(
      AppendAuditLocked(AuditEvent{v1::AUDIT_EVENT_KIND_SUBMIT, record.record_id, record.submitter,
                                   record.payload_digest, absl::StrCat("policy ", record.policy_version)}));
  outcome->kind = AcceptOutcome::Kind::kAccepted;
  outcome->record_id = record.record_id;
  return absl::OkStatus();
}

absl::StatusOr<OutboundStatus> SqliteStore::GetOutboundStatus(absl::string_view record_id) {
  absl::MutexLock lock(&mu_);
  Statement stmt(this,
                 "SELECT record_type, submitter, state, reason, receipt, accepted_nanos, delivered_nanos "
                 "FROM outbox WHERE record_id = ?");
  stmt.Bind(1, record_id);
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError("no such record");
  if (rc != SQLITE_ROW) return Error("status lookup");
  OutboundStatus status;
  status.record_id = std::string(record_id);
  status.record_type = static_cast<v1::RecordType>(stmt.Int(0));
  status.submitter = stmt.Text(1);
  status.state = static_cast<v1::DeliveryState>(stmt.Int(2));
  status.reason = stmt.Text(3);
  status.receipt = stmt.Text(4);
  status.accepted_time = FromNanos(stmt.Int(5));
  if (!stmt.IsNull(6)) status.delivered_time = FromNanos(stmt.Int(6));
  return status;
}

absl::StatusOr<std::vector<PendingEnvelope>> SqliteStore::ListPending(int64_t after, int limit) {
  absl::MutexLock lock(&mu_);
  Statement stmt(this,
                 "SELECT sequence, record_id, envelope FROM outbox WHERE state = 1 AND sequence > ? "
                 "ORDER BY sequence LIMIT ?");
  stmt.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
  std::vector<PendingEnvelope> pending;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    pending.push_back(PendingEnvelope{stmt.Int(0), stmt.Text(1), stmt.Text(2)});
  }
  if (rc != SQLITE_DONE) return Error("pending scan");
  return pending;
}

absl::Status SqliteStore::RecordOutcomeLocked(const Outcome& outcome) {
  Statement stmt(this,
                 "UPDATE outbox SET state = ?, reason = ?, receipt = ?, delivered_nanos = ? "
                 "WHERE record_id = ? AND state = 1");
  stmt.Bind(1, static_cast<int64_t>(outcome.state))
      .Bind(2, outcome.reason)
      .BindBlob(3, outcome.receipt)
      .Bind(4, ToNanos(outcome.delivered_time))
      .Bind(5, outcome.record_id);
  if (stmt.Step() != SQLITE_DONE) return Error("outcome update");
  if (sqlite3_changes(db_) == 0) return absl::OkStatus();  // Not queued any more: nothing changed.
  return AppendAuditLocked(AuditEvent{outcome.state == v1::DELIVERY_STATE_DELIVERED
                                          ? v1::AUDIT_EVENT_KIND_DELIVER
                                          : v1::AUDIT_EVENT_KIND_RECEIPT_REJECTED,
                                      outcome.record_id, "", Sha256(outcome.receipt), outcome.reason});
}

absl::Status SqliteStore::RecordOutcomes(const std::vector<Outcome>& outcomes) {
  if (outcomes.empty()) return absl::OkStatus();
  return Write([&]() -> absl::Status {
    for (const Outcome& outcome : outcomes) IICC_RETURN_IF_ERROR(RecordOutcomeLocked(outcome));
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteStore::CountPending() {
  absl::MutexLock lock(&mu_);
  Statement stmt(this, "SELECT COUNT(*) FROM outbox WHERE state = 1");
  if (stmt.Step() != SQLITE_ROW) return Error("pending count");
  return stmt.Int(0);
}

absl::Status SqliteStore::CommitInboundLocked(const InboundCommit& commit, InboundOutcome* out) {
  InboundOutcome& outcome = *out;
  Statement find(this, "SELECT payload_digest, receipt FROM inbound_receipts WHERE record_id = ?");
  find.Bind(1, commit.record_id);
  const int rc = find.Step();
  if (rc == SQLITE_ROW) {
    if (find.Text(0) == commit.payload_digest) {
      outcome.kind = InboundOutcome::Kind::kDuplicate;
      outcome.receipt = find.Text(1);
      return absl::OkStatus();
    }
    outcome.kind = InboundOutcome::Kind::kConflict;
    return AppendAuditLocked(AuditEvent{v1::AUDIT_EVENT_KIND_INBOUND_REJECT, commit.record_id, commit.sender,
                                        commit.payload_digest,
                                        "record id already received with another payload; the stored record "
                                        "is kept"});
  }
  if (rc != SQLITE_DONE) return Error("receipt lookup");

  Statement receipt(this,
                    "INSERT INTO inbound_receipts (record_id, payload_digest, accepted, receipt, envelope) "
                    "VALUES (?, ?, ?, ?, ?)");
  receipt.Bind(1, commit.record_id)
      .BindBlob(2, commit.payload_digest)
      .Bind(3, static_cast<int64_t>(commit.accepted))
      .BindBlob(4, commit.receipt)
      .BindBlob(5, commit.envelope);
  if (receipt.Step() != SQLITE_DONE) return Error("receipt insert");
  outcome.kind = InboundOutcome::Kind::kCommitted;
  outcome.receipt = commit.receipt;
  if (!commit.accepted) {
    return AppendAuditLocked(AuditEvent{v1::AUDIT_EVENT_KIND_INBOUND_REJECT, commit.record_id, commit.sender,
                                        commit.payload_digest, commit.reason});
  }

  Statement insert(this,
                   "INSERT INTO inbox (record_id, origin, record_type, record, received_nanos) "
                   "VALUES (?, ?, ?, ?, ?)");
  insert.Bind(1, commit.record_id)
      .Bind(2, static_cast<int64_t>(commit.origin))
      .Bind(3, static_cast<int64_t>(commit.record_type))
      .BindBlob(4, commit.record)
      .Bind(5, ToNanos(commit.received_time));
  if (insert.Step() != SQLITE_DONE) return Error("inbox insert");
  outcome.sequence = sqlite3_last_insert_rowid(db_);
  return AppendAuditLocked(
      AuditEvent{v1::AUDIT_EVENT_KIND_RECEIVE, commit.record_id, commit.sender, commit.payload_digest, ""});
}

absl::StatusOr<std::vector<InboundOutcome>> SqliteStore::CommitInboundBatch(const std::vector<InboundCommit>& commits) {
  std::vector<InboundOutcome> outcomes(commits.size());
  if (commits.empty()) return outcomes;
  absl::Status status = Write([&]() -> absl::Status {
    for (size_t i = 0; i < commits.size(); ++i) IICC_RETURN_IF_ERROR(CommitInboundLocked(commits[i], &outcomes[i]));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::StatusOr<std::vector<InboxEntry>> SqliteStore::ListInbox(int64_t after, const std::vector<v1::RecordType>& types,
                                                               int limit) {
  // Record types are few: a bit mask keeps the statement fixed.
  int64_t mask = 0;
  for (v1::RecordType type : types) mask |= int64_t{1} << (static_cast<int>(type) & 63);
  absl::MutexLock lock(&mu_);
  Statement stmt(this,
                 "SELECT sequence, record_id, origin, record_type, record, received_nanos FROM inbox "
                 "WHERE sequence > ? AND (? = 0 OR ((1 << record_type) & ?) != 0) ORDER BY sequence LIMIT ?");
  stmt.Bind(1, after).Bind(2, mask).Bind(3, mask).Bind(4, static_cast<int64_t>(limit));
  std::vector<InboxEntry> entries;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    InboxEntry entry;
    entry.sequence = stmt.Int(0);
    entry.record_id = stmt.Text(1);
    entry.origin = static_cast<v1::Jurisdiction>(stmt.Int(2));
    entry.record_type = static_cast<v1::RecordType>(stmt.Int(3));
    entry.record = stmt.Text(4);
    entry.received_time = FromNanos(stmt.Int(5));
    entries.push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE) return Error("inbox scan");
  return entries;
}

absl::StatusOr<absl::Time> SqliteStore::OldestPendingAcceptedTime() {
  absl::MutexLock lock(&mu_);
  // The oldest queued record has the lowest sequence (outbox_queued index).
  Statement stmt(this, "SELECT accepted_nanos FROM outbox WHERE state = 1 ORDER BY sequence LIMIT 1");
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError("no record is queued");
  if (rc != SQLITE_ROW) return Error("oldest queued record");
  return FromNanos(stmt.Int(0));
}

absl::Status SqliteStore::CheckWritable() {
  // 64 KiB of new pages, freed again in the same transaction: the commit
  // writes and fsyncs the pages it touched, so a full disk, a file at its
  // size limit or a read-only file fails here, and nothing stays behind.
  return Write(
      [this]() -> absl::Status {
        Statement insert(this, "INSERT INTO health_probe (pad) VALUES (zeroblob(65536))");
        if (insert.Step() != SQLITE_DONE) return Error("store write probe");
        Statement remove(this, "DELETE FROM health_probe");
        if (remove.Step() != SQLITE_DONE) return Error("store write probe");
        return absl::OkStatus();
      },
      /*alone=*/true);
}

absl::StatusOr<std::string> SqliteStore::GetInboundReceipt(absl::string_view record_id) {
  absl::MutexLock lock(&mu_);
  Statement stmt(this, "SELECT receipt FROM inbound_receipts WHERE record_id = ?");
  stmt.Bind(1, record_id);
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError("no receipt for that record id");
  if (rc != SQLITE_ROW) return Error("receipt lookup");
  return stmt.Text(0);
}

absl::StatusOr<int64_t> SqliteStore::InboxHighWater() {
  absl::MutexLock lock(&mu_);
  Statement stmt(this, "SELECT COALESCE(MAX(sequence), 0) FROM inbox");
  if (stmt.Step() != SQLITE_ROW) return Error("inbox high water");
  return stmt.Int(0);
}

}  // namespace iicc::store
