#include "gateway/common/thread_pool.h"

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace iicc {
namespace {

TEST(ThreadPoolTest, RunsEveryTask) {
  constexpr int kTasks = 1000;
  ThreadPool pool(4);
  std::atomic<int> ran{0};
  absl::BlockingCounter done(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    pool.Schedule([&] {
      ran.fetch_add(1);
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(ran.load(), kTasks);
}

TEST(ThreadPoolTest, RunsTasksOnPoolThreads) {
  ThreadPool pool(3);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  absl::BlockingCounter done(50);
  for (int i = 0; i < 50; ++i) {
    pool.Schedule([&] {
      {
        absl::MutexLock lock(&mu);
        threads.insert(std::this_thread::get_id());
      }
      done.DecrementCount();
    });
  }
  done.Wait();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(threads.size(), 1u);
  EXPECT_LE(threads.size(), 3u);
}

TEST(ThreadPoolTest, RunsTasksInParallel) {
  // Two tasks that each wait for the other can only finish on two threads.
  ThreadPool pool(2);
  absl::Notification first_started;
  absl::Notification second_started;
  std::atomic<bool> first_saw_second{false};
  std::atomic<bool> second_saw_first{false};
  absl::BlockingCounter done(2);
  pool.Schedule([&] {
    first_started.Notify();
    first_saw_second = second_started.WaitForNotificationWithTimeout(absl::Seconds(10));
    done.DecrementCount();
  });
  pool.Schedule([&] {
    second_started.Notify();
    second_saw_first = first_started.WaitForNotificationWithTimeout(absl::Seconds(10));
    done.DecrementCount();
  });
  done.Wait();
  EXPECT_TRUE(first_saw_second.load());
  EXPECT_TRUE(second_saw_first.load());
}

TEST(ThreadPoolTest, OneThreadRunsTasksInFifoOrder) {
  std::vector<int> order;
  {
    ThreadPool pool(1);
    for (int i = 0; i < 100; ++i) {
      pool.Schedule([&order, i] { order.push_back(i); });
    }
  }  // The destructor runs everything scheduled before joining.
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(ThreadPoolTest, DestructorRunsQueuedTasksBeforeJoining) {
  std::atomic<int> ran{0};
  absl::Notification blocker_started;
  {
    ThreadPool pool(1);
    // The only worker is busy while the destructor starts, so the tasks below
    // are still queued when it does.
    pool.Schedule([&] {
      blocker_started.Notify();
      absl::SleepFor(absl::Milliseconds(100));
      ran.fetch_add(1);
    });
    ASSERT_TRUE(blocker_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
    for (int i = 0; i < 100; ++i) {
      pool.Schedule([&] { ran.fetch_add(1); });
    }
  }
  EXPECT_EQ(ran.load(), 101);
}

TEST(ThreadPoolTest, WaitIdleReturnsOnlyAfterEveryTaskAndItsCapturesAreGone) {
  // A task's captures may hold what its owner frees after WaitIdle: they must
  // be destroyed by then, as must tasks that tasks schedule.
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  auto capture = std::make_shared<int>(7);
  std::weak_ptr<int> watch = capture;
  for (int i = 0; i < 20; ++i) {
    pool.Schedule([&, capture] {
      absl::SleepFor(absl::Milliseconds(5));
      pool.Schedule([&] { ran.fetch_add(1); });
      ran.fetch_add(*capture == 7 ? 1 : 0);
    });
  }
  capture.reset();
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 40);
  EXPECT_TRUE(watch.expired());
}

TEST(ThreadPoolTest, WaitIdleOnIdlePoolReturns) {
  ThreadPool pool(2);
  pool.WaitIdle();  // Must not hang.
  SUCCEED();
}

TEST(ThreadPoolTest, DestroysIdlePool) {
  auto pool = std::make_unique<ThreadPool>(4);
  pool.reset();  // Must not hang.
  SUCCEED();
}

}  // namespace
}  // namespace iicc
