// UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then randomness,
// so that ids sort by creation time. Record ids are UUIDv7.
#ifndef IICC_GATEWAY_COMMON_UUID_H_
#define IICC_GATEWAY_COMMON_UUID_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace iicc {

// A new UUIDv7 for `now` in canonical lower-case form
// (xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx). Thread-safe. Ids made in the same
// millisecond by one process are strictly increasing.
std::string NewUuidV7(absl::Time now);

// True if `text` is a canonical lower-case UUID of version 7, RFC variant.
bool IsUuidV7(absl::string_view text);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_UUID_H_
