// iicc-echo-load: the load generator of the benchmark baseline (issue #9).
// Keeps exactly --inflight messages outstanding against an iicc.bench.Echo
// server (iicc-echo-server, directly or through a proxy) over mutual TLS, and
// prints one line:
//
//   rate=<messages per second> p50_ms=<x> p99_ms=<y> count=<n> errors=<e>
//
// --mode unary: --inflight concurrent Unary calls on one channel; each answer
// starts the next call. --mode stream: one Stream call with --inflight
// messages outstanding; each echo sends the next message.
//
// A message's latency is from the moment it is handed to gRPC (sent_nanos, on
// this process's steady clock) to its echo's arrival. Only echoes that arrive
// within the measured window, --seconds long after --warmup seconds, are
// counted; after the window no new message is sent and those outstanding are
// awaited. See tests/bench/echo/README.md.
//
// Exit codes: 0 when every call succeeded and at least one echo was counted;
// 1 when the target cannot be reached, a call failed (the line is printed
// first) or nothing was counted; 2 for bad usage.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/common/files.h"
#include "tests/bench/echo/echo.grpc.pb.h"

namespace {

using iicc::bench::Echo;
using iicc::bench::EchoMessage;

// How long the target may take to accept the connection (TCP and TLS).
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
// How long calls still outstanding after the window may take to finish; then
// their deadline fails them.
constexpr absl::Duration kDrainTimeout = absl::Seconds(10);
// gRPC's default limit on a received message is 4 MiB; the payload and its
// envelope must stay under it.
constexpr int kMaxPayloadBytes = 4 * 1000 * 1000;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string target;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string authority;  // Empty: the host of --target.
  std::string mode = "unary";
  double seconds = 10;
  double warmup = 2;
  int inflight = 64;
  int size = 1024;
};

// What a run measured: the latency of each echo that arrived within the
// window, and the failures. Thread-safe: every call's reactions record here.
class Recorder {
 public:
  // Counts echoes that arrive in [window_start, window_end) (steady clock,
  // nanoseconds).
  Recorder(int64_t window_start, int64_t window_end) : window_start_(window_start), window_end_(window_end) {}

  // Records the echo of a message sent at `sent_nanos` that arrived at
  // `now_nanos`. Returns whether the run goes on: false once the window is
  // over, when no new message should be sent.
  bool Echoed(int64_t sent_nanos, int64_t now_nanos) {
    if (now_nanos >= window_end_) {
      return false;
    }
    if (now_nanos >= window_start_) {
      absl::MutexLock lock(&mu_);
      latencies_.push_back(now_nanos - sent_nanos);
    }
    return true;
  }

  // Counts one failed call (or broken echo); the first one's `what` is kept
  // for stderr.
  void Failed(const std::string& what) {
    absl::MutexLock lock(&mu_);
    if (errors_++ == 0) {
      first_error_ = what;
    }
  }

  // The latencies recorded, sorted. Call once the run is over.
  std::vector<int64_t> SortedLatencies() {
    absl::MutexLock lock(&mu_);
    std::sort(latencies_.begin(), latencies_.end());
    return latencies_;
  }

  int64_t errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  const int64_t window_start_;
  const int64_t window_end_;
  absl::Mutex mu_;
  std::vector<int64_t> latencies_ ABSL_GUARDED_BY(mu_);
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

std::string Describe(const grpc::Status& status) {
  return "status " + std::to_string(status.error_code()) + ": " + status.error_message();
}

// --mode unary: `inflight` Unary calls at all times until the window ends.
// Each answer starts the next call from gRPC's callback thread; a failed call
// is not replaced (the run fails anyway).
class UnaryLoad {
 public:
  // `stub` and `recorder` must outlive this object. Every call fails at
  // `deadline`.
  UnaryLoad(Echo::Stub* stub, std::string payload, Recorder* recorder, std::chrono::system_clock::time_point deadline)
      : stub_(stub), payload_(std::move(payload)), recorder_(recorder), deadline_(deadline) {}

  // Starts `inflight` calls, then waits until every call has ended or
  // `timeout` has passed. Returns false on the timeout.
  bool Run(int inflight, absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      active_ = inflight;
    }
    for (int i = 0; i < inflight; ++i) {
      StartCall();
    }
    const auto all_ended = [](int* active) { return *active == 0; };
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(+all_ended, &active_), timeout);
  }

 private:
  // One call's state: a ClientContext serves one call only.
  struct Call {
    grpc::ClientContext context;
    EchoMessage request;
    EchoMessage response;
  };

  void StartCall() {
    auto* call = new Call;
    call->context.set_deadline(deadline_);
    call->request.set_payload(payload_);
    call->request.set_sent_nanos(NowNanos());
    stub_->async()->Unary(&call->context, &call->request, &call->response,
                          [this, call](grpc::Status status) { OnDone(call, status); });
  }

  void OnDone(Call* call, const grpc::Status& status) {
    const int64_t now = NowNanos();
    std::unique_ptr<Call> done(call);
    bool next = false;
    if (!status.ok()) {
      recorder_->Failed("Unary failed: " + Describe(status));
    } else if (done->response.payload().size() != payload_.size()) {
      recorder_->Failed("Unary echoed " + std::to_string(done->response.payload().size()) + " bytes of " +
                        std::to_string(payload_.size()));
    } else {
      next = recorder_->Echoed(done->response.sent_nanos(), now);
    }
    if (next) {
      StartCall();
      return;
    }
    absl::MutexLock lock(&mu_);
    --active_;
  }

  Echo::Stub* const stub_;
  const std::string payload_;
  Recorder* const recorder_;
  const std::chrono::system_clock::time_point deadline_;
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;  // Calls started and not yet ended.
};

// --mode stream: one Stream call with `inflight` messages outstanding until
// the window ends, then a half-close once every echo is back. gRPC allows one
// write in flight at a time: messages due while one is being written wait in
// `unsent_` and are stamped when handed to gRPC.
class StreamLoad final : public grpc::ClientBidiReactor<EchoMessage, EchoMessage> {
 public:
  // `recorder` must outlive this object. The call fails at `deadline`.
  StreamLoad(std::string payload, Recorder* recorder, std::chrono::system_clock::time_point deadline)
      : payload_(std::move(payload)), recorder_(recorder) {
    context_.set_deadline(deadline);
    request_.set_payload(payload_);
  }

  // Opens the stream on `stub`, sends `inflight` messages and waits until the
  // call has ended or `timeout` has passed. Returns false on the timeout.
  bool Run(Echo::Stub* stub, int inflight, absl::Duration timeout) {
    stub->async()->Stream(&context_, this);
    {
      absl::MutexLock lock(&mu_);
      unsent_ = inflight;
      WriteNextLocked();
    }
    StartRead(&response_);
    StartCall();
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), timeout)) {
      // End the call, and wait for OnDone, before this object goes away.
      context_.TryCancel();
      mu_.Await(absl::Condition(&done_));
      return false;
    }
    return true;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) {  // Otherwise the stream broke: OnDone has the status.
      WriteNextLocked();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The stream ended: OnDone has the status.
      return;
    }
    const int64_t now = NowNanos();
    bool more = false;
    if (response_.payload().size() != payload_.size()) {
      recorder_->Failed("Stream echoed " + std::to_string(response_.payload().size()) + " bytes of " +
                        std::to_string(payload_.size()));
    } else {
      more = recorder_->Echoed(response_.sent_nanos(), now);
    }
    absl::MutexLock lock(&mu_);
    --outstanding_;
    if (more) {
      ++unsent_;
    } else {
      stopping_ = true;
    }
    WriteNextLocked();
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    if (!status.ok()) {
      recorder_->Failed("Stream failed: " + Describe(status));
    } else if (outstanding_ > 0) {
      recorder_->Failed("the server ended the stream with " + std::to_string(outstanding_) + " messages unanswered");
    }
    done_ = true;
  }

 private:
  // Hands the next message to gRPC if none is being written; once the run is
  // stopping and every echo is back, half-closes instead.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || writes_done_) {
      return;
    }
    if (unsent_ > 0 && !stopping_) {
      --unsent_;
      ++outstanding_;
      writing_ = true;
      request_.set_sent_nanos(NowNanos());
      StartWrite(&request_);
    } else if (stopping_ && outstanding_ == 0) {
      writes_done_ = true;
      StartWritesDone();
    }
  }

  const std::string payload_;
  Recorder* const recorder_;
  grpc::ClientContext context_;
  EchoMessage request_;   // Being written while writing_.
  EchoMessage response_;  // Being read; only OnReadDone touches it.
  absl::Mutex mu_;
  int unsent_ ABSL_GUARDED_BY(mu_) = 0;       // Messages due, waiting for the write in flight.
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // Messages handed to gRPC, not yet echoed.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // The window is over: no new message.
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads `path`, or says on stderr why it cannot.
bool ReadPem(const std::string& path, std::string* pem) {
  absl::StatusOr<std::string> contents = iicc::ReadFileToString(path);
  if (!contents.ok()) {
    std::fprintf(stderr, "iicc-echo-load: %s\n", std::string(contents.status().message()).c_str());
    return false;
  }
  *pem = *std::move(contents);
  return true;
}

// The latency at quantile `q` (nearest rank) of `sorted`, in milliseconds.
double QuantileMs(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "iicc-echo-load: keeps N messages in flight against an iicc.bench.Echo server over mutual TLS and prints\n"
      "  rate=<msgs/s> p50_ms=<x> p99_ms=<y> count=<n> errors=<e>\n"
      "Example:\n"
      "  iicc-echo-load --target 127.0.0.1:50051 --cert pki/kz/ministry-client.crt --key pki/kz/ministry-client.key\n"
      "    --ca pki/uz/ca.crt --mode stream --seconds 10"};
  app.footer("Exit codes: 0 all calls succeeded; 1 unreachable, a call failed or nothing counted; 2 bad usage.");
  Options options;
  app.add_option("--target", options.target, "the server, HOST:PORT")->required();
  app.add_option("--cert", options.cert_file, "PEM client certificate")->required();
  app.add_option("--key", options.key_file, "PEM private key of --cert")->required();
  app.add_option("--ca", options.ca_file, "PEM CA certificate that the server's certificate must chain to")->required();
  app.add_option("--authority", options.authority,
                 "the name to verify in the server's certificate, and the :authority sent (default: the host of "
                 "--target)");
  app.add_option("--mode", options.mode, "unary (concurrent calls) or stream (one bidi stream)")
      ->capture_default_str()
      ->check(CLI::IsMember({"unary", "stream"}));
  app.add_option("--seconds", options.seconds, "length of the measured window")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--warmup", options.warmup, "seconds of load before the window, not counted")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--inflight", options.inflight, "messages outstanding at all times")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--size", options.size, "payload bytes per message")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxPayloadBytes));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  grpc::SslCredentialsOptions tls;
  if (!ReadPem(options.ca_file, &tls.pem_root_certs) || !ReadPem(options.key_file, &tls.pem_private_key) ||
      !ReadPem(options.cert_file, &tls.pem_cert_chain)) {
    return 2;
  }
  grpc::ChannelArguments arguments;
  if (!options.authority.empty()) {
    arguments.SetSslTargetNameOverride(options.authority);  // GRPC_SSL_TARGET_NAME_OVERRIDE_ARG
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, grpc::SslCredentials(tls), arguments);
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + kConnectTimeout))) {
    std::fprintf(stderr,
                 "iicc-echo-load: cannot connect to %s within %s: nothing listens there, or the TLS handshake "
                 "failed (check --ca, --cert, --key and --authority against the server's)\n",
                 options.target.c_str(), absl::FormatDuration(kConnectTimeout).c_str());
    return 1;
  }
  std::unique_ptr<Echo::Stub> stub = Echo::NewStub(channel);

  const std::string payload(static_cast<size_t>(options.size), 'x');
  const int64_t start = NowNanos();
  const int64_t window_start = start + static_cast<int64_t>(options.warmup * 1e9);
  const int64_t window_end = window_start + static_cast<int64_t>(options.seconds * 1e9);
  // Every call fails at this deadline: the run, then the drain.
  const auto deadline =
      absl::ToChronoTime(absl::Now() + absl::Seconds(options.warmup + options.seconds) + kDrainTimeout);
  const absl::Duration wait = absl::Seconds(options.warmup + options.seconds) + 2 * kDrainTimeout;
  Recorder recorder(window_start, window_end);
  bool ended = false;
  if (options.mode == "unary") {
    UnaryLoad load(stub.get(), payload, &recorder, deadline);
    ended = load.Run(options.inflight, wait);
  } else {
    StreamLoad load(payload, &recorder, deadline);
    ended = load.Run(stub.get(), options.inflight, wait);
  }
  if (!ended) {
    recorder.Failed("calls still outstanding " + absl::FormatDuration(wait) + " after the start");
  }

  const std::vector<int64_t> latencies = recorder.SortedLatencies();
  const int64_t errors = recorder.errors();
  std::printf("rate=%.1f p50_ms=%.3f p99_ms=%.3f count=%zu errors=%lld\n",
              static_cast<double>(latencies.size()) / options.seconds, QuantileMs(latencies, 0.50),
              QuantileMs(latencies, 0.99), latencies.size(), static_cast<long long>(errors));
  std::fflush(stdout);
  if (errors > 0) {
    std::fprintf(stderr, "iicc-echo-load: %lld failed (the first: %s)\n", static_cast<long long>(errors),
                 recorder.first_error().c_str());
    return 1;
  }
  if (latencies.empty()) {
    std::fprintf(stderr, "iicc-echo-load: no echo arrived within the %g s window\n", options.seconds);
    return 1;
  }
  return 0;
}
