// The gateway's durable state: outbox (records accepted from the own ministry,
// with their delivery state and receipts), idempotency keys, inbox (records
// received from the peer, with the receipts answered for them), and the
// audit chain.
//
// Every mutating call returns only after its transaction is durable:
// "acknowledged means committed". Each state change appends its audit entry
// in the same transaction. Implementations: SqliteStore (embedded, the
// default); later a PostgreSQL one for replicated gateways.
#ifndef IICC_GATEWAY_STORE_STORE_H_
#define IICC_GATEWAY_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "iicc/v1/audit.pb.h"
#include "iicc/v1/ministry_gateway.pb.h"
#include "iicc/v1/records.pb.h"

namespace iicc::store {

// A record accepted from the own ministry, ready to travel.
struct OutboundRecord {
  std::string record_id;  // UUIDv7.
  v1::RecordType record_type = v1::RECORD_TYPE_UNSPECIFIED;
  std::string submitter;       // SPIFFE ID of the submitting system.
  std::string request_id;      // The submitter's idempotency key.
  std::string request_digest;  // SHA-256 of the record as submitted.
  std::string envelope;        // Serialized iicc.v1.Envelope.
  absl::Time accepted_time;
  // For the SUBMIT audit entry.
  std::string payload_digest;  // SHA-256 of the envelope's payload.
  std::string policy_version;  // The outbound policy applied.
};

// What AcceptOutbound did.
struct AcceptOutcome {
  enum class Kind {
    kAccepted,  // Stored now.
    kReplay,    // Same submitter, request_id and record: stored before.
    kConflict,  // Same submitter and request_id, another record.
  };
  Kind kind = Kind::kAccepted;
  // The record's id; for kReplay and kConflict, the first record's id.
  std::string record_id;
};

// The delivery state of an outbound record.
struct OutboundStatus {
  std::string record_id;
  v1::RecordType record_type = v1::RECORD_TYPE_UNSPECIFIED;
  std::string submitter;
  v1::DeliveryState state = v1::DELIVERY_STATE_UNSPECIFIED;
  std::string reason;   // Why rejected; empty otherwise.
  std::string receipt;  // Serialized iicc.v1.Receipt; empty while queued.
  absl::Time accepted_time;
  std::optional<absl::Time> delivered_time;
};

// The peer's verdict on one outbound record (RecordOutcomes).
struct Outcome {
  std::string record_id;
  v1::DeliveryState state = v1::DELIVERY_STATE_UNSPECIFIED;  // DELIVERED or REJECTED.
  std::string reason;                                        // Why rejected; empty otherwise.
  std::string receipt;                                       // Serialized iicc.v1.Receipt.
  absl::Time delivered_time;
};

// An envelope waiting for its receipt, in acceptance order.
struct PendingEnvelope {
  int64_t outbox_sequence = 0;  // Acceptance order, strictly increasing.
  std::string record_id;
  std::string envelope;  // Serialized iicc.v1.Envelope.
};

// A record received from the peer and the receipt answered for it.
struct InboundCommit {
  std::string record_id;
  v1::Jurisdiction origin = v1::JURISDICTION_UNSPECIFIED;
  v1::RecordType record_type = v1::RECORD_TYPE_UNSPECIFIED;
  std::string payload_digest;  // SHA-256 of the payload as received.
  // Serialized iicc.v1.Record as stored in the inbox. Stored only when
  // `accepted`; a rejected record keeps just its receipt.
  std::string record;
  bool accepted = false;
  std::string receipt;  // Serialized iicc.v1.Receipt.
  absl::Time received_time;
  // Serialized iicc.v1.Envelope as received and verified: kept as evidence.
  std::string envelope;
  // For the RECEIVE or INBOUND_REJECT audit entry.
  std::string sender;  // SPIFFE ID of the signer of the envelope.
  std::string reason;  // Why rejected; empty when accepted.
};

// What CommitInbound did.
struct InboundOutcome {
  enum class Kind {
    kCommitted,  // Stored now (in the inbox if accepted) with its receipt.
    kDuplicate,  // Same record_id and payload seen before: `receipt` is the
                 // receipt answered then.
    kConflict,   // Same record_id, another payload: nothing changed.
  };
  Kind kind = Kind::kCommitted;
  int64_t sequence = 0;  // Inbox sequence when committed and accepted.
  std::string receipt;   // The receipt to answer (the stored one on kDuplicate).
};

// One record of the inbox.
struct InboxEntry {
  int64_t sequence = 0;
  std::string record_id;
  v1::Jurisdiction origin = v1::JURISDICTION_UNSPECIFIED;
  v1::RecordType record_type = v1::RECORD_TYPE_UNSPECIFIED;
  std::string record;  // Serialized iicc.v1.Record.
  absl::Time received_time;
};

// An event for the audit chain that changes no other state (the store adds
// the entries of its own state changes itself). Never a personal field.
struct AuditEvent {
  v1::AuditEventKind kind = v1::AUDIT_EVENT_KIND_UNSPECIFIED;
  std::string record_id;
  std::string identity;
  std::string digest;
  std::string detail;
};

// Thread-safe: every method may be called from any thread. Concurrent
// mutating calls may share one transaction and one fsync (group commit);
// each still returns only after its own change is durable, and one call's
// failure does not fail the others.
class Store {
 public:
  virtual ~Store() = default;

  // Stores `record` in the outbox with its idempotency key
  // (submitter, request_id), unless that key exists: then kReplay (same
  // request_digest) or kConflict, and nothing is written. Audit: SUBMIT.
  virtual absl::StatusOr<AcceptOutcome> AcceptOutbound(const OutboundRecord& record) = 0;
  // AcceptOutbound for each of `records`, in order and in one transaction:
  // all are durable, or (on an error) none. A later record sees the earlier
  // ones (a request_id repeated within the batch is a replay or a conflict).
  // One outcome per record, in order.
  virtual absl::StatusOr<std::vector<AcceptOutcome>> AcceptOutboundBatch(
      const std::vector<OutboundRecord>& records) = 0;

  // The state of one outbound record. NOT_FOUND if unknown.
  virtual absl::StatusOr<OutboundStatus> GetOutboundStatus(absl::string_view record_id) = 0;

  // Up to `limit` queued envelopes with outbox_sequence > `after`, in order.
  virtual absl::StatusOr<std::vector<PendingEnvelope>> ListPending(int64_t after, int limit) = 0;

  // Records the peer's verdicts on queued records, in one transaction: each
  // DELIVERED or REJECTED with its reason, receipt and arrival time. A record
  // no longer queued is left as it is (a duplicate receipt after a resend).
  // Audit: DELIVER or RECEIPT_REJECTED, with the receipt's SHA-256, for each
  // record whose state changed.
  virtual absl::Status RecordOutcomes(const std::vector<Outcome>& outcomes) = 0;

  // RecordOutcomes for one record.
  absl::Status RecordOutcome(absl::string_view record_id, v1::DeliveryState state, absl::string_view reason,
                             absl::string_view receipt, absl::Time delivered_time) {
    return RecordOutcomes(
        {Outcome{std::string(record_id), state, std::string(reason), std::string(receipt), delivered_time}});
  }

  // Number of queued outbound records.
  virtual absl::StatusOr<int64_t> CountPending() = 0;

  // When the oldest queued outbound record was accepted; NOT_FOUND when none
  // is queued.
  virtual absl::StatusOr<absl::Time> OldestPendingAcceptedTime() = 0;

  // Whether a write with room for a record can commit now: a real, durable
  // transaction that leaves no trace. RESOURCE_EXHAUSTED on a full disk (or
  // at the size limit), another error if the file cannot be written.
  virtual absl::Status CheckWritable() = 0;

  // Commits received records and their receipts in one transaction, in
  // order, all or none: each unless its record_id was seen before
  // (kDuplicate: nothing written; kConflict: nothing written but an
  // INBOUND_REJECT audit entry). Audit: RECEIVE or INBOUND_REJECT. One
  // outcome per commit, in order.
  virtual absl::StatusOr<std::vector<InboundOutcome>> CommitInboundBatch(const std::vector<InboundCommit>& commits) = 0;

  // CommitInboundBatch for one record.
  absl::StatusOr<InboundOutcome> CommitInbound(const InboundCommit& commit) {
    absl::StatusOr<std::vector<InboundOutcome>> outcomes = CommitInboundBatch({commit});
    if (!outcomes.ok()) return outcomes.status();
    return std::move(outcomes->front());
  }

  // Up to `limit` inbox entries with sequence > `after`, in order, of the
  // given types (all types when `types` is empty).
  virtual absl::StatusOr<std::vector<InboxEntry>> ListInbox(int64_t after, const std::vector<v1::RecordType>& types,
                                                            int limit) = 0;

  // The receipt stored for a received record_id (serialized v1::Receipt, as
  // answered then). NOT_FOUND if that id was never stored.
  virtual absl::StatusOr<std::string> GetInboundReceipt(absl::string_view record_id) = 0;

  // The highest inbox sequence, 0 when the inbox is empty.
  virtual absl::StatusOr<int64_t> InboxHighWater() = 0;

  // Appends `event` to the audit chain, durably.
  virtual absl::Status AppendAudit(const AuditEvent& event) = 0;

  // Up to `limit` audit entries with sequence > `after`, in order.
  virtual absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int64_t after, int limit) = 0;
};

}  // namespace iicc::store

#endif  // IICC_GATEWAY_STORE_STORE_H_
