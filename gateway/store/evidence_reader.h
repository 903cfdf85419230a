// Read-only access to the evidence in a gateway's SQLite file, for
// `iicc-cli export` and `iicc-cli audit`: the signed envelope and receipt of
// one record, and the audit chain page by page. It never writes to the file
// and never migrates it, so it is safe on a copy kept as evidence and on the
// file of a running gateway:
//
//   IICC_ASSIGN_OR_RETURN(std::unique_ptr<EvidenceReader> reader, EvidenceReader::Open("kz/data/gateway.db"));
//   IICC_ASSIGN_OR_RETURN(RecordEvidence found, reader->FindRecord(record_id));
//   if (!found.evidence.has_receipt()) { /* still queued: incomplete */ }
//
// Two ways of opening, chosen by what lies beside the file:
//  - `FILE-wal` exists: a gateway has the file open (or stopped without
//    closing it). The file is opened read-only through SQLite's WAL index, so
//    each query sees the latest commit. SQLite may create `FILE-shm` then, as
//    any reader of a WAL database does; the database itself is not written.
//  - No `FILE-wal`: the file was closed cleanly and is complete by itself. It
//    is opened as immutable: no lock, no journal, no file created. A gateway
//    started on the same file while it is read makes the next call fail with
//    UNAVAILABLE; read it again then.
#ifndef IICC_GATEWAY_STORE_EVIDENCE_READER_H_
#define IICC_GATEWAY_STORE_EVIDENCE_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "iicc/v1/audit.pb.h"
#include "iicc/v1/ministry_gateway.pb.h"

struct sqlite3;

namespace iicc::store {

// What one gateway holds about one record.
struct RecordEvidence {
  enum class Direction {
    kOutbound,  // This gateway's own record (outbox): it signed the envelope.
    kInbound,   // A record from the peer (inbound_receipts): it signed the receipt.
  };
  Direction direction = Direction::kOutbound;
  // Outbound only: QUEUED, DELIVERED or REJECTED. UNSPECIFIED for inbound
  // evidence, whose verdict is in the receipt.
  v1::DeliveryState state = v1::DELIVERY_STATE_UNSPECIFIED;
  // The envelope and the receipt as stored. Outbound: no receipt while
  // queued. Inbound: no envelope for a record received before schema
  // version 2, which did not keep it.
  v1::Evidence evidence;
};

// Thread-safe: one read-only connection behind a mutex.
class EvidenceReader {
 public:
  // The schema versions this reader understands: 2 (the audit chain and the
  // received envelopes) and 3 (which only adds the readiness probe's
  // table). Whoever appends a migration to SqliteStore must check the
  // queries here and raise kSchemaVersion.
  static constexpr int kOldestSchemaVersion = 2;
  static constexpr int kSchemaVersion = 3;

  // Opens the gateway database at `path` read-only (see the file comment).
  // NOT_FOUND if there is no such file; FAILED_PRECONDITION if it cannot be
  // opened, is not a database, or has a schema version outside
  // [kOldestSchemaVersion, kSchemaVersion] (the message names the versions).
  static absl::StatusOr<std::unique_ptr<EvidenceReader>> Open(const std::string& path);

  ~EvidenceReader();
  EvidenceReader(const EvidenceReader&) = delete;
  EvidenceReader& operator=(const EvidenceReader&) = delete;

  // The evidence of `record_id`: from the outbox when this gateway sent it,
  // else from the inbound receipts when it received it (signature verified
  // and judged, accepted or rejected). NOT_FOUND when neither holds it;
  // DATA_LOSS when a stored envelope or receipt does not parse.
  absl::StatusOr<RecordEvidence> FindRecord(absl::string_view record_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Up to `limit` audit entries with sequence > `after`, in sequence order;
  // an empty page at the end. INVALID_ARGUMENT unless limit > 0.
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int64_t after, int limit) ABSL_LOCKS_EXCLUDED(mu_);

  // The file as given to Open().
  const std::string& path() const { return path_; }
  // Whether the file was opened as immutable (no `-wal` beside it).
  bool immutable() const { return immutable_; }

 private:
  class Query;

  EvidenceReader(sqlite3* db, std::string path, bool immutable)
      : db_(db), path_(std::move(path)), immutable_(immutable) {}

  // The status of a failed step of `what`.
  absl::Status Error(absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // UNAVAILABLE if an immutable file got a WAL (a gateway opened it) since
  // Open(): what was just read may be torn.
  absl::Status CheckStillClosed() const;

  mutable absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const std::string path_;
  const bool immutable_;
};

}  // namespace iicc::store

#endif  // IICC_GATEWAY_STORE_EVIDENCE_READER_H_
