// What the command files of iicc-cli share: connecting, deadlines, reading
// records, and turning a gRPC status into a documented exit code.
#ifndef IICC_CLIENTS_CLI_CLI_INTERNAL_H_
#define IICC_CLIENTS_CLI_CLI_INTERNAL_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "clients/cli/connection.h"
#include "clients/cli/record_json.h"  // ParseSubmitRequest, ContentRequestId
#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc::cli {

// Every unary call's deadline.
inline constexpr int kDeadlineSeconds = 30;

// A channel to the gateway, or nullptr after printing why not.
std::shared_ptr<grpc::Channel> ConnectOrPrint(const Connection& connection);

void SetDeadline(grpc::ClientContext* context);

// Prints a failed status (its code name and message) to stderr and returns
// its exit code: kExitUnavailable when the gateway could not be reached or
// did not answer in time, kExitRefused otherwise; kExitOk when `status` is OK.
int ExitFor(const grpc::Status& status);

// Whether a call that ended with `status` may be sent again unchanged, with
// the same request_id: the gateway was unreachable, shutting down, or busy.
bool Retryable(const grpc::Status& status);

}  // namespace iicc::cli

#endif  // IICC_CLIENTS_CLI_CLI_INTERNAL_H_
