#include "gateway/ministry/record_acceptor.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/errors.h"
#include "gateway/common/log.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/records.h"
#include "gateway/common/uuid.h"
#include "gateway/store/audit.h"
#include "gateway/validation/record_validator.h"
#include "iicc/v1/peer_exchange.pb.h"

namespace iicc::ministry {
RecordAcceptor::RecordAcceptor(v1::Jurisdiction jurisdiction, store::Store* store,
                               const security::Authorizer* authorizer, const policy::ActivePolicy* policy,
                               const proof::Signer* signer, SequenceNotifier* outbox,
                               validation::ValidationOptions validation, DenialAuditor* denials)
    : jurisdiction_(jurisdiction),
      store_(store),
      authorizer_(authorizer),
      policy_(policy),
      signer_(signer),
      outbox_(outbox),
      validation_(std::move(validation)),
      denials_(denials) {}

absl::StatusOr<v1::SubmitResponse> RecordAcceptor::Submit(absl::string_view identity, v1::SubmitRequest* request,
                                                          absl::string_view method) {
  return std::move(SubmitBatch({Submission{identity, request, method}}).front());
}

std::vector<absl::StatusOr<v1::SubmitResponse>> RecordAcceptor::SubmitBatch(const std::vector<Submission>& batch) {
  const absl::Time start = absl::Now();
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(batch.size(), absl::InternalError("not judged"));
  std::vector<Verdict> verdicts(batch.size());
  std::vector<v1::RecordType> types(batch.size());
  const std::shared_ptr<const policy::CompiledPolicy> policy = policy_->Get();

  std::vector<Prepared> prepared;
  prepared.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    types[i] = RecordTypeOf(batch[i].request->record());
    Prepared one;
    one.index = i;
    if (absl::Status checked = Prepare(batch[i], *policy, &verdicts[i], &one); !checked.ok()) {
      results[i] = std::move(checked);
    } else {
      prepared.push_back(std::move(one));
    }
  }

  // One signature over every header of the batch; each envelope carries its
  // own inclusion proof.
  auto fail_prepared = [&](const absl::Status& status, std::optional<metrics::RejectReason> reason) {
    for (const Prepared& one : prepared) {
      results[one.index] = status;
      verdicts[one.index].reason = reason;
    }
  };
  if (!prepared.empty()) {
    std::vector<std::string> headers;
    headers.reserve(prepared.size());
    for (const Prepared& one : prepared) headers.push_back(one.envelope.header());
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer_->SignBatch(proof::Purpose::kEnvelope, headers);
    if (!proofs.ok()) {
      fail_prepared(proofs.status(), std::nullopt);
    } else {
      std::vector<store::OutboundRecord> records;
      records.reserve(prepared.size());
      for (size_t k = 0; k < prepared.size(); ++k) {
        *prepared[k].envelope.mutable_proof() = std::move((*proofs)[k]);
        prepared[k].record.envelope = SerializeDeterministic(prepared[k].envelope);
        records.push_back(std::move(prepared[k].record));
      }
      absl::StatusOr<std::vector<store::AcceptOutcome>> outcomes = store_->AcceptOutboundBatch(records);
      if (!outcomes.ok()) {
        fail_prepared(outcomes.status(), metrics::RejectReason::kStore);
      } else {
        bool accepted = false;
        for (size_t k = 0; k < prepared.size(); ++k) {
          const size_t i = prepared[k].index;
          const store::AcceptOutcome& outcome = (*outcomes)[k];
          switch (outcome.kind) {
            case store::AcceptOutcome::Kind::kConflict:
              verdicts[i].reason = metrics::RejectReason::kConflict;
              results[i] =
                  AlreadyExistsForRecord(outcome.record_id, absl::StrCat("request_id was already used for record ",
                                                                         outcome.record_id, " with different content"));
              continue;
            case store::AcceptOutcome::Kind::kAccepted:
              accepted = true;
              break;
            case store::AcceptOutcome::Kind::kReplay:
              verdicts[i].replay = true;
              break;
          }
          v1::SubmitResponse response;
          response.set_request_id(batch[i].request->request_id());
          response.set_record_id(outcome.record_id);
          response.set_state(v1::DELIVERY_STATE_QUEUED);
          results[i] = std::move(response);
        }
        if (accepted) outbox_->Bump();
      }
    }
  }

  const std::string duration_ms = absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start));
  LogBatch lines;
  for (size_t i = 0; i < batch.size(); ++i) {
    const absl::StatusOr<v1::SubmitResponse>& response = results[i];
    std::string outcome;
    if (response.ok()) {
      outcome = verdicts[i].replay ? "replayed" : "queued";
      if (!verdicts[i].replay) metrics::Default().Submitted(types[i]);
    } else {
      outcome = absl::StrCat("refused: ", absl::StatusCodeToString(response.status().code()));
      if (verdicts[i].reason.has_value())
        metrics::Default().Rejected(metrics::RejectStage::kSubmit, *verdicts[i].reason);
    }
    // The request_id is the caller's text: it is not logged.
    lines.Add(LogLevel::kInfo, "record.submitted",
              {{"record_id", response.ok() ? response->record_id() : ""},
               {"record_type", RecordTypeName(types[i])},
               {"caller", batch[i].identity},
               {"outcome", outcome},
               {"duration_ms", duration_ms}});
  }
  return results;
}

absl::Status RecordAcceptor::Prepare(const Submission& submission, const policy::CompiledPolicy& policy,
                                     Verdict* verdict, Prepared* prepared) {
  const absl::string_view identity = submission.identity;
  v1::SubmitRequest* request = submission.request;
  const v1::RecordType type = RecordTypeOf(request->record());
  // Authorize before validating, so that an unauthorized caller learns
  // nothing about the rules.
  if (type == v1::RECORD_TYPE_UNSPECIFIED ? !authorizer_->HasRole(identity, v1::ROLE_SUBMIT)
                                          : !authorizer_->Allows(identity, v1::ROLE_SUBMIT, type)) {
    const std::string what = absl::StrCat(identity, " may not submit ", RecordTypeName(type), " records");
    if (denials_ != nullptr) {
      denials_->Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, identity,
                       absl::StrCat(submission.method, ": ", what), absl::Now());
    } else {
      store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, "", std::string(identity), "", what});
    }
    verdict->reason = metrics::RejectReason::kPermission;
    return absl::PermissionDeniedError(what);
  }
  if (std::vector<v1::FieldViolation> violations = validation::ValidateSubmitRequest(*request, validation_);
      !violations.empty()) {
    verdict->reason = metrics::RejectReason::kInvalid;
    return InvalidArgumentWithViolations(violations);
  }

  // Idempotency compares the record as submitted, so its bytes are taken
  // before the record changes. The payload is what travels: the record after
  // the outbound policy, serialized once; its digest is what the header (and
  // later the signature) covers.
  const std::string as_submitted = SerializeDeterministic(request->record());
  v1::Record* filtered = request->mutable_record();
  validation::NormalizeRecord(filtered);
  if (absl::Status refused = policy.Apply(policy::Direction::kOutbound, filtered); !refused.ok()) {
    store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_OUTBOUND_DENY, "", std::string(identity), Sha256(as_submitted),
                               std::string(refused.message())});
    verdict->reason = metrics::RejectReason::kPolicy;
    return refused;
  }
  const absl::Time now = absl::Now();
  store::OutboundRecord& record = prepared->record;
  v1::Envelope& envelope = prepared->envelope;
  envelope.set_payload(SerializeDeterministic(*filtered));
  record.payload_digest = Sha256(envelope.payload());
  record.record_id = NewUuidV7(now);
  record.record_type = type;
  record.submitter = std::string(identity);
  record.request_id = request->request_id();
  record.request_digest = Sha256(as_submitted);
  record.accepted_time = now;
  record.policy_version = policy.version();

  v1::EnvelopeHeader header;
  header.set_record_id(record.record_id);
  header.set_origin(jurisdiction_);
  header.set_destination(PeerOf(jurisdiction_));
  header.set_record_type(type);
  *header.mutable_accepted_time() = ToTimestamp(now);
  header.set_policy_version(policy.version());
  header.set_payload_digest(record.payload_digest);
  envelope.set_header(SerializeDeterministic(header));
  return absl::OkStatus();
}

absl::StatusOr<v1::RecordStatus> RecordAcceptor::GetStatus(absl::string_view identity, absl::string_view record_id) {
  if (!IsUuidV7(record_id)) {
    v1::FieldViolation violation;
    violation.set_field("record_id");
    violation.set_description("not a record id (a lower-case UUIDv7)");
    return InvalidArgumentWithViolations({violation});
  }
  absl::StatusOr<store::OutboundStatus> status = store_->GetOutboundStatus(record_id);
  // A record the caller may not see is indistinguishable from a missing one.
  if (!status.ok() ||
      (status->submitter != identity && !authorizer_->Allows(identity, v1::ROLE_STATUS, status->record_type))) {
    if (status.ok() || absl::IsNotFound(status.status())) {
      return absl::NotFoundError(absl::StrCat("no record ", record_id, " for this identity"));
    }
    return status.status();
  }
  v1::RecordStatus out;
  out.set_record_id(status->record_id);
  out.set_record_type(status->record_type);
  out.set_state(status->state);
  out.set_reason(status->reason);
  if (!status->receipt.empty() && !out.mutable_receipt()->ParseFromString(status->receipt)) {
    return absl::DataLossError(absl::StrCat("stored receipt of record ", record_id, " does not parse"));
  }
  *out.mutable_accepted_time() = ToTimestamp(status->accepted_time);
  if (status->delivered_time.has_value()) *out.mutable_delivered_time() = ToTimestamp(*status->delivered_time);
  return out;
}

}  // namespace iicc::ministry
