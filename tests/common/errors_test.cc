#include "gateway/common/errors.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace iicc {
namespace {

v1::FieldViolation Violation(const std::string& field, const std::string& description) {
  v1::FieldViolation violation;
  violation.set_field(field);
  violation.set_description(description);
  return violation;
}

std::vector<v1::FieldViolation> ThreeViolations() {
  return {Violation("request_id", "required"), Violation("record.cargo.goods[2].hs6", "must be 6 digits"),
          Violation("record.cargo.driver.full_name", "too long")};
}

TEST(InvalidArgumentWithViolationsTest, IsInvalidArgumentNamingEveryField) {
  const absl::Status status = InvalidArgumentWithViolations(ThreeViolations());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  for (const v1::FieldViolation& violation : ThreeViolations()) {
    EXPECT_TRUE(absl::StrContains(status.message(), violation.field())) << status.message();
    EXPECT_TRUE(absl::StrContains(status.message(), violation.description())) << status.message();
  }
}

TEST(InvalidArgumentWithViolationsTest, ListsFieldsInOrder) {
  const absl::Status status = InvalidArgumentWithViolations(ThreeViolations());
  const size_t first = status.message().find("request_id");
  const size_t second = status.message().find("record.cargo.goods[2].hs6");
  const size_t third = status.message().find("record.cargo.driver.full_name");
  ASSERT_NE(first, absl::string_view::npos);
  ASSERT_NE(second, absl::string_view::npos);
  ASSERT_NE(third, absl::string_view::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST(ViolationsOfTest, RoundTrips) {
  const std::vector<v1::FieldViolation> violations = ThreeViolations();
  const std::vector<v1::FieldViolation> back = ViolationsOf(InvalidArgumentWithViolations(violations));
  ASSERT_EQ(back.size(), violations.size());
  for (size_t i = 0; i < violations.size(); ++i) {
    EXPECT_EQ(back[i].field(), violations[i].field());
    EXPECT_EQ(back[i].description(), violations[i].description());
  }
}

TEST(ViolationsOfTest, SurvivesCopies) {
  absl::Status status = InvalidArgumentWithViolations({Violation("page_size", "must not be negative")});
  const absl::Status copy = status;
  status = absl::OkStatus();
  const std::vector<v1::FieldViolation> back = ViolationsOf(copy);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].field(), "page_size");
}

TEST(ViolationsOfTest, EmptyForOtherStatuses) {
  EXPECT_TRUE(ViolationsOf(absl::OkStatus()).empty());
  EXPECT_TRUE(ViolationsOf(absl::InvalidArgumentError("request_id: required")).empty());
  EXPECT_TRUE(ViolationsOf(absl::NotFoundError("no such record")).empty());
  EXPECT_TRUE(ViolationsOf(absl::PermissionDeniedError("denied")).empty());
}

TEST(ToErrorProtoTest, CarriesCodeNameMessageAndViolations) {
  const absl::Status status = InvalidArgumentWithViolations(ThreeViolations());
  const v1::Error error = ToErrorProto(status);
  EXPECT_EQ(error.code(), "INVALID_ARGUMENT");
  EXPECT_EQ(error.message(), std::string(status.message()));
  ASSERT_EQ(error.violations_size(), 3);
  EXPECT_EQ(error.violations(0).field(), "request_id");
  EXPECT_EQ(error.violations(1).field(), "record.cargo.goods[2].hs6");
  EXPECT_EQ(error.violations(1).description(), "must be 6 digits");
  EXPECT_EQ(error.violations(2).field(), "record.cargo.driver.full_name");
}

TEST(ToErrorProtoTest, OtherStatusesHaveNoViolations) {
  const v1::Error error = ToErrorProto(absl::AlreadyExistsError("request_id was already used"));
  EXPECT_EQ(error.code(), "ALREADY_EXISTS");
  EXPECT_EQ(error.message(), "request_id was already used");
  EXPECT_EQ(error.violations_size(), 0);

  EXPECT_EQ(ToErrorProto(absl::PermissionDeniedError("x")).code(), "PERMISSION_DENIED");
  EXPECT_EQ(ToErrorProto(absl::ResourceExhaustedError("x")).code(), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(ToErrorProto(absl::InvalidArgumentError("x")).violations_size(), 0);
}

}  // namespace
}  // namespace iicc
