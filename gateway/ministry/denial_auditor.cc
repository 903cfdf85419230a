#include "gateway/ministry/denial_auditor.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/audit.h"

namespace iicc::ministry {

DenialAuditor::DenialAuditor(store::Store* store, ThreadPool* workers, int per_minute, size_t max_identities)
    : store_(store), workers_(workers), per_minute_(per_minute), max_identities_(max_identities) {}

DenialAuditor::~DenialAuditor() { Flush(absl::InfiniteFuture()); }

store::AuditEvent DenialAuditor::NotAudited(const std::string& identity, const Window& window) {
  return {v1::AUDIT_EVENT_KIND_DENIALS_NOT_AUDITED, "", identity, "",
          absl::StrCat(window.not_audited, " more denied calls in the minute from ",
                       absl::FormatTime(absl::RFC3339_sec, window.start, absl::UTCTimeZone()),
                       ", over limits.audited_denials_per_minute")};
}

void DenialAuditor::Write(std::vector<store::AuditEvent> events) {
  auto write = [store = store_, events = std::move(events)] {
    for (const store::AuditEvent& event : events) store::AuditOrLog(store, event);
  };
  if (workers_ == nullptr) {
    write();
  } else {
    workers_->Schedule(std::move(write));
  }
}

void DenialAuditor::Denied(v1::AuditEventKind kind, absl::string_view identity, std::string detail, absl::Time now) {
  std::vector<store::AuditEvent> events;
  {
    absl::MutexLock lock(&mu_);
    auto it = windows_.find(identity);
    if (it == windows_.end()) {
      const absl::string_view key = windows_.size() < max_identities_ ? identity : kOtherIdentities;
      it = windows_.try_emplace(std::string(key), Window{now}).first;
    }
    Window& window = it->second;
    if (now - window.start >= kWindow) {
      if (window.not_audited > 0) events.push_back(NotAudited(it->first, window));
      window = Window{now};
    }
    if (window.audited < per_minute_) {
      ++window.audited;
      events.push_back({kind, "", std::string(identity), "", std::move(detail)});
    } else {
      ++window.not_audited;
      metrics::Default().DenialNotAudited();
    }
  }
  // One task, so that a minute's count is written before the next entry.
  if (!events.empty()) Write(std::move(events));
}

void DenialAuditor::Flush(absl::Time now) {
  std::vector<store::AuditEvent> events;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (now - it->second.start < kWindow) {
        ++it;
        continue;
      }
      if (it->second.not_audited > 0) events.push_back(NotAudited(it->first, it->second));
      windows_.erase(it++);
    }
  }
  for (const store::AuditEvent& event : events) store::AuditOrLog(store_, event);
}

}  // namespace iicc::ministry
