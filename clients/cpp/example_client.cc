// iicc-example-client: the smallest complete ministry client of an IICC Exchange gateway, to copy from. It submits
// one record over mutual TLS, retries safely, and waits for the peer's receipt. docs/integration.md walks through
// it; docs/contract.md is the reference.
//
//   iicc-example-client [--target HOST:PORT --ca FILE --cert FILE --key FILE] [--request-id ID]
//                       [--attempts N] [--backoff-ms MS] [--deadline-s S] [--wait-s S] RECORD.json
//
// Connection flags not given come from IICC_TARGET, IICC_CA, IICC_CERT, IICC_KEY. RECORD.json is one iicc.v1.Record
// in protobuf's JSON mapping (clients/examples/). Exit codes, as iicc-cli's: 0 delivered; 1 refused by the own
// gateway, or rejected by the peer; 2 bad usage or input; 3 gateway unreachable after --attempts, or no receipt
// within --wait-s (the record stays queued at the gateway: run again, and the same request id is sent again).
#include <grpcpp/grpcpp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace {

namespace v1 = iicc::v1;
using Clock = std::chrono::system_clock;

// The canonical status code names, by number.
const char* const kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return static_cast<bool>(in);
}

// A request id derived from the record's content ("sha256-" and 32 hex digits, as iicc-cli makes it): running the
// program again after a crash or a lost answer sends the same request, which the gateway answers again instead of
// storing a second record.
std::string ContentRequestId(const v1::Record& record) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    record.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string id = "sha256-";
  for (int i = 0; i < 16; ++i) id += {"0123456789abcdef"[digest[i] >> 4], "0123456789abcdef"[digest[i] & 15]};
  return id;
}

// Worth sending again with the same request_id: nothing was stored, or the answer was lost. A CANCELLED that we did
// not cause is gRPC 1.51's answer to a call that reached a gateway just as it began to shut down.
bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE || status.error_code() == grpc::StatusCode::CANCELLED ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// The end of a failed call, printed. Gateway messages name field paths, never values, so they are safe to log. A
// refused unary call also carries the iicc.v1.Error as data, in the trailer "iicc-error-bin": one violation a field.
// Returns the exit code: 3 for what a later run may fix by itself, else 1.
int Fail(const grpc::Status& status, const grpc::ClientContext* context) {
  std::fprintf(stderr, "iicc-example-client: %s: %s\n", kCodeNames[status.error_code() % 17],
               status.error_message().c_str());
  const auto& trailers = context->GetServerTrailingMetadata();
  v1::Error error;
  if (auto it = trailers.find("iicc-error-bin");
      it != trailers.end() && error.ParseFromArray(it->second.data(), static_cast<int>(it->second.size()))) {
    for (const v1::FieldViolation& v : error.violations()) {
      std::fprintf(stderr, "  %s: %s\n", v.field().c_str(), v.description().c_str());
    }
  }
  return Retryable(status) ? 3 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // "--name value" flags, defaults, then the environment for the connection; the one other argument is the record.
  std::map<std::string, std::string> flags = {
      {"attempts", "5"}, {"backoff-ms", "200"}, {"deadline-s", "10"}, {"wait-s", "60"}};
  for (auto [flag, env] :
       {std::pair{"target", "IICC_TARGET"}, {"ca", "IICC_CA"}, {"cert", "IICC_CERT"}, {"key", "IICC_KEY"}}) {
    if (const char* value = std::getenv(env)) flags[flag] = value;
  }
  const std::string known = " target ca cert key request-id attempts backoff-ms deadline-s wait-s ";
  std::string record_file;
  bool usage_ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0 && i + 1 < argc && known.find(" " + arg.substr(2) + " ") != std::string::npos) {
      flags[arg.substr(2)] = argv[++i];
    } else {
      usage_ok = usage_ok && arg.rfind("-", 0) != 0 && record_file.empty();
      record_file = arg;
    }
  }
  const int attempts = std::atoi(flags["attempts"].c_str());
  const int first_backoff_ms = std::atoi(flags["backoff-ms"].c_str());
  const auto deadline = std::chrono::seconds(std::atoi(flags["deadline-s"].c_str()));
  grpc::SslCredentialsOptions tls;  // Our own ministry's CA, and this system's certificate and key.
  if (!usage_ok || record_file.empty() || flags["target"].empty() || attempts < 1 || first_backoff_ms < 0 ||
      !ReadFile(flags["ca"], &tls.pem_root_certs) || !ReadFile(flags["cert"], &tls.pem_cert_chain) ||
      !ReadFile(flags["key"], &tls.pem_private_key)) {
    std::fprintf(stderr,
                 "usage: iicc-example-client --target HOST:PORT --ca FILE --cert FILE --key FILE "
                 "[--request-id ID] [--attempts N] [--backoff-ms MS] [--deadline-s S] [--wait-s S] RECORD.json\n");
    return 2;
  }
  v1::SubmitRequest request;
  std::string json;
  if (!ReadFile(record_file, &json) ||
      !google::protobuf::util::JsonStringToMessage(json, request.mutable_record()).ok()) {
    std::fprintf(stderr, "iicc-example-client: %s is not an iicc.v1.Record in JSON\n", record_file.c_str());
    return 2;
  }
  request.set_request_id(flags.count("request-id") ? flags["request-id"] : ContentRequestId(request.record()));

  // Mutual TLS. The gateway checks our certificate (its CA, one SPIFFE ID, an identity in its configuration); we
  // check that its certificate chains to our CA and names the host we dial. One channel serves every call.
  auto stub = v1::MinistryGateway::NewStub(grpc::CreateChannel(flags["target"], grpc::SslCredentials(tls)));

  // Submit, and on a retryable status send the SAME request again: doubling waits with jitter, capped at 5 s.
  v1::SubmitResponse response;
  std::mt19937 random(std::random_device{}());
  for (int attempt = 1, backoff_ms = first_backoff_ms;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + deadline);  // Every call gets a deadline.
    const grpc::Status status = stub->Submit(&context, request, &response);
    if (status.ok()) break;
    if (!Retryable(status) || attempt == attempts) return Fail(status, &context);
    std::fprintf(stderr, "iicc-example-client: attempt %d of %d: %s; retrying\n", attempt, attempts,
                 kCodeNames[status.error_code() % 17]);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms / 2 + random() % (backoff_ms + 1)));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
  std::printf("record %s: %s\n", response.record_id().c_str(), v1::DeliveryState_Name(response.state()).c_str());

  // QUEUED means "durably stored by our gateway". Poll until the peer's receipt makes it DELIVERED or REJECTED (both
  // final). A retryable failure of one poll is only a skipped poll.
  v1::GetRecordStatusRequest query;
  query.set_record_id(response.record_id());
  v1::RecordStatus status;
  const auto give_up = Clock::now() + std::chrono::seconds(std::atoi(flags["wait-s"].c_str()));
  while (status.state() != v1::DELIVERY_STATE_DELIVERED && status.state() != v1::DELIVERY_STATE_REJECTED) {
    if (Clock::now() > give_up) {
      std::fprintf(stderr, "iicc-example-client: no receipt within --wait-s; the record stays queued\n");
      return 3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + deadline);
    if (const grpc::Status s = stub->GetRecordStatus(&context, query, &status); !s.ok() && !Retryable(s)) {
      return Fail(s, &context);
    }
  }
  // A rejection's reason names the peer's check or policy rule and field paths, never values.
  std::printf("record %s: %s%s%s\n", status.record_id().c_str(), v1::DeliveryState_Name(status.state()).c_str(),
              status.reason().empty() ? "" : ": ", status.reason().c_str());
  return status.state() == v1::DELIVERY_STATE_DELIVERED ? 0 : 1;
}
