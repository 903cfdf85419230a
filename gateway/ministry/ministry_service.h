// gRPC service iicc.v1.MinistryGateway (callback API). Moves messages between
// gRPC and RecordAcceptor / InboxReader; blocking store work runs on a worker
// pool, never on gRPC's threads. Enforces the per-identity limits
// (CallerLimits) and ends streams idle for longer than
// limits.stream_idle_timeout.
#ifndef IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
#define IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "gateway/common/sequence_notifier.h"
#include "gateway/common/thread_pool.h"
#include "gateway/metrics/metrics.h"
#include "gateway/ministry/caller_limits.h"
#include "gateway/ministry/denial_auditor.h"
#include "gateway/ministry/inbox_reader.h"
#include "gateway/ministry/record_acceptor.h"
#include "gateway/ministry/submit_batcher.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace iicc::ministry {

// Does not own its dependencies; they must outlive the server it is
// registered with (including its Shutdown). Runs one thread of its own, the
// sweeper: it ends idle streams and flushes `denials`' counts.
class MinistryService final : public v1::MinistryGateway::CallbackService {
 public:
  // `inbox` is published with the inbox high-water mark after each commit;
  // subscriptions wait on it.
  // `audit` takes the entries of authentication failures; `denials` those of
  // calls refused by a limit (and, through the acceptor and the reader, for
  // lack of a role). `limits` is taken for every call: one request per unary
  // call, per record of a SubmitStream and per Subscribe. A SubmitStream or
  // Subscribe that waits on its client (for a request, or for it to take a
  // response) for longer than `stream_idle_timeout` is ended.
  MinistryService(RecordAcceptor* acceptor, const InboxReader* reader, store::Store* audit, SequenceNotifier* inbox,
                  ThreadPool* workers, CallerLimits* limits, DenialAuditor* denials,
                  absl::Duration stream_idle_timeout);
  ~MinistryService() override;

  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context, const v1::SubmitRequest* request,
                                   v1::SubmitResponse* response) override;
  grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>* SubmitStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetRecordStatus(grpc::CallbackServerContext* context,
                                            const v1::GetRecordStatusRequest* request,
                                            v1::RecordStatus* response) override;
  grpc::ServerWriteReactor<v1::InboundRecord>* Subscribe(grpc::CallbackServerContext* context,
                                                         const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* ListInboundRecords(grpc::CallbackServerContext* context,
                                               const v1::ListInboundRecordsRequest* request,
                                               v1::ListInboundRecordsResponse* response) override;

  // For a graceful shutdown: each SubmitStream waiting for its next request
  // ends with UNAVAILABLE (the client resends unanswered requests with the
  // same request_id), one answering ends after its answer, and new streams
  // are refused. Subscriptions end through the inbox notifier's Close().
  void Close();

 private:
  class SubmitAllocator;
  class Watched;
  class SubmitStreamReactor;
  class SubscribeReactor;
  friend class SubmitStreamReactor;
  friend class SubscribeReactor;

  // Takes one request of `identity`'s rate for `method`; a refusal
  // (RESOURCE_EXHAUSTED) is counted and audited.
  absl::Status Admit(const std::string& identity, absl::string_view method, v1::RecordType type);
  // Counts and audits a refusal by `limit`.
  void Refused(const std::string& identity, absl::string_view method, metrics::Limit limit, const absl::Status& status);
  // The sweeper thread's loop: ends idle streams, flushes denial counts.
  void Sweep();

  RecordAcceptor* const acceptor_;
  // Submit and SubmitStream records go through it, in batches.
  SubmitBatcher batcher_;
  const InboxReader* const reader_;
  store::Store* const audit_;
  SequenceNotifier* const inbox_;
  ThreadPool* const workers_;
  CallerLimits* const limits_;
  DenialAuditor* const denials_;
  const absl::Duration stream_idle_timeout_;

  absl::Mutex mu_;
  absl::flat_hash_set<SubmitStreamReactor*> streams_ ABSL_GUARDED_BY(mu_);
  // Every open SubmitStream and Subscribe, for the sweeper. A reactor leaves
  // it in its destructor, under mu_: the sweeper may use it while it holds mu_.
  absl::flat_hash_set<Watched*> watched_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool sweeper_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
  // Gives each unary Submit a request on its own arena that the handler may
  // change in place.
  const std::unique_ptr<SubmitAllocator> submit_allocator_;
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
