#include "gateway/security/authorizer.h"

namespace iicc::security {

const std::vector<v1::RecordType>& AllRecordTypes() {
  static const auto* types =
      new std::vector<v1::RecordType>{v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT};
  return *types;
}

Authorizer::Authorizer(const v1::GatewayConfig& config) {
  for (const v1::MinistryIdentity& identity : config.ministries()) {
    Grants& grants = grants_[identity.spiffe_id()];
    for (const v1::RoleGrant& grant : identity.grants()) {
      uint32_t& bits = grants.by_role[grant.role()];
      if (grant.record_types().empty()) {
        for (v1::RecordType type : AllRecordTypes()) bits |= 1u << type;
      }
      for (int type : grant.record_types()) bits |= 1u << type;
    }
  }
}

bool Authorizer::Allows(absl::string_view identity, v1::Role role, v1::RecordType type) const {
  if (role <= v1::ROLE_UNSPECIFIED || role > v1::ROLE_STATUS || type < 0 || type >= 32) return false;
  auto it = grants_.find(identity);
  return it != grants_.end() && (it->second.by_role[role] >> type & 1u) != 0;
}

bool Authorizer::HasRole(absl::string_view identity, v1::Role role) const {
  if (role <= v1::ROLE_UNSPECIFIED || role > v1::ROLE_STATUS) return false;
  auto it = grants_.find(identity);
  return it != grants_.end() && it->second.by_role[role] != 0;
}

std::vector<v1::RecordType> Authorizer::ReadableTypes(absl::string_view identity,
                                                      const std::vector<v1::RecordType>& requested) const {
  std::vector<v1::RecordType> readable;
  for (v1::RecordType type : requested.empty() ? AllRecordTypes() : requested) {
    if (Allows(identity, v1::ROLE_READ, type)) readable.push_back(type);
  }
  return readable;
}

}  // namespace iicc::security
