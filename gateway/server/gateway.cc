#include "gateway/server/gateway.h"

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gateway/common/files.h"
#include "gateway/common/log.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/status_macros.h"
#include "gateway/common/thread_pool.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/exchange/forwarder.h"
#include "gateway/exchange/peer_service.h"
#include "gateway/metrics/metrics.h"
#include "gateway/ministry/caller_limits.h"
#include "gateway/ministry/denial_auditor.h"
#include "gateway/ministry/inbox_reader.h"
#include "gateway/ministry/ministry_service.h"
#include "gateway/ministry/record_acceptor.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/security/certificate_verifier.h"
#include "gateway/security/tls.h"
#include "gateway/server/admin_server.h"
#include "gateway/server/health_service.h"
#include "gateway/server/request_metrics.h"
#include "gateway/store/audit.h"
#include "gateway/store/sqlite_store.h"
#include "gateway/validation/record_validator.h"
#include "google/protobuf/util/json_util.h"
#include "iicc/v1/admin.pb.h"

namespace iicc::server {
namespace {

// Workers for blocking store calls. A worker waiting for its commit costs
// nothing but its stack, and the more calls wait together, the more share
// one commit (the store's group commit): enough for many concurrent clients.
constexpr int kWorkerThreads = 32;

// HTTP/2 keepalive on every connection, both ways: each side pings the
// other after this long without a frame, and drops the connection when the
// ping is not answered within kKeepaliveTimeout, so that a vanished client
// or peer (a cable pulled, a host frozen) does not hold its calls for ever.
// Peers may ping us every 10 s (kMinPingInterval) even without data: ours
// ping every 20 s.
constexpr int kKeepaliveTimeMs = 20000;
constexpr int kKeepaliveTimeoutMs = 10000;
constexpr int kMinPingIntervalMs = 10000;
// A ministry-face connection with no call for this long is closed (GOAWAY;
// the client reconnects when it next calls).
constexpr int kMaxConnectionIdleMs = 15 * 60 * 1000;

// Room for an envelope's header and proof (certificate chain included)
// beyond the record it carries.
constexpr int kEnvelopeOverheadBytes = 64 * 1024;

// The largest message the peer face receives: an envelope is a record
// accepted under limits.max_message_bytes plus its header and proof, and the
// peer face must never refuse what the ministry face accepted.
int PeerFaceMaxMessageBytes(const v1::GatewayConfig& config) {
  return static_cast<int>(config.limits().max_message_bytes()) + kEnvelopeOverheadBytes;
}

validation::ValidationOptions ValidationOptionsOf(const v1::GatewayConfig& config) {
  validation::ValidationOptions options;
  options.extra_units.assign(config.validation().extra_units().begin(), config.validation().extra_units().end());
  return options;
}

// The signing key, which must sign as the identity the peer pins: the one
// this gateway presents on the link. Otherwise the peer would refuse every
// envelope, and the receipts this gateway signs.
absl::StatusOr<std::unique_ptr<proof::Signer>> LoadSigner(const v1::GatewayConfig& config) {
  absl::StatusOr<std::unique_ptr<proof::Signer>> signer =
      proof::Signer::Load(config.signing().cert_file(), config.signing().key_file());
  if (!signer.ok()) return absl::InvalidArgumentError(absl::StrCat("signing: ", signer.status().message()));
  absl::StatusOr<std::string> link_identity = security::CertificateSpiffeId(config.peer().tls().cert_file());
  if (!link_identity.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("peer.tls.cert_file: ", link_identity.status().message()));
  }
  if ((*signer)->spiffe_id() != *link_identity) {
    return absl::InvalidArgumentError(absl::StrCat("signing.cert_file: signs as ", (*signer)->spiffe_id(),
                                                   ", but this gateway is ", *link_identity,
                                                   " on the link (peer.tls.cert_file); the peer would refuse "
                                                   "every envelope and receipt"));
  }
  return signer;
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

LogLevel LogLevelOf(v1::LogLevel level) {
  switch (level) {
    case v1::LOG_LEVEL_DEBUG:
      return LogLevel::kDebug;
    case v1::LOG_LEVEL_WARNING:
      return LogLevel::kWarning;
    case v1::LOG_LEVEL_ERROR:
      return LogLevel::kError;
    default:
      return LogLevel::kInfo;
  }
}

// "KZ" or "UZ".
std::string JurisdictionLabel(v1::Jurisdiction jurisdiction) {
  return jurisdiction == v1::JURISDICTION_KZ ? "KZ" : jurisdiction == v1::JURISDICTION_UZ ? "UZ" : "";
}

// What the readiness checks found, as of `time`.
struct Readiness {
  absl::Time time;
  bool ready = false;           // Every check passes (/readyz).
  bool ministry_ready = false;  // What the ministry face needs passes (its grpc.health.v1).
  bool peer_ready = false;      // What the peer face needs passes (its grpc.health.v1).
  std::vector<v1::ReadinessCheck> checks;
  std::vector<v1::CertificateStatus> certificates;
  std::vector<std::pair<std::string, absl::Time>> expiry;  // For the metrics.
};

}  // namespace

// Members in construction order; destroyed in reverse, so everything that
// points at the store and the pool goes first.
struct Gateway::State {
  v1::GatewayConfig config;
  policy::PseudonymKeys keys;
  policy::ActivePolicy policy;
  std::unique_ptr<proof::Signer> signer;
  std::unique_ptr<proof::Verifier> peer_verifier;  // The peer's signatures, against peer.tls.ca_file.
  // The CRLs of each face (null when none is configured), set by Create().
  std::shared_ptr<security::RevocationLists> ministry_crls;
  std::shared_ptr<security::RevocationLists> peer_crls;
  std::unique_ptr<store::Store> store;
  security::Authorizer authorizer;
  SequenceNotifier outbox;
  SequenceNotifier inbox;
  ThreadPool workers{kWorkerThreads};
  ministry::CallerLimits caller_limits;
  ministry::DenialAuditor denials;
  ministry::RecordAcceptor acceptor;
  ministry::InboxReader reader;
  ministry::MinistryService ministry_service;
  exchange::EnvelopeReceiver receiver;
  exchange::PeerService peer_service;
  std::unique_ptr<exchange::Forwarder> forwarder;
  HealthState ministry_health{{"iicc.v1.MinistryGateway"}};
  HealthState peer_health{{"iicc.v1.PeerExchange"}};
  HealthService ministry_health_service{&ministry_health};
  HealthService peer_health_service{&peer_health};
  std::unique_ptr<grpc::Server> ministry_server;
  std::unique_ptr<grpc::Server> peer_server;
  std::unique_ptr<AdminServer> admin;
  bool shut_down = false;

  // The readiness monitor: checks every admin.check_interval and makes
  // grpc.health.v1 follow, until shutdown.
  absl::Mutex health_mu;
  Readiness readiness ABSL_GUARDED_BY(health_mu);
  bool shutting_down ABSL_GUARDED_BY(health_mu) = false;
  std::thread monitor;

  State(v1::GatewayConfig config_in, policy::PseudonymKeys keys_in,
        std::shared_ptr<const policy::CompiledPolicy> policy_in, std::unique_ptr<proof::Signer> signer_in,
        std::unique_ptr<proof::Verifier> peer_verifier_in, std::unique_ptr<store::Store> store_in,
        int64_t inbox_high_water)
      : config(std::move(config_in)),
        keys(std::move(keys_in)),
        policy(std::move(policy_in)),
        signer(std::move(signer_in)),
        peer_verifier(std::move(peer_verifier_in)),
        store(std::move(store_in)),
        authorizer(config),
        inbox(inbox_high_water),
        caller_limits(config),
        denials(store.get(), &workers, static_cast<int>(config.limits().audited_denials_per_minute())),
        acceptor(config.jurisdiction(), store.get(), &authorizer, &policy, signer.get(), &outbox,
                 ValidationOptionsOf(config), &denials),
        reader(store.get(), &authorizer, &denials),
        ministry_service(&acceptor, &reader, store.get(), &inbox, &workers, &caller_limits, &denials,
                         FromProto(config.limits().stream_idle_timeout())),
        receiver(config.jurisdiction(), store.get(), &policy, signer.get(), peer_verifier.get(),
                 config.peer().peer_spiffe_id(), &inbox, ValidationOptionsOf(config)),
        peer_service(config.peer().peer_spiffe_id(), &receiver, &workers,
                     static_cast<size_t>(PeerFaceMaxMessageBytes(config))) {}

  // Runs every readiness check now (a write to the store, the certificate
  // files as they are on disk).
  Readiness CheckReadiness() {
    Readiness result;
    result.time = absl::Now();
    auto check = [&result](const char* name, std::string problem) {
      v1::ReadinessCheck* entry = &result.checks.emplace_back();
      entry->set_name(name);
      entry->set_ok(problem.empty());
      entry->set_detail(std::move(problem));
    };
    const absl::Status writable = store->CheckWritable();
    check("store", writable.ok() ? "" : absl::StrCat("not writable: ", writable.message()));
    check("policy", policy.Get() != nullptr ? "" : "no policy loaded");
    const bool common_ok = writable.ok() && policy.Get() != nullptr;
    absl::flat_hash_set<std::string> bad_certificates;
    std::vector<std::string> problems;
    for (const auto& [name, file] :
         {std::pair<const char*, const std::string*>{"ministry_tls", &config.ministry_face().tls().cert_file()},
          {"peer_tls", &config.peer().tls().cert_file()},
          {"signing", &config.signing().cert_file()}}) {
      v1::CertificateStatus* status = &result.certificates.emplace_back();
      status->set_name(name);
      status->set_file(*file);
      const bool in_memory = std::string_view(name) == "signing";
      absl::StatusOr<security::CertificateValidity> validity = security::ReadCertificateValidity(*file);
      if (in_memory) {
        // The signing certificate is read at start-up only: what counts is
        // the one in use, whatever the file now holds.
        status->set_spiffe_id(signer->spiffe_id());
        *status->mutable_not_after() = ToTimestamp(signer->not_after());
        result.expiry.emplace_back(name, signer->not_after());
        if (result.time >= signer->not_after()) status->set_problem("expired (the certificate in use)");
        status->set_restart_needed(!validity.ok() || validity->not_after != signer->not_after() ||
                                   validity->spiffe_id != signer->spiffe_id());
      } else if (!validity.ok()) {
        status->set_problem(std::string(validity.status().message()));
      } else {
        status->set_spiffe_id(validity->spiffe_id);
        *status->mutable_not_before() = ToTimestamp(validity->not_before);
        *status->mutable_not_after() = ToTimestamp(validity->not_after);
        result.expiry.emplace_back(name, validity->not_after);
        if (result.time < validity->not_before) status->set_problem("not yet valid");
        if (result.time >= validity->not_after) status->set_problem("expired");
      }
      if (!status->problem().empty()) {
        problems.push_back(absl::StrCat(name, " ", *file, ": ", status->problem()));
        bad_certificates.insert(name);
      }
    }
    // The CRLs, re-read if they changed: one missing, bad or past its
    // nextUpdate closes its face (fail-closed), which readiness reports.
    for (const auto& [name, crls] :
         {std::pair<const char*, security::RevocationLists*>{"ministry_tls", ministry_crls.get()},
          {"peer_tls", peer_crls.get()}}) {
      if (crls == nullptr) continue;
      crls->Refresh();
      if (absl::Status health = crls->Health(result.time); !health.ok()) {
        problems.push_back(std::string(health.message()));
        bad_certificates.insert(name);
      }
    }
    check("certificates", absl::StrJoin(problems, "; "));
    result.ready = true;
    for (const v1::ReadinessCheck& entry : result.checks) result.ready = result.ready && entry.ok();
    // Each face is ready when what it needs is: a link certificate problem
    // does not take the ministry face out of service (records queue), nor
    // the other way round. /readyz is both.
    const bool signing_ok = !bad_certificates.contains("signing");
    result.ministry_ready = common_ok && signing_ok && !bad_certificates.contains("ministry_tls");
    result.peer_ready = common_ok && signing_ok && !bad_certificates.contains("peer_tls");
    return result;
  }

  // Checks, keeps the result, and makes grpc.health.v1 follow it (unless
  // shutting down: then it stays NOT_SERVING).
  void RefreshReadiness() {
    Readiness fresh = CheckReadiness();
    absl::MutexLock lock(&health_mu);
    if (fresh.ready != readiness.ready || readiness.time == absl::Time()) {
      if (fresh.ready) {
        Log(LogLevel::kInfo, "gateway.ready");
      } else {
        std::vector<std::string> failing;
        for (const v1::ReadinessCheck& entry : fresh.checks) {
          if (!entry.ok()) failing.push_back(absl::StrCat(entry.name(), ": ", entry.detail()));
        }
        Log(LogLevel::kError, "gateway.not_ready", {{"checks", absl::StrJoin(failing, "; ")}});
      }
    }
    readiness = std::move(fresh);
    if (shutting_down) return;
    ministry_health.Set(readiness.ministry_ready);
    peer_health.Set(readiness.peer_ready);
  }

  std::pair<bool, std::string> ReadinessText() {
    absl::MutexLock lock(&health_mu);
    if (shutting_down) return {false, "not ready: shutting down\n"};
    if (readiness.ready) return {true, "ready\n"};
    std::string text = "not ready:\n";
    for (const v1::ReadinessCheck& entry : readiness.checks) {
      if (!entry.ok()) absl::StrAppend(&text, entry.name(), ": ", entry.detail(), "\n");
    }
    return {false, text};
  }

  // What /status shows.
  v1::GatewayStatus Status() {
    v1::GatewayStatus status;
    const absl::Time now = absl::Now();
    *status.mutable_time() = ToTimestamp(now);
    status.set_jurisdiction(config.jurisdiction());
    status.set_version(metrics::BuildVersion());
    {
      absl::MutexLock lock(&health_mu);
      status.set_ready(readiness.ready && !shutting_down);
      for (const v1::ReadinessCheck& entry : readiness.checks) *status.add_checks() = entry;
      for (const v1::CertificateStatus& entry : readiness.certificates) *status.add_certificates() = entry;
    }
    v1::PeerLinkStatus* peer = status.mutable_peer();
    peer->set_address(config.peer().peer_address());
    peer->set_spiffe_id(config.peer().peer_spiffe_id());
    if (forwarder != nullptr) {
      const exchange::Forwarder::LinkState link = forwarder->link_state();
      peer->set_link_up(link.up);
      if (link.since != absl::InfinitePast()) *peer->mutable_since() = ToTimestamp(link.since);
      if (link.last_delivery != absl::InfinitePast()) {
        *peer->mutable_last_delivery_time() = ToTimestamp(link.last_delivery);
      }
      peer->set_last_error(link.last_error);
    }
    v1::OutboxStatus* out = status.mutable_outbox();
    out->set_depth(store->CountPending().value_or(-1));
    if (absl::StatusOr<absl::Time> oldest = store->OldestPendingAcceptedTime(); oldest.ok()) {
      *out->mutable_oldest_accepted_time() = ToTimestamp(*oldest);
      out->set_oldest_undelivered_age_seconds(std::max(0.0, absl::ToDoubleSeconds(now - *oldest)));
    }
    status.mutable_inbox()->set_high_water_sequence(inbox.high_water());
    status.mutable_policy()->set_version(policy.Get()->version());
    status.mutable_policy()->set_file(config.policy_file());
    return status;
  }

  std::string StatusJson() {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(Status(), &json, options).ok()) return "{}\n";
    return json;
  }

  std::string MetricsText() {
    const v1::GatewayStatus status = Status();
    metrics::Snapshot snapshot;
    snapshot.outbox_depth = status.outbox().depth();
    snapshot.oldest_undelivered_age_seconds = status.outbox().oldest_undelivered_age_seconds();
    snapshot.peer_link_up = status.peer().link_up();
    snapshot.inbox_sequence = status.inbox().high_water_sequence();
    snapshot.ready = status.ready();
    {
      absl::MutexLock lock(&health_mu);
      snapshot.certificate_expiry = readiness.expiry;
    }
    return metrics::Default().Render(snapshot);
  }
};

absl::Status Gateway::Check(const v1::GatewayConfig& config) {
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.ministry_face().tls(), "ministry_face.tls",
                                               /*chains_to_ca=*/true));
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.peer().tls(), "peer.tls", /*chains_to_ca=*/false));
  IICC_ASSIGN_OR_RETURN(policy::PseudonymKeys keys, policy::LoadPseudonymKeys(config));
  IICC_RETURN_IF_ERROR(LoadSigner(config).status());
  IICC_RETURN_IF_ERROR(proof::Verifier::Create({config.peer().tls().ca_file()}).status());
  IICC_RETURN_IF_ERROR(security::RevocationLists::Load(config.ministry_face().tls(), "ministry_face.tls").status());
  IICC_RETURN_IF_ERROR(security::RevocationLists::Load(config.peer().tls(), "peer.tls").status());
  return policy::CompiledPolicy::Load(config.policy_file(), keys, config.jurisdiction()).status();
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(const v1::GatewayConfig& config) {
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.ministry_face().tls(), "ministry_face.tls",
                                               /*chains_to_ca=*/true));
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.peer().tls(), "peer.tls", /*chains_to_ca=*/false));
  IICC_ASSIGN_OR_RETURN(policy::PseudonymKeys keys, policy::LoadPseudonymKeys(config));
  IICC_ASSIGN_OR_RETURN(std::shared_ptr<const policy::CompiledPolicy> policy,
                        policy::CompiledPolicy::Load(config.policy_file(), keys, config.jurisdiction()));
  IICC_ASSIGN_OR_RETURN(std::unique_ptr<proof::Signer> signer, LoadSigner(config));
  IICC_ASSIGN_OR_RETURN(std::unique_ptr<proof::Verifier> peer_verifier,
                        proof::Verifier::Create({config.peer().tls().ca_file()}));
  IICC_ASSIGN_OR_RETURN(std::shared_ptr<security::RevocationLists> ministry_crls,
                        security::RevocationLists::Load(config.ministry_face().tls(), "ministry_face.tls"));
  IICC_ASSIGN_OR_RETURN(std::shared_ptr<security::RevocationLists> peer_crls,
                        security::RevocationLists::Load(config.peer().tls(), "peer.tls"));
  IICC_RETURN_IF_ERROR(CreateDirectories(config.data_dir()));
  store::SqliteStoreOptions store_options;
  store_options.max_size_bytes = int64_t{config.store().max_size_mib()} << 20;
  IICC_ASSIGN_OR_RETURN(
      std::unique_ptr<store::SqliteStore> store,
      store::SqliteStore::Open(JoinPath(config.data_dir(), config.store().file_name()), store_options));
  IICC_ASSIGN_OR_RETURN(int64_t high_water, store->InboxHighWater());
  SetLogLevel(LogLevelOf(config.logging().level()));
  metrics::Default().SetBuildInfo(metrics::BuildVersion(), JurisdictionLabel(config.jurisdiction()));
  Log(LogLevel::kInfo, "policy.loaded", {{"file", config.policy_file()}, {"version", policy->version()}});
  Log(LogLevel::kInfo, "signing.loaded",
      {{"signer", signer->spiffe_id()},
       {"not_after", absl::FormatTime(absl::RFC3339_sec, signer->not_after(), absl::UTCTimeZone())}});
  auto state = std::make_unique<State>(config, std::move(keys), std::move(policy), std::move(signer),
                                       std::move(peer_verifier), std::move(store), high_water);
  state->ministry_crls = std::move(ministry_crls);
  state->peer_crls = std::move(peer_crls);
  return std::unique_ptr<Gateway>(new Gateway(std::move(state)));
}

absl::Status Gateway::ReloadPolicy() {
  State& s = *state_;
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> policy =
      policy::CompiledPolicy::Load(s.config.policy_file(), s.keys, s.config.jurisdiction());
  if (!policy.ok()) {
    Log(LogLevel::kError, "policy.reload_refused",
        {{"file", s.config.policy_file()},
         {"error", policy.status().message()},
         {"version_in_force", s.policy.Get()->version()}});
    store::AuditOrLog(s.store.get(), {v1::AUDIT_EVENT_KIND_POLICY_RELOAD, "", "", "",
                                      absl::StrCat("refused, ", s.policy.Get()->version(),
                                                   " stays in force: ", policy.status().message())});
    metrics::Default().PolicyReload(false);
    return policy.status();
  }
  s.policy.Set(*policy);
  metrics::Default().PolicyReload(true);
  store::AuditOrLog(s.store.get(),
                    {v1::AUDIT_EVENT_KIND_POLICY_RELOAD, "", "", "", absl::StrCat("now ", (*policy)->version())});
  Log(LogLevel::kInfo, "policy.reloaded", {{"file", s.config.policy_file()}, {"version", (*policy)->version()}});
  return absl::OkStatus();
}

Gateway::Gateway(std::unique_ptr<State> state) : state_(std::move(state)) {}

Gateway::~Gateway() { Shutdown(absl::Seconds(5)); }

absl::Status Gateway::Start() {
  State& s = *state_;
  const v1::GatewayConfig& config = s.config;
  // Our own grpc.health.v1 (health_service.h): its Watch streams end at
  // shutdown, where the default service's would hold it to the deadline.
  grpc::EnableDefaultHealthCheckService(false);

  auto build = [&](const std::string& address, const v1::TlsConfig& tls,
                   std::shared_ptr<grpc::experimental::CertificateVerifier> verifier, grpc::Service* service,
                   grpc::Service* health, int max_message_bytes,
                   int max_connection_idle_ms) -> absl::StatusOr<std::unique_ptr<grpc::Server>> {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, security::MakeServerCredentials(tls, std::move(verifier)));
    // Two gateways on one port would split the traffic silently.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kMinPingIntervalMs);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
    // Keepalive pings go on while a long call (a Subscribe, a Deliver
    // stream) sends nothing; gRPC's default stops after two.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (max_connection_idle_ms > 0) builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, max_connection_idle_ms);
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.RegisterService(service);
    builder.RegisterService(health);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::make_unique<RequestMetricsFactory>());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (in use, or not an address here)"));
    }
    return server;
  };

  const int max_message_bytes = static_cast<int>(config.limits().max_message_bytes());
  IICC_ASSIGN_OR_RETURN(
      s.ministry_server,
      build(config.ministry_face().listen_address(), config.ministry_face().tls(),
            security::MakeCertificateVerifier(
                {"ministry", security::ExtendedKeyUsage::kClientAuth, std::nullopt, s.ministry_crls}),
            &s.ministry_service, &s.ministry_health_service, max_message_bytes, kMaxConnectionIdleMs));
  IICC_ASSIGN_OR_RETURN(s.peer_server,
                        build(config.peer().listen_address(), config.peer().tls(),
                              security::MakeCertificateVerifier({"peer", security::ExtendedKeyUsage::kClientAuth,
                                                                 config.peer().peer_spiffe_id(), s.peer_crls}),
                              &s.peer_service, &s.peer_health_service, PeerFaceMaxMessageBytes(config),
                              /*max_connection_idle_ms=*/0));

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().initial_backoff()))));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().initial_backoff()))));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().max_backoff()))));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxSendMessageSize(-1);
  // The other gateway's server certificate is held to the peer face's rules
  // (serverAuth instead of clientAuth), its CRLs included.
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      config.peer().peer_address(),
      security::MakeChannelCredentials(
          config.peer().tls(), security::MakeCertificateVerifier({"link", security::ExtendedKeyUsage::kServerAuth,
                                                                  config.peer().peer_spiffe_id(), s.peer_crls})),
      args);

  exchange::ForwarderOptions options;
  options.window = static_cast<int>(config.peer().window());
  options.initial_backoff = FromProto(config.peer().initial_backoff());
  options.max_backoff = FromProto(config.peer().max_backoff());
  options.peer_name = config.peer().peer_address();
  options.peer_spiffe_id = config.peer().peer_spiffe_id();
  options.receipt_timeout = FromProto(config.limits().receipt_timeout());
  s.forwarder = std::make_unique<exchange::Forwarder>(options, s.store.get(), s.peer_verifier.get(), std::move(channel),
                                                      &s.outbox);
  s.forwarder->Start();

  // Readiness is known before the admin listener answers, and grpc.health.v1
  // follows it from the start.
  s.RefreshReadiness();
  AdminHandlers handlers;
  handlers.readiness = [&s] { return s.ReadinessText(); };
  handlers.status = [&s] { return s.StatusJson(); };
  handlers.metrics = [&s] { return s.MetricsText(); };
  IICC_ASSIGN_OR_RETURN(s.admin, AdminServer::Start(config.admin().listen_address(), std::move(handlers)));
  const absl::Duration interval = FromProto(config.admin().check_interval());
  s.monitor = std::thread([&s, interval] {
    while (true) {
      {
        absl::MutexLock lock(&s.health_mu);
        if (s.health_mu.AwaitWithTimeout(absl::Condition(&s.shutting_down), interval)) return;
      }
      s.RefreshReadiness();
    }
  });

  Log(LogLevel::kInfo, "gateway.started",
      {{"jurisdiction", v1::Jurisdiction_Name(config.jurisdiction())},
       {"ministry_address", config.ministry_face().listen_address()},
       {"peer_address", config.peer().listen_address()},
       {"peer_target", config.peer().peer_address()},
       {"admin_address", config.admin().listen_address()}});
  return absl::OkStatus();
}

void Gateway::Shutdown(absl::Duration grace) {
  State& s = *state_;
  if (s.shut_down || s.ministry_server == nullptr) return;
  s.shut_down = true;
  const absl::Time deadline = absl::Now() + grace;
  Log(LogLevel::kInfo, "gateway.draining", {{"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(grace))}});
  // First tell load balancers and probes: NOT_SERVING, /readyz 503.
  {
    absl::MutexLock lock(&s.health_mu);
    s.shutting_down = true;
  }
  if (s.monitor.joinable()) s.monitor.join();
  s.ministry_health.Close();
  s.peer_health.Close();
  // The delivery window in flight gets its receipts (no new envelope is
  // sent) while the faces stop accepting and finish their calls.
  std::thread drain_link([&s, deadline] {
    if (s.forwarder) s.forwarder->Stop(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  });
  // Subscriptions waiting for new records end now (UNAVAILABLE: resume from
  // the cursor), and so do the peer's Deliver streams once what they sent is
  // answered, instead of holding the shutdown until the deadline.
  s.inbox.Close();
  s.ministry_service.Close();
  s.peer_service.Close();
  const gpr_timespec grpc_deadline = gpr_time_add(
      gpr_now(GPR_CLOCK_MONOTONIC),
      gpr_time_from_millis(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())), GPR_TIMESPAN));
  for (grpc::Server* server : {s.ministry_server.get(), s.peer_server.get()}) {
    if (server != nullptr) server->Shutdown(grpc_deadline);
  }
  drain_link.join();
  // A store commit scheduled by a call may still be returning when the call
  // has ended; the services and the store it uses must outlive it.
  s.workers.WaitIdle();
  s.admin.reset();
  Log(LogLevel::kInfo, "gateway.stopped");
}

}  // namespace iicc::server
