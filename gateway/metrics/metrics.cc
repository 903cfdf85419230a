#include "gateway/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/common/records.h"

#ifndef IICC_VERSION
#error "IICC_VERSION must be defined by the build"
#endif

namespace iicc::metrics {
namespace {

constexpr std::array<v1::RecordType, 3> kRecordTypes = {v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO,
                                                        v1::RECORD_TYPE_INVESTMENT};

// The (stage, reason) pairs that can happen; only these are exported.
struct RejectLabel {
  RejectStage stage;
  RejectReason reason;
  const char* stage_label;
  const char* reason_label;
};
constexpr RejectLabel kRejectLabels[] = {
    {RejectStage::kSubmit, RejectReason::kInvalid, "submit", "invalid"},
    {RejectStage::kSubmit, RejectReason::kPolicy, "submit", "policy"},
    {RejectStage::kSubmit, RejectReason::kPermission, "submit", "permission"},
    {RejectStage::kSubmit, RejectReason::kConflict, "submit", "conflict"},
    {RejectStage::kSubmit, RejectReason::kStore, "submit", "store"},
    {RejectStage::kInbound, RejectReason::kSignature, "inbound", "signature"},
    {RejectStage::kInbound, RejectReason::kInvalid, "inbound", "invalid"},
    {RejectStage::kInbound, RejectReason::kPolicy, "inbound", "policy"},
    {RejectStage::kInbound, RejectReason::kConflict, "inbound", "conflict"},
    {RejectStage::kDelivery, RejectReason::kRejected, "delivery", "rejected"},
    {RejectStage::kDelivery, RejectReason::kReceiptInvalid, "delivery", "receipt_invalid"},
};

// The gRPC methods a gateway serves: the only `service`/`method` label
// values besides "unknown".
const absl::flat_hash_set<std::string>& KnownMethods() {
  static const auto* const known = new absl::flat_hash_set<std::string>{
      "/iicc.v1.MinistryGateway/Submit",
      "/iicc.v1.MinistryGateway/SubmitStream",
      "/iicc.v1.MinistryGateway/GetRecordStatus",
      "/iicc.v1.MinistryGateway/Subscribe",
      "/iicc.v1.MinistryGateway/ListInboundRecords",
      "/iicc.v1.PeerExchange/Deliver",
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
  };
  return *known;
}

// Latency of a delivery, from acceptance to receipt: milliseconds on a live
// link, up to hours for a backlog after an outage.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400};
  return *buckets;
}

// Label values of iicc_requests_limited_total, in Limit's order.
constexpr std::array<const char*, 4> kLimitLabels = {"rate", "streams", "subscriptions", "stream_idle"};

size_t TypeIndex(v1::RecordType type) {
  for (size_t i = 0; i < kRecordTypes.size(); ++i) {
    if (kRecordTypes[i] == type) return i;
  }
  return kRecordTypes.size();
}

}  // namespace

const char* BuildVersion() { return IICC_VERSION; }

struct Metrics::Impl {
  prometheus::Registry registry;
  // Every labelled child is created up front, so that each series exists
  // (at 0) from the first scrape and the hot path is an atomic add.
  std::array<prometheus::Counter*, kRecordTypes.size()> submitted{};
  std::array<prometheus::Counter*, kRecordTypes.size()> delivered{};
  std::array<prometheus::Counter*, kRecordTypes.size()> received{};
  std::map<std::pair<RejectStage, RejectReason>, prometheus::Counter*> rejected;
  prometheus::Histogram* latency = nullptr;
  prometheus::Family<prometheus::Counter>* grpc_requests = nullptr;
  prometheus::Counter* reloads_ok = nullptr;
  prometheus::Counter* reloads_refused = nullptr;
  std::array<prometheus::Counter*, kLimitLabels.size()> limited{};
  prometheus::Counter* denials_not_audited = nullptr;
  prometheus::Counter* receipt_timeouts = nullptr;
  prometheus::Family<prometheus::Counter>* handshakes_refused = nullptr;
  prometheus::Gauge* outbox_depth = nullptr;
  prometheus::Gauge* oldest_age = nullptr;
  prometheus::Gauge* link_up = nullptr;
  prometheus::Gauge* inbox_sequence = nullptr;
  prometheus::Gauge* ready = nullptr;
  prometheus::Family<prometheus::Gauge>* certificate_expiry = nullptr;
  prometheus::Family<prometheus::Gauge>* build_info = nullptr;

  absl::Mutex mu;  // Serializes Render and SetBuildInfo (gauges set, then collected).
  prometheus::Gauge* build_info_child ABSL_GUARDED_BY(mu) = nullptr;
  std::map<std::string, prometheus::Gauge*> certificate_children ABSL_GUARDED_BY(mu);
};

Metrics::Metrics(std::string version, std::string jurisdiction) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  auto& submitted = prometheus::BuildCounter()
                        .Name("iicc_records_submitted_total")
                        .Help("Records accepted on the ministry face (acknowledged QUEUED), by record type.")
                        .Register(m.registry);
  auto& delivered = prometheus::BuildCounter()
                        .Name("iicc_records_delivered_total")
                        .Help("Records the peer accepted, with a verified receipt, by record type.")
                        .Register(m.registry);
  auto& received = prometheus::BuildCounter()
                       .Name("iicc_records_received_total")
                       .Help("Records received from the peer and stored in the inbox, by record type.")
                       .Register(m.registry);
  for (size_t i = 0; i < kRecordTypes.size(); ++i) {
    const std::string type(RecordTypeName(kRecordTypes[i]));
    m.submitted[i] = &submitted.Add({{"record_type", type}});
    m.delivered[i] = &delivered.Add({{"record_type", type}});
    m.received[i] = &received.Add({{"record_type", type}});
  }
  auto& rejected = prometheus::BuildCounter()
                       .Name("iicc_records_rejected_total")
                       .Help("Records turned away, by stage (submit, inbound, delivery) and reason.")
                       .Register(m.registry);
  for (const RejectLabel& label : kRejectLabels) {
    m.rejected[{label.stage, label.reason}] =
        &rejected.Add({{"stage", label.stage_label}, {"reason", label.reason_label}});
  }
  m.latency = &prometheus::BuildHistogram()
                   .Name("iicc_delivery_latency_seconds")
                   .Help("From a record's acceptance here to the peer's verified receipt that accepted it.")
                   .Register(m.registry)
                   .Add({}, LatencyBuckets());
  m.grpc_requests = &prometheus::BuildCounter()
                         .Name("iicc_grpc_requests_total")
                         .Help("Finished gRPC calls on both faces, by service, method and status code.")
                         .Register(m.registry);
  auto& reloads = prometheus::BuildCounter()
                      .Name("iicc_policy_reloads_total")
                      .Help("Policy reloads on SIGHUP, by result (ok, refused).")
                      .Register(m.registry);
  m.reloads_ok = &reloads.Add({{"result", "ok"}});
  m.reloads_refused = &reloads.Add({{"result", "refused"}});
  auto& limited = prometheus::BuildCounter()
                      .Name("iicc_requests_limited_total")
                      .Help(
                          "Ministry-face calls refused RESOURCE_EXHAUSTED, or streams ended, by a per-identity limit "
                          "(rate, streams, subscriptions, stream_idle).")
                      .Register(m.registry);
  for (size_t i = 0; i < kLimitLabels.size(); ++i) m.limited[i] = &limited.Add({{"limit", kLimitLabels[i]}});
  m.denials_not_audited = &prometheus::BuildCounter()
                               .Name("iicc_audit_denials_not_audited_total")
                               .Help(
                                   "Denied calls counted instead of audited one by one "
                                   "(over limits.audited_denials_per_minute).")
                               .Register(m.registry)
                               .Add({});
  m.receipt_timeouts = &prometheus::BuildCounter()
                            .Name("iicc_peer_receipt_timeouts_total")
                            .Help(
                                "Deliver streams ended because the peer did not answer within "
                                "limits.receipt_timeout (the records stay queued and are sent again).")
                            .Register(m.registry)
                            .Add({});
  m.handshakes_refused =
      &prometheus::BuildCounter()
           .Name("iicc_tls_handshakes_refused_total")
           .Help(
               "TLS handshakes refused by the gateway's certificate checks, by face (ministry, peer, "
               "link) and reason (validity, extended_key_usage, spiffe_id, revoked, "
               "crl_unavailable, other).")
           .Register(m.registry);
  m.outbox_depth = &prometheus::BuildGauge()
                        .Name("iicc_outbox_depth")
                        .Help("Records queued for the peer.")
                        .Register(m.registry)
                        .Add({});
  m.oldest_age = &prometheus::BuildGauge()
                      .Name("iicc_oldest_undelivered_age_seconds")
                      .Help("Age of the oldest record queued for the peer; 0 when none is queued.")
                      .Register(m.registry)
                      .Add({});
  m.link_up = &prometheus::BuildGauge()
                   .Name("iicc_peer_link_up")
                   .Help("1 while a Deliver stream with the peer gateway is open and answering, else 0.")
                   .Register(m.registry)
                   .Add({});
  m.inbox_sequence = &prometheus::BuildGauge()
                          .Name("iicc_inbox_sequence")
                          .Help("The inbox's high-water sequence: the newest received record's.")
                          .Register(m.registry)
                          .Add({});
  m.ready = &prometheus::BuildGauge()
                 .Name("iicc_ready")
                 .Help("1 when every readiness check passes (/readyz answers 200), else 0.")
                 .Register(m.registry)
                 .Add({});
  m.certificate_expiry = &prometheus::BuildGauge()
                              .Name("iicc_certificate_expiry_timestamp_seconds")
                              .Help("notAfter of the gateway's own certificates (Unix time), by name.")
                              .Register(m.registry);
  m.build_info = &prometheus::BuildGauge()
                      .Name("iicc_build_info")
                      .Help("Always 1; the labels say which build serves which jurisdiction.")
                      .Register(m.registry);
  SetBuildInfo(version, jurisdiction);
}

Metrics::~Metrics() = default;

void Metrics::SetBuildInfo(const std::string& version, const std::string& jurisdiction) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (m.build_info_child != nullptr) m.build_info->Remove(m.build_info_child);
  m.build_info_child = &m.build_info->Add({{"version", version}, {"jurisdiction", jurisdiction}});
  m.build_info_child->Set(1);
}

void Metrics::Submitted(v1::RecordType type) {
  if (const size_t i = TypeIndex(type); i < kRecordTypes.size()) impl_->submitted[i]->Increment();
}

void Metrics::Rejected(RejectStage stage, RejectReason reason) {
  if (auto it = impl_->rejected.find({stage, reason}); it != impl_->rejected.end()) it->second->Increment();
}

void Metrics::Delivered(v1::RecordType type, absl::Duration latency) {
  if (const size_t i = TypeIndex(type); i < kRecordTypes.size()) impl_->delivered[i]->Increment();
  impl_->latency->Observe(std::max(0.0, absl::ToDoubleSeconds(latency)));
}

void Metrics::Received(v1::RecordType type) {
  if (const size_t i = TypeIndex(type); i < kRecordTypes.size()) impl_->received[i]->Increment();
}

void Metrics::GrpcRequest(absl::string_view full_method, int code) {
  std::string service = "unknown";
  std::string method = "unknown";
  if (KnownMethods().contains(full_method)) {
    std::vector<absl::string_view> parts = absl::StrSplit(full_method.substr(1), '/');
    service = std::string(parts[0]);
    method = std::string(parts[1]);
  }
  if (code < 0 || code > 16) code = 2;  // UNKNOWN.
  const std::string code_name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  impl_->grpc_requests->Add({{"service", service}, {"method", method}, {"code", code_name}}).Increment();
}

void Metrics::PolicyReload(bool ok) { (ok ? impl_->reloads_ok : impl_->reloads_refused)->Increment(); }

void Metrics::Limited(Limit limit) {
  if (const size_t i = static_cast<size_t>(limit); i < kLimitLabels.size()) impl_->limited[i]->Increment();
}

void Metrics::DenialNotAudited() { impl_->denials_not_audited->Increment(); }

void Metrics::PeerReceiptTimeout() { impl_->receipt_timeouts->Increment(); }

void Metrics::HandshakeRefused(absl::string_view face, absl::string_view reason) {
  impl_->handshakes_refused->Add({{"face", std::string(face)}, {"reason", std::string(reason)}}).Increment();
}

std::string Metrics::Render(const Snapshot& snapshot) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.outbox_depth->Set(static_cast<double>(snapshot.outbox_depth));
  m.oldest_age->Set(snapshot.oldest_undelivered_age_seconds);
  m.link_up->Set(snapshot.peer_link_up ? 1 : 0);
  m.inbox_sequence->Set(static_cast<double>(snapshot.inbox_sequence));
  m.ready->Set(snapshot.ready ? 1 : 0);
  for (const auto& [name, not_after] : snapshot.certificate_expiry) {
    prometheus::Gauge*& child = m.certificate_children[name];
    if (child == nullptr) child = &m.certificate_expiry->Add({{"cert", name}});
    child->Set(static_cast<double>(absl::ToUnixSeconds(not_after)));
  }
  return prometheus::TextSerializer().Serialize(m.registry.Collect());
}

Metrics& Default() {
  static Metrics* const metrics = new Metrics(BuildVersion(), "");
  return *metrics;
}

}  // namespace iicc::metrics
