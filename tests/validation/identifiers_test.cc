// Tests of gateway/validation/identifiers.cc. Valid numbers are made here
// with check digits computed by the test's own implementation of the
// algorithms in DOMAIN.md, not by the code under test.
#include "gateway/validation/identifiers.h"

#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iicc::validation {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

// The KZ mod-11 check digit of `first11`, or -1 when both weightings give 10.
int OracleKzCheckDigit(const std::string& first11) {
  int first = 0;
  int second = 0;
  for (int i = 0; i < 11; ++i) {
    const int digit = first11[i] - '0';
    first += digit * (i + 1);
    second += digit * ((i + 2) % 11 + 1);  // 3, 4, ..., 11, 1, 2.
  }
  if (first % 11 != 10) {
    return first % 11;
  }
  return second % 11 == 10 ? -1 : second % 11;
}

// `first11` completed with its check digit. REQUIRES: one exists.
std::string WithKzCheckDigit(const std::string& first11) {
  const int check = OracleKzCheckDigit(first11);
  EXPECT_GE(check, 0) << "no check digit exists";
  return first11 + static_cast<char>('0' + check);
}

int OraclePinflCheckDigit(const std::string& first13) {
  static const int kWeights[] = {7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7};
  int sum = 0;
  for (int i = 0; i < 13; ++i) {
    sum += (first13[i] - '0') * kWeights[i];
  }
  return sum % 10;
}

std::string WithPinflCheckDigit(const std::string& first13) {
  return first13 + static_cast<char>('0' + OraclePinflCheckDigit(first13));
}

// `valid` with its last digit replaced by each other digit.
std::vector<std::string> WrongCheckDigits(const std::string& valid) {
  std::vector<std::string> wrong;
  for (char digit = '0'; digit <= '9'; ++digit) {
    if (digit != valid.back()) {
      wrong.push_back(valid.substr(0, valid.size() - 1) + digit);
    }
  }
  return wrong;
}

// ---- Published samples (clients/examples) -------------------------------

// Every identifier of the valid samples carries the check digit the test's
// own implementation of DOMAIN.md computes, and the checker accepts it.
TEST(SampleIdentifiersTest, ValidSamplesAreAccepted) {
  for (const char* bin : {"100140011059", "241040012341", "230540010874"}) {
    EXPECT_EQ(WithKzCheckDigit(std::string(bin).substr(0, 11)), bin);
    EXPECT_EQ(CheckKzBin(bin), std::nullopt) << bin;
  }
  for (const char* iin : {"900101300057", "850615400125", "780312301421", "971105402334"}) {
    EXPECT_EQ(WithKzCheckDigit(std::string(iin).substr(0, 11)), iin);
    EXPECT_EQ(CheckKzIin(iin), std::nullopt) << iin;
  }
  for (const char* pinfl : {"31507901234564", "31205863260213", "40307914011132"}) {
    EXPECT_EQ(WithPinflCheckDigit(std::string(pinfl).substr(0, 13)), pinfl);
    EXPECT_EQ(CheckUzPinfl(pinfl), std::nullopt) << pinfl;
  }
  for (const char* stir : {"302938475", "207145386"}) {
    EXPECT_EQ(CheckUzStir(stir), std::nullopt) << stir;
  }
}

// clients/examples once shipped these identifiers with wrong check digits
// under DOMAIN.md's algorithms (they stay there, on purpose, in
// clients/examples/invalid/*-check-digit.json); the corrected numbers (same
// digits, computed check digit) are the ones the valid samples carry.
TEST(SampleIdentifiersTest, SamplesWithWrongCheckDigitsAreRejectedAndTheirCorrectionsAccepted) {
  EXPECT_THAT(CheckKzIin("900101300059"), Optional(HasSubstr("check digit")));
  EXPECT_EQ(WithKzCheckDigit("90010130005"), "900101300057");
  EXPECT_EQ(CheckKzIin("900101300057"), std::nullopt);

  EXPECT_THAT(CheckKzIin("850615400123"), Optional(HasSubstr("check digit")));
  EXPECT_EQ(WithKzCheckDigit("85061540012"), "850615400125");
  EXPECT_EQ(CheckKzIin("850615400125"), std::nullopt);

  EXPECT_THAT(CheckUzPinfl("31507901234566"), Optional(HasSubstr("check digit")));
  EXPECT_EQ(WithPinflCheckDigit("3150790123456"), "31507901234564");
  EXPECT_EQ(CheckUzPinfl("31507901234564"), std::nullopt);
}

// ---- KZ BIN --------------------------------------------------------------

TEST(KzBinTest, AcceptsGeneratedNumbersOfEveryTypeAndAttribute) {
  int checked = 0;
  for (int month = 1; month <= 12; ++month) {
    for (char type : {'4', '5', '6'}) {
      for (char attribute : {'0', '1', '2', '3'}) {
        for (int serial : {0, 1, 4711, 99999}) {
          const std::string first11 = absl::StrFormat("%02d%02d%c%c%05d", 24, month, type, attribute, serial);
          if (OracleKzCheckDigit(first11) < 0) {
            continue;
          }
          const std::string bin = WithKzCheckDigit(first11);
          EXPECT_EQ(CheckKzBin(bin), std::nullopt) << bin;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(KzBinTest, RejectsEveryWrongCheckDigit) {
  for (const std::string& bin : WrongCheckDigits("100140011059")) {
    EXPECT_THAT(CheckKzBin(bin), Optional(HasSubstr("check digit does not match"))) << bin;
  }
}

TEST(KzBinTest, UsesTheSecondWeightingWhenTheFirstGivesTen) {
  // 10014000042: first weighting 10, second 0 (test oracle).
  const std::string first11 = "10014000042";
  int first = 0;
  for (int i = 0; i < 11; ++i) first += (first11[i] - '0') * (i + 1);
  ASSERT_EQ(first % 11, 10);
  const std::string bin = WithKzCheckDigit(first11);
  EXPECT_EQ(CheckKzBin(bin), std::nullopt) << bin;
}

TEST(KzBinTest, RejectsNumbersWhoseCheckIsTenTwice) {
  // 10014000041: both weightings give 10, so no 12th digit makes it valid.
  ASSERT_EQ(OracleKzCheckDigit("10014000041"), -1);
  for (char last = '0'; last <= '9'; ++last) {
    EXPECT_THAT(CheckKzBin(absl::StrCat("10014000041", std::string(1, last))),
                Optional(HasSubstr("no valid check digit")));
  }
}

TEST(KzBinTest, RejectsBadMonth) {
  EXPECT_THAT(CheckKzBin(WithKzCheckDigit("10004001105")), Optional(HasSubstr("month")));
  EXPECT_THAT(CheckKzBin(WithKzCheckDigit("10134001105")), Optional(HasSubstr("month")));
}

TEST(KzBinTest, RejectsBadTypeDigit) {
  for (char type : {'0', '1', '2', '3', '7', '8', '9'}) {
    const std::string first11 = absl::StrCat("1001", std::string(1, type), "001105");
    if (OracleKzCheckDigit(first11) < 0) continue;
    EXPECT_THAT(CheckKzBin(WithKzCheckDigit(first11)), Optional(HasSubstr("type digit"))) << type;
  }
}

TEST(KzBinTest, RejectsBadAttributeDigit) {
  for (char attribute : {'4', '5', '9'}) {
    const std::string first11 = absl::StrCat("10014", std::string(1, attribute), "01105");
    if (OracleKzCheckDigit(first11) < 0) continue;
    EXPECT_THAT(CheckKzBin(WithKzCheckDigit(first11)), Optional(HasSubstr("attribute digit"))) << attribute;
  }
}

TEST(KzBinTest, RejectsWrongLengthAndNonDigits) {
  for (const char* bad :
       {"", "10014001105", "1001400110590", "10014001105A", " 00140011059", "100140-11059", "１00140011059"}) {
    EXPECT_THAT(CheckKzBin(bad), Optional(HasSubstr("12 digits"))) << bad;
  }
}

// ---- KZ IIN --------------------------------------------------------------

TEST(KzIinTest, AcceptsGeneratedNumbersInEveryCentury) {
  struct Case {
    const char* yymmdd;
    char century;
  };
  // 000229 is real in 2000 (leap) and in no other century here.
  for (const Case& c : {Case{"900101", '3'}, Case{"900101", '4'}, Case{"991231", '1'}, Case{"010615", '2'},
                        Case{"000229", '5'}, Case{"240229", '6'}, Case{"850615", '4'}}) {
    for (int serial : {0, 5, 1234, 9999}) {
      const std::string first11 = absl::StrFormat("%s%c%04d", c.yymmdd, c.century, serial);
      if (OracleKzCheckDigit(first11) < 0) continue;
      const std::string iin = WithKzCheckDigit(first11);
      EXPECT_EQ(CheckKzIin(iin), std::nullopt) << iin;
    }
  }
}

TEST(KzIinTest, RejectsEveryWrongCheckDigit) {
  for (const std::string& iin : WrongCheckDigits("900101300057")) {
    EXPECT_THAT(CheckKzIin(iin), Optional(HasSubstr("check digit does not match"))) << iin;
  }
}

TEST(KzIinTest, RejectsNumbersWhoseCheckIsTenTwice) {
  ASSERT_EQ(OracleKzCheckDigit("90010130080"), -1);
  for (char last = '0'; last <= '9'; ++last) {
    EXPECT_THAT(CheckKzIin(absl::StrCat("90010130080", std::string(1, last))),
                Optional(HasSubstr("no valid check digit")));
  }
}

TEST(KzIinTest, RejectsDatesThatAreNotReal) {
  // 1900 and 1800 are not leap years; months 00 and 13; day 00, 31 April.
  for (const char* first11 :
       {"00022930001", "00022910001", "90130130001", "90000130001", "90010030001", "90043130001", "90023030001"}) {
    if (OracleKzCheckDigit(first11) < 0) continue;
    EXPECT_THAT(CheckKzIin(WithKzCheckDigit(first11)), Optional(HasSubstr("date"))) << first11;
  }
}

TEST(KzIinTest, RejectsBadCenturyDigit) {
  for (char century : {'0', '7', '8', '9'}) {
    const std::string first11 = absl::StrCat("900101", std::string(1, century), "0005");
    if (OracleKzCheckDigit(first11) < 0) continue;
    EXPECT_THAT(CheckKzIin(WithKzCheckDigit(first11)), Optional(HasSubstr("century digit"))) << century;
  }
}

TEST(KzIinTest, RejectsWrongLengthAndNonDigits) {
  for (const char* bad : {"", "90010130005", "9001013000570", "90010130005x", "900101 00057"}) {
    EXPECT_THAT(CheckKzIin(bad), Optional(HasSubstr("12 digits"))) << bad;
  }
}

// ---- UZ PINFL ------------------------------------------------------------

TEST(UzPinflTest, AcceptsGeneratedNumbers) {
  struct Case {
    char century;
    const char* ddmmyy;
  };
  for (const Case& c : {Case{'3', "150790"}, Case{'4', "010180"}, Case{'5', "290200"}, Case{'6', "311299"},
                        Case{'1', "010199"}, Case{'2', "280296"}}) {
    for (const char* area_serial : {"001001", "123456", "999999", "260010"}) {
      const std::string pinfl = WithPinflCheckDigit(absl::StrCat(std::string(1, c.century), c.ddmmyy, area_serial));
      EXPECT_EQ(CheckUzPinfl(pinfl), std::nullopt) << pinfl;
    }
  }
}

TEST(UzPinflTest, RejectsEveryWrongCheckDigit) {
  for (const std::string& pinfl : WrongCheckDigits("31507901234564")) {
    EXPECT_THAT(CheckUzPinfl(pinfl), Optional(HasSubstr("check digit does not match"))) << pinfl;
  }
}

TEST(UzPinflTest, RejectsDatesThatAreNotReal) {
  // 29 Feb 1900 (not leap), 31 June, month 13, day 00.
  for (const char* first13 : {"3290200123456", "3310690123456", "3011390123456", "3000190123456"}) {
    EXPECT_THAT(CheckUzPinfl(WithPinflCheckDigit(first13)), Optional(HasSubstr("date"))) << first13;
  }
}

TEST(UzPinflTest, RejectsBadCenturyDigit) {
  for (char century : {'0', '7', '9'}) {
    const std::string pinfl = WithPinflCheckDigit(absl::StrCat(std::string(1, century), "150790123456"));
    EXPECT_THAT(CheckUzPinfl(pinfl), Optional(HasSubstr("century digit"))) << pinfl;
  }
}

TEST(UzPinflTest, RejectsZeroAreaAndZeroSerial) {
  EXPECT_THAT(CheckUzPinfl(WithPinflCheckDigit("3150790000456")), Optional(HasSubstr("area")));
  EXPECT_THAT(CheckUzPinfl(WithPinflCheckDigit("3150790123000")), Optional(HasSubstr("serial")));
}

TEST(UzPinflTest, RejectsWrongLengthAndNonDigits) {
  for (const char* bad : {"", "3150790123456", "315079012345640", "3150790123456a", "-1507901234564"}) {
    EXPECT_THAT(CheckUzPinfl(bad), Optional(HasSubstr("14 digits"))) << bad;
  }
}

// ---- UZ STIR and foreign ids ---------------------------------------------

TEST(UzStirTest, AcceptsNineDigitsOnly) {
  EXPECT_EQ(CheckUzStir("302938475"), std::nullopt);
  EXPECT_EQ(CheckUzStir("000000000"), std::nullopt);
  for (const char* bad : {"", "30293847", "3029384750", "30293847x", "302 38475"}) {
    EXPECT_THAT(CheckUzStir(bad), Optional(HasSubstr("9 digits"))) << bad;
  }
}

TEST(ForeignIdTest, AcceptsUpToSixtyFourPrintableCharacters) {
  EXPECT_EQ(CheckForeignId("DE-HRB-123456"), std::nullopt);
  EXPECT_EQ(CheckForeignId(std::string(64, 'A')), std::nullopt);
  // 64 Cyrillic letters: 128 bytes, 64 characters.
  std::string cyrillic;
  for (int i = 0; i < 64; ++i) cyrillic += "Ж";
  EXPECT_EQ(CheckForeignId(cyrillic), std::nullopt);
}

TEST(ForeignIdTest, RejectsEmptyLongAndNonPrintable) {
  EXPECT_THAT(CheckForeignId(""), Optional(HasSubstr("required")));
  EXPECT_THAT(CheckForeignId(std::string(65, 'A')), Optional(HasSubstr("64")));
  EXPECT_THAT(CheckForeignId("DE\nHRB"), Optional(HasSubstr("printable")));
  EXPECT_THAT(CheckForeignId(std::string("DE\0HRB", 6)), Optional(HasSubstr("printable")));
  EXPECT_THAT(CheckForeignId("DE\x7f"), Optional(HasSubstr("printable")));
  EXPECT_THAT(CheckForeignId("\xc2\x85"), Optional(HasSubstr("printable")));      // U+0085, a C1 control.
  EXPECT_THAT(CheckForeignId("DE\xff"), Optional(HasSubstr("printable")));        // Not UTF-8.
  EXPECT_THAT(CheckForeignId("\xc0\xae"), Optional(HasSubstr("printable")));      // Overlong.
  EXPECT_THAT(CheckForeignId("\xed\xa0\x80"), Optional(HasSubstr("printable")));  // A surrogate.
  EXPECT_THAT(CheckForeignId("\xe2\x82"), Optional(HasSubstr("printable")));      // Truncated.
}

TEST(IdentifierReasonsTest, NeverQuoteTheValue) {
  const std::string values[] = {"900101300059", "31507901234566",    "10014000041",
                                "3029384",      "99999999999999999", std::string(80, '7')};
  for (const std::string& value : values) {
    for (const std::optional<std::string>& reason :
         {CheckKzBin(value), CheckKzIin(value), CheckUzPinfl(value), CheckUzStir(value), CheckForeignId(value)}) {
      if (reason.has_value()) {
        EXPECT_THAT(*reason, Not(HasSubstr(value)));
        EXPECT_THAT(*reason, Not(HasSubstr(value.substr(0, 6))));
      }
    }
  }
}

// ---- Pseudonyms and masked values ----------------------------------------

std::string Pseudonym(const std::string& key_id, char fill = '\x5a') {
  std::string digest;
  absl::WebSafeBase64Escape(std::string(32, fill), &digest);
  return absl::StrCat("ps:", key_id, ":", digest);
}

TEST(PseudonymTest, AcceptsWhatAnHmacSha256PseudonymLooksLike) {
  EXPECT_TRUE(IsPseudonym(Pseudonym("kz-2026")));
  EXPECT_TRUE(IsPseudonym(Pseudonym("k")));
  EXPECT_TRUE(IsPseudonym(Pseudonym("Key_1.a-B")));
  EXPECT_TRUE(IsPseudonym(Pseudonym(std::string(64, 'k'))));
  for (int fill = 0; fill < 256; ++fill) {
    EXPECT_TRUE(IsPseudonym(Pseudonym("k", static_cast<char>(fill)))) << fill;
  }
}

TEST(PseudonymTest, RejectsAnythingElse) {
  const std::string good = Pseudonym("k");
  const std::string digest = good.substr(5);
  ASSERT_EQ(digest.size(), 43u);
  EXPECT_FALSE(IsPseudonym(""));
  EXPECT_FALSE(IsPseudonym("ps:"));
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps::", digest)));                            // No key id.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:", std::string(65, 'k'), ":", digest)));  // Key id too long.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k/1:", digest)));                         // Bad key id character.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:", digest.substr(1))));                 // 42 characters.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:", digest, "A")));                      // 44 characters.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:", digest, "=")));                      // Padding.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:+", digest.substr(1))));                // Not base64url.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:", digest.substr(0, 42), "B")));        // Not 32 bytes exactly.
  EXPECT_FALSE(IsPseudonym(absl::StrCat("PS:k:", digest)));
  EXPECT_FALSE(IsPseudonym(absl::StrCat("ps:k:", digest.substr(0, 21), ":", digest.substr(22))));
  EXPECT_FALSE(IsPseudonym("900101300057"));
}

TEST(MaskedTest, StartsWithAStar) {
  EXPECT_TRUE(IsMasked("*"));
  EXPECT_TRUE(IsMasked("*0057"));
  EXPECT_FALSE(IsMasked(""));
  EXPECT_FALSE(IsMasked("9001*"));
  EXPECT_FALSE(IsMasked(Pseudonym("k")));
}

}  // namespace
}  // namespace iicc::validation
