// gRPC service iicc.v1.PeerExchange (callback API): the peer face's Deliver
// stream. Envelopes are judged one after another, in arrival order, on the
// worker pool; receipts go back in the same order.
#ifndef IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_
#define IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_

#include <cstddef>
#include <map>
#include <string>

#include <grpcpp/support/string_ref.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "gateway/common/thread_pool.h"
#include "gateway/exchange/envelope_receiver.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"

namespace iicc::exchange {

// Initial metadata the receiver sends as soon as it accepts a Deliver stream.
inline constexpr char kReceiverMetadataKey[] = "iicc-receiver";

// Batched frames (docs/contract.md#frames). A side that reads frames of
// several envelopes (the receiver, in its initial metadata) or of several
// receipts (the sender, in its request metadata) says so with this key; its
// value is the largest frame, in bytes, it reads. A side that did not say so
// gets one envelope or one answer per frame.
inline constexpr char kFrameBytesMetadataKey[] = "iicc-frame-bytes";

// The largest frame either side builds, whatever the other announced: a
// batch of 256 typical envelopes or receipts is well under it, and a frame
// this size is still written, read and parsed quickly. The sender announces
// this size for its answers (under gRPC's default 4 MiB receive limit of its
// channel).
inline constexpr size_t kMaxFrameBytes = size_t{1} << 20;

// The most envelopes or receipts one frame carries. A receiver ends a stream
// whose frame carries more with INVALID_ARGUMENT: a frame of many empty
// envelopes is small on the wire but not in memory.
inline constexpr int kMaxFrameItems = 256;

// The frame size the other side announced in `metadata` (capped at
// kMaxFrameBytes), or 0 if it announced none: then one item per frame.
size_t AnnouncedFrameBytes(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

// Whether `request`'s single `envelope` field is one of its envelopes (the
// first): when it is set, or when `envelopes` is empty (a frame of one
// envelope, empty or not). Its envelopes are that one, then `envelopes`.
inline bool HasSingleEnvelope(const v1::DeliverRequest& request) {
  return request.has_envelope() || request.envelopes().empty();
}

// The bytes an item of `item_bytes` adds to a frame: its field's tag and
// length prefix, counted generously.
inline size_t FramedBytes(size_t item_bytes) { return item_bytes + 16; }

// Does not own its dependencies; they must outlive the server.
class PeerService final : public v1::PeerExchange::CallbackService {
 public:
  // Only `peer_spiffe_id` may call (the handshake already pins it; checked
  // again here). `max_frame_bytes` is the largest message the peer face
  // receives: the frames of several envelopes it announces it reads.
  PeerService(std::string peer_spiffe_id, EnvelopeReceiver* receiver, ThreadPool* workers, size_t max_frame_bytes);

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
  const size_t max_frame_bytes_;

  absl::Mutex mu_;
  absl::flat_hash_set<DeliverReactor*> live_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace iicc::exchange

#endif  // IICC_GATEWAY_EXCHANGE_PEER_SERVICE_H_
