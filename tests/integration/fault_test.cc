// Faults between two real gateway processes: a backlog of ten thousand
// records, envelopes that are broken or forged, a record id replayed with
// another payload, and a full disk on the sending and on the receiving side.
// Every test ends with both gateways stopped and their audit chains verified.
//
// The full-disk tests put a data directory on a small tmpfs that the test
// mounts (root or CAP_SYS_ADMIN). Without that privilege, or with
// IICC_TEST_NO_TMPFS set, they cap the store with store.max_size_mib: 1
// instead, and "space returns" means a restart with a larger limit.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/uuid.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/store/audit.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "iicc/v1/audit.pb.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A read-only connection to a gateway's database. The gateway may be running:
// WAL lets a reader in beside the writer.
class DbReader {
 public:
  explicit DbReader(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~DbReader() { sqlite3_close(db_); }
  DbReader(const DbReader&) = delete;
  DbReader& operator=(const DbReader&) = delete;

  // Every row of `sql`, each column's bytes (NULL as "").
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    Run(sql, [&](sqlite3_stmt* stmt) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) row.push_back(Bytes(stmt, i));
      rows.push_back(std::move(row));
    });
    return rows;
  }

  // The first column of every row of `sql`.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> column;
    Run(sql, [&](sqlite3_stmt* stmt) { column.push_back(Bytes(stmt, 0)); });
    return column;
  }

  // The integer in the first column of the first row of `sql` (-1 if none).
  int64_t Int(const std::string& sql) {
    int64_t value = -1;
    Run(sql, [&](sqlite3_stmt* stmt) {
      if (value == -1) value = sqlite3_column_int64(stmt, 0);
    });
    return value;
  }

  // The audit chain, in sequence order.
  std::vector<v1::AuditEntry> Audit() {
    std::vector<v1::AuditEntry> entries;
    Run("SELECT sequence, time_nanos, kind, record_id, identity, digest, detail, previous_hash, hash "
        "FROM audit ORDER BY sequence",
        [&](sqlite3_stmt* stmt) {
          v1::AuditEntry entry;
          entry.set_sequence(sqlite3_column_int64(stmt, 0));
          const int64_t nanos = sqlite3_column_int64(stmt, 1);
          entry.mutable_time()->set_seconds(nanos / 1000000000);
          entry.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
          entry.set_kind(static_cast<v1::AuditEventKind>(sqlite3_column_int64(stmt, 2)));
          entry.set_record_id(Bytes(stmt, 3));
          entry.set_identity(Bytes(stmt, 4));
          entry.set_digest(Bytes(stmt, 5));
          entry.set_detail(Bytes(stmt, 6));
          entry.set_previous_hash(Bytes(stmt, 7));
          entry.set_hash(Bytes(stmt, 8));
          entries.push_back(std::move(entry));
        });
    return entries;
  }

 private:
  static std::string Bytes(sqlite3_stmt* stmt, int column) {
    const void* data = sqlite3_column_blob(stmt, column);
    const int size = sqlite3_column_bytes(stmt, column);
    return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
  }

  template <typename OnRow>
  void Run(const std::string& sql, OnRow on_row) {
    if (db_ == nullptr) return;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) on_row(stmt);
    if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
  }

  sqlite3* db_ = nullptr;
};

// Whether the audit chain in `db_path` verifies from its first entry to its
// last; `entries` gets the chain's length.
::testing::AssertionResult AuditChainVerifies(const std::string& db_path, int64_t* entries = nullptr) {
  const std::vector<v1::AuditEntry> chain = DbReader(db_path).Audit();
  store::AuditChainVerifier verifier;
  for (const v1::AuditEntry& entry : chain) {
    if (absl::Status status = verifier.Next(entry); !status.ok()) {
      return ::testing::AssertionFailure() << db_path << ": " << status;
    }
  }
  if (entries != nullptr) *entries = verifier.verified();
  return ::testing::AssertionSuccess() << chain.size() << " entries";
}

// The audit entries of `kind` in `db_path`, in order.
std::vector<v1::AuditEntry> AuditOfKind(const std::string& db_path, v1::AuditEventKind kind) {
  std::vector<v1::AuditEntry> of_kind;
  for (v1::AuditEntry& entry : DbReader(db_path).Audit()) {
    if (entry.kind() == kind) of_kind.push_back(std::move(entry));
  }
  return of_kind;
}

v1::Jurisdiction JurisdictionOf(const std::string& side) {
  return side == "kz" ? v1::JURISDICTION_KZ : v1::JURISDICTION_UZ;
}

// An envelope from `from_side` to the other side carrying `record` under
// `record_id`, signed with the signing key of `from_side`, as its gateway
// signs.
v1::Envelope SignedEnvelope(const TestPki& pki, const std::string& from_side, const std::string& record_id,
                            const v1::Record& record) {
  v1::EnvelopeHeader header;
  header.set_record_id(record_id);
  header.set_origin(JurisdictionOf(from_side));
  header.set_destination(JurisdictionOf(from_side == "kz" ? "uz" : "kz"));
  header.set_record_type(v1::RECORD_TYPE_CARGO);
  v1::Envelope envelope;
  envelope.set_payload(record.SerializeAsString());
  header.set_payload_digest(Sha256(envelope.payload()));
  *header.mutable_accepted_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  envelope.set_header(header.SerializeAsString());
  absl::StatusOr<std::unique_ptr<proof::Signer>> signer =
      proof::Signer::Load(pki.File(from_side, "signing.crt"), pki.File(from_side, "signing.key"));
  EXPECT_TRUE(signer.ok()) << signer.status();
  if (!signer.ok()) return envelope;
  absl::StatusOr<std::vector<v1::BatchProof>> proof =
      (*signer)->SignBatch(proof::Purpose::kEnvelope, {envelope.header()});
  EXPECT_TRUE(proof.ok()) << proof.status();
  if (proof.ok()) *envelope.mutable_proof() = proof->front();
  return envelope;
}

// Delivers `envelope` to `to`'s peer face as the other side's gateway, on a
// stream of its own; returns the one answer and sets `final_status` to the
// stream's status (which must be OK if `final_status` is null).
v1::DeliverResponse DeliverAsPeerGateway(const GatewayProcess& to, const v1::Envelope& envelope,
                                         grpc::Status* final_status = nullptr) {
  auto stub = v1::PeerExchange::NewStub(to.PeerChannel(to.side() == "kz" ? "uz" : "kz", "gateway"));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->Deliver(&context);
  v1::DeliverRequest request;
  *request.mutable_envelope() = envelope;
  EXPECT_TRUE(stream->Write(request));
  stream->WritesDone();
  v1::DeliverResponse response;
  EXPECT_TRUE(stream->Read(&response)) << "no answer";
  v1::DeliverResponse extra;
  EXPECT_FALSE(stream->Read(&extra)) << "more than one answer";
  const grpc::Status status = stream->Finish();
  if (final_status != nullptr) {
    *final_status = status;
  } else {
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  }
  return response;
}

// The header of `response`'s receipt, after checking that the answer is a
// receipt that the KZ gateway signed.
v1::ReceiptHeader KzSignedReceipt(const TestPki& pki, const v1::DeliverResponse& response) {
  v1::ReceiptHeader header;
  EXPECT_TRUE(response.has_receipt()) << response.DebugString();
  EXPECT_TRUE(header.ParseFromString(response.receipt().header()));
  absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier = proof::Verifier::Create({pki.File("kz", "ca.crt")});
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  if (verifier.ok()) {
    const absl::Time at =
        absl::FromUnixSeconds(header.received_time().seconds()) + absl::Nanoseconds(header.received_time().nanos());
    absl::StatusOr<proof::Verifier::Verified> verified =
        (*verifier)->Verify(proof::Purpose::kReceipt, response.receipt().header(), response.receipt().proof(),
                            "spiffe://kz.iicc/gateway", at);
    EXPECT_TRUE(verified.ok()) << verified.status();
  }
  return header;
}

// The grpc.health.v1 status of the whole server behind `channel`: 1 SERVING,
// 2 NOT_SERVING, 0 if the call fails. gRPC ships no C++ stub for the health
// service: its two messages are encoded by hand.
int HealthOf(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::Slice empty("");  // HealthCheckRequest{}: the whole server.
  grpc::ByteBuffer request(&empty, 1);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::CompletionQueue queue;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &queue);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  queue.Next(&tag, &ok);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  if (!status.ok()) return 0;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return 0;
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  // HealthCheckResponse { ServingStatus status = 1; }.
  return bytes.size() >= 2 && bytes[0] == 0x08 ? bytes[1] : 0;
}

// Polls grpc.health.v1 until it answers `status` (1 SERVING, 2 NOT_SERVING);
// readiness is re-checked every admin.check_interval (200 ms in tests).
bool HealthBecomes(const std::shared_ptr<grpc::Channel>& channel, int status) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (HealthOf(channel) == status) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The state of `record_id` by GetRecordStatus (UNSPECIFIED if the call fails).
v1::DeliveryState StateOf(v1::MinistryGateway::Stub& stub, const std::string& record_id) {
  return RecordStatusOf(stub, record_id).state();
}

// Writes to `path` until its file system is full; returns the bytes written.
int64_t FillFileSystem(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0) << path << ": " << strerror(errno);
  if (fd < 0) return 0;
  const std::string chunk(64 * 1024, 'x');
  int64_t written = 0;
  while (true) {
    const ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n > 0) {
      written += n;
      continue;
    }
    EXPECT_EQ(errno, ENOSPC) << strerror(errno);
    break;
  }
  close(fd);
  struct statvfs fs;
  if (statvfs(path.c_str(), &fs) == 0) {
    EXPECT_EQ(fs.f_bavail, 0u) << "the file system is not full";
  }
  return written;
}

// Waits until the KZ database at `db_path` holds no queued record; false
// after `timeout`.
bool WaitDrained(const std::string& db_path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (DbReader(db_path).Int("SELECT COUNT(*) FROM outbox WHERE state = 1") == 0) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

class FaultTest : public ::testing::Test {
 protected:
  FaultTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_), uz_("uz", pki_, dir_.path(), ports_) {}

  // Stops both gateways, verifies both audit chains, and unmounts what the
  // test mounted (also after a failed assertion).
  void TearDown() override {
    StopTogether({&kz_, &uz_});
    for (const GatewayProcess* gateway : {&kz_, &uz_}) {
      if (access(gateway->db_path().c_str(), F_OK) != 0) continue;
      int64_t entries = 0;
      const ::testing::AssertionResult verifies = AuditChainVerifies(gateway->db_path(), &entries);
      EXPECT_TRUE(verifies) << gateway->side();
      if (verifies) std::cout << "[ audit    ] " << gateway->side() << ": " << entries << " entries verify\n";
    }
    for (const std::string& mount_point : mounts_) {
      if (umount2(mount_point.c_str(), 0) != 0) {
        ADD_FAILURE() << "umount " << mount_point << ": " << strerror(errno);
        umount2(mount_point.c_str(), MNT_DETACH);
      }
    }
  }

  // Puts `gateway`'s data directory on a fresh tmpfs of `size_mib` MiB.
  // Returns the mount point, or "" (having mounted nothing) if mounting is
  // not allowed here or IICC_TEST_NO_TMPFS is set.
  std::string DataDirOnTmpfs(GatewayProcess& gateway, int size_mib) {
    if (std::getenv("IICC_TEST_NO_TMPFS") != nullptr) return "";
    const std::string mount_point = dir_.File(gateway.side() + "-tmpfs");
    if (RunShell("mkdir -p '" + mount_point + "'") != 0) return "";
    const std::string options = absl::StrCat("size=", size_mib, "m,mode=0700");
    if (mount("tmpfs", mount_point.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      std::cout << "[ tmpfs    ] cannot mount a tmpfs (" << strerror(errno) << ")\n";
      return "";
    }
    mounts_.push_back(mount_point);
    gateway.config().set_data_dir(mount_point + "/data");
    return mount_point;
  }

  // Submits numbered records of one size to `gateway` until its store
  // refuses with RESOURCE_EXHAUSTED (at most `limit` records); returns the ids accepted on the way and sets
  // `refused` to the request id refused.
  std::vector<std::string> SubmitUntilFull(GatewayProcess& gateway, const std::string& prefix, int limit,
                                           std::string* refused) {
    auto stub = gateway.MinistryStub();
    std::vector<std::string> accepted;
    for (int i = 0; i < limit; ++i) {
      const std::string request_id = absl::StrCat(prefix, "-", absl::Dec(i, absl::kZeroPad5));
      std::string record_id;
      const grpc::Status status = TrySubmit(*stub, request_id, NumberedCargo(request_id), &record_id);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        *refused = request_id;
        return accepted;
      }
      EXPECT_TRUE(status.ok()) << request_id << ": " << status.error_code() << ": " << status.error_message();
      if (!status.ok()) return accepted;
      accepted.push_back(record_id);
    }
    ADD_FAILURE() << gateway.side() << " still accepts after " << limit << " records";
    return accepted;
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  GatewayProcess uz_;
  std::vector<std::string> mounts_;
};

TEST_F(FaultTest, BacklogOfTenThousandDrainsOnceAndInOrder) {
  constexpr int kRecords = 10000;
  constexpr int kStreams = 16;
  kz_.StartAndWait();

  // UZ is down: everything queues. Concurrent streams, so that the store
  // commits them in groups.
  std::vector<std::vector<std::string>> answered(kStreams);
  const absl::Time submit_start = absl::Now();
  {
    std::vector<std::thread> clients;
    for (int s = 0; s < kStreams; ++s) {
      clients.emplace_back([&, s] {
        auto stub = kz_.MinistryStub();
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
        auto stream = stub->SubmitStream(&context);
        for (int i = s; i < kRecords; i += kStreams) {
          const std::string request_id = absl::StrCat("backlog-", i);
          v1::SubmitResponse response;
          if (!stream->Write(MakeSubmit(request_id, NumberedCargo(request_id))) || !stream->Read(&response)) {
            ADD_FAILURE() << "stream " << s << " broke at " << request_id;
            break;
          }
          EXPECT_EQ(response.state(), v1::DELIVERY_STATE_QUEUED) << request_id << ": " << response.DebugString();
          EXPECT_EQ(response.request_id(), request_id);
          answered[s].push_back(response.record_id());
        }
        stream->WritesDone();
        const grpc::Status status = stream->Finish();
        EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
      });
    }
    for (std::thread& client : clients) client.join();
  }
  const absl::Duration submit_time = absl::Now() - submit_start;
  ASSERT_TRUE(kz_.Running()) << "KZ died; its log:\n" << kz_.log();

  std::set<std::string> answered_ids;
  for (const auto& ids : answered) answered_ids.insert(ids.begin(), ids.end());
  ASSERT_EQ(answered_ids.size(), static_cast<size_t>(kRecords)) << "answers missing or repeated";
  // The outbox order is the order of acceptance, which the link must keep.
  const std::vector<std::string> accepted_order =
      DbReader(kz_.db_path()).Column("SELECT record_id FROM outbox ORDER BY sequence");
  ASSERT_EQ(std::set<std::string>(accepted_order.begin(), accepted_order.end()), answered_ids);
  ASSERT_EQ(accepted_order.size(), static_cast<size_t>(kRecords));

  const absl::Time drain_start = absl::Now();
  uz_.StartAndWait();
  const bool drained = WaitDrained(kz_.db_path(), absl::Minutes(4));
  const absl::Duration drain_time = absl::Now() - drain_start;
  std::cout << "[ figures  ] submitted " << kRecords << " records on " << kStreams << " streams in "
            << Seconds(submit_time) << " s (" << kRecords / Seconds(submit_time) << "/s); drained in "
            << Seconds(drain_time) << " s (" << kRecords / Seconds(drain_time) << "/s)\n";
  ASSERT_TRUE(drained) << DbReader(kz_.db_path()).Int("SELECT COUNT(*) FROM outbox WHERE state = 1")
                       << " records still queued";

  DbReader kz_db(kz_.db_path());
  EXPECT_EQ(kz_db.Int("SELECT COUNT(*) FROM outbox WHERE state = 2"), kRecords) << "not all DELIVERED";
  DbReader uz_db(uz_.db_path());
  EXPECT_THAT(uz_db.Column("SELECT record_id FROM inbox ORDER BY sequence"), ElementsAreArray(accepted_order));
  // Sequences 1..N without gaps; each record once.
  EXPECT_EQ(uz_db.Int("SELECT COUNT(*) FROM inbox"), kRecords);
  EXPECT_EQ(uz_db.Int("SELECT MIN(sequence) FROM inbox"), 1);
  EXPECT_EQ(uz_db.Int("SELECT MAX(sequence) FROM inbox"), kRecords);
  EXPECT_EQ(uz_db.Int("SELECT COUNT(DISTINCT record_id) FROM inbox"), kRecords);
  // The same through the ministry face, and nothing more later.
  absl::SleepFor(absl::Milliseconds(500));
  auto uz_stub = uz_.MinistryStub();
  EXPECT_THAT(RecordIds(ListAllInbound(*uz_stub)), ElementsAreArray(accepted_order));
  auto kz_stub = kz_.MinistryStub();
  EXPECT_EQ(StateOf(*kz_stub, accepted_order.front()), v1::DELIVERY_STATE_DELIVERED);
  EXPECT_EQ(StateOf(*kz_stub, accepted_order.back()), v1::DELIVERY_STATE_DELIVERED);
  // Each record audited once per step.
  EXPECT_EQ(AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_SUBMIT).size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_DELIVER).size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(AuditOfKind(uz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIVE).size(), static_cast<size_t>(kRecords));
}

TEST_F(FaultTest, CorruptedTruncatedAndBadlySignedEnvelopesAreRejectedAndAudited) {
  kz_.StartAndWait();
  const std::string record_id = NewUuidV7(absl::Now());
  const v1::Envelope genuine = SignedEnvelope(pki_, "uz", record_id, NumberedCargo("broken-envelopes"));

  struct Case {
    const char* name;
    v1::Envelope envelope;
    const char* reason;  // What the receipt's reason starts with.
  };
  std::vector<Case> cases;
  {
    v1::Envelope truncated = genuine;  // Cut inside its last field.
    truncated.set_header(genuine.header().substr(0, genuine.header().size() - 5));
    cases.push_back({"truncated header", truncated, "malformed envelope header"});
  }
  {
    v1::Envelope corrupted = genuine;  // One payload byte flipped; header and signature intact.
    (*corrupted.mutable_payload())[corrupted.payload().size() / 2] ^= 0x01;
    cases.push_back({"corrupted payload", corrupted, "the payload does not match the signed header's digest"});
  }
  {
    // The genuine header and payload, signed with a key of the wrong CA:
    // KZ's own signing key.
    v1::Envelope resigned = genuine;
    absl::StatusOr<std::unique_ptr<proof::Signer>> kz_signer =
        proof::Signer::Load(pki_.File("kz", "signing.crt"), pki_.File("kz", "signing.key"));
    ASSERT_TRUE(kz_signer.ok()) << kz_signer.status();
    absl::StatusOr<std::vector<v1::BatchProof>> proof =
        (*kz_signer)->SignBatch(proof::Purpose::kEnvelope, {genuine.header()});
    ASSERT_TRUE(proof.ok()) << proof.status();
    *resigned.mutable_proof() = proof->front();
    cases.push_back({"signed by the wrong CA", resigned, "bad signature: "});
  }
  {
    v1::Envelope altered = genuine;  // The signature's last byte changed.
    std::string& signature = *altered.mutable_proof()->mutable_signature();
    ASSERT_FALSE(signature.empty());
    signature.back() ^= 0x5a;
    cases.push_back({"altered signature", altered, "bad signature: "});
  }

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const size_t rejects_before = AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT).size();
    const v1::ReceiptHeader receipt = KzSignedReceipt(pki_, DeliverAsPeerGateway(kz_, c.envelope));
    EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_REJECTED);
    EXPECT_THAT(receipt.reason(), ::testing::StartsWith(c.reason));
    std::cout << "[ rejected ] " << c.name << ": " << receipt.reason() << "\n";
    EXPECT_EQ(receipt.payload_digest(), Sha256(c.envelope.payload()));
    // Audited, with the reason answered.
    const std::vector<v1::AuditEntry> rejects = AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT);
    ASSERT_EQ(rejects.size(), rejects_before + 1);
    EXPECT_EQ(rejects.back().detail(), receipt.reason());
    EXPECT_EQ(rejects.back().digest(), Sha256(c.envelope.payload()));
    if (c.envelope.header() == genuine.header()) {
      EXPECT_EQ(rejects.back().record_id(), record_id);
      EXPECT_EQ(receipt.record_id(), record_id);
    }
    // Nothing stored, under that record id or any other.
    DbReader db(kz_.db_path());
    EXPECT_EQ(db.Int("SELECT COUNT(*) FROM inbox"), 0);
    EXPECT_EQ(db.Int("SELECT COUNT(*) FROM inbound_receipts"), 0);
  }
  EXPECT_TRUE(ListAllInbound(*kz_.MinistryStub()).empty());

  // The genuine envelope for the same record id is still welcome.
  const v1::ReceiptHeader receipt = KzSignedReceipt(pki_, DeliverAsPeerGateway(kz_, genuine));
  EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_ACCEPTED) << receipt.reason();
  EXPECT_EQ(receipt.record_id(), record_id);
  EXPECT_THAT(RecordIds(ListAllInbound(*kz_.MinistryStub())), ElementsAreArray({record_id}));
  const std::vector<v1::AuditEntry> received = AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIVE);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].record_id(), record_id);
  EXPECT_EQ(received[0].identity(), "spiffe://uz.iicc/gateway");
}

TEST_F(FaultTest, ReplayedRecordIdWithAnotherPayloadIsRejectedAndTheStoredRecordStays) {
  kz_.StartAndWait();
  const std::string record_id = NewUuidV7(absl::Now());
  const v1::Envelope first = SignedEnvelope(pki_, "uz", record_id, NumberedCargo("replay-first"));
  const v1::ReceiptHeader accepted = KzSignedReceipt(pki_, DeliverAsPeerGateway(kz_, first));
  ASSERT_EQ(accepted.verdict(), v1::RECEIPT_VERDICT_ACCEPTED) << accepted.reason();
  const std::string stored_sql =
      "SELECT i.sequence, i.record, r.payload_digest, r.accepted, r.receipt, r.envelope "
      "FROM inbox i JOIN inbound_receipts r USING (record_id)";
  const std::vector<std::vector<std::string>> stored = DbReader(kz_.db_path()).Rows(stored_sql);
  ASSERT_EQ(stored.size(), 1u);
  const std::vector<v1::InboundRecord> before = ListAllInbound(*kz_.MinistryStub());
  ASSERT_EQ(before.size(), 1u);

  // The same record id with another payload, validly signed by the peer.
  const v1::Envelope second = SignedEnvelope(pki_, "uz", record_id, NumberedCargo("replay-second"));
  ASSERT_NE(second.payload(), first.payload());
  const v1::ReceiptHeader rejected = KzSignedReceipt(pki_, DeliverAsPeerGateway(kz_, second));
  EXPECT_EQ(rejected.verdict(), v1::RECEIPT_VERDICT_REJECTED);
  EXPECT_EQ(rejected.record_id(), record_id);
  EXPECT_THAT(rejected.reason(), HasSubstr("already received with a different payload"));
  EXPECT_EQ(rejected.payload_digest(), Sha256(second.payload()));

  // The stored record, its receipt and its evidence are untouched, byte for byte.
  EXPECT_EQ(DbReader(kz_.db_path()).Rows(stored_sql), stored);
  const std::vector<v1::InboundRecord> after = ListAllInbound(*kz_.MinistryStub());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].SerializeAsString(), before[0].SerializeAsString());

  // Audited: one RECEIVE for the first, one INBOUND_REJECT for the second.
  const std::vector<v1::AuditEntry> received = AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIVE);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].digest(), Sha256(first.payload()));
  const std::vector<v1::AuditEntry> rejects = AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT);
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0].record_id(), record_id);
  EXPECT_EQ(rejects[0].identity(), "spiffe://uz.iicc/gateway");
  EXPECT_EQ(rejects[0].digest(), Sha256(second.payload()));
  EXPECT_THAT(rejects[0].detail(), HasSubstr("another payload"));

  // The first envelope again is a plain duplicate: its original receipt.
  const v1::DeliverResponse again = DeliverAsPeerGateway(kz_, first);
  EXPECT_EQ(again.receipt().SerializeAsString(), stored[0][4]);
  EXPECT_EQ(DbReader(kz_.db_path()).Rows(stored_sql), stored);
}

// Checks that the KZ store in `db_path` holds exactly the records `accepted`,
// none half-written: each outbox row has its idempotency key and its SUBMIT
// audit entry; no `refused` request id left anything behind; the audit chain
// verifies.
void ExpectNoHalfWrittenRecords(const std::string& db_path, const std::vector<std::string>& accepted,
                                const std::vector<std::string>& refused) {
  DbReader db(db_path);
  const std::set<std::string> expected(accepted.begin(), accepted.end());
  EXPECT_EQ(expected.size(), accepted.size());
  const std::vector<std::string> outbox = db.Column("SELECT record_id FROM outbox");
  EXPECT_EQ(std::set<std::string>(outbox.begin(), outbox.end()), expected);
  EXPECT_EQ(outbox.size(), accepted.size());
  const std::vector<std::string> keys = db.Column("SELECT record_id FROM idempotency");
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
  EXPECT_EQ(keys.size(), accepted.size());
  std::vector<std::string> submits;
  for (const v1::AuditEntry& entry : AuditOfKind(db_path, v1::AUDIT_EVENT_KIND_SUBMIT)) {
    submits.push_back(entry.record_id());
  }
  EXPECT_EQ(std::set<std::string>(submits.begin(), submits.end()), expected);
  EXPECT_EQ(submits.size(), accepted.size());
  const std::vector<std::string> request_ids = db.Column("SELECT request_id FROM idempotency");
  for (const std::string& request_id : refused) {
    EXPECT_THAT(request_ids, ::testing::Not(::testing::Contains(request_id)));
  }
  EXPECT_TRUE(AuditChainVerifies(db_path));
}

TEST_F(FaultTest, FullDiskRefusesSubmitsWithoutHalfWritesAndResumes) {
  const std::string mount_point = DataDirOnTmpfs(kz_, 8);
  if (mount_point.empty()) {
    std::cout << "[ tmpfs    ] not used: falling back to store.max_size_mib: 1\n";
    kz_.config().mutable_store()->set_max_size_mib(1);
  } else {
    std::cout << "[ tmpfs    ] KZ data on an 8 MiB tmpfs at " << mount_point << "\n";
  }
  kz_.StartAndWait();
  auto stub = kz_.MinistryStub();
  std::vector<std::string> accepted;
  for (int i = 0; i < 5; ++i) {
    accepted.push_back(SubmitOrFail(*stub, absl::StrCat("before-", i), NumberedCargo(absl::StrCat("before-", i))));
  }

  // Fill the disk (or the store up to its cap).
  if (!mount_point.empty()) {
    std::cout << "[ tmpfs    ] filler: " << FillFileSystem(mount_point + "/filler") / 1024 << " KiB\n";
  }
  std::vector<std::string> refused(1);
  const std::vector<std::string> filled = SubmitUntilFull(kz_, "fill", 5000, &refused[0]);
  ASSERT_FALSE(refused[0].empty());
  std::cout << "[ full     ] " << filled.size() << " more records accepted before the first refusal\n";
  accepted.insert(accepted.end(), filled.begin(), filled.end());

  // Full stays full: every submit is refused, on both calls. (The records
  // have one size, so that none fits where the refused one did not.)
  for (int i = 0; i < 3; ++i) {
    const std::string request_id = absl::StrCat("full-", absl::Dec(i, absl::kZeroPad5));
    std::string record_id;
    const grpc::Status status = TrySubmit(*stub, request_id, NumberedCargo(request_id), &record_id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    refused.push_back(request_id);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    auto stream = stub->SubmitStream(&context);
    ASSERT_TRUE(stream->Write(MakeSubmit("full-00003", NumberedCargo("full-00003"))));
    v1::SubmitResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.error().code(), "RESOURCE_EXHAUSTED") << response.DebugString();
    EXPECT_NE(response.state(), v1::DELIVERY_STATE_QUEUED);
    refused.push_back("full-00003");
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }

  // The gateway keeps serving what it can (the status of an earlier record),
  // and says it is not ready: grpc.health.v1 follows the store's write probe.
  ASSERT_TRUE(kz_.Running()) << kz_.log();
  EXPECT_TRUE(HealthBecomes(kz_.MinistryChannel(), 2)) << "expected NOT_SERVING with a full store";
  EXPECT_EQ(StateOf(*stub, accepted.front()), v1::DELIVERY_STATE_QUEUED);
  ExpectNoHalfWrittenRecords(kz_.db_path(), accepted, refused);

  // Space returns: without a restart on the tmpfs; with a larger cap
  // otherwise.
  if (!mount_point.empty()) {
    ASSERT_EQ(unlink((mount_point + "/filler").c_str()), 0) << strerror(errno);
    EXPECT_TRUE(HealthBecomes(kz_.MinistryChannel(), 1)) << "expected SERVING once space returned";
  } else {
    EXPECT_EQ(kz_.Terminate(), 0);
    kz_.config().mutable_store()->set_max_size_mib(64);
    kz_.StartAndWait();
    stub = kz_.MinistryStub();
  }
  // A refused request id was never used: it is a new record now.
  std::string record_id;
  const grpc::Status retried = TrySubmit(*stub, refused[0], NumberedCargo(refused[0]), &record_id);
  ASSERT_TRUE(retried.ok()) << retried.error_code() << ": " << retried.error_message();
  EXPECT_THAT(accepted, ::testing::Not(::testing::Contains(record_id)));
  accepted.push_back(record_id);
  refused.erase(refused.begin());
  accepted.push_back(SubmitOrFail(*stub, "after", NumberedCargo("after")));
  EXPECT_EQ(StateOf(*stub, accepted.back()), v1::DELIVERY_STATE_QUEUED);
  ExpectNoHalfWrittenRecords(kz_.db_path(), accepted, refused);
}

TEST_F(FaultTest, FullReceiverAnswersRetryableRefusalAndLosesNothing) {
  const std::string mount_point = DataDirOnTmpfs(uz_, 8);
  auto kz_stub = kz_.MinistryStub();
  std::vector<std::string> ids;  // Everything submitted to KZ, in order.
  int submitted = 0;
  auto submit = [&](int count) {
    for (int i = 0; i < count; ++i, ++submitted) {
      const std::string request_id = absl::StrCat("to-full-", absl::Dec(submitted, absl::kZeroPad5));
      ids.push_back(SubmitOrFail(*kz_stub, request_id, NumberedCargo(request_id)));
    }
  };
  if (!mount_point.empty()) {
    std::cout << "[ tmpfs    ] UZ data on an 8 MiB tmpfs at " << mount_point << "\n";
    uz_.StartAndWait();
    std::cout << "[ tmpfs    ] filler: " << FillFileSystem(mount_point + "/filler") / 1024 << " KiB\n";
    kz_.StartAndWait();
  } else {
    // UZ's store is capped and KZ fills it: a cap is not a wall (a smaller
    // batch may still fit in a page), so UZ is full once its inbox has
    // stopped growing for a while with records waiting.
    std::cout << "[ tmpfs    ] not used: falling back to store.max_size_mib: 1\n";
    uz_.config().mutable_store()->set_max_size_mib(1);
    uz_.StartAndWait();
    kz_.StartAndWait();
    int64_t inbox = -1;
    absl::Time steady_since = absl::Now();
    while (true) {
      ASSERT_LT(submitted, 5000) << "UZ still stores after 5000 records";
      const int64_t pending = DbReader(kz_.db_path()).Int("SELECT COUNT(*) FROM outbox WHERE state = 1");
      const int64_t now_inbox = DbReader(uz_.db_path()).Int("SELECT COUNT(*) FROM inbox");
      if (now_inbox != inbox || pending == 0) {
        inbox = now_inbox;
        steady_since = absl::Now();
      } else if (absl::Now() - steady_since > absl::Seconds(3)) {
        break;
      }
      if (pending < 10) submit(20);
      absl::SleepFor(absl::Milliseconds(200));
    }
    std::cout << "[ full     ] UZ took " << inbox << " records before it filled up\n";
  }
  submit(20);

  // What UZ answers now for the oldest record waiting: a retryable refusal,
  // and the end of the stream.
  std::vector<std::vector<std::string>> queued =
      DbReader(kz_.db_path()).Rows("SELECT record_id, envelope FROM outbox WHERE state = 1 ORDER BY sequence");
  ASSERT_GE(queued.size(), 20u);
  {
    v1::Envelope oldest;
    ASSERT_TRUE(oldest.ParseFromString(queued[0][1]));
    grpc::Status final_status;
    const v1::DeliverResponse answer = DeliverAsPeerGateway(uz_, oldest, &final_status);
    ASSERT_TRUE(answer.has_refusal()) << answer.DebugString();
    EXPECT_EQ(answer.refusal().record_id(), queued[0][0]);
    EXPECT_THAT(answer.refusal().reason(), HasSubstr("RESOURCE_EXHAUSTED"));
    EXPECT_GE(answer.refusal().retry_after().seconds(), 1);
    EXPECT_EQ(final_status.error_code(), grpc::StatusCode::UNAVAILABLE) << final_status.error_message();
  }
  // KZ's forwarder meets that refusal again and again: nothing is rejected,
  // nothing more stored, everything waiting stays queued.
  const int64_t inbox_when_full = DbReader(uz_.db_path()).Int("SELECT COUNT(*) FROM inbox");
  EXPECT_EQ(inbox_when_full, static_cast<int64_t>(ids.size() - queued.size()));
  absl::SleepFor(absl::Seconds(4));
  for (const std::vector<std::string>& row : queued) {
    EXPECT_EQ(StateOf(*kz_stub, row[0]), v1::DELIVERY_STATE_QUEUED) << row[0];
  }
  EXPECT_EQ(DbReader(uz_.db_path()).Int("SELECT COUNT(*) FROM inbox"), inbox_when_full);
  EXPECT_TRUE(AuditOfKind(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_REJECTED).empty());
  EXPECT_TRUE(AuditOfKind(uz_.db_path(), v1::AUDIT_EVENT_KIND_INBOUND_REJECT).empty());

  // Space returns: everything arrives, once, in order.
  if (!mount_point.empty()) {
    ASSERT_EQ(unlink((mount_point + "/filler").c_str()), 0) << strerror(errno);
  } else {
    EXPECT_EQ(uz_.Terminate(), 0);
    uz_.config().mutable_store()->set_max_size_mib(64);
    uz_.StartAndWait();
  }
  ASSERT_TRUE(WaitDrained(kz_.db_path(), absl::Seconds(60))) << kz_.log();
  auto uz_stub = uz_.MinistryStub();
  EXPECT_THAT(RecordIds(WaitForInbound(*uz_stub, ids.size())), ElementsAreArray(ids));
  EXPECT_EQ(DbReader(kz_.db_path()).Int("SELECT COUNT(*) FROM outbox WHERE state = 2"),
            static_cast<int64_t>(ids.size()));
  EXPECT_EQ(StateOf(*kz_stub, ids.back()), v1::DELIVERY_STATE_DELIVERED);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(ListAllInbound(*uz_stub).size(), ids.size());
  EXPECT_EQ(AuditOfKind(uz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIVE).size(), ids.size());

  // The sender said why the link went down, and honoured the receiver's
  // retry_after (1 s) before each new session: it did not hammer a full peer.
  const std::string log = kz_.log();
  EXPECT_THAT(log, ::testing::HasSubstr("the peer cannot store now"));
  std::vector<absl::Time> refused_at, up_at;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    const size_t ts = line.find("\"ts\":\"");
    if (ts == absl::string_view::npos) continue;
    absl::Time when;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, line.substr(ts + 6, 24), &when, &error)) continue;
    if (absl::StrContains(line, "\"event\":\"peer.link_down\"") && absl::StrContains(line, "cannot store now")) {
      refused_at.push_back(when);
    } else if (absl::StrContains(line, "\"event\":\"peer.link_up\"")) {
      up_at.push_back(when);
    }
  }
  ASSERT_FALSE(refused_at.empty()) << log;
  for (absl::Time refused : refused_at) {
    for (absl::Time up : up_at) {
      if (up > refused) {
        EXPECT_GE(up - refused, absl::Milliseconds(950)) << "reconnected before retry_after";
        break;
      }
    }
  }
}

}  // namespace
}  // namespace iicc::testing
