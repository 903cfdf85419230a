// Validation of records before anything is stored, on both faces, and their
// normalisation after it.
//
// Every rule of DOMAIN.md that a record alone can be held to: required fields
// and enum values, identifier forms and check digits (identifiers.h), code
// lists (codes.h), masses and units of goods lines, live animals, money,
// dates, lengths and UTF-8 of every string. All violations are reported, each
// with its field path in proto field names and indexes; no description quotes
// a value (records carry personal data).
//
//   std::vector<v1::FieldViolation> violations = ValidateRecord(record, Face::kPeer, options);
//   if (!violations.empty()) return InvalidArgumentWithViolations(violations);
//   NormalizeRecord(&record);
//
// The functions are thread-safe and keep no state. A valid record costs no
// allocation: paths and descriptions are built only for a violation.
#ifndef IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_
#define IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_

#include <string>
#include <vector>

#include "iicc/v1/ministry_gateway.pb.h"
#include "iicc/v1/records.pb.h"

namespace iicc::validation {

// Where a record is being validated. The peer face accepts pseudonyms and
// masked values (identifiers.h) in every personal field (PartyId.value, a
// person's full_name and document_number, vehicle plates, contact phone and
// e-mail), since the counterpart's outbound policy may have made them; a
// PartyId's scheme stays required. The ministry face accepts neither.
enum class Face { kMinistry, kPeer };

// What a gateway's configuration adds to the built-in rules
// (iicc.v1.ValidationConfig).
struct ValidationOptions {
  // Units accepted on goods lines beyond the built-in ones (codes.h,
  // IsKnownUnit). Default: none.
  std::vector<std::string> extra_units;
};

// Every violation in `record`, each with its field path in proto names
// (e.g. "cargo.goods[2].hs6"). Empty when the record is valid. Never quotes a
// field's value.
std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face face, const ValidationOptions& options);

// As above with default options.
std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face face);

// Every violation in a SubmitRequest (the ministry face): the request_id and
// the record (with paths under "record.").
std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request,
                                                      const ValidationOptions& options);

// As above with default options.
std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request);

// Rewrites `record` into its canonical form after validation: the unit PCE
// becomes H87 on every goods line. REQUIRES: record != nullptr.
void NormalizeRecord(v1::Record* record);

}  // namespace iicc::validation

#endif  // IICC_GATEWAY_VALIDATION_RECORD_VALIDATOR_H_
