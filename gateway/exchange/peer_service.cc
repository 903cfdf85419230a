#include "gateway/exchange/peer_service.h"

#include <optional>

#include "gateway/security/tls.h"

namespace iicc::exchange {
namespace {

class DeliverReactor final : public grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse> {
 public:
  DeliverReactor(EnvelopeReceiver* receiver, ThreadPool* workers) : receiver_(receiver), workers_(workers) {
    // Tells the sender at once that the stream is accepted: its link is up
    // before the first envelope.
    StartSendInitialMetadata();
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    workers_->Schedule([this] {
      response_ = receiver_->Receive(request_.envelope());
      StartWrite(&response_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the link broke while answering"));
      return;
    }
    if (response_.has_refusal()) {
      // Judge nothing after a refused envelope on this stream: the sender
      // resends from it, and storing what follows first would break the
      // link's order.
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot store now; resend from the refused envelope"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  EnvelopeReceiver* const receiver_;
  ThreadPool* const workers_;
  v1::DeliverRequest request_;
  v1::DeliverResponse response_;
};

class Refuse final : public grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse> {
 public:
  explicit Refuse(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

PeerService::PeerService(std::string peer_spiffe_id, EnvelopeReceiver* receiver, ThreadPool* workers)
    : peer_spiffe_id_(std::move(peer_spiffe_id)), receiver_(receiver), workers_(workers) {}

grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>* PeerService::Deliver(
    grpc::CallbackServerContext* context) {
  const std::optional<std::string> caller = security::PeerSpiffeId(*context->auth_context());
  if (caller != peer_spiffe_id_) {
    return new Refuse(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "only the configured peer may deliver"));
  }
  context->AddInitialMetadata(kReceiverMetadataKey, "ready");
  return new DeliverReactor(receiver_, workers_);
}

}  // namespace iicc::exchange
