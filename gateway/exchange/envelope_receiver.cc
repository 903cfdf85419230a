#include "gateway/exchange/envelope_receiver.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/records.h"
#include "gateway/exchange/fault_injection.h"
#include "gateway/validation/record_validator.h"
#include "google/protobuf/util/time_util.h"

namespace iicc::exchange {
namespace {

v1::Receipt MakeReceipt(const std::string& record_id, const std::string& payload_digest, bool accepted,
                        const std::string& reason, absl::Time now, v1::Jurisdiction receiver,
                        const std::string& policy_version) {
  v1::ReceiptHeader header;
  header.set_record_id(record_id);
  header.set_payload_digest(payload_digest);
  header.set_verdict(accepted ? v1::RECEIPT_VERDICT_ACCEPTED : v1::RECEIPT_VERDICT_REJECTED);
  header.set_reason(reason);
  *header.mutable_received_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  header.set_receiver(receiver);
  header.set_policy_version(policy_version);
  v1::Receipt receipt;
  receipt.set_header(SerializeDeterministic(header));
  return receipt;
}

// Why the envelope cannot be accepted, or empty. Never quotes a field value.
std::string Judge(const v1::EnvelopeHeader& header, const v1::Envelope& envelope, const std::string& digest,
                  v1::Jurisdiction own, const validation::ValidationOptions& options, v1::Record* record) {
  if (header.origin() != PeerOf(own)) return "the envelope's origin is not the peer jurisdiction";
  if (header.destination() != own) return "the envelope is addressed to another jurisdiction";
  if (header.payload_digest() != digest) return "the payload does not match the header's digest";
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
                                   const policy::ActivePolicy* policy, SequenceNotifier* inbox,
                                   validation::ValidationOptions validation)
    : jurisdiction_(jurisdiction), store_(store), policy_(policy), inbox_(inbox), validation_(std::move(validation)) {}

v1::DeliverResponse EnvelopeReceiver::Receive(const v1::Envelope& envelope) {
  const absl::Time now = absl::Now();
  const std::shared_ptr<const policy::CompiledPolicy> policy = policy_->Get();
  v1::DeliverResponse response;
  v1::EnvelopeHeader header;
  const std::string digest = Sha256(envelope.payload());
  if (!header.ParseFromString(envelope.header()) || header.record_id().empty()) {
    // Nothing can be stored without a record id; the sender learns why.
    *response.mutable_receipt() = MakeReceipt(header.record_id(), digest, false, "malformed envelope header", now,
                                              jurisdiction_, policy->version());
    return response;
  }

  v1::Record record;
  std::string reason = Judge(header, envelope, digest, jurisdiction_, validation_, &record);
  if (reason.empty()) {
    if (absl::Status verdict = policy->Apply(policy::Direction::kInbound, &record); !verdict.ok()) {
      reason = std::string(verdict.message());
    }
  }
  const bool accepted = reason.empty();
  const v1::Receipt receipt =
      MakeReceipt(header.record_id(), digest, accepted, reason, now, jurisdiction_, policy->version());

  store::InboundCommit commit;
  commit.record_id = header.record_id();
  commit.origin = header.origin();
  commit.record_type = header.record_type();
  commit.payload_digest = digest;
  commit.accepted = accepted;
  // The inbox keeps the record as the inbound policy left it.
  if (accepted) commit.record = SerializeDeterministic(record);
  commit.receipt = SerializeDeterministic(receipt);
  commit.received_time = now;

  absl::StatusOr<store::InboundOutcome> outcome = store_->CommitInbound(commit);
  if (!outcome.ok()) {
    // Cannot store now (disk full, store unavailable): the sender keeps the
    // envelope and sends it again.
    v1::RetryableRefusal* refusal = response.mutable_refusal();
    refusal->set_record_id(header.record_id());
    refusal->set_reason(absl::StrCat("cannot store now: ", absl::StatusCodeToString(outcome.status().code())));
    refusal->mutable_retry_after()->set_seconds(absl::ToInt64Seconds(kRetryAfter));
    return response;
  }
  switch (outcome->kind) {
    case store::InboundOutcome::Kind::kCommitted:
      IICC_FAULT_POINT("receiver.after_commit");
      if (accepted) inbox_->Publish(outcome->sequence);
      *response.mutable_receipt() = receipt;
      break;
    case store::InboundOutcome::Kind::kDuplicate:
      if (!response.mutable_receipt()->ParseFromString(outcome->receipt)) {
        *response.mutable_receipt() = receipt;  // Unreachable unless the store is corrupt.
      }
      break;
    case store::InboundOutcome::Kind::kConflict:
      *response.mutable_receipt() =
          MakeReceipt(header.record_id(), digest, false, "record_id already received with a different payload", now,
                      jurisdiction_, policy->version());
      break;
  }
  return response;
}

}  // namespace iicc::exchange
