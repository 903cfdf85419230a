#include "gateway/common/uuid.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace iicc {
namespace {

// RFC 9562 method 1: a 12-bit counter in rand_a keeps ids made within one
// millisecond monotonic; it starts at a random value below 2^11 each
// millisecond so it rarely overflows.
struct MonotonicState {
  absl::Mutex mu;
  uint64_t last_ms ABSL_GUARDED_BY(mu) = 0;
  uint16_t counter ABSL_GUARDED_BY(mu) = 0;
};

MonotonicState& State() {
  static auto* state = new MonotonicState;
  return *state;
}

}  // namespace

std::string NewUuidV7(absl::Time now) {
  std::array<uint8_t, 16> bytes;
  if (RAND_bytes(bytes.data(), bytes.size()) != 1) {
    // The CSPRNG failing is not an input error: nothing sensible can go on.
    abort();
  }
  uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(now));
  uint16_t counter;
  {
    MonotonicState& state = State();
    absl::MutexLock lock(&state.mu);
    if (ms <= state.last_ms) {
      ms = state.last_ms;
      if (++state.counter > 0x0fff) {  // Counter spent: borrow the next millisecond.
        ++ms;
        state.counter = (bytes[6] << 8 | bytes[7]) & 0x07ff;
      }
    } else {
      state.counter = (bytes[6] << 8 | bytes[7]) & 0x07ff;
    }
    state.last_ms = ms;
    counter = state.counter;
  }
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<uint8_t>(0x70 | (counter >> 8));
  bytes[7] = static_cast<uint8_t>(counter & 0xff);
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

bool IsUuidV7(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return text[14] == '7' && (text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
}

}  // namespace iicc
