// Writes the seed corpus of envelope_receiver_fuzz, run once by hand (the
// seeds are committed; docs/testing.md, "Fuzzing"): a fresh UZ CA and signing certificate
// (fuzz_pki.h) sign envelopes carrying records from clients/examples, which
// are written as DeliverRequest frames (protobuf's delimited format) to
// corpus/envelope_receiver_fuzz/; the CA's certificate is written to
// envelope_receiver_fuzz_ca.inc for the target to trust. Its private keys
// are not kept: new seeds need a new CA (run this again).
//
//   cmake --build build --target make_envelope_seeds
//   build/fuzz/make_envelope_seeds .    # from the repository root
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/common/digest.h"
#include "gateway/proof/batch_signature.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "google/protobuf/util/json_util.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/fuzz/fuzz_pki.h"

namespace {

using iicc::v1::Envelope;
using iicc::v1::EnvelopeHeader;
using iicc::v1::Record;

std::string root;

void Fail(const std::string& why) {
  std::fprintf(stderr, "make_envelope_seeds: %s\n", why.c_str());
  std::exit(1);
}

Record Example(const std::string& name) {
  std::ifstream in(root + "/clients/examples/" + name);
  std::stringstream text;
  text << in.rdbuf();
  Record record;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &record).ok()) Fail("cannot parse " + name);
  return record;
}

EnvelopeHeader HeaderFor(const std::string& record_id, iicc::v1::RecordType type, const std::string& payload) {
  EnvelopeHeader header;
  header.set_record_id(record_id);
  header.set_origin(iicc::v1::JURISDICTION_UZ);
  header.set_destination(iicc::v1::JURISDICTION_KZ);
  header.set_record_type(type);
  // Seeds must stay verifiable: the chain is checked at this time, and a
  // time in the past never lies beyond the allowed clock skew.
  header.mutable_accepted_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  header.set_policy_version(std::string(64, 'a'));
  header.set_payload_digest(iicc::Sha256(payload));
  return header;
}

// Envelopes for `headers` and `payloads`, signed by `signer` as one batch.
std::vector<Envelope> Sign(const iicc::proof::Signer& signer, const std::vector<EnvelopeHeader>& headers,
                           const std::vector<std::string>& payloads,
                           iicc::proof::Purpose purpose = iicc::proof::Purpose::kEnvelope) {
  std::vector<std::string> serialized;
  for (const EnvelopeHeader& header : headers) serialized.push_back(header.SerializeAsString());
  absl::StatusOr<std::vector<iicc::v1::BatchProof>> proofs = signer.SignBatch(purpose, serialized);
  if (!proofs.ok()) Fail(std::string(proofs.status().message()));
  std::vector<Envelope> envelopes(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    envelopes[i].set_header(serialized[i]);
    envelopes[i].set_payload(payloads[i]);
    *envelopes[i].mutable_proof() = (*proofs)[i];
  }
  return envelopes;
}

void Write(const std::string& name, const std::vector<Envelope>& envelopes) {
  std::string frames;
  {
    google::protobuf::io::StringOutputStream out(&frames);
    for (const Envelope& envelope : envelopes) {
      iicc::v1::DeliverRequest request;
      *request.mutable_envelope() = envelope;
      if (!google::protobuf::util::SerializeDelimitedToZeroCopyStream(request, &out)) Fail("serialize");
    }
  }
  std::ofstream(root + "/tests/fuzz/corpus/envelope_receiver_fuzz/" + name, std::ios::binary) << frames;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Fail("usage: make_envelope_seeds REPOSITORY_ROOT");
  root = argv[1];
  const iicc::fuzz::SigningPki uz = iicc::fuzz::MakeSigningPki("UZ", "spiffe://uz.iicc/gateway");
  const std::unique_ptr<iicc::proof::Signer> signer = iicc::fuzz::LoadSigner(uz);
  const std::unique_ptr<iicc::proof::Signer> stranger =
      iicc::fuzz::LoadSigner(iicc::fuzz::MakeSigningPki("UZ", "spiffe://uz.iicc/gateway"));

  const std::string cargo = Example("cargo-uz-to-kz.json").SerializeAsString();
  const std::string enterprise = Example("enterprise.json").SerializeAsString();
  const std::string investment = Example("investment.json").SerializeAsString();
  const std::string arms = Example("refused/cargo-arms.json").SerializeAsString();
  const std::string invalid = Example("invalid/cargo-missing-direction.json").SerializeAsString();
  Record other_record = Example("cargo-uz-to-kz.json");
  other_record.mutable_cargo()->set_consignment_id("UZ-GUL-2026-000458");
  const std::string other = other_record.SerializeAsString();
  const std::string id1 = "019ad8a0-0000-7000-8000-000000000001";
  const std::string id2 = "019ad8a0-0000-7000-8000-000000000002";
  const std::string id3 = "019ad8a0-0000-7000-8000-000000000003";
  using iicc::v1::RECORD_TYPE_CARGO;

  // Accepted: a batch of three (Merkle paths), and a batch of one.
  const std::vector<Envelope> batch =
      Sign(*signer,
           {HeaderFor(id1, RECORD_TYPE_CARGO, cargo), HeaderFor(id2, iicc::v1::RECORD_TYPE_ENTERPRISE, enterprise),
            HeaderFor(id3, iicc::v1::RECORD_TYPE_INVESTMENT, investment)},
           {cargo, enterprise, investment});
  Write("valid_batch_of_three.bin", batch);
  const std::vector<Envelope> single = Sign(*signer, {HeaderFor(id1, RECORD_TYPE_CARGO, cargo)}, {cargo});
  Write("valid_single.bin", single);

  // Signed, judged, rejected: by the inbound policy, by validation, misaddressed.
  Write("policy_denied.bin", Sign(*signer, {HeaderFor(id1, RECORD_TYPE_CARGO, arms)}, {arms}));
  Write("invalid_record.bin", Sign(*signer, {HeaderFor(id1, RECORD_TYPE_CARGO, invalid)}, {invalid}));
  EnvelopeHeader misaddressed = HeaderFor(id1, RECORD_TYPE_CARGO, cargo);
  misaddressed.set_destination(iicc::v1::JURISDICTION_UZ);
  const std::vector<Envelope> misaddressed_envelope = Sign(*signer, {misaddressed}, {cargo});
  Write("misaddressed.bin", misaddressed_envelope);

  // The same record twice, then its id with another payload (signed too).
  std::vector<Envelope> repeats = single;
  repeats.push_back(single[0]);
  repeats.push_back(Sign(*signer, {HeaderFor(id1, RECORD_TYPE_CARGO, other)}, {other})[0]);
  Write("duplicate_then_conflict.bin", repeats);
  // A signed copy of an accepted record under another header: the original
  // receipt answers it.
  Write("duplicate_misaddressed.bin", {single[0], misaddressed_envelope[0]});

  // Tampered after signing: the payload, the header, a Merkle path, the signature.
  std::vector<Envelope> tampered = single;
  tampered[0].set_payload(other);
  Write("tampered_payload.bin", tampered);
  tampered = single;
  EnvelopeHeader header;
  header.ParseFromString(tampered[0].header());
  header.set_record_id(id2);
  tampered[0].set_header(header.SerializeAsString());
  Write("tampered_header.bin", tampered);
  tampered = batch;
  std::string* sibling = tampered[1].mutable_proof()->mutable_merkle_path(0);
  (*sibling)[0] = static_cast<char>((*sibling)[0] ^ 1);
  Write("tampered_merkle_path.bin", tampered);
  tampered = single;
  std::string* signature = tampered[0].mutable_proof()->mutable_signature();
  (*signature)[signature->size() - 1] = static_cast<char>((*signature)[signature->size() - 1] ^ 1);
  Write("tampered_signature.bin", tampered);

  // Signed, but not as the peer's envelope: by an untrusted CA, for receipts.
  Write("untrusted_signer.bin", Sign(*stranger, {HeaderFor(id1, RECORD_TYPE_CARGO, cargo)}, {cargo}));
  Write("receipt_purpose.bin",
        Sign(*signer, {HeaderFor(id1, RECORD_TYPE_CARGO, cargo)}, {cargo}, iicc::proof::Purpose::kReceipt));

  // Nothing: no frame at all, and one empty DeliverRequest.
  Write("empty.bin", {});
  Write("empty_envelope.bin", {Envelope()});

  std::ofstream ca(root + "/tests/fuzz/envelope_receiver_fuzz_ca.inc");
  ca << "// Generated by make_envelope_seeds.cc: the UZ CA that signed the seeds of\n"
        "// corpus/envelope_receiver_fuzz/ (its key was not kept). Included by\n"
        "// envelope_receiver_fuzz.cc.\n"
        "constexpr char kSeedCaPem[] = R\"pem("
     << uz.ca_pem << ")pem\";\n";
  std::printf("make_envelope_seeds: wrote the seeds and envelope_receiver_fuzz_ca.inc\n");
  return 0;
}
