#include "gateway/ministry/submit_batcher.h"

#include <utility>
#include <vector>

namespace iicc::ministry {

void SubmitBatcher::Submit(std::string identity, v1::SubmitRequest* request, absl::string_view method, Done done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Item{std::move(identity), request, method, std::move(done)});
  if (draining_) return;  // The running task takes it in its next batch.
  draining_ = true;
  workers_->Schedule([this] { Drain(); });
}

void SubmitBatcher::Drain() {
  std::vector<Item> items;
  std::vector<RecordAcceptor::Submission> batch;
  while (true) {
    items.clear();
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) {
        draining_ = false;
        return;
      }
      while (!queue_.empty() && items.size() < kMaxBatch) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    batch.clear();
    for (const Item& item : items) batch.push_back({item.identity, item.request, item.method});
    std::vector<absl::StatusOr<v1::SubmitResponse>> results = acceptor_->SubmitBatch(batch);
    for (size_t i = 0; i < items.size(); ++i) items[i].done(std::move(results[i]));
  }
}

}  // namespace iicc::ministry
