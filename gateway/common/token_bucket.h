// A token bucket: up to `burst` tokens, refilled continuously at `rate` per
// second. Time is passed in by the caller, so that tests drive it.
//
//   TokenBucket bucket(/*rate=*/10, /*burst=*/20, absl::Now());
//   if (!bucket.TryTake(absl::Now(), &retry_after)) { /* refuse */ }
#ifndef IICC_GATEWAY_COMMON_TOKEN_BUCKET_H_
#define IICC_GATEWAY_COMMON_TOKEN_BUCKET_H_

#include "absl/time/time.h"

namespace iicc {

// Not thread-safe: the owner serializes calls. Times going backwards (a
// clock stepped back) refill nothing.
class TokenBucket {
 public:
  // Starts full. REQUIRES: rate > 0, burst >= 1.
  TokenBucket(double rate, double burst, absl::Time now);

  // Takes one token if there is one at `now`. Otherwise returns false and,
  // if `retry_after` is not null, sets it to how long until one is there.
  bool TryTake(absl::Time now, absl::Duration* retry_after = nullptr);

  // True when the bucket is full at `now`: forgetting it and starting a new
  // one would change nothing.
  bool Full(absl::Time now) const;

 private:
  // Tokens at `now`, without changing anything.
  double TokensAt(absl::Time now) const;

  const double rate_;
  const double burst_;
  double tokens_;
  absl::Time updated_;
};

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_TOKEN_BUCKET_H_
