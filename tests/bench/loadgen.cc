// iicc-loadgen: drives a gateway pair end to end, as scripts/bench.sh does.
// It submits copies of one record to the origin gateway's ministry face
// (unary Submit, or one SubmitStream) and counts a record only when a
// subscriber on the destination gateway's ministry face has received it:
// accepted at the origin, filtered, signed, forwarded, verified, filtered
// again and committed at the destination. At most N records are in flight
// end to end: a record holds its place from the moment it is sent until the
// subscriber has it (or its submission failed), so the rate measured is what
// the pair sustains, not how fast the origin fills its outbox.
//
//   iicc-loadgen --target HOST:PORT --ca F --cert F --key F
//                --subscribe-target HOST:PORT --subscribe-ca F --subscribe-cert F --subscribe-key F
//                --record FILE.json [--mode unary|stream] [--inflight N] [--seconds S] [--warmup S]
//                [--rate R] [--drain S] [--cpu-pids PID,PID] [--run-id ID] [--request-ids ordered|random]
//   iicc-loadgen --target HOST:PORT --ca F --cert F --key F --record FILE.json --count N [--mode ...] [--inflight N]
//
// Submitting runs for warmup + seconds. The measurement window is the last
// `seconds` of it: the rate is the records delivered in the window per second
// of it; latencies are of the records sent in it (acknowledgement: the
// origin's answer; delivery: the subscriber's copy, both from the moment the
// record was sent). After submitting stops, it waits up to --drain seconds for
// every acknowledged record to arrive. With --rate, it sends at most R records
// a second (open loop, still at most N in flight); without, as fast as N in
// flight allow. --cpu-pids names processes (the gateways) whose CPU time in
// the window is reported per 1,000 delivered records, with the generator's
// own. The destination's inbox must hold no earlier records (the subscriber
// reads it from the start): scripts/bench.sh starts fresh gateways per run.
//
// Without --subscribe-target it only submits: --count records (or for
// warmup + seconds), N acknowledgements outstanding, as scripts/bench.sh
// --backlog fills an outbox whose peer is down; the line then has rate (of
// acknowledgements over the whole run), acked and errors.
//
// Request ids are "lg-RUN-INDEX" (--request-ids ordered, the default: close
// together in the gateway's idempotency index) or "lg-RUN-RANDOM-INDEX"
// with 16 random hex digits (--request-ids random: scattered over it, as
// random UUIDs from a ministry's system would be).
//
// Prints one line on stdout:
//   rate=R ack_p50_ms= ack_p99_ms= delivery_p50_ms= delivery_p99_ms= sent= acked= delivered= errors=
//   lost= duplicated= cpu_s_per_1000=self:X,PID:Y,...
// Exit code 0 when nothing failed, was lost or was duplicated; 1 otherwise;
// 2 for bad usage.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"
#include "tests/bench/proc_stats.h"

namespace iicc::bench {
namespace {

namespace v1 = iicc::v1;
using Clock = std::chrono::steady_clock;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return static_cast<bool>(in) && !out->empty();
}

std::shared_ptr<grpc::Channel> Connect(const std::string& target, const std::string& ca, const std::string& cert,
                                       const std::string& key) {
  grpc::SslCredentialsOptions tls;
  if (!ReadFile(ca, &tls.pem_root_certs) || !ReadFile(cert, &tls.pem_cert_chain) ||
      !ReadFile(key, &tls.pem_private_key)) {
    return nullptr;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  // Each channel its own connection: the submitting and the subscribing
  // side must not share one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(tls), args);
}

double Percentile(std::vector<double>* values, double q) {
  if (values->empty()) return 0;
  const size_t index = std::min(values->size() - 1, static_cast<size_t>(q * static_cast<double>(values->size())));
  std::nth_element(values->begin(), values->begin() + static_cast<std::ptrdiff_t>(index), values->end());
  return (*values)[index];
}

// At most `limit` records in flight: sent, and neither delivered nor failed.
class Window {
 public:
  explicit Window(int limit) : limit_(limit) {}
  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < limit_; });
    ++in_flight_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }
  void WaitEmpty(Clock::time_point until) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, until, [&] { return in_flight_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int limit_;
  int in_flight_ = 0;
};

// What happened to each record sent, by its index (the INDEX of its request_id).
class Tracker {
 public:
  // Frees a place in `window` as each record is delivered, or fails; or,
  // without `deliveries`, as it is acknowledged.
  // `expected`: about how many records the run will send. The index of
  // record ids is sized for them up front: growing it rehashes every id
  // under the lock, which stalled every callback for about 240 ms at
  // 710,000 ids and made each soak's slowest minute.
  Tracker(Window* window, bool deliveries, size_t expected) : window_(window), deliveries_tracked_(deliveries) {
    if (deliveries_tracked_) by_record_id_.reserve(expected);
  }

  struct Entry {
    Clock::time_point sent, acked, delivered;
    bool ok = false;
    int deliveries = 0;
  };

  size_t Sent(Clock::time_point when) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(Entry{when, {}, {}, false, 0});
    return entries_.size() - 1;
  }

  void Acked(size_t index, const std::string& record_id, bool ok, Clock::time_point when) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = entries_[index];
    entry.acked = when;
    entry.ok = ok;
    if (!ok) {
      ++errors_;
      window_->Release();
      return;
    }
    ++acked_;
    if (!deliveries_tracked_) {
      window_->Release();
      return;
    }
    if (auto early = early_.find(record_id); early != early_.end()) {  // Delivered before its answer came.
      entry.delivered = early->second.first;
      entry.deliveries = early->second.second;
      early_.erase(early);
      window_->Release();
    } else {
      by_record_id_.emplace(record_id, index);
    }
    cv_.notify_all();
  }

  void Delivered(const std::string& record_id, Clock::time_point when) {
    std::lock_guard<std::mutex> lock(mu_);
    ++deliveries_;
    if (window_open_ && when <= window_end_) ++delivered_in_window_;
    if (auto found = by_record_id_.find(record_id); found != by_record_id_.end()) {
      Entry& entry = entries_[found->second];
      if (entry.deliveries++ == 0) {
        entry.delivered = when;
        ++delivered_;
        window_->Release();
      }
    } else {
      auto& early = early_[record_id];
      if (early.second++ == 0) {
        early.first = when;
        ++delivered_;
      }
    }
    cv_.notify_all();
  }

  void OpenWindow(Clock::time_point end) {
    std::lock_guard<std::mutex> lock(mu_);
    window_open_ = true;
    window_end_ = end;
  }

  // Waits until every acknowledged record has arrived, or `until`.
  void WaitDelivered(Clock::time_point until) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, until, [&] { return delivered_ >= acked_; });
  }

  struct Summary {
    size_t sent = 0, acked = 0, delivered = 0, errors = 0, lost = 0, duplicated = 0, delivered_in_window = 0;
    std::vector<double> ack_ms, delivery_ms;  // Of the records sent in the window.
  };
  Summary Summarize(Clock::time_point window_start, Clock::time_point window_end) {
    std::lock_guard<std::mutex> lock(mu_);
    Summary out;
    out.sent = entries_.size();
    out.acked = acked_;
    out.delivered = delivered_;
    out.errors = errors_;
    out.delivered_in_window = delivered_in_window_;
    auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    for (const Entry& entry : entries_) {
      if (!entry.ok) continue;
      if (entry.deliveries == 0) ++out.lost;
      if (entry.deliveries > 1) ++out.duplicated;
      if (entry.sent < window_start || entry.sent > window_end) continue;
      out.ack_ms.push_back(ms(entry.acked - entry.sent));
      if (entry.deliveries > 0) out.delivery_ms.push_back(ms(entry.delivered - entry.sent));
    }
    // Records that arrived but whose answer never did: duplicates, or
    // another run's records in the inbox.
    for (const auto& [id, early] : early_) out.duplicated += early.second > 1 ? 1 : 0;
    return out;
  }

  // The delivery latency of the records sent in each `step` of the window,
  // by when they were sent: where in a long run the slow ones were.
  struct Interval {
    double offset_s = 0;
    std::vector<double> delivery_ms;
  };
  std::vector<Interval> Intervals(Clock::time_point window_start, Clock::time_point window_end, Clock::duration step) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Interval> out;
    for (const Entry& entry : entries_) {
      if (!entry.ok || entry.deliveries == 0 || entry.sent < window_start || entry.sent > window_end) continue;
      const size_t i = static_cast<size_t>((entry.sent - window_start) / step);
      while (out.size() <= i) {
        out.emplace_back();
        out.back().offset_s = std::chrono::duration<double>(step * static_cast<int64_t>(out.size() - 1)).count();
      }
      out[i].delivery_ms.push_back(std::chrono::duration<double, std::milli>(entry.delivered - entry.sent).count());
    }
    return out;
  }

  size_t unexpected() {
    std::lock_guard<std::mutex> lock(mu_);
    return early_.size();
  }

 private:
  Window* const window_;
  const bool deliveries_tracked_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> entries_;
  std::unordered_map<std::string, size_t> by_record_id_;
  std::unordered_map<std::string, std::pair<Clock::time_point, int>> early_;
  size_t acked_ = 0, delivered_ = 0, errors_ = 0, deliveries_ = 0, delivered_in_window_ = 0;
  bool window_open_ = false;
  Clock::time_point window_end_;
};

size_t IndexOf(const std::string& request_id) {
  return std::strtoull(request_id.c_str() + request_id.rfind('-') + 1, nullptr, 10);
}

std::atomic<int> error_lines{0};
void ReportError(const grpc::Status& status) {
  if (error_lines.fetch_add(1) < 5) {
    std::fprintf(stderr, "iicc-loadgen: submit failed: code %d: %s\n", status.error_code(),
                 status.error_message().c_str());
  }
}

// Unary Submit through the callback API: each call's completion frees its
// slot in the window.
class UnarySender {
 public:
  UnarySender(v1::MinistryGateway::Stub* stub, Tracker* tracker, Window* window)
      : stub_(stub), tracker_(tracker), window_(window) {}

  void Send(v1::SubmitRequest request, size_t index) {
    auto* call = new Call;
    call->request = std::move(request);
    call->index = index;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stub_->async()->Submit(&call->context, &call->request, &call->response, [this, call](grpc::Status status) {
      if (!status.ok()) ReportError(status);
      tracker_->Acked(call->index, call->response.record_id(), status.ok(), Clock::now());
      delete call;
    });
  }

  void Finish(Clock::time_point until) { window_->WaitEmpty(until); }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::SubmitRequest request;
    v1::SubmitResponse response;
    size_t index = 0;
  };
  v1::MinistryGateway::Stub* stub_;
  Tracker* tracker_;
  Window* window_;
};

// One SubmitStream; answers come back by request_id.
class StreamSender final : public grpc::ClientBidiReactor<v1::SubmitRequest, v1::SubmitResponse> {
 public:
  StreamSender(v1::MinistryGateway::Stub* stub, Tracker* tracker, Window* window) : tracker_(tracker), window_(window) {
    stub->async()->SubmitStream(&context_, this);
    StartRead(&response_);
    StartCall();
  }

  void Send(v1::SubmitRequest request, size_t /*index*/) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(request));
      if (writing_) return;
      writing_ = true;
      current_ = std::move(queue_.front());
      queue_.pop_front();
    }
    StartWrite(&current_);
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok || queue_.empty()) {
        writing_ = false;
        if (!ok) broken_ = true;
        cv_.notify_all();
        return;
      }
      current_ = std::move(queue_.front());
      queue_.pop_front();
    }
    StartWrite(&current_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const bool accepted = !response_.has_error();
    if (!accepted) {
      ReportError(
          grpc::Status(grpc::StatusCode::UNKNOWN, response_.error().code() + ": " + response_.error().message()));
    }
    tracker_->Acked(IndexOf(response_.request_id()), response_.record_id(), accepted, Clock::now());
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok()) ReportError(status);
    done_ = true;
    cv_.notify_all();
  }

  // Waits for the answers in flight, closes the stream and waits for its end.
  void Finish(Clock::time_point until) {
    window_->WaitEmpty(until);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, until, [&] { return !writing_ || done_; });
    }
    StartWritesDone();
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, until, [&] { return done_; })) {
      context_.TryCancel();
      cv_.wait(lock, [&] { return done_; });
    }
  }

 private:
  Tracker* tracker_;
  Window* window_;
  grpc::ClientContext context_;
  v1::SubmitResponse response_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::SubmitRequest> queue_;
  v1::SubmitRequest current_;
  bool writing_ = false;
  bool broken_ = false;
  bool done_ = false;
};

int Usage() {
  std::fprintf(
      stderr,
      "usage: iicc-loadgen --target HOST:PORT --ca F --cert F --key F [--subscribe-target HOST:PORT "
      "--subscribe-ca F --subscribe-cert F --subscribe-key F] --record FILE.json [--count N] [--mode unary|stream] "
      "[--inflight N] [--seconds S] [--warmup S] [--rate R] [--drain S] [--cpu-pids PID,...] "
      "[--run-id ID] [--intervals S] [--request-ids ordered|random]\n");
  return 2;
}

int Run(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"mode", "unary"}, {"inflight", "64"}, {"seconds", "10"},         {"warmup", "2"},
      {"rate", "0"},     {"drain", "60"},    {"run-id", "0"},           {"cpu-pids", ""},
      {"count", "0"},    {"intervals", "0"}, {"request-ids", "ordered"}};
  const std::string known =
      " target ca cert key subscribe-target subscribe-ca subscribe-cert subscribe-key record mode inflight seconds "
      "warmup rate drain cpu-pids run-id count intervals request-ids ";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc || known.find(" " + arg.substr(2) + " ") == std::string::npos) {
      return Usage();
    }
    flags[arg.substr(2)] = argv[++i];
  }
  const std::string mode = flags["mode"];
  const int inflight = std::atoi(flags["inflight"].c_str());
  const double seconds = std::atof(flags["seconds"].c_str());
  const double warmup = std::atof(flags["warmup"].c_str());
  const double rate = std::atof(flags["rate"].c_str());
  const double drain = std::atof(flags["drain"].c_str());
  const long long max_count = std::atoll(flags["count"].c_str());
  const double intervals = std::atof(flags["intervals"].c_str());
  const bool subscribe = !flags["subscribe-target"].empty();
  const bool random_ids = flags["request-ids"] == "random";
  if (!random_ids && flags["request-ids"] != "ordered") return Usage();
  if ((mode != "unary" && mode != "stream") || inflight < 1 || seconds <= 0 || warmup < 0 || rate < 0 || drain < 0 ||
      max_count < 0 || intervals < 0 || flags["target"].empty()) {
    return Usage();
  }
  v1::Record record;
  std::string json;
  if (!ReadFile(flags["record"], &json) || !google::protobuf::util::JsonStringToMessage(json, &record).ok()) {
    std::fprintf(stderr, "iicc-loadgen: --record: not an iicc.v1.Record in JSON\n");
    return 2;
  }
  auto origin = Connect(flags["target"], flags["ca"], flags["cert"], flags["key"]);
  auto destination = subscribe ? Connect(flags["subscribe-target"], flags["subscribe-ca"], flags["subscribe-cert"],
                                         flags["subscribe-key"])
                               : origin;
  if (origin == nullptr || destination == nullptr) {
    std::fprintf(stderr, "iicc-loadgen: cannot read a CA, certificate or key file\n");
    return 2;
  }
  for (auto* channel : {origin.get(), destination.get()}) {
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "iicc-loadgen: cannot connect to a gateway\n");
      return 1;
    }
  }
  auto submit_stub = v1::MinistryGateway::NewStub(origin);
  auto subscribe_stub = v1::MinistryGateway::NewStub(destination);

  Window window(inflight);
  // An open-loop run sends rate x its length; a closed-loop one is not
  // known ahead: room for 2^20 (over a minute at the pair's full speed).
  // At most 2^24 (over two hours at 2,100 records/s), so that a mistyped
  // rate does not ask for gigabytes.
  const double planned = max_count > 0 ? max_count : rate > 0 ? rate * (warmup + seconds) * 1.05 + 1024 : 1 << 20;
  const size_t expected = static_cast<size_t>(std::min(planned, double{1 << 24}));
  Tracker tracker(&window, subscribe, expected);

  // The subscriber reads the destination's inbox from its start.
  grpc::ClientContext subscribe_context;
  std::thread subscriber([&] {
    if (!subscribe) return;
    v1::SubscribeRequest request;
    request.set_after_sequence(0);
    auto reader = subscribe_stub->Subscribe(&subscribe_context, request);
    v1::InboundRecord inbound;
    while (reader->Read(&inbound)) tracker.Delivered(inbound.record_id(), Clock::now());
    const grpc::Status status = reader->Finish();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      std::fprintf(stderr, "iicc-loadgen: subscribe ended: code %d: %s\n", status.error_code(),
                   status.error_message().c_str());
    }
  });

  std::unique_ptr<UnarySender> unary;
  std::unique_ptr<StreamSender> stream;
  if (mode == "unary") {
    unary = std::make_unique<UnarySender>(submit_stub.get(), &tracker, &window);
  } else {
    stream = std::make_unique<StreamSender>(submit_stub.get(), &tracker, &window);
  }

  const std::vector<pid_t> pids = ParsePids(flags["cpu-pids"]);
  std::vector<pid_t> measured = {getpid()};
  measured.insert(measured.end(), pids.begin(), pids.end());
  std::vector<double> cpu_start(measured.size()), cpu_end(measured.size());

  const Clock::time_point start = Clock::now();
  const Clock::time_point window_start =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  // With --count, the run lasts as long as the count takes.
  const Clock::time_point window_end =
      max_count > 0
          ? Clock::time_point::max()
          : window_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const Clock::duration interval =
      rate > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate))
               : Clock::duration::zero();
  bool window_open = false;
  Clock::time_point next = start;
  const std::string run = flags["run-id"];
  std::mt19937_64 scatter(std::random_device{}());
  for (size_t count = 0;; ++count) {
    const Clock::time_point now = Clock::now();
    if (!window_open && now >= window_start) {
      window_open = true;
      tracker.OpenWindow(window_end);
      for (size_t i = 0; i < measured.size(); ++i) cpu_start[i] = CpuSeconds(measured[i]);
    }
    if (now >= window_end || (max_count > 0 && static_cast<long long>(count) >= max_count)) break;
    if (rate > 0) {
      if (now < next) std::this_thread::sleep_until(next);
      next += interval;
    }
    window.Acquire();
    v1::SubmitRequest request;
    *request.mutable_record() = record;
    const size_t index = tracker.Sent(Clock::now());
    std::string request_id = "lg-" + run + "-";
    if (random_ids) {
      char scattered[20];
      std::snprintf(scattered, sizeof(scattered), "%016llx-", static_cast<unsigned long long>(scatter()));
      request_id += scattered;
    }
    request.set_request_id(request_id + std::to_string(index));
    if (unary) {
      unary->Send(std::move(request), index);
    } else {
      stream->Send(std::move(request), index);
    }
  }
  for (size_t i = 0; i < measured.size(); ++i) cpu_end[i] = CpuSeconds(measured[i]);

  const Clock::time_point give_up =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(drain));
  if (unary) unary->Finish(give_up);
  if (stream) stream->Finish(give_up);
  if (!subscribe) {
    subscriber.join();
    Tracker::Summary summary = tracker.Summarize(start, Clock::now());
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("rate=%.1f acked=%zu errors=%zu\n", static_cast<double>(summary.acked) / elapsed, summary.acked,
                summary.errors);
    return summary.errors == 0 && summary.acked == summary.sent ? 0 : 1;
  }
  tracker.WaitDelivered(give_up);
  // A moment more for a duplicate to show itself.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  subscribe_context.TryCancel();
  subscriber.join();

  Tracker::Summary summary = tracker.Summarize(window_start, window_end);
  const double per_second = static_cast<double>(summary.delivered_in_window) / seconds;
  std::string cpu;
  for (size_t i = 0; i < measured.size(); ++i) {
    const double used = cpu_end[i] - cpu_start[i];
    const double per_1000 = summary.delivered_in_window > 0 && cpu_start[i] >= 0 && cpu_end[i] >= 0
                                ? used * 1000.0 / static_cast<double>(summary.delivered_in_window)
                                : -1;
    char item[64];
    std::snprintf(item, sizeof(item), "%s%s:%.4f", i == 0 ? "" : ",",
                  i == 0 ? "self" : std::to_string(measured[i]).c_str(), per_1000);
    cpu += item;
  }
  std::printf(
      "rate=%.1f ack_p50_ms=%.3f ack_p99_ms=%.3f delivery_p50_ms=%.3f delivery_p99_ms=%.3f sent=%zu acked=%zu "
      "delivered=%zu errors=%zu lost=%zu duplicated=%zu cpu_s_per_1000=%s\n",
      per_second, Percentile(&summary.ack_ms, 0.50), Percentile(&summary.ack_ms, 0.99),
      Percentile(&summary.delivery_ms, 0.50), Percentile(&summary.delivery_ms, 0.99), summary.sent, summary.acked,
      summary.delivered, summary.errors, summary.lost, summary.duplicated, cpu.c_str());
  std::fflush(stdout);
  if (intervals > 0) {  // On stderr, so that stdout stays one line.
    for (Tracker::Interval& interval :
         tracker.Intervals(window_start, window_end,
                           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(intervals)))) {
      std::fprintf(stderr, "interval at=%.0f records=%zu delivery_p50_ms=%.3f delivery_p99_ms=%.3f max_ms=%.3f\n",
                   interval.offset_s, interval.delivery_ms.size(), Percentile(&interval.delivery_ms, 0.50),
                   Percentile(&interval.delivery_ms, 0.99), Percentile(&interval.delivery_ms, 1.0));
    }
  }
  if (tracker.unexpected() > 0) {
    std::fprintf(stderr, "iicc-loadgen: %zu records arrived that this run did not send, or whose answer never came\n",
                 tracker.unexpected());
  }
  return summary.errors == 0 && summary.lost == 0 && summary.duplicated == 0 && tracker.unexpected() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace iicc::bench

int main(int argc, char** argv) { return iicc::bench::Run(argc, argv); }
