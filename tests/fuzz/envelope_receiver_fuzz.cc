// Fuzz target: the peer face's handling of what the other gateway sends. The
// input is a stream of DeliverRequest frames (each a varint length, then the
// serialized message, as protobuf's delimited format writes them), judged as
// one batch by the real EnvelopeReceiver of a KZ gateway: header checks, the
// batch proof (Merkle path, ECDSA signature, certificate chain against the UZ
// CA that signed the seeds), payload parse, validation, inbound policy, a
// real SQLite store (in memory and fresh for each input, so that an input's
// outcome does not depend on those before it) and signed receipts. Then the
// same batch again, as a sender that lost the answers resends it.
//
// The seeds (corpus/envelope_receiver_fuzz/) are signed by a UZ CA made once
// by make_envelope_seeds.cc, whose certificate is envelope_receiver_fuzz_ca.inc;
// see docs/testing.md, "Fuzzing". The receipt signer is made at start-up (fuzz_pki.h).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gateway/common/digest.h"
#include "gateway/common/log.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/records.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/uuid.h"
#include "gateway/exchange/envelope_receiver.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/store/sqlite_store.h"
#include "gateway/validation/record_validator.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/fuzz/fuzz_pki.h"

namespace {

#include "tests/fuzz/envelope_receiver_fuzz_ca.inc"  // kSeedCaPem

constexpr char kUzGateway[] = "spiffe://uz.iicc/gateway";
constexpr char kKzGateway[] = "spiffe://kz.iicc/gateway";
// More envelopes add little but time: the receiver treats each alike.
constexpr size_t kMaxEnvelopes = 8;

// The KZ demo policy's inbound half (gateway/config/kz.policy.textproto).
constexpr char kPolicy[] = R"pb(
  jurisdiction: JURISDICTION_KZ
  inbound {
    record_type: RECORD_TYPE_CARGO
    default_action: DEFAULT_ACTION_KEEP
    rules {
      field: "cargo.goods.hs6"
      require {}
      reason: "r"
    }
    rules {
      field: "cargo.goods.hs6"
      deny_if { starts_with: [ "93" ] }
      reason: "r"
    }
  }
  inbound { record_type: RECORD_TYPE_ENTERPRISE default_action: DEFAULT_ACTION_KEEP }
  inbound { record_type: RECORD_TYPE_INVESTMENT default_action: DEFAULT_ACTION_KEEP }
)pb";

// A broken invariant: report it and crash, so that libFuzzer keeps the input.
void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "envelope_receiver_fuzz: invariant broken: %s\n", what);
    abort();
  }
}

struct Fixture {
  Fixture() {
    iicc::SetLogLevel(iicc::LogLevel::kError);  // One line per envelope otherwise.
    google::protobuf::SetLogHandler(nullptr);   // Nor a line per string of invalid UTF-8.
    const iicc::fuzz::SigningPki kz = iicc::fuzz::MakeSigningPki("KZ", kKzGateway);
    signer = iicc::fuzz::LoadSigner(kz);
    kz_verifier = iicc::fuzz::VerifierFor(kz.ca_pem);
    uz_verifier = iicc::fuzz::VerifierFor(kSeedCaPem);
    auto compiled = iicc::policy::CompiledPolicy::Parse(kPolicy, "fuzz", {}, iicc::v1::JURISDICTION_KZ);
    Check(compiled.ok(), "the fixed policy compiles");
    policy = std::make_unique<iicc::policy::ActivePolicy>(*compiled);
    version = (*compiled)->version();
  }
  std::unique_ptr<iicc::proof::Signer> signer;
  std::unique_ptr<iicc::proof::Verifier> kz_verifier;
  std::unique_ptr<iicc::proof::Verifier> uz_verifier;
  std::unique_ptr<iicc::policy::ActivePolicy> policy;
  std::string version;
};

// Whether `envelope` is what the UZ gateway signed: a UUIDv7 record id, a
// batch proof that verifies, and the payload the header names.
bool Signed(const Fixture& fixture, const iicc::v1::Envelope& envelope) {
  iicc::v1::EnvelopeHeader header;
  if (!header.ParseFromString(envelope.header()) || !iicc::IsUuidV7(header.record_id())) return false;
  if (header.payload_digest() != iicc::Sha256(envelope.payload())) return false;
  return fixture.uz_verifier
      ->Verify(iicc::proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), kUzGateway,
               iicc::FromTimestamp(header.accepted_time()))
      .ok();
}

// Whether the payload is a record valid on the peer face.
bool ValidPayload(const iicc::v1::Envelope& envelope) {
  iicc::v1::Record record;
  return record.ParseFromString(envelope.payload()) &&
         iicc::validation::ValidateRecord(record, iicc::validation::Face::kPeer).empty();
}

// Whether `envelope` is signed, addressed from UZ to KZ, and holds a valid
// record of the type its header names: what an accepted receipt vouches for.
bool Genuine(const Fixture& fixture, const iicc::v1::Envelope& envelope) {
  iicc::v1::EnvelopeHeader header;
  iicc::v1::Record record;
  return Signed(fixture, envelope) && header.ParseFromString(envelope.header()) &&
         header.origin() == iicc::v1::JURISDICTION_UZ && header.destination() == iicc::v1::JURISDICTION_KZ &&
         record.ParseFromString(envelope.payload()) && iicc::RecordTypeOf(record) == header.record_type() &&
         ValidPayload(envelope);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* const fixture = new Fixture();
  static const bool debug = getenv("IICC_FUZZ_DEBUG") != nullptr;

  std::vector<iicc::v1::DeliverRequest> requests;
  google::protobuf::io::CodedInputStream input(data, static_cast<int>(size));
  while (requests.size() < kMaxEnvelopes) {
    iicc::v1::DeliverRequest request;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromCodedStream(&request, &input, &clean_eof)) break;
    requests.push_back(std::move(request));
  }
  if (requests.empty()) return 0;
  std::vector<const iicc::v1::Envelope*> envelopes;
  for (const iicc::v1::DeliverRequest& request : requests) envelopes.push_back(&request.envelope());

  absl::StatusOr<std::unique_ptr<iicc::store::SqliteStore>> store = iicc::store::SqliteStore::Open(":memory:");
  Check(store.ok(), "an in-memory store opens");
  iicc::SequenceNotifier inbox;
  iicc::exchange::EnvelopeReceiver receiver(iicc::v1::JURISDICTION_KZ, store->get(), fixture->policy.get(),
                                            fixture->signer.get(), fixture->uz_verifier.get(), kUzGateway, &inbox);

  const std::vector<iicc::v1::DeliverResponse> first = receiver.ReceiveBatch(envelopes);
  Check(first.size() == envelopes.size(), "one answer per envelope");
  std::set<std::string> accepted_ids;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    // A healthy store and signer never refuse: every envelope is judged.
    Check(first[i].has_receipt(), "a receipt, not a refusal");
    iicc::v1::ReceiptHeader header;
    Check(header.ParseFromString(first[i].receipt().header()), "the receipt header parses");
    Check(header.receiver() == iicc::v1::JURISDICTION_KZ, "the receipt names the receiver");
    Check(header.payload_digest() == iicc::Sha256(envelopes[i]->payload()), "the receipt names the payload judged");
    Check(header.policy_version() == fixture->version, "the receipt names the inbound policy");
    Check(header.record_id().empty() || iicc::IsUuidV7(header.record_id()), "only a UUIDv7 is echoed");
    const bool accepted = header.verdict() == iicc::v1::RECEIPT_VERDICT_ACCEPTED;
    Check(accepted || header.verdict() == iicc::v1::RECEIPT_VERDICT_REJECTED, "a verdict");
    Check(accepted == header.reason().empty(), "a rejection says why, an acceptance does not");
    Check(fixture->kz_verifier
              ->Verify(iicc::proof::Purpose::kReceipt, first[i].receipt().header(), first[i].receipt().proof(),
                       kKzGateway, iicc::FromTimestamp(header.received_time()))
              .ok(),
          "the receipt's signature verifies");
    if (accepted) {
      // A signed copy of an accepted record (same id and payload) is answered
      // with the original receipt even if its own header differs (another
      // destination, say): the receipt is about the record.
      Check(Signed(*fixture, *envelopes[i]) && ValidPayload(*envelopes[i]), "an accepted envelope is signed and valid");
      accepted_ids.insert(header.record_id());
    }
    if (debug) {
      std::fprintf(stderr, "envelope %zu: %s %s\n", i, accepted ? "ACCEPTED" : "REJECTED", header.reason().c_str());
    }
  }

  // Each accepted record came, in this batch, in a genuine envelope.
  for (const std::string& id : accepted_ids) {
    bool genuine = false;
    for (size_t i = 0; i < envelopes.size() && !genuine; ++i) {
      iicc::v1::EnvelopeHeader header;
      genuine = header.ParseFromString(envelopes[i]->header()) && header.record_id() == id &&
                Genuine(*fixture, *envelopes[i]);
    }
    Check(genuine, "an accepted record came in an envelope signed, addressed and valid");
  }

  absl::StatusOr<std::vector<iicc::store::InboxEntry>> stored = (*store)->ListInbox(0, {}, 1000);
  Check(stored.ok(), "the inbox lists");
  Check(stored->size() == accepted_ids.size(), "one inbox entry per accepted record id");
  for (const iicc::store::InboxEntry& entry : *stored) {
    Check(accepted_ids.count(entry.record_id) == 1, "only accepted records enter the inbox");
    iicc::v1::Record record;
    Check(record.ParseFromString(entry.record), "the inbox record parses");
    Check(iicc::validation::ValidateRecord(record, iicc::validation::Face::kPeer).empty(),
          "the inbox record, after the inbound policy, is valid");
  }

  // The sender resends the batch (it lost the answers): an accepted record
  // gets its receipt again byte for byte, and nothing enters twice.
  const std::vector<iicc::v1::DeliverResponse> again = receiver.ReceiveBatch(envelopes);
  Check(again.size() == envelopes.size(), "one answer per resent envelope");
  for (size_t i = 0; i < envelopes.size(); ++i) {
    iicc::v1::ReceiptHeader header;
    header.ParseFromString(first[i].receipt().header());
    if (header.verdict() == iicc::v1::RECEIPT_VERDICT_ACCEPTED) {
      Check(again[i].has_receipt() && again[i].receipt().SerializeAsString() == first[i].receipt().SerializeAsString(),
            "a resent accepted record gets its original receipt");
    }
  }
  absl::StatusOr<std::vector<iicc::store::InboxEntry>> after = (*store)->ListInbox(0, {}, 1000);
  Check(after.ok() && after->size() == stored->size(), "a resent batch adds nothing to the inbox");
  return 0;
}
