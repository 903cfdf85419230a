// Tests of gateway/validation/codes.cc.
#include "gateway/validation/codes.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace iicc::validation {
namespace {

TEST(Iso4217Test, AcceptsCurrentCodes) {
  for (const char* code : {"KZT", "UZS", "USD", "EUR", "RUB", "CNY", "TRY", "KGS", "TJS", "TMT", "AED",
                           "CHF", "GBP", "JPY", "XCG", "ZWG", "VES", "SLE", "XDR", "XAU", "AED", "ZWG"}) {
    EXPECT_TRUE(IsIso4217Currency(code)) << code;
  }
}

TEST(Iso4217Test, RejectsWithdrawnUnknownAndMalformedCodes) {
  for (const char* code :
       {"HRK", "ANG", "ZWL", "SLL", "CUC", "DEM", "RUR", "VEF", "BTC", "usd", "Usd", "US", "USDD", "", "U D", "123"}) {
    EXPECT_FALSE(IsIso4217Currency(code)) << code;
  }
}

TEST(Iso4217Test, TheTableHoldsTheWholeListOne) {
  int accepted = 0;
  std::string code = "AAA";
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) {
      for (char c = 'A'; c <= 'Z'; ++c) {
        code[0] = a;
        code[1] = b;
        code[2] = c;
        accepted += IsIso4217Currency(code) ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(accepted, 179);
}

TEST(Iso3166Test, AcceptsAssignedCodes) {
  for (const char* code : {"KZ", "UZ", "KG", "TJ", "TM", "AF", "RU", "CN", "TR", "DE", "US", "GB", "AD", "ZW", "SS",
                           "CW", "SX", "BQ", "AX"}) {
    EXPECT_TRUE(IsIso3166Alpha2(code)) << code;
  }
}

TEST(Iso3166Test, RejectsUnassignedAndMalformedCodes) {
  for (const char* code : {"XK", "UK", "EU", "SU", "YU", "AN", "ZZ", "kz", "Kz", "K", "KAZ", "", "1Z"}) {
    EXPECT_FALSE(IsIso3166Alpha2(code)) << code;
  }
}

TEST(Iso3166Test, TheTableHoldsEveryAssignedCode) {
  int accepted = 0;
  std::string code = "AA";
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) {
      code[0] = a;
      code[1] = b;
      accepted += IsIso3166Alpha2(code) ? 1 : 0;
    }
  }
  EXPECT_EQ(accepted, 249);
}

TEST(Hs6Test, IsSixDigits) {
  EXPECT_TRUE(IsHs6("100190"));
  EXPECT_TRUE(IsHs6("010221"));
  for (const char* bad : {"", "10019", "1001900", "10019a", "1001.9", " 10019"}) {
    EXPECT_FALSE(IsHs6(bad)) << bad;
  }
}

TEST(NationalCodeTest, IsTenDigitsStartingWithTheHs6) {
  EXPECT_TRUE(IsNationalCode("1001900000", "100190"));
  EXPECT_TRUE(IsNationalCode("8433510001", "843351"));
  EXPECT_FALSE(IsNationalCode("1001910000", "100190"));   // Other subheading.
  EXPECT_FALSE(IsNationalCode("100190000", "100190"));    // 9 digits.
  EXPECT_FALSE(IsNationalCode("10019000000", "100190"));  // 11 digits.
  EXPECT_FALSE(IsNationalCode("100190000x", "100190"));
  EXPECT_FALSE(IsNationalCode("1001900000", "10019"));  // The hs6 itself is invalid.
  EXPECT_FALSE(IsNationalCode("1001900000", ""));
}

TEST(UnitTest, AcceptsTheBuiltInUnitsAndPce) {
  for (const char* unit : {"KGM", "TNE", "H87", "C62", "HEA", "LTR", "MTQ", "MTK", "MTR", "PR", "SET", "PCE"}) {
    EXPECT_TRUE(IsKnownUnit(unit)) << unit;
  }
}

TEST(UnitTest, RejectsOtherUnits) {
  for (const char* unit : {"", "KG", "kgm", "Kgm", "KWH", "PCS", "H8", "KGMS"}) {
    EXPECT_FALSE(IsKnownUnit(unit)) << unit;
  }
}

TEST(UnitTest, AcceptsExtraUnitsExactly) {
  const std::vector<std::string> extra = {"KWH", "NAR"};
  EXPECT_TRUE(IsKnownUnit("KWH", extra));
  EXPECT_TRUE(IsKnownUnit("NAR", extra));
  EXPECT_TRUE(IsKnownUnit("KGM", extra));
  EXPECT_FALSE(IsKnownUnit("kwh", extra));
  EXPECT_FALSE(IsKnownUnit("KW", extra));
  EXPECT_FALSE(IsKnownUnit("KWH"));
}

}  // namespace
}  // namespace iicc::validation
