#include "gateway/store/audit.h"

#include "absl/strings/str_cat.h"
#include "gateway/common/digest.h"
#include "gateway/common/log.h"

namespace iicc::store {
namespace {

constexpr char kTag[] = "IICC-Exchange v1 audit entry";

void PutBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out->push_back(static_cast<char>((value >> shift) & 0xff));
}

void PutLengthPrefixed(const std::string& value, std::string* out) {
  PutBigEndian(value.size(), 4, out);
  out->append(value);
}

}  // namespace

const std::string& AuditGenesisHash() {
  static const std::string* const kGenesis = new std::string(kAuditHashSize, '\0');
  return *kGenesis;
}

std::string AuditHash(const v1::AuditEntry& entry) {
  std::string canonical(kTag, sizeof(kTag));  // With its terminating zero.
  PutBigEndian(static_cast<uint64_t>(entry.sequence()), 8, &canonical);
  PutBigEndian(static_cast<uint64_t>(entry.time().seconds()), 8, &canonical);
  PutBigEndian(static_cast<uint32_t>(entry.time().nanos()), 4, &canonical);
  PutBigEndian(static_cast<uint32_t>(entry.kind()), 4, &canonical);
  PutLengthPrefixed(entry.record_id(), &canonical);
  PutLengthPrefixed(entry.identity(), &canonical);
  PutLengthPrefixed(entry.digest(), &canonical);
  PutLengthPrefixed(entry.detail(), &canonical);
  PutLengthPrefixed(entry.previous_hash(), &canonical);
  return Sha256(canonical);
}

absl::Status AuditChainVerifier::Next(const v1::AuditEntry& entry) {
  if (!broken_.ok()) return broken_;
  const int64_t expected = verified_ + 1;
  std::string problem;
  if (entry.sequence() != expected) {
    problem = absl::StrCat("sequence ", entry.sequence(), " where ", expected, " was due (an entry is missing)");
  } else if (entry.previous_hash() != head_) {
    problem = "previous_hash is not the hash of the entry before (an entry before it changed or is missing)";
  } else if (entry.hash() != AuditHash(entry)) {
    problem = "hash does not match the entry's content (the entry changed)";
  }
  if (!problem.empty()) {
    broken_ = absl::DataLossError(absl::StrCat("audit entry ", expected, ": ", problem));
    return broken_;
  }
  verified_ = expected;
  head_ = entry.hash();
  return absl::OkStatus();
}

void AuditOrLog(Store* store, const AuditEvent& event) {
  if (absl::Status status = store->AppendAudit(event); !status.ok()) {
    Log(LogLevel::kError, "audit.append_failed",
        {{"kind", v1::AuditEventKind_Name(event.kind)}, {"error", std::string(status.message())}});
  }
}

}  // namespace iicc::store
