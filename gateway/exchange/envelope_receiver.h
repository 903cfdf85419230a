// The receiving side of the link, free of gRPC: checks an envelope, drops
// duplicates, commits the record with its receipt, and answers.
#ifndef IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_
#define IICC_GATEWAY_EXCHANGE_ENVELOPE_RECEIVER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/metrics/metrics.h"
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

// A batch of envelopes judged and not yet stored: EnvelopeReceiver::Judge()
// makes one, EnvelopeReceiver::Commit() stores and answers it. Opaque;
// movable. It holds its own copies of everything it needs (not the
// envelopes).
class JudgedBatch {
 public:
  JudgedBatch(JudgedBatch&&) = default;
  JudgedBatch& operator=(JudgedBatch&&) = default;
  ~JudgedBatch();

  // The envelopes judged.
  size_t size() const { return responses_.size(); }

 private:
  friend class EnvelopeReceiver;
  JudgedBatch();

  // What became of one envelope, for the metrics and its log line.
  struct Fate {
    v1::RecordType type = v1::RECORD_TYPE_UNSPECIFIED;
    std::string outcome;                          // "accepted", "rejected: ...", "duplicate", "refused: ..."
    std::optional<metrics::RejectReason> reason;  // Counted once the rejection is final.
  };
  // An envelope that is not what the peer signed: audited, and answered in
  // Commit() (with the receipt stored under its record id, if there is one).
  struct Unverified {
    size_t index;
    std::string reason;
    std::string signer;  // Empty unless the signature verified.
    std::string digest;  // Of the payload as received.
  };

  absl::Time now_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::vector<v1::DeliverResponse> responses_;  // One per envelope, in order.
  std::vector<bool> to_sign_;                   // responses_[i]'s receipt is new: signed in the batch.
  std::vector<store::InboundCommit> commits_;   // What to store, in order.
  std::vector<size_t> committed_index_;         // commits_[k] answers envelope committed_index_[k].
  std::vector<Unverified> unverified_;
  std::vector<std::string> record_ids_;
  std::vector<Fate> fates_;
};

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

  // ReceiveBatch() in two halves, so that a stream can judge its next batch
  // while the last one is stored: Judge() checks the envelopes' signatures,
  // records and the inbound policy, and touches no store; Commit() signs the
  // receipts, stores the batch and answers it. ReceiveBatch(e) is
  // Commit(Judge(e)). A stream commits its batches in the order it judged
  // them; a batch judged but never committed was neither stored nor
  // answered.
  JudgedBatch Judge(const std::vector<const v1::Envelope*>& envelopes) const;
  std::vector<v1::DeliverResponse> Commit(JudgedBatch batch);

 private:
  v1::ReceiptHeader ReceiptHeaderFor(const std::string& record_id, const std::string& payload_digest, bool accepted,
                                     const std::string& reason, absl::Time now,
                                     const std::string& policy_version) const;
  // Signs `receipts` (their headers set) as one batch.
  absl::Status Sign(const std::vector<v1::Receipt*>& receipts) const;
  // Refuses the envelopes at `indexes` of `batch`, for a retry.
  static void RefuseAll(JudgedBatch& batch, const std::vector<size_t>& indexes, absl::string_view why);
  // Counts the batch's fates and logs one line per envelope.
  void Account(const JudgedBatch& batch) const;

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
