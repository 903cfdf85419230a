// grpc.health.v1 on both faces (proto/grpc/health/v1/health.proto), in
// place of gRPC's default service: the status follows the gateway's
// readiness, and Watch streams end when the gateway shuts down instead of
// holding the shutdown until its deadline.
//
//   HealthState health({"iicc.v1.MinistryGateway"});
//   builder.RegisterService(new HealthService(&health));  // One per server.
//   health.Set(true);   // SERVING; each Watch gets the change.
//   health.Close();     // NOT_SERVING for good; each Watch ends.
#ifndef IICC_GATEWAY_SERVER_HEALTH_SERVICE_H_
#define IICC_GATEWAY_SERVER_HEALTH_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace iicc::server {

// The serving status of one server's services, shared with its Watch
// streams. Thread-safe.
class HealthState {
 public:
  // `services`: the full names this server serves besides "" (the server as
  // a whole). Starts NOT_SERVING.
  explicit HealthState(std::vector<std::string> services);

  // SERVING or NOT_SERVING, for every service at once. Ignored after Close().
  void Set(bool serving);
  // NOT_SERVING from now on; every Watch gets it and then ends.
  void Close();

  class Watcher;

 private:
  friend class HealthService;
  friend class Watcher;

  // The status of `service`: SERVING, NOT_SERVING, or SERVICE_UNKNOWN.
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::flat_hash_set<std::string> services_;
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // Does not own `state`, which must outlive the server.
  explicit HealthService(HealthState* state) : state_(state) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context, const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  HealthState* const state_;
};

}  // namespace iicc::server

#endif  // IICC_GATEWAY_SERVER_HEALTH_SERVICE_H_
