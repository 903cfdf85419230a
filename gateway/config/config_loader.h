// Loading and validating a gateway's configuration (iicc.v1.GatewayConfig in
// protobuf text format).
//
//   absl::StatusOr<iicc::v1::GatewayConfig> config =
//       iicc::config::LoadGatewayConfig("gateway/config/kz.textproto");
//   if (!config.ok()) { /* config.status().message(): one error per line */ }
#ifndef IICC_GATEWAY_CONFIG_CONFIG_LOADER_H_
#define IICC_GATEWAY_CONFIG_CONFIG_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iicc/v1/config.pb.h"

namespace iicc::config {

// Defaults for fields left unset (see config.proto).
inline constexpr uint32_t kDefaultWindow = 512;
inline constexpr uint32_t kDefaultMaxMessageBytes = 4 * 1024 * 1024;
// The largest limits.max_message_bytes a configuration may set.
inline constexpr uint32_t kMaxMessageBytesLimit = 256 * 1024 * 1024;
// LimitsConfig's defaults (docs/configuration.md).
inline constexpr uint32_t kDefaultRequestsPerSecond = 5000;
inline constexpr uint32_t kDefaultMaxStreamsPerIdentity = 64;
inline constexpr uint32_t kDefaultMaxSubscriptionsPerIdentity = 16;
inline constexpr int64_t kDefaultStreamIdleTimeoutSeconds = 300;
inline constexpr int64_t kDefaultReceiptTimeoutSeconds = 30;
inline constexpr uint32_t kDefaultAuditedDenialsPerMinute = 20;
inline constexpr char kDefaultStoreFileName[] = "gateway.db";
inline constexpr char kDefaultAdminAddress[] = "127.0.0.1:9464";

// Parses the file at `path`, fills defaults and validates the result,
// including that every certificate and key file it names can be read.
// INVALID_ARGUMENT lists every problem, one per line, each prefixed by `path`
// and a field path (or a line and column for syntax errors). NOT_FOUND when
// the file itself is missing.
absl::StatusOr<v1::GatewayConfig> LoadGatewayConfig(const std::string& path);

// Parses `text` (named `source` in errors), fills defaults and validates.
// Checks files like LoadGatewayConfig.
absl::StatusOr<v1::GatewayConfig> ParseGatewayConfig(const std::string& text, const std::string& source);

// Every problem in `config`, one string each, in the form
// "field.path: what is wrong". Empty when the configuration is valid.
// Does not fill defaults; does check that the named files are readable.
std::vector<std::string> ValidateGatewayConfig(const v1::GatewayConfig& config);

// True if `id` is a syntactically valid SPIFFE ID
// (spiffe://trust-domain/path, lower-case trust domain, no query or fragment,
// no empty, "." or ".." path segments).
bool IsValidSpiffeId(const std::string& id);

}  // namespace iicc::config

#endif  // IICC_GATEWAY_CONFIG_CONFIG_LOADER_H_
