// The wiring of one gateway: the store, the ministry face, the peer face and
// the forwarder, built from a validated GatewayConfig. Only this component
// knows the concrete store.
#ifndef IICC_GATEWAY_SERVER_GATEWAY_H_
#define IICC_GATEWAY_SERVER_GATEWAY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "iicc/v1/config.pb.h"

namespace iicc::server {

// Create() then Start() then Shutdown() (the destructor shuts down too).
// Not thread-safe: one thread drives the lifecycle.
class Gateway {
 public:
  // Checks what can be checked without touching anything: the certificates
  // and keys, the pseudonym keys, the policy. REQUIRES: `config` passed config::LoadGatewayConfig.
  static absl::Status Check(const v1::GatewayConfig& config);

  // Check(), then creates the data directory and opens and migrates the
  // store. REQUIRES: `config` passed config::LoadGatewayConfig.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(const v1::GatewayConfig& config);

  ~Gateway();

  // Binds both listeners and the admin listener (a port in use is an error:
  // no port sharing), checks readiness once, and starts delivering.
  absl::Status Start();

  // Loads and compiles the policy file again and puts it in force for the
  // next record. A bad file is refused (logged, returned) and the running
  // policy stays. Keys are not reloaded. Thread-safe with the servers.
  absl::Status ReloadPolicy();

  // Graceful stop, within `grace` in all: grpc.health.v1 and /readyz turn
  // NOT_SERVING / 503; both faces stop accepting calls and finish those in
  // progress (the peer's Deliver streams answer what they sent, then end);
  // the forwarder sends nothing new and waits for the receipts of the window
  // in flight. Whatever remains at the deadline is cancelled; nothing
  // acknowledged is lost (it is in the store). Then the admin listener
  // stops. The store closes with the Gateway. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  struct State;
  explicit Gateway(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace iicc::server

#endif  // IICC_GATEWAY_SERVER_GATEWAY_H_
