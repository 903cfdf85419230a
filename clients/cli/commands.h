// The subcommands of iicc-cli, one function each. Each returns the process
// exit code (see kExit*), writes results to stdout as JSON (protobuf's JSON
// mapping) and diagnostics to stderr.
#ifndef IICC_CLIENTS_CLI_COMMANDS_H_
#define IICC_CLIENTS_CLI_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace iicc::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;           // Done; every record accepted.
inline constexpr int kExitRefused = 1;      // The gateway refused something (the output says what).
inline constexpr int kExitUsage = 2;        // Bad flags or an unreadable / malformed input file.
inline constexpr int kExitUnavailable = 3;  // The gateway could not be reached (or the TLS handshake failed).

// How to reach a gateway's ministry face.
struct Connection {
  std::string target;  // host:port
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct SubmitOptions {
  std::string file;        // .json (one record) or .jsonl (one per line)
  std::string request_id;  // only for a single record; default derived from its content
};

struct SubscribeOptions {
  int64_t after = 0;
  std::string cursor_file;
  int64_t max = 0;  // 0: no limit
  bool follow = false;
  std::vector<std::string> types;
};

struct ListOptions {
  int page_size = 0;
  std::string page_token;
  int64_t after = 0;
  std::vector<std::string> types;
};

struct PolicyTestOptions {
  std::string policy_file;
  std::string record_file;
  std::string direction = "outbound";  // or "inbound"
  std::string key_file;                // hex key used for every key id; empty: a throwaway key
};

int Submit(const Connection& connection, const SubmitOptions& options);
int Status(const Connection& connection, const std::string& record_id);
int Subscribe(const Connection& connection, const SubscribeOptions& options);
int List(const Connection& connection, const ListOptions& options);
int Health(const Connection& connection, const std::string& service);
// Offline: no connection. Prints the record after the policy and what each
// rule did; exit 0 when the policy lets the record pass, 1 when it refuses it.
int PolicyTest(const PolicyTestOptions& options);

}  // namespace iicc::cli

#endif  // IICC_CLIENTS_CLI_COMMANDS_H_
