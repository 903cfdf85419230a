// Refusals that name the offending fields: INVALID_ARGUMENT statuses carrying
// their violations, and their iicc.v1.Error form for SubmitStream.
#ifndef IICC_GATEWAY_COMMON_ERRORS_H_
#define IICC_GATEWAY_COMMON_ERRORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc {

// INVALID_ARGUMENT whose message lists every violation
// ("invalid request: record.cargo.goods[2].hs6: must be 6 digits; ...") and whose
// payload carries them. REQUIRES: `violations` is not empty.
absl::Status InvalidArgumentWithViolations(const std::vector<v1::FieldViolation>& violations);

// The violations carried by a status made by InvalidArgumentWithViolations;
// empty for any other status.
std::vector<v1::FieldViolation> ViolationsOf(const absl::Status& status);

// ALREADY_EXISTS with `message`, carrying the id of the record that holds
// the request_id.
absl::Status AlreadyExistsForRecord(const std::string& record_id, const std::string& message);

// The record id carried by a status made by AlreadyExistsForRecord; empty
// for any other status.
std::string RecordIdOf(const absl::Status& status);

// Trailing metadata key under which the ministry face returns a failed
// unary call's iicc.v1.Error (serialized), so that clients get the
// violations as data, as SubmitStream gives them in SubmitResponse.error.
inline constexpr char kErrorTrailerKey[] = "iicc-error-bin";

// `status` as an iicc.v1.Error: code name, message, violations.
// REQUIRES: !status.ok().
v1::Error ToErrorProto(const absl::Status& status);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_ERRORS_H_
