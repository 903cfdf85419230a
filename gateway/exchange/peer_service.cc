#include "gateway/exchange/peer_service.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "gateway/security/tls.h"

namespace iicc::exchange {

namespace {

// The envelopes of `request`, in order, appended to `out` (moved out of it).
void TakeEnvelopes(v1::DeliverRequest& request, std::deque<v1::Envelope>& out) {
  if (HasSingleEnvelope(request)) out.push_back(std::move(*request.mutable_envelope()));
  for (v1::Envelope& envelope : *request.mutable_envelopes()) out.push_back(std::move(envelope));
}

// `answers` (one receipt or refusal each, in order; a refusal only last) as
// the frames to write: one answer per frame if `frame_bytes` is 0, else as
// few frames as fit in `frame_bytes` and kMaxFrameItems each (an answer
// larger than `frame_bytes` alone in its frame).
std::deque<v1::DeliverResponse> Frame(std::vector<v1::DeliverResponse>& answers, size_t frame_bytes) {
  std::deque<v1::DeliverResponse> out;
  if (frame_bytes == 0) {
    for (v1::DeliverResponse& answer : answers) out.push_back(std::move(answer));
    return out;
  }
  v1::DeliverResponse* frame = nullptr;
  size_t used = 0;
  for (v1::DeliverResponse& answer : answers) {
    const size_t bytes = FramedBytes(answer.ByteSizeLong());
    if (frame == nullptr || used + bytes > frame_bytes || frame->receipts_size() >= kMaxFrameItems) {
      frame = &out.emplace_back();
      used = 0;
    }
    used += bytes;
    if (answer.has_receipt()) {
      *frame->add_receipts() = std::move(*answer.mutable_receipt());
    } else {
      *frame->mutable_refusal() = std::move(*answer.mutable_refusal());
    }
  }
  return out;
}

// The envelopes `request` carries.
int EnvelopesIn(const v1::DeliverRequest& request) {
  return request.envelopes_size() + (HasSingleEnvelope(request) ? 1 : 0);
}

}  // namespace

// Reads envelopes as they come (the sender streams a window of them, one or
// several per frame) and takes whatever has arrived as one batch through
// two stages on the worker pool: judging (signatures, validation, policy)
// and committing (receipts signed, records stored). While one batch is
// committed the next is judged, more envelopes are read and the answers to
// the last batch are written. The envelopes of a batch share one signature
// on their receipts and one commit. Batches are committed in the order they
// were judged, and answers go out in the order the envelopes came, together
// in frames when the sender announced it reads them.
//
// gRPC allows one read and one write in flight at a time; everything else
// is guarded by mu_.
class PeerService::DeliverReactor final : public grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse> {
 public:
  // Registered with `service` (under its lock) until destroyed.
  // `answer_frame_bytes`: the sender's announced frame size, or 0.
  DeliverReactor(PeerService* service, EnvelopeReceiver* receiver, ThreadPool* workers, size_t answer_frame_bytes)
      : service_(service), receiver_(receiver), workers_(workers), answer_frame_bytes_(answer_frame_bytes) {
    // Tells the sender at once that the stream is accepted: its link is up
    // before the first envelope.
    StartSendInitialMetadata();
    absl::MutexLock lock(&mu_);
    reading_ = true;
    StartRead(&request_);
  }

  ~DeliverReactor() override {
    absl::MutexLock lock(&service_->mu_);
    service_->live_.erase(this);
  }

  // PeerService::Close(): read nothing more; end once what was read is
  // answered.
  void Close() {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    MaybeFinishLocked();
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (!ok) {  // The sender half-closed, or the stream is over.
      read_done_ = true;
    } else if (!stopping_ && EnvelopesIn(request_) > kMaxFrameItems) {
      // Judge nothing more: the sender resends what was not answered.
      stopping_ = true;
      pending_.clear();
      judged_.reset();
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("a frame carries at most ", kMaxFrameItems, " envelopes")));
      return;
    } else if (!stopping_) {
      // Read before Close(): still judged and answered.
      TakeEnvelopes(request_, pending_);
      request_.Clear();
      StartReadLocked();
    }
    ProcessLocked();
    MaybeFinishLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the link broke while answering"));
      return;
    }
    if (response_.has_refusal()) {
      // Store nothing after a refused envelope on this stream: the sender
      // resends from it, and storing what follows first would break the
      // link's order.
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot store now; resend from the refused envelope"));
      return;
    }
    WriteLocked();
    MaybeFinishLocked();
  }

  // gRPC is done with the stream; a batch still being judged or committed
  // owns the reactor until it ends.
  void OnDone() override {
    {
      absl::MutexLock lock(&mu_);
      if (judging_ || committing_) {
        done_ = true;
        return;
      }
    }
    delete this;
  }

 private:
  // No frame is read while this many envelopes wait to be judged, so at
  // most kMaxPending + kMaxFrameItems - 1 wait (the default window of 512
  // stays under it), besides one batch judged and one being committed.
  static constexpr size_t kMaxPending = 1024;
  // Envelopes judged in one batch at most: with a sender's window larger
  // than this, the next batch is already read while one is judged, and the
  // sender checks one batch's receipts while the next is judged.
  static constexpr size_t kMaxBatch = 256;

  // Reads the next frame, unless kMaxPending envelopes wait to be judged.
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || read_done_ || finished_ || stopping_ || closing_ || pending_.size() >= kMaxPending) return;
    reading_ = true;
    StartRead(&request_);
  }

  // Starts what can run: the commit of the batch judged (after the one
  // being committed), and the judging of what was read since (while no
  // judged batch waits).
  void ProcessLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stopping_ || finished_) return;
    if (!committing_ && judged_.has_value()) StartCommitLocked();
    if (!judging_ && !judged_.has_value() && !pending_.empty()) StartJudgingLocked();
  }

  void StartJudgingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    judging_ = true;
    auto batch = std::make_shared<std::deque<v1::Envelope>>();
    if (pending_.size() <= kMaxBatch) {
      batch->swap(pending_);
    } else {
      const auto end = pending_.begin() + static_cast<std::ptrdiff_t>(kMaxBatch);
      batch->assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(end));
      pending_.erase(pending_.begin(), end);
    }
    workers_->Schedule([this, batch] {
      std::vector<const v1::Envelope*> envelopes;
      envelopes.reserve(batch->size());
      for (const v1::Envelope& envelope : *batch) envelopes.push_back(&envelope);
      JudgedBatch judged = receiver_->Judge(envelopes);
      mu_.Lock();
      judging_ = false;
      if (done_) {  // The stream ended meanwhile (the sender went away).
        const bool last = !committing_;
        mu_.Unlock();
        if (last) delete this;
        return;
      }
      // After a refusal nothing more is committed: the sender resends this
      // batch, neither stored nor answered.
      if (!stopping_ && !finished_) judged_.emplace(std::move(judged));
      ProcessLocked();
      MaybeFinishLocked();
      mu_.Unlock();
    });
  }

  void StartCommitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    committing_ = true;
    auto batch = std::make_shared<JudgedBatch>(*std::move(judged_));
    judged_.reset();
    workers_->Schedule([this, batch] {
      std::vector<v1::DeliverResponse> responses = receiver_->Commit(std::move(*batch));
      bool refused = false;
      for (size_t k = 0; k < responses.size(); ++k) {
        if (responses[k].has_refusal()) {  // Nothing after it is answered; the sender resends from it.
          refused = true;
          responses.resize(k + 1);
          break;
        }
      }
      std::deque<v1::DeliverResponse> frames = Frame(responses, answer_frame_bytes_);
      mu_.Lock();
      committing_ = false;
      if (done_) {  // The stream ended meanwhile (the sender went away).
        const bool last = !judging_;
        mu_.Unlock();
        if (last) delete this;
        return;
      }
      if (refused) {
        stopping_ = true;
        judged_.reset();
      }
      for (v1::DeliverResponse& frame : frames) to_write_.push_back(std::move(frame));
      WriteLocked();
      StartReadLocked();  // Reading may have paused at kMaxPending.
      ProcessLocked();
      MaybeFinishLocked();
      mu_.Unlock();
    });
  }

  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || to_write_.empty() || finished_) return;
    writing_ = true;
    response_ = std::move(to_write_.front());
    to_write_.pop_front();
    // The answers of a batch go out together: gRPC may hold each but the
    // last of those ready, so that they share frames and system calls.
    grpc::WriteOptions options;
    if (!to_write_.empty()) options.set_buffer_hint();
    StartWrite(&response_, options);
  }

  // Ends the stream once the sender is done (or the gateway is closing) and
  // every answer is written.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if ((read_done_ || closing_) && !judging_ && !committing_ && !judged_.has_value() && pending_.empty() &&
        to_write_.empty() && !writing_) {
      FinishLocked(read_done_ ? grpc::Status::OK
                              : grpc::Status(grpc::StatusCode::UNAVAILABLE, "the receiving gateway is shutting down"));
    }
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  PeerService* const service_;
  EnvelopeReceiver* const receiver_;
  ThreadPool* const workers_;
  const size_t answer_frame_bytes_;
  absl::Mutex mu_;
  v1::DeliverRequest request_ ABSL_GUARDED_BY(mu_);         // The read in flight.
  v1::DeliverResponse response_ ABSL_GUARDED_BY(mu_);       // The write in flight.
  std::deque<v1::Envelope> pending_ ABSL_GUARDED_BY(mu_);   // Read, not yet judged.
  std::optional<JudgedBatch> judged_ ABSL_GUARDED_BY(mu_);  // Judged, waiting for the commit before it.
  std::deque<v1::DeliverResponse> to_write_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool judging_ ABSL_GUARDED_BY(mu_) = false;
  bool committing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // A refusal is queued: commit nothing more.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;   // PeerService::Close(): read nothing more.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone came while a batch was judged or committed.
};

namespace {

class Refuse final : public grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse> {
 public:
  explicit Refuse(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

size_t AnnouncedFrameBytes(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  auto it = metadata.find(kFrameBytesMetadataKey);
  if (it == metadata.end()) return 0;
  uint64_t bytes = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &bytes)) return 0;
  return static_cast<size_t>(std::min<uint64_t>(bytes, kMaxFrameBytes));
}

PeerService::PeerService(std::string peer_spiffe_id, EnvelopeReceiver* receiver, ThreadPool* workers,
                         size_t max_frame_bytes)
    : peer_spiffe_id_(std::move(peer_spiffe_id)),
      receiver_(receiver),
      workers_(workers),
      max_frame_bytes_(max_frame_bytes) {}

grpc::ServerBidiReactor<v1::DeliverRequest, v1::DeliverResponse>* PeerService::Deliver(
    grpc::CallbackServerContext* context) {
  const std::optional<std::string> caller = security::PeerSpiffeId(*context->auth_context());
  if (caller != peer_spiffe_id_) {
    return new Refuse(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "only the configured peer may deliver"));
  }
  absl::MutexLock lock(&mu_);
  if (closed_) return new Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the receiving gateway is shutting down"));
  context->AddInitialMetadata(kReceiverMetadataKey, "ready");
  context->AddInitialMetadata(kFrameBytesMetadataKey, absl::StrCat(max_frame_bytes_));
  auto* reactor = new DeliverReactor(this, receiver_, workers_, AnnouncedFrameBytes(context->client_metadata()));
  live_.insert(reactor);
  return reactor;
}

void PeerService::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (DeliverReactor* reactor : live_) reactor->Close();
}

}  // namespace iicc::exchange
