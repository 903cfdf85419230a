#include "gateway/validation/identifiers.h"

#include "gateway/validation/checks_internal.h"

namespace iicc::validation {
namespace {

using internal::IsDigits;
using internal::IsRealDate;
using internal::TwoDigits;

constexpr size_t kKzIdLength = 12;
constexpr size_t kPinflLength = 14;
constexpr size_t kStirLength = 9;
constexpr size_t kMaxKeyIdLength = 64;
constexpr size_t kDigestLength = 43;  // 32 bytes, base64url without padding.

// The KZ mod-11 check digit of the first 11 digits of `digits`, or -1 when
// both weightings give 10 (no number with these 11 digits is valid).
int KzCheckDigit(absl::string_view digits) {
  int sum = 0;
  for (int i = 0; i < 11; ++i) {
    sum += (i + 1) * (digits[i] - '0');
  }
  int check = sum % 11;
  if (check != 10) {
    return check;
  }
  static constexpr int kSecondWeights[11] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
  sum = 0;
  for (int i = 0; i < 11; ++i) {
    sum += kSecondWeights[i] * (digits[i] - '0');
  }
  check = sum % 11;
  return check == 10 ? -1 : check;
}

std::optional<std::string> CheckKzMod11(absl::string_view value) {
  const int check = KzCheckDigit(value);
  if (check < 0) {
    return "no valid check digit exists for the first 11 digits (mod-11 gives 10 with both weightings)";
  }
  if (check != value[11] - '0') {
    return "check digit does not match";
  }
  return std::nullopt;
}

// The first two digits of the year for a KZ/UZ century+sex digit (1-6), or 0.
int CenturyOf(char digit) {
  switch (digit) {
    case '1':
    case '2':
      return 18;
    case '3':
    case '4':
      return 19;
    case '5':
    case '6':
      return 20;
    default:
      return 0;
  }
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  return c == '-' ? 62 : 63;
}

bool IsKeyIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

std::optional<std::string> CheckKzBin(absl::string_view value) {
  if (!IsDigits(value, kKzIdLength)) {
    return "must be 12 digits";
  }
  const int month = TwoDigits(value, 2);
  if (month < 1 || month > 12) {
    return "month (digits 3-4) must be 01-12";
  }
  if (value[4] < '4' || value[4] > '6') {
    return "type digit (5th) must be 4, 5 or 6";
  }
  if (value[5] > '3') {
    return "attribute digit (6th) must be 0, 1, 2 or 3";
  }
  return CheckKzMod11(value);
}

std::optional<std::string> CheckKzIin(absl::string_view value) {
  if (!IsDigits(value, kKzIdLength)) {
    return "must be 12 digits";
  }
  const int century = CenturyOf(value[6]);
  if (century == 0) {
    return "century digit (7th) must be 1-6";
  }
  if (!IsRealDate(century * 100 + TwoDigits(value, 0), TwoDigits(value, 2), TwoDigits(value, 4))) {
    return "birth date (digits 1-6) is not a real date";
  }
  return CheckKzMod11(value);
}

std::optional<std::string> CheckUzPinfl(absl::string_view value) {
  if (!IsDigits(value, kPinflLength)) {
    return "must be 14 digits";
  }
  const int century = CenturyOf(value[0]);
  if (century == 0) {
    return "century digit (1st) must be 1-6";
  }
  if (!IsRealDate(century * 100 + TwoDigits(value, 5), TwoDigits(value, 3), TwoDigits(value, 1))) {
    return "birth date (digits 2-7) is not a real date";
  }
  if (value.substr(7, 3) == "000") {
    return "area code (digits 8-10) must not be 000";
  }
  if (value.substr(10, 3) == "000") {
    return "serial (digits 11-13) must not be 000";
  }
  static constexpr int kWeights[3] = {7, 3, 1};
  int sum = 0;
  for (int i = 0; i < 13; ++i) {
    sum += kWeights[i % 3] * (value[i] - '0');
  }
  if (sum % 10 != value[13] - '0') {
    return "check digit does not match";
  }
  return std::nullopt;
}

std::optional<std::string> CheckUzStir(absl::string_view value) {
  if (!IsDigits(value, kStirLength)) {
    return "must be 9 digits";
  }
  return std::nullopt;
}

std::optional<std::string> CheckForeignId(absl::string_view value) {
  if (value.empty()) {
    return "required";
  }
  const internal::Utf8Scan scan = internal::ScanUtf8(value);
  if (!scan.valid || !scan.printable) {
    return "must be printable characters (UTF-8, no control characters)";
  }
  if (scan.chars > kMaxForeignIdChars) {
    return "at most 64 characters";
  }
  return std::nullopt;
}

bool IsPseudonym(absl::string_view value) {
  constexpr absl::string_view kPrefix = "ps:";
  if (value.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  value.remove_prefix(kPrefix.size());
  const size_t colon = value.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > kMaxKeyIdLength) {
    return false;
  }
  for (size_t i = 0; i < colon; ++i) {
    if (!IsKeyIdChar(value[i])) {
      return false;
    }
  }
  const absl::string_view digest = value.substr(colon + 1);
  if (digest.size() != kDigestLength) {
    return false;
  }
  for (char c : digest) {
    if (!IsBase64UrlChar(c)) {
      return false;
    }
  }
  // 43 characters carry 258 bits; the last two must be zero for the digest
  // to be exactly 32 bytes (the canonical encoding).
  return (Base64UrlValue(digest.back()) & 0x3) == 0;
}

bool IsMasked(absl::string_view value) { return !value.empty() && value.front() == '*'; }

}  // namespace iicc::validation
