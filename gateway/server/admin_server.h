// The admin HTTP listener for operators (docs/operations.md):
//
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready", or 503 naming each failing check
//   GET /status   200, iicc.v1.GatewayStatus as JSON
//   GET /metrics  200, Prometheus text format 0.0.4
//
// Plain HTTP and no authentication: it shows no record data, and belongs on
// loopback or a management network. Built on Debian's cpp-httplib, kept out
// of this header.
#ifndef IICC_GATEWAY_SERVER_ADMIN_SERVER_H_
#define IICC_GATEWAY_SERVER_ADMIN_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace iicc::server {

// What the endpoints answer; each is called on the listener's threads.
struct AdminHandlers {
  // Whether the gateway is ready, and the text to answer (the failing
  // checks when it is not).
  std::function<std::pair<bool, std::string>()> readiness;
  // The /status document (JSON).
  std::function<std::string()> status;
  // The /metrics document (Prometheus text).
  std::function<std::string()> metrics;
};

class AdminServer {
 public:
  // Listens on `address` (host:port, or [v6]:port) and serves on a thread of
  // its own. UNAVAILABLE if it cannot listen there.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& address, AdminHandlers handlers);

  // Stops listening and joins; calls in progress finish first.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

 private:
  AdminServer(std::unique_ptr<httplib::Server> http, AdminHandlers handlers);

  const AdminHandlers handlers_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> listener_done_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace iicc::server

#endif  // IICC_GATEWAY_SERVER_ADMIN_SERVER_H_
