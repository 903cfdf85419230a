// gRPC service iicc.v1.MinistryGateway (callback API). Moves messages between
// gRPC and RecordAcceptor / InboxReader; blocking store work runs on a worker
// pool, never on gRPC's threads.
#ifndef IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
#define IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_

#include <memory>

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

 private:
  class SubmitAllocator;

  RecordAcceptor* const acceptor_;
  const InboxReader* const reader_;
  store::Store* const audit_;
  SequenceNotifier* const inbox_;
  ThreadPool* const workers_;
  // Gives each unary Submit a request on its own arena that the handler may
  // change in place.
  const std::unique_ptr<SubmitAllocator> submit_allocator_;
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_MINISTRY_SERVICE_H_
