// Batch signatures for non-repudiation: a gateway signs the Merkle root
// (merkle.h) over the serialized headers of a batch once, with ECDSA P-256
// and its signing certificate, and hands each header its own BatchProof.
// Anyone holding the two CA certificates can then verify one header alone,
// years later:
//
//   IICC_ASSIGN_OR_RETURN(std::unique_ptr<Signer> signer, Signer::Load("signing.crt", "signing.key"));
//   IICC_ASSIGN_OR_RETURN(std::vector<v1::BatchProof> proofs, signer->SignBatch(Purpose::kEnvelope, headers));
//   ...
//   IICC_ASSIGN_OR_RETURN(std::unique_ptr<Verifier> verifier, Verifier::Create({"kz/ca.crt", "uz/ca.crt"}));
//   IICC_ASSIGN_OR_RETURN(Verifier::Verified verified,
//                         verifier->Verify(Purpose::kEnvelope, headers[i], proofs[i], "spiffe://kz.iicc/gateway",
//                                          header_time));
//
// The signed message is a context string naming the purpose, then the root:
//   "IICC-Exchange v1 envelope batch\0" || root    (Purpose::kEnvelope)
//   "IICC-Exchange v1 receipt batch\0"  || root    (Purpose::kReceipt)
// so that a signature made for one purpose never verifies for the other.
#ifndef IICC_GATEWAY_PROOF_BATCH_SIGNATURE_H_
#define IICC_GATEWAY_PROOF_BATCH_SIGNATURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "iicc/v1/peer_exchange.pb.h"

// OpenSSL's EVP_PKEY and X509_STORE, kept out of this header.
struct evp_pkey_st;
struct x509_store_st;

namespace iicc::proof {

// What a batch signature is for. It is part of the signed message (domain
// separation), so an envelope batch signature never passes as a receipt one.
enum class Purpose { kEnvelope, kReceipt };

// Signs batches with one ECDSA P-256 key and its certificate chain.
// Thread-safe: SignBatch() and the accessors are const and may run
// concurrently.
class Signer {
 public:
  // Loads `cert_file` (PEM: the signing certificate first, then any
  // intermediates, not the root) and `key_file` (its unencrypted PEM private
  // key). INVALID_ARGUMENT, naming the file and the problem, if a file cannot
  // be read, holds no certificate or key, the key is not ECDSA P-256 or not
  // the certificate's, or the certificate lacks the digitalSignature or
  // nonRepudiation key usage, carries a TLS extended key usage (serverAuth,
  // clientAuth), does not carry exactly one URI SAN which is a spiffe:// ID,
  // or is not valid now. The chain is not checked against any CA here.
  static absl::StatusOr<std::unique_ptr<Signer>> Load(const std::string& cert_file, const std::string& key_file);

  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Signs the batch of `headers` (serialized header bytes) for `purpose`:
  // one signature (ECDSA P-256 with SHA-256, DER) over the Merkle root of
  // their leaf hashes. Returns one proof per header, in order, each with its
  // inclusion path, leaf_index, leaf_count, the shared signature and the
  // certificate chain (DER, leaf first). INVALID_ARGUMENT if `headers` is
  // empty or holds more than 2^32 - 1 headers; UNAVAILABLE once the signing
  // certificate has expired (nothing it signs would verify); INTERNAL if
  // OpenSSL fails.
  absl::StatusOr<std::vector<v1::BatchProof>> SignBatch(Purpose purpose, const std::vector<std::string>& headers) const;

  // The signer's identity: the certificate's URI SAN, e.g.
  // "spiffe://kz.iicc/gateway".
  const std::string& spiffe_id() const { return spiffe_id_; }
  // When the signing certificate expires.
  absl::Time not_after() const { return not_after_; }

 private:
  Signer(evp_pkey_st* key, std::vector<std::string> chain_der, std::string spiffe_id, absl::Time not_after);

  evp_pkey_st* const key_;  // Owned.
  const std::vector<std::string> chain_der_;
  const std::string spiffe_id_;
  const absl::Time not_after_;
};

// Verifies batch proofs against a fixed set of trusted CA certificates.
// Thread-safe: Verify() is const and may run concurrently.
//
// A gateway verifies the same few certificate chains and, within a batch,
// the same signature over and over: a chain that verified is remembered with
// the span of time over which every certificate of its verified path is
// valid, and a signature that verified is remembered with the chain and the
// message it verified for. Neither memory changes a verdict: the trusted CAs
// are fixed for the verifier's life, a remembered chain is used only for a
// time inside its span, and a remembered signature only for the exact same
// chain, message and signature bytes. Failures are not remembered.
class Verifier {
 public:
  // Trusts the CA certificates in `ca_files` (PEM, each file may hold
  // several). INVALID_ARGUMENT naming the file if one cannot be read or
  // holds no certificate.
  static absl::StatusOr<std::unique_ptr<Verifier>> Create(const std::vector<std::string>& ca_files);
  // The same from PEM text already in memory; the error names the entry by
  // its index.
  static absl::StatusOr<std::unique_ptr<Verifier>> FromPem(const std::vector<std::string>& ca_pems);

  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  struct Verified {
    std::string signer_spiffe_id;  // The signing certificate's URI SAN.
    std::string root;              // The signed Merkle root, 32 bytes.
    std::string anchor_sha256;     // SHA-256 of the trusted CA certificate the chain ended at (DER), 32 bytes.
  };

  // Verifies that `header` (serialized bytes) is leaf proof.leaf_index of a
  // batch of proof.leaf_count whose root was signed for `purpose` by the
  // first certificate of proof.certificate_chain, and that:
  //  - the chain verifies against the trusted CAs at time `at` (pass the
  //    header's own time, so that evidence stays verifiable after the
  //    certificate expires);
  //  - the signing certificate has the digitalSignature and nonRepudiation
  //    key usages and no TLS extended key usage (so a TLS certificate never
  //    passes), an ECDSA P-256 key, and exactly one URI SAN, a spiffe:// ID;
  //  - that ID equals `expected_signer`, unless `expected_signer` is empty.
  // UNAUTHENTICATED otherwise, with a message free of record data, e.g.
  // "signature does not verify", "merkle path: ...", "no certificate chain",
  // "certificate chain: certificate has expired",
  // "signer spiffe://uz.iicc/gateway is not the expected spiffe://kz.iicc/gateway".
  // Revocation is not checked.
  absl::StatusOr<Verified> Verify(Purpose purpose, absl::string_view header, const v1::BatchProof& proof,
                                  absl::string_view expected_signer, absl::Time at) const;

 private:
  struct VerifiedChain;  // batch_signature.cc
  struct Cache;
  explicit Verifier(x509_store_st* store);
  // Parses and verifies proof.certificate_chain at `at`, and checks its
  // leaf's key usages, key type and identity.
  absl::StatusOr<std::shared_ptr<const VerifiedChain>> VerifyChain(const v1::BatchProof& proof, absl::Time at) const;

  x509_store_st* const store_;  // Owned; holds the trusted CAs.
  const std::unique_ptr<Cache> cache_;
};

}  // namespace iicc::proof

#endif  // IICC_GATEWAY_PROOF_BATCH_SIGNATURE_H_
