#include "gateway/proof/batch_signature.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/files.h"
#include "gateway/common/openssl_ptr.h"
#include "gateway/common/status_macros.h"
#include "gateway/proof/merkle.h"

namespace iicc::proof {
namespace {

using openssl::BioDeleter;
using openssl::CertStackDeleter;
using openssl::KeyDeleter;
using openssl::MdCtxDeleter;
using openssl::StoreCtxDeleter;
using openssl::StoreDeleter;
using openssl::UniqueKey;
using openssl::UniqueStore;
using openssl::UniqueX509;
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

// The context strings include their terminating NUL, so that neither is a
// prefix of the other followed by root bytes.
constexpr char kEnvelopeContext[] = "IICC-Exchange v1 envelope batch";
constexpr char kReceiptContext[] = "IICC-Exchange v1 receipt batch";

// A chain longer than this is refused before any parsing: national PKIs have
// one or two intermediates.
constexpr int kMaxChainLength = 8;

// A URI SAN longer than this is not taken as an identity.
constexpr size_t kMaxSpiffeIdLength = 2048;

// The message a batch signature covers; nullopt for a purpose out of range.
std::optional<std::string> SignedMessage(Purpose purpose, absl::string_view root) {
  switch (purpose) {
    case Purpose::kEnvelope:
      return absl::StrCat(absl::string_view(kEnvelopeContext, sizeof(kEnvelopeContext)), root);
    case Purpose::kReceipt:
      return absl::StrCat(absl::string_view(kReceiptContext, sizeof(kReceiptContext)), root);
  }
  return std::nullopt;
}

std::unique_ptr<BIO, BioDeleter> MemBio(absl::string_view data) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::vector<UniqueX509> ReadPemCertificates(absl::string_view pem) {
  std::vector<UniqueX509> certs;
  auto bio = MemBio(pem);
  if (bio == nullptr) return certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  ERR_clear_error();  // The loop ends on an error: no more certificates.
  return certs;
}

// Never prompts on a terminal for the passphrase of an encrypted key.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

UniqueKey ReadPemPrivateKey(absl::string_view pem) {
  auto bio = MemBio(pem);
  if (bio == nullptr) return nullptr;
  UniqueKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return key;
}

bool IsP256(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64];
  size_t length = 0;
  const bool named = EVP_PKEY_get_group_name(key, group, sizeof(group), &length) == 1;
  ERR_clear_error();
  return named && absl::string_view(group, length) == SN_X9_62_prime256v1;
}

bool HasDigitalSignatureUsage(X509* cert) {
  // Without the extension, X509_get_key_usage() allows everything; a signing
  // certificate must state it.
  return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0 &&
         (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE) != 0;
}

// Evidence is signed with a key of its own, not the TLS one: its certificate
// says so with nonRepudiation (contentCommitment). A TLS certificate, whose
// key signs handshakes on demand, never passes as a signer.
bool HasNonRepudiationUsage(X509* cert) {
  return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(cert) & KU_NON_REPUDIATION) != 0;
}

// A certificate good for TLS authentication is not a signer, even with
// nonRepudiation (some CAs set it on every certificate): its key answers
// handshakes, so its signatures prove nothing.
bool HasTlsExtendedKeyUsage(X509* cert) {
  return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0 &&
         (X509_get_extended_key_usage(cert) & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) != 0;
}

// The certificate's URI SAN if it has exactly one and that is a spiffe://
// ID of printable ASCII; nullopt otherwise.
std::optional<std::string> SpiffeIdOf(X509* cert) {
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> uri;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    if (uri.has_value()) return std::nullopt;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    uri.emplace(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)), ASN1_STRING_length(value));
  }
  if (!uri.has_value() || !absl::StartsWith(*uri, "spiffe://") || uri->size() > kMaxSpiffeIdLength) {
    return std::nullopt;
  }
  for (char c : *uri) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return uri;
}

std::optional<absl::Time> ToTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (ASN1_TIME_to_tm(time, &parts) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return absl::FromTM(parts, absl::UTCTimeZone());
}

absl::StatusOr<std::string> ToDer(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) {
    ERR_clear_error();
    return absl::InternalError("cannot encode a certificate as DER");
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

UniqueX509 FromDer(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  // Trailing bytes would ride along unsigned; refuse them.
  if (cert != nullptr && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) return nullptr;
  return cert;
}

// Reads a file for Load/Create, whose every failure is INVALID_ARGUMENT.
absl::StatusOr<std::string> ReadInput(absl::string_view what, const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return absl::InvalidArgumentError(absl::StrCat(what, " ", contents.status().message()));
  return contents;
}

absl::Status AddTrustedCertificates(X509_STORE* store, absl::string_view pem, absl::string_view source) {
  std::vector<UniqueX509> certs = ReadPemCertificates(pem);
  if (certs.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no PEM certificate"));
  for (const UniqueX509& cert : certs) {
    // Takes its own reference; a duplicate is not an error.
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      ERR_clear_error();
      return absl::InternalError(absl::StrCat(source, ": cannot add a certificate to the trust store"));
    }
  }
  return absl::OkStatus();
}

absl::Status Unauthenticated(absl::string_view message) { return absl::UnauthenticatedError(message); }

}  // namespace

// ---------------------------------------------------------------- Signer --

absl::StatusOr<std::unique_ptr<Signer>> Signer::Load(const std::string& cert_file, const std::string& key_file) {
  const std::string cert_name = absl::StrCat("signing certificate ", cert_file);
  const std::string key_name = absl::StrCat("signing key ", key_file);
  IICC_ASSIGN_OR_RETURN(const std::string cert_pem, ReadInput("signing certificate", cert_file));
  IICC_ASSIGN_OR_RETURN(const std::string key_pem, ReadInput("signing key", key_file));

  std::vector<UniqueX509> chain = ReadPemCertificates(cert_pem);
  if (chain.empty()) return absl::InvalidArgumentError(absl::StrCat(cert_name, ": no PEM certificate"));
  X509* leaf = chain.front().get();
  UniqueKey key = ReadPemPrivateKey(key_pem);
  if (key == nullptr) return absl::InvalidArgumentError(absl::StrCat(key_name, ": no unencrypted PEM private key"));
  if (!IsP256(key.get())) return absl::InvalidArgumentError(absl::StrCat(key_name, ": not an ECDSA P-256 key"));
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(key_name, ": not the key of ", cert_file));
  }
  if (!HasDigitalSignatureUsage(leaf)) {
    return absl::InvalidArgumentError(absl::StrCat(cert_name, ": lacks the digitalSignature key usage"));
  }
  if (!HasNonRepudiationUsage(leaf)) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert_name, ": lacks the nonRepudiation key usage (a signing certificate, not a TLS one, is needed)"));
  }
  if (HasTlsExtendedKeyUsage(leaf)) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert_name, ": carries a TLS extended key usage (serverAuth or clientAuth); a signing certificate signs only"));
  }
  std::optional<std::string> spiffe_id = SpiffeIdOf(leaf);
  if (!spiffe_id.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(cert_name, ": must carry exactly one URI SAN, a spiffe:// ID"));
  }
  // X509_cmp_current_time() returns 0 for a malformed time: refused too.
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(cert_name, ": not yet valid"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(cert_name, ": expired"));
  }
  std::optional<absl::Time> not_after = ToTime(X509_get0_notAfter(leaf));
  if (!not_after.has_value()) return absl::InvalidArgumentError(absl::StrCat(cert_name, ": malformed notAfter"));

  std::vector<std::string> chain_der;
  for (const UniqueX509& cert : chain) {
    IICC_ASSIGN_OR_RETURN(std::string der, ToDer(cert.get()));
    chain_der.push_back(std::move(der));
  }
  return std::unique_ptr<Signer>(new Signer(key.release(), std::move(chain_der), *std::move(spiffe_id), *not_after));
}

Signer::Signer(evp_pkey_st* key, std::vector<std::string> chain_der, std::string spiffe_id, absl::Time not_after)
    : key_(key), chain_der_(std::move(chain_der)), spiffe_id_(std::move(spiffe_id)), not_after_(not_after) {}

Signer::~Signer() { EVP_PKEY_free(key_); }

absl::StatusOr<std::vector<v1::BatchProof>> Signer::SignBatch(Purpose purpose,
                                                              const std::vector<std::string>& headers) const {
  if (headers.empty()) return absl::InvalidArgumentError("a batch needs at least one header");
  if (headers.size() > UINT32_MAX) return absl::InvalidArgumentError("a batch holds at most 2^32 - 1 headers");
  // A signature the peer can only refuse is worse than none: the caller
  // fails before acknowledging anything, and the operator sees why.
  if (absl::Now() >= not_after_) {
    return absl::UnavailableError(absl::StrCat("the signing certificate expired at ",
                                               absl::FormatTime(absl::RFC3339_sec, not_after_, absl::UTCTimeZone())));
  }
  std::vector<std::string> leaves;
  leaves.reserve(headers.size());
  for (const std::string& header : headers) leaves.push_back(LeafHash(header));
  MerkleTree tree = BuildMerkleTree(leaves);
  const std::optional<std::string> message = SignedMessage(purpose, tree.root);
  if (!message.has_value()) return absl::InvalidArgumentError("unknown signature purpose");

  // EVP_PKEY is only read here, so concurrent signers may share it.
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::string signature(static_cast<size_t>(EVP_PKEY_get_size(key_)), '\0');
  size_t length = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key_, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message->data()), message->size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("ECDSA signing failed");
  }
  signature.resize(length);

  std::vector<v1::BatchProof> proofs(headers.size());
  for (size_t i = 0; i < proofs.size(); ++i) {
    v1::BatchProof& proof = proofs[i];
    for (std::string& sibling : tree.paths[i]) proof.add_merkle_path(std::move(sibling));
    proof.set_signature(signature);
    for (const std::string& der : chain_der_) proof.add_certificate_chain(der);
    proof.set_leaf_index(static_cast<uint32_t>(i));
    proof.set_leaf_count(static_cast<uint32_t>(headers.size()));
  }
  return proofs;
}

// -------------------------------------------------------------- Verifier --

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::Create(const std::vector<std::string>& ca_files) {
  UniqueStore store(X509_STORE_new());
  if (store == nullptr) return absl::InternalError("cannot allocate a trust store");
  for (const std::string& file : ca_files) {
    IICC_ASSIGN_OR_RETURN(const std::string pem, ReadInput("CA file", file));
    IICC_RETURN_IF_ERROR(AddTrustedCertificates(store.get(), pem, absl::StrCat("CA file ", file)));
  }
  return std::unique_ptr<Verifier>(new Verifier(store.release()));
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromPem(const std::vector<std::string>& ca_pems) {
  UniqueStore store(X509_STORE_new());
  if (store == nullptr) return absl::InternalError("cannot allocate a trust store");
  for (size_t i = 0; i < ca_pems.size(); ++i) {
    IICC_RETURN_IF_ERROR(AddTrustedCertificates(store.get(), ca_pems[i], absl::StrCat("CA PEM #", i)));
  }
  return std::unique_ptr<Verifier>(new Verifier(store.release()));
}

// What Verify() remembers (see the class comment). Both memories are
// bounded; when one is full it starts over, which costs one full
// verification per chain or batch.
struct Verifier::VerifiedChain {
  UniqueKey key;  // The leaf's public key.
  std::string spiffe_id;
  std::string anchor_sha256;
  absl::Time valid_from;   // The latest notBefore of the verified path.
  absl::Time valid_until;  // Its earliest notAfter.
};

struct Verifier::Cache {
  static constexpr size_t kMaxChains = 64;
  // One signature per batch is looked up again, while that batch's headers
  // are verified: a few hundred are plenty. Each entry holds its chain's
  // bytes (about 1.3 KB), so this bounds the memory at about 350 KB.
  static constexpr size_t kMaxSignatures = 256;

  absl::Mutex mu;
  // By the chain's DER certificates, each preceded by its length.
  absl::flat_hash_map<std::string, std::shared_ptr<const VerifiedChain>> chains ABSL_GUARDED_BY(mu);
  // Chain key, signed message and signature, length-prefixed, of the
  // signatures that verified.
  absl::flat_hash_set<std::string> signatures ABSL_GUARDED_BY(mu);
};

Verifier::Verifier(x509_store_st* store) : store_(store), cache_(std::make_unique<Cache>()) {}

Verifier::~Verifier() { X509_STORE_free(store_); }

absl::StatusOr<Verifier::Verified> Verifier::Verify(Purpose purpose, absl::string_view header,
                                                    const v1::BatchProof& proof, absl::string_view expected_signer,
                                                    absl::Time at) const {
  // The cheap, structural checks first: untrusted input.
  if (proof.certificate_chain().empty()) return Unauthenticated("no certificate chain");
  if (proof.certificate_chain_size() > kMaxChainLength) {
    return Unauthenticated(absl::StrCat("certificate chain: more than ", kMaxChainLength, " certificates"));
  }
  const std::vector<std::string> path(proof.merkle_path().begin(), proof.merkle_path().end());
  absl::StatusOr<std::string> root =
      RootFromInclusionPath(LeafHash(header), proof.leaf_index(), proof.leaf_count(), path);
  if (!root.ok()) return Unauthenticated(absl::StrCat("merkle path: ", root.status().message()));
  const std::optional<std::string> message = SignedMessage(purpose, *root);
  if (!message.has_value()) return absl::InvalidArgumentError("unknown signature purpose");

  // X.509 times are years 0000-9999; outside that OpenSSL reports a
  // misleading "format error" in the certificate.
  static const absl::Time kEarliest = absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  static const absl::Time kLatest = absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  if (at < kEarliest || at > kLatest) return Unauthenticated("certificate chain: verification time out of range");

  std::string chain_key;
  for (const std::string& der : proof.certificate_chain()) absl::StrAppend(&chain_key, der.size(), ":", der);
  std::shared_ptr<const VerifiedChain> chain;
  {
    absl::MutexLock lock(&cache_->mu);
    if (auto found = cache_->chains.find(chain_key); found != cache_->chains.end()) chain = found->second;
  }
  // OpenSSL holds a certificate expired from its notAfter instant on: the span
  // is [valid_from, valid_until).
  if (chain == nullptr || at < chain->valid_from || at >= chain->valid_until) {
    IICC_ASSIGN_OR_RETURN(chain, VerifyChain(proof, at));
    absl::MutexLock lock(&cache_->mu);
    if (cache_->chains.size() >= Cache::kMaxChains) cache_->chains.clear();
    cache_->chains.insert_or_assign(chain_key, chain);
  }
  if (!expected_signer.empty() && chain->spiffe_id != expected_signer) {
    return Unauthenticated(absl::StrCat("signer ", chain->spiffe_id, " is not the expected ", expected_signer));
  }

  const std::string signature_key =
      absl::StrCat(chain_key.size(), ":", chain_key, message->size(), ":", *message, proof.signature());
  bool known;
  {
    absl::MutexLock lock(&cache_->mu);
    known = cache_->signatures.contains(signature_key);
  }
  if (!known) {
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> md(EVP_MD_CTX_new());
    if (md == nullptr) return absl::InternalError("out of memory");
    const bool verified =
        EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, chain->key.get(), nullptr) == 1 &&
        EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(proof.signature().data()),
                         proof.signature().size(), reinterpret_cast<const unsigned char*>(message->data()),
                         message->size()) == 1;
    ERR_clear_error();
    if (!verified) return Unauthenticated("signature does not verify");
    absl::MutexLock lock(&cache_->mu);
    if (cache_->signatures.size() >= Cache::kMaxSignatures) cache_->signatures.clear();
    cache_->signatures.insert(signature_key);
  }
  return Verified{chain->spiffe_id, *std::move(root), chain->anchor_sha256};
}

absl::StatusOr<std::shared_ptr<const Verifier::VerifiedChain>> Verifier::VerifyChain(const v1::BatchProof& proof,
                                                                                     absl::Time at) const {
  std::vector<UniqueX509> chain;
  for (int i = 0; i < proof.certificate_chain_size(); ++i) {
    UniqueX509 cert = FromDer(proof.certificate_chain(i));
    if (cert == nullptr) {
      return Unauthenticated(absl::StrCat("certificate chain: entry ", i, " is not a DER certificate"));
    }
    chain.push_back(std::move(cert));
  }
  X509* leaf = chain.front().get();

  std::unique_ptr<STACK_OF(X509), CertStackDeleter> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  if (untrusted == nullptr || ctx == nullptr) return absl::InternalError("out of memory");
  for (size_t i = 1; i < chain.size(); ++i) {
    if (sk_X509_push(untrusted.get(), chain[i].get()) <= 0) return absl::InternalError("out of memory");
    X509_up_ref(chain[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store_, leaf, untrusted.get()) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot initialize certificate verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Unauthenticated(absl::StrCat("certificate chain: ", X509_verify_cert_error_string(error)));
  }
  auto verified = std::make_shared<VerifiedChain>();
  // Which trusted CA vouched for the signer: the last of the verified chain.
  // The span over which the whole verified path is valid: the latest
  // notBefore to the earliest notAfter.
  verified->valid_from = absl::InfinitePast();
  verified->valid_until = absl::InfiniteFuture();
  if (STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get()); path != nullptr && sk_X509_num(path) > 0) {
    IICC_ASSIGN_OR_RETURN(const std::string der, ToDer(sk_X509_value(path, sk_X509_num(path) - 1)));
    verified->anchor_sha256 = Sha256(der);
    for (int i = 0; i < sk_X509_num(path); ++i) {
      X509* cert = sk_X509_value(path, i);
      const std::optional<absl::Time> from = ToTime(X509_get0_notBefore(cert));
      const std::optional<absl::Time> until = ToTime(X509_get0_notAfter(cert));
      // An unreadable time: verified for `at` alone.
      verified->valid_from = from.has_value() ? std::max(verified->valid_from, *from) : at;
      verified->valid_until = until.has_value() ? std::min(verified->valid_until, *until) : at;
    }
  } else {
    verified->valid_from = verified->valid_until = at;
  }

  if (!HasDigitalSignatureUsage(leaf)) {
    return Unauthenticated("signer certificate lacks the digitalSignature key usage");
  }
  if (!HasNonRepudiationUsage(leaf)) {
    return Unauthenticated("signer certificate lacks the nonRepudiation key usage (a TLS certificate cannot sign)");
  }
  if (HasTlsExtendedKeyUsage(leaf)) {
    return Unauthenticated("signer certificate carries a TLS extended key usage (serverAuth or clientAuth)");
  }
  std::optional<std::string> spiffe_id = SpiffeIdOf(leaf);
  if (!spiffe_id.has_value()) {
    return Unauthenticated("signer certificate must carry exactly one URI SAN, a spiffe:// ID");
  }
  EVP_PKEY* key = X509_get0_pubkey(leaf);
  if (!IsP256(key)) return Unauthenticated("signer key is not ECDSA P-256");
  if (EVP_PKEY_up_ref(key) != 1) return absl::InternalError("cannot keep the signer's key");
  verified->key.reset(key);
  verified->spiffe_id = *std::move(spiffe_id);
  return verified;
}

}  // namespace iicc::proof
