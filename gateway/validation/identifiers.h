// Checkers for the identifiers of the two jurisdictions (DOMAIN.md,
// "Identifiers and their validation"): Kazakhstan's BIN and IIN, Uzbekistan's
// PINFL and STIR, foreign identifiers, and the forms an identifier takes after
// an outbound policy (pseudonym, masked value).
//
// Each Check* function returns why the value is invalid, or std::nullopt when
// it is valid. The reason never quotes the value (identifiers are personal
// data). The functions do not allocate for a valid value, are thread-safe and
// keep no state.
//
//   if (std::optional<std::string> reason = CheckKzIin(value)) {
//     violations.push_back(...(*reason));
//   }
#ifndef IICC_GATEWAY_VALIDATION_IDENTIFIERS_H_
#define IICC_GATEWAY_VALIDATION_IDENTIFIERS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace iicc::validation {

// Kazakhstan business identification number: 12 digits, YYMM with month
// 01-12, type digit (5th) 4, 5 or 6, attribute digit (6th) 0-3, five serial
// digits, and the KZ mod-11 check digit.
std::optional<std::string> CheckKzBin(absl::string_view value);

// Kazakhstan individual identification number: 12 digits, YYMMDD a real date
// in the century given by the 7th digit (1-2: 1800s, 3-4: 1900s, 5-6:
// 2000s), four serial digits, and the KZ mod-11 check digit.
std::optional<std::string> CheckKzIin(absl::string_view value);

// Uzbekistan personal identification number (PINFL/JShShIR): 14 digits,
// century+sex digit 1-6, DDMMYY a real date in that century, a 3-digit area
// code other than 000, a 3-digit serial other than 000, and a check digit
// equal to the sum of digits 1-13 times the weights 7, 3, 1 (repeating),
// mod 10.
std::optional<std::string> CheckUzPinfl(absl::string_view value);

// Uzbekistan taxpayer identification number (STIR/INN): exactly 9 digits (its
// check digit algorithm is not published).
std::optional<std::string> CheckUzStir(absl::string_view value);

// An identifier issued by another state: non-empty, at most 64 characters
// (Unicode code points) of well-formed UTF-8 with no control characters.
std::optional<std::string> CheckForeignId(absl::string_view value);

// The longest foreign identifier CheckForeignId accepts, in characters.
inline constexpr size_t kMaxForeignIdChars = 64;

// True for a pseudonym made by an outbound policy:
// `ps:<key_id>:<digest>`, key_id 1-64 of [A-Za-z0-9._-], digest the 43
// characters of unpadded base64url that encode exactly 32 bytes (an
// HMAC-SHA-256).
bool IsPseudonym(absl::string_view value);

// True for a masked value made by an outbound policy: it starts with `*`.
bool IsMasked(absl::string_view value);

}  // namespace iicc::validation

#endif  // IICC_GATEWAY_VALIDATION_IDENTIFIERS_H_
