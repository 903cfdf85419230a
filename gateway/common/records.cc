#include "gateway/common/records.h"

namespace iicc {

v1::RecordType RecordTypeOf(const v1::Record& record) {
  switch (record.kind_case()) {
    case v1::Record::kEnterprise:
      return v1::RECORD_TYPE_ENTERPRISE;
    case v1::Record::kCargo:
      return v1::RECORD_TYPE_CARGO;
    case v1::Record::kInvestment:
      return v1::RECORD_TYPE_INVESTMENT;
    case v1::Record::KIND_NOT_SET:
      break;
  }
  return v1::RECORD_TYPE_UNSPECIFIED;
}

absl::string_view RecordTypeName(v1::RecordType type) {
  switch (type) {
    case v1::RECORD_TYPE_ENTERPRISE:
      return "enterprise";
    case v1::RECORD_TYPE_CARGO:
      return "cargo";
    case v1::RECORD_TYPE_INVESTMENT:
      return "investment";
    default:
      return "unspecified";
  }
}

v1::Jurisdiction PeerOf(v1::Jurisdiction jurisdiction) {
  switch (jurisdiction) {
    case v1::JURISDICTION_KZ:
      return v1::JURISDICTION_UZ;
    case v1::JURISDICTION_UZ:
      return v1::JURISDICTION_KZ;
    default:
      return v1::JURISDICTION_UNSPECIFIED;
  }
}

}  // namespace iicc
