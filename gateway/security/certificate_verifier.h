// What a gateway checks of the certificate the other side of a handshake
// presents, beyond the chain to its trust anchor that gRPC (OpenSSL) checks:
// the validity period, the extended key usage the face needs, the SPIFFE ID
// (its syntax, and that it is the expected one), and revocation against the
// CRLs of the face's configuration (TlsConfig.crl_files).
//
// gRPC 1.51's own CRL directory lets a certificate through when its CRL is
// missing and never reloads; these checks are fail-closed and follow the
// files on disk:
//
//   absl::StatusOr<std::shared_ptr<RevocationLists>> crls =
//       RevocationLists::Load(config.peer().tls(), "peer.tls");
//   auto verifier = MakeCertificateVerifier({"peer", ExtendedKeyUsage::kClientAuth,
//                                            "spiffe://uz.iicc/gateway", *crls});
//   crls->Refresh();  // Periodically: re-reads the files that changed.
#ifndef IICC_GATEWAY_SECURITY_CERTIFICATE_VERIFIER_H_
#define IICC_GATEWAY_SECURITY_CERTIFICATE_VERIFIER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/security/tls_certificate_verifier.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "iicc/v1/config.pb.h"

struct x509_st;  // OpenSSL's X509.

namespace iicc::security {

// The CRLs of one face (TlsConfig.crl_files), each checked against the CA
// certificates of the face's ca_file, re-read when a file changes.
// Thread-safe: handshakes check while the readiness monitor refreshes.
class RevocationLists {
 public:
  // Loads every file of `tls.crl_files`. Each must hold at least one PEM CRL,
  // every CRL signed by a certificate of `tls.ca_file` and current (its
  // lastUpdate passed, its nextUpdate not). Errors name `field`
  // ("peer.tls.crl_files[0]: ...") and the file. nullptr (and OK) when no
  // CRL is configured: revocation is then not checked.
  static absl::StatusOr<std::shared_ptr<RevocationLists>> Load(const v1::TlsConfig& tls, const std::string& field);

  // Reads again each file whose size, modification time or inode changed
  // (a rename over it, or a write in place), and the CA file with it. A file
  // that is now missing or bad replaces what was loaded from it: the face is
  // then closed (Check refuses everything) until the file is repaired.
  void Refresh();

  // OK if every configured CRL is loaded and current at `now`; otherwise
  // UNAVAILABLE naming the field and file of each problem, "; "-separated.
  absl::Status Health(absl::Time now) const;

  // OK if the face is healthy at `now` and a loaded CRL of `leaf`'s issuer
  // does not list its serial number. UNAUTHENTICATED otherwise: revoked, no
  // CRL of its issuer, or the face's CRLs unusable (fail-closed).
  // REQUIRES: `leaf` has passed chain verification against ca_file.
  absl::Status Check(const x509_st* leaf, absl::Time now) const;

  ~RevocationLists();

 private:
  struct File;
  // Reads and checks `file->path` against the CA certificates in `ca_file`
  // at `now`, filling `file` (its problem on failure).
  static void LoadFile(File* file, const std::string& ca_file, absl::Time now);
  RevocationLists(std::string field, std::string ca_file, std::vector<std::unique_ptr<File>> files);

  const std::string field_;
  const std::string ca_file_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<File>> files_ ABSL_GUARDED_BY(mu_);
};

// The URI subject alternative names of `cert`, in order.
std::vector<std::string> UriSans(const x509_st* cert);

// The extended key usage a face requires of the other side's certificate.
enum class ExtendedKeyUsage {
  kClientAuth,  // The ministry and peer faces: callers are TLS clients.
  kServerAuth,  // The forwarder's channel: the other gateway is the server.
};

// What one face, or the forwarder's channel, requires.
struct CertificatePolicy {
  // For logs: "ministry", "peer" or "link".
  std::string face;
  ExtendedKeyUsage required_usage = ExtendedKeyUsage::kClientAuth;
  // The only SPIFFE ID accepted; any valid one when unset.
  std::optional<std::string> expected_spiffe_id;
  // The face's CRLs; revocation is not checked when null.
  std::shared_ptr<const RevocationLists> revocation;
};

// Checks the PEM certificate `leaf_pem` (the other side's leaf, already
// chained to the face's CA by gRPC) against `policy` at `now`: within its
// validity period, carrying the required extended key usage, exactly one
// URI SAN that is a valid SPIFFE ID (and the expected one), not revoked.
// UNAUTHENTICATED, or PERMISSION_DENIED for a valid but unexpected identity,
// with a message that names the rule broken (never the subject's name).
absl::Status CheckPeerCertificate(const std::string& leaf_pem, const CertificatePolicy& policy, absl::Time now);

// A verifier for grpc's TLS options that runs CheckPeerCertificate on every
// handshake and logs each refusal ("tls.peer_refused", with the face, the
// certificate's serial number and SPIFFE ID, and the reason).
std::shared_ptr<grpc::experimental::CertificateVerifier> MakeCertificateVerifier(CertificatePolicy policy);

}  // namespace iicc::security

#endif  // IICC_GATEWAY_SECURITY_CERTIFICATE_VERIFIER_H_
