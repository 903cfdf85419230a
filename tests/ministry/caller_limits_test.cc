#include "gateway/ministry/caller_limits.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iicc::ministry {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);
constexpr char kRegistry[] = "spiffe://kz.iicc/ministry/registry";
constexpr char kCustoms[] = "spiffe://kz.iicc/ministry/customs";

// Two requests per second, burst 3, for everyone but customs, which has 10
// per second, burst 1. Two streams and one subscription per identity.
v1::GatewayConfig Config() {
  v1::GatewayConfig config;
  config.mutable_limits()->mutable_rate_limit()->set_requests_per_second(2);
  config.mutable_limits()->mutable_rate_limit()->set_burst(3);
  config.mutable_limits()->set_max_streams_per_identity(2);
  config.mutable_limits()->set_max_subscriptions_per_identity(1);
  config.add_ministries()->set_spiffe_id(kRegistry);
  v1::MinistryIdentity* customs = config.add_ministries();
  customs->set_spiffe_id(kCustoms);
  customs->mutable_rate_limit()->set_requests_per_second(10);
  customs->mutable_rate_limit()->set_burst(1);
  return config;
}

TEST(CallerLimitsTest, ABurstPassesThenTheRateRefusesNamingTheLimitAndWhenToRetry) {
  CallerLimits limits(Config());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.TakeRequest(kRegistry, kStart).ok()) << i;
  const absl::Status refused = limits.TakeRequest(kRegistry, kStart);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("limits.rate_limit: 2 requests per second, burst 3"));
  EXPECT_THAT(refused.message(), HasSubstr("retry after 500 ms"));
  EXPECT_THAT(refused.message(), ::testing::Not(HasSubstr(kRegistry)));
  // Refilled: one request per 500 ms.
  EXPECT_FALSE(limits.TakeRequest(kRegistry, kStart + absl::Milliseconds(499)).ok());
  EXPECT_TRUE(limits.TakeRequest(kRegistry, kStart + absl::Milliseconds(500)).ok());
}

TEST(CallerLimitsTest, EachIdentityHasItsOwnBucketAndItsOwnRate) {
  CallerLimits limits(Config());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limits.TakeRequest(kRegistry, kStart).ok());
  ASSERT_FALSE(limits.TakeRequest(kRegistry, kStart).ok());
  // Customs is not slowed by the registry's flood, and has its own limit.
  EXPECT_TRUE(limits.TakeRequest(kCustoms, kStart).ok());
  const absl::Status refused = limits.TakeRequest(kCustoms, kStart);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("ministries[1].rate_limit: 10 requests per second, burst 1"));
  EXPECT_TRUE(limits.TakeRequest(kCustoms, kStart + absl::Milliseconds(100)).ok());
  // A caller the configuration does not list gets the default.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.TakeRequest("spiffe://kz.iicc/ministry/x", kStart).ok());
  EXPECT_FALSE(limits.TakeRequest("spiffe://kz.iicc/ministry/x", kStart).ok());
}

TEST(CallerLimitsTest, ManyIdentitiesDoNotGrowTheTableForEver) {
  CallerLimits limits(Config());
  // Each identity once, one second apart: every earlier bucket is full again.
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(limits.TakeRequest(absl::StrCat("spiffe://kz.iicc/ministry/m", i), kStart + absl::Seconds(i)).ok());
  }
  EXPECT_LE(limits.tracked_identities(), 8192u);
}

TEST(CallerLimitsTest, StreamsAndSubscriptionsAreCountedPerIdentityAndFreedOnClose) {
  CallerLimits limits(Config());
  using Stream = CallerLimits::Stream;
  ASSERT_TRUE(limits.OpenStream(kRegistry, Stream::kSubmitStream).ok());
  ASSERT_TRUE(limits.OpenStream(kRegistry, Stream::kSubmitStream).ok());
  absl::Status refused = limits.OpenStream(kRegistry, Stream::kSubmitStream);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("limits.max_streams_per_identity: 2"));
  // Subscriptions count apart, and so does another identity.
  ASSERT_TRUE(limits.OpenStream(kRegistry, Stream::kSubscribe).ok());
  refused = limits.OpenStream(kRegistry, Stream::kSubscribe);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("limits.max_subscriptions_per_identity: 1"));
  EXPECT_TRUE(limits.OpenStream(kCustoms, Stream::kSubmitStream).ok());
  EXPECT_TRUE(limits.OpenStream(kCustoms, Stream::kSubscribe).ok());
  // Closing one makes room for one.
  limits.CloseStream(kRegistry, Stream::kSubmitStream);
  EXPECT_TRUE(limits.OpenStream(kRegistry, Stream::kSubmitStream).ok());
  EXPECT_FALSE(limits.OpenStream(kRegistry, Stream::kSubmitStream).ok());
  limits.CloseStream(kRegistry, Stream::kSubscribe);
  EXPECT_TRUE(limits.OpenStream(kRegistry, Stream::kSubscribe).ok());
}

}  // namespace
}  // namespace iicc::ministry
