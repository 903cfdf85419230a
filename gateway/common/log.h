// Structured logs: one JSON object per line on stderr.
//
//   Log(LogLevel::kInfo, "gateway.started", {{"ministry_address", address}});
//   -> {"ts":"2026-11-28T01:02:03.456Z","level":"info","event":"gateway.started","ministry_address":"..."}
//
// Never pass a record's field values: identities, record ids, digests,
// counts and codes only.
#ifndef IICC_GATEWAY_COMMON_LOG_H_
#define IICC_GATEWAY_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace iicc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo. Thread-safe.
void SetLogLevel(LogLevel level);

using LogFields = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

// Writes one line. Thread-safe; lines never interleave.
void Log(LogLevel level, absl::string_view event, LogFields fields = {});

// Lines of one batch of work (one per record), formatted as Log() formats
// them and written together, with one write, when the batch is flushed or
// destroyed: a batch of records costs one system call, not one per record.
// Not thread-safe; use one per batch.
class LogBatch {
 public:
  LogBatch() = default;
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;
  ~LogBatch() { Flush(); }

  void Add(LogLevel level, absl::string_view event, LogFields fields = {});
  void Flush();

 private:
  std::string lines_;
};

// `text` escaped for inclusion in a JSON string (without the quotes).
std::string JsonEscape(absl::string_view text);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_LOG_H_
