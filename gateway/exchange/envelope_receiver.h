// The receiving side of the link, free of gRPC: checks an envelope, drops
// duplicates, commits the record with its receipt, and answers.
#ifndef IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_
#define IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/store/store.h"
#include "gateway/validation/record_validator.h"
#include "iicc/v1/peer_exchange.pb.h"

namespace iicc::exchange {

// How long a sender should wait after a retryable refusal.
inline constexpr absl::Duration kRetryAfter = absl::Seconds(1);

// How far the two gateways' clocks may disagree. A signer chooses the time
// its certificate chain is checked at (its header's time); that time may
// not lie further in the future than this, so an expired or not yet valid
// certificate cannot be made to pass by dating the signature ahead.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// Thread-safe. Does not own its dependencies.
class EnvelopeReceiver {
 public:
  // `inbox` is published with the new inbox sequence after each commit;
  // `policy` decides what of a record enters. Envelopes must be signed by
  // `peer_spiffe_id` under a CA `verifier` trusts; `signer` signs receipts.
  EnvelopeReceiver(v1::Jurisdiction jurisdiction, store::Store* store, const policy::ActivePolicy* policy,
                   const proof::Signer* signer, const proof::Verifier* verifier, std::string peer_spiffe_id,
                   SequenceNotifier* inbox, validation::ValidationOptions validation = {});

  // The answer to one envelope: a signed receipt, or a retryable refusal
  // when it cannot be stored (or a receipt cannot be signed) now.
  //
  // The origin's signature is checked first. A malformed header (its
  // record_id not a UUIDv7), an accepted_time more than kMaxClockSkew ahead,
  // a bad signature or a payload that does not match the signed digest gets
  // a rejected receipt and an audit entry, and nothing is stored under the
  // record id; if that id was judged before, its stored receipt is answered
  // instead, so that no signed verdict contradicts another. A verified envelope whose record is invalid or refused by
  // the inbound policy gets a rejected receipt that is stored (the same bytes always get the same answer); the receipt
  // carries the inbound policy version. An accepted receipt is answered only after the record is durable, and the inbox
  // keeps the record after the inbound policy. The same record_id with the same payload gets the original receipt
  // again; with another payload, a rejected receipt, an audit entry, and the stored record stays.
  v1::DeliverResponse Receive(const v1::Envelope& envelope);

  // Receive for envelopes that arrived together on one stream, answered in
  // order: their receipts share one signature (a Merkle batch) and their
  // records one commit (all stored, or none and every one refused for a
  // retry). Inbox sequences follow the envelopes' order.
  std::vector<v1::DeliverResponse> ReceiveBatch(const std::vector<const v1::Envelope*>& envelopes);

 private:
  v1::ReceiptHeader ReceiptHeaderFor(const std::string& record_id, const std::string& payload_digest, bool accepted,
                                     const std::string& reason, absl::Time now,
                                     const std::string& policy_version) const;
  // Signs `receipts` (their headers set) as one batch.
  absl::Status Sign(const std::vector<v1::Receipt*>& receipts) const;
  // A retryable refusal: the sender keeps the envelope and resends it.
  static v1::DeliverResponse Refuse(const std::string& record_id, absl::string_view why);

  const v1::Jurisdiction jurisdiction_;
  store::Store* const store_;
  const policy::ActivePolicy* const policy_;
  const proof::Signer* const signer_;
  const proof::Verifier* const verifier_;
  const std::string peer_spiffe_id_;
  SequenceNotifier* const inbox_;
  const validation::ValidationOptions validation_;
};

}  // namespace iicc::exchange

#endif  // IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_
