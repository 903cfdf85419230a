#include "gateway/policy/policy_engine.h"

#include "gateway/common/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::policy {
namespace {

using ::iicc::testing::TempDir;

constexpr char kSource[] = "test.policy";

// ---------------------------------------------------------------------------
// Keys, and the pseudonym computed here (not by the engine).

std::string KeyBytes(int seed) {
  std::string key(32, '\0');
  for (int i = 0; i < 32; ++i) {
    key[i] = static_cast<char>((seed * 31 + i * 7) & 0xff);
  }
  return key;
}

const PseudonymKeys& TestKeys() {
  static const PseudonymKeys* const keys = new PseudonymKeys{{"k1", KeyBytes(1)}, {"k2", KeyBytes(2)}};
  return *keys;
}

// base64url without padding, written here so that the test does not share
// the engine's encoder.
std::string Base64UrlNoPadding(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  auto byte = [&bytes](size_t at) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (bytes.size() - i == 1) {
    const uint32_t n = byte(i) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::string HmacSha256(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &size);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// What PseudonymiseAction documents: ps:<key_id>:<base64url(HMAC-SHA-256(key, path + value))>.
std::string ExpectedPseudonym(const std::string& key_id, const std::string& key, const std::string& path,
                              const std::string& value) {
  return absl::StrCat("ps:", key_id, ":", Base64UrlNoPadding(HmacSha256(key, path + value)));
}

std::string ExpectedPseudonym(const std::string& key_id, const std::string& path, const std::string& value) {
  return ExpectedPseudonym(key_id, TestKeys().at(key_id), path, value);
}

bool LooksLikePseudonym(const std::string& value, const std::string& key_id) {
  return std::regex_match(value, std::regex(absl::StrCat("ps:", key_id, ":[A-Za-z0-9_-]{43}")));
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Policy texts. Each rule sits on a line of its own, so that a marker in it
// (its field path or its reason) finds the line an error must name.

std::string Rule(absl::string_view field, absl::string_view action, absl::string_view reason = "because",
                 absl::string_view when = "") {
  return absl::StrCat("  rules { field: \"", field, "\" ", action, " ", when, (when.empty() ? "" : " "), "reason: \"",
                      reason, "\" }\n");
}

std::string Entry(absl::string_view direction, absl::string_view record_type, absl::string_view default_action,
                  absl::string_view rules) {
  return absl::StrCat(direction, " {\n  record_type: ", record_type, "\n", "  default_action: ", default_action, "\n",
                      rules, "}\n");
}

std::string KzPolicy(absl::string_view entries) { return absl::StrCat("jurisdiction: JURISDICTION_KZ\n", entries); }

std::string CargoOutbound(absl::string_view default_action, absl::string_view rules) {
  return KzPolicy(Entry("outbound", "RECORD_TYPE_CARGO", default_action, rules));
}

std::string CargoInbound(absl::string_view rules) {
  return KzPolicy(Entry("inbound", "RECORD_TYPE_CARGO", "DEFAULT_ACTION_KEEP", rules));
}

// The 1-based line of the only line of `text` that contains `marker`.
int LineOf(const std::string& text, absl::string_view marker) {
  int found = 0;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (absl::StrContains(line, marker)) {
      EXPECT_EQ(found, 0) << "marker '" << marker << "' is on more than one line of\n" << text;
      found = number;
    }
  }
  EXPECT_NE(found, 0) << "marker '" << marker << "' is not in\n" << text;
  return found;
}

std::shared_ptr<const CompiledPolicy> MustCompile(const std::string& text,
                                                  v1::Jurisdiction jurisdiction = v1::JURISDICTION_KZ) {
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompiledPolicy::Parse(text, kSource, TestKeys(), jurisdiction);
  EXPECT_TRUE(policy.ok()) << policy.status() << "\nin\n" << text;
  return policy.ok() ? *std::move(policy) : nullptr;
}

// The load errors of `text`, which must not compile.
std::string LoadErrors(const std::string& text, v1::Jurisdiction jurisdiction = v1::JURISDICTION_KZ) {
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompiledPolicy::Parse(text, kSource, TestKeys(), jurisdiction);
  EXPECT_FALSE(policy.ok()) << "compiled, but should not have:\n" << text;
  if (policy.ok()) {
    return "";
  }
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << policy.status();
  return std::string(policy.status().message());
}

// True when one line of `errors` starts with "test.policy:<line>:" and
// contains `what`.
::testing::AssertionResult HasErrorAt(const std::string& errors, int line, absl::string_view what) {
  const std::string prefix = absl::StrCat(kSource, ":", line, ":");
  for (absl::string_view error : absl::StrSplit(errors, '\n')) {
    if (absl::StartsWith(error, prefix) && absl::StrContains(error, what)) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no error '" << prefix << " ..." << what << "...' in:\n" << errors;
}

int ErrorCount(const std::string& errors) {
  return errors.empty() ? 0 : static_cast<int>(std::vector<std::string>(absl::StrSplit(errors, '\n')).size());
}

// ---------------------------------------------------------------------------
// Records.

v1::Record RecordFromText(const std::string& text) {
  v1::Record record;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &record)) << text;
  return record;
}

constexpr char kCargoText[] = R"pb(
  cargo {
    consignment_id: "KZ-ATM-2026-000123"
    direction: DIRECTION_KZ_TO_UZ
    checkpoint: CHECKPOINT_ATAMEKEN
    declaration_ref: "10204010/281126/0012345"
    tir_holder_id: "KAZ/123/45"
    tir_reference: "XC71234567"
    consignor { scheme: ID_SCHEME_KZ_BIN value: "100140011059" }
    consignee { scheme: ID_SCHEME_UZ_STIR value: "302938475" }
    vehicle {
      plate: "123ABC02"
      country: "KZ"
      trailer_plates: [ "45XYZ02", "46XYZ02" ]
    }
    driver {
      full_name: "Aidos Serikbayev"
      national_id { scheme: ID_SCHEME_KZ_IIN value: "900101300057" }
      document_number: "N12345678"
      nationality: "KZ"
      birth_date { year: 1990 month: 1 day: 1 }
      address: "Almaty, Abay ave. 1"
    }
    goods {
      hs6: "100190"
      national_code: "1001900000"
      description: "Wheat, other than durum"
      gross_kg: 20500
      net_kg: 20000
      quantity: 20000
      unit: "KGM"
      packages: 400
      origin_country: "KZ"
      customs_value { currency_code: "USD" units: 4800 }
    }
    goods {
      hs6: "010229"
      national_code: "0102290000"
      description: "Live cattle"
      gross_kg: 9000
      net_kg: 8800
      quantity: 20
      unit: "HEA"
      packages: 1
      origin_country: "KZ"
      customs_value { currency_code: "KZT" units: 12000000 }
    }
    certificates {
      type: CERTIFICATE_TYPE_PHYTOSANITARY
      number: "KZ-PH-2026-7781"
      issuer_country: "KZ"
      issued_on { year: 2026 month: 11 day: 27 }
    }
    certificates {
      type: CERTIFICATE_TYPE_VETERINARY
      number: "KZ-VET-2026-0042"
      issuer_country: "KZ"
      issued_on { year: 2026 month: 11 day: 26 }
    }
  }
)pb";

constexpr char kEnterpriseText[] = R"pb(
  enterprise {
    section: JURISDICTION_UZ
    legal_id { scheme: ID_SCHEME_UZ_STIR value: "302938475" }
    name: "Gulistan Textile Cluster LLC"
    status: ENTERPRISE_STATUS_REGISTERED
    contact_phone: "+998901234567"
  }
)pb";

constexpr char kInvestmentText[] = R"pb(
  investment {
    project_id: "KZ-INV-2026-0042"
    section: JURISDICTION_KZ
    investor { scheme: ID_SCHEME_FOREIGN value: "DE-HRB-123456" }
    investor_country: "DE"
    output_hs6: [ "843351", "930200", "930390" ]
    stage: INVESTMENT_STAGE_APPROVED
  }
)pb";

v1::Record Cargo() { return RecordFromText(kCargoText); }

// `record` after `policy` in `direction`, which must let it pass.
v1::Record Applied(const CompiledPolicy& policy, v1::Record record, Direction direction = Direction::kOutbound) {
  const absl::Status status = policy.Apply(direction, &record);
  EXPECT_TRUE(status.ok()) << status;
  return record;
}

// The refusal of `record` by `policy` in `direction`; checks that the
// record was left as it was.
std::string Refusal(const CompiledPolicy& policy, const v1::Record& record, Direction direction = Direction::kInbound) {
  v1::Record copy = record;
  const absl::Status status = policy.Apply(direction, &copy);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(record, copy)) << "a refused record was changed";
  return std::string(status.message());
}

::testing::AssertionResult SameProto(const google::protobuf::Message& expected,
                                     const google::protobuf::Message& actual) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string differences;
  differencer.ReportDifferencesToString(&differences);
  if (differencer.Compare(expected, actual)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "differences (expected -> actual):\n"
                                       << differences << "actual:\n"
                                       << actual.DebugString();
}

// ===========================================================================
// Actions

TEST(PolicyActionTest, KeepLetsTheFieldThroughUnchanged) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_DROP", Rule("cargo.consignment_id", "keep {}") + Rule("cargo.direction", "keep {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected;
  expected.mutable_cargo()->set_consignment_id("KZ-ATM-2026-000123");
  expected.mutable_cargo()->set_direction(v1::DIRECTION_KZ_TO_UZ);
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

TEST(PolicyActionTest, DropRemovesTheFieldAndNothingElse) {
  auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.address", "drop {}") +
                                                                     Rule("cargo.declaration_ref", "drop {}") +
                                                                     Rule("cargo.goods", "drop {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected = Cargo();
  expected.mutable_cargo()->mutable_driver()->clear_address();
  expected.mutable_cargo()->clear_declaration_ref();
  expected.mutable_cargo()->clear_goods();
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

// A field this build does not know was never classified: it never crosses,
// whatever the default, at the top or deep in a kept subtree.
TEST(PolicyActionTest, UnknownFieldsAreDiscardedEvenUnderAKeepDefault) {
  auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.declaration_ref", "drop {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  ASSERT_GT(record.cargo().goods_size(), 0);
  auto unknown = [](google::protobuf::Message* message) {
    return message->GetReflection()->MutableUnknownFields(message);
  };
  unknown(&record)->AddLengthDelimited(999, "unclassified personal text");
  unknown(record.mutable_cargo()->mutable_driver())->AddLengthDelimited(4242, "a newer peer's phone field");
  unknown(record.mutable_cargo()->mutable_goods(0))->AddVarint(777, 12345);
  ASSERT_NE(record.SerializeAsString().find("unclassified"), std::string::npos);
  v1::Record expected = Cargo();
  expected.mutable_cargo()->clear_declaration_ref();
  EXPECT_EQ(Applied(*policy, record).SerializeAsString(), expected.SerializeAsString());
  // Inbound this policy lists no cargo rules: the record passes as it is,
  // but without what this build cannot read.
  EXPECT_EQ(Applied(*policy, record, Direction::kInbound).SerializeAsString(), Cargo().SerializeAsString());
}

TEST(PolicyActionTest, APseudonymHasTheDocumentedForm) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }")));
  ASSERT_NE(policy, nullptr);
  const std::string pseudonym = Applied(*policy, Cargo()).cargo().driver().full_name();
  EXPECT_TRUE(LooksLikePseudonym(pseudonym, "k1")) << pseudonym;
  EXPECT_EQ(pseudonym.size(), std::string("ps:k1:").size() + 43);
}

TEST(PolicyActionTest, APseudonymIsTheHmacSha256OfRulePathAndValueInBase64Url) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }") +
                                 Rule("cargo.driver.national_id.value", "pseudonymise { key_id: \"k2\" }")));
  ASSERT_NE(policy, nullptr);
  const v1::Record out = Applied(*policy, Cargo());
  EXPECT_EQ(out.cargo().driver().full_name(), ExpectedPseudonym("k1", "cargo.driver.full_name", "Aidos Serikbayev"));
  EXPECT_EQ(out.cargo().driver().national_id().value(),
            ExpectedPseudonym("k2", "cargo.driver.national_id.value", "900101300057"));
  // Everything else is untouched.
  v1::Record expected = Cargo();
  expected.mutable_cargo()->mutable_driver()->set_full_name(out.cargo().driver().full_name());
  expected.mutable_cargo()->mutable_driver()->mutable_national_id()->set_value(
      out.cargo().driver().national_id().value());
  EXPECT_TRUE(SameProto(expected, out));
}

TEST(PolicyActionTest, APseudonymIsDeterministic) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }"));
  auto first = MustCompile(text);
  auto second = MustCompile(text);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const std::string once = Applied(*first, Cargo()).cargo().driver().full_name();
  EXPECT_EQ(Applied(*first, Cargo()).cargo().driver().full_name(), once);
  EXPECT_EQ(Applied(*second, Cargo()).cargo().driver().full_name(), once);
}

TEST(PolicyActionTest, APseudonymDiffersByKeyByPathAndByValue) {
  auto with_k1 = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }") +
                                 Rule("cargo.driver.document_number", "pseudonymise { key_id: \"k1\" }")));
  auto with_k2 = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k2\" }")));
  ASSERT_NE(with_k1, nullptr);
  ASSERT_NE(with_k2, nullptr);

  v1::Record same_value = Cargo();
  same_value.mutable_cargo()->mutable_driver()->set_full_name("SAME");
  same_value.mutable_cargo()->mutable_driver()->set_document_number("SAME");
  const v1::Person by_k1 = Applied(*with_k1, same_value).cargo().driver();
  const v1::Person by_k2 = Applied(*with_k2, same_value).cargo().driver();

  EXPECT_NE(by_k1.full_name(), by_k2.full_name()) << "another key";
  EXPECT_NE(by_k1.full_name(), by_k1.document_number()) << "another path, same key and value";
  EXPECT_EQ(by_k1.document_number(), ExpectedPseudonym("k1", "cargo.driver.document_number", "SAME"));

  v1::Record other_value = same_value;
  other_value.mutable_cargo()->mutable_driver()->set_full_name("SAMF");
  EXPECT_NE(Applied(*with_k1, other_value).cargo().driver().full_name(), by_k1.full_name()) << "another value";
}

TEST(PolicyActionTest, MaskLeavesAStarAndTheLastCharacters) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.tir_reference", "mask { keep_last: 0 }") +
                                               Rule("cargo.driver.document_number", "mask { keep_last: 3 }") +
                                               Rule("cargo.consignment_id", "mask { keep_last: 100 }") +
                                               Rule("cargo.declaration_ref", "mask {}")));
  ASSERT_NE(policy, nullptr);
  const v1::Record out = Applied(*policy, Cargo());
  EXPECT_EQ(out.cargo().tir_reference(), "*");
  EXPECT_EQ(out.cargo().driver().document_number(), "*678");
  EXPECT_EQ(out.cargo().consignment_id(), "*KZ-ATM-2026-000123") << "keep_last longer than the value";
  EXPECT_EQ(out.cargo().declaration_ref(), "*") << "keep_last defaults to 0";
}

// MaskAction: "`*` followed by its last `keep_last` characters". Names are
// often Cyrillic: counting bytes would cut a character in two and leave a
// string that is not UTF-8 (which the peer then cannot parse or validate).
TEST(PolicyActionTest, MaskCountsCharactersNotBytes) {
  auto policy =
      MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "mask { keep_last: 3 }")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_driver()->set_full_name("Айдос Серикбаев");
  EXPECT_EQ(Applied(*policy, record).cargo().driver().full_name(), "*аев");
}

TEST(PolicyActionTest, AnAbsentStringStaysAbsent) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.document_number", "pseudonymise { key_id: \"k1\" }") +
                                               Rule("cargo.driver.full_name", "mask { keep_last: 2 }")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_driver()->clear_document_number();
  record.mutable_cargo()->mutable_driver()->clear_full_name();
  EXPECT_TRUE(SameProto(record, Applied(*policy, record)));
}

// ===========================================================================
// require

TEST(PolicyRequireTest, RefusesARecordWithoutTheField) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.declaration_ref", "require {}", "a declaration is needed")));
  ASSERT_NE(policy, nullptr);
  EXPECT_TRUE(SameProto(Cargo(), Applied(*policy, Cargo(), Direction::kInbound)));

  v1::Record record = Cargo();
  record.mutable_cargo()->clear_declaration_ref();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record), "cargo.declaration_ref: a declaration is needed"));
}

TEST(PolicyRequireTest, AMissingIntermediateMessageIsAMissingField) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.driver.national_id.value", "require {}", "id needed")));
  ASSERT_NE(policy, nullptr);

  v1::Record no_national_id = Cargo();
  no_national_id.mutable_cargo()->mutable_driver()->clear_national_id();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, no_national_id), "cargo.driver.national_id.value: id needed"));

  v1::Record no_driver = Cargo();
  no_driver.mutable_cargo()->clear_driver();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, no_driver), "cargo.driver.national_id.value: id needed"));
}

TEST(PolicyRequireTest, OnARepeatedPathEveryElementNeedsTheField) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.goods.hs6", "require {}", "hs6 needed")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  *record.mutable_cargo()->add_goods() = record.cargo().goods(0);
  record.mutable_cargo()->mutable_goods(1)->clear_hs6();
  record.mutable_cargo()->mutable_goods(2)->clear_hs6();
  const std::string refusal = Refusal(*policy, record);
  EXPECT_TRUE(absl::StrContains(refusal, "cargo.goods[1].hs6: hs6 needed")) << refusal;
  EXPECT_TRUE(absl::StrContains(refusal, "cargo.goods[2].hs6: hs6 needed")) << refusal;
  EXPECT_FALSE(absl::StrContains(refusal, "goods[0]")) << refusal;
}

TEST(PolicyRequireTest, ARepeatedFieldMustNotBeEmpty) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.certificates", "require {}", "certificates needed")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->clear_certificates();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record), "cargo.certificates: certificates needed"));
}

TEST(PolicyRequireTest, ARefusedOutboundRecordIsNotTransformed) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.declaration_ref", "require {}", "needed") +
                                               Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }")));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->clear_declaration_ref();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record, Direction::kOutbound), "cargo.declaration_ref: needed"));
}

// A rule "applies only where all [conditions] hold" (policy.proto). Where the
// driver is absent there is no nationality "UZ", so the record is not
// refused, as it is not when the driver is there with another nationality.
TEST(PolicyRequireTest, AConditionalRequireDoesNotApplyWhereItsConditionCannotHold) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.driver.document_number", "require {}", "UZ drivers need one",
                                              "when { field: \"nationality\" equals: [\"UZ\"] }")));
  ASSERT_NE(policy, nullptr);

  v1::Record uz_driver = Cargo();
  uz_driver.mutable_cargo()->mutable_driver()->set_nationality("UZ");
  uz_driver.mutable_cargo()->mutable_driver()->clear_document_number();
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, uz_driver), "cargo.driver.document_number: UZ drivers need one"));

  v1::Record kz_driver = Cargo();
  kz_driver.mutable_cargo()->mutable_driver()->clear_document_number();
  Applied(*policy, kz_driver, Direction::kInbound);

  v1::Record no_driver = Cargo();
  no_driver.mutable_cargo()->clear_driver();
  Applied(*policy, no_driver, Direction::kInbound);
}

// ===========================================================================
// deny_if

TEST(PolicyDenyIfTest, EqualsOnAString) {
  auto policy = MustCompile(
      CargoInbound(Rule("cargo.vehicle.country", "deny_if { equals: [\"AF\", \"IR\"] }", "sanctioned registry")));
  ASSERT_NE(policy, nullptr);
  Applied(*policy, Cargo(), Direction::kInbound);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_vehicle()->set_country("IR");
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record), "cargo.vehicle.country: sanctioned registry"));
  record.mutable_cargo()->mutable_vehicle()->set_country("IRL");  // Equals, not a prefix.
  Applied(*policy, record, Direction::kInbound);
}

TEST(PolicyDenyIfTest, StartsWithOnAStringNamesTheElementButNotTheValue) {
  auto policy = MustCompile(
      CargoInbound(Rule("cargo.goods.hs6", "deny_if { starts_with: [\"93\"] }", "arms need a licence exchange")));
  ASSERT_NE(policy, nullptr);
  Applied(*policy, Cargo(), Direction::kInbound);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_goods(1)->set_hs6("930190");
  const std::string refusal = Refusal(*policy, record);
  EXPECT_TRUE(absl::StrContains(refusal, "cargo.goods[1].hs6: arms need a licence exchange")) << refusal;
  EXPECT_FALSE(absl::StrContains(refusal, "goods[0]")) << refusal;
  EXPECT_FALSE(absl::StrContains(refusal, "930190")) << "a refusal never quotes a value: " << refusal;
}

TEST(PolicyDenyIfTest, EqualsOnAnEnumByValueName) {
  auto policy =
      MustCompile(CargoInbound(Rule("cargo.direction", "deny_if { equals: [\"DIRECTION_UZ_TO_KZ\"] }", "wrong way")));
  ASSERT_NE(policy, nullptr);
  Applied(*policy, Cargo(), Direction::kInbound);
  v1::Record record = Cargo();
  record.mutable_cargo()->set_direction(v1::DIRECTION_UZ_TO_KZ);
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record), "cargo.direction: wrong way"));
}

TEST(PolicyDenyIfTest, StartsWithOnAnEnumByValueName) {
  auto policy =
      MustCompile(CargoInbound(Rule("cargo.checkpoint", "deny_if { starts_with: [\"CHECKPOINT_GUL\"] }", "not here")));
  ASSERT_NE(policy, nullptr);
  Applied(*policy, Cargo(), Direction::kInbound);
  v1::Record record = Cargo();
  record.mutable_cargo()->set_checkpoint(v1::CHECKPOINT_GULISTAN);
  EXPECT_TRUE(absl::StrContains(Refusal(*policy, record), "cargo.checkpoint: not here"));
}

TEST(PolicyDenyIfTest, OnARepeatedStringNamesEachMatchingElement) {
  auto policy = MustCompile(
      KzPolicy(Entry("inbound", "RECORD_TYPE_INVESTMENT", "DEFAULT_ACTION_KEEP",
                     Rule("investment.output_hs6", "deny_if { starts_with: [\"93\"] }", "no arms production"))));
  ASSERT_NE(policy, nullptr);
  const std::string refusal = Refusal(*policy, RecordFromText(kInvestmentText));
  EXPECT_TRUE(absl::StrContains(refusal, "investment.output_hs6[1]: no arms production")) << refusal;
  EXPECT_TRUE(absl::StrContains(refusal, "investment.output_hs6[2]: no arms production")) << refusal;
  EXPECT_FALSE(absl::StrContains(refusal, "output_hs6[0]")) << refusal;
}

// ===========================================================================
// default_action

TEST(PolicyDefaultActionTest, KeepLetsUnlistedFieldsThrough) {
  auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", ""));
  ASSERT_NE(policy, nullptr);
  EXPECT_TRUE(SameProto(Cargo(), Applied(*policy, Cargo())));
}

TEST(PolicyDefaultActionTest, DropMakesTheRulesAnAllowListOfWholeSubtrees) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_DROP",
      Rule("cargo.consignment_id", "keep {}") + Rule("cargo.vehicle", "keep {}") + Rule("cargo.goods", "keep {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected;
  expected.mutable_cargo()->set_consignment_id(Cargo().cargo().consignment_id());
  *expected.mutable_cargo()->mutable_vehicle() = Cargo().cargo().vehicle();
  *expected.mutable_cargo()->mutable_goods() = Cargo().cargo().goods();
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

TEST(PolicyDefaultActionTest, AKeptSubtreeIsKeptWholeButWhereDeeperRulesAct) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_DROP", Rule("cargo.driver", "keep {}") + Rule("cargo.driver.address", "drop {}") +
                                 Rule("cargo.driver.national_id.value", "mask { keep_last: 2 }") +
                                 Rule("cargo.goods", "keep {}") + Rule("cargo.goods.customs_value", "drop {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected;
  v1::Person* driver = expected.mutable_cargo()->mutable_driver();
  *driver = Cargo().cargo().driver();
  driver->clear_address();
  driver->mutable_national_id()->set_value("*57");
  *expected.mutable_cargo()->mutable_goods() = Cargo().cargo().goods();
  for (v1::GoodsLine& line : *expected.mutable_cargo()->mutable_goods()) {
    line.clear_customs_value();
  }
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

TEST(PolicyDefaultActionTest, UnderDropADeepRuleAloneLetsOnlyItsFieldThrough) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_DROP", Rule("cargo.driver.nationality", "keep {}") + Rule("cargo.goods.hs6", "keep {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected;
  expected.mutable_cargo()->mutable_driver()->set_nationality("KZ");
  expected.mutable_cargo()->add_goods()->set_hs6("100190");
  expected.mutable_cargo()->add_goods()->set_hs6("010229");
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

// ===========================================================================
// Conditions

TEST(PolicyConditionTest, EqualsOnAnEnumSibling) {
  const std::string when = R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_IIN", "ID_SCHEME_UZ_PINFL"] })";
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_KEEP", Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "p", when) +
                                 Rule("cargo.consignee.value", "pseudonymise { key_id: \"k1\" }", "p", when)));
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_consignor()->set_scheme(v1::ID_SCHEME_UZ_PINFL);
  record.mutable_cargo()->mutable_consignor()->set_value("31507901234566");
  const v1::Record out = Applied(*policy, record);
  EXPECT_EQ(out.cargo().consignor().value(), ExpectedPseudonym("k1", "cargo.consignor.value", "31507901234566"));
  EXPECT_EQ(out.cargo().consignor().scheme(), v1::ID_SCHEME_UZ_PINFL);
  EXPECT_TRUE(SameProto(record.cargo().consignee(), out.cargo().consignee())) << "a STIR does not match";
}

TEST(PolicyConditionTest, StartsWith) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.consignment_id", "mask { keep_last: 3 }", "p",
                                                R"(when { field: "consignment_id" starts_with: ["KZ-", "QQ-"] })")));
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Applied(*policy, Cargo()).cargo().consignment_id(), "*123");
  v1::Record record = Cargo();
  record.mutable_cargo()->set_consignment_id("UZ-GUL-1");
  EXPECT_EQ(Applied(*policy, record).cargo().consignment_id(), "UZ-GUL-1");
}

TEST(PolicyConditionTest, CharAtHoldsOnlyWithinTheValue) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "p",
                                                R"(when { field: "value" char_at { position: 4 one_of: "6" } })")));
  ASSERT_NE(policy, nullptr);
  auto consignor_value_after = [&policy](const std::string& value) {
    v1::Record record = Cargo();
    record.mutable_cargo()->mutable_consignor()->set_value(value);
    return Applied(*policy, record).cargo().consignor().value();
  };
  EXPECT_EQ(consignor_value_after("100160011059"), ExpectedPseudonym("k1", "cargo.consignor.value", "100160011059"));
  EXPECT_EQ(consignor_value_after("100140011059"), "100140011059");
  EXPECT_EQ(consignor_value_after("1006"), "1006") << "position 4 is past the end";
  EXPECT_EQ(consignor_value_after("100"), "100") << "position 4 is past the end";
}

TEST(PolicyConditionTest, AllConditionsOfARuleMustHold) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "p",
                                                R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_BIN"] })"
                                                R"( when { field: "value" char_at { position: 4 one_of: "6" } })")));
  ASSERT_NE(policy, nullptr);
  auto consignor_value_after = [&policy](v1::IdScheme scheme, const std::string& value) {
    v1::Record record = Cargo();
    record.mutable_cargo()->mutable_consignor()->set_scheme(scheme);
    record.mutable_cargo()->mutable_consignor()->set_value(value);
    return Applied(*policy, record).cargo().consignor().value();
  };
  EXPECT_EQ(consignor_value_after(v1::ID_SCHEME_KZ_BIN, "100160011059"),
            ExpectedPseudonym("k1", "cargo.consignor.value", "100160011059"));
  EXPECT_EQ(consignor_value_after(v1::ID_SCHEME_KZ_BIN, "100140011059"), "100140011059");
  EXPECT_EQ(consignor_value_after(v1::ID_SCHEME_FOREIGN, "100160011059"), "100160011059");
}

TEST(PolicyConditionTest, TheFirstMatchingRuleWins) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP",
                    Rule("cargo.consignor.value", "mask { keep_last: 4 }", "first",
                         R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_IIN"] })") +
                        Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "second",
                             R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_IIN", "ID_SCHEME_UZ_PINFL"] })") +
                        Rule("cargo.consignor.value", "drop {}", "third")));
  ASSERT_NE(policy, nullptr);
  auto consignor_after = [&policy](v1::IdScheme scheme, const std::string& value) {
    v1::Record record = Cargo();
    record.mutable_cargo()->mutable_consignor()->set_scheme(scheme);
    record.mutable_cargo()->mutable_consignor()->set_value(value);
    return Applied(*policy, record).cargo().consignor();
  };
  EXPECT_EQ(consignor_after(v1::ID_SCHEME_KZ_IIN, "900101300057").value(), "*0057");
  EXPECT_EQ(consignor_after(v1::ID_SCHEME_UZ_PINFL, "31507901234566").value(),
            ExpectedPseudonym("k1", "cargo.consignor.value", "31507901234566"));
  const v1::PartyId stir = consignor_after(v1::ID_SCHEME_UZ_STIR, "302938475");
  EXPECT_TRUE(stir.value().empty()) << "the unconditional last rule drops it";
  EXPECT_EQ(stir.scheme(), v1::ID_SCHEME_UZ_STIR);
}

TEST(PolicyConditionTest, WithoutAMatchingRuleTheInheritedDefaultApplies) {
  const std::string pseudonymise_iin = Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "p",
                                            R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_IIN"] })");
  const v1::PartyId company = Cargo().cargo().consignor();  // A BIN: no rule matches.
  {
    SCOPED_TRACE("keep by default");
    auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", pseudonymise_iin));
    ASSERT_NE(policy, nullptr);
    EXPECT_TRUE(SameProto(company, Applied(*policy, Cargo()).cargo().consignor()));
  }
  {
    SCOPED_TRACE("drop by default, inside a kept subtree: kept");
    auto policy =
        MustCompile(CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignor", "keep {}") + pseudonymise_iin));
    ASSERT_NE(policy, nullptr);
    v1::Record expected;
    *expected.mutable_cargo()->mutable_consignor() = company;
    EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
  }
  {
    SCOPED_TRACE("drop by default, nothing keeps the subtree: dropped");
    auto policy =
        MustCompile(CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignor.scheme", "keep {}") + pseudonymise_iin));
    ASSERT_NE(policy, nullptr);
    v1::Record expected;
    expected.mutable_cargo()->mutable_consignor()->set_scheme(company.scheme());
    EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
  }
}

// Conditions test the record as it arrived. When a sibling that a condition
// reads is itself dropped (by the allow-list or by a rule), the condition must
// still see its value: otherwise an IIN whose `scheme` is not let out falls
// through to the fallback rule and leaves in clear.
TEST(PolicyConditionTest, ConditionsSeeTheRecordAsItArrivedNotAsAlreadyTransformed) {
  const std::string pseudonymise_iin = Rule("cargo.consignor.value", "pseudonymise { key_id: \"k1\" }", "persons",
                                            R"(when { field: "scheme" equals: ["ID_SCHEME_KZ_IIN"] })");
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_consignor()->set_scheme(v1::ID_SCHEME_KZ_IIN);
  record.mutable_cargo()->mutable_consignor()->set_value("900101300057");
  const std::string pseudonym = ExpectedPseudonym("k1", "cargo.consignor.value", "900101300057");
  {
    SCOPED_TRACE("scheme dropped by the allow-list; a fallback keeps companies' values");
    auto policy = MustCompile(
        CargoOutbound("DEFAULT_ACTION_DROP", pseudonymise_iin + Rule("cargo.consignor.value", "keep {}", "companies")));
    ASSERT_NE(policy, nullptr);
    EXPECT_EQ(Applied(*policy, record).cargo().consignor().value(), pseudonym);
  }
  {
    SCOPED_TRACE("scheme dropped by a rule, everything else kept by default");
    auto policy = MustCompile(
        CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.consignor.scheme", "drop {}", "hide") + pseudonymise_iin));
    ASSERT_NE(policy, nullptr);
    EXPECT_EQ(Applied(*policy, record).cargo().consignor().value(), pseudonym);
  }
}

// ===========================================================================
// Field paths. records.proto has no repeated field inside a repeated
// message: GoodsLine and Certificate hold no repeated field, the only
// repeated strings are Vehicle.trailer_plates (in the singular `vehicle`) and
// InvestmentRecord.output_hs6. The deepest forms there are are tested: a
// field of a repeated message, a field of a message inside a repeated message
// (cargo.goods.customs_value.currency_code), and a repeated string inside a
// message.

TEST(PolicyPathTest, NestedMessages) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.national_id.value", "pseudonymise { key_id: \"k1\" }")));
  ASSERT_NE(policy, nullptr);
  const v1::Record out = Applied(*policy, Cargo());
  EXPECT_EQ(out.cargo().driver().national_id().value(),
            ExpectedPseudonym("k1", "cargo.driver.national_id.value", "900101300057"));
  EXPECT_EQ(out.cargo().driver().national_id().scheme(), v1::ID_SCHEME_KZ_IIN);
}

TEST(PolicyPathTest, AFieldOfARepeatedMessageActsInEveryElement) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.goods.hs6", "mask { keep_last: 2 }") +
                                               Rule("cargo.goods.description", "pseudonymise { key_id: \"k2\" }") +
                                               Rule("cargo.certificates.issued_on", "drop {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected = Cargo();
  for (v1::GoodsLine& line : *expected.mutable_cargo()->mutable_goods()) {
    line.set_hs6("*" + line.hs6().substr(4));
    line.set_description(ExpectedPseudonym("k2", "cargo.goods.description", line.description()));
  }
  for (v1::Certificate& certificate : *expected.mutable_cargo()->mutable_certificates()) {
    certificate.clear_issued_on();
  }
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

TEST(PolicyPathTest, AFieldOfAMessageInsideARepeatedMessage) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_KEEP", Rule("cargo.goods.customs_value.currency_code", "pseudonymise { key_id: \"k1\" }") +
                                 Rule("cargo.goods.customs_value.units", "drop {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected = Cargo();
  for (v1::GoodsLine& line : *expected.mutable_cargo()->mutable_goods()) {
    v1::Money* money = line.mutable_customs_value();
    money->set_currency_code(
        ExpectedPseudonym("k1", "cargo.goods.customs_value.currency_code", money->currency_code()));
    money->clear_units();
  }
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

TEST(PolicyPathTest, PseudonymiseActsOnEveryElementOfARepeatedString) {
  auto policy = MustCompile(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.vehicle.trailer_plates", "pseudonymise { key_id: \"k1\" }")));
  ASSERT_NE(policy, nullptr);
  const v1::Vehicle out = Applied(*policy, Cargo()).cargo().vehicle();
  ASSERT_EQ(out.trailer_plates_size(), 2);
  EXPECT_EQ(out.trailer_plates(0), ExpectedPseudonym("k1", "cargo.vehicle.trailer_plates", "45XYZ02"));
  EXPECT_EQ(out.trailer_plates(1), ExpectedPseudonym("k1", "cargo.vehicle.trailer_plates", "46XYZ02"));
  EXPECT_EQ(out.plate(), "123ABC02");
}

TEST(PolicyPathTest, MaskActsOnEveryElementOfARepeatedString) {
  auto policy =
      MustCompile(CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.vehicle.trailer_plates", "mask { keep_last: 2 }") +
                                                           Rule("cargo.vehicle.plate", "keep {}")));
  ASSERT_NE(policy, nullptr);
  v1::Record expected;
  expected.mutable_cargo()->mutable_vehicle()->set_plate("123ABC02");
  expected.mutable_cargo()->mutable_vehicle()->add_trailer_plates("*02");
  expected.mutable_cargo()->mutable_vehicle()->add_trailer_plates("*02");
  EXPECT_TRUE(SameProto(expected, Applied(*policy, Cargo())));
}

// ===========================================================================
// Load errors: each names test.policy and the line of the offending rule or
// entry.

TEST(PolicyLoadErrorTest, UnknownFieldPath) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignment_id", "keep {}") +
                                                                    Rule("cargo.drivers.full_name", "keep {}") +
                                                                    Rule("cargo.tir_reference.part", "keep {}"));
  const std::string errors = LoadErrors(text);
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.drivers.full_name"), "no field 'drivers'"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.tir_reference.part"), "'tir_reference' is not a message"));
  EXPECT_EQ(ErrorCount(errors), 2) << errors;
}

TEST(PolicyLoadErrorTest, PathOutsideTheEntrysRecordType) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("enterprise.name", "keep {}"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "enterprise.name"), "not in this entry's record type"));
}

TEST(PolicyLoadErrorTest, TheRecordItselfIsNotAField) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo", "keep {}", "whole"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "whole"), "name a field inside the record"));
}

TEST(PolicyLoadErrorTest, PseudonymiseOnAFieldThatIsNotAString) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.direction", "pseudonymise { key_id: \"k1\" }") +
                                               Rule("cargo.goods.gross_kg", "pseudonymise { key_id: \"k1\" }") +
                                               Rule("cargo.driver", "pseudonymise { key_id: \"k1\" }"));
  const std::string errors = LoadErrors(text);
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.direction"), "pseudonymise needs a string field"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.goods.gross_kg"), "pseudonymise needs a string field"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "\"cargo.driver\""), "pseudonymise needs a string field"));
}

TEST(PolicyLoadErrorTest, MaskOnAnEnum) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.checkpoint", "mask { keep_last: 1 }"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.checkpoint"), "mask needs a string field"));
}

TEST(PolicyLoadErrorTest, DenyIfWithoutValues) {
  const std::string text = CargoInbound(Rule("cargo.goods.hs6", "deny_if {}"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.goods.hs6"), "deny_if needs at least one of"));
}

TEST(PolicyLoadErrorTest, DenyIfWithAnUnknownEnumValueName) {
  const std::string text = CargoInbound(Rule("cargo.direction", "deny_if { equals: [\"DIRECTION_SIDEWAYS\"] }"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.direction"),
                         "'DIRECTION_SIDEWAYS' is not a value of iicc.v1.Direction"));
}

TEST(PolicyLoadErrorTest, ConditionOnAnUnknownSibling) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.consignor.value", "drop {}", "p",
                                                                     R"(when { field: "schema" equals: ["X"] })"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.consignor.value"), "no field 'schema'"));
}

TEST(PolicyLoadErrorTest, ConditionOnARepeatedField) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_KEEP",
                    Rule("cargo.vehicle.plate", "drop {}", "p", R"(when { field: "trailer_plates" equals: ["X"] })"));
  EXPECT_TRUE(
      HasErrorAt(LoadErrors(text), LineOf(text, "cargo.vehicle.plate"), "must be a singular string or enum field"));
}

TEST(PolicyLoadErrorTest, ConditionWithoutATestOrWithAnUnknownEnumValueName) {
  const std::string text = CargoOutbound(
      "DEFAULT_ACTION_KEEP", Rule("cargo.consignor.value", "drop {}", "no test", R"(when { field: "scheme" })") +
                                 Rule("cargo.consignee.value", "drop {}", "bad name",
                                      R"(when { field: "scheme" equals: ["ID_SCHEME_SSN"] })") +
                                 Rule("cargo.driver.full_name", "drop {}", "no one_of",
                                      R"(when { field: "full_name" char_at { position: 1 } })"));
  const std::string errors = LoadErrors(text);
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "no test"), "needs equals, starts_with or char_at"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "bad name"), "'ID_SCHEME_SSN' is not a value of iicc.v1.IdScheme"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "no one_of"), "char_at needs one_of"));
}

TEST(PolicyLoadErrorTest, UnknownKeyId) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k9\" }"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.driver.full_name"), "key_id 'k9'"));
}

TEST(PolicyLoadErrorTest, MissingReason) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_KEEP",
                    "  rules { field: \"cargo.driver.address\" drop {} }\n" + Rule("cargo.tir_reference", "keep {}"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.driver.address"), "reason is required"));
}

TEST(PolicyLoadErrorTest, MissingAction) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.address", ""));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "cargo.driver.address"), "no action"));
}

TEST(PolicyLoadErrorTest, ARuleAfterAnUnconditionalOneForTheSamePathIsUnreachable) {
  const std::string text =
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.address", "drop {}", "first") +
                                               Rule("cargo.driver.address", "mask { keep_last: 3 }", "second",
                                                    R"(when { field: "nationality" equals: ["KZ"] })"));
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "second"),
                         absl::StrCat("can never apply: the rule at line ", LineOf(text, "first"))));
}

TEST(PolicyLoadErrorTest, ARecordTypeListedTwice) {
  const std::string text = KzPolicy(Entry("outbound", "RECORD_TYPE_CARGO", "DEFAULT_ACTION_DROP", "") +
                                    Entry("outbound", "RECORD_TYPE_ENTERPRISE", "DEFAULT_ACTION_DROP", "") +
                                    "outbound {  # again\n  record_type: RECORD_TYPE_CARGO\n"
                                    "  default_action: DEFAULT_ACTION_KEEP\n}\n");
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "# again"), "outbound RECORD_TYPE_CARGO is listed twice"));
}

TEST(PolicyLoadErrorTest, MissingDefaultAction) {
  const std::string text = KzPolicy("outbound {  # here\n  record_type: RECORD_TYPE_CARGO\n" +
                                    Rule("cargo.consignment_id", "keep {}") + "}\n");
  EXPECT_TRUE(HasErrorAt(LoadErrors(text), LineOf(text, "# here"), "default_action is required"));
}

TEST(PolicyLoadErrorTest, WrongJurisdiction) {
  const std::string text = "# A UZ policy.\n\njurisdiction: JURISDICTION_UZ\n" +
                           Entry("outbound", "RECORD_TYPE_CARGO", "DEFAULT_ACTION_DROP", "");
  EXPECT_TRUE(HasErrorAt(LoadErrors(text, v1::JURISDICTION_KZ), LineOf(text, "jurisdiction:"),
                         "jurisdiction is JURISDICTION_UZ, the gateway's is JURISDICTION_KZ"));
  EXPECT_NE(MustCompile(text, v1::JURISDICTION_UZ), nullptr);
}

TEST(PolicyLoadErrorTest, ASyntaxErrorNamesLineAndColumn) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignment_id", "keep {}") +
                                                                    "  rules { field: \"cargo.direction\" kep {} }\n");
  const std::string errors = LoadErrors(text);
  const int line = LineOf(text, "kep {}");
  EXPECT_TRUE(HasErrorAt(errors, line, "kep")) << errors;
  // "test.policy:<line>:<column>: ..." (protobuf's parser puts the column
  // at the token after the unknown name).
  EXPECT_TRUE(std::regex_search(errors, std::regex(absl::StrCat("(^|\n)test\\.policy:", line, ":[0-9]+: .*kep"))))
      << errors;
}

TEST(PolicyLoadErrorTest, EveryErrorIsReportedTogether) {
  const std::string text =
      KzPolicy(Entry("outbound", "RECORD_TYPE_CARGO", "DEFAULT_ACTION_DROP",
                     Rule("cargo.nope", "keep {}") + Rule("cargo.checkpoint", "mask {}") +
                         Rule("cargo.driver.full_name", "pseudonymise { key_id: \"missing\" }")) +
               Entry("inbound", "RECORD_TYPE_CARGO", "DEFAULT_ACTION_KEEP", Rule("cargo.goods.hs6", "deny_if {}")));
  const std::string errors = LoadErrors(text);
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.nope"), "no field 'nope'"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.checkpoint"), "mask needs a string field"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.driver.full_name"), "key_id 'missing'"));
  EXPECT_TRUE(HasErrorAt(errors, LineOf(text, "cargo.goods.hs6"), "deny_if needs at least one of"));
  EXPECT_EQ(ErrorCount(errors), 4) << errors;
}

TEST(PolicyLoadErrorTest, LoadNamesTheFile) {
  TempDir dir;
  const std::string path = dir.File("bad.policy.textproto");
  {
    std::ofstream out(path);
    out << CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.nope", "keep {}"));
  }
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompiledPolicy::Load(path, TestKeys(), v1::JURISDICTION_KZ);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(policy.status().message(), path + ":5:")) << policy.status();

  EXPECT_FALSE(CompiledPolicy::Load(dir.File("missing"), TestKeys(), v1::JURISDICTION_KZ).ok());
}

// ===========================================================================
// Apply: record types without an entry.

TEST(PolicyApplyTest, OutboundRefusesARecordTypeWithoutAnEntry) {
  auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_KEEP", ""));
  ASSERT_NE(policy, nullptr);
  const v1::Record enterprise = RecordFromText(kEnterpriseText);
  const std::string refusal = Refusal(*policy, enterprise, Direction::kOutbound);
  EXPECT_TRUE(absl::StrContains(refusal, "enterprise")) << refusal;
}

TEST(PolicyApplyTest, InboundPassesARecordTypeWithoutAnEntryUnchanged) {
  auto policy = MustCompile(CargoInbound(Rule("cargo.goods.hs6", "require {}")));
  ASSERT_NE(policy, nullptr);
  const v1::Record enterprise = RecordFromText(kEnterpriseText);
  EXPECT_TRUE(SameProto(enterprise, Applied(*policy, enterprise, Direction::kInbound)));
  // And outbound has no entry at all.
  v1::Record copy = enterprise;
  EXPECT_EQ(policy->Apply(Direction::kOutbound, &copy).code(), absl::StatusCode::kFailedPrecondition);
}

// ===========================================================================
// version()

TEST(PolicyVersionTest, IsTheHexSha256OfTheCanonicalPolicy) {
  auto policy = MustCompile(CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignment_id", "keep {}")));
  ASSERT_NE(policy, nullptr);
  EXPECT_TRUE(std::regex_match(policy->version(), std::regex("[0-9a-f]{64}"))) << policy->version();
  EXPECT_EQ(policy->version(), Hex(::iicc::testing::Sha256Of(SerializeDeterministic(policy->policy()))));
}

TEST(PolicyVersionTest, IsStableForTheSameTextAndIgnoresLayoutAndComments) {
  const std::string text = CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.consignment_id", "keep {}"));
  auto first = MustCompile(text);
  auto second = MustCompile(text);
  auto relaid = MustCompile("# A comment.\n" + absl::StrReplaceAll(text, {{"\n", "\n\n  "}}));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(relaid, nullptr);
  EXPECT_EQ(first->version(), second->version());
  EXPECT_EQ(first->version(), relaid->version());
}

TEST(PolicyVersionTest, ChangesWhenARuleChanges) {
  const std::string base = Rule("cargo.driver.full_name", "mask { keep_last: 2 }", "names");
  const std::vector<std::string> variants = {
      CargoOutbound("DEFAULT_ACTION_DROP", base),
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.driver.full_name", "mask { keep_last: 3 }", "names")),
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.driver.full_name", "mask { keep_last: 2 }", "Names")),
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }", "names")),
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k2\" }", "names")),
      CargoOutbound("DEFAULT_ACTION_KEEP", base),
      CargoOutbound("DEFAULT_ACTION_DROP", base + Rule("cargo.tir_reference", "keep {}")),
      CargoOutbound("DEFAULT_ACTION_DROP", Rule("cargo.driver.full_name", "mask { keep_last: 2 }", "names",
                                                R"(when { field: "nationality" equals: ["KZ"] })")),
  };
  std::vector<std::string> versions;
  for (const std::string& text : variants) {
    auto policy = MustCompile(text);
    ASSERT_NE(policy, nullptr);
    for (const std::string& earlier : versions) {
      EXPECT_NE(policy->version(), earlier) << text;
    }
    versions.push_back(policy->version());
  }
}

// ===========================================================================
// Trace

std::string Dump(const std::vector<TraceEntry>& trace) {
  std::string out;
  for (const TraceEntry& entry : trace) {
    absl::StrAppend(&out, "  ", entry.field, " | ", entry.action, " | ", entry.line, " | ", entry.reason, "\n");
  }
  return out;
}

::testing::AssertionResult HasTrace(const std::vector<TraceEntry>& trace, absl::string_view field,
                                    absl::string_view action, int line, absl::string_view reason) {
  for (const TraceEntry& entry : trace) {
    if (entry.field == field && entry.action == action && entry.line == line && entry.reason == reason) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no entry " << field << " | " << action << " | " << line << " | " << reason
                                       << " in:\n"
                                       << Dump(trace);
}

TEST(PolicyTraceTest, NamesFieldsWithIndexesActionsAndRuleLines) {
  const std::string text = CargoOutbound(
      "DEFAULT_ACTION_DROP",
      Rule("cargo.consignment_id", "keep {}", "id") + Rule("cargo.goods.hs6", "mask { keep_last: 2 }", "hs") +
          Rule("cargo.vehicle.trailer_plates", "pseudonymise { key_id: \"k1\" }", "plates") +
          Rule("cargo.driver", "keep {}", "driver") + Rule("cargo.driver.address", "drop {}", "address"));
  auto policy = MustCompile(text);
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  std::vector<TraceEntry> trace;
  ASSERT_TRUE(policy->Apply(Direction::kOutbound, &record, &trace).ok());

  EXPECT_TRUE(HasTrace(trace, "cargo.consignment_id", "keep", LineOf(text, "\"id\""), "id"));
  EXPECT_TRUE(HasTrace(trace, "cargo.goods[0].hs6", "mask", LineOf(text, "\"hs\""), "hs"));
  EXPECT_TRUE(HasTrace(trace, "cargo.goods[1].hs6", "mask", LineOf(text, "\"hs\""), "hs"));
  EXPECT_TRUE(HasTrace(trace, "cargo.vehicle.trailer_plates", "pseudonymise", LineOf(text, "\"plates\""), "plates"));
  EXPECT_TRUE(HasTrace(trace, "cargo.driver", "keep", LineOf(text, "\"driver\""), "driver"));
  EXPECT_TRUE(HasTrace(trace, "cargo.driver.address", "drop", LineOf(text, "\"address\""), "address"));
  EXPECT_TRUE(HasTrace(trace, "cargo.direction", "default drop", 0, ""));
  EXPECT_TRUE(HasTrace(trace, "cargo.goods[1].national_code", "default drop", 0, ""));
  EXPECT_TRUE(HasTrace(trace, "cargo.vehicle.plate", "default drop", 0, ""));
  for (const TraceEntry& entry : trace) {
    EXPECT_FALSE(absl::StartsWith(entry.field, "cargo.driver.") && entry.field != "cargo.driver.address")
        << "a field kept whole with its subtree is not listed: " << entry.field;
  }
}

TEST(PolicyTraceTest, ChecksThatRefuseAreTraced) {
  const std::string text = CargoInbound(Rule("cargo.goods.hs6", "require {}", "need hs6") +
                                        Rule("cargo.goods.hs6", "deny_if { starts_with: [\"93\"] }", "arms"));
  auto policy = MustCompile(text);
  ASSERT_NE(policy, nullptr);
  v1::Record record = Cargo();
  record.mutable_cargo()->mutable_goods(0)->clear_hs6();
  record.mutable_cargo()->mutable_goods(1)->set_hs6("930100");
  std::vector<TraceEntry> trace;
  EXPECT_EQ(policy->Apply(Direction::kInbound, &record, &trace).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasTrace(trace, "cargo.goods[0].hs6", "require", LineOf(text, "need hs6"), "need hs6"));
  EXPECT_TRUE(HasTrace(trace, "cargo.goods[1].hs6", "deny", LineOf(text, "arms"), "arms"));
}

TEST(PolicyTraceTest, TracingDoesNotChangeTheResult) {
  auto policy = MustCompile(CargoOutbound(
      "DEFAULT_ACTION_DROP", Rule("cargo.goods", "keep {}") + Rule("cargo.goods.description", "mask { keep_last: 4 }") +
                                 Rule("cargo.driver.full_name", "pseudonymise { key_id: \"k1\" }")));
  ASSERT_NE(policy, nullptr);
  v1::Record traced = Cargo();
  std::vector<TraceEntry> trace;
  ASSERT_TRUE(policy->Apply(Direction::kOutbound, &traced, &trace).ok());
  EXPECT_FALSE(trace.empty());
  EXPECT_TRUE(SameProto(Applied(*policy, Cargo()), traced));
}

// ===========================================================================
// LoadPseudonymKeys

class LoadPseudonymKeysTest : public ::testing::Test {
 protected:
  // A key file holding `contents`, and a config entry naming it.
  void AddKey(const std::string& key_id, const std::string& contents) {
    const std::string path = dir_.File(absl::StrCat("key", config_.pseudonym_keys_size()));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    v1::PseudonymKey* key = config_.add_pseudonym_keys();
    key->set_key_id(key_id);
    key->set_key_file(path);
  }

  TempDir dir_;
  v1::GatewayConfig config_;
};

TEST_F(LoadPseudonymKeysTest, ReadsHexKeysOfAtLeast32BytesById) {
  const std::string key_a = KeyBytes(7);
  const std::string key_b = KeyBytes(8) + KeyBytes(9).substr(0, 16);  // 48 bytes.
  AddKey("kz-2026", Hex(key_a) + "\n");
  std::string upper = Hex(key_b);
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  AddKey("kz-2027", "  " + upper + "\r\n");
  absl::StatusOr<PseudonymKeys> keys = LoadPseudonymKeys(config_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ(keys->at("kz-2026"), key_a);
  EXPECT_EQ(keys->at("kz-2027"), key_b);

  // The keys as read are the ones pseudonyms are made with.
  auto policy = CompiledPolicy::Parse(
      CargoOutbound("DEFAULT_ACTION_KEEP", Rule("cargo.driver.full_name", "pseudonymise { key_id: \"kz-2027\" }")),
      kSource, *keys, v1::JURISDICTION_KZ);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(Applied(**policy, Cargo()).cargo().driver().full_name(),
            ExpectedPseudonym("kz-2027", key_b, "cargo.driver.full_name", "Aidos Serikbayev"));
}

TEST_F(LoadPseudonymKeysTest, AShortKeyNamesItsEntryButNotTheKey) {
  AddKey("good", Hex(KeyBytes(1)));
  const std::string short_hex = Hex(KeyBytes(2).substr(0, 31));
  AddKey("short", short_hex);
  absl::StatusOr<PseudonymKeys> keys = LoadPseudonymKeys(config_);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(keys.status().message(), "pseudonym_keys[1].key_file")) << keys.status();
  EXPECT_FALSE(absl::StrContains(keys.status().message(), short_hex)) << keys.status();
}

TEST_F(LoadPseudonymKeysTest, TextThatIsNotHexNamesItsEntry) {
  AddKey("odd", Hex(KeyBytes(1)) + "a");
  AddKey("letters", std::string(64, 'z'));
  for (int i = 0; i < 2; ++i) {
    v1::GatewayConfig one;
    *one.add_pseudonym_keys() = config_.pseudonym_keys(i);
    absl::StatusOr<PseudonymKeys> keys = LoadPseudonymKeys(one);
    ASSERT_FALSE(keys.ok()) << i;
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(keys.status().message(), "pseudonym_keys[0].key_file")) << keys.status();
  }
}

TEST_F(LoadPseudonymKeysTest, AMissingFileNamesItsEntry) {
  AddKey("good", Hex(KeyBytes(1)));
  v1::PseudonymKey* missing = config_.add_pseudonym_keys();
  missing->set_key_id("missing");
  missing->set_key_file(dir_.File("no-such-key"));
  absl::StatusOr<PseudonymKeys> keys = LoadPseudonymKeys(config_);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(keys.status().message(), "pseudonym_keys[1].key_file")) << keys.status();
}

TEST_F(LoadPseudonymKeysTest, ADuplicateIdIsRefused) {
  AddKey("kz-2026", Hex(KeyBytes(1)));
  AddKey("kz-2026", Hex(KeyBytes(2)));
  absl::StatusOr<PseudonymKeys> keys = LoadPseudonymKeys(config_);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(keys.status().message(), "pseudonym_keys[1].key_id")) << keys.status();
}

}  // namespace
}  // namespace iicc::policy
