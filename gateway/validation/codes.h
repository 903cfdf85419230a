// Code lists the records use (DOMAIN.md, "Goods, transport, certificates"):
// ISO 4217 currencies, ISO 3166-1 alpha-2 countries, HS6 and national
// nomenclature codes, UN/ECE Recommendation 20 units.
//
// The tables are fixed at build time (sorted constant arrays, binary search):
// no allocation, thread-safe, no state. Codes are case-sensitive (upper case).
//
//   if (!IsIso3166Alpha2(vehicle.country())) { ... }
#ifndef IICC_GATEWAY_VALIDATION_CODES_H_
#define IICC_GATEWAY_VALIDATION_CODES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace iicc::validation {

// True for an alphabetic code of ISO 4217 List One (currencies and funds) in
// force: the snapshot of 2026-01-01 (with XAD, XCG, ZWG; without the
// withdrawn ANG, CUC, HRK, SLL, ZWL). "KZT", "UZS", "USD", ...
bool IsIso4217Currency(absl::string_view code);

// True for an officially assigned ISO 3166-1 alpha-2 code (the 249 codes;
// user-assigned codes such as XK are not). "KZ", "UZ", ...
bool IsIso3166Alpha2(absl::string_view code);

// True for a Harmonized System subheading: exactly 6 digits.
bool IsHs6(absl::string_view code);

// True for a 10-digit national nomenclature code (EAEU TN VED, Uzbekistan's
// TN VED) whose first 6 digits are `hs6`, itself a valid HS6 code.
bool IsNationalCode(absl::string_view code, absl::string_view hs6);

// The code that NormalizeRecord gives PCE (piece).
inline constexpr absl::string_view kPieceUnit = "H87";
// Accepted by validation, rewritten to kPieceUnit by NormalizeRecord.
inline constexpr absl::string_view kLegacyPieceUnit = "PCE";
// The unit of live animals (HS chapter 01).
inline constexpr absl::string_view kHeadUnit = "HEA";

// True for a built-in UN/ECE Rec 20 unit (KGM, TNE, H87, C62, HEA, LTR, MTQ,
// MTK, MTR, PR, SET), for PCE, or for one of `extra_units` (the gateway's
// ValidationConfig.extra_units, compared exactly).
bool IsKnownUnit(absl::string_view unit, absl::Span<const std::string> extra_units = {});

}  // namespace iicc::validation

#endif  // IICC_GATEWAY_VALIDATION_CODES_H_
