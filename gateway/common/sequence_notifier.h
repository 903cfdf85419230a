// Wakes whoever waits for a sequence number to pass a point: subscriptions
// waiting for new inbox records, the forwarder waiting for new outbox records.
//
//   SequenceNotifier inbox;
//   inbox.Publish(42);                      // after a commit
//   int64_t seen = inbox.WaitFor(41, absl::Seconds(1));  // a thread
//   auto token = inbox.Watch(41, [] { ... });            // a reactor
#ifndef IICC_GATEWAY_COMMON_SEQUENCE_NOTIFIER_H_
#define IICC_GATEWAY_COMMON_SEQUENCE_NOTIFIER_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace iicc {

// Thread-safe.
class SequenceNotifier {
 public:
  using Token = uint64_t;

  explicit SequenceNotifier(int64_t initial = 0) : high_water_(initial) {}

  // Raises the high-water mark to `sequence` (never lowers it) and runs the
  // callbacks of the watches it satisfies, on this thread, without the lock.
  void Publish(int64_t sequence);

  // Raises the high-water mark by one. Returns the new mark.
  int64_t Bump();

  // The high-water mark.
  int64_t high_water() const;

  // Blocks until the mark exceeds `after` or `timeout` passes, or Close() is
  // called. Returns the mark.
  int64_t WaitFor(int64_t after, absl::Duration timeout) const;

  // Calls `callback` once when the mark exceeds `after`: at once (on this
  // thread, returning 0) if it already does, or after Close(). Otherwise
  // returns a token for Unwatch.
  Token Watch(int64_t after, std::function<void()> callback);

  // Removes a watch. True if it was still waiting (its callback will never
  // run); false if it already ran or is running.
  bool Unwatch(Token token);

  // Wakes every WaitFor and runs every pending watch callback (on this
  // thread); later waits return at once. Watchers check closed() to tell a
  // close from a new sequence.
  void Close();

  // True after Close().
  bool closed() const;

 private:
  struct Watcher {
    int64_t after;
    std::function<void()> callback;
  };

  mutable absl::Mutex mu_;
  int64_t high_water_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Token next_token_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<Token, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_SEQUENCE_NOTIFIER_H_
