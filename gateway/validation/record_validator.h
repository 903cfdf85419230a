// Validation of records before anything is stored, on both faces.
//
// Now: the structure (exactly one record kind). The domain rules (identifier
// check digits, HS codes, units, masses) arrive with the policy work, behind
// this same entry point.
#ifndef IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_
#define IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_

#include <vector>

#include "iicc/v1/ministry_gateway.pb.h"
#include "iicc/v1/records.pb.h"

namespace iicc::validation {

// Where a record is being validated. The peer face accepts pseudonyms and
// masked values where an identifier or a name may stand.
enum class Face { kMinistry, kPeer };

// Every violation in `record`, each with its field path in proto names
// (e.g. "cargo.goods[2].hs6"). Empty when the record is valid. Never quotes a
// field's value.
std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face face);

// Every violation in a SubmitRequest: the request_id and the record (with
// paths under "record.").
std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request);

}  // namespace iicc::validation

#endif  // IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_
