#include "gateway/exchange/forwarder.h"

#include <algorithm>
#include <deque>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/grpc_status.h"
#include "gateway/common/log.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/records.h"
#include "gateway/common/status_macros.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/exchange/peer_service.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/audit.h"
#include "google/protobuf/util/time_util.h"

namespace iicc::exchange {
namespace {

// How often the send loop looks at the outbox even without a notification
// (a safety net: notifications are the normal path).
constexpr absl::Duration kPollInterval = absl::Seconds(1);

// Text the peer chose (a rejection reason, its gRPC status message), as our
// logs and /status show it: at most this many bytes. Our peer names field
// paths and rules, never values; another one might send anything.
constexpr size_t kMaxPeerTextBytes = 256;

std::string PeerText(absl::string_view text) {
  if (text.size() <= kMaxPeerTextBytes) return std::string(text);
  size_t end = kMaxPeerTextBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // Not inside a character.
  return absl::StrCat(text.substr(0, end), "... (", text.size(), " bytes)");
}

}  // namespace

Forwarder::Forwarder(ForwarderOptions options, store::Store* store, const proof::Verifier* verifier,
                     std::shared_ptr<grpc::Channel> channel, SequenceNotifier* outbox)
    : options_(std::move(options)),
      store_(store),
      verifier_(verifier),
      stub_(v1::PeerExchange::NewStub(channel)),
      outbox_(outbox) {}

Forwarder::~Forwarder() { Stop(); }

void Forwarder::Start() {
  thread_ = std::thread([this] {
    Run();
    absl::MutexLock lock(&mu_);
    finished_ = true;
  });
}

void Forwarder::Stop(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    // The session ends by itself once its window is answered; the pause
    // between sessions ends at once.
    mu_.AwaitWithTimeout(absl::Condition(&finished_), grace);
    stopping_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

Forwarder::LinkState Forwarder::link_state() const {
  absl::MutexLock lock(&state_mu_);
  return state_;
}

void Forwarder::SetLinkUp(bool up, absl::string_view error) {
  absl::MutexLock lock(&state_mu_);
  if (state_.up != up) state_.since = absl::Now();
  state_.up = up;
  if (!error.empty()) state_.last_error = std::string(error);
}

void Forwarder::Run() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.initial_backoff;
  bool reported_unreachable = false;  // Log a failing peer once, not every retry.
  while (true) {
    bool connected = false;
    bool receipt_refused = false;
    absl::Duration retry_after = absl::ZeroDuration();
    const absl::Status status = RunSession(&connected, &receipt_refused, &retry_after);
    SetLinkUp(false, absl::IsCancelled(status)
                         ? ""
                         : absl::StrCat(absl::StatusCodeToString(status.code()), ": ", PeerText(status.message())));
    // A peer that answers but whose receipts we refuse is not healthy: it
    // backs off like an unreachable one instead of being retried at once.
    if (connected && !receipt_refused) {
      backoff = options_.initial_backoff;
      reported_unreachable = false;
      if (!absl::IsCancelled(status)) {
        Log(LogLevel::kWarning, "peer.link_down",
            {{"peer", options_.peer_name},
             {"code", absl::StatusCodeToString(status.code())},
             {"reason", PeerText(status.message())}});
      }
    } else if (!reported_unreachable && !absl::IsCancelled(status)) {
      reported_unreachable = true;
      Log(LogLevel::kWarning, "peer.unreachable",
          {{"peer", options_.peer_name},
           {"code", absl::StatusCodeToString(status.code())},
           {"reason", PeerText(status.message())}});
    }
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const absl::Duration delay = std::max(backoff * jitter(rng), retry_after);
    backoff = std::min(backoff * 2, options_.max_backoff);
    absl::MutexLock lock(&mu_);
    if (stopping_ || draining_) return;
    mu_.AwaitWithTimeout(absl::Condition(&draining_), delay);
    if (stopping_ || draining_) return;
  }
}

absl::Status Forwarder::RunSession(bool* connected, bool* receipt_refused, absl::Duration* retry_after) {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || draining_) return absl::CancelledError("stopping");
    active_ = &context;
  }
  struct Deactivate {
    Forwarder* self;
    ~Deactivate() {
      absl::MutexLock lock(&self->mu_);
      self->active_ = nullptr;
    }
  } deactivate{this};

  // The watchdog: while the session waits on the peer (for its headers, or
  // for a receipt with envelopes in flight), it may wait receipt_timeout
  // from the last sign of life, then the stream is cancelled. A blocked
  // Write (the peer's flow-control window full) ends that way too.
  struct Watchdog {
    absl::Mutex mu;
    bool waiting ABSL_GUARDED_BY(mu) = true;  // Waiting for the headers.
    absl::Time since ABSL_GUARDED_BY(mu) = absl::Now();
    bool fired ABSL_GUARDED_BY(mu) = false;
    bool done ABSL_GUARDED_BY(mu) = false;
    void Expect(bool expecting, bool restart) {
      absl::MutexLock lock(&mu);
      if (restart || !waiting) since = absl::Now();
      waiting = expecting;
    }
    bool Fired() {
      absl::MutexLock lock(&mu);
      return fired;
    }
  } watchdog;
  std::thread watchdog_thread([&watchdog, &context, timeout = options_.receipt_timeout] {
    absl::MutexLock lock(&watchdog.mu);
    while (!watchdog.done) {
      const absl::Time deadline = watchdog.waiting ? watchdog.since + timeout : absl::Now() + timeout;
      watchdog.mu.AwaitWithDeadline(absl::Condition(&watchdog.done), deadline);
      if (!watchdog.done && watchdog.waiting && absl::Now() >= watchdog.since + timeout) {
        watchdog.fired = true;
        context.TryCancel();
        return;
      }
    }
  });
  struct StopWatchdog {
    Watchdog* watchdog;
    std::thread* thread;
    ~StopWatchdog() {
      {
        absl::MutexLock lock(&watchdog->mu);
        watchdog->done = true;
      }
      thread->join();
    }
  } stop_watchdog{&watchdog, &watchdog_thread};

  // This side reads frames of several receipts.
  static_assert(kMaxFrameBytes <= 4 * 1024 * 1024, "the link channel keeps gRPC's default 4 MiB receive limit");
  context.AddMetadata(kFrameBytesMetadataKey, absl::StrCat(kMaxFrameBytes));
  std::unique_ptr<grpc::ClientReaderWriter<v1::DeliverRequest, v1::DeliverResponse>> stream = stub_->Deliver(&context);

  stream->WaitForInitialMetadata();
  watchdog.Expect(false, false);
  if (context.GetServerInitialMetadata().count(kReceiverMetadataKey) > 0) {
    *connected = true;
    SetLinkUp(true, "");
    Log(LogLevel::kInfo, "peer.link_up", {{"peer", options_.peer_name}});
  }
  // 0: the peer reads one envelope per frame.
  const size_t frame_bytes = AnnouncedFrameBytes(context.GetServerInitialMetadata());

  // The reader thread and outbox notifications reach the send loop through
  // this mailbox; shared, because a notification may outlive the session.
  struct Mailbox {
    absl::Mutex mu;
    std::deque<v1::DeliverResponse> responses ABSL_GUARDED_BY(mu);
    bool reader_done ABSL_GUARDED_BY(mu) = false;
    bool outbox_grew ABSL_GUARDED_BY(mu) = false;
  };
  auto mailbox = std::make_shared<Mailbox>();
  std::thread reader([&stream, mailbox] {
    v1::DeliverResponse response;
    while (stream->Read(&response)) {
      absl::MutexLock lock(&mailbox->mu);
      mailbox->responses.push_back(std::move(response));
      response.Clear();
    }
    absl::MutexLock lock(&mailbox->mu);
    mailbox->reader_done = true;
  });

  // Sent and not yet answered, oldest first: what each receipt is checked
  // against.
  struct InFlight {
    std::string record_id;
    v1::EnvelopeHeader header;
  };
  std::deque<InFlight> in_flight;
  // Answered with a verified receipt, not yet recorded. They are recorded
  // after the next envelopes are sent, so that the peer judges those while
  // this side commits.
  std::vector<store::Outcome> answered;
  std::vector<v1::EnvelopeHeader> answered_headers;  // Of answered[k]'s record, for the metrics.
  auto record_answered = [&]() -> absl::Status {
    if (answered.empty()) return absl::OkStatus();
    IICC_RETURN_IF_ERROR(store_->RecordOutcomes(answered));
    Account(answered, answered_headers);
    answered.clear();
    answered_headers.clear();
    return absl::OkStatus();
  };
  int64_t last_sent = 0;  // Every session starts from the oldest queued record.
  absl::Status status;
  // False once a write failed: the peer ended the stream. Its last answers
  // (a refusal with its retry_after, say) are still read before the session
  // ends.
  bool writable = true;
  SequenceNotifier::Token watch = 0;
  while (status.ok()) {
    bool draining;
    {
      absl::MutexLock lock(&mu_);
      // Draining, the session ends once the window in flight is answered.
      if (stopping_ || (draining_ && in_flight.empty())) {
        status = absl::CancelledError("stopping");
        break;
      }
      draining = draining_;
    }
    // Records accepted after this mark are not in the read below: the watch
    // armed from it fires for them.
    const int64_t outbox_mark = outbox_->high_water();
    // Fill the window.
    if (writable && !draining && static_cast<int>(in_flight.size()) < options_.window) {
      absl::StatusOr<std::vector<store::PendingEnvelope>> pending =
          store_->ListPending(last_sent, options_.window - static_cast<int>(in_flight.size()));
      if (!pending.ok()) {
        status = pending.status();
        break;
      }
      // The clock starts with the first envelope of an empty window; with
      // envelopes already in flight, it runs from the last receipt.
      if (!pending->empty()) watchdog.Expect(true, /*restart=*/false);
      // The envelopes read together go out together: as few frames as the
      // peer's frame size allows (one per envelope if it announced none),
      // and gRPC may hold each frame but the last until the next, so that
      // they share HTTP/2 writes and system calls.
      v1::DeliverRequest frame;
      std::vector<InFlight> framed;  // The frame's records.
      size_t frame_used = 0;
      int64_t frame_last = last_sent;  // The outbox sequence of its last record.
      auto write_frame = [&](bool last) {
        grpc::WriteOptions options;
        if (!last) options.set_buffer_hint();
        if (!stream->Write(frame, options)) {
          writable = false;
          return false;
        }
        last_sent = frame_last;
        for (InFlight& sent : framed) in_flight.push_back(std::move(sent));
        framed.clear();
        frame.Clear();
        frame_used = 0;
        return true;
      };
      for (store::PendingEnvelope& envelope : *pending) {
        const size_t bytes = FramedBytes(envelope.envelope.size());
        const bool full =
            frame_bytes == 0 || frame_used + bytes > frame_bytes || static_cast<int>(framed.size()) >= kMaxFrameItems;
        if (!framed.empty() && full && !write_frame(/*last=*/false)) break;
        v1::Envelope* parsed = frame_bytes == 0 ? frame.mutable_envelope() : frame.add_envelopes();
        InFlight sent{std::move(envelope.record_id), {}};
        if (!parsed->ParseFromString(envelope.envelope) || !sent.header.ParseFromString(parsed->header())) {
          status = absl::DataLossError(absl::StrCat("outbox envelope ", sent.record_id, " does not parse"));
          break;
        }
        frame_used += bytes;
        frame_last = envelope.outbox_sequence;
        framed.push_back(std::move(sent));
      }
      if (!status.ok()) break;
      if (writable && !framed.empty()) write_frame(/*last=*/true);
    }
    // The peer now judges what was just sent; meanwhile, the receipts that
    // freed its room are recorded.
    if (status = record_answered(); !status.ok()) break;

    // Wait for receipts, new records (when the window has room), or the end
    // of the stream.
    const bool room = writable && !draining && static_cast<int>(in_flight.size()) < options_.window;
    if (room && watch == 0) {
      // Returns 0 (and has set outbox_grew) if records arrived meanwhile.
      watch = outbox_->Watch(outbox_mark, [mailbox] {
        absl::MutexLock lock(&mailbox->mu);
        mailbox->outbox_grew = true;
      });
    }
    std::deque<v1::DeliverResponse> arrived;
    bool ended;
    {
      absl::MutexLock lock(&mailbox->mu);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mailbox->mu) {
        return !mailbox->responses.empty() || mailbox->reader_done || (room && mailbox->outbox_grew);
      };
      mailbox->mu.AwaitWithTimeout(absl::Condition(&ready), kPollInterval);
      arrived.swap(mailbox->responses);
      ended = mailbox->reader_done;
      if (mailbox->outbox_grew) {
        mailbox->outbox_grew = false;
        watch = 0;  // Fired: arm again next time round.
      }
    }

    // Every answer that arrived is checked in order (a frame's `receipts`,
    // then its `result`); a refusal or a bad receipt ends the session, and
    // the ones before it are still recorded.
    const size_t answered_before = answered.size();
    // Takes the answer to the oldest envelope in flight: a receipt, or a
    // refusal if `receipt` is null. False if the session ends on it.
    auto take_answer = [&](const v1::Receipt* receipt, const v1::RetryableRefusal& refusal) {
      if (in_flight.empty()) {
        status = absl::InternalError("the peer answered more than was sent");
        return false;
      }
      InFlight& front = in_flight.front();
      if (receipt == nullptr) {
        // Retryable: end the session; the next one resends from this record.
        status = absl::UnavailableError(absl::StrCat("the peer cannot store now: ", refusal.reason()));
        *retry_after =
            absl::Seconds(refusal.retry_after().seconds()) + absl::Nanoseconds(refusal.retry_after().nanos());
        return false;
      }
      absl::StatusOr<store::Outcome> outcome = CheckReceipt(front.record_id, front.header, *receipt);
      if (!outcome.ok()) {
        status = outcome.status();
        *receipt_refused = true;
        metrics::Default().Rejected(metrics::RejectStage::kDelivery, metrics::RejectReason::kReceiptInvalid);
        return false;
      }
      answered.push_back(*std::move(outcome));
      answered_headers.push_back(std::move(front.header));
      in_flight.pop_front();
      return true;
    };
    for (const v1::DeliverResponse& response : arrived) {
      bool more = true;
      for (const v1::Receipt& receipt : response.receipts()) {
        if (!(more = take_answer(&receipt, response.refusal()))) break;
      }
      // Without `receipts`, a frame is one answer, `result`.
      if (more && (response.result_case() != v1::DeliverResponse::RESULT_NOT_SET || response.receipts().empty())) {
        more = take_answer(response.has_refusal() ? nullptr : &response.receipt(), response.refusal());
      }
      if (!more) break;
    }
    if (answered.size() > answered_before) watchdog.Expect(!in_flight.empty(), /*restart=*/true);
    if (status.ok() && ended) {
      status = absl::UnavailableError(writable ? "the peer ended the stream" : "the peer closed the stream");
    }
  }
  // What was answered before the session ended is recorded all the same. A
  // store that cannot record says more to the operator than why the session
  // ended (the records stay queued and are sent again).
  if (absl::Status recorded = record_answered(); !recorded.ok()) status = recorded;

  if (watch != 0) outbox_->Unwatch(watch);
  context.TryCancel();
  reader.join();
  const grpc::Status finish = stream->Finish();
  if (watchdog.Fired() && !absl::IsCancelled(status)) {
    metrics::Default().PeerReceiptTimeout();
    return absl::DeadlineExceededError(absl::StrCat("the peer did not answer within limits.receipt_timeout (",
                                                    absl::FormatDuration(options_.receipt_timeout),
                                                    "); unanswered records stay queued"));
  }
  // The peer's own status says more than "ended", unless it is only the
  // cancellation this side made above.
  if (!finish.ok() && finish.error_code() != grpc::StatusCode::CANCELLED && absl::IsUnavailable(status) &&
      *retry_after == absl::ZeroDuration()) {
    status = FromGrpcStatus(finish);
  }
  return status;
}

void Forwarder::Account(const std::vector<store::Outcome>& outcomes,
                        const std::vector<v1::EnvelopeHeader>& sent_headers) {
  if (outcomes.empty()) return;
  {
    absl::MutexLock lock(&state_mu_);
    state_.last_delivery = outcomes.back().delivered_time;
  }
  LogBatch lines;
  for (size_t k = 0; k < outcomes.size(); ++k) {
    const store::Outcome& outcome = outcomes[k];
    const v1::EnvelopeHeader& header = sent_headers[k];
    const absl::Duration latency = outcome.delivered_time - FromTimestamp(header.accepted_time());
    const bool delivered = outcome.state == v1::DELIVERY_STATE_DELIVERED;
    if (delivered) {
      metrics::Default().Delivered(header.record_type(), latency);
    } else {
      metrics::Default().Rejected(metrics::RejectStage::kDelivery, metrics::RejectReason::kRejected);
    }
    // The peer's reason names field paths and rules, never values.
    lines.Add(LogLevel::kInfo, "record.delivered",
              {{"record_id", outcome.record_id},
               {"record_type", RecordTypeName(header.record_type())},
               {"caller", options_.peer_spiffe_id},
               {"outcome", delivered ? "delivered" : absl::StrCat("rejected by the peer: ", PeerText(outcome.reason))},
               {"duration_ms", absl::StrCat(absl::ToDoubleMilliseconds(latency))}});
  }
}

absl::StatusOr<store::Outcome> Forwarder::CheckReceipt(const std::string& record_id,
                                                       const v1::EnvelopeHeader& sent_header,
                                                       const v1::Receipt& receipt) {
  v1::ReceiptHeader header;
  std::string problem;
  if (!header.ParseFromString(receipt.header())) {
    problem = "malformed receipt header";
  } else if (header.record_id() != record_id) {
    problem = "the receipt is for another record than the oldest in flight";
  } else if (header.payload_digest() != sent_header.payload_digest()) {
    problem = "the receipt names another payload than the one sent";
  } else if (header.receiver() != sent_header.destination()) {
    problem = "the receipt names another receiver than the record's destination";
  } else if (header.verdict() != v1::RECEIPT_VERDICT_ACCEPTED && header.verdict() != v1::RECEIPT_VERDICT_REJECTED) {
    problem = "the receipt holds no verdict";
  } else if (const absl::Time received = FromTimestamp(header.received_time());
             received < FromTimestamp(sent_header.accepted_time()) - kMaxClockSkew ||
             received > absl::Now() + kMaxClockSkew) {
    // The signer chooses the time its chain is checked at: it must be when
    // the record could have been received, give or take the clocks' skew.
    problem = "the receipt's received_time is before the record was accepted or in the future";
  } else if (absl::StatusOr<proof::Verifier::Verified> verified = verifier_->Verify(
                 proof::Purpose::kReceipt, receipt.header(), receipt.proof(), options_.peer_spiffe_id, received);
             !verified.ok()) {
    problem = absl::StrCat("bad signature: ", verified.status().message());
  }
  const std::string serialized = SerializeDeterministic(receipt);
  if (!problem.empty()) {
    store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_RECEIPT_INVALID, record_id, options_.peer_spiffe_id,
                               Sha256(serialized), problem});
    return absl::UnavailableError(
        absl::StrCat("the peer's receipt for record ", record_id, " is not accepted: ", problem));
  }
  const bool accepted = header.verdict() == v1::RECEIPT_VERDICT_ACCEPTED;
  return store::Outcome{record_id, accepted ? v1::DELIVERY_STATE_DELIVERED : v1::DELIVERY_STATE_REJECTED,
                        accepted ? "" : header.reason(), serialized, absl::Now()};
}

}  // namespace iicc::exchange
