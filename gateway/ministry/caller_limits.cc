#include "gateway/ministry/caller_limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace iicc::ministry {
namespace {

// Buckets kept before full ones are swept out.
constexpr size_t kSweepAtBuckets = 4096;

// Whole milliseconds, at least 1: what a client can sleep for.
int64_t RetryMillis(absl::Duration wait) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
}

}  // namespace

CallerLimits::CallerLimits(const v1::GatewayConfig& config)
    : max_streams_(static_cast<int>(config.limits().max_streams_per_identity())),
      max_subscriptions_(static_cast<int>(config.limits().max_subscriptions_per_identity())),
      next_sweep_(kSweepAtBuckets) {
  default_rate_ = {config.limits().rate_limit().requests_per_second(), config.limits().rate_limit().burst(),
                   "limits.rate_limit"};
  for (int i = 0; i < config.ministries_size(); ++i) {
    const v1::MinistryIdentity& identity = config.ministries(i);
    if (identity.has_rate_limit()) {
      rates_[identity.spiffe_id()] = {identity.rate_limit().requests_per_second(), identity.rate_limit().burst(),
                                      absl::StrCat("ministries[", i, "].rate_limit")};
    }
  }
}

const CallerLimits::Rate& CallerLimits::RateOf(absl::string_view identity) const {
  auto it = rates_.find(identity);
  return it == rates_.end() ? default_rate_ : it->second;
}

absl::Status CallerLimits::TakeRequest(absl::string_view identity, absl::Time now) {
  const Rate& rate = RateOf(identity);
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(identity);
  if (it == buckets_.end()) {
    if (buckets_.size() >= next_sweep_) {
      absl::erase_if(buckets_, [now](const auto& entry) { return entry.second.Full(now); });
      next_sweep_ = std::max(kSweepAtBuckets, 2 * buckets_.size());
    }
    it = buckets_.try_emplace(std::string(identity), rate.requests_per_second, rate.burst, now).first;
  }
  absl::Duration wait;
  if (it->second.TryTake(now, &wait)) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("rate limit exceeded (", rate.field, ": ", rate.requests_per_second, " requests per second, burst ",
                   rate.burst, " per identity); retry after ", RetryMillis(wait), " ms or later, with backoff"));
}

absl::Status CallerLimits::OpenStream(absl::string_view identity, Stream stream) {
  absl::MutexLock lock(&mu_);
  Open& open = open_[identity];
  if (stream == Stream::kSubmitStream) {
    if (open.streams >= max_streams_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many open SubmitStream calls (limits.max_streams_per_identity: ", max_streams_,
                       " per identity); send on a stream already open, or retry after one closes, with backoff"));
    }
    ++open.streams;
  } else {
    if (open.subscriptions >= max_subscriptions_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many open Subscribe calls (limits.max_subscriptions_per_identity: ", max_subscriptions_,
                       " per identity); retry after one closes, with backoff"));
    }
    ++open.subscriptions;
  }
  return absl::OkStatus();
}

void CallerLimits::CloseStream(absl::string_view identity, Stream stream) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(identity);
  if (it == open_.end()) return;
  int& count = stream == Stream::kSubmitStream ? it->second.streams : it->second.subscriptions;
  if (count > 0) --count;
  if (it->second.streams == 0 && it->second.subscriptions == 0) open_.erase(it);
}

size_t CallerLimits::tracked_identities() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace iicc::ministry
