// gRPC service iicc.v1.PeerExchange (callback API): the peer face's Deliver
// stream. Envelopes are judged one after another, in arrival order, on the
// worker pool; receipts go back in the same order.
#ifndef IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_
#define IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "gateway/common/thread_pool.h"
#include "gateway/exchange/envelope_receiver.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"

namespace iicc::exchange {

// Initial metadata the receiver sends as soon as it accepts a Deliver stream.
inline constexpr char kReceiverMetadataKey[] = "iicc-receiver";

// Does not own its dependencies; they must outlive the server.
class PeerService final : public v1::PeerExchange::CallbackService {
 public:
  // Only `peer_spiffe_id` may call (the handshake already pins it; checked
  // again here).
  PeerService(std::string peer_spiffe_id, EnvelopeReceiver* receiver, ThreadPool* workers);

  grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>* Deliver(
      grpc::CallbackServerContext* context) override;

  // For a graceful shutdown: every open stream stops reading, answers what
  // it has read, and ends with UNAVAILABLE (the sender resends anything
  // unanswered); new streams are refused the same way. Without it an idle
  // peer stream would hold Server::Shutdown until its deadline.
  void Close();

 private:
  class DeliverReactor;
  friend class DeliverReactor;

  const std::string peer_spiffe_id_;
  EnvelopeReceiver* const receiver_;
  ThreadPool* const workers_;

  absl::Mutex mu_;
  absl::flat_hash_set<DeliverReactor*> live_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace iicc::exchange

#endif  // IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_
