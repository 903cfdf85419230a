// A jurisdiction's policy, compiled: what leaves (outbound) and what enters
// (inbound), field by field (proto/iicc/v1/policy.proto, docs/policy.md).
//
//   absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
//       CompiledPolicy::Load("gateway/config/kz.policy.textproto", keys, v1::JURISDICTION_KZ);
//   absl::Status verdict = (*policy)->Apply(Direction::kOutbound, &record);
//
// Compilation resolves every field path against the record descriptors once;
// Apply() follows field descriptors only, with no name look-ups.
#ifndef IICC_GATEWAY_POLICY_POLICY_ENGINE_H_
#define IICC_GATEWAY_POLICY_POLICY_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "iicc/v1/config.pb.h"
#include "iicc/v1/policy.pb.h"
#include "iicc/v1/records.pb.h"

namespace iicc::policy {

enum class Direction { kOutbound, kInbound };

// Pseudonymisation keys by key id (raw key bytes).
using PseudonymKeys = absl::flat_hash_map<std::string, std::string>;

// Reads the keys named in `config.pseudonym_keys` (hex files, at least 32
// bytes). Errors name the field path and file, never the key.
absl::StatusOr<PseudonymKeys> LoadPseudonymKeys(const v1::GatewayConfig& config);

// What a rule (or the default) did to one field, for `iicc-cli policy test`.
struct TraceEntry {
  std::string field;   // With indexes, e.g. "cargo.goods[1].hs6".
  std::string action;  // "keep", "drop", "pseudonymise", "mask", "default drop", "require", "deny".
  int line = 0;        // The rule's line in the policy file; 0 for the default.
  std::string reason;  // The rule's reason.
};

class CompiledRecordPolicy;

// Immutable once compiled; thread-safe.
class CompiledPolicy {
 public:
  // Parses and compiles the policy file at `path` for a gateway of
  // `jurisdiction`. INVALID_ARGUMENT lists every problem as
  // "path:line: what is wrong".
  static absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Load(const std::string& path, const PseudonymKeys& keys,
                                                                    v1::Jurisdiction jurisdiction);

  // Compiles `text` (named `source` in errors) like Load().
  static absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Parse(const std::string& text, const std::string& source,
                                                                     const PseudonymKeys& keys,
                                                                     v1::Jurisdiction jurisdiction);

  ~CompiledPolicy();

  // Applies the rules of `direction` for the record's type to `record`:
  // checks first (require, deny_if) on the record as it is, then the
  // transforms. FAILED_PRECONDITION when the policy refuses the record; its
  // message names each refusing field path with the rule's reason (never a
  // value). Outbound, a record type the policy does not list is refused;
  // inbound, it passes unchanged. When `trace` is set, appends what happened
  // to each field it touched. Unknown fields, at any depth, are discarded
  // first: the policy cannot have classified them.
  absl::Status Apply(Direction direction, v1::Record* record, std::vector<TraceEntry>* trace = nullptr) const;

  // Hex SHA-256 of the policy's deterministic serialization: travels in
  // every envelope and receipt.
  const std::string& version() const { return version_; }
  const v1::Policy& policy() const { return policy_; }

 private:
  CompiledPolicy() = default;

  v1::Policy policy_;
  std::string version_;
  // Indexed by RecordType.
  std::vector<std::unique_ptr<CompiledRecordPolicy>> outbound_;
  std::vector<std::unique_ptr<CompiledRecordPolicy>> inbound_;
};

// The policy in force, replaced whole on reload. Thread-safe.
class ActivePolicy {
 public:
  explicit ActivePolicy(std::shared_ptr<const CompiledPolicy> policy) : policy_(std::move(policy)) {}

  std::shared_ptr<const CompiledPolicy> Get() const {
    absl::MutexLock lock(&mu_);
    return policy_;
  }
  void Set(std::shared_ptr<const CompiledPolicy> policy) {
    absl::MutexLock lock(&mu_);
    policy_ = std::move(policy);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const CompiledPolicy> policy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace iicc::policy

#endif  // IICC_GATEWAY_POLICY_POLICY_ENGINE_H_
