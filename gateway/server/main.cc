// iicc-gateway: one IICC Exchange gateway.
//
//   iicc-gateway --config gateway/config/kz.textproto
//   iicc-gateway --config FILE --check-config   # validate and exit
//
// Exit codes: 0 after a clean shutdown (SIGTERM, SIGINT) or a valid
// --check-config; 1 when the configuration is invalid or the gateway cannot
// start; 2 for bad command-line usage. --check-config writes nothing.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sched.h>
#endif

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/common/log.h"
#include "gateway/config/config_loader.h"
#include "gateway/server/gateway.h"

namespace {

constexpr char kUsage[] =
    "usage: iicc-gateway --config FILE [--check-config]\n"
    "  --config FILE     the gateway's configuration (iicc.v1.GatewayConfig, text format)\n"
    "  --check-config    validate the configuration and its certificates, then exit\n";

}  // namespace

int main(int argc, char** argv) {
  // absl::Mutex records every lock order in a graph to report deadlocks,
  // which Debian's build leaves on: a few percent of the gateway's CPU on
  // its hot path (docs/performance.md). The unit tests, which do not run
  // main(), keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#if defined(__GLIBC__)
  // glibc gives threads up to 8 malloc arenas per core. The gateway has over
  // 50 threads, and each arena kept its own high-water mark: RSS rose from
  // about 30 to 55 MiB under load and crept up in a long soak. One arena per
  // core (at least 2) keeps it near 33 MiB, for about 10% of peak
  // throughput (docs/performance.md). MALLOC_ARENA_MAX or
  // glibc.malloc.arena_max in GLIBC_TUNABLES, when set, still decides.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr &&
      (tunables == nullptr || std::strstr(tunables, "glibc.malloc.arena_max") == nullptr)) {
    // The CPUs this process may run on (a container's, not the host's).
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    const int cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 2;
    mallopt(M_ARENA_MAX, std::max(2, cores));
  }
#endif
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(strlen("--config="));
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "iicc-gateway: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  // Signals are taken synchronously by this thread; block them before any
  // other thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<iicc::v1::GatewayConfig> config = iicc::config::LoadGatewayConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "iicc-gateway: invalid configuration:\n%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (check_only) {
    if (absl::Status checked = iicc::server::Gateway::Check(*config); !checked.ok()) {
      std::fprintf(stderr, "iicc-gateway: %s\n", std::string(checked.message()).c_str());
      return 1;
    }
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  absl::StatusOr<std::unique_ptr<iicc::server::Gateway>> gateway = iicc::server::Gateway::Create(*config);
  if (!gateway.ok()) {
    std::fprintf(stderr, "iicc-gateway: %s\n", std::string(gateway.status().message()).c_str());
    return 1;
  }
  if (absl::Status started = (*gateway)->Start(); !started.ok()) {
    std::fprintf(stderr, "iicc-gateway: %s\n", std::string(started.message()).c_str());
    return 1;
  }

  int signal_number = 0;
  // SIGHUP reloads the policy (a bad file is logged and refused).
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    (*gateway)->ReloadPolicy().IgnoreError();
  }
  iicc::Log(iicc::LogLevel::kInfo, "gateway.stopping", {{"signal", strsignal(signal_number)}});
  // Stops accepting, finishes calls and the delivery window in flight within
  // the grace period, then closes the store.
  (*gateway)->Shutdown(absl::Seconds(config->shutdown_grace().seconds()) +
                       absl::Nanoseconds(config->shutdown_grace().nanos()));
  gateway->reset();
  iicc::Log(iicc::LogLevel::kInfo, "gateway.exited");
  return 0;
}
