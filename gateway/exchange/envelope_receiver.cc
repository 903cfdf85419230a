#include "gateway/exchange/envelope_receiver.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/log.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/records.h"
#include "gateway/common/uuid.h"
#include "gateway/exchange/fault_injection.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/audit.h"
#include "gateway/validation/record_validator.h"

namespace iicc::exchange {
namespace {

// Why a verified envelope's record cannot be accepted, or empty. Never quotes
// a field value.
std::string JudgeRecord(const v1::EnvelopeHeader& header, const v1::Envelope& envelope, v1::Jurisdiction own,
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
                                   const proof::Verifier* verifier, std::string peer_spiffe_id, SequenceNotifier* inbox,
                                   validation::ValidationOptions validation)
    : jurisdiction_(jurisdiction),
      store_(store),
      policy_(policy),
      signer_(signer),
      verifier_(verifier),
      peer_spiffe_id_(std::move(peer_spiffe_id)),
      inbox_(inbox),
      validation_(std::move(validation)) {}

v1::ReceiptHeader EnvelopeReceiver::ReceiptHeaderFor(const std::string& record_id, const std::string& payload_digest,
                                                     bool accepted, const std::string& reason, absl::Time now,
                                                     const std::string& policy_version) const {
  v1::ReceiptHeader header;
  header.set_record_id(record_id);
  header.set_payload_digest(payload_digest);
  header.set_verdict(accepted ? v1::RECEIPT_VERDICT_ACCEPTED : v1::RECEIPT_VERDICT_REJECTED);
  header.set_reason(reason);
  *header.mutable_received_time() = ToTimestamp(now);
  header.set_receiver(jurisdiction_);
  header.set_policy_version(policy_version);
  return header;
}

absl::Status EnvelopeReceiver::Sign(const std::vector<v1::Receipt*>& receipts) const {
  if (receipts.empty()) return absl::OkStatus();
  std::vector<std::string> headers;
  headers.reserve(receipts.size());
  for (const v1::Receipt* receipt : receipts) headers.push_back(receipt->header());
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer_->SignBatch(proof::Purpose::kReceipt, headers);
  if (!proofs.ok()) return proofs.status();
  for (size_t i = 0; i < receipts.size(); ++i) *receipts[i]->mutable_proof() = std::move((*proofs)[i]);
  return absl::OkStatus();
}

JudgedBatch::JudgedBatch() = default;
JudgedBatch::~JudgedBatch() = default;

namespace {

// A retryable refusal: the sender keeps the envelope and resends it.
v1::DeliverResponse Refusal(const std::string& record_id, absl::string_view why) {
  v1::DeliverResponse response;
  v1::RetryableRefusal* refusal = response.mutable_refusal();
  refusal->set_record_id(record_id);
  refusal->set_reason(std::string(why));
  refusal->mutable_retry_after()->set_seconds(absl::ToInt64Seconds(kRetryAfter));
  return response;
}

}  // namespace

void EnvelopeReceiver::RefuseAll(JudgedBatch& batch, const std::vector<size_t>& indexes, absl::string_view why) {
  for (size_t i : indexes) {
    batch.responses_[i] = Refusal(batch.record_ids_[i], why);
    batch.to_sign_[i] = false;
    batch.fates_[i].outcome = absl::StrCat("refused: ", why);
    batch.fates_[i].reason.reset();  // Not final: the sender retries.
  }
}

void EnvelopeReceiver::Account(const JudgedBatch& batch) const {
  const std::string duration_ms = absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - batch.now_));
  LogBatch lines;
  for (size_t i = 0; i < batch.size(); ++i) {
    const JudgedBatch::Fate& fate = batch.fates_[i];
    if (fate.outcome == "accepted") metrics::Default().Received(fate.type);
    if (fate.reason.has_value()) metrics::Default().Rejected(metrics::RejectStage::kInbound, *fate.reason);
    lines.Add(LogLevel::kInfo, "record.received",
              {{"record_id", batch.record_ids_[i]},
               {"record_type", RecordTypeName(fate.type)},
               {"caller", peer_spiffe_id_},
               {"outcome", fate.outcome},
               {"duration_ms", duration_ms}});
  }
}

v1::DeliverResponse EnvelopeReceiver::Receive(const v1::Envelope& envelope) {
  return std::move(ReceiveBatch({&envelope}).front());
}

std::vector<v1::DeliverResponse> EnvelopeReceiver::ReceiveBatch(const std::vector<const v1::Envelope*>& envelopes) {
  return Commit(Judge(envelopes));
}

JudgedBatch EnvelopeReceiver::Judge(const std::vector<const v1::Envelope*>& envelopes) const {
  JudgedBatch batch;
  batch.now_ = absl::Now();
  batch.policy_ = policy_->Get();
  const absl::Time now = batch.now_;
  const policy::CompiledPolicy& policy = *batch.policy_;
  batch.responses_.resize(envelopes.size());
  batch.to_sign_.assign(envelopes.size(), false);
  batch.record_ids_.resize(envelopes.size());
  batch.fates_.resize(envelopes.size());

  for (size_t i = 0; i < envelopes.size(); ++i) {
    const v1::Envelope& envelope = *envelopes[i];
    std::string digest = Sha256(envelope.payload());
    v1::EnvelopeHeader header;
    // Record ids are the origin's UUIDv7s: anything else is not echoed into
    // a signed receipt.
    const bool parsed = header.ParseFromString(envelope.header()) && IsUuidV7(header.record_id());
    if (!parsed) header.clear_record_id();
    batch.record_ids_[i] = header.record_id();
    batch.fates_[i].type = header.record_type();

    // Before anything else: is this envelope what the peer signed? A record
    // that fails here is answered with a rejected receipt and audited (in
    // Commit), but nothing is stored under its record id: bytes the peer
    // did not sign must not decide what that id means.
    std::string unverified;
    std::string signer;
    if (!parsed) {
      unverified = "malformed envelope header (or its record_id is not a UUIDv7)";
    } else if (FromTimestamp(header.accepted_time()) > now + kMaxClockSkew) {
      unverified = "the envelope's accepted_time lies in the future (beyond the allowed clock skew)";
    } else if (absl::StatusOr<proof::Verifier::Verified> verified =
                   verifier_->Verify(proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), peer_spiffe_id_,
                                     FromTimestamp(header.accepted_time()));
               !verified.ok()) {
      unverified = absl::StrCat("bad signature: ", verified.status().message());
    } else {
      signer = verified->signer_spiffe_id;
      if (header.payload_digest() != digest) unverified = "the payload does not match the signed header's digest";
    }
    if (!unverified.empty()) {
      batch.fates_[i].outcome = "rejected: unverified envelope";
      batch.fates_[i].reason = metrics::RejectReason::kSignature;
      batch.unverified_.push_back({i, std::move(unverified), std::move(signer), std::move(digest)});
      continue;
    }

    v1::Record record;
    std::string reason = JudgeRecord(header, envelope, jurisdiction_, validation_, &record);
    if (!reason.empty()) {
      batch.fates_[i].reason = metrics::RejectReason::kInvalid;
    } else if (absl::Status verdict = policy.Apply(policy::Direction::kInbound, &record); !verdict.ok()) {
      reason = std::string(verdict.message());
      batch.fates_[i].reason = metrics::RejectReason::kPolicy;
    }
    const bool accepted = reason.empty();
    batch.fates_[i].outcome = accepted ? "accepted" : "rejected";
    batch.responses_[i].mutable_receipt()->set_header(
        SerializeDeterministic(ReceiptHeaderFor(header.record_id(), digest, accepted, reason, now, policy.version())));
    batch.to_sign_[i] = true;

    store::InboundCommit commit;
    commit.record_id = header.record_id();
    commit.origin = header.origin();
    commit.record_type = header.record_type();
    commit.payload_digest = std::move(digest);
    commit.accepted = accepted;
    // The inbox keeps the record as the inbound policy left it.
    if (accepted) commit.record = SerializeDeterministic(record);
    commit.received_time = now;
    commit.envelope = SerializeDeterministic(envelope);
    commit.sender = std::move(signer);
    commit.reason = std::move(reason);
    batch.commits_.push_back(std::move(commit));
    batch.committed_index_.push_back(i);
  }
  return batch;
}

std::vector<v1::DeliverResponse> EnvelopeReceiver::Commit(JudgedBatch batch) {
  if (batch.size() == 0) return {};  // Nothing judged (or a batch moved from).
  const absl::Time now = batch.now_;
  const std::string& policy_version = batch.policy_->version();
  std::vector<v1::DeliverResponse>& responses = batch.responses_;

  // The unverified envelopes, now that every batch before this one is
  // stored: a record id already judged keeps its one signed verdict, so
  // unsigned bytes never get us to sign a receipt that contradicts it. An
  // unverified copy of a record verified in this same batch gets that
  // record's answer, once it is stored.
  struct SameBatch {
    size_t index;  // Of the unverified copy.
    size_t k;      // Of the verified record's commit.
  };
  std::vector<SameBatch> same_batch;
  absl::flat_hash_map<absl::string_view, size_t> committed_ids;
  if (!batch.unverified_.empty()) {
    for (size_t k = 0; k < batch.commits_.size(); ++k) committed_ids.emplace(batch.commits_[k].record_id, k);
  }
  for (const JudgedBatch::Unverified& bad : batch.unverified_) {
    const std::string& record_id = batch.record_ids_[bad.index];
    Log(LogLevel::kWarning, "peer.envelope_rejected", {{"record_id", record_id}, {"reason", bad.reason}});
    store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_INBOUND_REJECT, record_id, bad.signer, bad.digest, bad.reason});
    if (auto same = committed_ids.find(record_id); !record_id.empty() && same != committed_ids.end()) {
      same_batch.push_back({bad.index, same->second});
      batch.fates_[bad.index].outcome =
          "answered with the receipt of the same record in its batch (an unverified copy)";
      batch.fates_[bad.index].reason.reset();
      continue;
    }
    if (!record_id.empty()) {
      absl::StatusOr<std::string> stored = store_->GetInboundReceipt(record_id);
      v1::Receipt original;
      if (stored.ok() && original.ParseFromString(*stored)) {
        *responses[bad.index].mutable_receipt() = std::move(original);
        // Audited as what it was, but not a rejection of the record: its
        // verdict stands.
        batch.fates_[bad.index].outcome = "answered with the stored receipt (an unverified copy)";
        batch.fates_[bad.index].reason.reset();
        continue;
      }
      if (!stored.ok() && !absl::IsNotFound(stored.status())) {
        RefuseAll(batch, {bad.index}, "cannot read the store now");
        continue;
      }
    }
    responses[bad.index].mutable_receipt()->set_header(
        SerializeDeterministic(ReceiptHeaderFor(record_id, bad.digest, false, bad.reason, now, policy_version)));
    batch.to_sign_[bad.index] = true;
  }

  // One signature for every receipt of the batch, in the envelopes' order;
  // one commit for every record.
  std::vector<v1::Receipt*> to_sign;
  for (size_t i = 0; i < responses.size(); ++i) {
    if (batch.to_sign_[i]) to_sign.push_back(responses[i].mutable_receipt());
  }
  if (absl::Status signed_all = Sign(to_sign); !signed_all.ok()) {
    Log(LogLevel::kError, "peer.cannot_sign_receipts", {{"error", std::string(signed_all.message())}});
    std::vector<size_t> all(responses.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    RefuseAll(batch, all, "cannot sign receipts now");
    Account(batch);
    return std::move(responses);
  }
  std::vector<store::InboundCommit>& commits = batch.commits_;
  const std::vector<size_t>& committed_index = batch.committed_index_;
  for (size_t k = 0; k < commits.size(); ++k)
    commits[k].receipt = SerializeDeterministic(responses[committed_index[k]].receipt());
  absl::StatusOr<std::vector<store::InboundOutcome>> outcomes = store_->CommitInboundBatch(commits);
  if (!outcomes.ok()) {
    // Cannot store now (disk full, store unavailable): nothing of the batch
    // was stored; the sender keeps the envelopes and sends them again.
    const std::string why = absl::StrCat("cannot store now: ", absl::StatusCodeToString(outcomes.status().code()));
    Log(LogLevel::kError, "peer.cannot_store",
        {{"records", absl::StrCat(commits.size())}, {"error", std::string(outcomes.status().message())}});
    RefuseAll(batch, committed_index, why);
    for (const SameBatch& copy : same_batch) RefuseAll(batch, {copy.index}, why);
    Account(batch);
    return std::move(responses);
  }
  IICC_FAULT_POINT("receiver.after_commit");
  int64_t high_water = 0;
  std::vector<v1::Receipt*> conflicts;
  for (size_t k = 0; k < commits.size(); ++k) {
    const store::InboundOutcome& outcome = (*outcomes)[k];
    v1::DeliverResponse& response = responses[committed_index[k]];
    JudgedBatch::Fate& fate = batch.fates_[committed_index[k]];
    switch (outcome.kind) {
      case store::InboundOutcome::Kind::kCommitted:
        if (commits[k].accepted) high_water = std::max(high_water, outcome.sequence);
        break;
      case store::InboundOutcome::Kind::kDuplicate: {
        fate.outcome = "duplicate";
        fate.reason.reset();  // Counted when it was first judged.
        v1::Receipt original;
        if (original.ParseFromString(outcome.receipt)) *response.mutable_receipt() = std::move(original);
        break;  // Else (a corrupt store) the new receipt is answered.
      }
      case store::InboundOutcome::Kind::kConflict:
        fate.outcome = "rejected: record_id reused with another payload";
        fate.reason = metrics::RejectReason::kConflict;
        response.mutable_receipt()->set_header(SerializeDeterministic(
            ReceiptHeaderFor(commits[k].record_id, commits[k].payload_digest, false,
                             "record_id already received with a different payload", now, policy_version)));
        conflicts.push_back(response.mutable_receipt());
        break;
    }
  }
  if (high_water > 0) inbox_->Publish(high_water);
  if (!Sign(conflicts).ok()) {
    for (size_t k = 0; k < commits.size(); ++k) {
      if ((*outcomes)[k].kind == store::InboundOutcome::Kind::kConflict) {
        RefuseAll(batch, {committed_index[k]}, "cannot sign a receipt now");
      }
    }
  }
  // The verified record's final answer: its receipt (new, stored before, or
  // a conflict's), or its refusal.
  for (const SameBatch& copy : same_batch) responses[copy.index] = responses[committed_index[copy.k]];
  Account(batch);
  return std::move(responses);
}

}  // namespace iicc::exchange
