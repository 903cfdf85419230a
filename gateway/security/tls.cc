#include "gateway/security/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/common/files.h"
#include "gateway/common/openssl_ptr.h"
#include "gateway/common/status_macros.h"
#include "gateway/config/config_loader.h"
#include "gateway/security/certificate_verifier.h"

namespace iicc::security {
namespace {

using openssl::BioDeleter;
using openssl::KeyDeleter;
using openssl::StoreCtxDeleter;
using openssl::StoreDeleter;
using openssl::UniqueX509;
using StackDeleter = openssl::CertStackDeleter;

std::unique_ptr<BIO, BioDeleter> MemBio(const std::string& data) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::vector<UniqueX509> ReadCertificates(const std::string& pem) {
  std::vector<UniqueX509> certs;
  auto bio = MemBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  ERR_clear_error();
  return certs;
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchFiles(const v1::TlsConfig& tls) {
  const int64_t seconds = tls.has_reload_interval() ? tls.reload_interval().seconds() : kCertificateRefreshSeconds;
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.ca_file(), static_cast<unsigned int>(std::max<int64_t>(1, seconds)));
}

class SpiffeVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit SpiffeVerifier(std::optional<std::string> expected) : expected_(std::move(expected)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const std::vector<grpc::string_ref> uris = request->uri_names();
    if (uris.size() != 1) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  "the certificate must carry exactly one URI SAN (a SPIFFE ID)");
      return true;
    }
    const std::string uri(uris[0].data(), uris[0].size());
    if (!config::IsValidSpiffeId(uri)) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the certificate's URI SAN is not a SPIFFE ID");
    } else if (expected_.has_value() && uri != *expected_) {
      *sync_status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                  absl::StrCat("identity ", uri, " is not the configured peer ", *expected_));
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;  // Decided synchronously.
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::optional<std::string> expected_;
};

}  // namespace

absl::Status CheckTlsFiles(const v1::TlsConfig& tls, const std::string& field, bool chains_to_ca) {
  IICC_ASSIGN_OR_RETURN(std::string cert_pem, ReadFileToString(tls.cert_file()));
  IICC_ASSIGN_OR_RETURN(std::string key_pem, ReadFileToString(tls.key_file()));
  IICC_ASSIGN_OR_RETURN(std::string ca_pem, ReadFileToString(tls.ca_file()));

  std::vector<UniqueX509> chain = ReadCertificates(cert_pem);
  if (chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".cert_file: no PEM certificate in '", tls.cert_file(), "'"));
  }
  std::vector<UniqueX509> cas = ReadCertificates(ca_pem);
  if (cas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".ca_file: no PEM certificate in '", tls.ca_file(), "'"));
  }
  auto key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".key_file: no unencrypted PEM private key in '", tls.key_file(), "'"));
  }
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".key_file: '", tls.key_file(), "' is not the key of '", tls.cert_file(), "'"));
  }

  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  for (const UniqueX509& ca : cas) X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<STACK_OF(X509), StackDeleter> untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get());
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    const bool dates_only =
        !chains_to_ca && error != X509_V_ERR_CERT_HAS_EXPIRED && error != X509_V_ERR_CERT_NOT_YET_VALID;
    if (!dates_only) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".cert_file: '", tls.cert_file(),
                                                     "' does not verify: ", X509_verify_cert_error_string(error)));
    }
  }
  if (X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) <= 0 ||
      X509_cmp_current_time(X509_get0_notBefore(chain.front().get())) >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".cert_file: '", tls.cert_file(), "' is expired or not yet valid"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CertificateSpiffeId(const std::string& cert_file) {
  IICC_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(cert_file));
  std::vector<UniqueX509> chain = ReadCertificates(pem);
  if (chain.empty()) return absl::InvalidArgumentError(absl::StrCat("no PEM certificate in '", cert_file, "'"));
  const std::vector<std::string> uris = UriSans(chain.front().get());
  if (uris.size() != 1 || !config::IsValidSpiffeId(uris.front())) {
    return absl::InvalidArgumentError(absl::StrCat("'", cert_file, "' must carry exactly one URI SAN, a SPIFFE ID"));
  }
  return uris.front();
}

absl::StatusOr<CertificateValidity> ReadCertificateValidity(const std::string& cert_file) {
  IICC_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(cert_file));
  std::vector<UniqueX509> chain = ReadCertificates(pem);
  if (chain.empty()) return absl::InvalidArgumentError(absl::StrCat("no PEM certificate in '", cert_file, "'"));
  auto to_time = [](const ASN1_TIME* time) -> std::optional<absl::Time> {
    struct tm parts = {};
    if (ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
    return absl::FromTM(parts, absl::UTCTimeZone());
  };
  std::optional<absl::Time> not_before = to_time(X509_get0_notBefore(chain.front().get()));
  std::optional<absl::Time> not_after = to_time(X509_get0_notAfter(chain.front().get()));
  ERR_clear_error();
  if (!not_before.has_value() || !not_after.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("'", cert_file, "' has a malformed validity period"));
  }
  CertificateValidity validity;
  validity.spiffe_id = CertificateSpiffeId(cert_file).value_or("");
  validity.not_before = *not_before;
  validity.not_after = *not_after;
  return validity;
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const v1::TlsConfig& tls, std::shared_ptr<grpc::experimental::CertificateVerifier> verifier) {
  grpc::experimental::TlsServerCredentialsOptions options(WatchFiles(tls));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(std::move(verifier));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const v1::TlsConfig& tls, std::shared_ptr<grpc::experimental::CertificateVerifier> verifier) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(WatchFiles(tls));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::move(verifier));
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::experimental::CertificateVerifier> MakeSpiffeVerifier(std::optional<std::string> expected) {
  return grpc::experimental::ExternalCertificateVerifier::Create<SpiffeVerifier>(std::move(expected));
}

std::optional<std::string> PeerSpiffeId(const grpc::AuthContext& context) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (values.size() != 1) return std::nullopt;
  return std::string(values[0].data(), values[0].size());
}

}  // namespace iicc::security
