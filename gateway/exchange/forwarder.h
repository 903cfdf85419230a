// The sending side of the link: drains the outbox to the peer's Deliver
// stream in acceptance order, with a window of envelopes in flight, and
// records each receipt. On any failure it reconnects with exponential backoff
// and jitter and resends everything not yet acknowledged (the receiver drops
// duplicates by record_id). A peer that stops answering (frozen, or its
// network gone silent) ends the session after options.receipt_timeout.
#ifndef IICC_GATEWAY_EXCHANGE_FORWARDER_H_
#define IICC_GATEWAY_EXCHANGE_FORWARDER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/store/store.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"

namespace iicc::exchange {

struct ForwarderOptions {
  // Envelopes in flight without a receipt.
  int window = 64;
  // Delay before the first reconnection; doubles per failure up to
  // `max_backoff`, with +-50% jitter.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  // How the peer is named in log lines (its address).
  std::string peer_name;
  // Who must have signed the peer's receipts.
  std::string peer_spiffe_id;
  // How long the peer may keep us waiting for its stream's headers, or for
  // the next receipt while envelopes are in flight, before the session ends
  // (DEADLINE_EXCEEDED) and the next one resends what is unanswered.
  absl::Duration receipt_timeout = absl::Seconds(30);
};

// Start() once, Stop() once (or let the destructor stop it). Thread-safe
// accessors. Does not own `store` or `outbox`.
class Forwarder {
 public:
  // `outbox` is bumped by whoever accepts new records. A receipt counts
  // only once `verifier` has checked its signature (by
  // options.peer_spiffe_id) and that it is for the envelope sent.
  Forwarder(ForwarderOptions options, store::Store* store, const proof::Verifier* verifier,
            std::shared_ptr<grpc::Channel> channel, SequenceNotifier* outbox);
  ~Forwarder();

  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  void Start();
  // Stops sending new envelopes, waits up to `grace` for the receipts of
  // those in flight (the delivery window), then cancels the stream and
  // joins the thread. Unacknowledged envelopes stay queued in the store.
  void Stop(absl::Duration grace = absl::ZeroDuration());

  // The link as /status shows it.
  struct LinkState {
    bool up = false;
    absl::Time since = absl::InfinitePast();          // Last change of `up` (InfinitePast: never up).
    absl::Time last_delivery = absl::InfinitePast();  // Last verified receipt (InfinitePast: none).
    std::string last_error;                           // Why it last went down or could not come up.
  };
  LinkState link_state() const;

 private:
  void Run();
  // One Deliver stream, until it fails or Stop(). Sets `connected` when the
  // receiver accepted the stream (the backoff starts again from its initial
  // value, unless `receipt_refused`: the session ended on a receipt that
  // failed CheckReceipt) and `retry_after` when the receiver asked for a
  // pause.
  absl::Status RunSession(bool* connected, bool* receipt_refused, absl::Duration* retry_after);
  // Checks the peer's receipt for the envelope sent for `record_id`, whose
  // header was `sent_header`: the outcome to record, or, for an unverifiable
  // receipt, an audit entry and UNAVAILABLE, which ends the session (the
  // record stays queued and is sent again).
  absl::StatusOr<store::Outcome> CheckReceipt(const std::string& record_id, const v1::EnvelopeHeader& sent_header,
                                              const v1::Receipt& receipt);
  // Counts and logs the outcomes just recorded.
  void Account(const std::vector<store::Outcome>& outcomes, const std::vector<v1::EnvelopeHeader>& sent_headers);
  // Updates the link state when the link goes up or down.
  void SetLinkUp(bool up, absl::string_view error);

  const ForwarderOptions options_;
  store::Store* const store_;
  const proof::Verifier* const verifier_;
  std::unique_ptr<v1::PeerExchange::Stub> stub_;
  SequenceNotifier* const outbox_;

  mutable absl::Mutex state_mu_;
  LinkState state_ ABSL_GUARDED_BY(state_mu_);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // Stop(): no new sends; end once nothing is in flight.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Run() has returned.
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace iicc::exchange

#endif  // IICC_GATEWAY_EXCHANGE_FORWARDER_H_
