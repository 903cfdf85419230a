#include "gateway/common/digest.h"

#include <openssl/hmac.h>

#include <random>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
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

std::string Hex(const HmacSha256::Mac& mac) {
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

// RFC 4231, test cases 1, 2, 4 and 6 (6 has a key longer than the block).
TEST(HmacSha256Test, MatchesRfc4231) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b')).Compute({"Hi There"})),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hex(HmacSha256("Jefe").Compute({"what do ya want for nothing?"})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(HmacSha256(absl::HexStringToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"))
                    .Compute({std::string(50, '\xcd')})),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(
      Hex(HmacSha256(std::string(131, '\xaa')).Compute({"Test Using Larger Than Block-Size Key - Hash Key First"})),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Against OpenSSL's one-shot HMAC() for keys around the block size and
// messages split into parts anywhere.
TEST(HmacSha256Test, AgreesWithOpenSslOneShotForAnyKeyLengthAndSplit) {
  std::mt19937 rng(20261128);
  auto random_bytes = [&rng](size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(rng());
    return out;
  };
  for (size_t key_size : {0, 1, 31, 32, 63, 64, 65, 200}) {
    const std::string key = random_bytes(key_size);
    const HmacSha256 hmac(key);
    for (size_t message_size : {0, 1, 55, 56, 64, 1000}) {
      const std::string message = random_bytes(message_size);
      unsigned char expected[EVP_MAX_MD_SIZE];
      unsigned int size = 0;
      ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                     reinterpret_cast<const unsigned char*>(message.data()), message.size(), expected, &size),
                nullptr);
      const std::string want = HexEncode(absl::string_view(reinterpret_cast<const char*>(expected), size));
      const size_t split = message_size / 3;
      EXPECT_EQ(Hex(hmac.Compute({message})), want) << key_size << "/" << message_size;
      EXPECT_EQ(Hex(hmac.Compute(
                    {absl::string_view(message).substr(0, split), "", absl::string_view(message).substr(split)})),
                want)
          << key_size << "/" << message_size;
    }
  }
}

TEST(HmacSha256Test, OneKeyServesManyThreadsAtOnce) {
  const HmacSha256 hmac("a shared key of the pseudonymiser");
  const std::string want = Hex(hmac.Compute({"cargo.driver.full_name", "Aliyev Timur"}));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (Hex(hmac.Compute({"cargo.driver.full_name", "Aliyev Timur"})) != want) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace iicc
