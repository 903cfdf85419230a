#include "gateway/server/gateway.h"

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "gateway/common/files.h"
#include "gateway/common/log.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/status_macros.h"
#include "gateway/common/thread_pool.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/exchange/forwarder.h"
#include "gateway/exchange/peer_service.h"
#include "gateway/ministry/inbox_reader.h"
#include "gateway/ministry/ministry_service.h"
#include "gateway/ministry/record_acceptor.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/security/tls.h"
#include "gateway/store/audit.h"
#include "gateway/store/sqlite_store.h"
#include "gateway/validation/record_validator.h"

namespace iicc::server {
namespace {

// Workers for blocking store calls. A worker waiting for its commit costs
// nothing but its stack, and the more calls wait together, the more share
// one commit (the store's group commit): enough for many concurrent clients.
constexpr int kWorkerThreads = 32;

// Room for an envelope's header and proof (certificate chain included)
// beyond the record it carries.
constexpr int kEnvelopeOverheadBytes = 64 * 1024;

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

}  // namespace

// Members in construction order; destroyed in reverse, so everything that
// points at the store and the pool goes first.
struct Gateway::State {
  v1::GatewayConfig config;
  policy::PseudonymKeys keys;
  policy::ActivePolicy policy;
  std::unique_ptr<proof::Signer> signer;
  std::unique_ptr<proof::Verifier> peer_verifier;  // The peer's signatures, against peer.tls.ca_file.
  std::unique_ptr<store::Store> store;
  security::Authorizer authorizer;
  SequenceNotifier outbox;
  SequenceNotifier inbox;
  ThreadPool workers{kWorkerThreads};
  ministry::RecordAcceptor acceptor;
  ministry::InboxReader reader;
  ministry::MinistryService ministry_service;
  exchange::EnvelopeReceiver receiver;
  exchange::PeerService peer_service;
  std::unique_ptr<exchange::Forwarder> forwarder;
  std::unique_ptr<grpc::Server> ministry_server;
  std::unique_ptr<grpc::Server> peer_server;
  bool shut_down = false;

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
        acceptor(config.jurisdiction(), store.get(), &authorizer, &policy, signer.get(), &outbox,
                 ValidationOptionsOf(config)),
        reader(store.get(), &authorizer),
        ministry_service(&acceptor, &reader, store.get(), &inbox, &workers),
        receiver(config.jurisdiction(), store.get(), &policy, signer.get(), peer_verifier.get(),
                 config.peer().peer_spiffe_id(), &inbox, ValidationOptionsOf(config)),
        peer_service(config.peer().peer_spiffe_id(), &receiver, &workers) {}
};

absl::Status Gateway::Check(const v1::GatewayConfig& config) {
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.ministry_face().tls(), "ministry_face.tls",
                                               /*chains_to_ca=*/true));
  IICC_RETURN_IF_ERROR(security::CheckTlsFiles(config.peer().tls(), "peer.tls", /*chains_to_ca=*/false));
  IICC_ASSIGN_OR_RETURN(policy::PseudonymKeys keys, policy::LoadPseudonymKeys(config));
  IICC_RETURN_IF_ERROR(LoadSigner(config).status());
  IICC_RETURN_IF_ERROR(proof::Verifier::Create({config.peer().tls().ca_file()}).status());
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
  IICC_RETURN_IF_ERROR(CreateDirectories(config.data_dir()));
  store::SqliteStoreOptions store_options;
  store_options.max_size_bytes = int64_t{config.store().max_size_mib()} << 20;
  IICC_ASSIGN_OR_RETURN(
      std::unique_ptr<store::SqliteStore> store,
      store::SqliteStore::Open(JoinPath(config.data_dir(), config.store().file_name()), store_options));
  IICC_ASSIGN_OR_RETURN(int64_t high_water, store->InboxHighWater());
  Log(LogLevel::kInfo, "policy.loaded", {{"file", config.policy_file()}, {"version", policy->version()}});
  Log(LogLevel::kInfo, "signing.loaded",
      {{"signer", signer->spiffe_id()},
       {"not_after", absl::FormatTime(absl::RFC3339_sec, signer->not_after(), absl::UTCTimeZone())}});
  return std::unique_ptr<Gateway>(
      new Gateway(std::make_unique<State>(config, std::move(keys), std::move(policy), std::move(signer),
                                          std::move(peer_verifier), std::move(store), high_water)));
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
    return policy.status();
  }
  s.policy.Set(*policy);
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
  grpc::EnableDefaultHealthCheckService(true);

  auto build = [&](const std::string& address, const v1::TlsConfig& tls,
                   std::shared_ptr<grpc::experimental::CertificateVerifier> verifier, grpc::Service* service,
                   int max_message_bytes) -> absl::StatusOr<std::unique_ptr<grpc::Server>> {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, security::MakeServerCredentials(tls, std::move(verifier)));
    // Two gateways on one port would split the traffic silently.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.RegisterService(service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (in use, or not an address here)"));
    }
    return server;
  };

  const int max_message_bytes = static_cast<int>(config.limits().max_message_bytes());
  IICC_ASSIGN_OR_RETURN(s.ministry_server,
                        build(config.ministry_face().listen_address(), config.ministry_face().tls(),
                              security::MakeSpiffeVerifier(std::nullopt), &s.ministry_service, max_message_bytes));
  // An envelope is a record accepted under that limit plus its header and
  // proof: the peer face must never refuse what the ministry face accepted.
  IICC_ASSIGN_OR_RETURN(s.peer_server, build(config.peer().listen_address(), config.peer().tls(),
                                             security::MakeSpiffeVerifier(config.peer().peer_spiffe_id()),
                                             &s.peer_service, max_message_bytes + kEnvelopeOverheadBytes));

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().initial_backoff()))));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().initial_backoff()))));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(FromProto(config.peer().max_backoff()))));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetMaxSendMessageSize(-1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(config.peer().peer_address(),
                                security::MakeChannelCredentials(
                                    config.peer().tls(), security::MakeSpiffeVerifier(config.peer().peer_spiffe_id())),
                                args);

  exchange::ForwarderOptions options;
  options.window = static_cast<int>(config.peer().window());
  options.initial_backoff = FromProto(config.peer().initial_backoff());
  options.max_backoff = FromProto(config.peer().max_backoff());
  options.peer_name = config.peer().peer_address();
  options.peer_spiffe_id = config.peer().peer_spiffe_id();
  s.forwarder = std::make_unique<exchange::Forwarder>(options, s.store.get(), s.peer_verifier.get(), std::move(channel),
                                                      &s.outbox);
  s.forwarder->Start();

  Log(LogLevel::kInfo, "gateway.started",
      {{"jurisdiction", v1::Jurisdiction_Name(config.jurisdiction())},
       {"ministry_address", config.ministry_face().listen_address()},
       {"peer_address", config.peer().listen_address()},
       {"peer_target", config.peer().peer_address()}});
  return absl::OkStatus();
}

void Gateway::Shutdown(absl::Duration grace) {
  State& s = *state_;
  if (s.shut_down || s.ministry_server == nullptr) return;
  s.shut_down = true;
  if (s.forwarder) s.forwarder->Stop();
  const gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(absl::ToInt64Milliseconds(grace), GPR_TIMESPAN));
  // Both faces stop together; calls in progress get until the deadline.
  for (grpc::Server* server : {s.ministry_server.get(), s.peer_server.get()}) {
    if (server != nullptr) server->GetHealthCheckService()->SetServingStatus(false);
  }
  // Subscriptions waiting for new records end now (UNAVAILABLE: resume from
  // the cursor) instead of holding the shutdown until the deadline.
  s.inbox.Close();
  for (grpc::Server* server : {s.ministry_server.get(), s.peer_server.get()}) {
    if (server != nullptr) server->Shutdown(deadline);
  }
  // A store commit scheduled by a call may still be returning when the call
  // has ended; the services and the store it uses must outlive it.
  s.workers.WaitIdle();
  Log(LogLevel::kInfo, "gateway.stopped");
}

}  // namespace iicc::server
