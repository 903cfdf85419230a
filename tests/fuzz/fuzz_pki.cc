#include "tests/fuzz/fuzz_pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace iicc::fuzz {
namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_pki: %s failed\n", what);
    abort();
  }
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Require(extension != nullptr && X509_add_ext(cert, extension, -1) == 1, value);
  X509_EXTENSION_free(extension);
}

// A certificate for `key` named `common_name`, signed by `issuer_key`
// (`issuer` null: self-signed).
X509* Issue(EVP_PKEY* key, const std::string& side, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
            long serial) {
  X509* cert = X509_new();
  Require(cert != nullptr && X509_set_version(cert, 2) == 1, "X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_NAME* name = X509_get_subject_name(cert);
  const std::string unit = side + " Fuzzing";
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("IICC Exchange"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(unit.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  Require(X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1, "issuer");
  Require(ASN1_TIME_set_string_X509(X509_getm_notBefore(cert), "20200101000000Z") == 1, "notBefore");
  Require(ASN1_TIME_set_string_X509(X509_getm_notAfter(cert), "21200101000000Z") == 1, "notAfter");
  Require(X509_set_pubkey(cert, key) == 1, "X509_set_pubkey");
  return cert;
}

std::string Pem(X509* cert, EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  Require(bio != nullptr, "BIO_new");
  if (cert != nullptr) Require(PEM_write_bio_X509(bio, cert) == 1, "PEM_write_bio_X509");
  if (key != nullptr) {
    Require(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  Require(static_cast<bool>(out), "writing a temporary file");
}

}  // namespace

SigningPki MakeSigningPki(const std::string& side, const std::string& spiffe_id) {
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Require(ca_key != nullptr && key != nullptr, "EVP_EC_gen");

  X509* ca = Issue(ca_key, side, "IICC " + side + " Fuzzing CA", nullptr, ca_key, 1);
  AddExtension(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(ca, ca, NID_subject_key_identifier, "hash");
  AddExtension(ca, ca, NID_authority_key_identifier, "keyid:always");
  Require(X509_sign(ca, ca_key, EVP_sha256()) > 0, "X509_sign (CA)");

  X509* leaf = Issue(key, side, "signing", ca, ca_key, 2);
  AddExtension(leaf, ca, NID_basic_constraints, "CA:FALSE");
  AddExtension(leaf, ca, NID_key_usage, "critical,digitalSignature,nonRepudiation");
  AddExtension(leaf, ca, NID_subject_alt_name, ("URI:" + spiffe_id).c_str());
  AddExtension(leaf, ca, NID_subject_key_identifier, "hash");
  AddExtension(leaf, ca, NID_authority_key_identifier, "keyid:always");
  Require(X509_sign(leaf, ca_key, EVP_sha256()) > 0, "X509_sign (leaf)");

  SigningPki pki{Pem(ca, nullptr), Pem(leaf, nullptr), Pem(nullptr, key)};
  X509_free(leaf);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  return pki;
}

std::unique_ptr<proof::Signer> LoadSigner(const SigningPki& pki) {
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/iicc-fuzz-pki-XXXXXX";
  Require(mkdtemp(dir.data()) != nullptr, "mkdtemp");
  const std::string cert_file = dir + "/signing.crt";
  const std::string key_file = dir + "/signing.key";
  WriteFile(cert_file, pki.cert_pem);
  WriteFile(key_file, pki.key_pem);
  absl::StatusOr<std::unique_ptr<proof::Signer>> signer = proof::Signer::Load(cert_file, key_file);
  unlink(cert_file.c_str());
  unlink(key_file.c_str());
  rmdir(dir.c_str());
  if (!signer.ok()) std::fprintf(stderr, "fuzz_pki: %s\n", std::string(signer.status().message()).c_str());
  Require(signer.ok(), "Signer::Load");
  return *std::move(signer);
}

std::unique_ptr<proof::Verifier> VerifierFor(const std::string& ca_pem) {
  absl::StatusOr<std::unique_ptr<proof::Verifier>> verifier = proof::Verifier::FromPem({ca_pem});
  Require(verifier.ok(), "Verifier::FromPem");
  return *std::move(verifier);
}

}  // namespace iicc::fuzz
