// A real iicc-gateway process for integration tests: its configuration is
// written for the test, it listens on ports the test reserved, and it can be
// started, killed with SIGKILL, stopped with SIGTERM and started again on the
// same ports and data.
#ifndef IICC_TESTS_TESTING_GATEWAY_PROCESS_H_
#define IICC_TESTS_TESTING_GATEWAY_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "iicc/v1/config.pb.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"
#include "iicc/v1/records.pb.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {

// The ports of one gateway pair, reserved for the test's lifetime.
struct PairPorts {
  ReservedPort kz_ministry, kz_peer, uz_ministry, uz_peer;
};

class GatewayProcess {
 public:
  // A gateway for `side` ("kz" or "uz") with its data and log under
  // `work_dir/side`, the certificates of `pki` (with the CRLs, ca.crl, of
  // both CAs), and the demo's identities: `ministry-client` may do
  // everything. Edit config() before Start().
  GatewayProcess(std::string side, const TestPki& pki, const std::string& work_dir, int ministry_port, int peer_port,
                 int peer_target_port);
  // The pair's `side` gateway on `ports`.
  GatewayProcess(std::string side, const TestPki& pki, const std::string& work_dir, const PairPorts& ports);
  ~GatewayProcess();

  v1::GatewayConfig& config() { return config_; }
  const std::string& side() const { return side_; }
  const std::string& config_path() const { return config_path_; }
  std::string db_path() const { return config_.data_dir() + "/gateway.db"; }

  // Writes config() to config_path().
  void WriteConfig() const;

  // Writes the configuration and starts the process (stderr appended to
  // log()), with `env` ("NAME=value") added to its environment. With
  // `with_faults`, runs the build with test-only crash points.
  void Start(const std::vector<std::string>& env = {}, bool with_faults = false);
  // Waits until both faces complete a TLS handshake. False on timeout or if
  // the process died.
  bool WaitServing(absl::Duration timeout = absl::Seconds(20));
  // Start() then WaitServing(), failing the test if it does not come up.
  void StartAndWait(const std::vector<std::string>& env = {}, bool with_faults = false);

  // SIGKILL, then reaps the process.
  void Kill();
  // Sends `signal_number` and returns at once.
  void Signal(int signal_number);
  // SIGTERM; returns what WaitExit returns (and kills the process if it is
  // still running after `timeout`).
  int Terminate(absl::Duration timeout = absl::Seconds(15));
  // Reaps the process if it has exited; returns whether it is still running.
  bool Running();
  // Waits for the process to exit by itself. Returns its exit code, 128 plus
  // the signal number if a signal ended it (as a shell does), or -1 if it is
  // still running after `timeout`.
  int WaitExit(absl::Duration timeout);

  // Everything the process wrote to stderr.
  std::string log() const;

  // A channel to the ministry face presenting `cert_name` of the own side
  // (e.g. "ministry-client"), trusting the own CA.
  std::shared_ptr<grpc::Channel> MinistryChannel(const std::string& cert_name = "ministry-client") const;
  std::unique_ptr<v1::MinistryGateway::Stub> MinistryStub(const std::string& cert_name = "ministry-client") const;

  // A channel to the peer face presenting `cert_side`/`cert_name` and
  // trusting the own side's CA.
  std::shared_ptr<grpc::Channel> PeerChannel(const std::string& cert_side, const std::string& cert_name) const;

  int ministry_port() const { return ministry_port_; }
  int peer_port() const { return peer_port_; }
  // The admin HTTP listener's port, reserved by this object for its
  // lifetime (so a restarted gateway comes back on it).
  int admin_port() const { return admin_port_.port(); }

 private:
  const std::string side_;
  const TestPki& pki_;
  const int ministry_port_;
  const int peer_port_;
  ReservedPort admin_port_;
  std::string config_path_;
  std::string log_path_;
  v1::GatewayConfig config_;
  pid_t pid_ = -1;
};

// SIGTERM to every gateway at once (each one's forwarder then ends its
// stream to the others, so none waits for another's open stream); waits for
// each to exit, and kills any still running after `timeout`.
void StopTogether(const std::vector<GatewayProcess*>& gateways, absl::Duration timeout = absl::Seconds(15));

// The sample records of clients/examples/ (enterprise.json, cargo.json,
// investment.json).
v1::Record SampleRecord(const std::string& name);

// A SubmitRequest for `record` with `request_id`.
v1::SubmitRequest MakeSubmit(const std::string& request_id, const v1::Record& record);

// A channel with mutual TLS to `address`, trusting `ca_file`, presenting
// `cert_file`/`key_file`; the target name is checked against "localhost".
std::shared_ptr<grpc::Channel> MutualTlsChannel(const std::string& address, const std::string& ca_file,
                                                const std::string& cert_file, const std::string& key_file);

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_GATEWAY_PROCESS_H_
