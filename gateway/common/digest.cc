#include "gateway/common/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message_lite.h"

namespace iicc {

namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// SHA-256, fetched from the default provider once. OpenSSL 3 looks an
// implicit EVP_sha256() up again, under a lock, every time it is used; a
// record's path hashes a few dozen times (digests, Merkle nodes).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) abort();  // Only fails when the library is broken.
    return fetched;
  }();
  return md;
}

}  // namespace

std::string Sha256(absl::string_view data) {
  // One context per thread, initialized again by each use.
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> scratch(EVP_MD_CTX_new());
  EVP_MD_CTX* ctx = scratch.get();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, out, &size) != 1) {
    abort();  // Only fails when the library is broken or out of memory.
  }
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

namespace {

constexpr size_t kSha256BlockSize = 64;

void Check(int openssl_result) {
  if (openssl_result != 1) abort();  // Only fails when the library is broken or out of memory.
}

EVP_MD_CTX* PadState(const unsigned char (&key_block)[kSha256BlockSize], unsigned char pad) {
  unsigned char padded[kSha256BlockSize];
  for (size_t i = 0; i < kSha256BlockSize; ++i) padded[i] = key_block[i] ^ pad;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) abort();
  Check(EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr));
  Check(EVP_DigestUpdate(ctx, padded, sizeof(padded)));
  OPENSSL_cleanse(padded, sizeof(padded));
  return ctx;
}

}  // namespace

HmacSha256::HmacSha256(absl::string_view key) {
  // RFC 2104: a key longer than the block is hashed first; a shorter one is
  // padded with zeros.
  unsigned char key_block[kSha256BlockSize] = {};
  if (key.size() > kSha256BlockSize) {
    const std::string hashed = Sha256(key);
    std::copy(hashed.begin(), hashed.end(), key_block);
  } else {
    std::copy(key.begin(), key.end(), key_block);
  }
  inner_ = PadState(key_block, 0x36);
  outer_ = PadState(key_block, 0x5c);
  OPENSSL_cleanse(key_block, sizeof(key_block));
}

HmacSha256::~HmacSha256() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

HmacSha256::Mac HmacSha256::Compute(std::initializer_list<absl::string_view> parts) const {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> scratch(EVP_MD_CTX_new());
  EVP_MD_CTX* ctx = scratch.get();
  if (ctx == nullptr) abort();
  Mac mac;
  unsigned int size = 0;
  Check(EVP_MD_CTX_copy_ex(ctx, inner_));
  for (absl::string_view part : parts) Check(EVP_DigestUpdate(ctx, part.data(), part.size()));
  Check(EVP_DigestFinal_ex(ctx, mac.data(), &size));
  Check(EVP_MD_CTX_copy_ex(ctx, outer_));
  Check(EVP_DigestUpdate(ctx, mac.data(), mac.size()));
  Check(EVP_DigestFinal_ex(ctx, mac.data(), &size));
  return mac;
}

}  // namespace iicc
