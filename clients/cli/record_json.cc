#include "clients/cli/record_json.h"

#include "gateway/common/digest.h"
#include "google/protobuf/util/json_util.h"

namespace iicc::cli {

std::string ContentRequestId(const v1::Record& record) {
  return "sha256-" + HexEncode(Sha256(SerializeDeterministic(record)).substr(0, 16));
}

bool ParseSubmitRequest(const std::string& json, v1::SubmitRequest* request, std::string* error) {
  google::protobuf::util::JsonParseOptions options;
  if (google::protobuf::util::JsonStringToMessage(json, request, options).ok() && request->has_record()) {
    return true;
  }
  request->Clear();
  const auto status = google::protobuf::util::JsonStringToMessage(json, request->mutable_record(), options);
  if (!status.ok()) {
    *error = std::string(status.message());
    return false;
  }
  return true;
}

}  // namespace iicc::cli
