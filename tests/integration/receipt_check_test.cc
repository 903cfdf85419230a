// The sending gateway checks every receipt before it marks a record
// delivered (Forwarder::CheckReceipt). A real KZ gateway sends to a fake UZ
// peer served by this test process on UZ's peer port, with UZ's gateway
// certificate; the fake answers each envelope with a receipt the test makes:
// signed with the wrong key, dated outside the allowed window, for another
// payload, by the wrong signer, altered after signing. None of them may
// deliver the record: it stays QUEUED, is sent again, and every refused
// receipt leaves a RECEIPT_INVALID audit entry naming the problem. A
// genuine receipt then delivers it. Each test ends with KZ stopped and its
// audit chain verified.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/common/digest.h"
#include "gateway/common/openssl_ptr.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/uuid.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/exchange/peer_service.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/tls.h"
#include "gateway/store/audit.h"
#include "gateway/store/evidence_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iicc/v1/audit.pb.h"
#include "iicc/v1/config.pb.h"
#include "iicc/v1/peer_exchange.grpc.pb.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kUzGateway[] = "spiffe://uz.iicc/gateway";
constexpr char kKzGateway[] = "spiffe://kz.iicc/gateway";

// Long enough for a gateway on a loaded machine; a passing run needs well
// under a second per wait.
constexpr absl::Duration kWait = absl::Seconds(20);

// Makes the receipt the fake peer answers for the envelope whose header is
// `sent`.
using ReceiptMaker = std::function<v1::Receipt(const v1::EnvelopeHeader& sent)>;

// The receipt header a correct UZ gateway would sign for `sent`: accepted,
// received at `received`.
v1::ReceiptHeader AcceptedHeaderFor(const v1::EnvelopeHeader& sent, absl::Time received = absl::Now()) {
  v1::ReceiptHeader header;
  header.set_record_id(sent.record_id());
  header.set_payload_digest(sent.payload_digest());
  header.set_verdict(v1::RECEIPT_VERDICT_ACCEPTED);
  *header.mutable_received_time() = ToTimestamp(received);
  header.set_policy_version(HexEncode(Sha256Of("the fake UZ peer's inbound policy")));
  header.set_receiver(v1::JURISDICTION_UZ);
  return header;
}

// `header` serialized and signed for Purpose::kReceipt by `signer`, as a
// batch of one.
v1::Receipt SignedReceipt(const proof::Signer& signer, const v1::ReceiptHeader& header) {
  v1::Receipt receipt;
  receipt.set_header(header.SerializeAsString());
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer.SignBatch(proof::Purpose::kReceipt, {receipt.header()});
  EXPECT_TRUE(proofs.ok()) << proofs.status();
  if (proofs.ok()) *receipt.mutable_proof() = proofs->front();
  return receipt;
}

// A receipt proof over `header` (a batch of one) made with OpenSSL directly,
// for keys that proof::Signer::Load refuses (a TLS key): the Merkle root of
// one leaf is SHA-256(0x00 || header), and the signed message is the
// receipt context string with its NUL, then the root (batch_signature.h).
v1::BatchProof SignReceiptByHand(const std::string& header, const std::string& key_file, const std::string& cert_file) {
  static constexpr char kReceiptContext[] = "IICC-Exchange v1 receipt batch";
  const std::string root = Sha256Of(std::string(1, '\0') + header);
  const std::string message = std::string(kReceiptContext, sizeof(kReceiptContext)) + root;
  v1::BatchProof proof;
  openssl::UniqueBio key_bio(BIO_new_file(key_file.c_str(), "r"));
  openssl::UniqueKey key(key_bio != nullptr ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                                            : nullptr);
  openssl::UniqueBio cert_bio(BIO_new_file(cert_file.c_str(), "r"));
  openssl::UniqueX509 cert(cert_bio != nullptr ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)
                                               : nullptr);
  EXPECT_NE(key, nullptr) << key_file;
  EXPECT_NE(cert, nullptr) << cert_file;
  if (key == nullptr || cert == nullptr) return proof;

  openssl::UniqueMdCtx ctx(EVP_MD_CTX_new());
  std::string signature(static_cast<size_t>(EVP_PKEY_get_size(key.get())), '\0');
  size_t length = signature.size();
  const bool signed_ok = ctx != nullptr &&
                         EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
                         EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                                        reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EXPECT_TRUE(signed_ok) << "ECDSA signing with " << key_file << " failed";
  signature.resize(length);
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(cert.get(), &der);
  EXPECT_GT(der_length, 0);
  if (der_length > 0) {
    proof.add_certificate_chain(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(der_length)));
    OPENSSL_free(der);
  }
  proof.set_signature(signature);
  proof.set_leaf_index(0);
  proof.set_leaf_count(1);
  return proof;
}

// The UZ gateway as KZ's forwarder sees it: it listens on UZ's peer port
// with UZ's gateway certificate, lets only KZ's gateway in, and answers every
// envelope with a receipt from the current ReceiptMaker. It remembers every
// receipt it answered, by the record id of the envelope.
class FakeUzPeer final : public v1::PeerExchange::Service {
 public:
  // How the fake reads and answers (docs/contract.md, "Frames").
  enum class Frames {
    kOne,      // Announces nothing: one envelope per frame, one answer per frame.
    kBatched,  // Announces frames of several: the answers held together go out in one frame.
  };

  // The first stream's first `first_group` answers are held until that many
  // envelopes are read, then written together; every other answer goes out
  // at once. With `refuse_after` >= 0, the first stream answers that many
  // envelopes, then a retryable refusal (retry_after 100 ms) for the next
  // one, and ends.
  FakeUzPeer(const TestPki& pki, const std::string& address, ReceiptMaker maker, int first_group = 1,
             Frames frames = Frames::kOne, int refuse_after = -1)
      : maker_(std::move(maker)), group_(first_group), refuse_after_(refuse_after), frames_(frames) {
    v1::TlsConfig tls;
    tls.set_cert_file(pki.File("uz", "gateway.crt"));
    tls.set_key_file(pki.File("uz", "gateway.key"));
    tls.set_ca_file(pki.File("kz", "ca.crt"));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(
        address, security::MakeServerCredentials(tls, security::MakeSpiffeVerifier(std::string(kKzGateway))));
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeUzPeer() override { Shutdown(); }

  bool serving() const { return server_ != nullptr; }

  void Shutdown() {
    if (server_ == nullptr) return;
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    server_->Wait();
    server_.reset();
  }

  // Answers with `maker` from the next envelope on.
  void Answer(ReceiptMaker maker) {
    absl::MutexLock lock(&mu_);
    maker_ = std::move(maker);
  }

  // Every receipt answered for the envelope of `record_id`, in order.
  std::vector<v1::Receipt> AnsweredFor(const std::string& record_id) {
    absl::MutexLock lock(&mu_);
    auto it = answered_.find(record_id);
    return it == answered_.end() ? std::vector<v1::Receipt>() : it->second;
  }

  // The most envelopes KZ sent in one frame.
  int LargestFrame() {
    absl::MutexLock lock(&mu_);
    return largest_frame_;
  }

  // The refusals answered.
  int refusals() {
    absl::MutexLock lock(&mu_);
    return refusals_;
  }

 private:
  grpc::Status Deliver(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::DeliverResponse, v1::DeliverRequest>* stream) override {
    // As the real receiver does, so that the forwarder counts the session
    // as connected (and resets its backoff), as it would with UZ.
    context->AddInitialMetadata(exchange::kReceiverMetadataKey, "ready");
    const bool batched = frames_ == Frames::kBatched;
    if (batched) {
      context->AddInitialMetadata(exchange::kFrameBytesMetadataKey, "1048576");
      if (exchange::AnnouncedFrameBytes(context->client_metadata()) == 0) {
        ADD_FAILURE() << "KZ's forwarder did not announce that it reads frames of receipts";
      }
    }
    stream->SendInitialMetadata();
    size_t group = 1;
    int refuse_after = -1;  // No refusal.
    {
      absl::MutexLock lock(&mu_);
      group = static_cast<size_t>(std::exchange(group_, 1));
      refuse_after = std::exchange(refuse_after_, -1);
    }
    bool refused = false;
    std::vector<v1::Receipt> held;
    v1::DeliverRequest request;
    while (stream->Read(&request)) {
      if (!batched && !request.envelopes().empty()) {
        ADD_FAILURE() << "KZ sent a frame of several envelopes to a receiver that did not announce it reads them";
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "one envelope per frame");
      }
      std::vector<const v1::Envelope*> envelopes;
      if (exchange::HasSingleEnvelope(request)) envelopes.push_back(&request.envelope());
      for (const v1::Envelope& envelope : request.envelopes()) envelopes.push_back(&envelope);
      {
        absl::MutexLock lock(&mu_);
        largest_frame_ = std::max(largest_frame_, static_cast<int>(envelopes.size()));
      }
      for (const v1::Envelope* envelope : envelopes) {
        v1::EnvelopeHeader sent;
        if (!sent.ParseFromString(envelope->header())) {
          ADD_FAILURE() << "KZ sent an envelope whose header does not parse";
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed envelope header");
        }
        if (static_cast<int>(held.size()) == refuse_after) {
          refused = true;
          break;
        }
        absl::MutexLock lock(&mu_);
        held.push_back(maker_(sent));
        answered_[sent.record_id()].push_back(held.back());
      }
      if (held.size() < group && !refused) continue;
      // The answers held, then the refusal if there is one: in one frame
      // (Batched; the forwarder takes them in one round), or one frame each
      // in one HTTP/2 write, so that they reach the reader together.
      std::vector<v1::DeliverResponse> frames(batched ? 1 : held.size());
      for (size_t k = 0; k < held.size(); ++k) {
        if (batched) {
          *frames[0].add_receipts() = std::move(held[k]);
        } else {
          *frames[k].mutable_receipt() = std::move(held[k]);
        }
      }
      if (refused) {
        {
          absl::MutexLock lock(&mu_);
          ++refusals_;
        }
        if (!batched) frames.emplace_back();
        v1::RetryableRefusal* refusal = frames.back().mutable_refusal();
        refusal->set_reason("the fake peer cannot store now");
        refusal->mutable_retry_after()->set_nanos(100 * 1000 * 1000);
      }
      for (size_t k = 0; k < frames.size(); ++k) {
        grpc::WriteOptions options;
        if (k + 1 < frames.size()) options.set_buffer_hint();
        if (!stream->Write(frames[k], options)) return grpc::Status::OK;
      }
      if (refused) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "resend from the refused envelope");
      held.clear();
      group = 1;
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  ReceiptMaker maker_ ABSL_GUARDED_BY(mu_);
  int group_ ABSL_GUARDED_BY(mu_);         // Of the next stream's first answers.
  int refuse_after_ ABSL_GUARDED_BY(mu_);  // For the next stream; -1: none.
  const Frames frames_;
  int largest_frame_ ABSL_GUARDED_BY(mu_) = 0;
  int refusals_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<v1::Receipt>> answered_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_;
};

// The audit chain of the gateway database at `db_path`, in sequence order,
// read as `iicc-cli audit` reads it (the gateway may be running).
std::vector<v1::AuditEntry> AuditChain(const std::string& db_path) {
  std::vector<v1::AuditEntry> chain;
  absl::StatusOr<std::unique_ptr<store::EvidenceReader>> reader = store::EvidenceReader::Open(db_path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return chain;
  while (true) {
    absl::StatusOr<std::vector<v1::AuditEntry>> page =
        (*reader)->ListAudit(chain.empty() ? 0 : chain.back().sequence(), 500);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok() || page->empty()) return chain;
    chain.insert(chain.end(), page->begin(), page->end());
  }
}

// The audit entries of `kind` about `record_id`.
std::vector<v1::AuditEntry> AuditFor(const std::string& db_path, v1::AuditEventKind kind,
                                     const std::string& record_id) {
  std::vector<v1::AuditEntry> found;
  for (v1::AuditEntry& entry : AuditChain(db_path)) {
    if (entry.kind() == kind && entry.record_id() == record_id) found.push_back(std::move(entry));
  }
  return found;
}

// Polls the audit until it holds at least `count` RECEIPT_INVALID entries
// about `record_id`, or an outcome for it (DELIVER or RECEIPT_REJECTED: the
// record will not be sent again, so no more can come), or `kWait` passes.
// Returns the RECEIPT_INVALID entries found.
std::vector<v1::AuditEntry> WaitForReceiptInvalid(const std::string& db_path, const std::string& record_id,
                                                  size_t count) {
  const absl::Time deadline = absl::Now() + kWait;
  while (true) {
    std::vector<v1::AuditEntry> invalid;
    bool outcome = false;
    for (v1::AuditEntry& entry : AuditChain(db_path)) {
      if (entry.record_id() != record_id) continue;
      outcome |= entry.kind() == v1::AUDIT_EVENT_KIND_DELIVER || entry.kind() == v1::AUDIT_EVENT_KIND_RECEIPT_REJECTED;
      if (entry.kind() == v1::AUDIT_EVENT_KIND_RECEIPT_INVALID) invalid.push_back(std::move(entry));
    }
    if (invalid.size() >= count || outcome || absl::Now() > deadline) return invalid;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// The SHA-256 of each of `receipts`, as the gateway audits a receipt.
std::set<std::string> DigestsOf(const std::vector<v1::Receipt>& receipts) {
  std::set<std::string> digests;
  for (const v1::Receipt& receipt : receipts) digests.insert(Sha256Of(receipt.SerializeAsString()));
  return digests;
}

class ReceiptCheckTest : public ::testing::Test {
 protected:
  ReceiptCheckTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_) {}

  void SetUp() override {
    for (const char* side : {"uz", "kz"}) {
      absl::StatusOr<std::unique_ptr<proof::Signer>> signer =
          proof::Signer::Load(pki_.File(side, "signing.crt"), pki_.File(side, "signing.key"));
      ASSERT_TRUE(signer.ok()) << signer.status();
      (std::string(side) == "uz" ? uz_signer_ : kz_signer_) = *std::move(signer);
    }
    // Until a case says otherwise, the peer behaves.
    peer_ = std::make_unique<FakeUzPeer>(pki_, ports_.uz_peer.address(), Genuine());
    ASSERT_TRUE(peer_->serving()) << "cannot listen on " << ports_.uz_peer.address();
    kz_.StartAndWait();
  }

  // Stops KZ, then the fake peer, and verifies KZ's audit chain (also after
  // a failed assertion).
  void TearDown() override {
    EXPECT_EQ(kz_.Terminate(), 0) << kz_.log();
    if (peer_ != nullptr) peer_->Shutdown();
    const std::vector<v1::AuditEntry> chain = AuditChain(kz_.db_path());
    store::AuditChainVerifier verifier;
    for (const v1::AuditEntry& entry : chain) {
      const absl::Status status = verifier.Next(entry);
      ASSERT_TRUE(status.ok()) << status;
    }
    EXPECT_GT(verifier.verified(), 0);
    std::cout << "[ audit    ] kz: " << verifier.verified() << " entries verify\n";
  }

  // Receipts as the UZ gateway signs them: accepted, received now.
  ReceiptMaker Genuine() const {
    return [this](const v1::EnvelopeHeader& sent) { return SignedReceipt(*uz_signer_, AcceptedHeaderFor(sent)); };
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  std::unique_ptr<proof::Signer> uz_signer_;
  std::unique_ptr<proof::Signer> kz_signer_;
  std::unique_ptr<FakeUzPeer> peer_;
};

TEST_F(ReceiptCheckTest, BadReceiptsLeaveTheRecordQueuedAndAuditedUntilAGenuineOneDeliversIt) {
  // A signer under UZ's CA with signing key usages, but not UZ's gateway.
  pki_.Issue("uz", "rogue-signer", "spiffe://uz.iicc/rogue-signer", "signing");
  absl::StatusOr<std::unique_ptr<proof::Signer>> rogue_or =
      proof::Signer::Load(pki_.File("uz", "rogue-signer.crt"), pki_.File("uz", "rogue-signer.key"));
  ASSERT_TRUE(rogue_or.ok()) << rogue_or.status();
  const std::shared_ptr<proof::Signer> rogue = *std::move(rogue_or);

  // The hand-made proof is sound: with UZ's signing key it verifies, so the
  // TLS-key case below fails on the key usage alone.
  {
    v1::EnvelopeHeader sent;
    sent.set_record_id(NewUuidV7(absl::Now()));
    sent.set_payload_digest(Sha256Of("payload"));
    const std::string header = AcceptedHeaderFor(sent).SerializeAsString();
    absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier = proof::Verifier::Create({pki_.File("uz", "ca.crt")});
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    const absl::StatusOr<proof::Verifier::Verified> verified =
        (*verifier)->Verify(proof::Purpose::kReceipt, header,
                            SignReceiptByHand(header, pki_.File("uz", "signing.key"), pki_.File("uz", "signing.crt")),
                            kUzGateway, absl::Now());
    ASSERT_TRUE(verified.ok()) << verified.status();
  }

  struct Case {
    const char* name;
    ReceiptMaker receipt;
    const char* problem;  // What the RECEIPT_INVALID entry's detail must say.
  };
  const std::vector<Case> cases = {
      {"signed with UZ's TLS key (no nonRepudiation)",
       [this](const v1::EnvelopeHeader& sent) {
         v1::Receipt receipt;
         receipt.set_header(AcceptedHeaderFor(sent).SerializeAsString());
         *receipt.mutable_proof() =
             SignReceiptByHand(receipt.header(), pki_.File("uz", "gateway.key"), pki_.File("uz", "gateway.crt"));
         return receipt;
       },
       "nonRepudiation"},
      {"received_time an hour in the future",
       [this](const v1::EnvelopeHeader& sent) {
         return SignedReceipt(*uz_signer_, AcceptedHeaderFor(sent, absl::Now() + absl::Hours(1)));
       },
       "received_time"},
      {"received_time an hour before the record was accepted",
       [this](const v1::EnvelopeHeader& sent) {
         return SignedReceipt(*uz_signer_,
                              AcceptedHeaderFor(sent, FromTimestamp(sent.accepted_time()) - absl::Hours(1)));
       },
       "received_time"},
      {"another payload digest",
       [this](const v1::EnvelopeHeader& sent) {
         v1::ReceiptHeader header = AcceptedHeaderFor(sent);
         header.set_payload_digest(Sha256Of("a payload KZ never sent"));
         return SignedReceipt(*uz_signer_, header);
       },
       "another payload"},
      {"another record id",
       [this](const v1::EnvelopeHeader& sent) {
         v1::ReceiptHeader header = AcceptedHeaderFor(sent);
         header.set_record_id(NewUuidV7(absl::Now()));
         return SignedReceipt(*uz_signer_, header);
       },
       "another record"},
      // KZ trusts only UZ's CA for the peer's signatures: KZ's own signing
      // certificate does not even chain, whatever identity it carries.
      {"signed by KZ's own signing key",
       [this](const v1::EnvelopeHeader& sent) { return SignedReceipt(*kz_signer_, AcceptedHeaderFor(sent)); },
       "certificate chain: unable to get local issuer certificate"},
      // Under the right CA, with signing key usages: only the identity is
      // wrong.
      {"signed by another identity of UZ's CA",
       [rogue](const v1::EnvelopeHeader& sent) { return SignedReceipt(*rogue, AcceptedHeaderFor(sent)); },
       "signer spiffe://uz.iicc/rogue-signer is not the expected spiffe://uz.iicc/gateway"},
      // A rejection turned into an acceptance after UZ signed it.
      {"verdict changed after signing",
       [this](const v1::EnvelopeHeader& sent) {
         v1::ReceiptHeader header = AcceptedHeaderFor(sent);
         header.set_verdict(v1::RECEIPT_VERDICT_REJECTED);
         header.set_reason("refused by policy");
         v1::Receipt receipt = SignedReceipt(*uz_signer_, header);
         header.set_verdict(v1::RECEIPT_VERDICT_ACCEPTED);
         header.clear_reason();
         receipt.set_header(header.SerializeAsString());
         return receipt;
       },
       "signature does not verify"},
      {"header that does not parse",
       [this](const v1::EnvelopeHeader& sent) {
         v1::Receipt receipt = SignedReceipt(*uz_signer_, AcceptedHeaderFor(sent));
         receipt.set_header(receipt.header().substr(0, receipt.header().size() - 3));
         return receipt;
       },
       "malformed receipt header"},
  };

  auto stub = kz_.MinistryStub();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    // The record before this one is delivered: this one is alone in flight.
    peer_->Answer(c.receipt);
    const std::string request_id = absl::StrCat("bad-receipt-", i);
    const std::string record_id = SubmitOrFail(*stub, request_id, NumberedCargo(request_id));
    ASSERT_FALSE(record_id.empty());

    // Two refusals: the receipt of the first send, and that of the resend in
    // the next session (the record is retried, not dropped).
    const std::vector<v1::AuditEntry> invalid = WaitForReceiptInvalid(kz_.db_path(), record_id, 2);
    ASSERT_GE(invalid.size(), 2u) << "KZ log:\n" << kz_.log();
    const std::set<std::string> answered = DigestsOf(peer_->AnsweredFor(record_id));
    for (const v1::AuditEntry& entry : invalid) {
      EXPECT_THAT(entry.detail(), HasSubstr(c.problem));
      EXPECT_EQ(entry.identity(), kUzGateway);
      // The digest of a receipt that the peer did answer for this record.
      EXPECT_THAT(answered, Contains(entry.digest()));
    }
    std::cout << "[ refused  ] " << c.name << ": " << invalid.front().detail() << "\n";

    const v1::RecordStatus queued = RecordStatusOf(*stub, record_id);
    EXPECT_EQ(queued.state(), v1::DELIVERY_STATE_QUEUED);
    EXPECT_FALSE(queued.has_receipt());
    EXPECT_FALSE(queued.has_delivered_time());
    EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_DELIVER, record_id).empty());
    EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_REJECTED, record_id).empty());

    // Once the peer answers correctly, the queued record is sent again and
    // delivered, with the genuine receipt.
    peer_->Answer(Genuine());
    const v1::RecordStatus delivered = WaitForOutcome(*stub, record_id, kWait);
    ASSERT_EQ(delivered.state(), v1::DELIVERY_STATE_DELIVERED) << "KZ log:\n" << kz_.log();
    const std::vector<v1::Receipt> answered_now = peer_->AnsweredFor(record_id);
    ASSERT_FALSE(answered_now.empty());
    EXPECT_EQ(delivered.receipt().SerializeAsString(), answered_now.back().SerializeAsString());
    v1::ReceiptHeader receipt;
    ASSERT_TRUE(receipt.ParseFromString(delivered.receipt().header()));
    EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
    EXPECT_EQ(receipt.record_id(), record_id);
  }
}

TEST_F(ReceiptCheckTest, GenuineReceiptDeliversAtTheFirstSend) {
  auto stub = kz_.MinistryStub();
  const std::string record_id = SubmitOrFail(*stub, "genuine", SampleRecord("cargo"));
  ASSERT_FALSE(record_id.empty());
  const v1::RecordStatus status = WaitForOutcome(*stub, record_id, kWait);
  ASSERT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED) << "KZ log:\n" << kz_.log();
  EXPECT_TRUE(status.has_delivered_time());

  const std::vector<v1::Receipt> answered = peer_->AnsweredFor(record_id);
  ASSERT_EQ(answered.size(), 1u) << "sent more than once";
  EXPECT_EQ(status.receipt().SerializeAsString(), answered[0].SerializeAsString());
  v1::ReceiptHeader receipt;
  ASSERT_TRUE(receipt.ParseFromString(status.receipt().header()));
  EXPECT_EQ(receipt.record_id(), record_id);
  EXPECT_EQ(receipt.verdict(), v1::RECEIPT_VERDICT_ACCEPTED);
  EXPECT_EQ(receipt.receiver(), v1::JURISDICTION_UZ);

  const std::vector<v1::AuditEntry> delivers = AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_DELIVER, record_id);
  ASSERT_EQ(delivers.size(), 1u);
  EXPECT_EQ(delivers[0].digest(), Sha256Of(answered[0].SerializeAsString()));
  EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_INVALID, record_id).empty());

  // The two clocks may disagree by up to kMaxClockSkew: a receipt dated a
  // minute less than that ahead is still accepted.
  peer_->Answer([this](const v1::EnvelopeHeader& sent) {
    return SignedReceipt(*uz_signer_,
                         AcceptedHeaderFor(sent, absl::Now() + exchange::kMaxClockSkew - absl::Minutes(1)));
  });
  const std::string ahead = SubmitOrFail(*stub, "clock-ahead", NumberedCargo("clock-ahead"));
  ASSERT_FALSE(ahead.empty());
  EXPECT_EQ(WaitForOutcome(*stub, ahead, kWait).state(), v1::DELIVERY_STATE_DELIVERED) << "KZ log:\n" << kz_.log();
  EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_INVALID, ahead).empty());
}

// The same cases against a peer that reads and answers one envelope per
// frame (as a gateway from before batched frames) and one that batches.
class ReceiptFramesTest : public ReceiptCheckTest, public ::testing::WithParamInterface<FakeUzPeer::Frames> {
 protected:
  // Stops the fake peer and submits three records to KZ, so that its next
  // session sends them together; their record ids.
  std::vector<std::string> QueueThreeWhileThePeerIsAway(v1::MinistryGateway::Stub& stub) {
    peer_->Shutdown();
    std::vector<std::string> record_ids;
    for (const char* name : {"first", "second", "third"}) {
      record_ids.push_back(SubmitOrFail(stub, name, NumberedCargo(name)));
      EXPECT_FALSE(record_ids.back().empty());
    }
    return record_ids;
  }
};

INSTANTIATE_TEST_SUITE_P(Frames, ReceiptFramesTest,
                         ::testing::Values(FakeUzPeer::Frames::kOne, FakeUzPeer::Frames::kBatched),
                         [](const ::testing::TestParamInfo<FakeUzPeer::Frames>& info) {
                           return info.param == FakeUzPeer::Frames::kOne ? "OnePerFrame" : "Batched";
                         });

// The forwarder records a round of receipts after it has sent the envelopes
// that fill the room they freed. A session that ends on a bad receipt still
// records the genuine ones checked before it: their records are delivered
// once and never sent again.
TEST_P(ReceiptFramesTest, GenuineReceiptsBeforeABadOneInTheSameSessionAreRecordedAndNotResent) {
  auto stub = kz_.MinistryStub();
  const std::vector<std::string> record_ids = QueueThreeWhileThePeerIsAway(*stub);
  if (HasFailure()) return;
  // Genuine receipts for the first two envelopes the peer reads, then
  // receipts signed by KZ's own key (which do not chain to UZ's CA).
  auto seen = std::make_shared<std::atomic<int>>(0);
  // The three receipts of the first session are written together, so that
  // the bad one lands in the same round of the forwarder as a good one:
  // always when they share one frame (Batched); in most runs when each is a
  // frame of its own, which the reader hands over one by one (OnePerFrame).
  // The test cannot fail on correct code, and catches a forwarder that drops
  // the last round's receipts.
  peer_ = std::make_unique<FakeUzPeer>(
      pki_, ports_.uz_peer.address(),
      [this, seen](const v1::EnvelopeHeader& sent) {
        const proof::Signer& signer = seen->fetch_add(1) < 2 ? *uz_signer_ : *kz_signer_;
        return SignedReceipt(signer, AcceptedHeaderFor(sent));
      },
      /*first_group=*/3, GetParam());
  ASSERT_TRUE(peer_->serving()) << "cannot listen again on " << ports_.uz_peer.address();

  // The third is refused in that session and again in the next one.
  ASSERT_GE(WaitForReceiptInvalid(kz_.db_path(), record_ids[2], 2).size(), 2u) << "KZ log:\n" << kz_.log();
  for (size_t k = 0; k < 2; ++k) {
    SCOPED_TRACE(k);
    const v1::RecordStatus status = RecordStatusOf(*stub, record_ids[k]);
    EXPECT_EQ(status.state(), v1::DELIVERY_STATE_DELIVERED) << v1::DeliveryState_Name(status.state());
    const std::vector<v1::Receipt> answered = peer_->AnsweredFor(record_ids[k]);
    ASSERT_EQ(answered.size(), 1u) << "sent again after its receipt was checked";
    EXPECT_EQ(status.receipt().SerializeAsString(), answered[0].SerializeAsString());
    EXPECT_EQ(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_DELIVER, record_ids[k]).size(), 1u);
    EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_INVALID, record_ids[k]).empty());
  }
  EXPECT_EQ(RecordStatusOf(*stub, record_ids[2]).state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_GE(peer_->AnsweredFor(record_ids[2]).size(), 2u);
  // Queued together, sent together to a peer that reads frames of several.
  EXPECT_EQ(peer_->LargestFrame(), GetParam() == FakeUzPeer::Frames::kBatched ? 3 : 1);
}

// A refusal after two receipts, in their frame (Batched) or just after them:
// the two records are delivered once, the refused one stays queued and is
// sent again after the refusal's retry_after, then delivered; no receipt is
// taken for invalid.
TEST_P(ReceiptFramesTest, ARefusalAfterReceiptsKeepsTheReceiptsAndResendsTheRest) {
  auto stub = kz_.MinistryStub();
  const std::vector<std::string> record_ids = QueueThreeWhileThePeerIsAway(*stub);
  if (HasFailure()) return;
  peer_ = std::make_unique<FakeUzPeer>(pki_, ports_.uz_peer.address(), Genuine(), /*first_group=*/3, GetParam(),
                                       /*refuse_after=*/2);
  ASSERT_TRUE(peer_->serving()) << "cannot listen again on " << ports_.uz_peer.address();
  for (const std::string& record_id : record_ids) {
    SCOPED_TRACE(record_id);
    EXPECT_EQ(WaitForOutcome(*stub, record_id).state(), v1::DELIVERY_STATE_DELIVERED) << "KZ log:\n" << kz_.log();
    EXPECT_EQ(peer_->AnsweredFor(record_id).size(), 1u) << "answered more than once";
    EXPECT_EQ(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_DELIVER, record_id).size(), 1u);
    EXPECT_TRUE(AuditFor(kz_.db_path(), v1::AUDIT_EVENT_KIND_RECEIPT_INVALID, record_id).empty());
  }
  EXPECT_EQ(peer_->refusals(), 1);
  EXPECT_EQ(peer_->LargestFrame(), GetParam() == FakeUzPeer::Frames::kBatched ? 3 : 1);
}

// A receipt correctly signed by UZ's gateway that `iicc-cli verify` still refuses as evidence (docs/security.md,
// "iicc-cli verify", checks 5 and 6): it names KZ as the receiver, or holds no verdict. The forwarder must not take
// it as the record's final outcome: the record would leave QUEUED for good, never to be sent again, with evidence
// that proves nothing.
TEST_F(ReceiptCheckTest, ReceiptThatIsNotEvidenceLeavesTheRecordQueued) {
  struct Case {
    const char* name;
    ReceiptMaker receipt;
    const char* detail;  // In the RECEIPT_INVALID entry.
  };
  const std::vector<Case> cases = {
      {"receiver KZ",
       [this](const v1::EnvelopeHeader& sent) {
         v1::ReceiptHeader header = AcceptedHeaderFor(sent);
         header.set_receiver(v1::JURISDICTION_KZ);
         return SignedReceipt(*uz_signer_, header);
       },
       "the receipt names another receiver than the record's destination"},
      {"no verdict",
       [this](const v1::EnvelopeHeader& sent) {
         v1::ReceiptHeader header = AcceptedHeaderFor(sent);
         header.set_verdict(v1::RECEIPT_VERDICT_UNSPECIFIED);
         return SignedReceipt(*uz_signer_, header);
       },
       "the receipt holds no verdict"},
  };
  auto stub = kz_.MinistryStub();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    peer_->Answer(c.receipt);
    const std::string request_id = absl::StrCat("not-evidence-", i);
    const std::string record_id = SubmitOrFail(*stub, request_id, NumberedCargo(request_id));
    ASSERT_FALSE(record_id.empty());
    const std::vector<v1::AuditEntry> invalid = WaitForReceiptInvalid(kz_.db_path(), record_id, 1);
    const v1::RecordStatus status = RecordStatusOf(*stub, record_id);
    EXPECT_EQ(status.state(), v1::DELIVERY_STATE_QUEUED)
        << v1::DeliveryState_Name(status.state()) << ", reason \"" << status.reason() << "\"";
    ASSERT_FALSE(invalid.empty());
    EXPECT_THAT(invalid.front().detail(), HasSubstr(c.detail));
    peer_->Answer(Genuine());
    WaitForOutcome(*stub, record_id, kWait);  // Out of the way of the next case, if it is still queued.
  }
}

}  // namespace
}  // namespace iicc::testing
