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
  const absl::Time start = absl::Now();
  const v1::RecordType type = RecordTypeOf(request->record());
  Verdict verdict;
  absl::StatusOr<v1::SubmitResponse> response = Accept(identity, request, method, &verdict);
  std::string outcome;
  if (response.ok()) {
    outcome = verdict.replay ? "replayed" : "queued";
    if (!verdict.replay) metrics::Default().Submitted(type);
  } else {
    outcome = absl::StrCat("refused: ", absl::StatusCodeToString(response.status().code()));
    if (verdict.reason.has_value()) metrics::Default().Rejected(metrics::RejectStage::kSubmit, *verdict.reason);
  }
  // The request_id is the caller's text: it is not logged.
  Log(LogLevel::kInfo, "record.submitted",
      {{"record_id", response.ok() ? response->record_id() : ""},
       {"record_type", RecordTypeName(type)},
       {"caller", identity},
       {"outcome", outcome},
       {"duration_ms", absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start))}});
  return response;
}

absl::StatusOr<v1::SubmitResponse> RecordAcceptor::Accept(absl::string_view identity, v1::SubmitRequest* request,
                                                          absl::string_view method, Verdict* outcome_out) {
  Verdict& result = *outcome_out;
  const v1::RecordType type = RecordTypeOf(request->record());
  // Authorize before validating, so that an unauthorized caller learns
  // nothing about the rules.
  if (type == v1::RECORD_TYPE_UNSPECIFIED ? !authorizer_->HasRole(identity, v1::ROLE_SUBMIT)
                                          : !authorizer_->Allows(identity, v1::ROLE_SUBMIT, type)) {
    const std::string what = absl::StrCat(identity, " may not submit ", RecordTypeName(type), " records");
    if (denials_ != nullptr) {
      denials_->Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, identity, absl::StrCat(method, ": ", what),
                       absl::Now());
    } else {
      store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, "", std::string(identity), "", what});
    }
    result.reason = metrics::RejectReason::kPermission;
    return absl::PermissionDeniedError(what);
  }
  if (std::vector<v1::FieldViolation> violations = validation::ValidateSubmitRequest(*request, validation_);
      !violations.empty()) {
    result.reason = metrics::RejectReason::kInvalid;
    return InvalidArgumentWithViolations(violations);
  }

  // Idempotency compares the record as submitted, so its bytes are taken
  // before the record changes. The payload is what travels: the record after
  // the outbound policy, serialized once; its digest is what the header (and
  // later the signature) covers.
  const std::string as_submitted = SerializeDeterministic(request->record());
  v1::Record* filtered = request->mutable_record();
  validation::NormalizeRecord(filtered);
  const std::shared_ptr<const policy::CompiledPolicy> policy = policy_->Get();
  if (absl::Status verdict = policy->Apply(policy::Direction::kOutbound, filtered); !verdict.ok()) {
    store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_OUTBOUND_DENY, "", std::string(identity), Sha256(as_submitted),
                               std::string(verdict.message())});
    result.reason = metrics::RejectReason::kPolicy;
    return verdict;
  }
  const absl::Time now = absl::Now();
  const std::string payload = SerializeDeterministic(*filtered);
  const std::string payload_digest = Sha256(payload);

  store::OutboundRecord record;
  record.record_id = NewUuidV7(now);
  record.record_type = type;
  record.submitter = std::string(identity);
  record.request_id = request->request_id();
  record.request_digest = Sha256(as_submitted);
  record.accepted_time = now;

  v1::EnvelopeHeader header;
  header.set_record_id(record.record_id);
  header.set_origin(jurisdiction_);
  header.set_destination(PeerOf(jurisdiction_));
  header.set_record_type(type);
  *header.mutable_accepted_time() = ToTimestamp(now);
  header.set_policy_version(policy->version());
  header.set_payload_digest(payload_digest);
  v1::Envelope envelope;
  envelope.set_header(SerializeDeterministic(header));
  // The signature covers the header, and through its digest the payload: a
  // batch of one here (the format allows larger ones).
  absl::StatusOr<std::vector<v1::BatchProof>> proof =
      signer_->SignBatch(proof::Purpose::kEnvelope, {envelope.header()});
  if (!proof.ok()) return proof.status();
  *envelope.mutable_proof() = std::move(proof->front());
  envelope.set_payload(payload);
  record.envelope = SerializeDeterministic(envelope);
  record.payload_digest = payload_digest;
  record.policy_version = policy->version();

  absl::StatusOr<store::AcceptOutcome> outcome = store_->AcceptOutbound(record);
  if (!outcome.ok()) {
    result.reason = metrics::RejectReason::kStore;
    return outcome.status();
  }
  switch (outcome->kind) {
    case store::AcceptOutcome::Kind::kConflict:
      result.reason = metrics::RejectReason::kConflict;
      return AlreadyExistsForRecord(outcome->record_id, absl::StrCat("request_id was already used for record ",
                                                                     outcome->record_id, " with different content"));
    case store::AcceptOutcome::Kind::kAccepted:
      outbox_->Bump();
      break;
    case store::AcceptOutcome::Kind::kReplay:
      result.replay = true;
      break;
  }
  v1::SubmitResponse response;
  response.set_request_id(request->request_id());
  response.set_record_id(outcome->record_id);
  response.set_state(v1::DELIVERY_STATE_QUEUED);
  return response;
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
