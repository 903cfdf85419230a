// Gathers the records that callers submit at the same time into batches for
// RecordAcceptor::SubmitBatch: one signature and one commit for all that
// arrived while the previous batch was being signed and committed. A quiet
// gateway runs batches of one; a busy one, batches as large as its load.
#ifndef IICC_GATEWAY_MINISTRY_SUBMIT_BATCHER_H_
#define IICC_GATEWAY_MINISTRY_SUBMIT_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "gateway/common/thread_pool.h"
#include "gateway/ministry/record_acceptor.h"
#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc::ministry {

// Thread-safe. One batch at a time runs, on `workers`, so records are stored
// in the order they were handed in. Does not own its dependencies; the
// owner waits for `workers` to be idle (ThreadPool::WaitIdle) before
// destroying what a batch uses.
class SubmitBatcher {
 public:
  // At most this many records per batch (a bound on one transaction and on
  // how long the first record of a batch waits for the last).
  static constexpr size_t kMaxBatch = 256;

  using Done = std::function<void(absl::StatusOr<v1::SubmitResponse>)>;

  SubmitBatcher(RecordAcceptor* acceptor, ThreadPool* workers) : acceptor_(acceptor), workers_(workers) {}

  // Queues `request` from `identity` by `method` (a string literal:
  // "Submit", "SubmitStream");
  // `done` gets RecordAcceptor::Submit's answer, on a worker thread, and must
  // not block. `request` is given up as in RecordAcceptor::Submit and must
  // stay valid until `done` runs.
  void Submit(std::string identity, v1::SubmitRequest* request, absl::string_view method, Done done);

 private:
  struct Item {
    std::string identity;
    v1::SubmitRequest* request;
    absl::string_view method;
    Done done;
  };
  // The batch task: runs batches while records are queued.
  void Drain();

  RecordAcceptor* const acceptor_;
  ThreadPool* const workers_;
  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // A Drain() task is scheduled or running.
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_SUBMIT_BATCHER_H_
