// How iicc-cli reaches a gateway's ministry face: the four connection
// settings, from flags, the environment or a small connection file, and the
// mutual-TLS channel built from them.
#ifndef IICC_CLIENTS_CLI_CONNECTION_H_
#define IICC_CLIENTS_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"

namespace iicc::cli {

struct Connection {
  std::string target;  // host:port of the ministry face
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Reads a connection file: one `name = value` per line, names `target`,
// `ca`, `cert`, `key`; blank lines and lines starting with '#' are ignored.
// Relative paths resolve against the file's own directory, so a file kept
// beside its certificates works from any working directory. Only the names
// present are set. INVALID_ARGUMENT names the file and line of anything
// else; NOT_FOUND when the file does not exist.
absl::StatusOr<Connection> ReadConnectionFile(const std::string& path);

// Fills the settings `connection` lacks from `defaults`.
void FillMissing(const Connection& defaults, Connection* connection);

// The settings still missing, as the flags that set them ("--ca, --key"); empty
// when all four are there.
std::string MissingSettings(const Connection& connection);

// A mutual-TLS channel to the connection's target. INVALID_ARGUMENT naming
// the file when a certificate or the key cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Connection& connection);

}  // namespace iicc::cli

#endif  // IICC_CLIENTS_CLI_CONNECTION_H_
