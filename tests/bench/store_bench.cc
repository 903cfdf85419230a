// Durable submits per second: RecordAcceptor::Submit on one SqliteStore (WAL,
// synchronous=FULL, group commit) with 1, 8 and 64 concurrent clients, beside
// a plain SQLite loop that commits one row per transaction
// (tests/bench/README.md).
//
//   build/bin/store_bench
//
// BM_PlainSqliteOneRowPerTransaction is the baseline to compare against in
// the same run. Each run writes a fresh database in a new directory under
// $IICC_BENCH_DIR (default /var/tmp), which must be on a disk: on tmpfs an
// fsync costs nothing and the numbers mean nothing.
#include <linux/magic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/vfs.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/uuid.h"
#include "gateway/ministry/record_acceptor.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/sqlite_store.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "iicc/v1/config.pb.h"
#include "tests/testing/test_env.h"

namespace iicc {
namespace {

// The shipped KZ config's ministry system, which may submit every type.
constexpr char kSubmitter[] = "spiffe://kz.iicc/ministry/ministry-client";

// The baseline's row: about the size of the envelope a submit stores.
constexpr int kPlainRowBytes = 1024;

// A fresh directory for one run's database, on a disk; removed with its
// contents on destruction.
class BenchDir {
 public:
  // Makes it under $IICC_BENCH_DIR, else /var/tmp. FAILED_PRECONDITION if
  // that is in memory (tmpfs, ramfs).
  static absl::StatusOr<std::unique_ptr<BenchDir>> Create() {
    const char* configured = std::getenv("IICC_BENCH_DIR");
    const std::string parent = configured != nullptr && *configured != '\0' ? configured : "/var/tmp";
    struct statfs fs;
    if (statfs(parent.c_str(), &fs) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot stat ", parent, ": ", std::strerror(errno)));
    }
    if (fs.f_type == static_cast<decltype(fs.f_type)>(TMPFS_MAGIC) ||
        fs.f_type == static_cast<decltype(fs.f_type)>(RAMFS_MAGIC)) {
      return absl::FailedPreconditionError(absl::StrCat(
          parent, " is in memory, where fsync costs nothing; set IICC_BENCH_DIR to a directory on a disk"));
    }
    std::string pattern = parent + "/iicc-store-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("mkdtemp in ", parent, ": ", std::strerror(errno)));
    }
    return std::unique_ptr<BenchDir>(new BenchDir(std::move(pattern)));
  }

  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;

  // `path/name`.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit BenchDir(std::string path) : path_(std::move(path)) {}

  const std::string path_;
};

// What every durable benchmark shares, loaded once: the shipped KZ config's
// authorizer, the shipped KZ policy (fixed 32-byte "kz-dev" key), the KZ
// signer of the dev PKI, the example cargo as a request, and the envelope
// Submit stores for it.
struct Fixtures {
  std::string error;  // Why loading failed; empty if it did not.
  std::unique_ptr<security::Authorizer> authorizer;
  std::unique_ptr<policy::ActivePolicy> policy;
  std::unique_ptr<proof::Signer> signer;
  v1::SubmitRequest request;       // clients/examples/cargo.json; request_id set per call.
  store::OutboundRecord accepted;  // What Submit hands the store for `request`.
};

absl::Status LoadFixtures(Fixtures* fixtures) {
  v1::GatewayConfig config;
  const std::string config_path = absl::StrCat(testing::SourceDir(), "/gateway/config/kz.textproto");
  if (!google::protobuf::TextFormat::ParseFromString(testing::ReadFileOrEmpty(config_path), &config)) {
    return absl::FailedPreconditionError(absl::StrCat(config_path, " does not parse"));
  }
  fixtures->authorizer = std::make_unique<security::Authorizer>(config);

  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> compiled =
      policy::CompiledPolicy::Load(absl::StrCat(testing::SourceDir(), "/gateway/config/kz.policy.textproto"),
                                   {{"kz-dev", std::string(32, '\x5a')}}, v1::JURISDICTION_KZ);
  if (!compiled.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the KZ policy does not load: ", compiled.status().message()));
  }
  fixtures->policy = std::make_unique<policy::ActivePolicy>(*std::move(compiled));

  absl::StatusOr<std::unique_ptr<proof::Signer>> signer = proof::Signer::Load(
      testing::SharedPki().File("kz", "signing.crt"), testing::SharedPki().File("kz", "signing.key"));
  if (!signer.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the KZ signer does not load: ", signer.status().message()));
  }
  fixtures->signer = *std::move(signer);

  const std::string cargo_path = absl::StrCat(testing::SourceDir(), "/clients/examples/cargo.json");
  if (const auto parsed = google::protobuf::util::JsonStringToMessage(testing::ReadFileOrEmpty(cargo_path),
                                                                      fixtures->request.mutable_record());
      !parsed.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(cargo_path, " does not parse: ", parsed.ToString()));
  }

  // One real submit, into a scratch store, to get the envelope that
  // BM_StoreAcceptOutbound stores again and again.
  absl::StatusOr<std::unique_ptr<BenchDir>> dir = BenchDir::Create();
  if (!dir.ok()) {
    return dir.status();
  }
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> scratch = store::SqliteStore::Open((*dir)->File("scratch.db"));
  if (!scratch.ok()) {
    return scratch.status();
  }
  SequenceNotifier outbox;
  ministry::RecordAcceptor acceptor(v1::JURISDICTION_KZ, scratch->get(), fixtures->authorizer.get(),
                                    fixtures->policy.get(), fixtures->signer.get(), &outbox);
  v1::SubmitRequest request = fixtures->request;
  request.set_request_id("fixture");
  absl::StatusOr<v1::SubmitResponse> response = acceptor.Submit(kSubmitter, &request);
  if (!response.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the example cargo is not accepted: ", response.status().ToString()));
  }
  absl::StatusOr<std::vector<store::PendingEnvelope>> pending = (*scratch)->ListPending(0, 1);
  if (!pending.ok()) {
    return pending.status();
  }
  if (pending->size() != 1) {
    return absl::InternalError("the accepted cargo is not queued");
  }
  store::OutboundRecord& accepted = fixtures->accepted;
  accepted.record_type = v1::RECORD_TYPE_CARGO;
  accepted.submitter = kSubmitter;
  accepted.request_digest = std::string(32, '\x11');
  accepted.envelope = std::move(pending->front().envelope);
  accepted.payload_digest = std::string(32, '\x22');
  accepted.policy_version = fixtures->policy->Get()->version();
  return absl::OkStatus();
}

const Fixtures& SharedFixtures() {
  static const Fixtures* const fixtures = [] {
    auto* loaded = new Fixtures;
    if (absl::Status status = LoadFixtures(loaded); !status.ok()) {
      loaded->error = status.ToString();
    }
    return loaded;
  }();
  return *fixtures;
}

// One run's database and acceptor: made by SetUpRun before a run's threads
// start, destroyed by TearDownRun after they stop. The threads share it.
struct Run {
  std::string error;  // Why SetUpRun failed; empty if it did not.
  std::unique_ptr<BenchDir> dir;
  std::unique_ptr<store::SqliteStore> store;
  SequenceNotifier outbox;
  std::unique_ptr<ministry::RecordAcceptor> acceptor;
  int64_t commits_before = 0;
  std::atomic<bool> failed{false};  // Some call failed (and was reported).
};
Run* current_run = nullptr;

void SetUpRun(const benchmark::State& /*state*/) {
  current_run = new Run;
  Run& run = *current_run;
  const Fixtures& fixtures = SharedFixtures();
  if (!fixtures.error.empty()) {
    run.error = fixtures.error;
    return;
  }
  absl::StatusOr<std::unique_ptr<BenchDir>> dir = BenchDir::Create();
  if (!dir.ok()) {
    run.error = dir.status().ToString();
    return;
  }
  run.dir = *std::move(dir);
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(run.dir->File("gateway.db"));
  if (!store.ok()) {
    run.error = store.status().ToString();
    return;
  }
  run.store = *std::move(store);
  run.acceptor =
      std::make_unique<ministry::RecordAcceptor>(v1::JURISDICTION_KZ, run.store.get(), fixtures.authorizer.get(),
                                                 fixtures.policy.get(), fixtures.signer.get(), &run.outbox);
  run.commits_before = run.store->commits();
}

void TearDownRun(const benchmark::State& /*state*/) {
  delete current_run;
  current_run = nullptr;
}

// Reports one call's failure once per thread. The thread keeps looping
// without work rather than leaving the loop: a thread that breaks out of it
// never reaches the barrier where the others wait at its end.
void Fail(benchmark::State& state, bool* failed, const absl::Status& status) {
  state.SkipWithError(status.ToString().c_str());
  *failed = true;
  current_run->failed = true;
}

// Thread 0, after every thread has left the loop: checks that each call
// stored a new record, and sets records_per_commit.
void Finish(benchmark::State& state, bool failed) {
  const Run& run = *current_run;
  if (state.thread_index() != 0 || failed || run.failed) {
    return;
  }
  const int64_t calls = state.iterations() * state.threads();
  const int64_t commits = run.store->commits() - run.commits_before;
  absl::StatusOr<int64_t> pending = run.store->CountPending();
  if (!pending.ok() || *pending != calls || commits <= 0) {
    state.SkipWithError(absl::StrCat(calls, " calls stored ", pending.ok() ? absl::StrCat(*pending) : "?",
                                     " records in ", commits, " commits")
                            .c_str());
    return;
  }
  state.counters["records_per_commit"] = static_cast<double>(calls) / static_cast<double>(commits);
}

// The baseline: what this disk does with SQLite alone, one thread, one
// fsynced transaction per row.
void BM_PlainSqliteOneRowPerTransaction(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<BenchDir>> dir = BenchDir::Create();
  if (!dir.ok()) {
    state.SkipWithError(dir.status().ToString().c_str());
    return;
  }
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  auto check = [&](int rc, const char* what) {
    if (rc == SQLITE_OK || rc == SQLITE_DONE) {
      return true;
    }
    state.SkipWithError(absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)).c_str());
    return false;
  };
  if (check(sqlite3_open((*dir)->File("plain.db").c_str(), &db), "open") &&
      check(sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE plain (sequence INTEGER PRIMARY KEY, row_key TEXT NOT NULL UNIQUE,"
                         "                    body BLOB NOT NULL);",
                         nullptr, nullptr, nullptr),
            "schema") &&
      check(sqlite3_prepare_v2(db, "INSERT INTO plain (row_key, body) VALUES (?, ?)", -1, &insert, nullptr),
            "prepare")) {
    const std::string body(kPlainRowBytes, '\x5a');
    int64_t next = 0;
    for (auto _ : state) {
      const std::string key = absl::StrCat("row-", next++);
      if (!check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin") ||
          !check(sqlite3_bind_text(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC), "bind") ||
          !check(sqlite3_bind_blob(insert, 2, body.data(), static_cast<int>(body.size()), SQLITE_STATIC), "bind") ||
          !check(sqlite3_step(insert), "insert") || !check(sqlite3_reset(insert), "reset") ||
          !check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit")) {
        break;  // One thread: no other thread waits for this one.
      }
    }
    state.SetItemsProcessed(state.iterations());
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
}
BENCHMARK(BM_PlainSqliteOneRowPerTransaction)->UseRealTime();

// The whole durable submit path but gRPC: authorize, validate, outbound
// policy, sign, AcceptOutbound, with state.threads() clients on one store.
void BM_DurableSubmit(benchmark::State& state) {
  const Run& run = *current_run;
  if (!run.error.empty()) {
    state.SkipWithError(run.error.c_str());
    return;
  }
  // Submit(identity, const&) copies the request, as gRPC would parse a new
  // one for each call.
  v1::SubmitRequest request = SharedFixtures().request;
  const std::string prefix = absl::StrCat("bench-", state.thread_index(), "-");
  int64_t next = 0;
  bool failed = false;
  for (auto _ : state) {
    if (failed) {
      continue;
    }
    request.set_request_id(absl::StrCat(prefix, next++));
    absl::StatusOr<v1::SubmitResponse> response = run.acceptor->Submit(kSubmitter, request);
    if (!response.ok()) {
      Fail(state, &failed, response.status());
    }
  }
  state.SetItemsProcessed(state.iterations());
  Finish(state, failed);
}
BENCHMARK(BM_DurableSubmit)->Setup(SetUpRun)->Teardown(TearDownRun)->Threads(1)->Threads(8)->Threads(64)->UseRealTime();

// The store alone: AcceptOutbound of a ready envelope, with state.threads()
// clients on one store. The difference from BM_DurableSubmit is what
// validation, the policy and signing cost.
void BM_StoreAcceptOutbound(benchmark::State& state) {
  const Run& run = *current_run;
  if (!run.error.empty()) {
    state.SkipWithError(run.error.c_str());
    return;
  }
  store::OutboundRecord record = SharedFixtures().accepted;
  const std::string prefix = absl::StrCat("bench-", state.thread_index(), "-");
  int64_t next = 0;
  bool failed = false;
  for (auto _ : state) {
    if (failed) {
      continue;
    }
    record.accepted_time = absl::Now();
    record.record_id = NewUuidV7(record.accepted_time);
    record.request_id = absl::StrCat(prefix, next++);
    absl::StatusOr<store::AcceptOutcome> outcome = run.store->AcceptOutbound(record);
    if (!outcome.ok()) {
      Fail(state, &failed, outcome.status());
    } else if (outcome->kind != store::AcceptOutcome::Kind::kAccepted) {
      Fail(state, &failed, absl::InternalError("AcceptOutbound did not store a new record"));
    }
  }
  state.SetItemsProcessed(state.iterations());
  Finish(state, failed);
}
BENCHMARK(BM_StoreAcceptOutbound)
    ->Setup(SetUpRun)
    ->Teardown(TearDownRun)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime();

}  // namespace
}  // namespace iicc

BENCHMARK_MAIN();
