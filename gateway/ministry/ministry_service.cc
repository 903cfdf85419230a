#include "gateway/ministry/ministry_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/common/errors.h"
#include "gateway/common/grpc_status.h"
#include "gateway/common/log.h"
#include "gateway/common/records.h"
#include "gateway/security/tls.h"
#include "gateway/store/audit.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace iicc::ministry {
namespace {

// Records fetched per store read while streaming a subscription.
constexpr int kSubscribeBatch = 256;

const grpc::Status kNoIdentity(grpc::StatusCode::UNAUTHENTICATED, "the client certificate carries no SPIFFE ID");

// The caller's SPIFFE ID. A caller without one (its certificate chains to
// the ministry CA but names nobody) is audited, off gRPC's thread since the
// audit entry is a durable write.
std::optional<std::string> CallerOf(grpc::CallbackServerContext* context, store::Store* audit, ThreadPool* workers) {
  std::optional<std::string> identity = security::PeerSpiffeId(*context->auth_context());
  if (!identity) {
    workers->Schedule([audit] {
      store::AuditOrLog(audit, {v1::AUDIT_EVENT_KIND_AUTHENTICATION_FAILURE, "", "", "",
                                "ministry face: the client certificate carries no SPIFFE ID"});
    });
  }
  return identity;
}

// The authenticated caller of a unary call, if `admit(identity)` lets it
// in; otherwise nullopt, and the call is finished with the refusal.
template <typename Admit>
std::optional<std::string> AdmitUnary(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                                      store::Store* audit, ThreadPool* workers, Admit admit) {
  std::optional<std::string> identity = CallerOf(context, audit, workers);
  if (!identity) {
    reactor->Finish(kNoIdentity);
    return std::nullopt;
  }
  if (absl::Status admitted = admit(*identity); !admitted.ok()) {
    context->AddTrailingMetadata(kErrorTrailerKey, ToErrorProto(admitted).SerializeAsString());
    reactor->Finish(ToGrpcStatus(admitted));
    return std::nullopt;
  }
  return identity;
}

// Finishes a unary call with `result`: its response, or its error with the
// iicc.v1.Error in the trailer.
template <typename Response>
void FinishUnary(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor, Response* response,
                 absl::StatusOr<Response> result) {
  if (result.ok()) {
    *response = *std::move(result);
  } else {
    context->AddTrailingMetadata(kErrorTrailerKey, ToErrorProto(result.status()).SerializeAsString());
  }
  reactor->Finish(ToGrpcStatus(result.status()));
}

// Runs `work(identity)` on the worker pool for the authenticated caller and
// finishes the call with its result, unless `admit(identity)` refuses it.
template <typename Response, typename Admit, typename Work>
grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* context, store::Store* audit, ThreadPool* workers,
                                     Response* response, Admit admit, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<std::string> identity = AdmitUnary(context, reactor, audit, workers, std::move(admit));
  if (!identity) return reactor;
  workers->Schedule([context, reactor, identity = *std::move(identity), response, work = std::move(work)] {
    FinishUnary(context, reactor, response, work(identity));
  });
  return reactor;
}

// What a stream cut by limits.stream_idle_timeout is told (if it still
// listens).
grpc::Status IdleCut(absl::Duration timeout, absl::string_view waiting_for) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("stream idle (limits.stream_idle_timeout: ", absl::FormatDuration(timeout),
                                   " without ", waiting_for, "); open a new stream when there is more to send"));
}

}  // namespace

// A stream the sweeper looks at.
class MinistryService::Watched {
 public:
  virtual ~Watched() = default;
  // Ends the call if it has waited on its client (for a request, or for it
  // to take a response) since before `now - idle`. Called with the
  // service's mu_ held, so the reactor is not destroyed meanwhile.
  virtual void CutIfIdle(absl::Time now, absl::Duration idle) = 0;
};

// Reads a request, accepts it on the worker pool, writes the answer, reads
// the next: one response per request, in order. A refused record is answered
// with SubmitResponse.error and the stream goes on. Registered with the
// service while it lives, so that a shutdown can end it between requests.
// Reads requests ahead of their answers: up to kMaxInFlight records of one
// stream wait in the batcher (and share its batches) at once, and their
// answers are written in the order the requests came. gRPC allows one read
// and one write in flight at a time; everything else is guarded by mu_.
class MinistryService::SubmitStreamReactor final
    : public grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>,
      public MinistryService::Watched {
 public:
  // REQUIRES: service->mu_ held; the caller registers the stream, whose
  // place in limits_ was taken (OpenStream).
  SubmitStreamReactor(MinistryService* service, grpc::CallbackServerContext* context, std::string identity)
      : service_(service), context_(context), identity_(std::move(identity)) {
    absl::MutexLock lock(&mu_);
    idle_since_ = absl::Now();
    StartReadLocked();
  }

  ~SubmitStreamReactor() override {
    {
      absl::MutexLock lock(&service_->mu_);
      service_->streams_.erase(this);
      service_->watched_.erase(this);
    }
    service_->limits_->CloseStream(identity_, CallerLimits::Stream::kSubmitStream);
  }

  void CutIfIdle(absl::Time now, absl::Duration idle) override {
    absl::MutexLock lock(&mu_);
    if (finished_ || cut_) return;
    if (writing_) {
      // A response the client does not take: flow control holds it, and
      // the status could not pass it either.
      if (now - write_started_ < idle) return;
      Cut("read");
      context_->TryCancel();
      return;
    }
    // Records in the gateway's hands: it is the one working.
    if (!slots_.empty() || now - idle_since_ < idle) return;
    Cut("request");
    FinishLocked(IdleCut(idle, "a request"));
  }

  // MinistryService::Close(): read nothing more; end once every request
  // read is answered. A stream waiting for its next request ends now.
  void Close() {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    MaybeFinishLocked();
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (finished_) return;
    if (!ok) {  // The client half-closed (or went away): end once every answer is written.
      read_done_ = true;
      MaybeFinishLocked();
      return;
    }
    if (closing_) {  // Read after Close(): not answered, so the client sends it again.
      MaybeFinishLocked();
      return;
    }
    slots_.push_back(std::make_unique<Slot>());
    Slot* slot = slots_.back().get();
    slot->request = std::move(request_);
    request_.Clear();
    // Each record takes one request of the caller's rate; a refused one is
    // answered like any refused record, and the stream goes on.
    if (absl::Status admitted = service_->Admit(identity_, "SubmitStream", RecordTypeOf(slot->request.record()));
        !admitted.ok()) {
      Answer(slot, admitted);
    } else {
      ++in_batcher_;
      service_->batcher_.Submit(identity_, &slot->request, "SubmitStream",
                                [this, slot](absl::StatusOr<v1::SubmitResponse> result) {
                                  mu_.Lock();
                                  --in_batcher_;
                                  Answer(slot, std::move(result));
                                  if (done_ && in_batcher_ == 0) {  // gRPC finished with the stream meanwhile.
                                    mu_.Unlock();
                                    delete this;
                                    return;
                                  }
                                  mu_.Unlock();
                                });
    }
    StartReadLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke while answering"));
      return;
    }
    if (slots_.empty()) idle_since_ = absl::Now();
    WriteLocked();
    StartReadLocked();  // Reading may have paused at kMaxInFlight.
    MaybeFinishLocked();
  }

  // gRPC is done with the stream; records still in the batcher own the
  // reactor until their answers come back.
  void OnDone() override {
    {
      absl::MutexLock lock(&mu_);
      if (in_batcher_ > 0) {
        done_ = true;
        return;
      }
    }
    delete this;
  }

 private:
  // Requests read ahead of their answers, at most.
  static constexpr size_t kMaxInFlight = SubmitBatcher::kMaxBatch;

  // One request and, once judged, its answer.
  struct Slot {
    v1::SubmitRequest request;  // The batcher's while the record is judged.
    v1::SubmitResponse response;
    bool answered = false;
  };

  void Answer(Slot* slot, absl::StatusOr<v1::SubmitResponse> result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (result.ok()) {
      slot->response = *std::move(result);
    } else {
      slot->response.set_request_id(slot->request.request_id());
      // ALREADY_EXISTS names the first record.
      slot->response.set_record_id(RecordIdOf(result.status()));
      *slot->response.mutable_error() = ToErrorProto(result.status());
    }
    slot->answered = true;
    WriteLocked();
    MaybeFinishLocked();
  }

  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || read_done_ || finished_ || closing_ || slots_.size() >= kMaxInFlight) return;
    reading_ = true;
    StartRead(&request_);
  }

  // Writes the oldest answer if it is ready and no write is in flight.
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || slots_.empty() || !slots_.front()->answered) return;
    response_ = std::move(slots_.front()->response);
    slots_.pop_front();
    writing_ = true;
    write_started_ = absl::Now();
    // Answers ready together (a batch's) go out together: gRPC may hold this
    // one until the next, which is already answered, so that they share
    // frames and system calls.
    grpc::WriteOptions options;
    if (!slots_.empty() && slots_.front()->answered) options.set_buffer_hint();
    StartWrite(&response_, options);
  }

  // Ends the stream once nothing is left to answer and the client is done,
  // or the gateway is closing.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || !slots_.empty()) return;
    if (read_done_) {
      FinishLocked(grpc::Status::OK);
    } else if (closing_) {
      FinishLocked(ShuttingDown());
    }
  }

  void Cut(absl::string_view waiting_for) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cut_ = true;
    metrics::Default().Limited(metrics::Limit::kStreamIdle);
    Log(LogLevel::kWarning, "stream.idle_cut",
        {{"caller", identity_}, {"method", "SubmitStream"}, {"waiting_for", waiting_for}});
  }

  static grpc::Status ShuttingDown() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the gateway is shutting down; send unanswered requests again (same request_id)");
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  MinistryService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string identity_;
  absl::Mutex mu_;
  v1::SubmitRequest request_ ABSL_GUARDED_BY(mu_);    // The read in flight.
  v1::SubmitResponse response_ ABSL_GUARDED_BY(mu_);  // The write in flight.
  // Requests read and not yet answered to the client, in order.
  std::deque<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  int in_batcher_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone came while records were in the batcher.
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
  // Since when nothing is left to answer (the stream waits for a request).
  absl::Time idle_since_ ABSL_GUARDED_BY(mu_);
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);  // Of the write in flight.
};

// Streams the inbox after a cursor, then waits for new records. At most one
// of {a store read, a write, a wait} is in progress at any time.
class MinistryService::SubscribeReactor final : public grpc::ServerWriteReactor<v1::InboundRecord>,
                                                public MinistryService::Watched {
 public:
  // REQUIRES: the place in limits_ was taken (OpenStream). Registers itself.
  SubscribeReactor(MinistryService* service, grpc::CallbackServerContext* context, std::string identity, int64_t after,
                   std::vector<v1::RecordType> types)
      : service_(service),
        context_(context),
        identity_(std::move(identity)),
        cursor_(after),
        types_(std::move(types)),
        reader_(service->reader_),
        inbox_(service->inbox_),
        workers_(service->workers_) {
    {
      absl::MutexLock lock(&service_->mu_);
      service_->watched_.insert(this);
    }
    // Tells the subscriber at once that it is subscribed, before any record.
    StartSendInitialMetadata();
    workers_->Schedule([this] { Fetch(); });
  }

  ~SubscribeReactor() override {
    {
      absl::MutexLock lock(&service_->mu_);
      service_->watched_.erase(this);
    }
    service_->limits_->CloseStream(identity_, CallerLimits::Stream::kSubscribe);
  }

  // Only a record the client does not take counts: waiting for new records
  // is what a subscription does.
  void CutIfIdle(absl::Time now, absl::Duration idle) override {
    absl::MutexLock lock(&mu_);
    if (finished_ || now - writing_since_ < idle) return;
    writing_since_ = absl::InfiniteFuture();
    metrics::Default().Limited(metrics::Limit::kStreamIdle);
    Log(LogLevel::kWarning, "stream.idle_cut",
        {{"caller", identity_}, {"method", "Subscribe"}, {"waiting_for", "read"}});
    // Flow control holds the record, and a status could not pass it.
    context_->TryCancel();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_since_ = absl::InfiniteFuture();
    }
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
      return;
    }
    cursor_ = batch_[next_].sequence();
    ++next_;
    if (next_ < batch_.size()) {
      Write();
    } else {
      workers_->Schedule([this] { Fetch(); });
    }
  }

  void OnCancel() override {
    bool waiting;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      waiting = watch_ != 0 && inbox_->Unwatch(watch_);
    }
    // Otherwise a read or a write is in progress and will see the cancel.
    if (waiting) FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  void Fetch() {
    // Everything committed up to `examined` is covered by the read below, so
    // an empty read may wait for the mark to pass it.
    const int64_t examined = inbox_->high_water();
    absl::StatusOr<std::vector<v1::InboundRecord>> records = reader_->Read(cursor_, types_, kSubscribeBatch);
    if (!records.ok()) {
      FinishOnce(ToGrpcStatus(records.status()));
      return;
    }
    if (!records->empty()) {
      batch_ = *std::move(records);
      next_ = 0;
      Write();
      return;
    }
    if (inbox_->closed()) {  // Shutting down: the client resumes from its cursor elsewhere or later.
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down"));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        // The callback may run at once, inside Watch: it only schedules.
        watch_ = inbox_->Watch(std::max(examined, cursor_), [this] { workers_->Schedule([this] { Fetch(); }); });
        return;
      }
    }
    FinishOnce(grpc::Status::CANCELLED);
  }

  // Writes batch_[next_]. The records of a batch go out together: gRPC may
  // hold each but the last, so that they share frames and system calls.
  void Write() {
    {
      absl::MutexLock lock(&mu_);
      writing_since_ = absl::Now();
    }
    grpc::WriteOptions options;
    if (next_ + 1 < batch_.size()) options.set_buffer_hint();
    StartWrite(&batch_[next_], options);
  }

  // Finish is called outside the lock: OnDone (which deletes this) may follow.
  void FinishOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(std::move(status));
  }

  MinistryService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string identity_;
  int64_t cursor_;
  const std::vector<v1::RecordType> types_;
  const InboxReader* const reader_;
  SequenceNotifier* const inbox_;
  ThreadPool* const workers_;
  std::vector<v1::InboundRecord> batch_;
  size_t next_ = 0;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  SequenceNotifier::Token watch_ ABSL_GUARDED_BY(mu_) = 0;
  // Since when a write waits for the client to take it; InfiniteFuture when
  // none does.
  absl::Time writing_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

// gRPC's callback API hands a unary handler a const request. With this
// allocator the service owns the messages: each call parses into its own
// protobuf arena (cheap to fill, freed at once), and the handler reaches the
// request through the allocator state to filter its record in place.
class MinistryService::SubmitAllocator final : public grpc::MessageAllocator<v1::SubmitRequest, v1::SubmitResponse> {
 public:
  using Holder = grpc::MessageHolder<v1::SubmitRequest, v1::SubmitResponse>;

  Holder* AllocateMessages() override { return new ArenaHolder(); }

  // The request of the call `context` serves.
  static v1::SubmitRequest* MutableRequest(grpc::CallbackServerContext* context) {
    return static_cast<Holder*>(context->GetRpcAllocatorState())->request();
  }

 private:
  class ArenaHolder final : public Holder {
   public:
    ArenaHolder() {
      set_request(google::protobuf::Arena::CreateMessage<v1::SubmitRequest>(&arena_));
      set_response(google::protobuf::Arena::CreateMessage<v1::SubmitResponse>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

MinistryService::MinistryService(RecordAcceptor* acceptor, const InboxReader* reader, store::Store* audit,
                                 SequenceNotifier* inbox, ThreadPool* workers, CallerLimits* limits,
                                 DenialAuditor* denials, absl::Duration stream_idle_timeout)
    : acceptor_(acceptor),
      batcher_(acceptor, workers),
      reader_(reader),
      audit_(audit),
      inbox_(inbox),
      workers_(workers),
      limits_(limits),
      denials_(denials),
      stream_idle_timeout_(stream_idle_timeout),
      submit_allocator_(std::make_unique<SubmitAllocator>()) {
  SetMessageAllocatorFor_Submit(submit_allocator_.get());
  sweeper_ = std::thread([this] { Sweep(); });
}

MinistryService::~MinistryService() {
  {
    absl::MutexLock lock(&mu_);
    sweeper_stop_ = true;
  }
  sweeper_.join();
}

void MinistryService::Sweep() {
  // A quarter of the timeout, so that a stream is cut at most 25% late;
  // between 10 ms and 1 s.
  const absl::Duration tick = std::clamp(stream_idle_timeout_ / 4, absl::Milliseconds(10), absl::Seconds(1));
  while (true) {
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (sweeper_stop_) return;
      for (Watched* stream : watched_) stream->CutIfIdle(now, stream_idle_timeout_);
    }
    denials_->Flush(now);  // A durable write, here rather than on gRPC's threads.
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&sweeper_stop_), tick)) return;
  }
}

absl::Status MinistryService::Admit(const std::string& identity, absl::string_view method, v1::RecordType type) {
  absl::Status admitted = limits_->TakeRequest(identity, absl::Now());
  if (!admitted.ok()) {
    Refused(identity,
            type == v1::RECORD_TYPE_UNSPECIFIED ? std::string(method)
                                                : absl::StrCat(method, " (", RecordTypeName(type), ")"),
            metrics::Limit::kRate, admitted);
  }
  return admitted;
}

void MinistryService::Refused(const std::string& identity, absl::string_view method, metrics::Limit limit,
                              const absl::Status& status) {
  metrics::Default().Limited(limit);
  denials_->Denied(v1::AUDIT_EVENT_KIND_LIMIT_EXCEEDED, identity, absl::StrCat(method, ": ", status.message()),
                   absl::Now());
}

grpc::ServerUnaryReactor* MinistryService::Submit(grpc::CallbackServerContext* context,
                                                  const v1::SubmitRequest* /*request*/, v1::SubmitResponse* response) {
  v1::SubmitRequest* request = SubmitAllocator::MutableRequest(context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<std::string> identity =
      AdmitUnary(context, reactor, audit_, workers_, [this, request](const std::string& identity) {
        return Admit(identity, "Submit", RecordTypeOf(request->record()));
      });
  if (!identity) return reactor;
  batcher_.Submit(*std::move(identity), request, "Submit",
                  [context, reactor, response](absl::StatusOr<v1::SubmitResponse> result) {
                    FinishUnary(context, reactor, response, std::move(result));
                  });
  return reactor;
}

grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>* MinistryService::SubmitStream(
    grpc::CallbackServerContext* context) {
  std::optional<std::string> identity = CallerOf(context, audit_, workers_);
  if (!identity) {
    class Refuse final : public grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse> {
     public:
      Refuse() { Finish(kNoIdentity); }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }
  absl::MutexLock lock(&mu_);
  if (closed_) {
    class Closed final : public grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse> {
     public:
      Closed() { Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down")); }
      void OnDone() override { delete this; }
    };
    return new Closed;
  }
  if (absl::Status opened = limits_->OpenStream(*identity, CallerLimits::Stream::kSubmitStream); !opened.ok()) {
    Refused(*identity, "SubmitStream", metrics::Limit::kStreams, opened);
    class TooMany final : public grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse> {
     public:
      explicit TooMany(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    return new TooMany(ToGrpcStatus(opened));
  }
  auto* reactor = new SubmitStreamReactor(this, context, *std::move(identity));
  streams_.insert(reactor);
  watched_.insert(reactor);
  return reactor;
}

void MinistryService::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (SubmitStreamReactor* stream : streams_) stream->Close();
}

grpc::ServerUnaryReactor* MinistryService::GetRecordStatus(grpc::CallbackServerContext* context,
                                                           const v1::GetRecordStatusRequest* request,
                                                           v1::RecordStatus* response) {
  return ServeUnary(
      context, audit_, workers_, response,
      [this](const std::string& identity) { return Admit(identity, "GetRecordStatus", v1::RECORD_TYPE_UNSPECIFIED); },
      [this, request](const std::string& identity) { return acceptor_->GetStatus(identity, request->record_id()); });
}

grpc::ServerWriteReactor<v1::InboundRecord>* MinistryService::Subscribe(grpc::CallbackServerContext* context,
                                                                        const v1::SubscribeRequest* request) {
  class Refuse final : public grpc::ServerWriteReactor<v1::InboundRecord> {
   public:
    explicit Refuse(grpc::Status status) { Finish(std::move(status)); }
    void OnDone() override { delete this; }
  };
  std::optional<std::string> identity = CallerOf(context, audit_, workers_);
  if (!identity) return new Refuse(kNoIdentity);
  if (absl::Status admitted = Admit(*identity, "Subscribe", v1::RECORD_TYPE_UNSPECIFIED); !admitted.ok()) {
    return new Refuse(ToGrpcStatus(admitted));
  }
  // Audits a refusal through denials_, which does not block this thread.
  absl::StatusOr<std::vector<v1::RecordType>> types =
      reader_->ReadableTypes(*identity, request->record_types(), "Subscribe");
  if (!types.ok()) return new Refuse(ToGrpcStatus(types.status()));
  if (request->after_sequence() < 0) {
    v1::FieldViolation violation;
    violation.set_field("after_sequence");
    violation.set_description("must not be negative");
    return new Refuse(ToGrpcStatus(InvalidArgumentWithViolations({violation})));
  }
  if (absl::Status opened = limits_->OpenStream(*identity, CallerLimits::Stream::kSubscribe); !opened.ok()) {
    Refused(*identity, "Subscribe", metrics::Limit::kSubscriptions, opened);
    return new Refuse(ToGrpcStatus(opened));
  }
  return new SubscribeReactor(this, context, *std::move(identity), request->after_sequence(), *std::move(types));
}

grpc::ServerUnaryReactor* MinistryService::ListInboundRecords(grpc::CallbackServerContext* context,
                                                              const v1::ListInboundRecordsRequest* request,
                                                              v1::ListInboundRecordsResponse* response) {
  return ServeUnary(
      context, audit_, workers_, response,
      [this](const std::string& identity) {
        return Admit(identity, "ListInboundRecords", v1::RECORD_TYPE_UNSPECIFIED);
      },
      [this, request](const std::string& identity) { return reader_->List(identity, *request); });
}

}  // namespace iicc::ministry
