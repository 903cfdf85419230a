// export, verify, audit verify, audit export: offline, no connection.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "gateway/common/digest.h"
#include "gateway/common/files.h"
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

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string Rfc3339(const google::protobuf::Timestamp& t) { return google::protobuf::util::TimeUtil::ToString(t); }

// Text from the evidence file, safe to print on a terminal: control
// characters become '?'.
std::string Printable(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// The checks of `verify`, in order; each prints what it proved, or the
// failure, and returns false at the first failure.
class EvidenceCheck {
 public:
  EvidenceCheck(const v1::Evidence& evidence, const proof::Verifier& all_cas,
                std::vector<std::pair<std::string, std::unique_ptr<proof::Verifier>>> each_ca)
      : evidence_(evidence), all_cas_(all_cas), each_ca_(std::move(each_ca)) {}

  bool Run() { return Envelope() && Receipt(); }

 private:
  static bool Fail(absl::string_view what) {
    std::printf("FAILED: %s\n", std::string(what).c_str());
    return false;
  }
  static void Proven(absl::string_view fact) { std::printf("proven: %s\n", std::string(fact).c_str()); }

  // The CA file that alone anchors a proof that verified with all of them.
  std::string AnchorOf(proof::Purpose purpose, const std::string& header, const v1::BatchProof& proof,
                       absl::Time at) const {
    for (const auto& [file, verifier] : each_ca_) {
      if (verifier->Verify(purpose, header, proof, "", at).ok()) return file;
    }
    return "the CA files given together";
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
        all_cas_.Verify(proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), origin, accepted);
    if (!verified.ok()) {
      return Fail(absl::StrCat("the envelope's signature (expected from ", origin, "): ", verified.status().message()));
    }
    const std::string signed_digest = HexEncode(header_.payload_digest());
    Proven(absl::StrCat(verified->signer_spiffe_id, " signed record ", Printable(header_.record_id()), " (",
                        RecordTypeName(header_.record_type()), ") on ", Rfc3339(header_.accepted_time()),
                        ", payload SHA-256 ", signed_digest, ", outbound policy ",
                        Printable(header_.policy_version())));
    Proven(absl::StrCat("the envelope's signing certificate chains to ",
                        AnchorOf(proof::Purpose::kEnvelope, envelope.header(), envelope.proof(), accepted),
                        " and was valid on ", Rfc3339(header_.accepted_time())));
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
    absl::StatusOr<proof::Verifier::Verified> verified =
        all_cas_.Verify(proof::Purpose::kReceipt, receipt.header(), receipt.proof(), receiver, received);
    if (!verified.ok()) {
      return Fail(
          absl::StrCat("the receipt's signature (expected from ", receiver, "): ", verified.status().message()));
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
    Proven(absl::StrCat("the receipt's signing certificate chains to ",
                        AnchorOf(proof::Purpose::kReceipt, receipt.header(), receipt.proof(), received),
                        " and was valid on ", Rfc3339(header.received_time())));
    return true;
  }

  const v1::Evidence& evidence_;
  const proof::Verifier& all_cas_;
  const std::vector<std::pair<std::string, std::unique_ptr<proof::Verifier>>> each_ca_;
  v1::EnvelopeHeader header_;  // Parsed by Envelope().
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
  absl::StatusOr<std::unique_ptr<proof::Verifier>> all_cas = proof::Verifier::Create(options.ca_files);
  if (!all_cas.ok()) {
    PrintError(all_cas.status());
    return kExitUsage;
  }
  std::vector<std::pair<std::string, std::unique_ptr<proof::Verifier>>> each_ca;
  for (const std::string& file : options.ca_files) {
    absl::StatusOr<std::unique_ptr<proof::Verifier>> one = proof::Verifier::Create({file});
    if (!one.ok()) {
      PrintError(one.status());
      return kExitUsage;
    }
    each_ca.emplace_back(file, *std::move(one));
  }
  EvidenceCheck check(evidence, **all_cas, std::move(each_ca));
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
