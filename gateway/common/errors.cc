#include "gateway/common/errors.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gateway/common/grpc_status.h"

namespace iicc {
namespace {

constexpr char kViolationsPayload[] = "type.googleapis.com/iicc.v1.Error";
constexpr char kRecordIdPayload[] = "iicc.v1.record_id";

}  // namespace

absl::Status InvalidArgumentWithViolations(const std::vector<v1::FieldViolation>& violations) {
  std::string message = "invalid request:";
  v1::Error error;
  for (size_t i = 0; i < violations.size(); ++i) {
    absl::StrAppend(&message, i == 0 ? " " : "; ", violations[i].field(), ": ", violations[i].description());
    *error.add_violations() = violations[i];
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kViolationsPayload, absl::Cord(error.SerializeAsString()));
  return status;
}

std::vector<v1::FieldViolation> ViolationsOf(const absl::Status& status) {
  std::vector<v1::FieldViolation> violations;
  absl::optional<absl::Cord> payload = status.GetPayload(kViolationsPayload);
  v1::Error error;
  if (payload.has_value() && error.ParseFromString(std::string(*payload))) {
    violations.assign(error.violations().begin(), error.violations().end());
  }
  return violations;
}

absl::Status AlreadyExistsForRecord(const std::string& record_id, const std::string& message) {
  absl::Status status = absl::AlreadyExistsError(message);
  status.SetPayload(kRecordIdPayload, absl::Cord(record_id));
  return status;
}

std::string RecordIdOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRecordIdPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

v1::Error ToErrorProto(const absl::Status& status) {
  v1::Error error;
  error.set_code(StatusCodeName(status.code()));
  error.set_message(std::string(status.message()));
  for (v1::FieldViolation& violation : ViolationsOf(status)) *error.add_violations() = std::move(violation);
  return error;
}

}  // namespace iicc
