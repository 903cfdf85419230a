// Owning pointers for the OpenSSL objects the gateway handles, so that every
// early return frees what it took. Include only from .cc files that use
// OpenSSL anyway.
#ifndef IICC_GATEWAY_COMMON_OPENSSL_PTR_H_
#define IICC_GATEWAY_COMMON_OPENSSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace iicc::openssl {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct StoreDeleter {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* ctx) const { X509_STORE_CTX_free(ctx); }
};
// A stack of certificates that owns them.
struct CertStackDeleter {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};

using UniqueBio = std::unique_ptr<BIO, BioDeleter>;
using UniqueX509 = std::unique_ptr<X509, X509Deleter>;
using UniqueKey = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using UniqueMdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using UniqueStore = std::unique_ptr<X509_STORE, StoreDeleter>;
using UniqueStoreCtx = std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter>;
using UniqueCertStack = std::unique_ptr<STACK_OF(X509), CertStackDeleter>;

}  // namespace iicc::openssl

#endif  // IICC_GATEWAY_COMMON_OPENSSL_PTR_H_
