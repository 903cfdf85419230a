// iicc-echo-server: the baseline of the gateway benchmark (issue #9). A gRPC
// server with mutual TLS and nothing else: it echoes iicc.bench.Echo calls
// (echo.proto), so that iicc-echo-load measures what gRPC and TLS alone cost
// on this machine. See tests/bench/echo/README.md.
//
//   iicc-echo-server --listen 127.0.0.1:0 --cert uz/gateway.crt --key uz/gateway.key --ca kz/ca.crt
//
// Prints one line, "iicc-echo-server: listening on HOST:PORT", once it
// serves (with the port chosen when --listen asks for port 0), and nothing per
// request. Runs until SIGTERM or SIGINT, then shuts down and exits 0. Exit
// codes: 1 when it cannot start (a file, the certificate, the port), 2 for bad
// usage.
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "gateway/common/files.h"
#include "tests/bench/echo/echo.grpc.pb.h"

namespace {

using iicc::bench::EchoMessage;

// Reads `path`, or says on stderr why it cannot.
bool ReadPem(const std::string& path, std::string* pem) {
  absl::StatusOr<std::string> contents = iicc::ReadFileToString(path);
  if (!contents.ok()) {
    std::fprintf(stderr, "iicc-echo-server: %s\n", std::string(contents.status().message()).c_str());
    return false;
  }
  *pem = *std::move(contents);
  return true;
}

// The Stream reactor: read, write the echo, read again. One message at a time,
// like the gateway's SubmitStream, so that both are measured on the same
// pattern. At most one operation is outstanding, so the reactions never run
// concurrently and need no lock.
class EchoStreamReactor final : public grpc::ServerBidiReactor<EchoMessage, EchoMessage> {
 public:
  EchoStreamReactor() { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client half-closed, or went away.
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&message_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke while echoing"));
      return;
    }
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  EchoMessage message_;
};

class EchoService final : public iicc::bench::Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const EchoMessage* request,
                                  EchoMessage* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<EchoMessage, EchoMessage>* Stream(grpc::CallbackServerContext* context) override {
    return new EchoStreamReactor();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "iicc-echo-server: echoes iicc.bench.Echo calls over mutual TLS, the baseline of the gateway benchmark.\n"
      "Runs until SIGTERM or SIGINT. Example:\n"
      "  iicc-echo-server --listen 127.0.0.1:0 --cert pki/uz/gateway.crt --key pki/uz/gateway.key --ca pki/kz/ca.crt"};
  std::string listen;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free port (printed)")->required();
  app.add_option("--cert", cert_file, "PEM server certificate")->required();
  app.add_option("--key", key_file, "PEM private key of --cert")->required();
  app.add_option("--ca", ca_file, "PEM CA certificate that clients' certificates must chain to")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadPem(ca_file, &tls.pem_root_certs) || !ReadPem(key_file, &pair.private_key) ||
      !ReadPem(cert_file, &pair.cert_chain)) {
    return 1;
  }
  tls.pem_key_cert_pairs.push_back(std::move(pair));

  // Signals are taken synchronously by this thread (as in iicc-gateway);
  // block them before gRPC starts its threads, which inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::SslServerCredentials(tls), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    // gRPC has logged why (a certificate that does not match its key, a port
    // in use, ...).
    std::fprintf(stderr, "iicc-echo-server: cannot serve on %s\n", listen.c_str());
    return 1;
  }
  std::printf("iicc-echo-server: listening on %s:%d\n", listen.substr(0, listen.rfind(':')).c_str(), port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  // Calls still open (a load generator's stream) are cancelled after a second.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
