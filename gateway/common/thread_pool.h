// A fixed pool of worker threads for blocking work (store commits) that must
// not run on gRPC's callback threads.
#ifndef IICC_GATEWAY_COMMON_THREAD_POOL_H_
#define IICC_GATEWAY_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace iicc {

// Thread-safe. Tasks run in FIFO order on `num_threads` threads. The
// destructor runs every task already scheduled, then joins the threads.
class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`. REQUIRES: the pool is not being destroyed.
  void Schedule(std::function<void()> task);

  // Blocks until every task scheduled so far (and any they schedule) has
  // returned. Owners call it before destroying what the tasks use.
  void WaitIdle();

 private:
  void WorkLoop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_THREAD_POOL_H_
