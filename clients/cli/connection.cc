#include "clients/cli/connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/common/files.h"

namespace iicc::cli {

absl::StatusOr<Connection> ReadConnectionFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  Connection connection;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t equals = line.find('=');
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, equals));
    const absl::string_view value =
        equals == absl::string_view::npos ? absl::string_view() : absl::StripAsciiWhitespace(line.substr(equals + 1));
    if (equals == absl::string_view::npos || value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": expected 'name = value'"));
    }
    if (name == "target") {
      connection.target = std::string(value);
    } else if (name == "ca") {
      connection.ca_file = JoinPath(dir, value);
    } else if (name == "cert") {
      connection.cert_file = JoinPath(dir, value);
    } else if (name == "key") {
      connection.key_file = JoinPath(dir, value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": unknown setting '", name, "' (target, ca, cert, key)"));
    }
  }
  return connection;
}

void FillMissing(const Connection& defaults, Connection* connection) {
  for (auto member : {&Connection::target, &Connection::ca_file, &Connection::cert_file, &Connection::key_file}) {
    if ((connection->*member).empty()) connection->*member = defaults.*member;
  }
}

std::string MissingSettings(const Connection& connection) {
  std::vector<std::string> missing;
  if (connection.target.empty()) missing.push_back("--target");
  if (connection.ca_file.empty()) missing.push_back("--ca");
  if (connection.cert_file.empty()) missing.push_back("--cert");
  if (connection.key_file.empty()) missing.push_back("--key");
  return absl::StrJoin(missing, ", ");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Connection& connection) {
  grpc::SslCredentialsOptions ssl;
  for (auto [file, pem] :
       {std::pair{&connection.ca_file, &ssl.pem_root_certs}, std::pair{&connection.cert_file, &ssl.pem_cert_chain},
        std::pair{&connection.key_file, &ssl.pem_private_key}}) {
    absl::StatusOr<std::string> contents = ReadFileToString(*file);
    if (!contents.ok()) return absl::InvalidArgumentError(contents.status().message());
    *pem = *std::move(contents);
  }
  // Keepalive pings while a call is open, so that a long SubmitStream or a
  // followed Subscribe notices a connection that died silently (a NAT, a
  // dropped link) instead of waiting forever. 30 s is above the gateway's
  // least ping interval (10 s); no pings without calls, which it refuses.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  return grpc::CreateCustomChannel(connection.target, grpc::SslCredentials(ssl), arguments);
}

}  // namespace iicc::cli
