#include "gateway/exchange/envelope_receiver.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/log.h"
#include "gateway/common/records.h"
#include "gateway/exchange/fault_injection.h"
#include "gateway/store/audit.h"
#include "gateway/validation/record_validator.h"
#include "google/protobuf/util/time_util.h"

namespace iicc::exchange {
namespace {

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Why a verified envelope's record cannot be accepted, or empty. Never quotes
// a field value.
std::string Judge(const v1::EnvelopeHeader& header, const v1::Envelope& envelope, v1::Jurisdiction own,
                  const validation::ValidationOptions& options, v1::Record* record) {
  if (header.origin() != PeerOf(own)) return "the envelope's origin is not the peer jurisdiction";
  if (header.destination() != own) return "the envelope is addressed to another jurisdiction";
  if (!record->ParseFromString(envelope.payload())) return "the payload is not a record";
  if (RecordTypeOf(*record) != header.record_type()) return "the payload's record type differs from the header's";
  std::vector<v1::FieldViolation> violations = validation::ValidateRecord(*record, validation::Face::kPeer, options);
  if (!violations.empty()) {
    std::string reason = "invalid record:";
    for (size_t i = 0; i < violations.size(); ++i) {
      absl::StrAppend(&reason, i == 0 ? " " : "; ", violations[i].field(), ": ", violations[i].description());
    }
    return reason;
  }
  return "";
}

}  // namespace

EnvelopeReceiver::EnvelopeReceiver(v1::Jurisdiction jurisdiction, store::Store* store,
                                   const policy::ActivePolicy* policy, const proof::Signer* signer,
                                   const proof::Verifier* verifier, std::string peer_spiffe_id,
                                   SequenceNotifier* inbox, validation::ValidationOptions validation)
    : jurisdiction_(jurisdiction),
      store_(store),
      policy_(policy),
      signer_(signer),
      verifier_(verifier),
      peer_spiffe_id_(std::move(peer_spiffe_id)),
      inbox_(inbox),
      validation_(std::move(validation)) {}

absl::StatusOr<v1::Receipt> EnvelopeReceiver::MakeReceipt(const std::string& record_id,
                                                          const std::string& payload_digest, bool accepted,
                                                          const std::string& reason, absl::Time now,
                                                          const std::string& policy_version) const {
  v1::ReceiptHeader header;
  header.set_record_id(record_id);
  header.set_payload_digest(payload_digest);
  header.set_verdict(accepted ? v1::RECEIPT_VERDICT_ACCEPTED : v1::RECEIPT_VERDICT_REJECTED);
  header.set_reason(reason);
  *header.mutable_received_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  header.set_receiver(jurisdiction_);
  header.set_policy_version(policy_version);
  v1::Receipt receipt;
  receipt.set_header(SerializeDeterministic(header));
  absl::StatusOr<std::vector<v1::BatchProof>> proof = signer_->SignBatch(proof::Purpose::kReceipt, {receipt.header()});
  if (!proof.ok()) return proof.status();
  *receipt.mutable_proof() = std::move(proof->front());
  return receipt;
}

v1::DeliverResponse EnvelopeReceiver::Refuse(const std::string& record_id, absl::string_view why) {
  v1::DeliverResponse response;
  v1::RetryableRefusal* refusal = response.mutable_refusal();
  refusal->set_record_id(record_id);
  refusal->set_reason(std::string(why));
  refusal->mutable_retry_after()->set_seconds(absl::ToInt64Seconds(kRetryAfter));
  return response;
}

v1::DeliverResponse EnvelopeReceiver::Receive(const v1::Envelope& envelope) {
  const absl::Time now = absl::Now();
  const std::shared_ptr<const policy::CompiledPolicy> policy = policy_->Get();
  const std::string digest = Sha256(envelope.payload());
  v1::EnvelopeHeader header;
  const bool parsed = header.ParseFromString(envelope.header()) && !header.record_id().empty();

  // Before anything else: is this envelope what the peer signed? A record
  // that fails here is answered with a rejected receipt and audited, but
  // nothing is stored under its record id: bytes the peer did not sign must
  // not decide what that id means.
  std::string unverified;
  std::string signer;
  if (!parsed) {
    unverified = "malformed envelope header";
  } else if (absl::StatusOr<proof::Verifier::Verified> verified =
                 verifier_->Verify(proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), peer_spiffe_id_,
                                   FromTimestamp(header.accepted_time()));
             !verified.ok()) {
    unverified = absl::StrCat("bad signature: ", verified.status().message());
  } else if (header.payload_digest() != digest) {
    signer = verified->signer_spiffe_id;
    unverified = "the payload does not match the signed header's digest";
  } else {
    signer = verified->signer_spiffe_id;
  }
  if (!unverified.empty()) {
    store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_INBOUND_REJECT, header.record_id(), signer, digest, unverified});
    Log(LogLevel::kWarning, "peer.envelope_rejected", {{"record_id", header.record_id()}, {"reason", unverified}});
    absl::StatusOr<v1::Receipt> receipt =
        MakeReceipt(header.record_id(), digest, false, unverified, now, policy->version());
    if (!receipt.ok()) return Refuse(header.record_id(), "cannot sign a receipt now");
    v1::DeliverResponse response;
    *response.mutable_receipt() = *std::move(receipt);
    return response;
  }

  v1::Record record;
  std::string reason = Judge(header, envelope, jurisdiction_, validation_, &record);
  if (reason.empty()) {
    if (absl::Status verdict = policy->Apply(policy::Direction::kInbound, &record); !verdict.ok()) {
      reason = std::string(verdict.message());
    }
  }
  const bool accepted = reason.empty();
  absl::StatusOr<v1::Receipt> receipt =
      MakeReceipt(header.record_id(), digest, accepted, reason, now, policy->version());
  if (!receipt.ok()) return Refuse(header.record_id(), "cannot sign a receipt now");

  store::InboundCommit commit;
  commit.record_id = header.record_id();
  commit.origin = header.origin();
  commit.record_type = header.record_type();
  commit.payload_digest = digest;
  commit.accepted = accepted;
  // The inbox keeps the record as the inbound policy left it.
  if (accepted) commit.record = SerializeDeterministic(record);
  commit.receipt = SerializeDeterministic(*receipt);
  commit.received_time = now;
  commit.envelope = SerializeDeterministic(envelope);
  commit.sender = signer;
  commit.reason = reason;

  absl::StatusOr<store::InboundOutcome> outcome = store_->CommitInbound(commit);
  if (!outcome.ok()) {
    // Cannot store now (disk full, store unavailable): the sender keeps the
    // envelope and sends it again.
    return Refuse(header.record_id(),
                  absl::StrCat("cannot store now: ", absl::StatusCodeToString(outcome.status().code())));
  }
  v1::DeliverResponse response;
  switch (outcome->kind) {
    case store::InboundOutcome::Kind::kCommitted:
      IICC_FAULT_POINT("receiver.after_commit");
      if (accepted) inbox_->Publish(outcome->sequence);
      *response.mutable_receipt() = *std::move(receipt);
      break;
    case store::InboundOutcome::Kind::kDuplicate:
      if (!response.mutable_receipt()->ParseFromString(outcome->receipt)) {
        *response.mutable_receipt() = *std::move(receipt);  // Unreachable unless the store is corrupt.
      }
      break;
    case store::InboundOutcome::Kind::kConflict: {
      absl::StatusOr<v1::Receipt> conflict =
          MakeReceipt(header.record_id(), digest, false, "record_id already received with a different payload", now,
                      policy->version());
      if (!conflict.ok()) return Refuse(header.record_id(), "cannot sign a receipt now");
      *response.mutable_receipt() = *std::move(conflict);
      break;
    }
  }
  return response;
}

}  // namespace iicc::exchange
