#include "gateway/server/request_metrics.h"

#include <string>

#include "gateway/metrics/metrics.h"

namespace iicc::server {
namespace {

class RequestMetrics : public grpc::experimental::Interceptor {
 public:
  explicit RequestMetrics(grpc::experimental::ServerRpcInfo* info) : method_(info->method()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics::Default().GrpcRequest(method_, static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
};

}  // namespace

grpc::experimental::Interceptor* RequestMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestMetrics(info);
}

}  // namespace iicc::server
