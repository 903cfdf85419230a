#include "gateway/store/evidence_reader.h"

#include <sqlite3.h>

#include <cctype>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/store/sqlite_store.h"

namespace iicc::store {

// A new migration must be read here before this reader opens its files.
static_assert(EvidenceReader::kSchemaVersion == kSchemaVersion, "review EvidenceReader for the new schema version");

namespace {

bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

// `path` as a file: URI (RFC 8089 as SQLite reads it): every byte but the
// unreserved ones and '/' percent-encoded, so that '?', '#' and '%' in a file
// name are not taken for URI syntax.
std::string FileUri(const std::string& path) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      uri.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&uri, "%%%02X", c);
    }
  }
  return uri;
}

}  // namespace

// A prepared statement, finalized on destruction.
class EvidenceReader::Query {
 public:
  Query(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Query() { sqlite3_finalize(stmt_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int i, absl::string_view text) {
    // An empty view may hold a null pointer, which SQLite would bind as NULL.
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_text(stmt_, i, text.data() == nullptr ? "" : text.data(), static_cast<int>(text.size()),
                              SQLITE_TRANSIENT);
    }
    return *this;
  }
  Query& Bind(int i, int64_t value) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, i, value);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Bytes(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

absl::StatusOr<std::unique_ptr<EvidenceReader>> EvidenceReader::Open(const std::string& path) {
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat("no such file: ", path));
  // Without a WAL beside it, the file is whole and nobody has it open: read
  // it as immutable, or SQLite would create -wal and -shm files next to
  // evidence that must stay as it was.
  const bool immutable = !Exists(path + "-wal");
  const std::string uri = FileUri(path) + (immutable ? "?mode=ro&immutable=1" : "?mode=ro");
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  auto fail = [&](absl::string_view problem) {
    absl::Status status = absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", problem));
    sqlite3_close(db);
    return status;
  };
  if (rc != SQLITE_OK) return fail(db != nullptr ? sqlite3_errmsg(db) : "out of memory");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);  // A gateway's checkpoint may hold a lock briefly.
  int version = 0;
  {
    sqlite3_stmt* stmt = nullptr;
    int step = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    if (step == SQLITE_OK) step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (step != SQLITE_ROW) {
      if ((step & 0xff) == SQLITE_NOTADB) return fail("not a gateway database");
      return fail(sqlite3_errmsg(db));
    }
  }
  if (version < kOldestSchemaVersion || version > kSchemaVersion) {
    return fail(absl::StrCat("schema version ", version, "; this build reads versions ", kOldestSchemaVersion, " to ",
                             kSchemaVersion,
                             version > kSchemaVersion ? " (use the iicc-cli of the gateway that wrote it)" : ""));
  }
  return std::unique_ptr<EvidenceReader>(new EvidenceReader(db, path, immutable));
}

EvidenceReader::~EvidenceReader() {
  absl::MutexLock lock(&mu_);
  sqlite3_close_v2(db_);
}

absl::Status EvidenceReader::Error(absl::string_view what) const {
  const int rc = sqlite3_extended_errcode(db_);
  const std::string message = absl::StrCat(path_, ": ", what, ": ", sqlite3_errmsg(db_));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status EvidenceReader::CheckStillClosed() const {
  if (immutable_ && Exists(path_ + "-wal")) {
    return absl::UnavailableError(
        absl::StrCat(path_, " was opened by a gateway while it was being read; read it again"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RecordEvidence> EvidenceReader::FindRecord(absl::string_view record_id) {
  RecordEvidence found;
  bool have = false;
  std::string envelope, receipt;
  bool has_envelope = false, has_receipt = false;
  {
    absl::MutexLock lock(&mu_);
    Query outbound(db_, "SELECT envelope, state, receipt FROM outbox WHERE record_id = ?");
    outbound.Bind(1, record_id);
    int rc = outbound.Step();
    if (rc == SQLITE_ROW) {
      have = true;
      found.direction = RecordEvidence::Direction::kOutbound;
      found.state = static_cast<v1::DeliveryState>(outbound.Int(1));
      has_envelope = true;
      envelope = outbound.Bytes(0);
      has_receipt = !outbound.IsNull(2);
      receipt = outbound.Bytes(2);
    } else if (rc != SQLITE_DONE) {
      return Error("outbox lookup");
    } else {
      Query inbound(db_, "SELECT envelope, receipt FROM inbound_receipts WHERE record_id = ?");
      inbound.Bind(1, record_id);
      rc = inbound.Step();
      if (rc == SQLITE_ROW) {
        have = true;
        found.direction = RecordEvidence::Direction::kInbound;
        has_envelope = !inbound.IsNull(0);
        envelope = inbound.Bytes(0);
        has_receipt = true;
        receipt = inbound.Bytes(1);
      } else if (rc != SQLITE_DONE) {
        return Error("inbound receipt lookup");
      }
    }
  }
  if (absl::Status closed = CheckStillClosed(); !closed.ok()) return closed;
  if (!have) return absl::NotFoundError(absl::StrCat("record ", record_id, " is not in ", path_));
  if (has_envelope && !found.evidence.mutable_envelope()->ParseFromString(envelope)) {
    return absl::DataLossError(absl::StrCat(path_, ": the stored envelope of record ", record_id, " does not parse"));
  }
  if (has_receipt && !found.evidence.mutable_receipt()->ParseFromString(receipt)) {
    return absl::DataLossError(absl::StrCat(path_, ": the stored receipt of record ", record_id, " does not parse"));
  }
  return found;
}

absl::StatusOr<std::vector<v1::AuditEntry>> EvidenceReader::ListAudit(int64_t after, int limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  std::vector<v1::AuditEntry> entries;
  {
    absl::MutexLock lock(&mu_);
    // The same columns, in the same way, as SqliteStore::ListAudit.
    Query query(db_,
                "SELECT sequence, time_nanos, kind, record_id, identity, digest, detail, previous_hash, hash "
                "FROM audit WHERE sequence > ? ORDER BY sequence LIMIT ?");
    query.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
    int rc;
    while ((rc = query.Step()) == SQLITE_ROW) {
      v1::AuditEntry& entry = entries.emplace_back();
      entry.set_sequence(query.Int(0));
      const int64_t nanos = query.Int(1);
      entry.mutable_time()->set_seconds(nanos / 1000000000);
      entry.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
      entry.set_kind(static_cast<v1::AuditEventKind>(query.Int(2)));
      entry.set_record_id(query.Bytes(3));
      entry.set_identity(query.Bytes(4));
      entry.set_digest(query.Bytes(5));
      entry.set_detail(query.Bytes(6));
      entry.set_previous_hash(query.Bytes(7));
      entry.set_hash(query.Bytes(8));
    }
    if (rc != SQLITE_DONE) return Error("audit scan");
  }
  if (absl::Status closed = CheckStillClosed(); !closed.ok()) return closed;
  return entries;
}

}  // namespace iicc::store
