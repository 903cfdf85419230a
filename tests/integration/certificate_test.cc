// Certificates on real gateway processes with real mutual TLS (issue #8):
// each refusal of the gateway's own verifier (revoked, expired, not yet
// valid, no clientAuth, broken SPIFFE IDs), revocation on the peer face and
// by the forwarder, CRLs that expire, vanish or change while the gateway
// runs, and the start-up refusals (a missing or expired CRL, a private key
// readable by others). The PKI is certs/make-dev-pki.sh's, made per test.
#include <httplib.h>
#include <sys/stat.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/exchange_helpers.h"
#include "tests/testing/gateway_process.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {
namespace {

using ::testing::HasSubstr;

bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer Readyz(const GatewayProcess& gateway) {
  httplib::Client client("127.0.0.1", gateway.admin_port());
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  httplib::Result result = client.Get("/readyz");
  if (!result) return {};
  return {result->status, result->body};
}

class CertificateTest : public ::testing::Test {
 protected:
  CertificateTest() : pki_(dir_.File("pki")), kz_("kz", pki_, dir_.path(), ports_) {}

  void SetUp() override {
    // Every test identity is granted everything, so that only its
    // certificate can be why it is refused...
    for (const char* name : {"revoked-client", "expired-client", "future-client", "noeku-client", "two-uris"}) {
      v1::MinistryIdentity* identity = kz_.config().add_ministries();
      identity->set_spiffe_id(absl::StrCat("spiffe://kz.iicc/ministry/", name));
      for (v1::Role role : {v1::ROLE_SUBMIT, v1::ROLE_READ, v1::ROLE_STATUS}) identity->add_grants()->set_role(role);
    }
    // ...but DESIGN.md's checkpoint (cargo only) and reader (read only).
    v1::MinistryIdentity* checkpoint = kz_.config().add_ministries();
    checkpoint->set_spiffe_id("spiffe://kz.iicc/ministry/checkpoint");
    for (v1::Role role : {v1::ROLE_SUBMIT, v1::ROLE_STATUS}) {
      v1::RoleGrant* grant = checkpoint->add_grants();
      grant->set_role(role);
      grant->add_record_types(v1::RECORD_TYPE_CARGO);
    }
    v1::MinistryIdentity* reader = kz_.config().add_ministries();
    reader->set_spiffe_id("spiffe://kz.iicc/ministry/reader");
    reader->add_grants()->set_role(v1::ROLE_READ);
  }

  // Runs make-dev-pki.sh with `args`; fails the test if it fails.
  void Pki(const std::string& args) {
    ASSERT_EQ(RunShell("'" + SourceDir() + "/certs/make-dev-pki.sh' " + args + " >/dev/null"), 0) << args;
  }

  // A cargo submit on the ministry face as `cert_name`, over a new
  // connection: UNAVAILABLE when the handshake is refused.
  grpc::StatusCode SubmitAs(const std::string& cert_name, const std::string& record = "cargo",
                            v1::SubmitResponse* response = nullptr) {
    v1::SubmitResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stub = kz_.MinistryStub(cert_name);
    return stub
        ->Submit(&context, MakeSubmit(absl::StrCat(cert_name, "-", ++calls_), SampleRecord(record)),
                 response != nullptr ? response : &ignored)
        .error_code();
  }

  // Whether a new connection to the peer face presenting `cert_side/name`
  // completes its handshake.
  bool PeerHandshake(const std::string& cert_side, const std::string& name) {
    return kz_.PeerChannel(cert_side, name)->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  }

  // The exit code of iicc-gateway --check-config on kz_'s configuration, and
  // its stderr in `errors`.
  int CheckConfig(std::string* errors) {
    kz_.WriteConfig();
    const std::string log = dir_.File("check.log");
    const int code =
        RunShell("'" + BinDir() + "/iicc-gateway' --config '" + kz_.config_path() + "' --check-config 2>'" + log + "'");
    *errors = ReadFileOrEmpty(log);
    return code;
  }

  TempDir dir_;
  TestPki pki_;
  PairPorts ports_;
  GatewayProcess kz_;
  int calls_ = 0;
};

TEST_F(CertificateTest, MinistryFaceRefusesEachBadCertificateAtTheHandshake) {
  Pki("--issue '" + pki_.File("kz", "") + "' future-client spiffe://kz.iicc/ministry/future-client clientAuth " +
      "20990101000000Z 20991231000000Z");
  Pki("--issue '" + pki_.File("kz", "") + "' noeku-client spiffe://kz.iicc/ministry/noeku-client noEKU");
  Pki("--issue '" + pki_.File("kz", "") + "' server-only spiffe://kz.iicc/ministry/ministry-client serverAuth");
  Pki("--issue '" + pki_.File("kz", "") +
      "' two-uris spiffe://kz.iicc/ministry/two-uris,spiffe://kz.iicc/ministry/ministry-client");
  Pki("--issue '" + pki_.File("kz", "") + "' bad-chars 'spiffe://kz.iicc/ministry/ministry+client'");
  Pki("--issue '" + pki_.File("kz", "") + "' upper-domain spiffe://KZ.iicc/ministry/ministry-client");
  kz_.StartAndWait();

  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);
  for (const char* name : {"revoked-client", "expired-client", "future-client", "noeku-client", "server-only",
                           "two-uris", "bad-chars", "upper-domain"}) {
    EXPECT_EQ(SubmitAs(name), grpc::StatusCode::UNAVAILABLE) << name;
  }
  // The ones OpenSSL's chain check lets through, the gateway's verifier
  // refuses, saying why (a certificate without any EKU passes OpenSSL's
  // purpose check).
  const std::string log = kz_.log();
  for (const char* reason : {"the certificate is revoked", "lacks the clientAuth extended key usage",
                             "exactly one URI SAN (a SPIFFE ID), not 2", "URI SAN is not a SPIFFE ID"}) {
    EXPECT_THAT(log, HasSubstr(reason)) << log;
  }
  EXPECT_THAT(log, HasSubstr("\"event\":\"tls.peer_refused\",\"face\":\"ministry\"")) << log;
  // Operators see the refusals counted by class (the expired and the future
  // ones are refused by OpenSSL's chain check first, before the verifier).
  httplib::Client admin("127.0.0.1", kz_.admin_port());
  const httplib::Result metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* series : {"face=\"ministry\",reason=\"revoked\"", "face=\"ministry\",reason=\"extended_key_usage\"",
                             "face=\"ministry\",reason=\"spiffe_id\""}) {
    EXPECT_THAT(metrics->body,
                ::testing::ContainsRegex(absl::StrCat("iicc_tls_handshakes_refused_total\\{", series, "\\} [1-9]")))
        << metrics->body;
  }
  // The identity that stands is still served, and nothing refused was stored.
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);
  kz_.Kill();
  EXPECT_EQ(RunShell("test \"$(sqlite3 '" + kz_.db_path() + "' 'SELECT COUNT(*) FROM outbox')\" = 2"), 0);
}

TEST_F(CertificateTest, CheckpointSubmitsCargoOnlyAndReaderOnlyReads) {
  kz_.StartAndWait();
  v1::SubmitResponse response;
  EXPECT_EQ(SubmitAs("checkpoint", "cargo", &response), grpc::StatusCode::OK);
  EXPECT_FALSE(response.record_id().empty());
  EXPECT_EQ(SubmitAs("checkpoint", "enterprise"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SubmitAs("checkpoint", "investment"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(SubmitAs("reader", "cargo"), grpc::StatusCode::PERMISSION_DENIED);
  auto reader = kz_.MinistryStub("reader");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ListInboundRecordsResponse page;
  EXPECT_TRUE(reader->ListInboundRecords(&context, v1::ListInboundRecordsRequest(), &page).ok());
}

TEST_F(CertificateTest, RevokedPeerGatewayIsRefusedOnThePeerFaceAndByTheForwarder) {
  Pki("--issue '" + pki_.File("uz", "") + "' gateway-revoked spiffe://uz.iicc/gateway both");
  Pki("--revoke '" + pki_.File("uz", "") + "' gateway-revoked");
  kz_.StartAndWait();
  EXPECT_TRUE(PeerHandshake("uz", "gateway"));
  EXPECT_FALSE(PeerHandshake("uz", "gateway-revoked"));
  EXPECT_THAT(kz_.log(), HasSubstr("\"face\":\"peer\""));

  // A UZ gateway presenting the revoked certificate: KZ's forwarder refuses
  // it as a server, and KZ's peer face as a client.
  GatewayProcess uz("uz", pki_, dir_.path(), ports_);
  uz.config().mutable_peer()->mutable_tls()->set_cert_file(pki_.File("uz", "gateway-revoked.crt"));
  uz.config().mutable_peer()->mutable_tls()->set_key_file(pki_.File("uz", "gateway-revoked.key"));
  uz.Start();
  v1::SubmitResponse response;
  ASSERT_EQ(SubmitAs("ministry-client", "cargo", &response), grpc::StatusCode::OK);
  EXPECT_TRUE(Eventually(
      [&] {
        const std::string log = kz_.log();
        return log.find("\"face\":\"link\"") != std::string::npos &&
               log.find("the certificate is revoked") != std::string::npos;
      },
      absl::Seconds(15)))
      << kz_.log();
  absl::SleepFor(absl::Seconds(1));
  grpc::ClientContext context;
  v1::GetRecordStatusRequest request;
  request.set_record_id(response.record_id());
  v1::RecordStatus status;
  ASSERT_TRUE(kz_.MinistryStub()->GetRecordStatus(&context, request, &status).ok());
  EXPECT_EQ(status.state(), v1::DELIVERY_STATE_QUEUED);
  StopTogether({&kz_, &uz});
}

TEST_F(CertificateTest, ExpiredOrMissingCrlClosesTheFaceUntilRepaired) {
  const std::string crl = pki_.File("kz", "ca.crl");
  kz_.StartAndWait();
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);

  // A CRL that expires while the gateway runs.
  Pki("--crl '" + pki_.File("kz", "") + "' 2");
  HttpAnswer readyz;
  EXPECT_TRUE(Eventually(
      [&] {
        readyz = Readyz(kz_);
        return readyz.status == 503;
      },
      absl::Seconds(10)));
  EXPECT_THAT(readyz.body, HasSubstr("ministry_face.tls.crl_files[0] " + crl + ": expired"));
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(PeerHandshake("uz", "gateway"));  // The other face keeps its own CRL.

  // A fresh one: served again, without a restart.
  Pki("--crl '" + pki_.File("kz", "") + "'");
  EXPECT_TRUE(Eventually([&] { return Readyz(kz_).status == 200; }, absl::Seconds(10)));
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);

  // Removed: fail-closed, not "no revocation".
  ASSERT_EQ(rename(crl.c_str(), (crl + ".away").c_str()), 0);
  EXPECT_TRUE(Eventually(
      [&] {
        readyz = Readyz(kz_);
        return readyz.status == 503;
      },
      absl::Seconds(10)));
  EXPECT_THAT(readyz.body, HasSubstr("ministry_face.tls.crl_files[0] " + crl + ": cannot be read"));
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(rename((crl + ".away").c_str(), crl.c_str()), 0);
  EXPECT_TRUE(Eventually([&] { return Readyz(kz_).status == 200; }, absl::Seconds(10)));
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);
  EXPECT_TRUE(kz_.Running());
}

TEST_F(CertificateTest, ANewlyRevokedCertificateIsRefusedWithoutARestart) {
  kz_.StartAndWait();
  EXPECT_EQ(SubmitAs("checkpoint"), grpc::StatusCode::OK);
  const absl::Time revoked_at = absl::Now();
  Pki("--revoke '" + pki_.File("kz", "") + "' checkpoint");
  EXPECT_TRUE(Eventually([&] { return SubmitAs("checkpoint") == grpc::StatusCode::UNAVAILABLE; }, absl::Seconds(10)));
  std::cout << "[ revoke   ] refused "
            << absl::FormatDuration(absl::Trunc(absl::Now() - revoked_at, absl::Milliseconds(1)))
            << " after the new CRL was written\n";
  EXPECT_EQ(SubmitAs("ministry-client"), grpc::StatusCode::OK);
}

TEST_F(CertificateTest, BadCrlsAndReadableKeysAreStartUpErrors) {
  std::string errors;
  ASSERT_EQ(CheckConfig(&errors), 0) << errors;

  // A configured CRL that is missing.
  kz_.config().mutable_ministry_face()->mutable_tls()->set_crl_files(0, dir_.File("no-such.crl"));
  EXPECT_EQ(CheckConfig(&errors), 1);
  EXPECT_THAT(errors, HasSubstr("ministry_face.tls.crl_files[0]"));
  EXPECT_THAT(errors, HasSubstr(dir_.File("no-such.crl")));
  kz_.Start();
  EXPECT_EQ(kz_.WaitExit(absl::Seconds(20)), 1);
  EXPECT_THAT(kz_.log(), HasSubstr("ministry_face.tls.crl_files[0]"));

  // The other CA's CRL.
  kz_.config().mutable_ministry_face()->mutable_tls()->set_crl_files(0, pki_.File("uz", "ca.crl"));
  EXPECT_EQ(CheckConfig(&errors), 1);
  EXPECT_THAT(errors, HasSubstr("ministry_face.tls.crl_files[0]: '" + pki_.File("uz", "ca.crl") +
                                "' a CRL is not signed by a CA of " + pki_.File("kz", "ca.crt")));

  // An expired CRL.
  kz_.config().mutable_ministry_face()->mutable_tls()->set_crl_files(0, pki_.File("kz", "ca.crl"));
  Pki("--crl '" + pki_.File("kz", "") + "' 1");
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(CheckConfig(&errors), 1);
  EXPECT_THAT(errors, HasSubstr("ministry_face.tls.crl_files[0]: '" + pki_.File("kz", "ca.crl") + "' expired"));
  Pki("--crl '" + pki_.File("kz", "") + "'");
  ASSERT_EQ(CheckConfig(&errors), 0) << errors;

  // A private key that the group may read: refused, naming the file.
  const std::string key = pki_.File("kz", "gateway.key");
  ASSERT_EQ(chmod(key.c_str(), 0640), 0);
  EXPECT_EQ(CheckConfig(&errors), 1);
  EXPECT_THAT(errors, HasSubstr("ministry_face.tls.key_file: '" + key + "' is readable by group or others"));
  kz_.Start();
  EXPECT_EQ(kz_.WaitExit(absl::Seconds(20)), 1);
  EXPECT_THAT(kz_.log(), HasSubstr("'" + key + "' is readable by group or others"));
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  const std::string pseudonym = pki_.File("kz", "pseudonym.key");
  ASSERT_EQ(chmod(pseudonym.c_str(), 0604), 0);
  EXPECT_EQ(CheckConfig(&errors), 1);
  EXPECT_THAT(errors, HasSubstr("pseudonym_keys[0].key_file: '" + pseudonym + "' is readable by group or others"));
}

}  // namespace
}  // namespace iicc::testing
