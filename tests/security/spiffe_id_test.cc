#include "gateway/security/spiffe_id.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace iicc::security {
namespace {

TEST(CheckSpiffeIdTest, AcceptsWhatTheSpecAllows) {
  for (const std::string& id : std::vector<std::string>{
           "spiffe://kz.iicc/gateway", "spiffe://uz.iicc/ministry/ministry-client",
           "spiffe://kz.iicc/ministry/customs_system.v2", "spiffe://example-1.org/Path/With/Upper", "spiffe://kz.iicc",
           "spiffe://a_b.c-d/x/y/z", "spiffe://kz.iicc/a/..b/c.", "spiffe://" + std::string(255, 'a') + "/x"}) {
    EXPECT_TRUE(CheckSpiffeId(id).ok()) << id << ": " << CheckSpiffeId(id);
  }
}

TEST(CheckSpiffeIdTest, RefusesBadTrustDomains) {
  for (const std::string& id : std::vector<std::string>{
           "spiffe:///gateway", "spiffe://", "spiffe://KZ.iicc/gateway", "spiffe://kz.IICC/gateway",
           "spiffe://kz.iicc:8443/gateway", "spiffe://user@kz.iicc/gateway", "spiffe://kz iicc/gateway",
           "spiffe://kz.iicc?x=1", "spiffe://kz.iicc#f", "spiffe://kz%2eiicc/gateway",
           "spiffe://" + std::string(256, 'a') + "/x"}) {
    const absl::Status status = CheckSpiffeId(id);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_EQ(std::string(status.message()).find(id), std::string::npos) << "the ID is quoted: " << status;
  }
}

TEST(CheckSpiffeIdTest, RefusesBadPaths) {
  for (const std::string& id : std::vector<std::string>{
           "spiffe://kz.iicc/", "spiffe://kz.iicc//gateway", "spiffe://kz.iicc/gateway/", "spiffe://kz.iicc/.",
           "spiffe://kz.iicc/..", "spiffe://kz.iicc/ministry/../gateway", "spiffe://kz.iicc/./gateway",
           "spiffe://kz.iicc/ministry/a+b", "spiffe://kz.iicc/ministry/%41", "spiffe://kz.iicc/ministry/reg istry",
           "spiffe://kz.iicc/gateway?x=1", "spiffe://kz.iicc/gateway#frag", "spiffe://kz.iicc/ministry/caf\xc3\xa9",
           std::string("spiffe://kz.iicc/a\0b", 20)}) {
    EXPECT_EQ(CheckSpiffeId(id).code(), absl::StatusCode::kInvalidArgument) << id;
  }
}

TEST(CheckSpiffeIdTest, RefusesOtherSchemesAndOversizedIds) {
  for (const std::string& id :
       std::vector<std::string>{"", "kz.iicc/gateway", "//kz.iicc/gateway", "https://kz.iicc/gateway",
                                "SPIFFE://kz.iicc/gateway", "spiffe:kz.iicc/gateway"}) {
    EXPECT_EQ(CheckSpiffeId(id).code(), absl::StatusCode::kInvalidArgument) << id;
  }
  const std::string long_path = "spiffe://kz.iicc/" + std::string(2048 - 17, 'a');
  EXPECT_TRUE(CheckSpiffeId(long_path).ok());  // Exactly 2048 bytes.
  EXPECT_FALSE(CheckSpiffeId(long_path + "a").ok());
}

}  // namespace
}  // namespace iicc::security
