// A Store whose every call fails as a full disk does (RESOURCE_EXHAUSTED),
// for the cases a real SqliteStore cannot be made to produce on demand. It
// counts the batch calls that reached it.
#ifndef IICC_TESTS_TESTING_FULL_DISK_STORE_H_
#define IICC_TESTS_TESTING_FULL_DISK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/store/store.h"

namespace iicc::testing {

class FullDiskStore : public store::Store {
 public:
  absl::StatusOr<store::AcceptOutcome> AcceptOutbound(const store::OutboundRecord&) override { return Full(); }
  absl::StatusOr<std::vector<store::AcceptOutcome>> AcceptOutboundBatch(
      const std::vector<store::OutboundRecord>& records) override {
    outbound_batch_sizes.push_back(records.size());
    return Full();
  }
  absl::StatusOr<store::OutboundStatus> GetOutboundStatus(absl::string_view) override { return Full(); }
  absl::StatusOr<std::vector<store::PendingEnvelope>> ListPending(int64_t, int) override { return Full(); }
  absl::Status RecordOutcomes(const std::vector<store::Outcome>&) override { return Full(); }
  absl::StatusOr<int64_t> CountPending() override { return Full(); }
  absl::StatusOr<absl::Time> OldestPendingAcceptedTime() override { return Full(); }
  absl::Status CheckWritable() override { return Full(); }
  absl::StatusOr<std::vector<store::InboundOutcome>> CommitInboundBatch(
      const std::vector<store::InboundCommit>&) override {
    ++inbound_commits;
    return Full();
  }
  absl::StatusOr<std::vector<store::InboxEntry>> ListInbox(int64_t, const std::vector<v1::RecordType>&, int) override {
    return Full();
  }
  absl::StatusOr<std::string> GetInboundReceipt(absl::string_view) override { return Full(); }
  absl::StatusOr<int64_t> InboxHighWater() override { return Full(); }
  absl::Status AppendAudit(const store::AuditEvent&) override { return Full(); }
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int64_t, int) override { return Full(); }

  // The size of each AcceptOutboundBatch call, in order.
  std::vector<size_t> outbound_batch_sizes;
  // CommitInboundBatch calls.
  int inbound_commits = 0;

 private:
  static absl::Status Full() { return absl::ResourceExhaustedError("database or disk is full"); }
};

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_FULL_DISK_STORE_H_
