// The subcommands of iicc-cli, one function each. Each returns the process
// exit code (see kExit*), writes results to stdout as JSON (protobuf's JSON
// mapping) and diagnostics to stderr.
#ifndef IICC_CLIENTS_CLI_COMMANDS_H_
#define IICC_CLIENTS_CLI_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "clients/cli/connection.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace iicc::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;           // Done; every record accepted; everything proven.
inline constexpr int kExitRefused = 1;      // The gateway refused something, a check failed, or the evidence
                                            // asked for is missing or incomplete (the output says what).
inline constexpr int kExitUsage = 2;        // Bad flags or an unreadable / malformed input file.
inline constexpr int kExitUnavailable = 3;  // The gateway could not be reached (or the TLS handshake failed).

struct SubmitOptions {
  std::string file;        // .json (one record) or .jsonl (one per line)
  std::string request_id;  // only for a single record; default derived from its content
  // How long to keep sending again while the gateway is unreachable or
  // restarting (0: one attempt). Restarts whenever the gateway answers.
  int retry_for_seconds = 10;
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

// `message` in protobuf's JSON mapping, with the .proto field names, on one
// line.
std::string ToJson(const google::protobuf::Message& message);

int Submit(const Connection& connection, const SubmitOptions& options);
int Status(const Connection& connection, const std::string& record_id);
int Subscribe(const Connection& connection, const SubscribeOptions& options);
int List(const Connection& connection, const ListOptions& options);
int Health(const Connection& connection, const std::string& service);
// Offline: no connection. Prints the record after the policy and what each
// rule did; exit 0 when the policy lets the record pass, 1 when it refuses it.
int PolicyTest(const PolicyTestOptions& options);

struct ExportOptions {
  std::string record_id;
  std::string db_file;   // A gateway's SQLite file, read-only.
  std::string out_file;  // Empty: stdout.
};

struct VerifyOptions {
  std::string evidence_file;  // JSON of an iicc.v1.Evidence, as export writes it.
  // PEM; the only certificates trusted. "FILE", or "TRUST_DOMAIN=FILE"
  // (kz.iicc=ca.crt) to trust it for that domain's gateway only.
  std::vector<std::string> ca_files;
};

struct AuditExportOptions {
  std::string db_file;
  int64_t after = 0;  // Entries with a greater sequence only.
};

// The evidence commands run offline, on a gateway's database file opened
// read-only (store::EvidenceReader; the gateway may be running) or on an
// evidence file. Exit 2 when an input cannot be read.

// Writes the record's iicc.v1.Evidence as one line of JSON. Exit 0 when it
// holds both the envelope and the receipt; 1 when the record is unknown, or
// when the evidence is incomplete (no receipt yet): what there is is still
// written, and stderr says what is missing.
int Export(const ExportOptions& options);
// Checks an evidence file with only `ca_files`, each signature against one CA
// alone (the envelope's and the receipt's not the same), printing one "proven: ..."
// line per fact established, and "FAILED: ..." with the first check that
// failed (exit 1). Never prints the payload.
int Verify(const VerifyOptions& options);
// Walks the whole audit chain; exit 1 naming the first broken entry.
int AuditVerify(const std::string& db_file);
// Prints audit entries as JSON lines (iicc.v1.AuditEntry).
int AuditExport(const AuditExportOptions& options);

}  // namespace iicc::cli

#endif  // IICC_CLIENTS_CLI_COMMANDS_H_
