#include "gateway/security/spiffe_id.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace iicc::security {
namespace {

constexpr absl::string_view kScheme = "spiffe://";
constexpr size_t kMaxIdBytes = 2048;
constexpr size_t kMaxTrustDomainBytes = 255;

bool IsTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

}  // namespace

absl::Status CheckSpiffeId(absl::string_view id) {
  if (!absl::StartsWith(id, kScheme)) return absl::InvalidArgumentError("not a spiffe:// URI");
  if (id.size() > kMaxIdBytes) return absl::InvalidArgumentError("longer than 2048 bytes");
  const absl::string_view rest = id.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const absl::string_view domain = rest.substr(0, slash);
  if (domain.empty()) return absl::InvalidArgumentError("empty trust domain");
  if (domain.size() > kMaxTrustDomainBytes) return absl::InvalidArgumentError("trust domain longer than 255 bytes");
  for (char c : domain) {
    if (!IsTrustDomainChar(c)) {
      return absl::InvalidArgumentError(
          "trust domain has a character other than a-z, 0-9, '.', '-', '_' (upper case, port, userinfo, query?)");
    }
  }
  if (slash == absl::string_view::npos) return absl::OkStatus();
  for (absl::string_view segment : absl::StrSplit(rest.substr(slash + 1), '/')) {
    if (segment.empty()) return absl::InvalidArgumentError("empty path segment (or a trailing '/')");
    if (segment == "." || segment == "..") return absl::InvalidArgumentError("'.' or '..' path segment");
    for (char c : segment) {
      if (!IsPathChar(c)) {
        return absl::InvalidArgumentError(
            "path has a character other than letters, digits, '.', '-', '_' (percent-encoding, query, fragment?)");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace iicc::security
