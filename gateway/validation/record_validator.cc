#include "gateway/validation/record_validator.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/validation/checks_internal.h"
#include "gateway/validation/codes.h"
#include "gateway/validation/identifiers.h"

namespace iicc::validation {
namespace {

constexpr size_t kMaxRequestIdLength = 128;
constexpr size_t kMaxText = 256;  // Every string without a bound of its own.
constexpr size_t kMaxNameChars = 256;
constexpr size_t kMaxDocumentNumberChars = 64;
constexpr size_t kMaxLegalFormChars = 64;
constexpr size_t kMaxActivityCodeChars = 16;
constexpr size_t kMaxPlotIdChars = 64;
constexpr size_t kMaxEmailChars = 254;
constexpr size_t kMinPhoneDigits = 7;
constexpr size_t kMaxPhoneDigits = 15;
constexpr size_t kMaxConsignmentIdChars = 64;
constexpr size_t kMaxPlateChars = 16;
constexpr size_t kMaxDescriptionChars = 512;
constexpr size_t kMaxCertificateNumberChars = 64;
constexpr int kMaxGoodsLines = 1000;
constexpr int kMaxCertificates = 100;
constexpr int kMaxTrailerPlates = 16;
constexpr int kMaxOutputHs6 = 100;
constexpr int kMinYear = 1900;
constexpr int kMaxYear = 2100;
constexpr int32_t kMaxNanos = 999999999;
// Both sections keep UTC+5 (Kazakhstan since March 2024, Uzbekistan): "today"
// for a birth date is the center's today.
constexpr int kCenterUtcOffsetSeconds = 5 * 60 * 60;

// A field path, built only when a violation is reported: each level lives on
// the stack of the check that descends into it.
class Path {
 public:
  // The root: "" for a Record, "record" for a SubmitRequest.
  explicit Path(absl::string_view root) : name_(root) {}
  // `parent.name`, or `parent.name[index]` when index >= 0.
  Path(const Path& parent, absl::string_view name, int index = -1) : parent_(&parent), name_(name), index_(index) {}

  // This path with `leaf` appended (nothing when `leaf` is empty).
  std::string With(absl::string_view leaf) const {
    std::string path;
    AppendTo(&path);
    AppendName(leaf, &path);
    return path;
  }

 private:
  static void AppendName(absl::string_view name, std::string* path) {
    if (name.empty()) {
      return;
    }
    if (!path->empty()) {
      path->push_back('.');
    }
    path->append(name.data(), name.size());
  }

  void AppendTo(std::string* path) const {
    if (parent_ != nullptr) {
      parent_->AppendTo(path);
    }
    AppendName(name_, path);
    if (index_ >= 0) {
      absl::StrAppend(path, "[", index_, "]");
    }
  }

  const Path* parent_ = nullptr;
  absl::string_view name_;
  int index_ = -1;
};

int DateKey(const v1::Date& date) { return internal::DateKey(date.year(), date.month(), date.day()); }

bool IsPhone(absl::string_view phone) {
  if (phone.size() < 1 + kMinPhoneDigits || phone.size() > 1 + kMaxPhoneDigits || phone[0] != '+') {
    return false;
  }
  for (char c : phone.substr(1)) {
    if (!internal::IsDigit(c)) {
      return false;
    }
  }
  return true;
}

bool IsLiveAnimal(absl::string_view hs6) { return IsHs6(hs6) && hs6[0] == '0' && hs6[1] == '1'; }

// Checks one record (or the record of a request) and appends what it finds.
class RecordChecker {
 public:
  RecordChecker(Face face, const ValidationOptions& options, std::vector<v1::FieldViolation>* violations)
      : face_(face), options_(options), violations_(violations) {}

  void Record(const Path& at, const v1::Record& record) {
    switch (record.kind_case()) {
      case v1::Record::kEnterprise:
        Enterprise(Path(at, "enterprise"), record.enterprise());
        break;
      case v1::Record::kCargo:
        Cargo(Path(at, "cargo"), record.cargo());
        break;
      case v1::Record::kInvestment:
        Investment(Path(at, "investment"), record.investment());
        break;
      case v1::Record::KIND_NOT_SET:
        Add(at, "kind", "exactly one of enterprise, cargo, investment must be set");
        break;
    }
  }

  void Add(const Path& at, absl::string_view leaf, std::string description) {
    v1::FieldViolation& violation = violations_->emplace_back();
    violation.set_field(at.With(leaf));
    violation.set_description(std::move(description));
  }

 private:
  // A string of at most `max_chars` characters of UTF-8; reports "required"
  // when empty and `required`. True when the value is non-empty and fits.
  bool Text(const Path& at, absl::string_view leaf, absl::string_view value, size_t max_chars, bool required) {
    if (value.empty()) {
      if (required) {
        Add(at, leaf, "required");
      }
      return false;
    }
    const internal::Utf8Scan scan = internal::ScanUtf8(value, /*check_printable=*/false);
    if (!scan.valid) {
      Add(at, leaf, "must be valid UTF-8");
      return false;
    }
    if (scan.chars > max_chars) {
      Add(at, leaf, absl::StrCat("at most ", max_chars, " characters"));
      return false;
    }
    return true;
  }

  // On the peer face, true when `value` is a pseudonym or a masked value
  // (then checked: `*` and at most `max_chars` characters of UTF-8), which
  // stand where the original would. Used for every field that holds personal
  // data (DOMAIN.md), whatever the policy that protected it.
  bool Protected(const Path& at, absl::string_view leaf, absl::string_view value, size_t max_chars) {
    if (face_ != Face::kPeer) {
      return false;
    }
    if (IsPseudonym(value)) {
      return true;
    }
    if (IsMasked(value)) {
      Text(at, leaf, value.substr(1), max_chars, /*required=*/false);
      return true;
    }
    return false;
  }

  void RequiredEnum(const Path& at, absl::string_view leaf, int value, bool (*is_valid)(int)) {
    if (value == 0) {
      Add(at, leaf, "required");
    } else if (!is_valid(value)) {
      Add(at, leaf, "unknown value");
    }
  }

  void Country(const Path& at, absl::string_view leaf, const std::string& code) {
    if (!code.empty() && !IsIso3166Alpha2(code)) {
      Add(at, leaf, "must be an ISO 3166-1 alpha-2 country code");
    }
  }

  // True when the date is valid.
  bool Date(const Path& at, absl::string_view leaf, const v1::Date& date) {
    if (date.year() < kMinYear || date.year() > kMaxYear ||
        !internal::IsRealDate(date.year(), date.month(), date.day())) {
      Add(at, leaf, "must be a real calendar date with year 1900-2100");
      return false;
    }
    return true;
  }

  void Money(const Path& at, const v1::Money& money) {
    if (money.currency_code().empty()) {
      Add(at, "currency_code", "required");
    } else if (!IsIso4217Currency(money.currency_code())) {
      Add(at, "currency_code", "must be an ISO 4217 currency code");
    }
    if (money.nanos() < -kMaxNanos || money.nanos() > kMaxNanos) {
      Add(at, "nanos", "must be between -999999999 and 999999999");
    } else if ((money.units() > 0 && money.nanos() < 0) || (money.units() < 0 && money.nanos() > 0)) {
      Add(at, "nanos", "must have the sign of units");
    }
  }

  void PartyId(const Path& at, const v1::PartyId& id) {
    RequiredEnum(at, "scheme", id.scheme(), v1::IdScheme_IsValid);
    const std::string& value = id.value();
    if (value.empty()) {
      Add(at, "value", "required");
      return;
    }
    if (Protected(at, "value", value, kMaxForeignIdChars)) {
      return;
    }
    std::optional<std::string> reason;
    switch (id.scheme()) {
      case v1::ID_SCHEME_KZ_BIN:
        reason = CheckKzBin(value);
        break;
      case v1::ID_SCHEME_KZ_IIN:
        reason = CheckKzIin(value);
        break;
      case v1::ID_SCHEME_UZ_STIR:
        reason = CheckUzStir(value);
        break;
      case v1::ID_SCHEME_UZ_PINFL:
        reason = CheckUzPinfl(value);
        break;
      case v1::ID_SCHEME_FOREIGN:
        reason = CheckForeignId(value);
        break;
      default:
        return;  // The scheme is reported: there is no form to hold the value to.
    }
    if (reason.has_value()) {
      Add(at, "value", std::move(*reason));
    }
  }

  void Person(const Path& at, const v1::Person& person) {
    if (!Protected(at, "full_name", person.full_name(), kMaxNameChars)) {
      Text(at, "full_name", person.full_name(), kMaxNameChars, /*required=*/true);
    }
    if (person.has_national_id()) {
      PartyId(Path(at, "national_id"), person.national_id());
    }
    if (!Protected(at, "document_number", person.document_number(), kMaxDocumentNumberChars)) {
      Text(at, "document_number", person.document_number(), kMaxDocumentNumberChars, /*required=*/false);
    }
    Country(at, "nationality", person.nationality());
    if (person.has_birth_date() && Date(at, "birth_date", person.birth_date()) &&
        DateKey(person.birth_date()) > Today()) {
      Add(at, "birth_date", "must not be in the future");
    }
    Text(at, "address", person.address(), kMaxText, /*required=*/false);
  }

  void Enterprise(const Path& at, const v1::EnterpriseRecord& enterprise) {
    RequiredEnum(at, "section", enterprise.section(), v1::Jurisdiction_IsValid);
    if (enterprise.has_legal_id()) {
      PartyId(Path(at, "legal_id"), enterprise.legal_id());
    } else {
      Add(at, "legal_id", "required");
    }
    Text(at, "name", enterprise.name(), kMaxText, /*required=*/true);
    Text(at, "legal_form", enterprise.legal_form(), kMaxLegalFormChars, /*required=*/false);
    if (enterprise.has_registration_date()) {
      Date(at, "registration_date", enterprise.registration_date());
    }
    Text(at, "activity_code", enterprise.activity_code(), kMaxActivityCodeChars, /*required=*/false);
    RequiredEnum(at, "status", enterprise.status(), v1::EnterpriseStatus_IsValid);
    Text(at, "plot_id", enterprise.plot_id(), kMaxPlotIdChars, /*required=*/false);
    if (enterprise.headcount() < 0) {
      Add(at, "headcount", "must not be negative");
    }
    if (enterprise.has_director()) {
      Person(Path(at, "director"), enterprise.director());
    }
    const std::string& phone = enterprise.contact_phone();
    if (!phone.empty() && !Protected(at, "contact_phone", phone, 1 + kMaxPhoneDigits) && !IsPhone(phone)) {
      Add(at, "contact_phone", "must be + followed by 7-15 digits");
    }
    const std::string& email = enterprise.contact_email();
    if (!Protected(at, "contact_email", email, kMaxEmailChars) &&
        Text(at, "contact_email", email, kMaxEmailChars, /*required=*/false) &&
        std::count(email.begin(), email.end(), '@') != 1) {
      Add(at, "contact_email", "must contain exactly one @");
    }
  }

  void Cargo(const Path& at, const v1::CargoRecord& cargo) {
    Text(at, "consignment_id", cargo.consignment_id(), kMaxConsignmentIdChars, /*required=*/true);
    RequiredEnum(at, "direction", cargo.direction(), v1::Direction_IsValid);
    RequiredEnum(at, "checkpoint", cargo.checkpoint(), v1::Checkpoint_IsValid);
    Text(at, "declaration_ref", cargo.declaration_ref(), kMaxText, /*required=*/false);
    Text(at, "tir_holder_id", cargo.tir_holder_id(), kMaxText, /*required=*/false);
    Text(at, "tir_reference", cargo.tir_reference(), kMaxText, /*required=*/false);
    if (cargo.has_consignor()) {
      PartyId(Path(at, "consignor"), cargo.consignor());
    }
    if (cargo.has_consignee()) {
      PartyId(Path(at, "consignee"), cargo.consignee());
    }
    if (cargo.has_vehicle()) {
      Vehicle(Path(at, "vehicle"), cargo.vehicle());
    }
    if (cargo.has_driver()) {
      Person(Path(at, "driver"), cargo.driver());
    }

    // Past a list's bound only the first entries are checked: the work (and
    // the size of the answer) stays bounded whatever the request holds.
    const int goods_count = cargo.goods_size();
    if (goods_count == 0) {
      Add(at, "goods", "at least one goods line required");
    } else if (goods_count > kMaxGoodsLines) {
      Add(at, "goods", absl::StrCat("at most ", kMaxGoodsLines, " goods lines"));
    }
    bool live_animals = false;
    for (int i = 0; i < std::min(goods_count, kMaxGoodsLines); ++i) {
      live_animals |= GoodsLine(Path(at, "goods", i), cargo.goods(i));
    }

    const int certificate_count = cargo.certificates_size();
    if (certificate_count > kMaxCertificates) {
      Add(at, "certificates", absl::StrCat("at most ", kMaxCertificates, " certificates"));
    }
    bool veterinary = false;
    for (int i = 0; i < certificate_count; ++i) {
      const v1::Certificate& certificate = cargo.certificates(i);
      veterinary |= certificate.type() == v1::CERTIFICATE_TYPE_VETERINARY;
      if (i < kMaxCertificates) {
        Certificate(Path(at, "certificates", i), certificate);
      }
    }
    if (live_animals && !veterinary) {
      Add(at, "certificates", "live animals (HS chapter 01) need a veterinary certificate");
    }
  }

  void Vehicle(const Path& at, const v1::Vehicle& vehicle) {
    if (!Protected(at, "plate", vehicle.plate(), kMaxPlateChars)) {
      Text(at, "plate", vehicle.plate(), kMaxPlateChars, /*required=*/false);
    }
    Country(at, "country", vehicle.country());
    const int trailers = vehicle.trailer_plates_size();
    if (trailers > kMaxTrailerPlates) {
      Add(at, "trailer_plates", absl::StrCat("at most ", kMaxTrailerPlates, " trailer plates"));
    }
    for (int i = 0; i < std::min(trailers, kMaxTrailerPlates); ++i) {
      const Path plate(at, "trailer_plates", i);
      if (!Protected(plate, "", vehicle.trailer_plates(i), kMaxPlateChars)) {
        Text(plate, "", vehicle.trailer_plates(i), kMaxPlateChars, /*required=*/true);
      }
    }
  }

  // True when the line carries live animals (HS chapter 01).
  bool GoodsLine(const Path& at, const v1::GoodsLine& line) {
    const std::string& hs6 = line.hs6();
    const bool hs6_valid = IsHs6(hs6);
    if (hs6.empty()) {
      Add(at, "hs6", "required");
    } else if (!hs6_valid) {
      Add(at, "hs6", "must be 6 digits");
    }
    const std::string& national_code = line.national_code();
    if (!national_code.empty()) {
      if (!internal::IsDigits(national_code, 10)) {
        Add(at, "national_code", "must be 10 digits");
      } else if (hs6_valid && !IsNationalCode(national_code, hs6)) {
        Add(at, "national_code", "first 6 digits must equal hs6");
      }
    }
    Text(at, "description", line.description(), kMaxDescriptionChars, /*required=*/false);
    const double net_kg = line.net_kg();
    if (!(std::isfinite(net_kg) && net_kg > 0)) {
      Add(at, "net_kg", "must be greater than 0");
    }
    const double gross_kg = line.gross_kg();
    if (!(std::isfinite(gross_kg) && gross_kg >= net_kg)) {
      Add(at, "gross_kg", "must be at least net_kg");
    }
    const double quantity = line.quantity();
    if (!(std::isfinite(quantity) && quantity >= 0)) {
      Add(at, "quantity", "must not be negative");
    }
    const bool live_animals = IsLiveAnimal(hs6);
    const std::string& unit = line.unit();
    if (unit.empty()) {
      Add(at, "unit", "required");
    } else if (live_animals && unit != kHeadUnit) {
      Add(at, "unit", "live animals (HS chapter 01) need unit HEA");
    } else if (!IsKnownUnit(unit, options_.extra_units)) {
      Add(at, "unit", "unknown unit (UN/ECE Recommendation 20 code not accepted here)");
    }
    if (line.packages() < 0) {
      Add(at, "packages", "must not be negative");
    }
    Country(at, "origin_country", line.origin_country());
    if (line.has_customs_value()) {
      Money(Path(at, "customs_value"), line.customs_value());
    }
    return live_animals;
  }

  void Certificate(const Path& at, const v1::Certificate& certificate) {
    RequiredEnum(at, "type", certificate.type(), v1::CertificateType_IsValid);
    Text(at, "number", certificate.number(), kMaxCertificateNumberChars, /*required=*/true);
    Country(at, "issuer_country", certificate.issuer_country());
    if (certificate.has_issued_on()) {
      Date(at, "issued_on", certificate.issued_on());
    }
  }

  void Investment(const Path& at, const v1::InvestmentRecord& investment) {
    Text(at, "project_id", investment.project_id(), kMaxText, /*required=*/true);
    RequiredEnum(at, "section", investment.section(), v1::Jurisdiction_IsValid);
    if (investment.has_investor()) {
      PartyId(Path(at, "investor"), investment.investor());
    } else {
      Add(at, "investor", "required");
    }
    Country(at, "investor_country", investment.investor_country());
    Text(at, "sector", investment.sector(), kMaxText, /*required=*/false);
    const int outputs = investment.output_hs6_size();
    if (outputs > kMaxOutputHs6) {
      Add(at, "output_hs6", absl::StrCat("at most ", kMaxOutputHs6, " codes"));
    }
    for (int i = 0; i < std::min(outputs, kMaxOutputHs6); ++i) {
      if (!IsHs6(investment.output_hs6(i))) {
        Add(Path(at, "output_hs6", i), "", "must be 6 digits");
      }
    }
    if (investment.has_capex()) {
      Money(Path(at, "capex"), investment.capex());
    }
    if (investment.jobs_planned() < 0) {
      Add(at, "jobs_planned", "must not be negative");
    }
    RequiredEnum(at, "stage", investment.stage(), v1::InvestmentStage_IsValid);
    const bool start_valid = investment.has_start_date() && Date(at, "start_date", investment.start_date());
    const bool commissioning_valid =
        investment.has_commissioning_date() && Date(at, "commissioning_date", investment.commissioning_date());
    if (start_valid && commissioning_valid &&
        DateKey(investment.commissioning_date()) < DateKey(investment.start_date())) {
      Add(at, "commissioning_date", "must not be before start_date");
    }
    if (investment.has_contact()) {
      Person(Path(at, "contact"), investment.contact());
    }
  }

  // Today in the center, as a DateKey; read from the clock once per record.
  int Today() {
    if (today_ == 0) {
      constexpr int64_t kSecondsPerDay = int64_t{24} * 60 * 60;
      const int64_t seconds = absl::ToUnixSeconds(absl::Now()) + kCenterUtcOffsetSeconds;
      const int64_t days = seconds / kSecondsPerDay - (seconds % kSecondsPerDay < 0 ? 1 : 0);
      today_ = internal::DateKeyFromUnixDays(days);
    }
    return today_;
  }

  const Face face_;
  const ValidationOptions& options_;
  std::vector<v1::FieldViolation>* const violations_;
  int today_ = 0;
};

const ValidationOptions& DefaultOptions() {
  static const ValidationOptions* const options = new ValidationOptions();
  return *options;
}

}  // namespace

std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face face, const ValidationOptions& options) {
  std::vector<v1::FieldViolation> violations;
  RecordChecker(face, options, &violations).Record(Path(""), record);
  return violations;
}

std::vector<v1::FieldViolation> ValidateRecord(const v1::Record& record, Face face) {
  return ValidateRecord(record, face, DefaultOptions());
}

std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request,
                                                      const ValidationOptions& options) {
  std::vector<v1::FieldViolation> violations;
  RecordChecker checker(Face::kMinistry, options, &violations);
  const Path root("");
  const std::string& id = request.request_id();
  if (id.empty()) {
    checker.Add(root, "request_id", "required");
  } else if (id.size() > kMaxRequestIdLength) {
    checker.Add(root, "request_id", absl::StrCat("at most ", kMaxRequestIdLength, " characters"));
  } else if (!std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; })) {
    checker.Add(root, "request_id", "printable ASCII without spaces only");
  }
  if (request.has_record()) {
    checker.Record(Path("record"), request.record());
  } else {
    checker.Add(root, "record", "required");
  }
  return violations;
}

std::vector<v1::FieldViolation> ValidateSubmitRequest(const v1::SubmitRequest& request) {
  return ValidateSubmitRequest(request, DefaultOptions());
}

void NormalizeRecord(v1::Record* record) {
  if (!record->has_cargo()) {
    return;
  }
  for (v1::GoodsLine& line : *record->mutable_cargo()->mutable_goods()) {
    if (line.unit() == kLegacyPieceUnit) {
      line.set_unit(kPieceUnit.data(), kPieceUnit.size());
    }
  }
}

}  // namespace iicc::validation
