#include "gateway/common/digest.h"

#include "gtest/gtest.h"
#include "iicc/v1/records.pb.h"
#include "tests/testing/test_env.h"

namespace iicc {
namespace {

TEST(DigestTest, Sha256MatchesTheFipsVectors) {
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("a longer message"), testing::Sha256Of("a longer message"));
}

TEST(DigestTest, HexEncodeIsLowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(DigestTest, DeterministicSerializationIsStableAndParsesBack) {
  v1::Record record;
  record.mutable_cargo()->set_consignment_id("KZ-1");
  record.mutable_cargo()->add_goods()->set_hs6("100190");
  const std::string bytes = SerializeDeterministic(record);
  EXPECT_EQ(bytes, SerializeDeterministic(record));
  v1::Record parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.cargo().goods(0).hs6(), "100190");
}

}  // namespace
}  // namespace iicc
