// SHA-256 digests and HMAC-SHA-256 (OpenSSL EVP).
#ifndef IICC_GATEWAY_COMMON_DIGEST_H_
#define IICC_GATEWAY_COMMON_DIGEST_H_

#include <array>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace iicc {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(absl::string_view data);

// Lower-case hex of `bytes`.
std::string HexEncode(absl::string_view bytes);

// `message` serialized deterministically (map entries sorted), so that equal
// messages give equal bytes within this build.
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

// HMAC-SHA-256 (RFC 2104) under one key, keyed once. The constructor hashes
// the key's inner and outer pads; each Compute() starts from copies of those
// states, so a MAC of a short message costs three SHA-256 blocks and no key
// schedule. The one-shot HMAC() of OpenSSL 3 costs about eight times more.
//
// Compute() is const and thread-safe: it works in a per-thread scratch
// context and only reads the keyed states.
class HmacSha256 {
 public:
  static constexpr size_t kSize = 32;
  using Mac = std::array<unsigned char, kSize>;

  explicit HmacSha256(absl::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // The MAC of the concatenation of `parts`.
  Mac Compute(std::initializer_list<absl::string_view> parts) const;

 private:
  evp_md_ctx_st* inner_;  // SHA-256 state after (key XOR ipad).
  evp_md_ctx_st* outer_;  // SHA-256 state after (key XOR opad).
};

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_DIGEST_H_
