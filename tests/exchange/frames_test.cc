// The frame size one side of the link announces to the other
// (docs/contract.md#frames), as the other reads it.
#include <map>
#include <string>

#include <grpcpp/support/string_ref.h>

#include "gateway/exchange/peer_service.h"
#include "gtest/gtest.h"

namespace iicc::exchange {
namespace {

// AnnouncedFrameBytes of metadata holding `key: value`.
size_t Announced(const std::string& key, const std::string& value) {
  const std::multimap<grpc::string_ref, grpc::string_ref> metadata = {{key, value}};
  return AnnouncedFrameBytes(metadata);
}

TEST(AnnouncedFrameBytesTest, ASizeIsTakenUpToTheGatewaysOwnCap) {
  EXPECT_EQ(Announced("iicc-frame-bytes", "100"), 100u);
  EXPECT_EQ(Announced("iicc-frame-bytes", "1048576"), kMaxFrameBytes);
  // A receiver's peer face with the default 4 MiB limit announces more than
  // the gateway builds.
  EXPECT_EQ(Announced("iicc-frame-bytes", "4259840"), kMaxFrameBytes);
  EXPECT_EQ(Announced("iicc-frame-bytes", "18446744073709551615"), kMaxFrameBytes);
}

TEST(AnnouncedFrameBytesTest, NothingOrAnythingButASizeMeansOneItemPerFrame) {
  EXPECT_EQ(AnnouncedFrameBytes({}), 0u);
  EXPECT_EQ(Announced("iicc-receiver", "ready"), 0u);
  for (const char* value : {"", "0", "-1", "1 MiB", "0x100", "18446744073709551616", "12abc"}) {
    EXPECT_EQ(Announced("iicc-frame-bytes", value), 0u) << value;
  }
}

}  // namespace
}  // namespace iicc::exchange
