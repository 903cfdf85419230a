#include "gateway/common/uuid.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace iicc {
namespace {

// The generator keeps process-wide state: ids never go back in time, so a
// later call with an earlier time reuses the latest millisecond seen. Tests
// that check the embedded timestamp therefore use FreshMillis(), later than
// any time used before in this process (also with --gtest_repeat and
// --gtest_shuffle); the others use times around 2100.
constexpr int64_t kYear2100Millis = 4102444800000;
constexpr int64_t kYear2200Millis = 7258118400000;

int64_t FreshMillis() {
  static int64_t next = kYear2200Millis;
  next += 1000000;  // Far beyond any millisecond a counter overflow borrows.
  return next;
}

// The 48-bit Unix millisecond timestamp of a canonical UUID.
int64_t EmbeddedMillis(const std::string& uuid) {
  const std::string hex = uuid.substr(0, 8) + uuid.substr(9, 4);
  uint64_t ms = 0;
  EXPECT_TRUE(absl::SimpleHexAtoi(hex, &ms)) << uuid;
  return static_cast<int64_t>(ms);
}

TEST(NewUuidV7Test, HasCanonicalVersion7Form) {
  const std::string id = NewUuidV7(absl::FromUnixMillis(kYear2100Millis));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[13], '-');
  EXPECT_EQ(id[18], '-');
  EXPECT_EQ(id[23], '-');
  EXPECT_EQ(id[14], '7') << "version nibble: " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC variant: " << id;
  EXPECT_EQ(id, absl::AsciiStrToLower(id));
  EXPECT_TRUE(IsUuidV7(id)) << id;
}

TEST(NewUuidV7Test, EmbedsTheMillisecondPassed) {
  const int64_t base = FreshMillis();
  const std::vector<int64_t> millis = {base, base + 1, base + 1000, base + 123456};
  for (int64_t ms : millis) {
    const std::string id = NewUuidV7(absl::FromUnixMillis(ms));
    EXPECT_TRUE(IsUuidV7(id)) << id;
    EXPECT_EQ(EmbeddedMillis(id), ms) << id;
  }
}

TEST(NewUuidV7Test, TruncatesSubMillisecondTime) {
  const int64_t ms = FreshMillis();
  const std::string id = NewUuidV7(absl::FromUnixMillis(ms) + absl::Microseconds(999));
  EXPECT_EQ(EmbeddedMillis(id), ms) << id;
}

TEST(NewUuidV7Test, IdsInOneMillisecondAreStrictlyIncreasingAndUnique) {
  const absl::Time now = absl::FromUnixMillis(kYear2100Millis + 5);
  constexpr int kCount = 10000;
  std::vector<std::string> ids;
  ids.reserve(kCount);
  for (int i = 0; i < kCount; ++i) ids.push_back(NewUuidV7(now));
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(IsUuidV7(ids[i])) << ids[i];
    if (i > 0) {
      ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
    }
  }
}

TEST(NewUuidV7Test, LaterTimeSortsLater) {
  const std::string earlier = NewUuidV7(absl::FromUnixMillis(kYear2100Millis + 100000));
  const std::string later = NewUuidV7(absl::FromUnixMillis(kYear2100Millis + 200000));
  EXPECT_LT(earlier, later);
}

TEST(IsUuidV7Test, AcceptsCanonicalVersion7) {
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-774b-8cce-b302099a8057"));
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-774b-9cce-b302099a8057"));
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-774b-acce-b302099a8057"));
}

TEST(IsUuidV7Test, RejectsUpperCase) {
  EXPECT_FALSE(IsUuidV7("01890A5D-AC96-774B-BCCE-B302099A8057"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805F"));
  const std::string generated = NewUuidV7(absl::FromUnixMillis(kYear2100Millis));
  EXPECT_FALSE(IsUuidV7(absl::AsciiStrToUpper(generated))) << generated;
}

TEST(IsUuidV7Test, RejectsOtherVersions) {
  EXPECT_FALSE(IsUuidV7("f47ac10b-58cc-4372-a567-0e02b2c3d479"));  // v4
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-174b-bcce-b302099a8057"));  // v1
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-874b-bcce-b302099a8057"));  // v8
}

TEST(IsUuidV7Test, RejectsOtherVariants) {
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-0cce-b302099a8057"));  // NCS
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-7cce-b302099a8057"));  // NCS
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-ccce-b302099a8057"));  // Microsoft
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-fcce-b302099a8057"));  // reserved
}

TEST(IsUuidV7Test, RejectsWrongLengths) {
  EXPECT_FALSE(IsUuidV7(""));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805"));    // 35
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a80571"));  // 37
  EXPECT_FALSE(IsUuidV7("01890a5dac96774bbcceb302099a8057"));       // no dashes
  EXPECT_FALSE(IsUuidV7("{01890a5d-ac96-774b-bcce-b302099a8057}"));
}

TEST(IsUuidV7Test, RejectsMisplacedDashes) {
  EXPECT_FALSE(IsUuidV7("01890a5-dac96-774b-bcce-b302099a8057"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac967-74b-bcce-b302099a8057"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774bb-cce-b302099a8057"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcceb-302099a8057"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805-"));
}

TEST(IsUuidV7Test, RejectsNonHexDigits) {
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805g"));
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805 "));
  EXPECT_FALSE(IsUuidV7(std::string("01890a5d-ac96-774b-bcce-b302099a805\0", 36)));
}

}  // namespace
}  // namespace iicc
