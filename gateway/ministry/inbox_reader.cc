#include "gateway/ministry/inbox_reader.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/common/errors.h"
#include "gateway/common/records.h"
#include "gateway/store/audit.h"
#include "google/protobuf/util/time_util.h"

namespace iicc::ministry {
namespace {

// A page token is opaque to clients: base64url("v1:<after>:<types mask>").
// The mask binds it to the record types of the listing it came from.
uint32_t TypeMask(const std::vector<v1::RecordType>& types) {
  uint32_t mask = 0;
  for (v1::RecordType type : types) mask |= 1u << type;
  return mask;
}

std::string MakePageToken(int64_t after, uint32_t mask) {
  return absl::WebSafeBase64Escape(absl::StrCat("v1:", after, ":", mask));
}

bool ParsePageToken(absl::string_view token, uint32_t mask, int64_t* after) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded)) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(decoded, ':');
  uint32_t token_mask;
  return parts.size() == 3 && parts[0] == "v1" && absl::SimpleAtoi(parts[1], after) && *after >= 0 &&
         absl::SimpleAtoi(parts[2], &token_mask) && token_mask == mask;
}

v1::FieldViolation Violation(const char* field, const char* description) {
  v1::FieldViolation violation;
  violation.set_field(field);
  violation.set_description(description);
  return violation;
}

}  // namespace

InboxReader::InboxReader(store::Store* store, const security::Authorizer* authorizer, DenialAuditor* denials)
    : store_(store), authorizer_(authorizer), denials_(denials) {}

absl::StatusOr<std::vector<v1::RecordType>> InboxReader::ReadableTypes(
    absl::string_view identity, const google::protobuf::RepeatedField<int>& requested, absl::string_view method) const {
  std::vector<v1::RecordType> wanted;
  for (int i = 0; i < requested.size(); ++i) {
    const int type = requested[i];
    if (type == v1::RECORD_TYPE_UNSPECIFIED || !v1::RecordType_IsValid(type)) {
      return InvalidArgumentWithViolations(
          {Violation("record_types", "only RECORD_TYPE_ENTERPRISE, _CARGO and _INVESTMENT")});
    }
    wanted.push_back(static_cast<v1::RecordType>(type));
  }
  std::vector<v1::RecordType> readable = authorizer_->ReadableTypes(identity, wanted);
  if (readable.empty() || (!wanted.empty() && readable.size() != wanted.size())) {
    const std::string what = absl::StrCat(identity, " may not read these inbound record types");
    if (denials_ != nullptr) {
      // The names of the types asked for: an enum's, never the caller's text.
      std::string types;
      for (v1::RecordType type : wanted) absl::StrAppend(&types, types.empty() ? "" : ",", RecordTypeName(type));
      denials_->Denied(v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, identity,
                       absl::StrCat(method, ": ", what, " (", types.empty() ? "all types" : types, ")"), absl::Now());
    } else {
      store::AuditOrLog(store_, {v1::AUDIT_EVENT_KIND_AUTHORIZATION_FAILURE, "", std::string(identity), "", what});
    }
    return absl::PermissionDeniedError(what);
  }
  std::sort(readable.begin(), readable.end());
  readable.erase(std::unique(readable.begin(), readable.end()), readable.end());
  return readable;
}

absl::StatusOr<std::vector<v1::InboundRecord>> InboxReader::Read(int64_t after,
                                                                 const std::vector<v1::RecordType>& types,
                                                                 int limit) const {
  absl::StatusOr<std::vector<store::InboxEntry>> entries = store_->ListInbox(after, types, limit);
  if (!entries.ok()) return entries.status();
  std::vector<v1::InboundRecord> records;
  records.reserve(entries->size());
  for (store::InboxEntry& entry : *entries) {
    v1::InboundRecord& record = records.emplace_back();
    record.set_sequence(entry.sequence);
    record.set_record_id(std::move(entry.record_id));
    record.set_origin(entry.origin);
    record.set_record_type(entry.record_type);
    if (!record.mutable_record()->ParseFromString(entry.record)) {
      return absl::DataLossError(absl::StrCat("inbox record ", entry.sequence, " does not parse"));
    }
    *record.mutable_received_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(entry.received_time));
  }
  return records;
}

absl::StatusOr<v1::ListInboundRecordsResponse> InboxReader::List(absl::string_view identity,
                                                                 const v1::ListInboundRecordsRequest& request) const {
  absl::StatusOr<std::vector<v1::RecordType>> types =
      ReadableTypes(identity, request.record_types(), "ListInboundRecords");
  if (!types.ok()) return types.status();
  if (request.page_size() < 0) {
    return InvalidArgumentWithViolations({Violation("page_size", "must not be negative")});
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : std::min<int>(request.page_size(), kMaxPageSize);
  const uint32_t mask = TypeMask(*types);
  if (request.after_sequence() < 0) {
    return InvalidArgumentWithViolations({Violation("after_sequence", "must not be negative")});
  }
  int64_t after = request.after_sequence();
  if (!request.page_token().empty() && !ParsePageToken(request.page_token(), mask, &after)) {
    return InvalidArgumentWithViolations(
        {Violation("page_token", "not a token of this listing (malformed, or issued for other record_types)")});
  }
  // One more than the page tells whether another page follows.
  absl::StatusOr<std::vector<v1::InboundRecord>> records = Read(after, *types, page_size + 1);
  if (!records.ok()) return records.status();
  v1::ListInboundRecordsResponse response;
  const bool more = static_cast<int>(records->size()) > page_size;
  if (more) records->resize(page_size);
  for (v1::InboundRecord& record : *records) *response.add_records() = std::move(record);
  if (more) response.set_next_page_token(MakePageToken(response.records().rbegin()->sequence(), mask));
  return response;
}

}  // namespace iicc::ministry
