#include "gateway/security/certificate_verifier.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/common/files.h"
#include "gateway/common/log.h"
#include "gateway/common/openssl_ptr.h"
#include "gateway/metrics/metrics.h"
#include "gateway/security/spiffe_id.h"

namespace iicc::security {
namespace {

using openssl::UniqueBio;
using openssl::UniqueX509;

struct CrlDeleter {
  void operator()(X509_CRL* crl) const { X509_CRL_free(crl); }
};
using UniqueCrl = std::unique_ptr<X509_CRL, CrlDeleter>;

UniqueBio MemBio(const std::string& data) {
  return UniqueBio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::optional<absl::Time> ToTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
  return absl::FromTM(parts, absl::UTCTimeZone());
}

std::string TimeText(absl::Time time) { return absl::FormatTime(absl::RFC3339_sec, time, absl::UTCTimeZone()); }

// What identifies a file's version on disk without reading it.
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;

  bool operator==(const FileStamp& other) const {
    return exists == other.exists && device == other.device && inode == other.inode && size == other.size &&
           mtime_ns == other.mtime_ns;
  }
};

FileStamp StampOf(const std::string& path) {
  struct stat st;
  FileStamp stamp;
  if (stat(path.c_str(), &st) != 0) return stamp;
  stamp.exists = true;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return stamp;
}

}  // namespace

// One configured CRL file: what was loaded from it, or why nothing was.
struct RevocationLists::File {
  std::string field;  // "peer.tls.crl_files[0]"
  std::string path;
  FileStamp stamp;
  FileStamp ca_stamp;
  std::vector<UniqueCrl> crls;                    // Each verified against the CA file.
  absl::Time next_update = absl::InfinitePast();  // The earliest of the CRLs'.
  std::string problem;                            // Non-empty: nothing usable was loaded.

  std::string Name() const { return absl::StrCat(field, " ", path); }
};

void RevocationLists::LoadFile(File* file, const std::string& ca_file, absl::Time now) {
  file->crls.clear();
  file->next_update = absl::InfinitePast();
  file->problem.clear();
  file->stamp = StampOf(file->path);
  file->ca_stamp = StampOf(ca_file);
  absl::StatusOr<std::string> pem = ReadFileToString(file->path);
  if (!pem.ok()) {
    file->problem = "cannot be read (missing?)";
    return;
  }
  absl::StatusOr<std::string> ca_pem = ReadFileToString(ca_file);
  if (!ca_pem.ok()) {
    file->problem = absl::StrCat("its CA file ", ca_file, " cannot be read");
    return;
  }
  std::vector<UniqueX509> cas;
  {
    UniqueBio bio = MemBio(*ca_pem);
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) cas.emplace_back(ca);
  }
  UniqueBio bio = MemBio(*pem);
  std::vector<UniqueCrl> crls;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) crls.emplace_back(crl);
  ERR_clear_error();
  if (crls.empty()) {
    file->problem = "holds no PEM CRL";
    return;
  }
  absl::Time next_update = absl::InfiniteFuture();
  for (const UniqueCrl& crl : crls) {
    bool signed_by_ca = false;
    for (const UniqueX509& ca : cas) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) != 0) continue;
      EVP_PKEY* key = X509_get0_pubkey(ca.get());
      if (key != nullptr && X509_CRL_verify(crl.get(), key) == 1) {
        signed_by_ca = true;
        break;
      }
    }
    ERR_clear_error();
    if (!signed_by_ca) {
      file->problem = absl::StrCat("a CRL is not signed by a CA of ", ca_file);
      return;
    }
    const std::optional<absl::Time> last = ToTime(X509_CRL_get0_lastUpdate(crl.get()));
    const std::optional<absl::Time> next = ToTime(X509_CRL_get0_nextUpdate(crl.get()));
    if (!last.has_value() || !next.has_value()) {
      file->problem = "a CRL has no lastUpdate or nextUpdate";
      return;
    }
    if (*last > now) {
      file->problem = absl::StrCat("a CRL is not yet valid (lastUpdate ", TimeText(*last), ")");
      return;
    }
    next_update = std::min(next_update, *next);
  }
  file->crls = std::move(crls);
  file->next_update = next_update;
}

RevocationLists::RevocationLists(std::string field, std::string ca_file, std::vector<std::unique_ptr<File>> files)
    : field_(std::move(field)), ca_file_(std::move(ca_file)), files_(std::move(files)) {}

RevocationLists::~RevocationLists() = default;

absl::StatusOr<std::shared_ptr<RevocationLists>> RevocationLists::Load(const v1::TlsConfig& tls,
                                                                       const std::string& field) {
  if (tls.crl_files().empty()) return nullptr;
  const absl::Time now = absl::Now();
  std::vector<std::unique_ptr<File>> files;
  for (int i = 0; i < tls.crl_files_size(); ++i) {
    auto file = std::make_unique<File>();
    file->field = absl::StrCat(field, ".crl_files[", i, "]");
    file->path = tls.crl_files(i);
    LoadFile(file.get(), tls.ca_file(), now);
    if (file->problem.empty() && now >= file->next_update) {
      file->problem = absl::StrCat("expired (nextUpdate ", TimeText(file->next_update), ")");
    }
    if (!file->problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file->field, ": '", file->path, "' ", file->problem));
    }
    files.push_back(std::move(file));
  }
  return std::shared_ptr<RevocationLists>(new RevocationLists(field, tls.ca_file(), std::move(files)));
}

void RevocationLists::Refresh() {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (std::unique_ptr<File>& file : files_) {
    if (StampOf(file->path) == file->stamp && StampOf(ca_file_) == file->ca_stamp && file->stamp.exists) continue;
    // Loaded aside, then swapped in: a handshake never sees half a file.
    auto fresh = std::make_unique<File>();
    fresh->field = file->field;
    fresh->path = file->path;
    LoadFile(fresh.get(), ca_file_, now);
    if (fresh->problem.empty()) {
      Log(LogLevel::kInfo, "tls.crl_loaded",
          {{"file", fresh->path}, {"field", fresh->field}, {"next_update", TimeText(fresh->next_update)}});
    } else {
      Log(LogLevel::kError, "tls.crl_unusable",
          {{"file", fresh->path}, {"field", fresh->field}, {"problem", fresh->problem}});
    }
    file = std::move(fresh);
  }
}

absl::Status RevocationLists::Health(absl::Time now) const {
  std::vector<std::string> problems;
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<File>& file : files_) {
    if (!file->problem.empty()) {
      problems.push_back(absl::StrCat(file->Name(), ": ", file->problem));
    } else if (now >= file->next_update) {
      problems.push_back(absl::StrCat(file->Name(), ": expired (nextUpdate ", TimeText(file->next_update), ")"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(problems, "; "));
}

absl::Status RevocationLists::Check(const X509* leaf, absl::Time now) const {
  if (absl::Status health = Health(now); !health.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("revocation cannot be checked (fail-closed): ", health.message()));
  }
  const X509_NAME* issuer = X509_get_issuer_name(leaf);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf);
  bool issuer_covered = false;
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<File>& file : files_) {
    for (const UniqueCrl& crl : file->crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), issuer) != 0) continue;
      issuer_covered = true;
      X509_REVOKED* revoked = nullptr;
      if (X509_CRL_get0_by_serial(crl.get(), &revoked, const_cast<ASN1_INTEGER*>(serial)) == 1) {
        return absl::UnauthenticatedError(absl::StrCat("the certificate is revoked (", file->Name(), ")"));
      }
    }
  }
  if (!issuer_covered) {
    return absl::UnauthenticatedError(
        absl::StrCat("no CRL of the certificate's issuing CA in ", field_, ".crl_files (fail-closed)"));
  }
  return absl::OkStatus();
}

namespace {

std::string SerialHex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* number = ASN1_INTEGER_to_BN(serial, nullptr);
  if (number == nullptr) return "";
  char* hex = BN_bn2hex(number);
  std::string text = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(number);
  return text;
}

// The check itself, with what the log line needs of the certificate, and on
// a refusal its class for iicc_tls_handshakes_refused_total (one of
// metrics::kHandshakeRefusalReasons).
absl::Status Check(const std::string& leaf_pem, const CertificatePolicy& policy, absl::Time now, std::string* serial,
                   std::string* spiffe_id, const char** reason) {
  *reason = "other";
  UniqueBio bio = MemBio(leaf_pem);
  UniqueX509 leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (leaf == nullptr) return absl::UnauthenticatedError("no peer certificate");
  *serial = SerialHex(leaf.get());
  const std::vector<std::string> uris = UriSans(leaf.get());
  if (uris.size() == 1) *spiffe_id = uris.front();

  // OpenSSL's chain verification refuses these already; checked again here
  // so that this check stands on its own.
  const std::optional<absl::Time> not_before = ToTime(X509_get0_notBefore(leaf.get()));
  const std::optional<absl::Time> not_after = ToTime(X509_get0_notAfter(leaf.get()));
  *reason = "validity";
  if (!not_before.has_value() || !not_after.has_value()) {
    return absl::UnauthenticatedError("the certificate has a malformed validity period");
  }
  if (now < *not_before) return absl::UnauthenticatedError("the certificate is not yet valid");
  if (now >= *not_after) return absl::UnauthenticatedError("the certificate has expired");

  // A certificate without the extension would pass OpenSSL's purpose check
  // (no extended key usage means any use): the faces require it explicitly.
  *reason = "extended_key_usage";
  const bool has_usage = (X509_get_extension_flags(leaf.get()) & EXFLAG_XKUSAGE) != 0;
  const uint32_t usage = X509_get_extended_key_usage(leaf.get());
  if (policy.required_usage == ExtendedKeyUsage::kClientAuth && (!has_usage || (usage & XKU_SSL_CLIENT) == 0)) {
    return absl::UnauthenticatedError("the certificate lacks the clientAuth extended key usage");
  }
  if (policy.required_usage == ExtendedKeyUsage::kServerAuth && (!has_usage || (usage & XKU_SSL_SERVER) == 0)) {
    return absl::UnauthenticatedError("the certificate lacks the serverAuth extended key usage");
  }

  *reason = "spiffe_id";
  if (uris.size() != 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("the certificate must carry exactly one URI SAN (a SPIFFE ID), not ", uris.size()));
  }
  if (absl::Status syntax = CheckSpiffeId(uris.front()); !syntax.ok()) {
    spiffe_id->clear();  // Not an identity: not logged either.
    return absl::UnauthenticatedError(absl::StrCat("the certificate's URI SAN is not a SPIFFE ID: ", syntax.message()));
  }
  if (policy.expected_spiffe_id.has_value() && uris.front() != *policy.expected_spiffe_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("identity ", uris.front(), " is not the configured peer ", *policy.expected_spiffe_id));
  }
  if (policy.revocation != nullptr) {
    const absl::Status revocation = policy.revocation->Check(leaf.get(), now);
    *reason = absl::StrContains(revocation.message(), "is revoked") ? "revoked" : "crl_unavailable";
    return revocation;
  }
  return absl::OkStatus();
}

grpc::StatusCode GrpcCode(absl::StatusCode code) {
  return code == absl::StatusCode::kPermissionDenied ? grpc::StatusCode::PERMISSION_DENIED
                                                     : grpc::StatusCode::UNAUTHENTICATED;
}

class Verifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit Verifier(CertificatePolicy policy) : policy_(std::move(policy)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    std::string serial;
    std::string spiffe_id;
    const char* reason = "other";
    const absl::Status checked =
        Check(std::string(pem.data(), pem.size()), policy_, absl::Now(), &serial, &spiffe_id, &reason);
    if (checked.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      Log(LogLevel::kWarning, "tls.peer_refused",
          {{"face", policy_.face}, {"serial", serial}, {"spiffe_id", spiffe_id}, {"reason", checked.message()}});
      metrics::Default().HandshakeRefused(policy_.face, reason);
      *sync_status = grpc::Status(GrpcCode(checked.code()), std::string(checked.message()));
    }
    return true;  // Decided synchronously.
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const CertificatePolicy policy_;
};

}  // namespace

absl::Status CheckPeerCertificate(const std::string& leaf_pem, const CertificatePolicy& policy, absl::Time now) {
  std::string serial;
  std::string spiffe_id;
  const char* reason;
  return Check(leaf_pem, policy, now, &serial, &spiffe_id, &reason);
}

std::vector<std::string> UriSans(const X509* cert) {
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)), ASN1_STRING_length(uri));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

std::shared_ptr<grpc::experimental::CertificateVerifier> MakeCertificateVerifier(CertificatePolicy policy) {
  return grpc::experimental::ExternalCertificateVerifier::Create<Verifier>(std::move(policy));
}

}  // namespace iicc::security
