// Reading the inbox for the ministry face: authorization by read role,
// AIP-158 page tokens, InboundRecord assembly. Free of gRPC.
#ifndef IICC_GATEWAY_MINISTRY_INBOX_READER_H_
#define IICC_GATEWAY_MINISTRY_INBOX_READER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/ministry/denial_auditor.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/store.h"
#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc::ministry {

// Default and largest page sizes of ListInboundRecords.
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// Thread-safe. Does not own its dependencies.
class InboxReader {
 public:
  // `denials` audits refusals for lack of a role (throttled, never blocking);
  // when null, each is appended to `store` at once.
  InboxReader(store::Store* store, const security::Authorizer* authorizer, DenialAuditor* denials = nullptr);

  // The record types `identity` may read among `requested` (all when empty).
  // PERMISSION_DENIED if it asked for a type it may not read, or may read
  // none; audited as a denial of `method` ("Subscribe", "ListInboundRecords").
  absl::StatusOr<std::vector<v1::RecordType>> ReadableTypes(absl::string_view identity,
                                                            const google::protobuf::RepeatedField<int>& requested,
                                                            absl::string_view method = "Subscribe") const;

  // One page of the inbox. INVALID_ARGUMENT for a negative page size or a
  // page token that is malformed or was issued for other record types.
  absl::StatusOr<v1::ListInboundRecordsResponse> List(absl::string_view identity,
                                                      const v1::ListInboundRecordsRequest& request) const;

  // Up to `limit` records after `after` of `types`, as InboundRecords.
  absl::StatusOr<std::vector<v1::InboundRecord>> Read(int64_t after, const std::vector<v1::RecordType>& types,
                                                      int limit) const;

 private:
  store::Store* const store_;
  const security::Authorizer* const authorizer_;
  DenialAuditor* const denials_;
};

}  // namespace iicc::ministry

#endif  // IICC_GATEWAY_MINISTRY_INBOX_READER_H_
