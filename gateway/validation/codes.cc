#include "gateway/validation/codes.h"

#include <cstddef>
#include <cstdint>

#include "gateway/validation/checks_internal.h"

namespace iicc::validation {
namespace {

// ISO 4217 List One alphabetic codes (currencies and funds, including the
// precious metals, bond market units, XDR, XSU, XUA, XTS and XXX), as in force
// on 2026-01-01. Sorted: binary search. Changes since 2022: HRK withdrawn
// (2023), ZWG added and ZWL withdrawn (2024), XCG added and ANG withdrawn
// (2025), SLL and CUC withdrawn, XAD added.
// clang-format off
constexpr char kCurrencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN",
    "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
    "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP",
    "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IQD", "IRR", "ISK",
    "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
    "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN",
    "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
    "OMR",
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR",
    "RON", "RSD", "RUB", "RWF",
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
    "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS",
    "VED", "VES", "VND", "VUV",
    "WST",
    "XAD", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG",
    "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX",
    "YER",
    "ZAR", "ZMW", "ZWG",
};

// ISO 3166-1 alpha-2 officially assigned codes (249). Sorted.
constexpr char kCountries[][3] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM",
    "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ",
    "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
    "DE", "DJ", "DK", "DM", "DO", "DZ",
    "EC", "EE", "EG", "EH", "ER", "ES", "ET",
    "FI", "FJ", "FK", "FM", "FO", "FR",
    "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
    "HK", "HM", "HN", "HR", "HT", "HU",
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
    "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
    "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO",
    "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
    "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM",
    "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
    "QA",
    "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL",
    "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
    "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ",
    "UA", "UG", "UM", "US", "UY", "UZ",
    "VA", "VC", "VE", "VG", "VI", "VN", "VU",
    "WF", "WS",
    "YE", "YT",
    "ZA", "ZM", "ZW",
};
// clang-format on

// A unit code of 1-3 characters as one number (its length, then its bytes;
// 0 for any other length), so that the built-in units compare as integers.
constexpr uint32_t PackUnit(absl::string_view unit) {
  if (unit.empty() || unit.size() > 3) {
    return 0;
  }
  uint32_t packed = static_cast<uint32_t>(unit.size());
  for (char c : unit) {
    packed = (packed << 8) | static_cast<unsigned char>(c);
  }
  return packed;
}

// The built-in UN/ECE Recommendation 20 units (DOMAIN.md) and PCE, which
// NormalizeRecord rewrites to H87.
constexpr uint32_t kBuiltInUnits[] = {PackUnit("KGM"), PackUnit("TNE"), PackUnit("H87"), PackUnit("C62"),
                                      PackUnit("HEA"), PackUnit("LTR"), PackUnit("MTQ"), PackUnit("MTK"),
                                      PackUnit("MTR"), PackUnit("PR"),  PackUnit("SET"), PackUnit("PCE")};

template <size_t kWidth>
constexpr int Compare(const char (&a)[kWidth], const char (&b)[kWidth]) {
  for (size_t i = 0; i + 1 < kWidth; ++i) {
    if (a[i] != b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return 0;
}

template <size_t kWidth, size_t kCount>
constexpr bool IsStrictlySorted(const char (&table)[kCount][kWidth]) {
  for (size_t i = 1; i < kCount; ++i) {
    if (Compare(table[i - 1], table[i]) >= 0) {
      return false;
    }
  }
  return true;
}

static_assert(IsStrictlySorted(kCurrencies), "kCurrencies must be sorted and unique");
static_assert(IsStrictlySorted(kCountries), "kCountries must be sorted and unique");
static_assert(sizeof(kCurrencies) / sizeof(kCurrencies[0]) == 179, "ISO 4217 List One has 179 alphabetic codes");
static_assert(sizeof(kCountries) / sizeof(kCountries[0]) == 249, "ISO 3166-1 assigns 249 alpha-2 codes");

// True when `code` (kWidth - 1 characters) is in the sorted `table`.
template <size_t kWidth, size_t kCount>
bool Contains(const char (&table)[kCount][kWidth], absl::string_view code) {
  if (code.size() != kWidth - 1) {
    return false;
  }
  size_t low = 0;
  size_t high = kCount;
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    int order = 0;
    for (size_t i = 0; i + 1 < kWidth && order == 0; ++i) {
      order = static_cast<unsigned char>(code[i]) - static_cast<unsigned char>(table[mid][i]);
    }
    if (order == 0) {
      return true;
    }
    if (order < 0) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return false;
}

}  // namespace

bool IsIso4217Currency(absl::string_view code) { return Contains(kCurrencies, code); }

bool IsIso3166Alpha2(absl::string_view code) { return Contains(kCountries, code); }

bool IsHs6(absl::string_view code) { return internal::IsDigits(code, 6); }

bool IsNationalCode(absl::string_view code, absl::string_view hs6) {
  return IsHs6(hs6) && internal::IsDigits(code, 10) && code.substr(0, 6) == hs6;
}

bool IsKnownUnit(absl::string_view unit, absl::Span<const std::string> extra_units) {
  const uint32_t packed = PackUnit(unit);
  if (packed != 0) {
    for (uint32_t known : kBuiltInUnits) {
      if (packed == known) {
        return true;
      }
    }
  }
  for (const std::string& extra : extra_units) {
    if (unit == extra) {
      return true;
    }
  }
  return false;
}

}  // namespace iicc::validation
