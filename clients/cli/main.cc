// iicc-cli: a ministry system's command line to its IICC Exchange gateway.
// See `iicc-cli --help` and docs/contract.md.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "clients/cli/commands.h"

namespace {

std::string FromEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "iicc-cli: talk to an IICC Exchange gateway's ministry face over mutual TLS, and check its evidence.\n"
      "Connection settings come from the flags below, else from IICC_TARGET, IICC_CA, IICC_CERT, IICC_KEY,\n"
      "else from a connection file (--config, or IICC_CONFIG). policy, export, verify and audit run offline\n"
      "and need none. Every subcommand has --help with an example."};
  app.footer(
      "Exit codes:\n"
      "  0  done: every record accepted, the gateway serves, everything checked was proven\n"
      "  1  refused: by the gateway (a status code on stderr) or the policy, a check failed, or the\n"
      "     evidence asked for is missing or incomplete\n"
      "  2  bad usage or input: flags, an unreadable file, a record that is not JSON of the contract\n"
      "  3  the gateway could not be reached, or did not answer in time (retried first where safe)\n"
      "Connection file: one 'name = value' per line, names target, ca, cert, key; relative paths are\n"
      "relative to the file. Example: iicc-cli --config clients/cli/kz-demo.conf health\n"
      "Docs: docs/integration.md");
  app.require_subcommand(1);

  iicc::cli::Connection connection{FromEnv("IICC_TARGET"), FromEnv("IICC_CA"), FromEnv("IICC_CERT"),
                                   FromEnv("IICC_KEY")};
  std::string connection_file = FromEnv("IICC_CONFIG");
  app.add_option("--target", connection.target, "the gateway's ministry face, HOST:PORT ($IICC_TARGET)");
  app.add_option("--ca", connection.ca_file, "PEM CA certificate that signed the gateway's certificate ($IICC_CA)");
  app.add_option("--cert", connection.cert_file, "PEM client certificate of this ministry system ($IICC_CERT)");
  app.add_option("--key", connection.key_file, "PEM private key of --cert ($IICC_KEY)");
  app.add_option("--config", connection_file,
                 "connection file with the settings the flags and environment leave out ($IICC_CONFIG)");

  iicc::cli::SubmitOptions submit;
  CLI::App* submit_cmd =
      app.add_subcommand("submit",
                         "Submit records: FILE.json holds one record (Submit), FILE.jsonl one per line, streamed\n"
                         "through SubmitStream. A record is {\"cargo\": {...}} (or enterprise, investment), or a\n"
                         "SubmitRequest {\"request_id\": \"...\", \"record\": {...}}. Prints one SubmitResponse\n"
                         "(JSON) per record on stdout; for a .jsonl file, a progress bar on stderr while the answers\n"
                         "go to a file or pipe, and a summary: how many were accepted, and each refusal with its\n"
                         "line and reason. A file that does not parse is refused whole (exit 2) before anything is\n"
                         "sent. While the gateway is unreachable or restarting, unanswered records are sent again\n"
                         "under the same request_id (see --retry-for).\n"
                         "Example: iicc-cli submit clients/examples/cargo.json");
  submit_cmd->add_option("FILE", submit.file, "the record file")->required();
  submit_cmd->add_option("--request-id", submit.request_id,
                         "idempotency key of a single record (default: derived from the record's content, so "
                         "resubmitting the same file is safe)");
  submit_cmd
      ->add_option("--retry-for", submit.retry_for_seconds,
                   "seconds to keep sending again, under the same request_ids, while the gateway is unreachable\n"
                   "or restarting; the wait starts over whenever the gateway answers (default 10, 0: no retry)")
      ->check(CLI::Range(0, 86400));

  std::string record_id;
  CLI::App* status_cmd =
      app.add_subcommand("status", "Print the delivery state of a record.\nExample: iicc-cli status 0192f7a4-...");
  status_cmd->add_option("RECORD_ID", record_id, "the record_id from submit")->required();

  iicc::cli::SubscribeOptions subscribe;
  CLI::App* subscribe_cmd =
      app.add_subcommand("subscribe",
                         "Print inbound records (JSON lines) after a cursor. Without --follow, stops when caught up;\n"
                         "with --follow, waits for new records and reconnects after a gateway restart.\n"
                         "Example: iicc-cli subscribe --cursor-file uz.cursor --follow");
  subscribe_cmd->add_option("--after", subscribe.after, "start after this sequence number (default 0: the start)");
  subscribe_cmd->add_option("--cursor-file", subscribe.cursor_file,
                            "read the cursor from this file and keep it there after each record");
  subscribe_cmd->add_option("--max", subscribe.max, "stop after this many records");
  subscribe_cmd->add_flag("--follow", subscribe.follow, "keep waiting for new records");
  subscribe_cmd->add_option("--type", subscribe.types, "only records of this type: enterprise, cargo, investment");

  iicc::cli::ListOptions list;
  CLI::App* list_cmd = app.add_subcommand(
      "list",
      "Print one page of inbound records (a ListInboundRecordsResponse).\nExample: iicc-cli list --page-size 10");
  list_cmd->add_option("--page-size", list.page_size, "records per page (default 100, at most 1000)");
  list_cmd->add_option("--page-token", list.page_token, "next_page_token of the previous page");
  list_cmd->add_option("--after", list.after, "start after this sequence number");
  list_cmd->add_option("--type", list.types, "only records of this type: enterprise, cargo, investment");

  std::string health_service;
  CLI::App* health_cmd =
      app.add_subcommand("health", "Ask grpc.health.v1 whether the gateway serves.\nExample: iicc-cli health");
  health_cmd->add_option("--service", health_service, "service name (default: the whole server)");

  iicc::cli::PolicyTestOptions policy_test;
  CLI::App* policy_cmd = app.add_subcommand("policy",
                                            "Work with policy files (offline): policy test.\n"
                                            "Example: iicc-cli policy test --help");
  CLI::App* policy_test_cmd = policy_cmd->add_subcommand(
      "test",
      "Show what a policy does to a record: the record after it, and which rule did what to which field.\n"
      "Example: iicc-cli policy test --policy gateway/config/kz.policy.textproto --record clients/examples/cargo.json");
  policy_cmd->require_subcommand(1);
  policy_test_cmd->add_option("--policy", policy_test.policy_file, "the policy file (iicc.v1.Policy, text format)")
      ->required();
  policy_test_cmd->add_option("--record", policy_test.record_file, "the record (JSON, as for submit)")->required();
  policy_test_cmd->add_option("--direction", policy_test.direction, "outbound (default) or inbound")
      ->check(CLI::IsMember({"outbound", "inbound"}));
  policy_test_cmd->add_option("--key", policy_test.key_file,
                              "pseudonym key file (hex) used for every key id; default: a throwaway key");

  iicc::cli::ExportOptions export_options;
  CLI::App* export_cmd =
      app.add_subcommand("export",
                         "Write a record's evidence (iicc.v1.Evidence: its signed envelope and receipt) as JSON.\n"
                         "Offline: reads the gateway's database file read-only; the gateway may be running.\n"
                         "Exit 1 if the record is unknown, or has no receipt yet (the envelope is still written).\n"
                         "Example: iicc-cli export 0192f7a4-... --db build/demo/kz/gateway.db --out evidence.json");
  export_cmd->add_option("RECORD_ID", export_options.record_id, "the record_id")->required();
  export_cmd->add_option("--db", export_options.db_file, "the gateway's SQLite file (<data_dir>/gateway.db)")
      ->required();
  export_cmd->add_option("--out", export_options.out_file, "write the evidence to this file (default: stdout)");

  iicc::cli::VerifyOptions verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify",
      "Check an evidence file with nothing but CA certificates: the origin's signature, the\n"
      "payload's SHA-256, the receiver's signature, and that the receipt is for this envelope.\n"
      "Prints one 'proven: ...' line per fact, or 'FAILED: ...' and the first failed check (exit 1).\n"
      "Offline; never prints the payload.\n"
      "Example: iicc-cli verify evidence.json --ca certs/dev/kz/ca.crt --ca certs/dev/uz/ca.crt");
  verify_cmd->add_option("FILE", verify.evidence_file, "the evidence file (JSON, as export writes it)")->required();
  verify_cmd
      ->add_option("--ca", verify.ca_files,
                   "a trusted CA certificate (PEM), one per jurisdiction; each signature must chain to\n"
                   "one of them alone, and not both to the same. TRUST_DOMAIN=FILE (kz.iicc=kz-ca.crt)\n"
                   "binds a CA to the gateways of that trust domain only")
      ->required()
      ->allow_extra_args(false);

  std::string audit_db;
  iicc::cli::AuditExportOptions audit_export;
  CLI::App* audit_cmd =
      app.add_subcommand("audit",
                         "Check or read a gateway's audit chain, offline and read-only: audit verify DBFILE,\n"
                         "audit export DBFILE [--after N].\n"
                         "Example: iicc-cli audit verify build/demo/kz/gateway.db");
  audit_cmd->require_subcommand(1);
  CLI::App* audit_verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Check every entry of the audit chain: its hash and its link to the entry before.\n"
      "Prints 'audit chain intact: N entries, head <hex>', or the first broken entry (exit 1).\n"
      "Example: iicc-cli audit verify build/demo/kz/gateway.db");
  audit_verify_cmd->add_option("DBFILE", audit_db, "the gateway's SQLite file")->required();
  CLI::App* audit_export_cmd =
      audit_cmd->add_subcommand("export",
                                "Print audit entries as JSON lines (iicc.v1.AuditEntry), in sequence order.\n"
                                "Example: iicc-cli audit export build/demo/kz/gateway.db --after 100");
  audit_export_cmd->add_option("DBFILE", audit_export.db_file, "the gateway's SQLite file")->required();
  audit_export_cmd->add_option("--after", audit_export.after,
                               "only entries with a greater sequence number (default 0: from the start)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help is a ParseError too, whose code is 0; any other is bad usage,
    // exit 2 as documented (CLI11's own codes are 100 and up).
    return app.exit(error) == 0 ? iicc::cli::kExitOk : iicc::cli::kExitUsage;
  }

  if (*policy_cmd) return iicc::cli::PolicyTest(policy_test);
  if (*export_cmd) return iicc::cli::Export(export_options);
  if (*verify_cmd) return iicc::cli::Verify(verify);
  if (*audit_verify_cmd) return iicc::cli::AuditVerify(audit_db);
  if (*audit_export_cmd) return iicc::cli::AuditExport(audit_export);
  if (!connection_file.empty()) {
    absl::StatusOr<iicc::cli::Connection> from_file = iicc::cli::ReadConnectionFile(connection_file);
    if (!from_file.ok()) {
      std::fprintf(stderr, "iicc-cli: %s\n", std::string(from_file.status().message()).c_str());
      return iicc::cli::kExitUsage;
    }
    iicc::cli::FillMissing(*from_file, &connection);
  }
  if (const std::string missing = iicc::cli::MissingSettings(connection); !missing.empty()) {
    std::fprintf(stderr,
                 "iicc-cli: missing %s: give the flags, set IICC_TARGET, IICC_CA, IICC_CERT, IICC_KEY, or name a "
                 "connection file with --config\n",
                 missing.c_str());
    return iicc::cli::kExitUsage;
  }
  if (*submit_cmd) return iicc::cli::Submit(connection, submit);
  if (*status_cmd) return iicc::cli::Status(connection, record_id);
  if (*subscribe_cmd) return iicc::cli::Subscribe(connection, subscribe);
  if (*list_cmd) return iicc::cli::List(connection, list);
  if (*health_cmd) return iicc::cli::Health(connection, health_service);
  return iicc::cli::kExitUsage;
}
