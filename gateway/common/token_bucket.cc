#include "gateway/common/token_bucket.h"

#include <algorithm>

namespace iicc {

TokenBucket::TokenBucket(double rate, double burst, absl::Time now)
    : rate_(rate), burst_(burst), tokens_(burst), updated_(now) {}

double TokenBucket::TokensAt(absl::Time now) const {
  if (now <= updated_) return tokens_;
  return std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - updated_) * rate_);
}

bool TokenBucket::TryTake(absl::Time now, absl::Duration* retry_after) {
  tokens_ = TokensAt(now);
  updated_ = std::max(updated_, now);
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  if (retry_after != nullptr) *retry_after = absl::Seconds((1 - tokens_) / rate_);
  return false;
}

bool TokenBucket::Full(absl::Time now) const { return TokensAt(now) >= burst_; }

}  // namespace iicc
