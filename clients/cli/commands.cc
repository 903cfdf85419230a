#include "clients/cli/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "clients/cli/cli_internal.h"
#include "gateway/common/digest.h"
#include "gateway/common/files.h"
#include "gateway/common/grpc_status.h"
#include "gateway/common/log.h"
#include "gateway/policy/policy_engine.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace iicc::cli {
namespace {

bool ReadFile(const std::string& path, std::string* out) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return false;
  *out = *std::move(contents);
  return true;
}

bool ParseTypes(const std::vector<std::string>& names, google::protobuf::RepeatedField<int>* types) {
  for (const std::string& name : names) {
    if (name == "enterprise") {
      types->Add(v1::RECORD_TYPE_ENTERPRISE);
    } else if (name == "cargo") {
      types->Add(v1::RECORD_TYPE_CARGO);
    } else if (name == "investment") {
      types->Add(v1::RECORD_TYPE_INVESTMENT);
    } else {
      std::fprintf(stderr, "iicc-cli: unknown record type '%s' (enterprise, cargo, investment)\n", name.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

std::shared_ptr<grpc::Channel> ConnectOrPrint(const Connection& connection) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(connection);
  if (!channel.ok()) {
    std::fprintf(stderr, "iicc-cli: %s\n", std::string(channel.status().message()).c_str());
    return nullptr;
  }
  return *std::move(channel);
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kDeadlineSeconds));
}

int ExitFor(const grpc::Status& status) {
  if (status.ok()) return kExitOk;
  std::fprintf(stderr, "iicc-cli: %s: %s\n", StatusCodeName(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    default:
      return kExitRefused;
  }
}

bool Retryable(const grpc::Status& status) {
  // CANCELLED too: gRPC 1.51 may answer a call that meets a gateway's
  // shutdown with CANCELLED rather than UNAVAILABLE (docs/contract.md).
  return status.error_code() == grpc::StatusCode::UNAVAILABLE || status.error_code() == grpc::StatusCode::CANCELLED ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

int Status(const Connection& connection, const std::string& record_id) {
  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetRecordStatusRequest request;
  request.set_record_id(record_id);
  v1::RecordStatus response;
  const grpc::Status status = v1::MinistryGateway::NewStub(channel)->GetRecordStatus(&context, request, &response);
  if (status.ok()) std::printf("%s\n", ToJson(response).c_str());
  return ExitFor(status);
}

namespace {

// Writes `cursor` to `path` so that a crash leaves the old cursor or the new
// one, never half of one: a temporary file, flushed to disk, renamed over it.
bool SaveCursor(const std::string& path, int64_t cursor) {
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const std::string text = absl::StrCat(cursor, "\n");
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  if (close(fd) != 0 || !written || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

// What to do after a record is printed.
enum class Next { kGoOn, kDone, kFailed };

}  // namespace

int Subscribe(const Connection& connection, const SubscribeOptions& options) {
  int64_t cursor = options.after;
  if (!options.cursor_file.empty()) {
    std::string text;
    if (ReadFile(options.cursor_file, &text) && !text.empty() &&
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &cursor)) {
      std::fprintf(stderr, "iicc-cli: %s does not hold a sequence number\n", options.cursor_file.c_str());
      return kExitUsage;
    }
  }
  google::protobuf::RepeatedField<int> types;
  if (!ParseTypes(options.types, &types)) return kExitUsage;
  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  auto stub = v1::MinistryGateway::NewStub(channel);

  int64_t printed = 0;
  auto emit = [&](const v1::InboundRecord& record) {
    std::printf("%s\n", ToJson(record).c_str());
    std::fflush(stdout);
    cursor = record.sequence();
    ++printed;
    if (!options.cursor_file.empty() && !SaveCursor(options.cursor_file, cursor)) {
      // Printed but not remembered: a script must not take this for done.
      std::fprintf(stderr, "iicc-cli: cannot write the cursor %lld to %s\n", static_cast<long long>(cursor),
                   options.cursor_file.c_str());
      return Next::kFailed;
    }
    return options.max == 0 || printed < options.max ? Next::kGoOn : Next::kDone;
  };

  if (!options.follow) {
    // Catch up by pages, then stop.
    v1::ListInboundRecordsRequest request;
    *request.mutable_record_types() = types;
    request.set_after_sequence(cursor);
    request.set_page_size(1000);
    while (true) {
      grpc::ClientContext context;
      SetDeadline(&context);
      v1::ListInboundRecordsResponse response;
      const grpc::Status status = stub->ListInboundRecords(&context, request, &response);
      if (!status.ok()) return ExitFor(status);
      for (const v1::InboundRecord& record : response.records()) {
        const Next next = emit(record);
        if (next != Next::kGoOn) return next == Next::kDone ? kExitOk : kExitUsage;
      }
      if (response.next_page_token().empty()) return kExitOk;
      request.set_page_token(response.next_page_token());
    }
  }

  // Follow: a stream from the cursor; reconnect from the cursor when it
  // breaks (a gateway restart), with a bounded backoff, saying so on stderr:
  // a certificate the gateway refuses looks the same, and must not go unseen.
  int backoff_ms = 200;
  while (true) {
    grpc::ClientContext context;
    v1::SubscribeRequest request;
    request.set_after_sequence(cursor);
    *request.mutable_record_types() = types;
    auto reader = stub->Subscribe(&context, request);
    v1::InboundRecord record;
    while (reader->Read(&record)) {
      backoff_ms = 200;
      if (const Next next = emit(record); next != Next::kGoOn) {
        context.TryCancel();
        (void)reader->Finish();
        return next == Next::kDone ? kExitOk : kExitUsage;
      }
    }
    const grpc::Status status = reader->Finish();
    if (!Retryable(status)) return ExitFor(status);
    std::fprintf(stderr, "iicc-cli: %s: %s; subscribing again after %lld in %.1f s\n",
                 StatusCodeName(static_cast<absl::StatusCode>(status.error_code())).c_str(),
                 status.error_message().c_str(), static_cast<long long>(cursor), backoff_ms / 1000.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

int List(const Connection& connection, const ListOptions& options) {
  v1::ListInboundRecordsRequest request;
  if (!ParseTypes(options.types, request.mutable_record_types())) return kExitUsage;
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  request.set_after_sequence(options.after);
  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListInboundRecordsResponse response;
  const grpc::Status status = v1::MinistryGateway::NewStub(channel)->ListInboundRecords(&context, request, &response);
  if (status.ok()) std::printf("%s\n", ToJson(response).c_str());
  return ExitFor(status);
}

int Health(const Connection& connection, const std::string& service) {
  std::shared_ptr<grpc::Channel> channel = ConnectOrPrint(connection);
  if (channel == nullptr) return kExitUsage;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  if (!status.ok()) return ExitFor(status);
  std::printf("%s\n", ToJson(response).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitRefused;
}

int PolicyTest(const PolicyTestOptions& options) {
  std::string policy_text, record_text;
  if (!ReadFile(options.policy_file, &policy_text) || !ReadFile(options.record_file, &record_text)) {
    std::fprintf(stderr, "iicc-cli: cannot read --policy or --record\n");
    return kExitUsage;
  }
  v1::SubmitRequest request;
  std::string error;
  if (!ParseSubmitRequest(record_text, &request, &error)) {
    std::fprintf(stderr, "iicc-cli: %s: not a record: %s\n", options.record_file.c_str(), error.c_str());
    return kExitUsage;
  }
  // The policy names its jurisdiction and key ids; read them first.
  v1::Policy raw;
  google::protobuf::TextFormat::Parser lenient;
  lenient.AllowPartialMessage(true);
  (void)lenient.ParseFromString(policy_text, &raw);
  std::string key;
  if (options.key_file.empty()) {
    key = std::string(32, '\x5a');
    std::fprintf(stderr, "iicc-cli: pseudonyms below use a throwaway key, not the gateway's (pass --key)\n");
  } else {
    std::string hex;
    if (!ReadFile(options.key_file, &hex)) {
      std::fprintf(stderr, "iicc-cli: cannot read --key\n");
      return kExitUsage;
    }
    hex.erase(std::remove_if(hex.begin(), hex.end(), [](unsigned char c) { return std::isspace(c); }), hex.end());
    key = absl::HexStringToBytes(hex);
  }
  policy::PseudonymKeys keys;
  for (const auto* entries : {&raw.outbound(), &raw.inbound()}) {
    for (const v1::RecordPolicy& entry : *entries) {
      for (const v1::Rule& rule : entry.rules()) {
        if (rule.has_pseudonymise()) keys[rule.pseudonymise().key_id()] = key;
      }
    }
  }
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> policy =
      policy::CompiledPolicy::Parse(policy_text, options.policy_file, keys, raw.jurisdiction());
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policy.status().message()).c_str());
    return kExitUsage;
  }
  v1::Record record = request.record();
  std::vector<policy::TraceEntry> trace;
  const absl::Status verdict = (*policy)->Apply(
      options.direction == "inbound" ? policy::Direction::kInbound : policy::Direction::kOutbound, &record, &trace);
  std::string out = absl::StrCat("{\"policy_version\":\"", (*policy)->version(), "\",\"direction\":\"",
                                 options.direction, "\",\"verdict\":\"", verdict.ok() ? "pass" : "refused", "\"");
  if (!verdict.ok()) absl::StrAppend(&out, ",\"reason\":\"", JsonEscape(verdict.message()), "\"");
  if (verdict.ok()) absl::StrAppend(&out, ",\"record\":", ToJson(record));
  absl::StrAppend(&out, ",\"trace\":[");
  for (size_t i = 0; i < trace.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"field\":\"", JsonEscape(trace[i].field), "\",\"action\":\"",
                    trace[i].action, "\",\"line\":", trace[i].line, ",\"reason\":\"", JsonEscape(trace[i].reason),
                    "\"}");
  }
  absl::StrAppend(&out, "]}");
  std::printf("%s\n", out.c_str());
  return verdict.ok() ? kExitOk : kExitRefused;
}

}  // namespace iicc::cli
