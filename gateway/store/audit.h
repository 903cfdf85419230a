// The audit chain's hashing and verification, shared by the store that
// writes the chain and by `iicc-cli audit verify`, which checks it with
// nothing but the database file.
#ifndef IICC_GATEWAY_STORE_AUDIT_H_
#define IICC_GATEWAY_STORE_AUDIT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gateway/store/store.h"
#include "iicc/v1/audit.pb.h"

namespace iicc::store {

inline constexpr size_t kAuditHashSize = 32;

// The `previous_hash` of the first entry.
const std::string& AuditGenesisHash();

// SHA-256 over the canonical encoding of fields 1 to 8 of `entry` (its
// `hash` is ignored): the ASCII tag "IICC-Exchange v1 audit entry" and a zero
// byte, then sequence (8 bytes), time seconds (8) and nanos (4), kind (4),
// all big-endian, then record_id, identity, digest, detail and previous_hash,
// each as a 4-byte big-endian length and its bytes.
std::string AuditHash(const v1::AuditEntry& entry);

// Checks a chain entry by entry, from sequence 1. Feed every entry in
// sequence order to Next(); the first broken entry makes Next() return
// DATA_LOSS naming its sequence and what is wrong, and so do all later calls.
class AuditChainVerifier {
 public:
  absl::Status Next(const v1::AuditEntry& entry);

  // Entries checked so far.
  int64_t verified() const { return verified_; }
  // The hash of the last entry verified (the chain head).
  const std::string& head() const { return head_; }

 private:
  int64_t verified_ = 0;
  std::string head_ = AuditGenesisHash();
  absl::Status broken_;
};

// Appends `event` for a caller whose answer does not depend on it (a denied
// call is denied either way); a failure to append is logged for the
// operator.
void AuditOrLog(Store* store, const AuditEvent& event);

}  // namespace iicc::store

#endif  // IICC_GATEWAY_STORE_AUDIT_H_
