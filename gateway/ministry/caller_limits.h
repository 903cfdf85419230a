// Per-identity limits of the ministry face (GatewayConfig.limits): a request
// rate with bursts (a token bucket per SPIFFE ID) and the number of
// SubmitStream and Subscribe calls open at once. Refusals are
// RESOURCE_EXHAUSTED with a message naming the limit's configuration field
// and what the client should do; never the caller's data.
//
//   absl::Status admitted = limits.TakeRequest(identity, absl::Now());
//   if (!admitted.ok()) return admitted;  // RESOURCE_EXHAUSTED
#ifndef IICC_GATEWAY_MINISTRY_CALLER_LIMITS_H_
#define IICC_GATEWAY_MINISTRY_CALLER_LIMITS_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/common/token_bucket.h"
#include "iicc/v1/config.pb.h"

namespace iicc::ministry {

// Thread-safe. Time is passed in (absl::Now() in the gateway), so that tests
// drive it.
class CallerLimits {
 public:
  // The calls whose number per identity is limited.
  enum class Stream { kSubmitStream, kSubscribe };

  // REQUIRES: `config` passed config::LoadGatewayConfig (defaults filled:
  // limits.rate_limit, the stream maxima).
  explicit CallerLimits(const v1::GatewayConfig& config);

  // Takes one request of `identity`'s rate at `now`: OK, or
  // RESOURCE_EXHAUSTED naming limits.rate_limit (or the identity's own
  // rate_limit) and when a request will be allowed again.
  absl::Status TakeRequest(absl::string_view identity, absl::Time now);

  // Counts one more open `stream` of `identity`, or RESOURCE_EXHAUSTED
  // naming limits.max_streams_per_identity or
  // limits.max_subscriptions_per_identity when it has as many open already.
  // Each OK must be matched by one CloseStream.
  absl::Status OpenStream(absl::string_view identity, Stream stream);
  void CloseStream(absl::string_view identity, Stream stream);

  // Identities with a bucket now (for tests: the table stays bounded).
  size_t tracked_identities() const;

 private:
  struct Rate {
    uint32_t requests_per_second = 0;
    uint32_t burst = 0;
    std::string field;  // The configuration field it comes from.
  };
  struct Open {
    int streams = 0;
    int subscriptions = 0;
  };
  const Rate& RateOf(absl::string_view identity) const;

  Rate default_rate_;
  absl::flat_hash_map<std::string, Rate> rates_;  // Identities with their own rate_limit.
  const int max_streams_;
  const int max_subscriptions_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, TokenBucket> buckets_ ABSL_GUARDED_BY(mu_);
  // When buckets_ reaches this size, full buckets are forgotten (a full
  // bucket is a new one), so that many identities cannot grow it for ever.
  size_t next_sweep_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Open> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_CALLER_LIMITS_H_
