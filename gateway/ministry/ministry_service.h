// gRPC service iicc.v1.MinistryGateway (callback API). Moves messages between
// gRPC and RecordAcceptor / InboxReader; blocking store work runs on a worker
// pool, never on gRPC's threads.
#ifndef IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
#define IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "gateway/common/sequence_notifier.h"
#include "gateway/common/thread_pool.h"
#include "gateway/ministry/inbox_reader.h"
#include "gateway/ministry/record_acceptor.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace iicc::ministry {

// Does not own its dependencies; they must outlive the server it is
// registered with (including its Shutdown).
class MinistryService final : public v1::MinistryGateway::CallbackService {
 public:
  // `inbox` is published with the inbox high-water mark after each commit;
  // subscriptions wait on it.
  // `audit` takes the entries of authentication failures.
  MinistryService(RecordAcceptor* acceptor, const InboxReader* reader, store::Store* audit, SequenceNotifier* inbox,
                  ThreadPool* workers);
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
  class SubmitStreamReactor;
  friend class SubmitStreamReactor;

  RecordAcceptor* const acceptor_;
  const InboxReader* const reader_;
  store::Store* const audit_;
  SequenceNotifier* const inbox_;
  ThreadPool* const workers_;

  absl::Mutex mu_;
  absl::flat_hash_set<SubmitStreamReactor*> streams_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Gives each unary Submit a request on its own arena that the handler may
  // change in place.
  const std::unique_ptr<SubmitAllocator> submit_allocator_;
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
