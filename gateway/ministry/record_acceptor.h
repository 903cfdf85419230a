// The ministry face's business logic, free of gRPC: authorize, validate,
// deduplicate and durably accept one submitted record; answer status queries.
// The service (ministry_service.h) only moves messages.
#ifndef IICC_GATEWAY_MINISTRY_RECORD_ACCEPTOR_H_
#define IICC_GATEWAY_MINISTRY_RECORD_ACCEPTOR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/metrics/metrics.h"
#include "gateway/ministry/denial_auditor.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/store.h"
#include "gateway/validation/record_validator.h"
#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc::ministry {

// Thread-safe. Does not own its dependencies, which must outlive it.
class RecordAcceptor {
 public:
  // `outbox` is bumped after each newly accepted record; `policy` decides
  // what of a record leaves.
  // `signer` signs each envelope. `denials` audits refusals for lack of a
  // role (throttled); when null, each is appended to `store` at once.
  RecordAcceptor(v1::Jurisdiction jurisdiction, store::Store* store, const security::Authorizer* authorizer,
                 const policy::ActivePolicy* policy, const proof::Signer* signer, SequenceNotifier* outbox,
                 validation::ValidationOptions validation = {}, DenialAuditor* denials = nullptr);

  // Accepts `request` from `identity`: authorizes, validates, applies the
  // outbound policy, and blocks until the filtered record is durable.
  // Errors: PERMISSION_DENIED (no submit role for the record's type),
  // INVALID_ARGUMENT (with every violation), FAILED_PRECONDITION (the
  // outbound policy refuses the record; the message gives the rule's
  // reason), ALREADY_EXISTS (the request_id named another record; see
  // RecordIdOf), or the store's error (RESOURCE_EXHAUSTED when the disk is
  // full).
  //
  // The request is the caller's to give up: its record is normalized and
  // filtered in place (what travels is made from it without a copy), so on
  // return `request->record()` holds what the policy let through, or is
  // unspecified after an error. The request_id is left as it was.
  //
  // Each call is counted in the metrics (metrics::Default()) and logged as
  // one "record.submitted" line: record id, type, caller, outcome, duration.
  // `method` ("Submit", "SubmitStream") names the call in audit entries.
  absl::StatusOr<v1::SubmitResponse> Submit(absl::string_view identity, v1::SubmitRequest* request,
                                            absl::string_view method = "Submit");

  // The same on a copy, for callers that keep their request.
  absl::StatusOr<v1::SubmitResponse> Submit(absl::string_view identity, const v1::SubmitRequest& request,
                                            absl::string_view method = "Submit") {
    v1::SubmitRequest copy = request;
    return Submit(identity, &copy, method);
  }

  // One record of a batch: its caller, the request (given up, as in
  // Submit) and the method it came by.
  struct Submission {
    absl::string_view identity;
    v1::SubmitRequest* request;
    absl::string_view method;
  };
  // Submit for each of `batch`, together: the records that pass the checks
  // share one envelope signature (a Merkle batch, docs/security.md) and one
  // commit. Each record gets its own answer, in order, exactly as Submit
  // would have given it; if the signature or the commit fails, every record
  // that reached it gets that error and none of them is stored. Records of
  // one batch are stored in batch order.
  std::vector<absl::StatusOr<v1::SubmitResponse>> SubmitBatch(const std::vector<Submission>& batch);

  // The status of `record_id` if `identity` submitted it or holds the status
  // role for its type; NOT_FOUND otherwise (whether or not it exists).
  absl::StatusOr<v1::RecordStatus> GetStatus(absl::string_view identity, absl::string_view record_id);

 private:
  // What Accept() found, for the metrics and the log line.
  struct Verdict {
    bool replay = false;                          // An earlier answer, repeated.
    std::optional<metrics::RejectReason> reason;  // Why the record was refused.
  };
  // A record that passed the checks, waiting for its signature and commit.
  struct Prepared {
    size_t index;  // In the batch.
    store::OutboundRecord record;
    v1::Envelope envelope;  // Its header, not yet signed, and payload.
  };
  // Authorizes, validates and filters one record, and builds its envelope
  // header: a refusal, or what the batch signs and stores.
  absl::Status Prepare(const Submission& submission, const policy::CompiledPolicy& policy, Verdict* verdict,
                       Prepared* prepared);

  const v1::Jurisdiction jurisdiction_;
  store::Store* const store_;
  const security::Authorizer* const authorizer_;
  const policy::ActivePolicy* const policy_;
  const proof::Signer* const signer_;
  SequenceNotifier* const outbox_;
  const validation::ValidationOptions validation_;
  DenialAuditor* const denials_;
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_RECORD_ACCEPTOR_H_
