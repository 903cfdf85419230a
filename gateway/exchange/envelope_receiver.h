// The receiving side of the link, free of gRPC: checks an envelope, drops
// duplicates, commits the record with its receipt, and answers.
#ifndef IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_
#define IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_

#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/store/store.h"
#include "gateway/validation/record_validator.h"
#include "iicc/v1/peer_exchange.pb.h"

namespace iicc::exchange {

// How long a sender should wait after a retryable refusal.
inline constexpr absl::Duration kRetryAfter = absl::Seconds(1);

// Thread-safe. Does not own its dependencies.
class EnvelopeReceiver {
 public:
  // `inbox` is published with the new inbox sequence after each commit;
  // `policy` decides what of a record enters.
  EnvelopeReceiver(v1::Jurisdiction jurisdiction, store::Store* store, const policy::ActivePolicy* policy,
                   SequenceNotifier* inbox, validation::ValidationOptions validation = {});

  // The answer to one envelope: a receipt (accepted, or rejected for good
  // with a reason: malformed, invalid, or refused by the inbound policy,
  // whose version the receipt carries), or a retryable refusal when it
  // cannot be stored now. The inbox keeps the record after the inbound
  // policy.
  // An accepted receipt is answered only after the record is durable. The
  // same record_id with the same payload gets the original receipt again;
  // with another payload, a rejected receipt and the stored record stays.
  v1::DeliverResponse Receive(const v1::Envelope& envelope);

 private:
  const v1::Jurisdiction jurisdiction_;
  store::Store* const store_;
  const policy::ActivePolicy* const policy_;
  SequenceNotifier* const inbox_;
  const validation::ValidationOptions validation_;
};

}  // namespace iicc::exchange

#endif  // IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_
