#include "clients/cli/record_json.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gateway/common/digest.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace iicc::cli {
namespace {

// protobuf's JSON errors quote the offending value ("(cargo.goods[0].packages):
// invalid value "Aidos ..." for type TYPE_INT32") and show the text around a
// syntax error on the lines after the first. In a record that is personal
// data, and stderr often ends up in a log: keep the field's path and the kind
// of fault only.
std::string DescribeJsonError(absl::string_view message) {
  absl::string_view first_line = message.substr(0, message.find('\n'));
  if (absl::ConsumePrefix(&first_line, "(")) {
    const size_t close = first_line.find(')');
    const absl::string_view path = first_line.substr(0, close);
    absl::string_view rest = close == absl::string_view::npos ? "" : first_line.substr(close + 1);
    if (absl::StrContains(rest, "Cannot find field")) {
      rest = absl::StripAsciiWhitespace(rest.substr(0, rest.find(':')));
      return absl::StrCat(path, ".", rest, ": no such field");
    }
    if (absl::StrContains(rest, "invalid value")) {
      return absl::StrCat(path, ": a value of the wrong type or out of range");
    }
    return absl::StrCat(path, ": not valid here");
  }
  if (absl::StrContains(first_line, "Cannot find field")) {
    return absl::StrCat(absl::StripAsciiWhitespace(first_line.substr(0, first_line.find(':'))), ": no such field");
  }
  if (absl::StrContains(first_line, "Root element must be a message")) return "not a JSON object";
  // A syntax error: the parser's own sentence, without anything quoted.
  std::string sentence;
  bool quoted = false;
  for (char c : first_line) {
    if (c == '"') {
      quoted = !quoted;
      if (quoted) sentence += "\"...\"";
    } else if (!quoted) {
      sentence += c;
    }
  }
  return absl::StrCat("not valid JSON: ", sentence);
}

}  // namespace

std::string ContentRequestId(const v1::Record& record) {
  return "sha256-" + HexEncode(Sha256(SerializeDeterministic(record)).substr(0, 16));
}

bool ParseSubmitRequest(const std::string& json, v1::SubmitRequest* request, std::string* error) {
  request->Clear();
  // An object with a "record" or "request_id" key is a SubmitRequest, any
  // other a bare Record: one reading, so a mistake is reported against what
  // the writer meant.
  google::protobuf::Value value;
  auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  if (!status.ok()) {
    *error = DescribeJsonError(std::string(status.message()));
    return false;
  }
  if (!value.has_struct_value()) {
    *error = "not a JSON object";
    return false;
  }
  const auto& keys = value.struct_value().fields();
  const bool is_request = keys.contains("record") || keys.contains("request_id") || keys.contains("requestId");
  status = google::protobuf::util::JsonStringToMessage(
      json, is_request ? static_cast<google::protobuf::Message*>(request) : request->mutable_record());
  if (!status.ok()) {
    *error = DescribeJsonError(std::string(status.message()));
    return false;
  }
  if (!request->has_record()) {
    *error = "record: a SubmitRequest needs its record";
    return false;
  }
  return true;
}

}  // namespace iicc::cli
