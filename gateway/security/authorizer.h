// Who may do what on the ministry face: roles per identity and record type,
// compiled once from GatewayConfig.ministries.
#ifndef IICC_GATEWAY_SECURITY_AUTHORIZER_H_
#define IICC_GATEWAY_SECURITY_AUTHORIZER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "iicc/v1/config.pb.h"
#include "iicc/v1/records.pb.h"

namespace iicc::security {

// Immutable after construction; thread-safe.
class Authorizer {
 public:
  // REQUIRES: `config` passed config::ValidateGatewayConfig.
  explicit Authorizer(const v1::GatewayConfig& config);

  // True if `identity` holds `role` for `type`.
  bool Allows(absl::string_view identity, v1::Role role, v1::RecordType type) const;

  // True if `identity` holds `role` for at least one record type.
  bool HasRole(absl::string_view identity, v1::Role role) const;

  // The record types among `requested` (all types when empty) that
  // `identity` may read. Empty when it may read none of them.
  std::vector<v1::RecordType> ReadableTypes(absl::string_view identity,
                                            const std::vector<v1::RecordType>& requested) const;

 private:
  // One bit per RecordType value, per role.
  struct Grants {
    uint32_t by_role[4] = {0, 0, 0, 0};
  };
  absl::flat_hash_map<std::string, Grants> grants_;
};

// Every record type, in enum order.
const std::vector<v1::RecordType>& AllRecordTypes();

}  // namespace iicc::security

#endif  // IICC_GATEWAY_SECURITY_AUTHORIZER_H_
