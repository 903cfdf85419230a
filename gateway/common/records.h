// Small facts about iicc.v1 records used across components.
#ifndef IICC_GATEWAY_COMMON_RECORDS_H_
#define IICC_GATEWAY_COMMON_RECORDS_H_

#include "absl/strings/string_view.h"
#include "iicc/v1/records.pb.h"

namespace iicc {

// The type of `record`'s kind; RECORD_TYPE_UNSPECIFIED when none is set.
v1::RecordType RecordTypeOf(const v1::Record& record);

// A short lower-case name for logs and metrics: "enterprise", "cargo",
// "investment", or "unspecified".
absl::string_view RecordTypeName(v1::RecordType type);

// The other jurisdiction.
v1::Jurisdiction PeerOf(v1::Jurisdiction jurisdiction);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_RECORDS_H_
