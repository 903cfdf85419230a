// Tests of gateway/validation/checks_internal.h: dates and UTF-8, the ground
// the identifier and record checks stand on.
#include "gateway/validation/checks_internal.h"

#include <string>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace iicc::validation::internal {
namespace {

TEST(DateKeyFromUnixDaysTest, AgreesWithAbseilCivilTime) {
  const absl::CivilDay epoch(1970, 1, 1);
  // 1800-01-01 to 2200-12-31, every day.
  for (absl::CivilDay day(1800, 1, 1); day <= absl::CivilDay(2200, 12, 31); ++day) {
    const int expected = DateKey(static_cast<int>(day.year()), day.month(), day.day());
    ASSERT_EQ(DateKeyFromUnixDays(day - epoch), expected) << day;
  }
}

TEST(IsRealDateTest, KnowsMonthLengthsAndLeapYears) {
  EXPECT_TRUE(IsRealDate(2024, 2, 29));
  EXPECT_TRUE(IsRealDate(2000, 2, 29));
  EXPECT_FALSE(IsRealDate(1900, 2, 29));
  EXPECT_FALSE(IsRealDate(2023, 2, 29));
  EXPECT_TRUE(IsRealDate(2023, 12, 31));
  EXPECT_FALSE(IsRealDate(2023, 4, 31));
  EXPECT_FALSE(IsRealDate(2023, 0, 1));
  EXPECT_FALSE(IsRealDate(2023, 13, 1));
  EXPECT_FALSE(IsRealDate(2023, 1, 0));
  EXPECT_FALSE(IsRealDate(0, 1, 1));
}

TEST(ScanUtf8Test, CountsCharactersInBothModes) {
  for (bool check_printable : {true, false}) {
    EXPECT_EQ(ScanUtf8("", check_printable).chars, 0u);
    EXPECT_EQ(ScanUtf8("abc", check_printable).chars, 3u);
    EXPECT_EQ(ScanUtf8("abcdefghijklmnopq", check_printable).chars, 17u);
    EXPECT_EQ(ScanUtf8("Жанна Ильина", check_printable).chars, 12u);
    EXPECT_EQ(ScanUtf8("abcdefghЖ\xf0\x9f\x98\x80ijklmnopqrs", check_printable).chars, 21u);
    EXPECT_TRUE(ScanUtf8("abcdefghЖ\xf0\x9f\x98\x80ijklmnopqrs", check_printable).valid);
  }
}

TEST(ScanUtf8Test, RejectsMalformedUtf8InBothModes) {
  for (bool check_printable : {true, false}) {
    for (const std::string bad : {"\x80", "abcdefgh\xff", "abcdefghij\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                  "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "abcdefgh\xe2\x82", "\xc3"}) {
      EXPECT_FALSE(ScanUtf8(bad, check_printable).valid) << check_printable;
    }
  }
}

TEST(ScanUtf8Test, FindsControlCharacters) {
  EXPECT_TRUE(ScanUtf8("DE-HRB 123 Ж").printable);
  EXPECT_FALSE(ScanUtf8("a\tb").printable);
  EXPECT_FALSE(ScanUtf8(std::string("a\0b", 3)).printable);
  EXPECT_FALSE(ScanUtf8("a\x7f").printable);
  EXPECT_FALSE(ScanUtf8("a\xc2\x9f").printable);
  EXPECT_TRUE(ScanUtf8("a\xc2\xa0").printable);  // U+00A0 is a character, not a control.
}

}  // namespace
}  // namespace iicc::validation::internal
