#include "gateway/common/token_bucket.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace iicc {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(TokenBucketTest, StartsFullAndAllowsTheBurstAtOnce) {
  TokenBucket bucket(/*rate=*/2, /*burst=*/5, kStart);
  EXPECT_TRUE(bucket.Full(kStart));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryTake(kStart)) << i;
  EXPECT_FALSE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.Full(kStart));
}

TEST(TokenBucketTest, RefusalSaysWhenTheNextTokenIsThere) {
  TokenBucket bucket(/*rate=*/4, /*burst=*/1, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart));
  absl::Duration retry_after;
  ASSERT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(100), &retry_after));
  EXPECT_EQ(absl::ToInt64Milliseconds(retry_after), 150);  // 250 ms per token, 100 ms gone.
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(249)));
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Milliseconds(250)));
}

TEST(TokenBucketTest, RefillsAtTheRateAndNeverBeyondTheBurst) {
  TokenBucket bucket(/*rate=*/10, /*burst=*/3, kStart);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.TryTake(kStart));
  // One second refills 10 tokens' worth, but the bucket holds 3.
  const absl::Time later = kStart + absl::Seconds(1);
  EXPECT_TRUE(bucket.Full(later));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake(later)) << i;
  EXPECT_FALSE(bucket.TryTake(later));
  // Sustained: one token per 100 ms.
  for (int i = 1; i <= 20; ++i) {
    EXPECT_TRUE(bucket.TryTake(later + absl::Milliseconds(100 * i))) << i;
    EXPECT_FALSE(bucket.TryTake(later + absl::Milliseconds(100 * i))) << i;
  }
}

TEST(TokenBucketTest, AClockSteppedBackRefillsNothing) {
  TokenBucket bucket(/*rate=*/1, /*burst=*/1, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart - absl::Hours(1)));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(999)));
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Seconds(1)));
}

}  // namespace
}  // namespace iicc
