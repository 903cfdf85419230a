// The syntax of a SPIFFE ID (SPIFFE-ID specification, section 2), checked
// before any identity from a certificate or a configuration is trusted.
//
//   absl::Status syntax = iicc::security::CheckSpiffeId(uri);
//   if (!syntax.ok()) { /* syntax.message(): why, without the ID */ }
//
// Accepted: "spiffe://" + trust domain [+ path]. The trust domain is 1 to
// 255 lower-case letters, digits, '.', '-' and '_' (so no port, no userinfo,
// no upper case); the path is one or more "/segment", each of letters,
// digits, '.', '-' and '_', never empty, "." or ".." (so no trailing slash,
// no percent-encoding, no query, no fragment). At most 2048 bytes in all.
#ifndef IICC_GATEWAY_SECURITY_SPIFFE_ID_H_
#define IICC_GATEWAY_SECURITY_SPIFFE_ID_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iicc::security {

// OK if `id` is a valid SPIFFE ID; otherwise INVALID_ARGUMENT saying which
// rule it breaks. The message never quotes `id` (callers decide whether it
// may be logged). Thread-safe.
absl::Status CheckSpiffeId(absl::string_view id);

}  // namespace iicc::security

#endif  // IICC_GATEWAY_SECURITY_SPIFFE_ID_H_
