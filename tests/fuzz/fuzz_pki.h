// Certificates for the fuzz targets, made in-process with OpenSSL: a CA and a
// signing certificate of the kind certs/make-dev-pki.sh issues (ECDSA P-256;
// keyUsage digitalSignature and nonRepudiation; no extended key usage; one
// spiffe:// URI SAN), valid from 2020 to 2120 so that seeds signed once stay
// verifiable and a signer made at start-up is valid now.
#ifndef IICC_TESTS_FUZZ_FUZZ_PKI_H_
#define IICC_TESTS_FUZZ_FUZZ_PKI_H_

#include <memory>
#include <string>

#include "gateway/proof/batch_signature.h"

namespace iicc::fuzz {

struct SigningPki {
  std::string ca_pem;    // The CA certificate (PEM).
  std::string cert_pem;  // The signing certificate, issued by the CA (PEM).
  std::string key_pem;   // The signing certificate's private key (PEM).
};

// A fresh CA named after `side` ("KZ", "UZ") and a signing certificate for
// `spiffe_id` under it. Aborts if OpenSSL fails: fuzz set-up, not input.
SigningPki MakeSigningPki(const std::string& side, const std::string& spiffe_id);

// The Signer of `pki`, loaded through proof::Signer::Load from files in a
// temporary directory removed again before it returns. Aborts on failure.
std::unique_ptr<proof::Signer> LoadSigner(const SigningPki& pki);

// A Verifier trusting `ca_pem`. Aborts on failure.
std::unique_ptr<proof::Verifier> VerifierFor(const std::string& ca_pem);

}  // namespace iicc::fuzz

#endif  // IICC_TESTS_FUZZ_FUZZ_PKI_H_
