#include "gateway/common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace iicc {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warning", "error"};

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

namespace {

// Appends `event` as one line to `out`, unless `level` is below the level.
void AppendLine(LogLevel level, absl::string_view event, LogFields fields, std::string* out) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  absl::StrAppend(out, "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                  "\",\"level\":\"", kLevelNames[static_cast<int>(level)], "\",\"event\":\"", JsonEscape(event), "\"");
  for (const auto& [key, value] : fields) absl::StrAppend(out, ",\"", key, "\":\"", JsonEscape(value), "\"");
  out->append("}\n");
}

// One fwrite of whole lines: stdio locks the stream per call, so lines of
// different threads never interleave.
void Write(const std::string& lines) {
  if (lines.empty()) return;
  std::fwrite(lines.data(), 1, lines.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void Log(LogLevel level, absl::string_view event, LogFields fields) {
  std::string line;
  AppendLine(level, event, fields, &line);
  Write(line);
}

void LogBatch::Add(LogLevel level, absl::string_view event, LogFields fields) {
  AppendLine(level, event, fields, &lines_);
}

void LogBatch::Flush() {
  Write(lines_);
  lines_.clear();
}

}  // namespace iicc
