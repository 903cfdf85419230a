#include "tests/testing/gateway_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace iicc::testing {

GatewayProcess::GatewayProcess(std::string side, const TestPki& pki, const std::string& work_dir, int ministry_port,
                               int peer_port, int peer_target_port)
    : side_(std::move(side)), pki_(pki), ministry_port_(ministry_port), peer_port_(peer_port) {
  const std::string other = side_ == "kz" ? "uz" : "kz";
  const std::string dir = work_dir + "/" + side_;
  RunShell("mkdir -p '" + dir + "'");
  config_path_ = dir + "/" + side_ + ".textproto";
  log_path_ = dir + "/gateway.log";

  config_.set_jurisdiction(side_ == "kz" ? v1::JURISDICTION_KZ : v1::JURISDICTION_UZ);
  config_.set_data_dir(dir + "/data");
  v1::MinistryFaceConfig* ministry = config_.mutable_ministry_face();
  ministry->set_listen_address("127.0.0.1:" + std::to_string(ministry_port));
  ministry->mutable_tls()->set_cert_file(pki.File(side_, "gateway.crt"));
  ministry->mutable_tls()->set_key_file(pki.File(side_, "gateway.key"));
  ministry->mutable_tls()->set_ca_file(pki.File(side_, "ca.crt"));
  ministry->mutable_tls()->add_crl_files(pki.File(side_, "ca.crl"));
  v1::PeerLinkConfig* peer = config_.mutable_peer();
  peer->set_listen_address("127.0.0.1:" + std::to_string(peer_port));
  peer->mutable_tls()->set_cert_file(pki.File(side_, "gateway.crt"));
  peer->mutable_tls()->set_key_file(pki.File(side_, "gateway.key"));
  peer->mutable_tls()->set_ca_file(pki.File(other, "ca.crt"));
  peer->mutable_tls()->add_crl_files(pki.File(other, "ca.crl"));
  peer->set_peer_spiffe_id("spiffe://" + other + ".iicc/gateway");
  peer->set_peer_address("127.0.0.1:" + std::to_string(peer_target_port));
  // Tests want a quick reconnection after a peer comes back.
  peer->mutable_initial_backoff()->set_nanos(50'000'000);
  peer->mutable_max_backoff()->set_nanos(500'000'000);
  config_.set_policy_file(SourceDir() + "/gateway/config/" + side_ + ".policy.textproto");
  v1::PseudonymKey* key = config_.add_pseudonym_keys();
  key->set_key_id(side_ + "-dev");
  key->set_key_file(pki.File(side_, "pseudonym.key"));
  config_.mutable_signing()->set_cert_file(pki.File(side_, "signing.crt"));
  config_.mutable_signing()->set_key_file(pki.File(side_, "signing.key"));
  config_.mutable_admin()->set_listen_address(admin_port_.address());
  // Readiness follows a broken store or certificate within a test's patience.
  config_.mutable_admin()->mutable_check_interval()->set_nanos(200'000'000);
  v1::MinistryIdentity* client = config_.add_ministries();
  client->set_spiffe_id("spiffe://" + side_ + ".iicc/ministry/ministry-client");
  for (v1::Role role : {v1::ROLE_SUBMIT, v1::ROLE_READ, v1::ROLE_STATUS}) client->add_grants()->set_role(role);
}

GatewayProcess::GatewayProcess(std::string side, const TestPki& pki, const std::string& work_dir,
                               const PairPorts& ports)
    : GatewayProcess(side, pki, work_dir, side == "kz" ? ports.kz_ministry.port() : ports.uz_ministry.port(),
                     side == "kz" ? ports.kz_peer.port() : ports.uz_peer.port(),
                     side == "kz" ? ports.uz_peer.port() : ports.kz_peer.port()) {}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) Kill();
}

void GatewayProcess::WriteConfig() const {
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config_, &text));
  std::ofstream out(config_path_, std::ios::trunc);
  out << text;
}

void GatewayProcess::Start(const std::vector<std::string>& env, bool with_faults) {
  ASSERT_LT(pid_, 0) << "already running";
  WriteConfig();
  const std::string binary = BinDir() + (with_faults ? "/iicc-gateway-faults" : "/iicc-gateway");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDERR_FILENO);
      dup2(log, STDOUT_FILENO);
    }
    for (const std::string& assignment : env) putenv(const_cast<char*>(assignment.c_str()));
    execl(binary.c_str(), binary.c_str(), "--config", config_path_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
}

bool GatewayProcess::WaitServing(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string other = side_ == "kz" ? "uz" : "kz";
  std::shared_ptr<grpc::Channel> channels[] = {MinistryChannel(), PeerChannel(other, "gateway")};
  for (const auto& channel : channels) {
    while (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)))) {
      if (!Running() || absl::Now() > deadline) return false;
    }
  }
  return true;
}

void GatewayProcess::StartAndWait(const std::vector<std::string>& env, bool with_faults) {
  Start(env, with_faults);
  ASSERT_TRUE(WaitServing()) << side_ << " gateway did not come up; its log:\n" << log();
}

void GatewayProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void GatewayProcess::Signal(int signal_number) {
  if (pid_ > 0) kill(pid_, signal_number);
}

int GatewayProcess::WaitExit(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

int GatewayProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const int code = WaitExit(timeout);
  if (pid_ > 0) Kill();
  return code;
}

bool GatewayProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string GatewayProcess::log() const { return ReadFileOrEmpty(log_path_); }

std::shared_ptr<grpc::Channel> GatewayProcess::MinistryChannel(const std::string& cert_name) const {
  return MutualTlsChannel("127.0.0.1:" + std::to_string(ministry_port_), pki_.File(side_, "ca.crt"),
                          pki_.File(side_, cert_name + ".crt"), pki_.File(side_, cert_name + ".key"));
}

std::unique_ptr<v1::MinistryGateway::Stub> GatewayProcess::MinistryStub(const std::string& cert_name) const {
  return v1::MinistryGateway::NewStub(MinistryChannel(cert_name));
}

std::shared_ptr<grpc::Channel> GatewayProcess::PeerChannel(const std::string& cert_side,
                                                           const std::string& cert_name) const {
  return MutualTlsChannel("127.0.0.1:" + std::to_string(peer_port_), pki_.File(side_, "ca.crt"),
                          pki_.File(cert_side, cert_name + ".crt"), pki_.File(cert_side, cert_name + ".key"));
}

std::shared_ptr<grpc::Channel> MutualTlsChannel(const std::string& address, const std::string& ca_file,
                                                const std::string& cert_file, const std::string& key_file) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrEmpty(ca_file);
  ssl.pem_cert_chain = ReadFileOrEmpty(cert_file);
  ssl.pem_private_key = ReadFileOrEmpty(key_file);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  // Every channel its own connection: a test's refused handshake must not be
  // hidden by a shared, already authenticated one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

void StopTogether(const std::vector<GatewayProcess*>& gateways, absl::Duration timeout) {
  for (GatewayProcess* gateway : gateways) {
    if (gateway->Running()) gateway->Signal(SIGTERM);
  }
  for (GatewayProcess* gateway : gateways) {
    if (gateway->Running() && gateway->WaitExit(timeout) == -1) gateway->Kill();
  }
}

v1::Record SampleRecord(const std::string& name) {
  v1::Record record;
  const std::string json = ReadFileOrEmpty(SourceDir() + "/clients/examples/" + name + ".json");
  const auto status = google::protobuf::util::JsonStringToMessage(json, &record);
  EXPECT_TRUE(status.ok()) << name << ": " << status.message();
  return record;
}

v1::SubmitRequest MakeSubmit(const std::string& request_id, const v1::Record& record) {
  v1::SubmitRequest request;
  request.set_request_id(request_id);
  *request.mutable_record() = record;
  return request;
}

}  // namespace iicc::testing
