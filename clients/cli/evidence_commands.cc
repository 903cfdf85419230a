// export, verify, audit verify, audit export: offline, no connection.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "gateway/common/digest.h"
#include "gateway/common/files.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/records.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/store/audit.h"
#include "gateway/store/evidence_reader.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "iicc/v1/audit.pb.h"

namespace iicc::cli {
namespace {

// Audit entries read per query when walking the chain.
constexpr int kAuditPage = 1000;

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "iicc-cli: %s\n", std::string(status.message()).c_str());
}

std::unique_ptr<store::EvidenceReader> OpenOrPrint(const std::string& db_file) {
  absl::StatusOr<std::unique_ptr<store::EvidenceReader>> reader = store::EvidenceReader::Open(db_file);
  if (!reader.ok()) {
    PrintError(reader.status());
    return nullptr;
  }
  return *std::move(reader);
}

// The gateway identity that signs for `jurisdiction`; "" for none.
std::string GatewayOf(v1::Jurisdiction jurisdiction) {
  switch (jurisdiction) {
    case v1::JURISDICTION_KZ:
      return "spiffe://kz.iicc/gateway";
    case v1::JURISDICTION_UZ:
      return "spiffe://uz.iicc/gateway";
    default:
      return "";
  }
}

std::string Rfc3339(const google::protobuf::Timestamp& t) { return google::protobuf::util::TimeUtil::ToString(t); }

// Text from the evidence file, safe to print on a terminal: C0 and C1
// control characters (the latter as UTF-8, U+0080..U+009F) become '?'.
std::string Printable(absl::string_view text) {
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c == 0x7f) {
      out[i] = '?';
    } else if (c == 0xc2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(out[i + 1]) <= 0x9f) {
      out[i] = '?';
      out[i + 1] = '?';
    }
  }
  return out;
}

// The trust domain of a SPIFFE ID: "kz.iicc" for "spiffe://kz.iicc/gateway".
std::string TrustDomainOf(absl::string_view spiffe_id) {
  absl::ConsumePrefix(&spiffe_id, "spiffe://");
  return std::string(spiffe_id.substr(0, spiffe_id.find('/')));
}

// One trusted CA file, bound to a trust domain or not.
struct TrustedCa {
  std::string file;
  std::string trust_domain;  // Empty: not bound (--ca FILE).
  std::unique_ptr<proof::Verifier> verifier;
};

// The checks of `verify`, in order; each prints what it proved, or the
// failure, and returns false at the first failure.
//
// Each signature must chain to one CA file alone: the one bound to its
// signer's trust domain (--ca kz.iicc=FILE) or, without bindings for that
// domain, any unbound one. And the two signatures may not rest on the same
// CA: one jurisdiction's CA cannot vouch for the other's gateway (else KZ's
// CA could issue a "spiffe://uz.iicc/gateway" certificate and forge UZ's
// receipts).
class EvidenceCheck {
 public:
  EvidenceCheck(const v1::Evidence& evidence, const std::vector<TrustedCa>& cas) : evidence_(evidence), cas_(cas) {}

  bool Run() { return Envelope() && Receipt(); }

 private:
  static bool Fail(absl::string_view what) {
    std::printf("FAILED: %s\n", std::string(what).c_str());
    return false;
  }
  static void Proven(absl::string_view fact) { std::printf("proven: %s\n", std::string(fact).c_str()); }

  // Verifies against each candidate CA alone; on success sets `anchor` to
  // the CA file that verified it. Else the most telling error: a failure
  // past the chain (a bad signature) over "certificate chain: ...".
  absl::StatusOr<proof::Verifier::Verified> VerifyAnchored(proof::Purpose purpose, const std::string& header,
                                                           const v1::BatchProof& proof, const std::string& signer,
                                                           absl::Time at, std::string* anchor) const {
    const std::string domain = TrustDomainOf(signer);
    bool bound = false;
    for (const TrustedCa& ca : cas_) bound = bound || ca.trust_domain == domain;
    absl::Status best = absl::UnauthenticatedError(
        absl::StrCat("no --ca is bound to ", domain, " and none is unbound: nothing can vouch for it"));
    bool tried = false;
    for (const TrustedCa& ca : cas_) {
      if (ca.trust_domain != (bound ? domain : "")) continue;
      absl::StatusOr<proof::Verifier::Verified> verified = ca.verifier->Verify(purpose, header, proof, signer, at);
      if (verified.ok()) {
        *anchor = ca.file;
        return verified;
      }
      const bool chain_error = absl::StartsWith(verified.status().message(), "certificate chain:");
      if (!tried || !chain_error) best = verified.status();
      tried = true;
    }
    return best;
  }

  bool Envelope() {
    if (!evidence_.has_envelope()) return Fail("the evidence holds no envelope");
    const v1::Envelope& envelope = evidence_.envelope();
    if (!header_.ParseFromString(envelope.header()) || header_.record_id().empty()) {
      return Fail("the envelope's header does not parse as an EnvelopeHeader with a record id");
    }
    const std::string origin = GatewayOf(header_.origin());
    if (origin.empty()) return Fail("the envelope's origin is neither KZ nor UZ");
    if (GatewayOf(header_.destination()).empty() || header_.destination() == header_.origin()) {
      return Fail("the envelope's destination is not the origin's peer jurisdiction");
    }
    const absl::Time accepted = FromTimestamp(header_.accepted_time());
    absl::StatusOr<proof::Verifier::Verified> verified =
        VerifyAnchored(proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), origin, accepted, &anchor_);
    if (!verified.ok()) {
      return Fail(absl::StrCat("the envelope's signature (expected from ", origin, "): ", verified.status().message()));
    }
    envelope_anchor_sha256_ = verified->anchor_sha256;
    const std::string signed_digest = HexEncode(header_.payload_digest());
    Proven(absl::StrCat(verified->signer_spiffe_id, " signed record ", Printable(header_.record_id()), " (",
                        RecordTypeName(header_.record_type()), ") on ", Rfc3339(header_.accepted_time()),
                        ", payload SHA-256 ", signed_digest, ", outbound policy ",
                        Printable(header_.policy_version())));
    Proven(absl::StrCat("the envelope's signing certificate chains to ", anchor_, " and was valid on ",
                        Rfc3339(header_.accepted_time())));
    const std::string payload_digest = HexEncode(Sha256(envelope.payload()));
    if (payload_digest != signed_digest) {
      return Fail(absl::StrCat("the payload's SHA-256 is ", payload_digest, ", not the signed header's payload digest ",
                               signed_digest, ": the payload is not the one signed"));
    }
    Proven(absl::StrCat("the payload in this file is the one signed (SHA-256 ", payload_digest, ")"));
    return true;
  }

  bool Receipt() {
    if (!evidence_.has_receipt()) {
      return Fail("the evidence holds no receipt: it is incomplete (exported before the peer answered?)");
    }
    const v1::Receipt& receipt = evidence_.receipt();
    v1::ReceiptHeader header;
    if (!header.ParseFromString(receipt.header())) return Fail("the receipt's header does not parse");
    const std::string receiver = GatewayOf(header_.destination());
    const absl::Time received = FromTimestamp(header.received_time());
    std::string anchor;
    absl::StatusOr<proof::Verifier::Verified> verified =
        VerifyAnchored(proof::Purpose::kReceipt, receipt.header(), receipt.proof(), receiver, received, &anchor);
    if (!verified.ok()) {
      return Fail(
          absl::StrCat("the receipt's signature (expected from ", receiver, "): ", verified.status().message()));
    }
    // The same CA certificate, however many files or paths it came under.
    if (verified->anchor_sha256 == envelope_anchor_sha256_) {
      return Fail(absl::StrCat("the envelope's and the receipt's signatures both chain to ", anchor,
                               ": one CA cannot vouch for both jurisdictions' gateways; give each jurisdiction's "
                               "CA in its own --ca (or bind them: --ca kz.iicc=FILE --ca uz.iicc=FILE)"));
    }
    if (header.receiver() != header_.destination()) {
      return Fail("the receipt names another receiver than the envelope's destination");
    }
    if (header.record_id() != header_.record_id()) {
      return Fail(absl::StrCat("the receipt is for record ", Printable(header.record_id()), ", not ",
                               Printable(header_.record_id())));
    }
    if (header.payload_digest() != header_.payload_digest()) {
      return Fail(absl::StrCat("the receipt's payload digest ", HexEncode(header.payload_digest()),
                               " is not the envelope's ", HexEncode(header_.payload_digest())));
    }
    std::string verdict;
    switch (header.verdict()) {
      case v1::RECEIPT_VERDICT_ACCEPTED:
        verdict = "ACCEPTED it";
        break;
      case v1::RECEIPT_VERDICT_REJECTED:
        verdict = "REJECTED it";
        break;
      default:
        return Fail("the receipt holds no verdict");
    }
    std::string fact = absl::StrCat(verified->signer_spiffe_id, " received it on ", Rfc3339(header.received_time()),
                                    " and ", verdict, " under inbound policy ", Printable(header.policy_version()));
    if (header.verdict() == v1::RECEIPT_VERDICT_REJECTED) absl::StrAppend(&fact, ": ", Printable(header.reason()));
    Proven(fact);
    Proven(absl::StrCat("the receipt's signing certificate chains to ", anchor, " and was valid on ",
                        Rfc3339(header.received_time())));
    return true;
  }

  const v1::Evidence& evidence_;
  const std::vector<TrustedCa>& cas_;
  v1::EnvelopeHeader header_;           // Parsed by Envelope().
  std::string anchor_;                  // The CA file the envelope's signature chains to.
  std::string envelope_anchor_sha256_;  // And the SHA-256 of that CA certificate.
};

}  // namespace

int Export(const ExportOptions& options) {
  std::unique_ptr<store::EvidenceReader> reader = OpenOrPrint(options.db_file);
  if (reader == nullptr) return kExitUsage;
  absl::StatusOr<store::RecordEvidence> found = reader->FindRecord(options.record_id);
  if (!found.ok()) {
    PrintError(found.status());
    return kExitRefused;
  }
  const std::string json = ToJson(found->evidence) + "\n";
  if (options.out_file.empty()) {
    std::fwrite(json.data(), 1, json.size(), stdout);
  } else {
    std::ofstream out(options.out_file, std::ios::binary | std::ios::trunc);
    out << json;
    if (!out.flush()) {
      std::fprintf(stderr, "iicc-cli: cannot write %s\n", options.out_file.c_str());
      return kExitUsage;
    }
  }
  const bool outbound = found->direction == store::RecordEvidence::Direction::kOutbound;
  std::string missing;
  if (!found->evidence.has_envelope()) missing = "it holds no envelope (received before the store kept envelopes)";
  if (!found->evidence.has_receipt()) {
    missing = absl::StrCat("it holds no receipt yet: the record is ", v1::DeliveryState_Name(found->state));
  }
  if (!missing.empty()) {
    std::fprintf(stderr, "iicc-cli: warning: the evidence of record %s is incomplete: %s\n", options.record_id.c_str(),
                 missing.c_str());
    return kExitRefused;
  }
  std::fprintf(stderr, "exported the %s evidence of record %s: envelope and receipt\n",
               outbound ? "outbound" : "inbound", options.record_id.c_str());
  return kExitOk;
}

int Verify(const VerifyOptions& options) {
  absl::StatusOr<std::string> json = ReadFileToString(options.evidence_file);
  if (!json.ok()) {
    PrintError(json.status());
    return kExitUsage;
  }
  v1::Evidence evidence;
  if (const auto parsed = google::protobuf::util::JsonStringToMessage(*json, &evidence); !parsed.ok()) {
    std::fprintf(stderr, "iicc-cli: %s: not an evidence file (iicc.v1.Evidence as JSON): %s\n",
                 options.evidence_file.c_str(), std::string(parsed.message()).c_str());
    return kExitUsage;
  }
  std::vector<TrustedCa> cas;
  for (const std::string& value : options.ca_files) {
    // "kz.iicc=FILE" binds the CA to a trust domain; a plain FILE does not.
    TrustedCa ca{value, "", nullptr};
    if (const size_t equals = value.find('=');
        equals != std::string::npos && equals > 0 && value.find_first_of("/\\", 0) > equals) {
      ca.trust_domain = value.substr(0, equals);
      ca.file = value.substr(equals + 1);
    }
    if (!ca.trust_domain.empty()) {
      // A bundle bound to one domain would let its other CAs vouch for it.
      absl::StatusOr<std::string> pem = ReadFileToString(ca.file);
      size_t certificates = 0;
      for (size_t at = 0; pem.ok() && (at = pem->find("-----BEGIN CERTIFICATE-----", at)) != std::string::npos; ++at) {
        ++certificates;
      }
      if (pem.ok() && certificates != 1) {
        std::fprintf(stderr, "iicc-cli: --ca %s: a CA bound to a trust domain must be one certificate, not %zu\n",
                     value.c_str(), certificates);
        return kExitUsage;
      }
    }
    absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier = proof::Verifier::Create({ca.file});
    if (!verifier.ok()) {
      PrintError(verifier.status());
      return kExitUsage;
    }
    ca.verifier = *std::move(verifier);
    cas.push_back(std::move(ca));
  }
  EvidenceCheck check(evidence, cas);
  return check.Run() ? kExitOk : kExitRefused;
}

int AuditVerify(const std::string& db_file) {
  std::unique_ptr<store::EvidenceReader> reader = OpenOrPrint(db_file);
  if (reader == nullptr) return kExitUsage;
  store::AuditChainVerifier verifier;
  int64_t after = 0;
  while (true) {
    absl::StatusOr<std::vector<v1::AuditEntry>> page = reader->ListAudit(after, kAuditPage);
    if (!page.ok()) {
      PrintError(page.status());
      return kExitRefused;
    }
    if (page->empty()) break;
    for (const v1::AuditEntry& entry : *page) {
      if (absl::Status status = verifier.Next(entry); !status.ok()) {
        std::printf("audit chain broken: %s\n", std::string(status.message()).c_str());
        return kExitRefused;
      }
    }
    after = page->back().sequence();
  }
  std::printf("audit chain intact: %lld entries, head %s\n", static_cast<long long>(verifier.verified()),
              HexEncode(verifier.head()).c_str());
  return kExitOk;
}

int AuditExport(const AuditExportOptions& options) {
  std::unique_ptr<store::EvidenceReader> reader = OpenOrPrint(options.db_file);
  if (reader == nullptr) return kExitUsage;
  int64_t after = options.after;
  while (true) {
    absl::StatusOr<std::vector<v1::AuditEntry>> page = reader->ListAudit(after, kAuditPage);
    if (!page.ok()) {
      PrintError(page.status());
      return kExitRefused;
    }
    if (page->empty()) return kExitOk;
    for (const v1::AuditEntry& entry : *page) std::printf("%s\n", ToJson(entry).c_str());
    after = page->back().sequence();
  }
}

}  // namespace iicc::cli
