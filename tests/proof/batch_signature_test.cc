#include "gateway/proof/batch_signature.h"

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gateway/proof/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::proof {
namespace {

using ::iicc::testing::ReadFileOrEmpty;
using ::iicc::testing::RunShell;
using ::iicc::testing::Sha256Of;
using ::iicc::testing::TempDir;
using ::iicc::testing::TestPki;
using ::testing::HasSubstr;

constexpr char kKzGateway[] = "spiffe://kz.iicc/gateway";
constexpr char kUzGateway[] = "spiffe://uz.iicc/gateway";

// The signed message as DESIGN.md fixes it, spelled out here rather than
// taken from the code under test.
std::string SignedMessage(Purpose purpose, const std::string& root) {
  const std::string context =
      purpose == Purpose::kEnvelope ? "IICC-Exchange v1 envelope batch" : "IICC-Exchange v1 receipt batch";
  return context + std::string(1, '\0') + root;
}

absl::Time Utc(int year) { return absl::FromCivil(absl::CivilDay(year, 6, 1), absl::UTCTimeZone()); }

std::vector<std::string> Headers(size_t n) {
  std::vector<std::string> headers;
  for (size_t i = 0; i < n; ++i) headers.push_back(absl::StrCat("header ", i, std::string("\0\x01\xff", 3), n));
  return headers;
}

::testing::AssertionResult Unauthenticated(const absl::StatusOr<Verifier::Verified>& result,
                                           const std::string& needle) {
  if (result.ok()) return ::testing::AssertionFailure() << "verified, expected UNAUTHENTICATED with '" << needle << "'";
  if (result.status().code() != absl::StatusCode::kUnauthenticated ||
      result.status().message().find(needle) == absl::string_view::npos) {
    return ::testing::AssertionFailure() << result.status() << ", expected UNAUTHENTICATED with '" << needle << "'";
  }
  return ::testing::AssertionSuccess();
}

class BatchSignatureTest : public ::testing::Test {
 protected:
  // Runs `command` in dir_; fails the test if it fails.
  void Shell(const std::string& command) {
    ASSERT_EQ(RunShell("cd '" + dir_.path() + "' && " + command), 0) << command;
  }

  void WriteFile(const std::string& name, const std::string& contents) {
    std::ofstream out(dir_.File(name), std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << name;
  }

  std::unique_ptr<Signer> LoadSigner(const std::string& side) {
    absl::StatusOr<std::unique_ptr<Signer>> signer =
        Signer::Load(pki_.File(side, "signing.crt"), pki_.File(side, "signing.key"));
    EXPECT_TRUE(signer.ok()) << signer.status();
    return signer.ok() ? *std::move(signer) : nullptr;
  }

  std::unique_ptr<Verifier> Trusting(const std::vector<std::string>& sides) {
    std::vector<std::string> files;
    for (const std::string& side : sides) files.push_back(pki_.File(side, "ca.crt"));
    absl::StatusOr<std::unique_ptr<Verifier>> verifier = Verifier::Create(files);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? *std::move(verifier) : nullptr;
  }

  // The DER of the first certificate in a PEM file, by the openssl tool.
  std::string Der(const std::string& pem_file) {
    const std::string out = dir_.File("cert.der");
    EXPECT_EQ(RunShell("openssl x509 -in '" + pem_file + "' -outform DER -out '" + out + "'"), 0);
    return ReadFileOrEmpty(out);
  }

  // Issues dir/name.crt|key from `ca` (a path without extension: ca.crt,
  // ca.key) with the openssl tool: key by `genpkey_args`, extensions
  // `extensions` (one per line).
  void IssueByHand(const std::string& name, const std::string& ca, const std::string& genpkey_args,
                   const std::string& extensions) {
    Shell(
        "printf '[req]\\ndistinguished_name=dn\\nprompt=no\\n[dn]\\n' > req.cnf && "
        "printf '" +
        extensions + "\\n' > " + name +
        ".ext && "
        "openssl genpkey " +
        genpkey_args + " -out " + name +
        ".key 2>/dev/null && "
        "openssl req -new -config req.cnf -key " +
        name + ".key -subj /CN=" + name + " -out " + name +
        ".csr && "
        "openssl x509 -req -in " +
        name + ".csr -CA '" + ca + ".crt' -CAkey '" + ca +
        ".key' -days 30 "
        "-set_serial " +
        std::to_string(++serial_) + " -extfile " + name + ".ext -out " + name + ".crt 2>/dev/null");
  }

  // A one-header "batch" signed by the openssl tool, independently of
  // Signer: the root of one leaf is its leaf hash.
  v1::BatchProof SignByHand(Purpose purpose, const std::string& header, const std::string& key_file,
                            const std::vector<std::string>& chain_files) {
    const std::string root = Sha256Of(std::string(1, '\0') + header);
    const std::string message = SignedMessage(purpose, root);
    WriteFile("message.bin", message);
    Shell("openssl dgst -sha256 -sign '" + key_file + "' -out signature.der message.bin");
    v1::BatchProof proof;
    proof.set_signature(ReadFileOrEmpty(dir_.File("signature.der")));
    for (const std::string& file : chain_files) proof.add_certificate_chain(Der(file));
    proof.set_leaf_index(0);
    proof.set_leaf_count(1);
    return proof;
  }

  TempDir dir_;
  TestPki pki_{dir_.File("pki")};
  int serial_ = 1000;
};

TEST_F(BatchSignatureTest, DevPkiSigningCertificateIsEcdsaP256WithSpiffeId) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  ASSERT_NE(signer, nullptr);
  EXPECT_EQ(signer->spiffe_id(), kKzGateway);
  // make-dev-pki.sh issues for 825 days.
  EXPECT_GT(signer->not_after(), absl::Now() + absl::Hours(24 * 823));
  EXPECT_LT(signer->not_after(), absl::Now() + absl::Hours(24 * 826));
  EXPECT_EQ(
      RunShell("openssl x509 -in '" + pki_.File("kz", "signing.crt") + "' -noout -text | grep -q 'NIST CURVE: P-256'"),
      0);
}

TEST_F(BatchSignatureTest, RoundTripForBatchesOf1_2_3_7) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz", "uz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::string cert_der = Der(pki_.File("kz", "signing.crt"));
  for (size_t n : {1, 2, 3, 7}) {
    const std::vector<std::string> headers = Headers(n);
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer->SignBatch(Purpose::kEnvelope, headers);
    ASSERT_TRUE(proofs.ok()) << proofs.status();
    ASSERT_EQ(proofs->size(), n);
    std::vector<std::string> leaves;
    for (const std::string& header : headers) leaves.push_back(LeafHash(header));
    for (size_t i = 0; i < n; ++i) {
      const v1::BatchProof& proof = (*proofs)[i];
      EXPECT_EQ(proof.leaf_index(), i);
      EXPECT_EQ(proof.leaf_count(), n);
      EXPECT_EQ(proof.signature(), (*proofs)[0].signature());
      ASSERT_EQ(proof.certificate_chain_size(), 1);
      EXPECT_EQ(proof.certificate_chain(0), cert_der);
      EXPECT_EQ(std::vector<std::string>(proof.merkle_path().begin(), proof.merkle_path().end()),
                InclusionPath(leaves, i));

      absl::StatusOr<Verifier::Verified> verified =
          verifier->Verify(Purpose::kEnvelope, headers[i], proof, kKzGateway, absl::Now());
      ASSERT_TRUE(verified.ok()) << n << "/" << i << ": " << verified.status();
      EXPECT_EQ(verified->signer_spiffe_id, kKzGateway);
      EXPECT_EQ(verified->root, MerkleRoot(leaves));
      // No expected signer: any signer the CAs vouch for.
      EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[i], proof, "", absl::Now()).ok());
      // A proof holds for its own header only.
      if (n > 1) {
        EXPECT_TRUE(
            Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[(i + 1) % n], proof, kKzGateway, absl::Now()),
                            "signature does not verify"));
      }
    }
  }
}

TEST_F(BatchSignatureTest, SignatureIsPlainEcdsaOverContextAndRoot) {
  const std::unique_ptr<Signer> signer = LoadSigner("uz");
  ASSERT_NE(signer, nullptr);
  const std::vector<std::string> headers = Headers(3);
  std::vector<std::string> leaves;
  for (const std::string& header : headers) leaves.push_back(Sha256Of(std::string(1, '\0') + header));
  // RFC 9162 for three leaves, by hand.
  const auto node = [](const std::string& l, const std::string& r) { return Sha256Of("\x01" + l + r); };
  const std::string root = node(node(leaves[0], leaves[1]), leaves[2]);

  for (Purpose purpose : {Purpose::kEnvelope, Purpose::kReceipt}) {
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer->SignBatch(purpose, headers);
    ASSERT_TRUE(proofs.ok()) << proofs.status();
    WriteFile("message.bin", SignedMessage(purpose, root));
    WriteFile("signature.der", (*proofs)[0].signature());
    Shell("openssl x509 -in '" + pki_.File("uz", "signing.crt") + "' -pubkey -noout > pub.pem");
    EXPECT_EQ(RunShell("cd '" + dir_.path() +
                       "' && openssl dgst -sha256 -verify pub.pem -signature signature.der message.bin >/dev/null"),
              0);
  }
}

TEST_F(BatchSignatureTest, VerifiesSignatureMadeByOpensslTool) {
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  const v1::BatchProof proof =
      SignByHand(Purpose::kReceipt, "a header", pki_.File("kz", "signing.key"), {pki_.File("kz", "signing.crt")});
  absl::StatusOr<Verifier::Verified> verified =
      verifier->Verify(Purpose::kReceipt, "a header", proof, kKzGateway, absl::Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->root, LeafHash("a header"));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, "a header", proof, kKzGateway, absl::Now()),
                              "signature does not verify"));
}

TEST_F(BatchSignatureTest, TamperingIsUnauthenticated) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz", "uz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(3);
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer->SignBatch(Purpose::kEnvelope, headers);
  ASSERT_TRUE(proofs.ok()) << proofs.status();
  const v1::BatchProof& good = (*proofs)[1];
  const absl::Time now = absl::Now();
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[1], good, kKzGateway, now).ok());

  std::string header = headers[1];
  header[3] ^= 0x20;
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, header, good, kKzGateway, now),
                              "signature does not verify"));

  for (size_t at = 0; at < good.signature().size(); at += 7) {
    v1::BatchProof proof = good;
    (*proof.mutable_signature())[at] ^= 0x01;
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                                "signature does not verify"))
        << "byte " << at;
  }

  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kReceipt, headers[1], good, kKzGateway, now),
                              "signature does not verify"));

  v1::BatchProof proof = good;
  (*proof.mutable_merkle_path(0))[0] ^= 0x01;
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "signature does not verify"));
  proof = good;
  proof.set_leaf_index(0);
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "signature does not verify"));
  proof = good;
  proof.set_leaf_index(3);
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "merkle path: leaf index 3 is not below the leaf count 3"));
  proof = good;
  proof.add_merkle_path(std::string(32, 'x'));
  EXPECT_TRUE(
      Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now), "merkle path: "));
  proof = good;
  proof.set_leaf_count(0);
  EXPECT_TRUE(
      Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now), "merkle path: "));

  proof = good;
  proof.clear_certificate_chain();
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "no certificate chain"));

  // Another signing certificate: same CA, same SPIFFE ID, fit for signing,
  // but another key.
  pki_.Issue("kz", "other-signing", kKzGateway, "signing");
  const absl::Time issued = absl::Now();  // Within the new certificate's validity, which starts now.
  proof = good;
  proof.set_certificate_chain(0, Der(pki_.File("kz", "other-signing.crt")));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, issued),
                              "signature does not verify"));
  // The gateway's TLS certificate is refused before its key is even tried.
  proof.set_certificate_chain(0, Der(pki_.File("kz", "gateway.crt")));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, issued),
                              "lacks the nonRepudiation key usage"));

  proof = good;
  proof.set_certificate_chain(0, "not a certificate");
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "certificate chain: entry 0 is not a DER certificate"));
  proof = good;
  proof.mutable_certificate_chain(0)->push_back('\0');
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "certificate chain: entry 0 is not a DER certificate"));
  proof = good;
  for (int i = 0; i < 9; ++i) proof.add_certificate_chain(good.certificate_chain(0));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[1], proof, kKzGateway, now),
                              "certificate chain: more than 8 certificates"));
}

TEST_F(BatchSignatureTest, PurposesAreSeparated) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(2);
  for (Purpose signed_for : {Purpose::kEnvelope, Purpose::kReceipt}) {
    const Purpose other = signed_for == Purpose::kEnvelope ? Purpose::kReceipt : Purpose::kEnvelope;
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer->SignBatch(signed_for, headers);
    ASSERT_TRUE(proofs.ok()) << proofs.status();
    EXPECT_TRUE(verifier->Verify(signed_for, headers[0], (*proofs)[0], kKzGateway, absl::Now()).ok());
    EXPECT_TRUE(Unauthenticated(verifier->Verify(other, headers[0], (*proofs)[0], kKzGateway, absl::Now()),
                                "signature does not verify"));
  }
}

TEST_F(BatchSignatureTest, SignerMustChainToTrustedCaAndBeTheExpectedOne) {
  const std::unique_ptr<Signer> kz = LoadSigner("kz");
  const std::unique_ptr<Signer> uz = LoadSigner("uz");
  ASSERT_NE(kz, nullptr);
  ASSERT_NE(uz, nullptr);
  const std::vector<std::string> headers = Headers(2);
  const v1::BatchProof kz_proof = kz->SignBatch(Purpose::kEnvelope, headers).value()[1];
  const v1::BatchProof uz_proof = uz->SignBatch(Purpose::kEnvelope, headers).value()[1];

  const std::unique_ptr<Verifier> uz_only = Trusting({"uz"});
  ASSERT_NE(uz_only, nullptr);
  EXPECT_TRUE(uz_only->Verify(Purpose::kEnvelope, headers[1], uz_proof, kUzGateway, absl::Now()).ok());
  EXPECT_TRUE(Unauthenticated(uz_only->Verify(Purpose::kEnvelope, headers[1], kz_proof, "", absl::Now()),
                              "certificate chain: unable to get local issuer certificate"));

  const std::unique_ptr<Verifier> both = Trusting({"kz", "uz"});
  ASSERT_NE(both, nullptr);
  EXPECT_TRUE(Unauthenticated(both->Verify(Purpose::kEnvelope, headers[1], kz_proof, kUzGateway, absl::Now()),
                              "signer spiffe://kz.iicc/gateway is not the expected spiffe://uz.iicc/gateway"));
  EXPECT_TRUE(
      Unauthenticated(both->Verify(Purpose::kEnvelope, headers[1], kz_proof, "spiffe://kz.iicc/gateway/", absl::Now()),
                      "is not the expected"));

  // Both CAs in one file, as a single PEM text.
  absl::StatusOr<std::unique_ptr<Verifier>> from_pem =
      Verifier::FromPem({ReadFileOrEmpty(pki_.File("kz", "ca.crt")) + ReadFileOrEmpty(pki_.File("uz", "ca.crt"))});
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_TRUE((*from_pem)->Verify(Purpose::kEnvelope, headers[1], kz_proof, kKzGateway, absl::Now()).ok());
  EXPECT_TRUE((*from_pem)->Verify(Purpose::kEnvelope, headers[1], uz_proof, kUzGateway, absl::Now()).ok());
}

TEST_F(BatchSignatureTest, ChainIsCheckedAtTheGivenTime) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(1);
  const v1::BatchProof proof = signer->SignBatch(Purpose::kEnvelope, headers).value()[0];

  // Within the certificate's validity, however far from now.
  EXPECT_TRUE(
      verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, signer->not_after() - absl::Hours(1)).ok());
  EXPECT_TRUE(Unauthenticated(
      verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, signer->not_after() + absl::Hours(1)),
      "certificate chain: certificate has expired"));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, Utc(2100)),
                              "certificate chain: certificate has expired"));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, Utc(1990)),
                              "certificate chain: certificate is not yet valid"));
  EXPECT_TRUE(
      Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, absl::InfiniteFuture()),
                      "certificate chain: verification time out of range"));
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, absl::InfinitePast()),
                              "certificate chain: verification time out of range"));
}

TEST_F(BatchSignatureTest, IntermediateCertificatesInTheChainAreUsed) {
  IssueByHand("intermediate", pki_.dir() + "/kz/ca", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
              "basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign");
  IssueByHand("leaf", dir_.File("intermediate"), "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
              "keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:spiffe://kz.iicc/gateway");
  Shell("cat leaf.crt intermediate.crt > chain.crt");
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Load(dir_.File("chain.crt"), dir_.File("leaf.key"));
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(2);
  v1::BatchProof proof = (*signer)->SignBatch(Purpose::kReceipt, headers).value()[0];
  ASSERT_EQ(proof.certificate_chain_size(), 2);
  EXPECT_EQ(proof.certificate_chain(1), Der(dir_.File("intermediate.crt")));
  EXPECT_TRUE(verifier->Verify(Purpose::kReceipt, headers[0], proof, kKzGateway, absl::Now()).ok());
  proof.mutable_certificate_chain()->RemoveLast();
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kReceipt, headers[0], proof, kKzGateway, absl::Now()),
                              "certificate chain: unable to get local issuer certificate"));
}

TEST_F(BatchSignatureTest, SigningCertificateMustBeFitForSigning) {
  const std::string ca = pki_.dir() + "/kz/ca";
  const std::string p256 = "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  struct Case {
    std::string name;
    std::string extensions;
    std::string load_error;
    std::string verify_error;
  };
  const std::vector<Case> cases = {
      {"no-usage", "subjectAltName=URI:spiffe://kz.iicc/gateway", "lacks the digitalSignature key usage",
       "lacks the digitalSignature key usage"},
      {"agreement-only", "keyUsage=critical,keyAgreement\\nsubjectAltName=URI:spiffe://kz.iicc/gateway",
       "lacks the digitalSignature key usage", "lacks the digitalSignature key usage"},
      {"two-uris",
       "keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:spiffe://kz.iicc/a,URI:spiffe://kz.iicc/"
       "b",
       "exactly one URI SAN", "exactly one URI SAN"},
      {"not-spiffe", "keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:https://kz.iicc/gateway",
       "exactly one URI SAN", "exactly one URI SAN"},
      {"dns-only", "keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=DNS:gateway.kz.iicc",
       "exactly one URI SAN", "exactly one URI SAN"},
      // What a TLS certificate looks like: its key signs handshakes for
      // anyone who connects, so it must never pass as evidence.
      {"tls-like",
       "keyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=URI:spiffe://"
       "kz.iicc/gateway",
       "lacks the nonRepudiation key usage", "lacks the nonRepudiation key usage"},
      // A CA that sets nonRepudiation on every certificate: the TLS
      // extended key usage still gives a TLS certificate away.
      {"tls-eku",
       "keyUsage=critical,digitalSignature,nonRepudiation\\nextendedKeyUsage=clientAuth\\nsubjectAltName=URI:"
       "spiffe://kz.iicc/gateway",
       "carries a TLS extended key usage", "carries a TLS extended key usage"},
  };
  for (const Case& c : cases) {
    IssueByHand(c.name, ca, p256, c.extensions);
    absl::StatusOr<std::unique_ptr<Signer>> signer =
        Signer::Load(dir_.File(c.name + ".crt"), dir_.File(c.name + ".key"));
    EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(signer.status().message(), HasSubstr(c.load_error)) << c.name;
    EXPECT_THAT(signer.status().message(), HasSubstr(dir_.File(c.name + ".crt"))) << c.name;
    // A signature made anyway does not verify either.
    const v1::BatchProof proof =
        SignByHand(Purpose::kEnvelope, "h", dir_.File(c.name + ".key"), {dir_.File(c.name + ".crt")});
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, "h", proof, "", absl::Now()), c.verify_error))
        << c.name;
  }
}

TEST_F(BatchSignatureTest, TheGatewayTlsCertificateNeverPassesAsASigner) {
  // The dev PKI's own TLS certificate: same CA, same SPIFFE ID as the
  // signing one, but no nonRepudiation.
  const std::string crt = pki_.File("kz", "gateway.crt");
  const std::string key = pki_.File("kz", "gateway.key");
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Load(crt, key);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr("lacks the nonRepudiation key usage"));
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  const v1::BatchProof proof = SignByHand(Purpose::kReceipt, "h", key, {crt});
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kReceipt, "h", proof, kKzGateway, absl::Now()),
                              "lacks the nonRepudiation key usage"));
}

TEST_F(BatchSignatureTest, SignBatchIsUnavailableOnceTheCertificateHasExpired) {
  // A certificate valid for a few more seconds, issued with `openssl ca`
  // (the only tool that takes an exact end date). On a starved machine,
  // issuing and loading it may take longer than those seconds: then it is
  // issued again with more.
  const std::string ca = pki_.dir() + "/kz/ca";
  std::unique_ptr<Signer> signer;
  absl::Time not_after;
  for (const absl::Duration margin : {absl::Seconds(3), absl::Seconds(15), absl::Seconds(60)}) {
    // openssl's dates are whole seconds.
    not_after = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + margin));
    const std::string end_date = absl::FormatTime("%Y%m%d%H%M%SZ", not_after, absl::UTCTimeZone());
    Shell(
        "printf '[req]\\ndistinguished_name=dn\\nprompt=no\\n[dn]\\n' > req.cnf && "
        "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\nnew_certs_dir=.\\nserial=serial\\n"
        "default_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' > ca.cnf && "
        ": > index.txt && echo 4000 > serial && "
        "printf 'keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:spiffe://kz.iicc/gateway\\n'"
        " > short.ext && "
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out short.key 2>/dev/null && "
        "openssl req -new -config req.cnf -key short.key -subj /CN=short -out short.csr && "
        "openssl ca -batch -notext -config ca.cnf -cert '" +
        ca + ".crt' -keyfile '" + ca + ".key' -in short.csr -out short.crt -startdate 20200101000000Z -enddate " +
        end_date + " -extfile short.ext 2>/dev/null");
    absl::StatusOr<std::unique_ptr<Signer>> loaded = Signer::Load(dir_.File("short.crt"), dir_.File("short.key"));
    absl::Status first = loaded.status();
    if (loaded.ok()) first = (*loaded)->SignBatch(Purpose::kEnvelope, Headers(1)).status();
    if (!first.ok() && absl::Now() >= not_after) continue;  // Too slow to see it valid: more time.
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_TRUE(first.ok()) << first;
    signer = *std::move(loaded);
    break;
  }
  ASSERT_NE(signer, nullptr) << "could not issue and use a certificate within 60 s";
  absl::SleepFor(not_after - absl::Now() + absl::Seconds(1));
  absl::StatusOr<std::vector<v1::BatchProof>> late = signer->SignBatch(Purpose::kEnvelope, Headers(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(late.status().message(), HasSubstr("signing certificate expired"));
}

TEST_F(BatchSignatureTest, LoadRefusesKeysThatAreNotP256OrNotTheCertificates) {
  const std::string crt = pki_.File("kz", "signing.crt");
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Load(crt, pki_.File("kz", "gateway.key"));
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr("not the key of " + crt));
  EXPECT_THAT(signer.status().message(), HasSubstr(pki_.File("kz", "gateway.key")));

  signer = Signer::Load(crt, pki_.File("uz", "signing.key"));
  EXPECT_THAT(signer.status().message(), HasSubstr("not the key of"));

  // The gateway's TLS certificate and key: a pair, the right identity, but
  // not a signing certificate.
  signer = Signer::Load(pki_.File("kz", "gateway.crt"), pki_.File("kz", "gateway.key"));
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr("lacks the nonRepudiation key usage"));

  signer = Signer::Load(dir_.File("missing.crt"), pki_.File("kz", "signing.key"));
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr(dir_.File("missing.crt")));
  signer = Signer::Load(crt, dir_.File("missing.key"));
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr(dir_.File("missing.key")));

  // The files swapped: no certificate in the key file, no key in the certificate file.
  signer = Signer::Load(pki_.File("kz", "signing.key"), crt);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(signer.status().message(), HasSubstr("no PEM certificate"));
  Shell("openssl pkey -in '" + pki_.File("kz", "signing.key") + "' -aes256 -passout pass:secret -out encrypted.key");
  signer = Signer::Load(crt, dir_.File("encrypted.key"));
  EXPECT_THAT(signer.status().message(), HasSubstr("no unencrypted PEM private key"));

  const std::string uri =
      "keyUsage=critical,digitalSignature,nonRepudiation\\nsubjectAltName=URI:spiffe://kz.iicc/gateway";
  IssueByHand("p384", pki_.dir() + "/kz/ca", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384", uri);
  IssueByHand("rsa", pki_.dir() + "/kz/ca", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", uri);
  IssueByHand("ed25519", pki_.dir() + "/kz/ca", "-algorithm ED25519", uri);
  for (const std::string name : {"p384", "rsa", "ed25519"}) {
    signer = Signer::Load(dir_.File(name + ".crt"), dir_.File(name + ".key"));
    EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(signer.status().message(), HasSubstr("not an ECDSA P-256 key")) << name;
    EXPECT_THAT(signer.status().message(), HasSubstr(dir_.File(name + ".key"))) << name;
  }
}

TEST_F(BatchSignatureTest, SignBatchRefusesAnEmptyBatch) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  ASSERT_NE(signer, nullptr);
  EXPECT_EQ(signer->SignBatch(Purpose::kEnvelope, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BatchSignatureTest, VerifierNeedsReadableFilesWithCertificates) {
  absl::StatusOr<std::unique_ptr<Verifier>> verifier = Verifier::Create({dir_.File("missing.crt")});
  EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verifier.status().message(), HasSubstr(dir_.File("missing.crt")));
  verifier = Verifier::Create({pki_.File("kz", "ca.crt"), pki_.File("kz", "ca.key")});
  EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verifier.status().message(), HasSubstr(pki_.File("kz", "ca.key") + ": no PEM certificate"));
  verifier = Verifier::FromPem({ReadFileOrEmpty(pki_.File("kz", "ca.crt")), ""});
  EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verifier.status().message(), HasSubstr("CA PEM #1"));
}

TEST_F(BatchSignatureTest, SignsAndVerifiesFromFourThreads) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz", "uz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  std::atomic<int> verified{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 40; ++round) {
        const Purpose purpose = (round + t) % 2 == 0 ? Purpose::kEnvelope : Purpose::kReceipt;
        const std::vector<std::string> headers = Headers(1 + (round + t) % 5);
        absl::StatusOr<std::vector<v1::BatchProof>> proofs = signer->SignBatch(purpose, headers);
        if (!proofs.ok()) {
          ++failures;
          continue;
        }
        for (size_t i = 0; i < headers.size(); ++i) {
          if (verifier->Verify(purpose, headers[i], (*proofs)[i], kKzGateway, absl::Now()).ok()) {
            ++verified;
          } else {
            ++failures;
          }
          // And a forgery is still refused under load.
          if (verifier->Verify(purpose, headers[i] + "!", (*proofs)[i], kKzGateway, absl::Now()).ok()) ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // Each thread: 40 rounds of 1..5 headers, 8 rounds of each size.
  EXPECT_EQ(verified.load(), 4 * 8 * (1 + 2 + 3 + 4 + 5));
}

// ---------------------------------------------------------------------------
// What the verifier remembers (verified chains and signatures) never changes
// a verdict: each test verifies once to fill the memory, then asks again
// with something changed, and compares with what a fresh verifier says.

absl::Time UtcSecond(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second), absl::UTCTimeZone());
}

class VerifierMemoryTest : public BatchSignatureTest {
 protected:
  // The year of the dated certificates: two years ahead, so that they start
  // after now and end inside the test CA's ten years, whenever the test runs.
  static int DatedYear() { return static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year()) + 2; }
  // Issues kz/name.crt|key valid through January of `year`:
  // [year-01-01T00:00:00Z, year-02-01T00:00:00Z].
  void IssueDatedJanuary(const std::string& name, int year) {
    IssueDated(name, absl::StrCat(year, "0101000000Z"), absl::StrCat(year, "0201000000Z"));
  }

  // Issues kz/name.crt|key, a signing certificate for kKzGateway valid from
  // `not_before` to `not_after` (YYYYMMDDHHMMSSZ), by make-dev-pki.sh.
  void IssueDated(const std::string& name, const std::string& not_before, const std::string& not_after) {
    const std::string log = dir_.File(name + ".issue.log");
    ASSERT_EQ(RunShell("'" + ::iicc::testing::SourceDir() + "/certs/make-dev-pki.sh' --issue '" + pki_.dir() + "/kz' " +
                       name + " " + kKzGateway + " signing " + not_before + " " + not_after + " >'" + log + "' 2>&1"),
              0)
        << ReadFileOrEmpty(log);
  }

  // The verdict of a verifier that has remembered nothing yet.
  absl::StatusOr<Verifier::Verified> Fresh(const std::vector<std::string>& sides, Purpose purpose,
                                           const std::string& header, const v1::BatchProof& proof,
                                           absl::string_view expected_signer, absl::Time at) {
    const std::unique_ptr<Verifier> fresh = Trusting(sides);
    if (fresh == nullptr) return absl::InternalError("no verifier");
    return fresh->Verify(purpose, header, proof, expected_signer, at);
  }
};

TEST_F(VerifierMemoryTest, TheSameProofVerifiesAgainWithTheSameFields) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz", "uz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(3);
  const std::vector<v1::BatchProof> proofs = signer->SignBatch(Purpose::kEnvelope, headers).value();
  std::vector<std::string> leaves;
  for (const std::string& header : headers) leaves.push_back(LeafHash(header));
  const std::string kz_anchor = Sha256Of(Der(pki_.File("kz", "ca.crt")));
  const absl::Time now = absl::Now();

  absl::StatusOr<Verifier::Verified> first =
      verifier->Verify(Purpose::kEnvelope, headers[1], proofs[1], kKzGateway, now);
  ASSERT_TRUE(first.ok()) << first.status();
  for (int round = 0; round < 3; ++round) {  // Chain and signature from memory.
    absl::StatusOr<Verifier::Verified> again =
        verifier->Verify(Purpose::kEnvelope, headers[1], proofs[1], kKzGateway, now + absl::Seconds(round));
    ASSERT_TRUE(again.ok()) << round << ": " << again.status();
    EXPECT_EQ(again->signer_spiffe_id, kKzGateway);
    EXPECT_EQ(again->root, MerkleRoot(leaves));
    EXPECT_EQ(again->anchor_sha256, kz_anchor);
    EXPECT_EQ(again->signer_spiffe_id, first->signer_spiffe_id);
    EXPECT_EQ(again->root, first->root);
    EXPECT_EQ(again->anchor_sha256, first->anchor_sha256);
  }
  // Without an expected signer, from memory too: the same fields.
  absl::StatusOr<Verifier::Verified> any = verifier->Verify(Purpose::kEnvelope, headers[1], proofs[1], "", now);
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->signer_spiffe_id, kKzGateway);
  EXPECT_EQ(any->anchor_sha256, kz_anchor);
  // As a verifier that remembers nothing says.
  absl::StatusOr<Verifier::Verified> fresh =
      Fresh({"kz", "uz"}, Purpose::kEnvelope, headers[1], proofs[1], kKzGateway, now);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->signer_spiffe_id, first->signer_spiffe_id);
  EXPECT_EQ(fresh->root, first->root);
  EXPECT_EQ(fresh->anchor_sha256, first->anchor_sha256);

  // A UZ proof through the same verifier: its own chain, its own anchor.
  const std::unique_ptr<Signer> uz = LoadSigner("uz");
  ASSERT_NE(uz, nullptr);
  const v1::BatchProof uz_proof = uz->SignBatch(Purpose::kEnvelope, headers).value()[1];
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<Verifier::Verified> verified =
        verifier->Verify(Purpose::kEnvelope, headers[1], uz_proof, kUzGateway, now);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->signer_spiffe_id, kUzGateway);
    EXPECT_EQ(verified->anchor_sha256, Sha256Of(Der(pki_.File("uz", "ca.crt"))));
  }
}

TEST_F(VerifierMemoryTest, ARememberedChainIsCheckedAgainOutsideItsValidity) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(2);
  const v1::BatchProof proof = signer->SignBatch(Purpose::kEnvelope, headers).value()[0];
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, absl::Now()).ok());

  // After the signing certificate's notAfter: expired, though the chain
  // and the signature verified a moment ago.
  for (const absl::Time late : {signer->not_after() + absl::Seconds(1), signer->not_after() + absl::Hours(1),
                                signer->not_after() + absl::Milliseconds(1), Utc(2100)}) {
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, late),
                                "certificate chain: certificate has expired"))
        << late;
  }
  // Before the dev PKI existed: not yet valid.
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, Utc(1990)),
                              "certificate chain: certificate is not yet valid"));
  // A refusal is not remembered either: inside the validity, good again.
  EXPECT_TRUE(
      verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, signer->not_after() - absl::Seconds(1)).ok());
  EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, absl::Now()).ok());
  // And refused again after the refusals and successes in between.
  EXPECT_TRUE(Unauthenticated(
      verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, signer->not_after() + absl::Seconds(1)),
      "certificate chain: certificate has expired"));
}

// A signing certificate with both ends of its validity inside the CA's (the
// CA's own validity starts when the test's PKI is made), so that the leaf's
// notBefore and notAfter are the edges of the verified path. Signed by the
// openssl tool, as Signer::Load takes only a certificate valid now.
TEST_F(VerifierMemoryTest, ARememberedChainHoldsExactlyWithinTheLeafsDates) {
  const int year = DatedYear();
  IssueDatedJanuary("dated", year);
  const absl::Time not_before = UtcSecond(year, 1, 1);
  const absl::Time not_after = UtcSecond(year, 2, 1);
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  const v1::BatchProof proof =
      SignByHand(Purpose::kEnvelope, "h", pki_.File("kz", "dated.key"), {pki_.File("kz", "dated.crt")});

  // Now is before the certificate: refused, and nothing remembered.
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, absl::Now()),
                              "certificate chain: certificate is not yet valid"));
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, UtcSecond(year, 1, 15)).ok());

  struct Case {
    absl::Time at;
    std::string error;  // Empty: verifies.
  };
  const std::vector<Case> cases = {
      {not_before - absl::Seconds(1), "certificate chain: certificate is not yet valid"},
      {not_before - absl::Nanoseconds(1), "certificate chain: certificate is not yet valid"},
      {not_before, ""},
      {not_before + absl::Seconds(1), ""},
      {UtcSecond(year, 1, 20), ""},
      {not_after - absl::Seconds(1), ""},
      {not_after - absl::Nanoseconds(1), ""},
      {not_after + absl::Nanoseconds(1), "certificate chain: certificate has expired"},
      {not_after + absl::Seconds(1), "certificate chain: certificate has expired"},
      {Utc(year + 1), "certificate chain: certificate has expired"},
      {Utc(year - 1), "certificate chain: certificate is not yet valid"},
  };
  // Twice round, each time after a success inside the dates: the memory
  // agrees with a verifier that remembers nothing, at every time.
  for (int round = 0; round < 2; ++round) {
    for (const Case& c : cases) {
      ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, UtcSecond(year, 1, 15)).ok());
      absl::StatusOr<Verifier::Verified> remembered =
          verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, c.at);
      absl::StatusOr<Verifier::Verified> fresh = Fresh({"kz"}, Purpose::kEnvelope, "h", proof, kKzGateway, c.at);
      if (c.error.empty()) {
        EXPECT_TRUE(remembered.ok()) << c.at << ": " << remembered.status();
        EXPECT_TRUE(fresh.ok()) << c.at << ": " << fresh.status();
      } else {
        EXPECT_TRUE(Unauthenticated(remembered, c.error)) << c.at;
        EXPECT_TRUE(Unauthenticated(fresh, c.error)) << c.at;
      }
    }
  }
}

// OpenSSL counts a certificate as expired at its notAfter second itself
// (X509_cmp_time maps "equal" to "earlier"), so a fresh verifier refuses a
// proof checked at exactly notAfter. A verifier that remembers the chain
// must refuse it too.
TEST_F(VerifierMemoryTest, AtTheNotAfterInstantARememberedChainIsRefusedAsAFreshOneIs) {
  const int year = DatedYear();
  IssueDatedJanuary("dated", year);
  const absl::Time not_after = UtcSecond(year, 2, 1);
  const v1::BatchProof proof =
      SignByHand(Purpose::kEnvelope, "h", pki_.File("kz", "dated.key"), {pki_.File("kz", "dated.crt")});

  absl::StatusOr<Verifier::Verified> fresh = Fresh({"kz"}, Purpose::kEnvelope, "h", proof, kKzGateway, not_after);
  ASSERT_TRUE(Unauthenticated(fresh, "certificate chain: certificate has expired"));

  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(verifier, nullptr);
  const absl::StatusOr<Verifier::Verified> inside =
      verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, UtcSecond(year, 1, 15));
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, "h", proof, kKzGateway, not_after),
                              "certificate chain: certificate has expired"))
      << "a chain remembered from " << year << "-01-15 passes at its notAfter, " << not_after
      << ", which OpenSSL refuses";
}

TEST_F(VerifierMemoryTest, ATamperedSignatureAfterASuccessIsRefused) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(4);
  const v1::BatchProof good = signer->SignBatch(Purpose::kEnvelope, headers).value()[2];
  const absl::Time now = absl::Now();
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[2], good, kKzGateway, now).ok());

  // Same chain, same header and so the same root: only the signature changed.
  for (size_t at = 0; at < good.signature().size(); at += 5) {
    v1::BatchProof proof = good;
    (*proof.mutable_signature())[at] ^= 0x01;
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                                "signature does not verify"))
        << "byte " << at;
  }
  v1::BatchProof proof = good;
  proof.mutable_signature()->push_back('\0');
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                              "signature does not verify"));
  proof.mutable_signature()->resize(good.signature().size() - 1);
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                              "signature does not verify"));
  proof.clear_signature();
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                              "signature does not verify"));
  // The signature of another batch, by the same key and chain.
  proof = good;
  proof.set_signature(signer->SignBatch(Purpose::kEnvelope, Headers(5)).value()[0].signature());
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                              "signature does not verify"));
  // A tampered path after the success: another root.
  proof = good;
  (*proof.mutable_merkle_path(0))[5] ^= 0x01;
  EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[2], proof, kKzGateway, now),
                              "signature does not verify"));
  // Another valid signature over the same root (ECDSA signs with a fresh
  // nonce) is a signature the memory has not seen: checked, and good.
  const v1::BatchProof resigned = signer->SignBatch(Purpose::kEnvelope, headers).value()[2];
  ASSERT_NE(resigned.signature(), good.signature());
  EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[2], resigned, kKzGateway, now).ok());
  // And the original still verifies.
  EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[2], good, kKzGateway, now).ok());
}

TEST_F(VerifierMemoryTest, AnotherExpectedSignerAfterASuccessIsRefused) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz", "uz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(2);
  const v1::BatchProof proof = signer->SignBatch(Purpose::kEnvelope, headers).value()[0];
  const absl::Time now = absl::Now();
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, now).ok());
  ASSERT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[0], proof, "", now).ok());

  for (const std::string& expected :
       {std::string(kUzGateway), std::string("spiffe://kz.iicc/gateway/"), std::string("spiffe://kz.iicc/gatewa"),
        std::string("SPIFFE://kz.iicc/gateway"), std::string("spiffe://kz.iicc/ministry/registry")}) {
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[0], proof, expected, now),
                                "signer spiffe://kz.iicc/gateway is not the expected " + expected))
        << expected;
  }
  // The right one is still good afterwards.
  EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[0], proof, kKzGateway, now).ok());
}

TEST_F(VerifierMemoryTest, EveryLeafOfABatchVerifiesAndAHeaderOutsideItDoesNot) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const std::vector<std::string> headers = Headers(7);
  const std::vector<v1::BatchProof> proofs = signer->SignBatch(Purpose::kEnvelope, headers).value();
  std::vector<std::string> leaves;
  for (const std::string& header : headers) leaves.push_back(LeafHash(header));
  const absl::Time now = absl::Now();

  // One signature for all: the first leaf checks it, the others find it in
  // memory; each twice.
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < headers.size(); ++i) {
      ASSERT_EQ(proofs[i].signature(), proofs[0].signature());
      absl::StatusOr<Verifier::Verified> verified =
          verifier->Verify(Purpose::kEnvelope, headers[i], proofs[i], kKzGateway, now);
      ASSERT_TRUE(verified.ok()) << round << "/" << i << ": " << verified.status();
      EXPECT_EQ(verified->root, MerkleRoot(leaves));
      EXPECT_EQ(verified->signer_spiffe_id, kKzGateway);
    }
  }
  // A header not in the batch, with each leaf's proof copied: the path
  // climbs to another root, which nobody signed.
  const std::string outsider = "a header that was never signed";
  for (size_t i = 0; i < proofs.size(); ++i) {
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, outsider, proofs[i], kKzGateway, now),
                                "signature does not verify"))
        << i;
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, outsider, proofs[i], "", now),
                                "signature does not verify"))
        << i;
    // Nor does a header of the batch with another leaf's proof.
    const size_t other = (i + 3) % proofs.size();
    EXPECT_TRUE(Unauthenticated(verifier->Verify(Purpose::kEnvelope, headers[other], proofs[i], kKzGateway, now),
                                "signature does not verify"))
        << i << " with " << other;
  }
  // The batch's own leaves are still good.
  for (size_t i = 0; i < headers.size(); ++i) {
    EXPECT_TRUE(verifier->Verify(Purpose::kEnvelope, headers[i], proofs[i], kKzGateway, now).ok()) << i;
  }
}

TEST_F(VerifierMemoryTest, ASignatureRememberedForOnePurposeIsRefusedForTheOther) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  const absl::Time now = absl::Now();
  for (Purpose signed_for : {Purpose::kEnvelope, Purpose::kReceipt}) {
    const Purpose other = signed_for == Purpose::kEnvelope ? Purpose::kReceipt : Purpose::kEnvelope;
    const std::vector<std::string> headers = Headers(signed_for == Purpose::kEnvelope ? 3 : 4);
    const std::vector<v1::BatchProof> proofs = signer->SignBatch(signed_for, headers).value();
    for (size_t i = 0; i < headers.size(); ++i) {
      ASSERT_TRUE(verifier->Verify(signed_for, headers[i], proofs[i], kKzGateway, now).ok()) << i;
      ASSERT_TRUE(verifier->Verify(signed_for, headers[i], proofs[i], kKzGateway, now).ok()) << i;
      EXPECT_TRUE(
          Unauthenticated(verifier->Verify(other, headers[i], proofs[i], kKzGateway, now), "signature does not verify"))
          << i;
      EXPECT_TRUE(Unauthenticated(verifier->Verify(other, headers[i], proofs[i], "", now), "signature does not verify"))
          << i;
    }
    // The refusals were not remembered: still good for its own purpose.
    EXPECT_TRUE(verifier->Verify(signed_for, headers[0], proofs[0], kKzGateway, now).ok());
  }
}

// More signatures than the memory holds: it starts over, and every verdict
// stays what it was.
TEST_F(VerifierMemoryTest, VerdictsHoldWhenTheMemoryOfSignaturesFillsUp) {
  const std::unique_ptr<Signer> signer = LoadSigner("kz");
  const std::unique_ptr<Verifier> verifier = Trusting({"kz"});
  ASSERT_NE(signer, nullptr);
  ASSERT_NE(verifier, nullptr);
  constexpr int kBatches = 4096 + 50;
  std::vector<std::string> headers;
  std::vector<v1::BatchProof> proofs;
  for (int i = 0; i < kBatches; ++i) {
    headers.push_back(absl::StrCat("header of batch ", i));
    proofs.push_back(signer->SignBatch(Purpose::kReceipt, {headers.back()}).value()[0]);
  }
  const absl::Time now = absl::Now();
  int failures = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kBatches; ++i) {
      if (!verifier->Verify(Purpose::kReceipt, headers[i], proofs[i], kKzGateway, now).ok()) ++failures;
      // A proof for another header, and the other purpose: never.
      if (i % 16 != 0) continue;
      if (verifier->Verify(Purpose::kReceipt, headers[(i + 1) % kBatches], proofs[i], kKzGateway, now).ok()) {
        ++failures;
      }
      if (verifier->Verify(Purpose::kEnvelope, headers[i], proofs[i], kKzGateway, now).ok()) ++failures;
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace iicc::proof
