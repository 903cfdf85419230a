// The audit entries of denied calls on the ministry face
// (AUTHORIZATION_FAILURE, LIMIT_EXCEEDED), throttled per identity: a flood
// of denied calls must not grow the audit chain without bound, nor hold the
// store's writer. Per identity and minute (from its first denial), the first
// `per_minute` denials are audited one by one; the others are only counted,
// and one DENIALS_NOT_AUDITED entry gives their count once the minute is
// over (at the identity's next denial, or at the next Flush).
//
//   DenialAuditor denials(store, &workers, /*per_minute=*/20);
//   denials.Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, identity,
//                  "Subscribe: may not read CARGO records", absl::Now());
//   denials.Flush(absl::Now());  // Periodically, off gRPC's threads.
#ifndef IICC_GATEWAY_MINISTRY_DENIAL_AUDITOR_H_
#define IICC_GATEWAY_MINISTRY_DENIAL_AUDITOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/common/thread_pool.h"
#include "gateway/store/store.h"
#include "iicc/v1/audit.pb.h"

namespace iicc::ministry {

// Thread-safe. Does not own `store` or `workers`, which must outlive it.
class DenialAuditor {
 public:
  // The window the throttle counts in.
  static constexpr absl::Duration kWindow = absl::Minutes(1);
  // Identities tracked at once, by default; denials of further identities
  // within the minute share one quota and count under kOtherIdentities.
  static constexpr size_t kMaxIdentities = 10000;
  static constexpr absl::string_view kOtherIdentities = "(other identities)";

  // Audit writes run on `workers` (Denied() never blocks on the store), or
  // in the calling thread when `workers` is null. REQUIRES: per_minute >= 1.
  DenialAuditor(store::Store* store, ThreadPool* workers, int per_minute, size_t max_identities = kMaxIdentities);
  // Flushes every count, over or not.
  ~DenialAuditor();

  // A call of `identity` was denied at `now`; `detail` names the method and
  // the reason (never a record's content). Audited as `kind`, unless the
  // identity's minute is over its quota: then only counted.
  void Denied(v1::AuditEventKind kind, absl::string_view identity, std::string detail, absl::Time now);

  // Writes the DENIALS_NOT_AUDITED entries of the minutes over at `now`, and
  // forgets those identities. In the calling thread.
  void Flush(absl::Time now);

 private:
  struct Window {
    absl::Time start;
    int audited = 0;
    int64_t not_audited = 0;
  };
  // The entry for `window` of `identity`'s denials that went unaudited.
  static store::AuditEvent NotAudited(const std::string& identity, const Window& window);
  // Appends `events` in order, on the workers if there are.
  void Write(std::vector<store::AuditEvent> events);

  store::Store* const store_;
  ThreadPool* const workers_;
  const int per_minute_;
  const size_t max_identities_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_DENIAL_AUDITOR_H_
