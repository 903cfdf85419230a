// Tests of the sample records in clients/examples (see its README.md): every
// valid sample passes the validator as shipped, on both faces, and both
// sides' default policies both ways; every invalid sample is refused naming
// exactly the field paths its manifest declares; every policy-refused sample
// passes validation and its sender's outbound policy and is refused by its
// receiver's inbound policy with the declared reason; every line of the
// batch file is answered as its manifest says. Every file in the directory
// must be one of these, so a new sample cannot go untested.
//
// The records go the way a gateway takes them: ValidateSubmitRequest and
// NormalizeRecord on the ministry face, the sender's outbound policy, the
// peer-face validation of what arrives, the receiver's inbound policy
// (gateway/ministry/record_acceptor.cc, gateway/exchange/envelope_receiver.cc).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/common/errors.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/validation/record_validator.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::validation {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// The samples other tests, the demo and the docs name by path.
constexpr const char* kNamedSamples[] = {"enterprise.json", "cargo.json", "investment.json"};

std::string ExamplesDir() { return ::iicc::testing::SourceDir() + "/clients/examples"; }

// The names of the regular files (or, with `directories`, the directories)
// in `dir`, sorted.
std::vector<std::string> Entries(const std::string& dir, bool directories = false) {
  std::vector<std::string> names;
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator(dir)) {
    if (directories ? entry.is_directory() : entry.is_regular_file()) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> JsonFilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const std::string& name : Entries(dir)) {
    if (absl::EndsWith(name, ".json")) names.push_back(name);
  }
  return names;
}

// A tab-separated manifest: lines starting with '#' are comments, the first
// other line is the header (checked against `header`), every row has its
// columns. Rows by their first column, which must be unique.
std::map<std::string, std::vector<std::string>> ReadManifest(const std::string& path,
                                                             const std::vector<std::string>& header) {
  const std::string text = ::iicc::testing::ReadFileOrEmpty(path);
  EXPECT_FALSE(text.empty()) << path;
  std::map<std::string, std::vector<std::string>> rows;
  bool seen_header = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    std::vector<std::string> columns = absl::StrSplit(line, '\t');
    if (!seen_header) {
      EXPECT_THAT(columns, ElementsAreArray(header)) << path;
      seen_header = true;
      continue;
    }
    EXPECT_EQ(columns.size(), header.size()) << path << ": " << line;
    if (columns.size() != header.size()) continue;
    const std::string key = columns[0];
    EXPECT_TRUE(rows.emplace(key, std::move(columns)).second) << path << ": " << key << " twice";
  }
  EXPECT_TRUE(seen_header) << path;
  return rows;
}

// The field paths of a manifest column: comma-separated, "-" for none.
std::vector<std::string> Fields(const std::string& column) {
  if (column == "-") return {};
  return absl::StrSplit(column, ',');
}

std::vector<std::string> FieldsOf(const std::vector<v1::FieldViolation>& violations) {
  std::vector<std::string> fields;
  for (const v1::FieldViolation& violation : violations) fields.push_back(violation.field());
  return fields;
}

// Parses `json` strictly (no unknown fields: a misspelt key fails).
template <typename Message>
bool ParseStrict(const std::string& json, Message* message, std::string* error) {
  const auto status = google::protobuf::util::JsonStringToMessage(json, message);
  if (!status.ok()) *error = std::string(status.message());
  return status.ok();
}

v1::Record LoadRecord(const std::string& path) {
  const std::string json = ::iicc::testing::ReadFileOrEmpty(path);
  EXPECT_FALSE(json.empty()) << path;
  v1::Record record;
  std::string error;
  EXPECT_TRUE(ParseStrict(json, &record, &error)) << path << ": " << error;
  return record;
}

v1::SubmitRequest Request(const v1::Record& record) {
  v1::SubmitRequest request;
  request.set_request_id("examples-test-1");
  *request.mutable_record() = record;
  return request;
}

// ---- The two sides' shipped policies --------------------------------------

const policy::PseudonymKeys& TestKeys() {
  static const policy::PseudonymKeys* const keys =
      new policy::PseudonymKeys{{"kz-dev", std::string(32, '\x4b')}, {"uz-dev", std::string(32, '\x55')}};
  return *keys;
}

const policy::CompiledPolicy& PolicyOf(v1::Jurisdiction side) {
  static const auto* const policies = [] {
    auto* loaded = new std::map<v1::Jurisdiction, std::shared_ptr<const policy::CompiledPolicy>>;
    for (const auto& [jurisdiction, name] : std::vector<std::pair<v1::Jurisdiction, std::string>>{
             {v1::JURISDICTION_KZ, "kz"}, {v1::JURISDICTION_UZ, "uz"}}) {
      auto policy = policy::CompiledPolicy::Load(
          absl::StrCat(::iicc::testing::SourceDir(), "/gateway/config/", name, ".policy.textproto"), TestKeys(),
          jurisdiction);
      if (!policy.ok()) {
        ADD_FAILURE() << policy.status();
        std::abort();
      }
      (*loaded)[jurisdiction] = *std::move(policy);
    }
    return loaded;
  }();
  return *policies->at(side);
}

v1::Jurisdiction SideNamed(const std::string& name) {
  if (name == "KZ") return v1::JURISDICTION_KZ;
  if (name == "UZ") return v1::JURISDICTION_UZ;
  ADD_FAILURE() << "unknown side " << name << " (KZ or UZ)";
  return v1::JURISDICTION_UNSPECIFIED;
}

// Takes `record` from `from` to `to` as the gateways do, up to the inbound
// policy, whose verdict it returns. Every earlier step must pass.
absl::Status Exchange(v1::Record record, v1::Jurisdiction from, v1::Jurisdiction to) {
  EXPECT_THAT(FieldsOf(ValidateSubmitRequest(Request(record))), IsEmpty());
  NormalizeRecord(&record);
  const absl::Status outbound = PolicyOf(from).Apply(policy::Direction::kOutbound, &record);
  EXPECT_TRUE(outbound.ok()) << "outbound: " << outbound;
  if (!outbound.ok()) return outbound;
  EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kPeer)), IsEmpty()) << "as it arrives";
  return PolicyOf(to).Apply(policy::Direction::kInbound, &record);
}

// ---- Coverage: every file in the directory is a sample of a known kind ----

TEST(ExamplesDirectoryTest, HoldsOnlyKnownKindsOfFile) {
  EXPECT_THAT(Entries(ExamplesDir(), /*directories=*/true), ElementsAreArray({"invalid", "refused"}));
  for (const std::string& name : Entries(ExamplesDir())) {
    EXPECT_TRUE(absl::EndsWith(name, ".json") || name == "README.md" || name == "batch.jsonl" ||
                name == "batch.expected.tsv")
        << "clients/examples/" << name << " is no kind of sample this test knows";
  }
  for (const char* subdir : {"/invalid", "/refused"}) {
    EXPECT_THAT(Entries(ExamplesDir() + subdir, /*directories=*/true), IsEmpty()) << subdir;
    for (const std::string& name : Entries(ExamplesDir() + subdir)) {
      EXPECT_TRUE(absl::EndsWith(name, ".json") || name == "expected.tsv")
          << "clients/examples" << subdir << "/" << name << " is no kind of sample this test knows";
    }
  }
}

TEST(ExamplesDirectoryTest, TheNamedSamplesAreThere) {
  const std::vector<std::string> valid = JsonFilesIn(ExamplesDir());
  for (const char* name : kNamedSamples) {
    EXPECT_TRUE(std::count(valid.begin(), valid.end(), name) == 1) << name;
  }
}

TEST(ExamplesDirectoryTest, EveryInvalidSampleHasExactlyOneManifestLine) {
  const auto manifest = ReadManifest(ExamplesDir() + "/invalid/expected.tsv", {"file", "code", "fields", "fault"});
  std::vector<std::string> declared;
  for (const auto& [file, row] : manifest) declared.push_back(file);
  EXPECT_THAT(JsonFilesIn(ExamplesDir() + "/invalid"), ElementsAreArray(declared));
}

TEST(ExamplesDirectoryTest, EveryRefusedSampleHasExactlyOneManifestLine) {
  const auto manifest =
      ReadManifest(ExamplesDir() + "/refused/expected.tsv", {"file", "submitted_by", "refused_by", "refusal"});
  std::vector<std::string> declared;
  for (const auto& [file, row] : manifest) declared.push_back(file);
  EXPECT_THAT(JsonFilesIn(ExamplesDir() + "/refused"), ElementsAreArray(declared));
}

// ---- Valid samples ----------------------------------------------------------

// Each valid sample passes the validator exactly as shipped, on both faces and
// as a SubmitRequest, is already canonical, and crosses both ways under the
// shipped default policies (the demo sends each one from both sides).
TEST(ExamplesTest, EveryValidSampleIsValidAsShippedAndCrossesBothWays) {
  const std::vector<std::string> files = JsonFilesIn(ExamplesDir());
  std::set<int> kinds;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const v1::Record record = LoadRecord(ExamplesDir() + "/" + file);
    ASSERT_NE(record.kind_case(), v1::Record::KIND_NOT_SET);
    kinds.insert(record.kind_case());
    EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kMinistry)), IsEmpty());
    EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kPeer)), IsEmpty());
    EXPECT_THAT(FieldsOf(ValidateSubmitRequest(Request(record))), IsEmpty());
    v1::Record normalized = record;
    NormalizeRecord(&normalized);
    EXPECT_EQ(normalized.SerializeAsString(), record.SerializeAsString()) << "not in canonical form";
    for (const auto& [from, to] :
         {std::pair{v1::JURISDICTION_KZ, v1::JURISDICTION_UZ}, std::pair{v1::JURISDICTION_UZ, v1::JURISDICTION_KZ}}) {
      SCOPED_TRACE(absl::StrCat(v1::Jurisdiction_Name(from), " to ", v1::Jurisdiction_Name(to)));
      const absl::Status inbound = Exchange(record, from, to);
      EXPECT_TRUE(inbound.ok()) << "inbound: " << inbound;
    }
  }
  EXPECT_GE(files.size(), 6u);
  EXPECT_EQ(kinds.size(), 3u) << "a valid sample of each record type";
}

// The demo's story: an enterprise of each section, a cargo each way through
// its own checkpoint, an investment in each section.
TEST(ExamplesTest, TheValidSamplesTellTheDemosStory) {
  std::multiset<std::string> story;
  for (const std::string& file : JsonFilesIn(ExamplesDir())) {
    const v1::Record record = LoadRecord(ExamplesDir() + "/" + file);
    if (record.has_enterprise()) story.insert("enterprise " + v1::Jurisdiction_Name(record.enterprise().section()));
    if (record.has_investment()) story.insert("investment " + v1::Jurisdiction_Name(record.investment().section()));
    if (record.has_cargo()) {
      story.insert("cargo " + v1::Direction_Name(record.cargo().direction()) + " " +
                   v1::Checkpoint_Name(record.cargo().checkpoint()) + (record.cargo().has_driver() ? " driver" : ""));
    }
  }
  for (const char* part : {"enterprise JURISDICTION_KZ", "enterprise JURISDICTION_UZ", "investment JURISDICTION_KZ",
                           "investment JURISDICTION_UZ", "cargo DIRECTION_KZ_TO_UZ CHECKPOINT_ATAMEKEN driver",
                           "cargo DIRECTION_UZ_TO_KZ CHECKPOINT_GULISTAN driver"}) {
    EXPECT_EQ(story.count(part), 1u) << part;
  }
}

// The enterprise of the UZ section is UZ's own: STIR and a PINFL director.
TEST(ExamplesTest, TheUzEnterpriseCarriesUzIdentifiers) {
  const v1::Record record = LoadRecord(ExamplesDir() + "/enterprise.json");
  ASSERT_TRUE(record.has_enterprise());
  EXPECT_EQ(record.enterprise().section(), v1::JURISDICTION_UZ);
  EXPECT_EQ(record.enterprise().legal_id().scheme(), v1::ID_SCHEME_UZ_STIR);
  EXPECT_EQ(record.enterprise().director().national_id().scheme(), v1::ID_SCHEME_UZ_PINFL);
}

// ---- Invalid samples --------------------------------------------------------

// Each invalid sample parses (the fault is in the content, not the JSON) and
// is refused naming exactly its manifest's field paths, on both faces and as a
// SubmitRequest (under "record."), with the manifest's status code.
TEST(ExamplesTest, EveryInvalidSampleIsRefusedNamingExactlyItsFields) {
  const auto manifest = ReadManifest(ExamplesDir() + "/invalid/expected.tsv", {"file", "code", "fields", "fault"});
  std::map<int, int> per_kind;
  for (const auto& [file, row] : manifest) {
    SCOPED_TRACE(file);
    const v1::Record record = LoadRecord(ExamplesDir() + "/invalid/" + file);
    ++per_kind[record.kind_case()];
    const std::vector<std::string> expected = Fields(row[2]);
    ASSERT_THAT(expected, Not(IsEmpty())) << "an invalid sample names at least one field";
    const std::vector<v1::FieldViolation> violations = ValidateRecord(record, Face::kMinistry);
    EXPECT_THAT(FieldsOf(violations), UnorderedElementsAreArray(expected));
    EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kPeer)), UnorderedElementsAreArray(expected));
    std::vector<std::string> under_record;
    for (const std::string& field : expected) under_record.push_back("record." + field);
    const std::vector<v1::FieldViolation> request_violations = ValidateSubmitRequest(Request(record));
    EXPECT_THAT(FieldsOf(request_violations), UnorderedElementsAreArray(under_record));
    ASSERT_FALSE(request_violations.empty());
    const absl::Status status = InvalidArgumentWithViolations(request_violations);
    EXPECT_EQ(absl::StatusCodeToString(status.code()), row[1]);
    EXPECT_THAT(FieldsOf(ViolationsOf(status)), UnorderedElementsAreArray(under_record));
  }
  EXPECT_GE(per_kind[v1::Record::kEnterprise], 2);
  EXPECT_GE(per_kind[v1::Record::kCargo], 2);
  EXPECT_GE(per_kind[v1::Record::kInvestment], 2);
}

// ---- Samples a default inbound policy refuses -------------------------------

TEST(ExamplesTest, EveryRefusedSamplePassesItsSenderAndIsRefusedByItsReceiver) {
  const auto manifest =
      ReadManifest(ExamplesDir() + "/refused/expected.tsv", {"file", "submitted_by", "refused_by", "refusal"});
  ASSERT_THAT(manifest, Not(IsEmpty()));
  for (const auto& [file, row] : manifest) {
    SCOPED_TRACE(file);
    const v1::Record record = LoadRecord(ExamplesDir() + "/refused/" + file);
    ASSERT_NE(record.kind_case(), v1::Record::KIND_NOT_SET);
    EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kMinistry)), IsEmpty());
    EXPECT_THAT(FieldsOf(ValidateRecord(record, Face::kPeer)), IsEmpty());
    const v1::Jurisdiction from = SideNamed(row[1]);
    const v1::Jurisdiction to = SideNamed(row[2]);
    EXPECT_NE(from, to);
    const absl::Status inbound = Exchange(record, from, to);
    EXPECT_EQ(inbound.code(), absl::StatusCode::kFailedPrecondition) << inbound;
    EXPECT_EQ(inbound.message(), row[3]);
  }
}

// The forbidden cargo of the demo: arms (HS chapter 93) sent by KZ, refused by
// UZ on arrival.
TEST(ExamplesTest, TheArmsCargoLeavesKzAndIsRefusedByUz) {
  const v1::Record record = LoadRecord(ExamplesDir() + "/refused/cargo-arms.json");
  ASSERT_TRUE(record.has_cargo());
  ASSERT_GT(record.cargo().goods_size(), 0);
  EXPECT_EQ(record.cargo().goods(0).hs6().substr(0, 2), "93");
  EXPECT_EQ(record.cargo().direction(), v1::DIRECTION_KZ_TO_UZ);
  v1::Record outbound = record;
  EXPECT_TRUE(PolicyOf(v1::JURISDICTION_KZ).Apply(policy::Direction::kOutbound, &outbound).ok());
  EXPECT_EQ(outbound.cargo().goods(0).hs6(), record.cargo().goods(0).hs6());  // It leaves as it is.
  const absl::Status inbound = PolicyOf(v1::JURISDICTION_UZ).Apply(policy::Direction::kInbound, &outbound);
  EXPECT_EQ(inbound.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(inbound.message(), "refused by policy: cargo.goods[0].hs6: HS chapter 93 requires a licence exchange");
}

// ---- The batch file -----------------------------------------------------------

// Each line of batch.jsonl, read as iicc-cli submit reads it (a SubmitRequest,
// else a bare Record given a content-derived request_id), is answered as its
// manifest line says; the valid ones (KZ's batch) cross to UZ.
TEST(ExamplesTest, EveryBatchLineIsAnsweredAsDeclared) {
  const auto manifest = ReadManifest(ExamplesDir() + "/batch.expected.tsv", {"line", "code", "fields", "what"});
  const std::string text = ::iicc::testing::ReadFileOrEmpty(ExamplesDir() + "/batch.jsonl");
  ASSERT_FALSE(text.empty());
  std::istringstream lines(text);
  std::string line;
  std::set<std::string> codes;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    SCOPED_TRACE(absl::StrCat("batch.jsonl:", number));
    ASSERT_FALSE(line.empty()) << "no blank lines: line numbers are the manifest's keys";
    const auto row = manifest.find(std::to_string(number));
    ASSERT_NE(row, manifest.end()) << "a line without a manifest line";
    v1::SubmitRequest request;
    std::string error;
    if (!ParseStrict(line, &request, &error) || !request.has_record()) {
      request.Clear();
      ASSERT_TRUE(ParseStrict(line, request.mutable_record(), &error)) << error;
      request.set_request_id("sha256-00112233445566778899aabbccddeeff");  // The form iicc-cli gives it.
    }
    const std::vector<v1::FieldViolation> violations = ValidateSubmitRequest(request);
    const std::vector<std::string> expected = Fields(row->second[2]);
    EXPECT_THAT(FieldsOf(violations), UnorderedElementsAreArray(expected));
    const std::string& code = row->second[1];
    codes.insert(code);
    if (code == "OK") {
      EXPECT_TRUE(expected.empty());
      EXPECT_TRUE(Exchange(request.record(), v1::JURISDICTION_KZ, v1::JURISDICTION_UZ).ok());
    } else {
      EXPECT_EQ(code, "INVALID_ARGUMENT");
      ASSERT_FALSE(violations.empty());
      EXPECT_EQ(InvalidArgumentWithViolations(violations).code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(static_cast<size_t>(number), manifest.size()) << "manifest lines without a batch line";
  EXPECT_THAT(codes, ElementsAreArray({"INVALID_ARGUMENT", "OK"})) << "the batch mixes valid and invalid lines";
}

}  // namespace
}  // namespace iicc::validation
