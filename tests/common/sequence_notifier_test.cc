#include "gateway/common/sequence_notifier.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace iicc {
namespace {

TEST(SequenceNotifierTest, StartsAtInitialValue) {
  EXPECT_EQ(SequenceNotifier().high_water(), 0);
  EXPECT_EQ(SequenceNotifier(17).high_water(), 17);
}

TEST(SequenceNotifierTest, PublishRaisesButNeverLowers) {
  SequenceNotifier notifier;
  notifier.Publish(5);
  EXPECT_EQ(notifier.high_water(), 5);
  notifier.Publish(3);
  EXPECT_EQ(notifier.high_water(), 5);
  notifier.Publish(5);
  EXPECT_EQ(notifier.high_water(), 5);
  notifier.Publish(9);
  EXPECT_EQ(notifier.high_water(), 9);
}

TEST(SequenceNotifierTest, BumpRaisesByOne) {
  SequenceNotifier notifier(4);
  EXPECT_EQ(notifier.Bump(), 5);
  EXPECT_EQ(notifier.Bump(), 6);
  EXPECT_EQ(notifier.high_water(), 6);
}

TEST(SequenceNotifierTest, WatchFiresAtOnceWhenAlreadyPast) {
  SequenceNotifier notifier;
  notifier.Publish(5);
  int calls = 0;
  EXPECT_EQ(notifier.Watch(4, [&calls] { ++calls; }), 0u);
  EXPECT_EQ(calls, 1);
  // Firing at once consumed the watch: later publishes do not call it again.
  notifier.Publish(6);
  EXPECT_EQ(calls, 1);
}

TEST(SequenceNotifierTest, WatchWaitsWhileMarkEqualsAfter) {
  SequenceNotifier notifier;
  notifier.Publish(5);
  int calls = 0;
  const SequenceNotifier::Token token = notifier.Watch(5, [&calls] { ++calls; });
  EXPECT_NE(token, 0u);
  EXPECT_EQ(calls, 0);
}

TEST(SequenceNotifierTest, WatchFiresOnceOnALaterPublish) {
  SequenceNotifier notifier;
  int calls = 0;
  const SequenceNotifier::Token token = notifier.Watch(10, [&calls] { ++calls; });
  ASSERT_NE(token, 0u);
  notifier.Publish(10);  // Not past 10 yet.
  EXPECT_EQ(calls, 0);
  notifier.Publish(11);
  EXPECT_EQ(calls, 1);
  notifier.Publish(12);
  notifier.Bump();
  EXPECT_EQ(calls, 1);
}

TEST(SequenceNotifierTest, BumpFiresWatches) {
  SequenceNotifier notifier;
  int calls = 0;
  ASSERT_NE(notifier.Watch(0, [&calls] { ++calls; }), 0u);
  notifier.Bump();
  EXPECT_EQ(calls, 1);
}

TEST(SequenceNotifierTest, OnePublishFiresEverySatisfiedWatchOnly) {
  SequenceNotifier notifier;
  int low = 0;
  int high = 0;
  ASSERT_NE(notifier.Watch(1, [&low] { ++low; }), 0u);
  ASSERT_NE(notifier.Watch(2, [&low] { ++low; }), 0u);
  ASSERT_NE(notifier.Watch(7, [&high] { ++high; }), 0u);
  notifier.Publish(3);
  EXPECT_EQ(low, 2);
  EXPECT_EQ(high, 0);
  notifier.Publish(8);
  EXPECT_EQ(low, 2);
  EXPECT_EQ(high, 1);
}

TEST(SequenceNotifierTest, TokensAreDistinct) {
  SequenceNotifier notifier;
  const SequenceNotifier::Token a = notifier.Watch(0, [] {});
  const SequenceNotifier::Token b = notifier.Watch(0, [] {});
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_NE(a, b);
}

TEST(SequenceNotifierTest, UnwatchBeforeFireCancels) {
  SequenceNotifier notifier;
  int calls = 0;
  const SequenceNotifier::Token token = notifier.Watch(0, [&calls] { ++calls; });
  ASSERT_NE(token, 0u);
  EXPECT_TRUE(notifier.Unwatch(token));
  notifier.Publish(1);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(notifier.Unwatch(token));
}

TEST(SequenceNotifierTest, UnwatchAfterFireReturnsFalse) {
  SequenceNotifier notifier;
  int calls = 0;
  const SequenceNotifier::Token token = notifier.Watch(0, [&calls] { ++calls; });
  ASSERT_NE(token, 0u);
  notifier.Publish(1);
  ASSERT_EQ(calls, 1);
  EXPECT_FALSE(notifier.Unwatch(token));
}

TEST(SequenceNotifierTest, UnwatchOfOneWatchLeavesTheOthers) {
  SequenceNotifier notifier;
  int cancelled = 0;
  int kept = 0;
  const SequenceNotifier::Token a = notifier.Watch(0, [&cancelled] { ++cancelled; });
  const SequenceNotifier::Token b = notifier.Watch(0, [&kept] { ++kept; });
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_TRUE(notifier.Unwatch(a));
  notifier.Publish(1);
  EXPECT_EQ(cancelled, 0);
  EXPECT_EQ(kept, 1);
}

TEST(SequenceNotifierTest, CallbackMayUseTheNotifier) {
  // Callbacks run without the lock: one may read the mark or watch again.
  SequenceNotifier notifier;
  int64_t seen = -1;
  int rewatched = 0;
  ASSERT_NE(notifier.Watch(0,
                           [&] {
                             seen = notifier.high_water();
                             notifier.Watch(0, [&rewatched] { ++rewatched; });
                           }),
            0u);
  notifier.Publish(3);
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(rewatched, 1);  // Already past: ran at once.
}

TEST(SequenceNotifierTest, WatchFiresOnPublishFromAnotherThread) {
  SequenceNotifier notifier;
  absl::Notification fired;
  ASSERT_NE(notifier.Watch(0, [&fired] { fired.Notify(); }), 0u);
  std::thread publisher([&notifier] { notifier.Publish(1); });
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  publisher.join();
}

TEST(SequenceNotifierTest, WaitForReturnsAtOnceWhenAlreadyPast) {
  SequenceNotifier notifier(3);
  const absl::Time start = absl::Now();
  EXPECT_EQ(notifier.WaitFor(2, absl::Seconds(30)), 3);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(SequenceNotifierTest, WaitForReturnsOnPublishFromAnotherThread) {
  SequenceNotifier notifier;
  std::thread publisher([&notifier] {
    absl::SleepFor(absl::Milliseconds(50));
    notifier.Publish(7);
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(notifier.WaitFor(0, absl::Seconds(30)), 7);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  publisher.join();
}

TEST(SequenceNotifierTest, WaitForIgnoresPublishesNotPastAfter) {
  SequenceNotifier notifier;
  std::thread publisher([&notifier] {
    absl::SleepFor(absl::Milliseconds(20));
    notifier.Publish(5);  // Not past 5: the waiter keeps waiting.
    absl::SleepFor(absl::Milliseconds(50));
    notifier.Publish(6);
  });
  EXPECT_EQ(notifier.WaitFor(5, absl::Seconds(30)), 6);
  publisher.join();
}

TEST(SequenceNotifierTest, WaitForTimesOut) {
  SequenceNotifier notifier(2);
  const absl::Time start = absl::Now();
  EXPECT_EQ(notifier.WaitFor(2, absl::Milliseconds(100)), 2);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(90));
  EXPECT_LT(waited, absl::Seconds(10));
}

TEST(SequenceNotifierTest, CloseWakesWaiters) {
  SequenceNotifier notifier;
  std::atomic<bool> returned{false};
  int64_t result = -1;
  absl::Time woke;
  std::thread waiter([&] {
    result = notifier.WaitFor(0, absl::Seconds(60));
    woke = absl::Now();
    returned = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(returned.load());
  const absl::Time closed = absl::Now();
  notifier.Close();
  waiter.join();
  EXPECT_EQ(result, 0);
  EXPECT_LT(woke - closed, absl::Seconds(10));
}

TEST(SequenceNotifierTest, WaitForAfterCloseReturnsAtOnce) {
  SequenceNotifier notifier(1);
  notifier.Close();
  const absl::Time start = absl::Now();
  EXPECT_EQ(notifier.WaitFor(5, absl::Seconds(30)), 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace iicc
