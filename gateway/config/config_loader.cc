#include "gateway/config/config_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gateway/common/files.h"
#include "gateway/security/spiffe_id.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace iicc::config {
namespace {

using v1::GatewayConfig;

class CollectingErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectingErrorCollector(std::vector<std::string>* errors) : errors_(errors) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_->push_back(absl::StrCat("line ", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override { AddError(line, column, message); }

 private:
  std::vector<std::string>* errors_;
};

bool IsValidHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return false;
  return port > 0 && port < 65536;
}

void CheckReadable(const std::string& path, const std::string& field, std::vector<std::string>* errors) {
  if (path.empty()) {
    errors->push_back(absl::StrCat(field, ": required"));
  } else if (struct stat st; stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), R_OK) != 0) {
    errors->push_back(absl::StrCat(field, ": cannot read '", path, "' (missing, unreadable or not a file)"));
  }
}

// A private key (or a pseudonym secret) that its group or other users may
// read, write or run is refused: anyone else on the host could sign, or
// pseudonymise, as this gateway.
void CheckPrivateKey(const std::string& path, const std::string& field, std::vector<std::string>* errors) {
  const size_t before = errors->size();
  CheckReadable(path, field, errors);
  if (errors->size() != before) return;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    errors->push_back(absl::StrCat(field, ": '", path, "' is readable by group or others (mode ", mode,
                                   "): a private key must be 0600 (chmod 600), owned by the gateway's user"));
  }
}

void CheckTls(const v1::TlsConfig& tls, const std::string& field, std::vector<std::string>* errors) {
  CheckReadable(tls.cert_file(), absl::StrCat(field, ".cert_file"), errors);
  CheckPrivateKey(tls.key_file(), absl::StrCat(field, ".key_file"), errors);
  CheckReadable(tls.ca_file(), absl::StrCat(field, ".ca_file"), errors);
  for (int i = 0; i < tls.crl_files_size(); ++i) {
    CheckReadable(tls.crl_files(i), absl::StrCat(field, ".crl_files[", i, "]"), errors);
  }
  if (tls.has_reload_interval() && (tls.reload_interval().seconds() < 1 || tls.reload_interval().seconds() > 86400)) {
    errors->push_back(absl::StrCat(field, ".reload_interval: whole seconds, between 1 s and 1 day"));
  }
}

void CheckAddress(const std::string& address, const std::string& field, std::vector<std::string>* errors) {
  if (address.empty()) {
    errors->push_back(absl::StrCat(field, ": required"));
  } else if (!IsValidHostPort(address)) {
    errors->push_back(absl::StrCat(field, ": '", address, "' is not host:port"));
  }
}

// A rate limit's burst defaults to twice its rate (a rate of 0 is left for
// the validation to name).
void FillBurst(v1::RateLimit* rate) {
  if (rate->burst() == 0) {
    rate->set_burst(static_cast<uint32_t>(std::min<uint64_t>(2ull * rate->requests_per_second(), 10'000'000)));
  }
}

void FillLimitDefaults(GatewayConfig* config) {
  v1::LimitsConfig* limits = config->mutable_limits();
  if (!limits->has_rate_limit()) limits->mutable_rate_limit()->set_requests_per_second(kDefaultRequestsPerSecond);
  FillBurst(limits->mutable_rate_limit());
  for (v1::MinistryIdentity& identity : *config->mutable_ministries()) {
    if (identity.has_rate_limit()) FillBurst(identity.mutable_rate_limit());
  }
  if (limits->max_streams_per_identity() == 0) limits->set_max_streams_per_identity(kDefaultMaxStreamsPerIdentity);
  if (limits->max_subscriptions_per_identity() == 0) {
    limits->set_max_subscriptions_per_identity(kDefaultMaxSubscriptionsPerIdentity);
  }
  if (!limits->has_stream_idle_timeout()) {
    limits->mutable_stream_idle_timeout()->set_seconds(kDefaultStreamIdleTimeoutSeconds);
  }
  if (!limits->has_receipt_timeout()) limits->mutable_receipt_timeout()->set_seconds(kDefaultReceiptTimeoutSeconds);
  if (limits->audited_denials_per_minute() == 0) {
    limits->set_audited_denials_per_minute(kDefaultAuditedDenialsPerMinute);
  }
}

void CheckRateLimit(const v1::RateLimit& rate, const std::string& field, std::vector<std::string>* errors) {
  if (rate.requests_per_second() < 1 || rate.requests_per_second() > 1'000'000) {
    errors->push_back(absl::StrCat(field, ".requests_per_second: 1 to 1,000,000"));
  }
  if (rate.burst() > 10'000'000) errors->push_back(absl::StrCat(field, ".burst: at most 10,000,000"));
}

void FillDefaults(GatewayConfig* config) {
  FillLimitDefaults(config);
  v1::PeerLinkConfig* peer = config->mutable_peer();
  if (peer->window() == 0) peer->set_window(kDefaultWindow);
  if (!peer->has_initial_backoff()) peer->mutable_initial_backoff()->set_nanos(100'000'000);
  if (!peer->has_max_backoff()) peer->mutable_max_backoff()->set_seconds(10);
  if (config->limits().max_message_bytes() == 0) {
    config->mutable_limits()->set_max_message_bytes(kDefaultMaxMessageBytes);
  }
  if (config->store().file_name().empty()) config->mutable_store()->set_file_name(kDefaultStoreFileName);
  v1::AdminConfig* admin = config->mutable_admin();
  if (admin->listen_address().empty()) admin->set_listen_address(kDefaultAdminAddress);
  if (!admin->has_check_interval()) admin->mutable_check_interval()->set_seconds(2);
  if (config->logging().level() == v1::LOG_LEVEL_UNSPECIFIED) config->mutable_logging()->set_level(v1::LOG_LEVEL_INFO);
  if (!config->has_shutdown_grace()) config->mutable_shutdown_grace()->set_seconds(10);
}

// Saturating: the text parser leaves a Duration's range unchecked, and
// seconds * 10^9 overflows beyond 292 years.
int64_t Nanos(const google::protobuf::Duration& d) {
  return absl::ToInt64Nanoseconds(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
}

// LimitsConfig and the identities' own rate limits. Only what was set is
// checked: FillDefaults fills the rest with valid values.
void CheckLimits(const GatewayConfig& config, std::vector<std::string>* errors) {
  const v1::LimitsConfig& limits = config.limits();
  if (limits.has_rate_limit()) CheckRateLimit(limits.rate_limit(), "limits.rate_limit", errors);
  for (int i = 0; i < config.ministries_size(); ++i) {
    if (config.ministries(i).has_rate_limit()) {
      CheckRateLimit(config.ministries(i).rate_limit(), absl::StrCat("ministries[", i, "].rate_limit"), errors);
    }
  }
  if (limits.max_streams_per_identity() > 100'000) {
    errors->push_back("limits.max_streams_per_identity: at most 100,000");
  }
  if (limits.max_subscriptions_per_identity() > 100'000) {
    errors->push_back("limits.max_subscriptions_per_identity: at most 100,000");
  }
  if (limits.has_stream_idle_timeout() && (Nanos(limits.stream_idle_timeout()) < 100'000'000 ||
                                           Nanos(limits.stream_idle_timeout()) > int64_t{86'400} * 1'000'000'000)) {
    errors->push_back("limits.stream_idle_timeout: between 100 ms and 1 day");
  }
  if (limits.has_receipt_timeout() &&
      (Nanos(limits.receipt_timeout()) < 100'000'000 || limits.receipt_timeout().seconds() > 3600 ||
       (limits.receipt_timeout().seconds() == 3600 && limits.receipt_timeout().nanos() > 0))) {
    errors->push_back("limits.receipt_timeout: between 100 ms and 1 hour");
  }
  if (limits.audited_denials_per_minute() > 10'000) {
    errors->push_back("limits.audited_denials_per_minute: at most 10,000");
  }
}

}  // namespace

bool IsValidSpiffeId(const std::string& id) { return security::CheckSpiffeId(id).ok(); }

std::vector<std::string> ValidateGatewayConfig(const GatewayConfig& config) {
  std::vector<std::string> errors;
  if (config.jurisdiction() == v1::JURISDICTION_UNSPECIFIED) {
    errors.push_back("jurisdiction: required (JURISDICTION_KZ or JURISDICTION_UZ)");
  } else if (!v1::Jurisdiction_IsValid(config.jurisdiction())) {
    errors.push_back("jurisdiction: unknown value");
  }
  if (config.data_dir().empty()) errors.push_back("data_dir: required");

  if (!config.has_ministry_face()) {
    errors.push_back("ministry_face: required");
  } else {
    CheckAddress(config.ministry_face().listen_address(), "ministry_face.listen_address", &errors);
    CheckTls(config.ministry_face().tls(), "ministry_face.tls", &errors);
  }

  if (!config.has_peer()) {
    errors.push_back("peer: required");
  } else {
    const v1::PeerLinkConfig& peer = config.peer();
    CheckAddress(peer.listen_address(), "peer.listen_address", &errors);
    CheckAddress(peer.peer_address(), "peer.peer_address", &errors);
    CheckTls(peer.tls(), "peer.tls", &errors);
    if (peer.peer_spiffe_id().empty()) {
      errors.push_back("peer.peer_spiffe_id: required");
    } else if (!IsValidSpiffeId(peer.peer_spiffe_id())) {
      errors.push_back(absl::StrCat("peer.peer_spiffe_id: '", peer.peer_spiffe_id(), "' is not a SPIFFE ID"));
    }
    if (peer.window() > 4096) errors.push_back("peer.window: at most 4096");
    if (peer.initial_backoff().seconds() < 0 || peer.initial_backoff().nanos() < 0) {
      errors.push_back("peer.initial_backoff: must not be negative");
    }
    if (peer.max_backoff().seconds() < 0 || peer.max_backoff().nanos() < 0) {
      errors.push_back("peer.max_backoff: must not be negative");
    }
    // gRPC takes the backoffs as int milliseconds (24.8 days at most); an hour
    // is already longer than any outage worth waiting out between attempts.
    if (peer.initial_backoff().seconds() > 3600) errors.push_back("peer.initial_backoff: at most 1 hour");
    if (peer.max_backoff().seconds() > 3600) errors.push_back("peer.max_backoff: at most 1 hour");
    if (peer.has_initial_backoff() && peer.has_max_backoff() &&
        Nanos(peer.initial_backoff()) > Nanos(peer.max_backoff())) {
      errors.push_back("peer.initial_backoff: must not exceed peer.max_backoff");
    }
  }
  if (config.has_ministry_face() && config.has_peer() && !config.ministry_face().listen_address().empty() &&
      config.ministry_face().listen_address() == config.peer().listen_address()) {
    errors.push_back("peer.listen_address: must differ from ministry_face.listen_address");
  }

  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < config.ministries_size(); ++i) {
    const v1::MinistryIdentity& identity = config.ministries(i);
    const std::string field = absl::StrCat("ministries[", i, "]");
    if (identity.spiffe_id().empty()) {
      errors.push_back(absl::StrCat(field, ".spiffe_id: required"));
    } else if (!IsValidSpiffeId(identity.spiffe_id())) {
      errors.push_back(absl::StrCat(field, ".spiffe_id: '", identity.spiffe_id(), "' is not a SPIFFE ID"));
    } else if (!seen.insert(identity.spiffe_id()).second) {
      errors.push_back(absl::StrCat(field, ".spiffe_id: '", identity.spiffe_id(), "' is listed twice"));
    }
    for (int g = 0; g < identity.grants_size(); ++g) {
      const v1::RoleGrant& grant = identity.grants(g);
      const std::string grant_field = absl::StrCat(field, ".grants[", g, "]");
      if (grant.role() == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(grant.role())) {
        errors.push_back(absl::StrCat(grant_field, ".role: required (ROLE_SUBMIT, ROLE_READ or ROLE_STATUS)"));
      }
      for (int t = 0; t < grant.record_types_size(); ++t) {
        const int type = grant.record_types(t);
        if (type == v1::RECORD_TYPE_UNSPECIFIED || !v1::RecordType_IsValid(type)) {
          errors.push_back(absl::StrCat(grant_field, ".record_types[", t, "]: not a record type"));
        }
      }
    }
  }

  CheckReadable(config.policy_file(), "policy_file", &errors);
  absl::flat_hash_set<std::string> key_ids;
  for (int i = 0; i < config.pseudonym_keys_size(); ++i) {
    const v1::PseudonymKey& key = config.pseudonym_keys(i);
    const std::string field = absl::StrCat("pseudonym_keys[", i, "]");
    bool id_ok = !key.key_id().empty() && key.key_id().size() <= 32;
    for (char c : key.key_id()) {
      id_ok = id_ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    }
    if (!id_ok) {
      errors.push_back(absl::StrCat(field, ".key_id: 1 to 32 letters, digits, '.', '_' or '-'"));
    } else if (!key_ids.insert(key.key_id()).second) {
      errors.push_back(absl::StrCat(field, ".key_id: '", key.key_id(), "' is listed twice"));
    }
    CheckPrivateKey(key.key_file(), absl::StrCat(field, ".key_file"), &errors);
  }
  if (!config.has_signing()) {
    errors.push_back("signing: required (cert_file and key_file of the gateway's signing certificate)");
  } else {
    CheckReadable(config.signing().cert_file(), "signing.cert_file", &errors);
    CheckPrivateKey(config.signing().key_file(), "signing.key_file", &errors);
  }
  for (int i = 0; i < config.validation().extra_units_size(); ++i) {
    const std::string& unit = config.validation().extra_units(i);
    bool ok = unit.size() >= 2 && unit.size() <= 3;
    for (char c : unit) ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (!ok) errors.push_back(absl::StrCat("validation.extra_units[", i, "]: 2 or 3 upper-case letters or digits"));
  }

  if (config.limits().max_message_bytes() != 0 && config.limits().max_message_bytes() < 1024) {
    errors.push_back("limits.max_message_bytes: at least 1024");
  } else if (config.limits().max_message_bytes() > kMaxMessageBytesLimit) {
    // gRPC takes message limits as an int, and the peer face adds room for
    // an envelope's proof; SQLite stores a record of up to 1e9 bytes.
    errors.push_back(absl::StrCat("limits.max_message_bytes: at most ", kMaxMessageBytesLimit, " (256 MiB)"));
  }
  CheckLimits(config, &errors);
  const std::string& file_name = config.store().file_name();
  if (absl::StrContains(file_name, '/')) errors.push_back("store.file_name: a file name, not a path");

  CheckAddress(config.admin().listen_address(), "admin.listen_address", &errors);
  for (const auto& [field, other] : {std::pair<const char*, const std::string*>{
                                         "ministry_face.listen_address", &config.ministry_face().listen_address()},
                                     {"peer.listen_address", &config.peer().listen_address()}}) {
    if (!other->empty() && *other == config.admin().listen_address()) {
      errors.push_back(absl::StrCat("admin.listen_address: must differ from ", field));
    }
  }
  if (config.admin().has_check_interval() &&
      (Nanos(config.admin().check_interval()) < 100'000'000 || config.admin().check_interval().seconds() > 3600)) {
    // Each check is a durable write of 64 KiB: not a busy loop.
    errors.push_back("admin.check_interval: between 100 ms and 1 hour");
  }
  if (!v1::LogLevel_IsValid(config.logging().level())) errors.push_back("logging.level: unknown value");
  if (config.has_shutdown_grace() && (Nanos(config.shutdown_grace()) < 0 || config.shutdown_grace().seconds() > 3600)) {
    errors.push_back("shutdown_grace: between 0 and 1 hour");
  }
  return errors;
}

absl::StatusOr<GatewayConfig> ParseGatewayConfig(const std::string& text, const std::string& source) {
  GatewayConfig config;
  std::vector<std::string> errors;
  CollectingErrorCollector collector(&errors);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(text, &config)) {
    for (std::string& error : errors) error = absl::StrCat(source, ":", error);
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  FillDefaults(&config);
  errors = ValidateGatewayConfig(config);
  if (!errors.empty()) {
    for (std::string& error : errors) error = absl::StrCat(source, ": ", error);
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return config;
}

absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseGatewayConfig(*text, path);
}

}  // namespace iicc::config
