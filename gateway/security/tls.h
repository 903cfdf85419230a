// Mutual TLS for the gateway's faces and its outgoing peer channel, and the
// caller's SPIFFE ID once a handshake is done.
//
// Certificates come from files watched by gRPC's FileWatcherCertificateProvider,
// so a certificate replaced on disk (atomically, by rename) serves the next
// handshake without a restart.
#ifndef IICC_GATEWAY_SECURITY_TLS_H_
#define IICC_GATEWAY_SECURITY_TLS_H_

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_verifier.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "iicc/v1/config.pb.h"

namespace grpc {
class AuthContext;
}  // namespace grpc

namespace iicc::security {

// How often watched certificate files are re-read, unless
// tls.reload_interval says otherwise.
inline constexpr unsigned int kCertificateRefreshSeconds = 60;

// Checks that the files of `tls` hold a PEM certificate chain, the matching
// private key and at least one CA certificate, and that the certificate is
// within its validity period and, if `chains_to_ca`, chains to one of the CA
// certificates (the ministry face's own CA; not so on the peer face, whose
// CA file is the other jurisdiction's). Errors name `field` (e.g.
// "peer.tls") and the file; never the key's contents.
absl::Status CheckTlsFiles(const v1::TlsConfig& tls, const std::string& field, bool chains_to_ca);

// The single spiffe:// URI SAN of the first certificate in the PEM file
// `cert_file`; INVALID_ARGUMENT naming the file otherwise.
absl::StatusOr<std::string> CertificateSpiffeId(const std::string& cert_file);

// What operators need to know of a certificate file as it is on disk now.
struct CertificateValidity {
  std::string spiffe_id;  // The URI SAN if there is exactly one, else "".
  absl::Time not_before;
  absl::Time not_after;
};

// The validity of the first certificate in the PEM file `cert_file`.
// INVALID_ARGUMENT naming the file if it cannot be read or holds no
// certificate.
absl::StatusOr<CertificateValidity> ReadCertificateValidity(const std::string& cert_file);

// Server credentials that require and verify a client certificate chaining
// to `tls.ca_file`, then ask `verifier` about the peer's identity.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const v1::TlsConfig& tls, std::shared_ptr<grpc::experimental::CertificateVerifier> verifier);

// Channel credentials presenting `tls.cert_file`, verifying the server's
// certificate against `tls.ca_file` and then with `verifier` (instead of a
// host name check: identities are SPIFFE IDs).
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const v1::TlsConfig& tls, std::shared_ptr<grpc::experimental::CertificateVerifier> verifier);

// A verifier that accepts a certificate whose only URI SAN is a valid SPIFFE
// ID, and, when `expected` is set, equal to it. Anything else fails the
// handshake.
std::shared_ptr<grpc::experimental::CertificateVerifier> MakeSpiffeVerifier(std::optional<std::string> expected);

// The authenticated caller's SPIFFE ID, or nullopt when the connection has
// none (gRPC sets it only for exactly one valid SPIFFE URI SAN).
std::optional<std::string> PeerSpiffeId(const grpc::AuthContext& context);

}  // namespace iicc::security

#endif  // IICC_GATEWAY_SECURITY_TLS_H_
