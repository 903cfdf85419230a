// Fuzz target: iicc-cli's reading of the records it submits (protobuf's JSON
// mapping of a SubmitRequest or a bare Record, one file or one JSONL line),
// through ParseSubmitRequest itself (clients/cli/record_json.h).
//
// Invariants: a refusal says why; an accepted value has a record and a
// content request_id of the documented form; printed back as JSON (as
// iicc-cli prints, and with the lowerCamel names) and read again, it is the
// same request, and a second trip changes no byte (so neither the content
// request_id).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "clients/cli/record_json.h"
#include "gateway/common/digest.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "iicc/v1/ministry_gateway.pb.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cli_record_json_fuzz: invariant broken: %s\n", what);
    abort();
  }
}

bool IsContentRequestId(const std::string& id) {
  if (!absl::StartsWith(id, "sha256-") || id.size() != 7 + 32) return false;
  for (char c : id.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// `request` printed as JSON, as iicc-cli prints (proto field names) or with
// the lowerCamel names, and read back with ParseSubmitRequest.
iicc::v1::SubmitRequest PrintAndRead(const iicc::v1::SubmitRequest& request, bool proto_names) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = proto_names;
  std::string printed;
  Check(google::protobuf::util::MessageToJsonString(request, &printed, options).ok(),
        "an accepted request prints as JSON");
  iicc::v1::SubmitRequest again;
  std::string error;
  Check(iicc::cli::ParseSubmitRequest(printed, &again, &error), "a printed request is read again");
  return again;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  iicc::v1::SubmitRequest request;
  std::string error;
  if (!iicc::cli::ParseSubmitRequest(json, &request, &error)) {
    Check(!error.empty(), "a refusal says why");
    return 0;
  }
  Check(request.has_record(), "an accepted value has a record");
  const std::string request_id = iicc::cli::ContentRequestId(request.record());
  Check(IsContentRequestId(request_id), "a content request_id is sha256- and 32 hex digits");

  for (bool proto_names : {true, false}) {
    // Printed and read back, the request is the same (NaN equal to NaN;
    // -0.0 equal to 0.0: protobuf's JSON parser reads the "-0" it prints as
    // 0.0, so the bytes, and the content request_id, may change once)...
    const iicc::v1::SubmitRequest again = PrintAndRead(request, proto_names);
    google::protobuf::util::DefaultFieldComparator comparator;
    comparator.set_treat_nan_as_equal(true);
    google::protobuf::util::MessageDifferencer differencer;
    differencer.set_field_comparator(&comparator);
    differencer.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
    Check(differencer.Compare(request, again), "a printed request reads back as the same request");
    // ...and from then on, byte for byte.
    const iicc::v1::SubmitRequest third = PrintAndRead(again, proto_names);
    Check(iicc::SerializeDeterministic(third) == iicc::SerializeDeterministic(again),
          "a request read back from its JSON is a fixed point of printing and reading");
    Check(iicc::cli::ContentRequestId(third.record()) == iicc::cli::ContentRequestId(again.record()),
          "the content request_id of a read-back request is stable");
  }
  return 0;
}
