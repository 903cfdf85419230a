#include "gateway/common/sequence_notifier.h"

#include <utility>
#include <vector>

namespace iicc {

void SequenceNotifier::Publish(int64_t sequence) {
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (sequence <= high_water_) return;
    high_water_ = sequence;
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (it->second.after < sequence) {
        ready.push_back(std::move(it->second.callback));
        watchers_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& callback : ready) callback();
}

int64_t SequenceNotifier::Bump() {
  int64_t next;
  {
    absl::MutexLock lock(&mu_);
    next = high_water_ + 1;
  }
  Publish(next);
  return next;
}

int64_t SequenceNotifier::high_water() const {
  absl::MutexLock lock(&mu_);
  return high_water_;
}

int64_t SequenceNotifier::WaitFor(int64_t after, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto passed = [this, after]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || high_water_ > after; };
  mu_.AwaitWithTimeout(absl::Condition(&passed), timeout);
  return high_water_;
}

SequenceNotifier::Token SequenceNotifier::Watch(int64_t after, std::function<void()> callback) {
  {
    absl::MutexLock lock(&mu_);
    // After Close() nothing would ever run it: it runs now, like a passed mark.
    if (high_water_ <= after && !closed_) {
      const Token token = next_token_++;
      watchers_.emplace(token, Watcher{after, std::move(callback)});
      return token;
    }
  }
  callback();
  return 0;
}

bool SequenceNotifier::Unwatch(Token token) {
  absl::MutexLock lock(&mu_);
  return watchers_.erase(token) > 0;
}

void SequenceNotifier::Close() {
  std::vector<std::function<void()>> pending;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [token, watcher] : watchers_) pending.push_back(std::move(watcher.callback));
    watchers_.clear();
  }
  for (auto& callback : pending) callback();
}

bool SequenceNotifier::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

}  // namespace iicc
