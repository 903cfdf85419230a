#include "gateway/common/thread_pool.h"

#include <utility>

namespace iicc {

ThreadPool::ThreadPool(int num_threads) {
  threads_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) threads_.emplace_back([this] { WorkLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void ThreadPool::Schedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

void ThreadPool::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](ThreadPool* pool)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) { return pool->queue_.empty() && pool->running_ == 0; },
      this));
}

void ThreadPool::WorkLoop() {
  bool ran = false;
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      if (ran) --running_;  // Its captures are gone too: WaitIdle may free what they used.
      mu_.Await(absl::Condition(
          +[](ThreadPool* pool)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) { return pool->stopping_ || !pool->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // Stopping, and everything scheduled has run.
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    task = nullptr;
    ran = true;
  }
}

}  // namespace iicc
