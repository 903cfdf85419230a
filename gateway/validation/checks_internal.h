// Small text and date checks shared by the validators of gateway/validation.
// Private to this folder: allocation-free, no regex, inline for the hot path.
#ifndef IICC_GATEWAY_VALIDATION_CHECKS_INTERNAL_H_
#define IICC_GATEWAY_VALIDATION_CHECKS_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace iicc::validation::internal {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// True when `value` is exactly `length` ASCII digits.
inline bool IsDigits(absl::string_view value, size_t length) {
  if (value.size() != length) {
    return false;
  }
  for (char c : value) {
    if (!IsDigit(c)) {
      return false;
    }
  }
  return true;
}

// The number made by the two ASCII digits at `value[pos]`, `value[pos + 1]`.
// REQUIRES: both are digits.
inline int TwoDigits(absl::string_view value, size_t pos) { return (value[pos] - '0') * 10 + (value[pos + 1] - '0'); }

inline bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// True when year-month-day is a day of the proleptic Gregorian calendar
// (any year >= 1).
inline bool IsRealDate(int year, int month, int day) {
  if (year < 1 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  static constexpr int kDaysInMonth[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int days = kDaysInMonth[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0);
  return day <= days;
}

// year * 10000 + month * 100 + day: dates compare as these numbers do.
inline int DateKey(int year, int month, int day) { return year * 10000 + month * 100 + day; }

// The DateKey of the day `days` after 1970-01-01 (proleptic Gregorian; H.
// Hinnant's civil_from_days): plain arithmetic, no time zone lookup.
inline int DateKeyFromUnixDays(int64_t days) {
  days += 719468;  // Days from 0000-03-01 to 1970-01-01.
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;  // [0, 146096]
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;                                        // [0, 11]
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
  return DateKey(year, month, day);
}

// What a pass over a string's UTF-8 found.
struct Utf8Scan {
  // False when `text` is not well-formed UTF-8 (overlong forms, surrogates
  // and code points above U+10FFFF are not).
  bool valid = true;
  // False when it contains a control character (C0, DEL or C1).
  bool printable = true;
  // Code points (when valid).
  size_t chars = 0;
};

// One pass over `text`. When `check_printable` is false, `printable` is not
// computed and ASCII goes eight bytes at a time.
inline Utf8Scan ScanUtf8(absl::string_view text, bool check_printable = true) {
  Utf8Scan scan;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* const end = p + text.size();
  while (p < end) {
    if (!check_printable) {
      uint64_t word;
      while (end - p >= 8 && (std::memcpy(&word, p, 8), (word & 0x8080808080808080ull) == 0)) {
        p += 8;
        scan.chars += 8;
      }
      if (p == end) {
        break;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        scan.printable = false;
      }
      ++p;
      ++scan.chars;
      continue;
    }
    uint32_t code_point = 0;
    size_t extra = 0;
    uint32_t min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      code_point = c & 0x1f;
      extra = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      code_point = c & 0x0f;
      extra = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      code_point = c & 0x07;
      extra = 3;
      min = 0x10000;
    } else {
      scan.valid = false;
      return scan;
    }
    if (static_cast<size_t>(end - p) <= extra) {
      scan.valid = false;
      return scan;
    }
    for (size_t i = 1; i <= extra; ++i) {
      const unsigned char next = p[i];
      if ((next & 0xc0) != 0x80) {
        scan.valid = false;
        return scan;
      }
      code_point = (code_point << 6) | (next & 0x3f);
    }
    if (code_point < min || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) {
      scan.valid = false;
      return scan;
    }
    if (code_point <= 0x9f) {
      scan.printable = false;  // C1 controls.
    }
    p += extra + 1;
    ++scan.chars;
  }
  return scan;
}

}  // namespace iicc::validation::internal

#endif  // IICC_GATEWAY_VALIDATION_CHECKS_INTERNAL_H_
