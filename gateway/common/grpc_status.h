// The one place where absl::Status becomes grpc::Status and back (as Arrow
// Flight's transport/grpc/util_internal.h). Everything inside the gateway
// speaks absl::Status; only the service edges call these.
#ifndef IICC_GATEWAY_COMMON_GRPC_STATUS_H_
#define IICC_GATEWAY_COMMON_GRPC_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iicc {

// The same code and message as a grpc::Status.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The same code and message as an absl::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The canonical name of `code`, e.g. "INVALID_ARGUMENT".
std::string StatusCodeName(absl::StatusCode code);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_GRPC_STATUS_H_
