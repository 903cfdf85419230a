// Conversions between absl::Time and google.protobuf.Timestamp.
#ifndef IICC_GATEWAY_COMMON_PROTO_TIME_H_
#define IICC_GATEWAY_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace iicc {

// Any Timestamp, even one outside the valid range (untrusted input): the
// result is then far in the past or the future, never an error.
inline absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_PROTO_TIME_H_
