#include "gateway/server/admin_server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/common/log.h"

namespace iicc::server {
namespace {

// Scrapes and probes are small and few: two threads, short timeouts, and no
// request bodies.
constexpr int kThreads = 4;
constexpr int kTimeoutSeconds = 5;
// An idle keep-alive connection holds a thread: let go of it soon.
constexpr int kKeepAliveSeconds = 1;
constexpr size_t kMaxPayloadBytes = 1024;

constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& address, AdminHandlers handlers) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("admin address '", address, "' is not host:port"));
  }
  absl::string_view host = absl::string_view(address).substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");

  auto http = std::make_unique<httplib::Server>();
  http->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  http->set_read_timeout(kTimeoutSeconds);
  http->set_write_timeout(kTimeoutSeconds);
  http->set_payload_max_length(kMaxPayloadBytes);
  http->set_keep_alive_timeout(kKeepAliveSeconds);
  // httplib's default options add SO_REUSEPORT, which would let a second
  // gateway bind the same admin port and answer half the probes: only
  // SO_REUSEADDR here (a restarted gateway gets its port back at once).
  http->set_socket_options([](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (!http->bind_to_port(std::string(host), port)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (admin.listen_address: in use, or not an address here)"));
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(http), std::move(handlers)));
}

AdminServer::AdminServer(std::unique_ptr<httplib::Server> http, AdminHandlers handlers)
    : handlers_(std::move(handlers)), http_(std::move(http)) {
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    auto [ready, text] = handlers_.readiness();
    response.status = ready ? 200 : 503;
    response.set_content(text, "text/plain; charset=utf-8");
  });
  http_->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(handlers_.status(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(handlers_.metrics(), kPrometheusText);
  });
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    listener_done_ = true;
    // Returns before stop() only if accepting failed for good.
    if (!stopping_) Log(LogLevel::kError, "admin.listener_failed", {{"error", "the admin listener stopped accepting"}});
  });
  // httplib's stop() does nothing until the accept loop runs: wait for it,
  // so that the destructor can always stop it.
  while (!http_->is_running() && !listener_done_) absl::SleepFor(absl::Milliseconds(1));
}

AdminServer::~AdminServer() {
  stopping_ = true;
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace iicc::server
