// Counts every finished gRPC call on both faces in
// iicc_grpc_requests_total{service,method,code} (gateway/metrics).
#ifndef IICC_GATEWAY_SERVER_REQUEST_METRICS_H_
#define IICC_GATEWAY_SERVER_REQUEST_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

namespace iicc::server {

class RequestMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace iicc::server

#endif  // IICC_GATEWAY_SERVER_REQUEST_METRICS_H_
