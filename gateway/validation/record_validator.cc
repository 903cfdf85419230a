#include "gateway/validation/record_validator.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace iicc::validation {
namespace {

constexpr size_t kMaxRequestIdLength = 128;

v1::FieldViolation Violation(std::string field, std::string description) {
  v1::FieldViolation violation;
  violation.set_field(std::move(field));
  violation.set_description(std::move(description));
  return violation;
}

}  // namespace

std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face /*face*/) {
  std::vector<v1::FieldViolation> violations;
  if (record.kind_case() == v1::Record::KIND_NOT_SET) {
    violations.push_back(Violation("kind", "exactly one of enterprise, cargo, investment must be set"));
  }
  return violations;
}

std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request) {
  std::vector<v1::FieldViolation> violations;
  const std::string& id = request.request_id();
  if (id.empty()) {
    violations.push_back(Violation("request_id", "required"));
  } else if (id.size() > kMaxRequestIdLength) {
    violations.push_back(Violation("request_id", absl::StrCat("at most ", kMaxRequestIdLength, " characters")));
  } else {
    for (char c : id) {
      if (c < 0x21 || c > 0x7e) {
        violations.push_back(Violation("request_id", "printable ASCII without spaces only"));
        break;
      }
    }
  }
  if (!request.has_record()) {
    violations.push_back(Violation("record", "required"));
  } else {
    for (v1::FieldViolation& violation : ValidateRecord(request.record(), Face::kMinistry)) {
      violation.set_field(absl::StrCat("record.", violation.field()));
      violations.push_back(std::move(violation));
    }
  }
  return violations;
}

}  // namespace iicc::validation
