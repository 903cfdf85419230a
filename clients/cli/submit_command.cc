// iicc-cli submit: one record with Submit, or a JSON-lines file through
// SubmitStream, with a progress bar on a terminal, a summary, and retries that
// never duplicate (every request keeps its request_id across attempts).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/cli/cli_internal.h"
#include "clients/cli/commands.h"
#include "gateway/common/files.h"
#include "gateway/common/grpc_status.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace iicc::cli {
namespace {

// Refusals the summary lists one by one; the rest are counted (every answer
// is on stdout anyway).
constexpr size_t kListedRefusals = 20;

// Where one record of a JSON-lines file is: its byte offset, for reading it
// again when it is sent, and its line number, for messages.
struct RecordLine {
  std::streamoff offset;
  int number;
};

// Reads the line at `line` and parses it; gives it a content-derived
// request_id when it has none.
bool ReadRequest(std::ifstream& in, const RecordLine& line, v1::SubmitRequest* request, std::string* error) {
  in.clear();
  in.seekg(line.offset);
  std::string text;
  if (!std::getline(in, text)) {
    *error = "cannot be read";
    return false;
  }
  if (!ParseSubmitRequest(text, request, error)) return false;
  if (request->request_id().empty()) request->set_request_id(ContentRequestId(request->record()));
  return true;
}

// The first pass over a JSON-lines file: every non-blank line must parse, or
// nothing is sent. Keeps only where each record starts, so a file of any
// length is streamed in constant memory.
bool ScanJsonLines(const std::string& path, std::vector<RecordLine>* lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "iicc-cli: cannot read %s\n", path.c_str());
    return false;
  }
  std::string text;
  v1::SubmitRequest request;
  std::streamoff offset = 0;
  // Each request_id's first line: two lines with one request_id are one
  // record (the second is answered with the first's answer), which is worth
  // a warning: identical lines usually mean a file was concatenated twice.
  absl::flat_hash_map<std::string, int> first_line_of;
  size_t repeated = 0;
  for (int number = 1; std::getline(in, text); ++number) {
    const std::streamoff start = offset;
    offset += static_cast<std::streamoff>(text.size()) + 1;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string error;
    if (!ParseSubmitRequest(text, &request, &error)) {
      std::fprintf(stderr, "iicc-cli: %s:%d: not a record: %s\n", path.c_str(), number, error.c_str());
      return false;
    }
    if (request.request_id().empty()) request.set_request_id(ContentRequestId(request.record()));
    const auto [first, inserted] = first_line_of.emplace(request.request_id(), number);
    if (!inserted && ++repeated <= kListedRefusals) {
      std::fprintf(stderr, "iicc-cli: %s:%d: the same request_id as line %d: one record, answered twice\n",
                   path.c_str(), number, first->second);
    }
    lines->push_back({start, number});
  }
  if (lines->empty()) {
    std::fprintf(stderr, "iicc-cli: %s holds no record\n", path.c_str());
    return false;
  }
  return true;
}

// A one-line progress bar on stderr, drawn only when stderr is a terminal
// (never into a log file or a pipe) and the answers go elsewhere (on the same
// terminal, the answers show the progress, and the bar would break their
// lines), at most ten times a second.
class ProgressBar {
 public:
  explicit ProgressBar(size_t total)
      : total_(total), enabled_(isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) == 0) {}

  void Update(size_t accepted, size_t refused, bool force = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    const size_t done = accepted + refused;
    const int filled = static_cast<int>(kWidth * done / std::max<size_t>(total_, 1));
    std::fprintf(stderr, "\r[%s%s] %zu/%zu  %zu accepted  %zu refused ", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done, total_, accepted, refused);
    drawn_ = true;
  }

  // Erases the bar, so that what follows starts on a clean line.
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  const size_t total_;
  const bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

// The tally of a JSON-lines submission.
struct Tally {
  size_t accepted = 0;
  size_t refused = 0;
  std::vector<std::string> refusals;  // "line N: CODE: message", the first kListedRefusals

  void Count(const v1::SubmitResponse& response, int line_number) {
    if (!response.has_error()) {
      ++accepted;
      return;
    }
    ++refused;
    if (refusals.size() < kListedRefusals) {
      refusals.push_back(
          absl::StrCat("line ", line_number, ": ", response.error().code(), ": ", response.error().message()));
    }
  }

  void PrintSummary(size_t total) const {
    std::fprintf(stderr, "submitted %zu: %zu accepted, %zu refused\n", total, accepted, refused);
    for (const std::string& refusal : refusals) std::fprintf(stderr, "  %s\n", refusal.c_str());
    if (refused > refusals.size()) {
      std::fprintf(stderr, "  ... and %zu more refusals (every answer is on stdout)\n", refused - refusals.size());
    }
  }
};

// How long a submission keeps trying while the gateway is unreachable or
// restarting: `window` from the first failure, starting over whenever the
// gateway answers. Sending again is always safe: every request keeps its
// request_id, and the gateway answers a request_id it has seen with its first
// answer.
class RetryWindow {
 public:
  RetryWindow(grpc::Channel* channel, std::chrono::seconds window) : channel_(channel), window_(window) {}

  // The gateway answered: a later failure gets the whole window again.
  void Restart() {
    deadline_.reset();
    pause_ = kFirstPause;
  }

  // Whether to send again after `status`: it must be retryable and the window
  // open. Pauses (doubling, with jitter, so that many clients do not return
  // in step), then waits within the window for the channel to connect again,
  // rather than failing fast while gRPC backs off its reconnects.
  bool Again(const grpc::Status& status) {
    if (!Retryable(status)) return false;
    const auto now = std::chrono::system_clock::now();
    if (!deadline_) deadline_ = now + window_;
    const auto pause = std::chrono::milliseconds(absl::Uniform<int64_t>(bits_, pause_.count() / 2, pause_.count() + 1));
    if (now + pause >= *deadline_) return false;
    std::this_thread::sleep_for(pause);
    pause_ = std::min(pause_ * 2, kMaxPause);
    return channel_->WaitForConnected(*deadline_);
  }

 private:
  static constexpr std::chrono::milliseconds kFirstPause{250};
  static constexpr std::chrono::milliseconds kMaxPause{4000};

  grpc::Channel* const channel_;
  const std::chrono::seconds window_;
  std::optional<std::chrono::system_clock::time_point> deadline_;
  std::chrono::milliseconds pause_ = kFirstPause;
  absl::BitGen bits_;
};

// One SubmitStream over lines[*answered...]: sends them, prints and counts
// the answers (one per request, in request order), and returns the stream's
// final status. `answered` advances with every answer read. Sets
// `file_changed` when a line checked before can no longer be read or parsed.
grpc::Status StreamFrom(v1::MinistryGateway::Stub& stub, const std::string& path, const std::vector<RecordLine>& lines,
                        size_t* answered, Tally* tally, ProgressBar* bar, bool* file_changed) {
  grpc::ClientContext context;
  auto stream = stub.SubmitStream(&context);
  std::atomic<bool> unreadable{false};
  const size_t first = *answered;
  std::thread writer([&] {
    std::ifstream in(path, std::ios::binary);
    v1::SubmitRequest request;
    for (size_t i = first; i < lines.size(); ++i) {
      std::string error;
      if (!ReadRequest(in, lines[i], &request, &error)) {
        // The file changed since it was checked: stop here; what was sent
        // is answered, the rest is reported unsent.
        unreadable = true;
        break;
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  v1::SubmitResponse response;
  while (*answered < lines.size() && stream->Read(&response)) {
    std::printf("%s\n", ToJson(response).c_str());
    std::fflush(stdout);  // An answer printed is an answer kept, even if the CLI is killed next.
    tally->Count(response, lines[*answered].number);
    ++*answered;
    bar->Update(tally->accepted, tally->refused);
  }
  writer.join();
  *file_changed = unreadable;
  return stream->Finish();
}

int SubmitJsonLines(const Connection& connection, const SubmitOptions& options) {
  std::vector<RecordLine> lines;
  if (!ScanJsonLines(options.file, &lines)) return kExitUsage;
  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  auto stub = v1::MinistryGateway::NewStub(channel);

  ProgressBar bar(lines.size());
  Tally tally;
  RetryWindow retry(channel.get(), std::chrono::seconds(options.retry_for_seconds));
  size_t answered = 0;
  bool file_changed = false;
  grpc::Status status;
  while (true) {
    const size_t before = answered;
    status = StreamFrom(*stub, options.file, lines, &answered, &tally, &bar, &file_changed);
    if (file_changed) break;
    if (status.ok() && answered < lines.size()) {
      status =
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway ended the stream before answering every record");
    }
    if (status.ok()) break;
    // The gateway went away mid-stream. What it answered stands; the rest
    // goes again.
    if (answered > before) retry.Restart();
    if (!retry.Again(status)) break;
    std::fprintf(stderr, "iicc-cli: %s: %s; sending again from line %d (%zu answered)\n",
                 StatusCodeName(static_cast<absl::StatusCode>(status.error_code())).c_str(),
                 status.error_message().c_str(), lines[answered].number, answered);
  }
  bar.Update(tally.accepted, tally.refused, /*force=*/true);
  bar.Clear();
  tally.PrintSummary(lines.size());
  if (file_changed) {
    std::fprintf(stderr, "iicc-cli: %s changed while it was sent: line %d and after were not sent\n",
                 options.file.c_str(), lines[std::min(answered, lines.size() - 1)].number);
    return kExitUsage;
  }
  if (!status.ok()) {
    const int line = lines[std::min(answered, lines.size() - 1)].number;
    if (Retryable(status)) {
      std::fprintf(stderr,
                   "iicc-cli: %zu records not answered, from line %d: send the file again when the gateway "
                   "is back (answered records are answered again, not duplicated)\n",
                   lines.size() - answered, line);
    } else {
      std::fprintf(stderr,
                   "iicc-cli: the gateway ended the stream at line %d (or just after it); %zu records not "
                   "answered\n",
                   line, lines.size() - answered);
    }
    return ExitFor(status);
  }
  return tally.refused == 0 ? kExitOk : kExitRefused;
}

int SubmitOne(const Connection& connection, const SubmitOptions& options) {
  absl::StatusOr<std::string> text = ReadFileToString(options.file);
  if (!text.ok()) {
    std::fprintf(stderr, "iicc-cli: cannot read %s\n", options.file.c_str());
    return kExitUsage;
  }
  v1::SubmitRequest request;
  std::string error;
  if (!ParseSubmitRequest(*text, &request, &error)) {
    std::fprintf(stderr, "iicc-cli: %s: not a record: %s\n", options.file.c_str(), error.c_str());
    return kExitUsage;
  }
  if (!options.request_id.empty()) request.set_request_id(options.request_id);
  if (request.request_id().empty()) request.set_request_id(ContentRequestId(request.record()));

  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  auto stub = v1::MinistryGateway::NewStub(channel);
  RetryWindow retry(channel.get(), std::chrono::seconds(options.retry_for_seconds));
  grpc::Status status;
  v1::SubmitResponse response;
  do {
    grpc::ClientContext context;
    SetDeadline(&context);
    status = stub->Submit(&context, request, &response);
  } while (!status.ok() && retry.Again(status));
  if (status.ok()) std::printf("%s\n", ToJson(response).c_str());
  return ExitFor(status);
}

}  // namespace

int Submit(const Connection& connection, const SubmitOptions& options) {
  if (absl::EndsWith(options.file, ".jsonl")) {
    if (!options.request_id.empty()) {
      std::fprintf(stderr, "iicc-cli: --request-id is for one record; a .jsonl line may carry its own request_id\n");
      return kExitUsage;
    }
    return SubmitJsonLines(connection, options);
  }
  return SubmitOne(connection, options);
}

}  // namespace iicc::cli
