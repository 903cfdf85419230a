// SHA-256 digests (OpenSSL EVP).
#ifndef IICC_GATEWAY_COMMON_DIGEST_H_
#define IICC_GATEWAY_COMMON_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace iicc {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(absl::string_view data);

// Lower-case hex of `bytes`.
std::string HexEncode(absl::string_view bytes);

// `message` serialized deterministically (map entries sorted), so that equal
// messages give equal bytes within this build.
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_DIGEST_H_
