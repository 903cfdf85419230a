// The gateway's Prometheus metrics (docs/operations.md lists them). Events
// are counted where they happen; gauges (outbox depth, link state...) are
// read when /metrics is scraped and passed in as a Snapshot.
//
//   metrics::Default().Submitted(v1::RECORD_TYPE_CARGO);
//   std::string text = metrics::Default().Render(snapshot);  // Text format 0.0.4
//
// Every label value comes from a bounded set: record types, the reasons
// below, the gRPC methods this gateway serves, gRPC codes, certificate
// names. No record data, no caller-chosen text.
#ifndef IICC_GATEWAY_METRICS_METRICS_H_
#define IICC_GATEWAY_METRICS_METRICS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "iicc/v1/records.pb.h"

namespace iicc::metrics {

// Where a record was turned away (label `stage`).
enum class RejectStage {
  kSubmit,    // On the ministry face, before it was accepted.
  kInbound,   // On the peer face, by this gateway as the receiver.
  kDelivery,  // On the way out: the peer rejected it, or its receipt was refused.
};

// Why (label `reason`). Each stage uses some of them.
enum class RejectReason {
  kInvalid,         // submit, inbound: validation failed.
  kPolicy,          // submit, inbound: the policy refused it.
  kPermission,      // submit: the caller may not submit it.
  kConflict,        // submit: request_id reused; inbound: record_id reused with another payload.
  kStore,           // submit: the store could not take it (disk full).
  kSignature,       // inbound: bad or missing signature, digest mismatch, malformed header.
  kRejected,        // delivery: the peer's receipt says REJECTED.
  kReceiptInvalid,  // delivery: the peer's receipt failed our checks.
};

// A per-identity limit of the ministry face that refused or ended a call
// (label `limit`).
enum class Limit {
  kRate,           // limits.rate_limit (or the identity's own): a call or a stream's record refused.
  kStreams,        // limits.max_streams_per_identity: a SubmitStream refused.
  kSubscriptions,  // limits.max_subscriptions_per_identity: a Subscribe refused.
  kStreamIdle,     // limits.stream_idle_timeout: an idle or stuck stream ended.
};

// What the gauges show at one scrape.
struct Snapshot {
  int64_t outbox_depth = 0;
  double oldest_undelivered_age_seconds = 0;
  bool peer_link_up = false;
  int64_t inbox_sequence = 0;
  bool ready = false;
  // Certificate name ("ministry_tls", "peer_tls", "signing") and notAfter.
  std::vector<std::pair<std::string, absl::Time>> certificate_expiry;
};

// The reasons of iicc_tls_handshakes_refused_total: the certificate's
// validity period, its extended key usage, its SPIFFE ID, revocation, the
// face's CRLs unusable (fail-closed), anything else.
inline constexpr const char* kHandshakeRefusalReasons[] = {"validity", "extended_key_usage", "spiffe_id",
                                                           "revoked",  "crl_unavailable",    "other"};

// Thread-safe: every method may be called from any thread.
class Metrics {
 public:
  Metrics(std::string version, std::string jurisdiction);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The build and jurisdiction of iicc_build_info (the default instance
  // starts with "" for the jurisdiction until the gateway sets it).
  void SetBuildInfo(const std::string& version, const std::string& jurisdiction);

  void Submitted(v1::RecordType type);
  void Rejected(RejectStage stage, RejectReason reason);
  // A record the peer accepted, `latency` after this gateway accepted it.
  void Delivered(v1::RecordType type, absl::Duration latency);
  void Received(v1::RecordType type);
  // A finished gRPC call: `full_method` as gRPC gives it
  // ("/iicc.v1.MinistryGateway/Submit"), `code` its status code (0-16).
  // Methods this gateway does not serve count as service and method
  // "unknown".
  void GrpcRequest(absl::string_view full_method, int code);
  void PolicyReload(bool ok);
  // A call refused, or a stream ended, by `limit`.
  void Limited(Limit limit);
  // A denied call counted instead of audited (limits.audited_denials_per_minute).
  void DenialNotAudited();
  // The forwarder ended a Deliver stream because the peer did not answer
  // within limits.receipt_timeout.
  void PeerReceiptTimeout();
  // A TLS handshake the gateway's certificate checks refused: `face`
  // ("ministry", "peer", or "link" for the forwarder's channel) and `reason`
  // (one of kHandshakeRefusalReasons).
  void HandshakeRefused(absl::string_view face, absl::string_view reason);

  // Everything in Prometheus text exposition format, with `snapshot`'s
  // gauges.
  std::string Render(const Snapshot& snapshot);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process's metrics, which the gateway's components report to.
Metrics& Default();

// This build's version (the CMake project version), e.g. "0.1.0".
const char* BuildVersion();

}  // namespace iicc::metrics

#endif  // IICC_GATEWAY_METRICS_METRICS_H_
