#include "gateway/server/health_service.h"

#include <utility>

namespace iicc::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: writes the status, then each change (only the latest if
// several come while a write is in flight), until the client goes away or
// the state closes.
class HealthState::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  // Registered with `state` by the caller, under its lock.
  Watcher(HealthState* state, std::string service, HealthCheckResponse::ServingStatus initial)
      : state_(state), service_(std::move(service)) {
    absl::MutexLock lock(&mu_);
    WriteLocked(initial);
  }

  ~Watcher() override {
    absl::MutexLock lock(&state_->mu_);
    state_->watchers_.erase(this);
  }

  // From the state, under its lock.
  void Changed(HealthCheckResponse::ServingStatus status, bool closing) {
    absl::MutexLock lock(&mu_);
    closing_ = closing_ || closing;
    if (writing_) {
      pending_ = status;
      has_pending_ = true;
    } else if (status != last_) {
      WriteLocked(status);
    } else if (closing_) {
      FinishLocked(ShuttingDown());
    }
  }

  const std::string& service() const { return service_; }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || cancelled_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
    } else if (has_pending_ && pending_ != last_) {
      has_pending_ = false;
      WriteLocked(pending_);
    } else if (closing_) {
      FinishLocked(ShuttingDown());
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!writing_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
    // Else OnWriteDone finishes, whatever the write's outcome.
  }

  void OnDone() override { delete this; }

 private:
  static grpc::Status ShuttingDown() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down");
  }

  void WriteLocked(HealthCheckResponse::ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    last_ = status;
    response_.set_status(status);
    writing_ = true;
    StartWrite(&response_);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  HealthState* const state_;
  const std::string service_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);  // The write in flight.
  HealthCheckResponse::ServingStatus last_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  HealthCheckResponse::ServingStatus pending_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthState::HealthState(std::vector<std::string> services) : services_(services.begin(), services.end()) {}

HealthCheckResponse::ServingStatus HealthState::StatusOf(const std::string& service) const {
  if (!service.empty() && !services_.contains(service)) return HealthCheckResponse::SERVICE_UNKNOWN;
  return serving_ && !closed_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

void HealthState::Set(bool serving) {
  absl::MutexLock lock(&mu_);
  if (closed_ || serving_ == serving) return;
  serving_ = serving;
  for (Watcher* watcher : watchers_) watcher->Changed(StatusOf(watcher->service()), /*closing=*/false);
}

void HealthState::Close() {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  for (Watcher* watcher : watchers_) watcher->Changed(StatusOf(watcher->service()), /*closing=*/true);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context, const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  HealthCheckResponse::ServingStatus status;
  {
    absl::MutexLock lock(&state_->mu_);
    status = state_->StatusOf(request->service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext* /*context*/,
                                                                    const HealthCheckRequest* request) {
  absl::MutexLock lock(&state_->mu_);
  if (state_->closed_) {
    class Closed final : public grpc::ServerWriteReactor<HealthCheckResponse> {
     public:
      Closed() {
        response_.set_status(HealthCheckResponse::NOT_SERVING);
        StartWriteAndFinish(&response_, grpc::WriteOptions(),
                            grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down"));
      }
      void OnDone() override { delete this; }

     private:
      HealthCheckResponse response_;
    };
    return new Closed;
  }
  auto* watcher = new HealthState::Watcher(state_, request->service(), state_->StatusOf(request->service()));
  state_->watchers_.insert(watcher);
  return watcher;
}

}  // namespace iicc::server
