#include "gateway/config/config_loader.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::config {
namespace {

using ::iicc::testing::TempDir;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

constexpr char kSource[] = "test.textproto";

// A configuration whose certificate, key and CA files exist (the loader
// checks that they can be read, not what they hold).
class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(cert_, "-----BEGIN CERTIFICATE-----\n");
    WriteFile(key_, "-----BEGIN PRIVATE KEY-----\n");
    WriteFile(ca_, "-----BEGIN CERTIFICATE-----\n");
    WriteFile(policy_, "jurisdiction: JURISDICTION_KZ\n");
    WriteFile(key_file_, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    // Private keys are the owner's alone, or the loader refuses them.
    ASSERT_EQ(chmod(key_.c_str(), 0600), 0);
    ASSERT_EQ(chmod(key_file_.c_str(), 0600), 0);
  }

  std::string Tls() const { return Tls(cert_, key_, ca_); }
  static std::string Tls(const std::string& cert, const std::string& key, const std::string& ca) {
    return absl::Substitute(R"(tls { cert_file: "$0" key_file: "$1" ca_file: "$2" })", cert, key, ca);
  }

  // A valid configuration; `extra` is appended at the top level. The
  // ministry face's and the peer link's TLS files can be replaced.
  std::string ValidText(const std::string& extra = "") const { return ValidText(extra, Tls(), Tls()); }
  std::string ValidText(const std::string& extra, const std::string& ministry_tls, const std::string& peer_tls) const {
    return absl::Substitute(R"pb(
                              jurisdiction: JURISDICTION_KZ
                              data_dir: "$0"
                              ministry_face { listen_address: "127.0.0.1:50051" $1 }
                              peer {
                                listen_address: "127.0.0.1:50061" $2
                                peer_spiffe_id: "spiffe://uz.iicc/gateway"
                                peer_address: "127.0.0.1:50062"
                              }
                              ministries {
                                spiffe_id: "spiffe://kz.iicc/ministry/registry"
                                grants { role: ROLE_SUBMIT record_types: RECORD_TYPE_ENTERPRISE }
                                grants { role: ROLE_READ }
                              }
                              ministries {
                                spiffe_id: "spiffe://kz.iicc/ministry/customs"
                                grants { role: ROLE_SUBMIT record_types: RECORD_TYPE_CARGO }
                              }
                              policy_file: "$4"
                              pseudonym_keys { key_id: "kz-1" key_file: "$5" }
                              signing { cert_file: "$6" key_file: "$7" } $3
                            )pb",
                            dir_.File("data"), ministry_tls, peer_tls, extra, policy_, key_file_, cert_, key_);
  }

  TempDir dir_;
  const std::string cert_ = dir_.File("gateway.crt");
  const std::string key_ = dir_.File("gateway.key");
  const std::string ca_ = dir_.File("ca.crt");
  const std::string policy_ = dir_.File("kz.policy.textproto");
  const std::string key_file_ = dir_.File("pseudonym.key");
};

// The lines of an INVALID_ARGUMENT message.
std::vector<std::string> Lines(const absl::Status& status) {
  return absl::StrSplit(status.message(), '\n', absl::SkipEmpty());
}

// The message line about `field` ("test.textproto: field: ..."), or "".
std::string LineFor(const absl::Status& status, const std::string& field) {
  for (const std::string& line : Lines(status)) {
    if (absl::StartsWith(line, absl::StrCat(kSource, ": ", field, ":"))) return line;
  }
  return "";
}

TEST_F(ConfigLoaderTest, PolicyFileAndPseudonymKeysAreChecked) {
  const std::string text = absl::Substitute(
      R"pb(
        jurisdiction: JURISDICTION_KZ
        data_dir: "$0"
        ministry_face { listen_address: "127.0.0.1:50051" $1 }
        peer {
          listen_address: "127.0.0.1:50061" $1
          peer_spiffe_id: "spiffe://uz.iicc/gateway"
          peer_address: "127.0.0.1:50062"
        }
        pseudonym_keys { key_id: "kz 1" key_file: "$2" }
        pseudonym_keys { key_id: "kz-2" key_file: "/nonexistent/key" }
        pseudonym_keys { key_id: "kz-2" key_file: "$2" }
        validation { extra_units: "kgm" extra_units: "XYZ" }
      )pb",
      dir_.File("data"), Tls(), key_file_);
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(LineFor(config.status(), "policy_file"), "");
  EXPECT_NE(LineFor(config.status(), "pseudonym_keys[0].key_id"), "");
  EXPECT_NE(LineFor(config.status(), "pseudonym_keys[1].key_file"), "");
  EXPECT_NE(LineFor(config.status(), "pseudonym_keys[2].key_id"), "");
  EXPECT_NE(LineFor(config.status(), "validation.extra_units[0]"), "");
  EXPECT_EQ(LineFor(config.status(), "validation.extra_units[1]"), "");
}

TEST_F(ConfigLoaderTest, ValidConfigPassesWithDefaults) {
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(ValidText(), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->jurisdiction(), v1::JURISDICTION_KZ);
  EXPECT_EQ(config->peer().window(), 512u);
  EXPECT_EQ(config->peer().window(), kDefaultWindow);
  EXPECT_EQ(config->limits().max_message_bytes(), 4194304u);
  EXPECT_EQ(config->store().file_name(), "gateway.db");
  EXPECT_EQ(config->peer().initial_backoff().seconds(), 0);
  EXPECT_EQ(config->peer().initial_backoff().nanos(), 100000000);
  EXPECT_EQ(config->peer().max_backoff().seconds(), 10);
  EXPECT_EQ(config->peer().max_backoff().nanos(), 0);
  ASSERT_EQ(config->ministries_size(), 2);
  EXPECT_EQ(config->ministries(1).spiffe_id(), "spiffe://kz.iicc/ministry/customs");
  // The ops face's defaults: loopback admin, readiness every 2 s, INFO
  // logs, 10 s to stop.
  EXPECT_EQ(config->admin().listen_address(), "127.0.0.1:9464");
  EXPECT_EQ(config->admin().check_interval().seconds(), 2);
  EXPECT_EQ(config->logging().level(), v1::LOG_LEVEL_INFO);
  EXPECT_EQ(config->shutdown_grace().seconds(), 10);
  EXPECT_FALSE(config->ministry_face().tls().has_reload_interval());  // The provider's 60 s.
  EXPECT_TRUE(ValidateGatewayConfig(*config).empty());
}

TEST_F(ConfigLoaderTest, OpsSettingsOutOfRangeAreEachNamed) {
  std::string text = ValidText(R"pb(
    admin {
      listen_address: "127.0.0.1:50051"
      check_interval { nanos: 10000000 }
    }
    shutdown_grace { seconds: 7200 }
  )pb");
  // Both faces re-read their certificate files every half second: refused.
  text =
      absl::StrReplaceAll(text, {{absl::StrCat(R"(ca_file: ")", ca_, R"(" })"),
                                  absl::StrCat(R"(ca_file: ")", ca_, R"(" reload_interval { nanos: 500000000 } })")}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(LineFor(config.status(), "admin.listen_address"), ::testing::HasSubstr("must differ from ministry_face"));
  EXPECT_THAT(LineFor(config.status(), "admin.check_interval"), ::testing::HasSubstr("between 100 ms and 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "shutdown_grace"), ::testing::HasSubstr("between 0 and 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "ministry_face.tls.reload_interval"),
              ::testing::HasSubstr("between 1 s and 1 day"));
  EXPECT_THAT(LineFor(config.status(), "peer.tls.reload_interval"), ::testing::HasSubstr("between 1 s and 1 day"));
}

// Durations far beyond any sensible value are named, not overflowed: the
// loader compares them in nanoseconds (found by config_loader_fuzz).
TEST_F(ConfigLoaderTest, HugeDurationsAreRefusedWithoutOverflow) {
  std::string text = ValidText(R"pb(
    shutdown_grace { seconds: 72000000000000000 }
    admin { check_interval { seconds: 9000000000000000 } }
  )pb");
  text = absl::StrReplaceAll(text, {{"peer {",
                                     "peer {\n  initial_backoff { seconds: 72000000000000000 }\n"
                                     "  max_backoff { seconds: 90000000000000000 }"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(LineFor(config.status(), "shutdown_grace"), ::testing::HasSubstr("between 0 and 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "admin.check_interval"), ::testing::HasSubstr("between 100 ms and 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "peer.initial_backoff"), ::testing::HasSubstr("at most 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "peer.max_backoff"), ::testing::HasSubstr("at most 1 hour"));
}

TEST_F(ConfigLoaderTest, LimitsHaveDefaultsAndABurstOfTwiceTheRate) {
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(ValidText(R"pb(
                                                                  ministries {
                                                                    spiffe_id: "spiffe://kz.iicc/ministry/slow"
                                                                    rate_limit { requests_per_second: 7 }
                                                                  }
                                                                )pb"),
                                                                kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const v1::LimitsConfig& limits = config->limits();
  EXPECT_EQ(limits.rate_limit().requests_per_second(), 5000u);
  EXPECT_EQ(limits.rate_limit().burst(), 10000u);
  EXPECT_EQ(limits.max_streams_per_identity(), 64u);
  EXPECT_EQ(limits.max_subscriptions_per_identity(), 16u);
  EXPECT_EQ(limits.stream_idle_timeout().seconds(), 300);
  EXPECT_EQ(limits.receipt_timeout().seconds(), 30);
  EXPECT_EQ(limits.audited_denials_per_minute(), 20u);
  EXPECT_EQ(config->ministries(config->ministries_size() - 1).rate_limit().burst(), 14u);
}

TEST_F(ConfigLoaderTest, LimitsOutOfRangeAreEachNamed) {
  absl::StatusOr<v1::GatewayConfig> config =
      ParseGatewayConfig(ValidText(R"pb(
                           limits {
                             rate_limit { requests_per_second: 0 }
                             max_streams_per_identity: 1000000
                             max_subscriptions_per_identity: 1000000
                             stream_idle_timeout { nanos: 1000 }
                             receipt_timeout { seconds: 7200 }
                             audited_denials_per_minute: 20000
                           }
                           ministries {
                             spiffe_id: "spiffe://kz.iicc/ministry/slow"
                             rate_limit { requests_per_second: 2000000 burst: 20000000 }
                           }
                         )pb"),
                         kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(LineFor(config.status(), "limits.rate_limit.requests_per_second"), ::testing::HasSubstr("1 to"));
  EXPECT_THAT(LineFor(config.status(), "limits.max_streams_per_identity"), ::testing::HasSubstr("at most"));
  EXPECT_THAT(LineFor(config.status(), "limits.max_subscriptions_per_identity"), ::testing::HasSubstr("at most"));
  EXPECT_THAT(LineFor(config.status(), "limits.stream_idle_timeout"), ::testing::HasSubstr("between 100 ms and 1 day"));
  EXPECT_THAT(LineFor(config.status(), "limits.receipt_timeout"), ::testing::HasSubstr("between 100 ms and 1 hour"));
  EXPECT_THAT(LineFor(config.status(), "limits.audited_denials_per_minute"), ::testing::HasSubstr("at most"));
  EXPECT_THAT(config.status().message(), ::testing::HasSubstr("].rate_limit.requests_per_second: 1 to"));
  EXPECT_THAT(config.status().message(), ::testing::HasSubstr("].rate_limit.burst: at most"));
}

TEST_F(ConfigLoaderTest, ExplicitValuesAreKept) {
  std::string text = ValidText(R"pb(
    limits { max_message_bytes: 65536 }
    store { file_name: "kz.db" }
  )pb");
  text = absl::StrReplaceAll(text, {{R"(peer_address: "127.0.0.1:50062")",
                                     R"(peer_address: "127.0.0.1:50062" window: 8
                                        initial_backoff { seconds: 1 } max_backoff { seconds: 30 })"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->peer().window(), 8u);
  EXPECT_EQ(config->peer().initial_backoff().seconds(), 1);
  EXPECT_EQ(config->peer().initial_backoff().nanos(), 0);
  EXPECT_EQ(config->peer().max_backoff().seconds(), 30);
  EXPECT_EQ(config->limits().max_message_bytes(), 65536u);
  EXPECT_EQ(config->store().file_name(), "kz.db");
}

TEST_F(ConfigLoaderTest, ReportsEveryErrorWithItsFieldPath) {
  // Four problems at once: a missing peer identity, a bad SPIFFE ID in the
  // third ministry, a certificate that does not exist, a grant without role.
  const std::string missing_cert = dir_.File("missing.crt");
  std::string text = ValidText(R"pb(
                                 ministries { spiffe_id: "spiffe://KZ.iicc/ministry/bad" }
                               )pb",
                               Tls(missing_cert, key_, ca_), Tls());
  text = absl::StrReplaceAll(text, {{R"(peer_spiffe_id: "spiffe://uz.iicc/gateway")", ""},
                                    {R"(grants { role: ROLE_READ })", R"(grants { role: ROLE_READ }
                                                                          grants { })"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  const absl::Status& status = config.status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  for (const std::string field : {"peer.peer_spiffe_id", "ministries[2].spiffe_id", "ministry_face.tls.cert_file",
                                  "ministries[0].grants[2].role"}) {
    EXPECT_NE(LineFor(status, field), "") << "no error for " << field << " in:\n" << status.message();
  }
  EXPECT_TRUE(absl::StrContains(LineFor(status, "ministry_face.tls.cert_file"), missing_cert));
  const std::vector<std::string> lines = Lines(status);
  EXPECT_EQ(lines.size(), 4u) << status.message();
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, absl::StrCat(kSource, ": "))) << line;
  }
}

TEST_F(ConfigLoaderTest, ReportsErrorsOfAConfigWithManyProblems) {
  const std::string text =
      absl::Substitute(R"pb(
                         jurisdiction: JURISDICTION_UZ
                         data_dir: "/tmp/x"
                         ministry_face { listen_address: "127.0.0.1:50052" $0 }
                         peer { listen_address: "127.0.0.1:50062" $0 peer_address: "127.0.0.1:50061" }
                         ministries {
                           spiffe_id: "spiffe://uz.iicc/ministry/a"
                           grants {}
                         }
                         ministries { spiffe_id: "not-a-spiffe-id" }
                         policy_file: "$1"
                         signing { cert_file: "$2" key_file: "$3" }
                       )pb",
                       Tls(), policy_, cert_, key_);
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(LineFor(config.status(), "peer.peer_spiffe_id"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "ministries[1].spiffe_id"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "ministries[0].grants[0].role"), "") << config.status().message();
  EXPECT_EQ(Lines(config.status()).size(), 3u) << config.status().message();
}

TEST_F(ConfigLoaderTest, MissingSectionsAreRequired) {
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig("", kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  for (const std::string field : {"jurisdiction", "data_dir", "ministry_face", "signing"}) {
    EXPECT_NE(LineFor(config.status(), field), "") << field << " in:\n" << config.status().message();
  }
}

TEST_F(ConfigLoaderTest, EmptyTlsFilesAreRequired) {
  const std::string text = absl::StrReplaceAll(ValidText(), {{absl::StrCat("key_file: \"", key_, "\""), ""}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(LineFor(config.status(), "ministry_face.tls.key_file"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "peer.tls.key_file"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "signing.key_file"), "") << config.status().message();
}

TEST_F(ConfigLoaderTest, UnreadableFileIsReportedWithItsFieldPath) {
  // We may run as root, for whom every existing file is readable: a file that
  // does not exist is the portable unreadable file.
  const std::string missing_ca = dir_.File("no-such-ca.crt");
  const std::string text = ValidText("", Tls(), Tls(cert_, key_, missing_ca));
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string line = LineFor(config.status(), "peer.tls.ca_file");
  EXPECT_TRUE(absl::StrContains(line, missing_ca)) << config.status().message();
  EXPECT_EQ(LineFor(config.status(), "ministry_face.tls.ca_file"), "") << config.status().message();
  EXPECT_EQ(Lines(config.status()).size(), 1u) << config.status().message();
}

// A private key that its group or others may read is refused, naming the
// field and the file: the TLS keys, the signing key, the pseudonym keys.
TEST_F(ConfigLoaderTest, PrivateKeyReadableByGroupOrOthersIsRefused) {
  for (const mode_t mode : {0640, 0604, 0660}) {
    ASSERT_EQ(chmod(key_.c_str(), mode), 0);
    ASSERT_EQ(chmod(key_file_.c_str(), mode), 0);
    absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(ValidText(), kSource);
    ASSERT_FALSE(config.ok()) << "mode " << mode;
    for (const char* field :
         {"ministry_face.tls.key_file", "peer.tls.key_file", "signing.key_file", "pseudonym_keys[0].key_file"}) {
      const std::string line = LineFor(config.status(), field);
      EXPECT_TRUE(absl::StrContains(line, "readable by group or others")) << field << ":\n" << config.status();
      EXPECT_TRUE(absl::StrContains(line, field == std::string("pseudonym_keys[0].key_file") ? key_file_ : key_))
          << line;
    }
    // Certificates and CA files are public.
    EXPECT_EQ(LineFor(config.status(), "ministry_face.tls.cert_file"), "");
  }
  ASSERT_EQ(chmod(key_.c_str(), 0400), 0);
  ASSERT_EQ(chmod(key_file_.c_str(), 0400), 0);
  EXPECT_TRUE(ParseGatewayConfig(ValidText(), kSource).ok());
}

TEST_F(ConfigLoaderTest, CrlFilesMustBeReadable) {
  const std::string crl = dir_.File("ca.crl");
  WriteFile(crl, "-----BEGIN X509 CRL-----\n");
  const std::string missing = dir_.File("no-such.crl");
  const std::string text =
      ValidText("",
                absl::StrCat("tls { cert_file: \"", cert_, "\" key_file: \"", key_, "\" ca_file: \"", ca_,
                             "\" crl_files: \"", crl, "\" crl_files: \"", missing, "\" }"),
                Tls());
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(LineFor(config.status(), "ministry_face.tls.crl_files[0]"), "") << config.status();
  EXPECT_TRUE(absl::StrContains(LineFor(config.status(), "ministry_face.tls.crl_files[1]"), missing))
      << config.status();
  EXPECT_EQ(Lines(config.status()).size(), 1u) << config.status().message();
}

TEST_F(ConfigLoaderTest, DirectoryIsNotAReadableFile) {
  // access(R_OK) succeeds on a directory, but no certificate can be read
  // from one.
  const std::string text = ValidText("", Tls(cert_, dir_.path(), ca_), Tls());
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok()) << "a directory was accepted as ministry_face.tls.key_file";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(LineFor(config.status(), "ministry_face.tls.key_file"), "") << config.status().message();
}

TEST_F(ConfigLoaderTest, SyntaxErrorsNameLineAndColumn) {
  const std::string text = "jurisdiction: JURISDICTION_KZ\nno_such_field: 1\n";
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(config.status().message(), "test.textproto:line 2:")) << config.status().message();
  EXPECT_TRUE(absl::StrContains(config.status().message(), "no_such_field")) << config.status().message();
}

TEST_F(ConfigLoaderTest, UnknownEnumValueIsASyntaxError) {
  const std::string text = "\n\njurisdiction: JURISDICTION_XX\n";
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  // protobuf's parser places this error at the token after the bad value.
  EXPECT_TRUE(absl::StartsWith(config.status().message(), "test.textproto:line ")) << config.status().message();
  EXPECT_TRUE(absl::StrContains(config.status().message(), "JURISDICTION_XX")) << config.status().message();
}

TEST_F(ConfigLoaderTest, UnbalancedBraceIsASyntaxError) {
  const std::string text = "jurisdiction: JURISDICTION_KZ\nministry_face {\n  listen_address: \"a:1\"\n";
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(config.status().message(), "test.textproto:line ")) << config.status().message();
}

TEST_F(ConfigLoaderTest, DuplicateSpiffeIdsAreRefused) {
  const std::string text = ValidText(R"pb(
    ministries {
      spiffe_id: "spiffe://kz.iicc/ministry/registry"
      grants { role: ROLE_STATUS }
    }
  )pb");
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(LineFor(config.status(), "ministries[2].spiffe_id"), "") << config.status().message();
  EXPECT_EQ(LineFor(config.status(), "ministries[0].spiffe_id"), "") << config.status().message();
}

TEST_F(ConfigLoaderTest, SameListenAddressOnBothFacesIsRefused) {
  const std::string text = absl::StrReplaceAll(
      ValidText(), {{R"(listen_address: "127.0.0.1:50061")", R"(listen_address: "127.0.0.1:50051")"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(config.status().message(), "listen_address")) << config.status().message();
  EXPECT_EQ(Lines(config.status()).size(), 1u) << config.status().message();
}

TEST_F(ConfigLoaderTest, BadHostPortIsRefused) {
  for (const std::string bad :
       {"127.0.0.1", ":50051", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1"}) {
    const std::string text = absl::StrReplaceAll(
        ValidText(), {{R"(listen_address: "127.0.0.1:50051")", absl::StrCat("listen_address: \"", bad, "\"")}});
    absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(LineFor(config.status(), "ministry_face.listen_address"), "") << bad << ": " << config.status();
  }
}

TEST_F(ConfigLoaderTest, GoodHostPortsPass) {
  for (const std::string good : {"localhost:1", "0.0.0.0:65535", "[::1]:50051", "gateway.kz.example:443"}) {
    const std::string text = absl::StrReplaceAll(
        ValidText(), {{R"(listen_address: "127.0.0.1:50051")", absl::StrCat("listen_address: \"", good, "\"")}});
    absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
    EXPECT_TRUE(config.ok()) << good << ": " << config.status();
  }
}

TEST_F(ConfigLoaderTest, BadPeerAddressIsRefused) {
  const std::string text =
      absl::StrReplaceAll(ValidText(), {{R"(peer_address: "127.0.0.1:50062")", R"(peer_address: "nowhere")"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(LineFor(config.status(), "peer.peer_address"), "") << config.status().message();
}

TEST_F(ConfigLoaderTest, RecordTypeUnspecifiedInGrantIsRefused) {
  const std::string text = ValidText(R"pb(
    ministries {
      spiffe_id: "spiffe://kz.iicc/ministry/other"
      grants { role: ROLE_READ record_types: RECORD_TYPE_CARGO record_types: RECORD_TYPE_UNSPECIFIED }
    }
  )pb");
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(LineFor(config.status(), "ministries[2].grants[0].record_types[1]"), "") << config.status().message();
}

TEST_F(ConfigLoaderTest, LimitsAndStoreAreChecked) {
  const std::string text =
      absl::StrReplaceAll(ValidText(R"pb(
                            limits { max_message_bytes: 100 }
                            store { file_name: "sub/gateway.db" }
                          )pb"),
                          {{R"(peer_address: "127.0.0.1:50062")", R"(peer_address: "127.0.0.1:50062" window: 5000)"}});
  absl::StatusOr<v1::GatewayConfig> config = ParseGatewayConfig(text, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(LineFor(config.status(), "limits.max_message_bytes"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "store.file_name"), "") << config.status().message();
  EXPECT_NE(LineFor(config.status(), "peer.window"), "") << config.status().message();
  EXPECT_EQ(Lines(config.status()).size(), 3u) << config.status().message();
}

// A limit gRPC's int cannot hold (with the peer face's room for a proof)
// would overflow into "no limit" or a negative one.
TEST_F(ConfigLoaderTest, MessageLimitAboveItsMaximumIsRefused) {
  for (const char* bytes : {"268435457", "4294967295"}) {
    SCOPED_TRACE(bytes);
    absl::StatusOr<v1::GatewayConfig> config =
        ParseGatewayConfig(ValidText(absl::StrCat("limits { max_message_bytes: ", bytes, " }")), kSource);
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(LineFor(config.status(), "limits.max_message_bytes"), ::testing::HasSubstr("at most 268435456"));
    EXPECT_EQ(Lines(config.status()).size(), 1u) << config.status().message();
  }
  EXPECT_TRUE(ParseGatewayConfig(ValidText("limits { max_message_bytes: 268435456 }"), kSource).ok());
}

TEST_F(ConfigLoaderTest, LoadGatewayConfigReadsAFile) {
  const std::string path = dir_.File("kz.textproto");
  WriteFile(path, ValidText());
  absl::StatusOr<v1::GatewayConfig> config = LoadGatewayConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->peer().peer_spiffe_id(), "spiffe://uz.iicc/gateway");
  EXPECT_EQ(config->peer().window(), kDefaultWindow);
}

TEST_F(ConfigLoaderTest, LoadGatewayConfigPrefixesErrorsWithThePath) {
  const std::string path = dir_.File("bad.textproto");
  WriteFile(path, absl::StrReplaceAll(ValidText(), {{R"(data_dir: ")", R"(data_dir: "" # ")"}}));
  absl::StatusOr<v1::GatewayConfig> config = LoadGatewayConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(config.status().message(), absl::StrCat(path, ": data_dir:")))
      << config.status().message();
}

TEST_F(ConfigLoaderTest, LoadGatewayConfigOnMissingFileIsNotFound) {
  absl::StatusOr<v1::GatewayConfig> config = LoadGatewayConfig(dir_.File("absent.textproto"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound) << config.status();
}

TEST(IsValidSpiffeIdTest, AcceptsValidIds) {
  EXPECT_TRUE(IsValidSpiffeId("spiffe://kz.iicc/gateway"));
  EXPECT_TRUE(IsValidSpiffeId("spiffe://uz.iicc/ministry/ministry-client"));
  EXPECT_TRUE(IsValidSpiffeId("spiffe://kz.iicc/ministry/customs_system.v2"));
  EXPECT_TRUE(IsValidSpiffeId("spiffe://example-1.org/Path/With/Upper"));
  EXPECT_TRUE(IsValidSpiffeId("spiffe://kz.iicc/a/b/c/d"));
}

TEST(IsValidSpiffeIdTest, RejectsUpperCaseTrustDomain) {
  EXPECT_FALSE(IsValidSpiffeId("spiffe://KZ.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.IICC/gateway"));
}

TEST(IsValidSpiffeIdTest, RejectsBadPathSegments) {
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc//gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/ministry//registry"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/gateway/"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/ministry/../gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/.."));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/./gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/ministry/reg istry"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/ministry/%41"));
}

TEST(IsValidSpiffeIdTest, RejectsQueryAndFragment) {
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/gateway?x=1"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc/gateway#frag"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc?x=1"));
}

TEST(IsValidSpiffeIdTest, RejectsOtherSchemesAndShapes) {
  EXPECT_FALSE(IsValidSpiffeId(""));
  EXPECT_FALSE(IsValidSpiffeId("kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("//kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("https://kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("SPIFFE://kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe:kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe:///gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://kz.iicc:8443/gateway"));
  EXPECT_FALSE(IsValidSpiffeId("spiffe://user@kz.iicc/gateway"));
  EXPECT_FALSE(IsValidSpiffeId(absl::StrCat("spiffe://kz.iicc/", std::string(2100, 'a'))));
}

}  // namespace
}  // namespace iicc::config
