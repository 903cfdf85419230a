#include "gateway/security/authorizer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace iicc::security {
namespace {

using v1::RecordType;
using Types = std::vector<RecordType>;

constexpr char kRegistry[] = "spiffe://kz.iicc/ministry/registry";    // Submit enterprise; read all.
constexpr char kCustoms[] = "spiffe://kz.iicc/ministry/customs";      // Submit cargo + investment; read cargo.
constexpr char kAuditor[] = "spiffe://kz.iicc/ministry/auditor";      // Status of all.
constexpr char kNothing[] = "spiffe://kz.iicc/ministry/no-grants";    // Listed, no grants.
constexpr char kStranger[] = "spiffe://kz.iicc/ministry/not-listed";  // Not in the config.

void Grant(v1::MinistryIdentity* identity, v1::Role role, const Types& types) {
  v1::RoleGrant* grant = identity->add_grants();
  grant->set_role(role);
  for (RecordType type : types) grant->add_record_types(type);
}

v1::GatewayConfig Config() {
  v1::GatewayConfig config;
  config.set_jurisdiction(v1::JURISDICTION_KZ);
  v1::MinistryIdentity* registry = config.add_ministries();
  registry->set_spiffe_id(kRegistry);
  Grant(registry, v1::ROLE_SUBMIT, {v1::RECORD_TYPE_ENTERPRISE});
  Grant(registry, v1::ROLE_READ, {});
  v1::MinistryIdentity* customs = config.add_ministries();
  customs->set_spiffe_id(kCustoms);
  Grant(customs, v1::ROLE_SUBMIT, {v1::RECORD_TYPE_CARGO});
  Grant(customs, v1::ROLE_SUBMIT, {v1::RECORD_TYPE_INVESTMENT});
  Grant(customs, v1::ROLE_READ, {v1::RECORD_TYPE_CARGO});
  v1::MinistryIdentity* auditor = config.add_ministries();
  auditor->set_spiffe_id(kAuditor);
  Grant(auditor, v1::ROLE_STATUS, {});
  config.add_ministries()->set_spiffe_id(kNothing);
  return config;
}

class AuthorizerTest : public ::testing::Test {
 protected:
  const Authorizer authorizer_{Config()};
};

TEST_F(AuthorizerTest, AllowsOnlyGrantedRolesPerRecordType) {
  EXPECT_TRUE(authorizer_.Allows(kRegistry, v1::ROLE_SUBMIT, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_FALSE(authorizer_.Allows(kRegistry, v1::ROLE_SUBMIT, v1::RECORD_TYPE_CARGO));
  EXPECT_FALSE(authorizer_.Allows(kRegistry, v1::ROLE_SUBMIT, v1::RECORD_TYPE_INVESTMENT));
  EXPECT_FALSE(authorizer_.Allows(kRegistry, v1::ROLE_STATUS, v1::RECORD_TYPE_ENTERPRISE));

  EXPECT_FALSE(authorizer_.Allows(kCustoms, v1::ROLE_SUBMIT, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_TRUE(authorizer_.Allows(kCustoms, v1::ROLE_SUBMIT, v1::RECORD_TYPE_CARGO));
  EXPECT_TRUE(authorizer_.Allows(kCustoms, v1::ROLE_SUBMIT, v1::RECORD_TYPE_INVESTMENT));
  EXPECT_TRUE(authorizer_.Allows(kCustoms, v1::ROLE_READ, v1::RECORD_TYPE_CARGO));
  EXPECT_FALSE(authorizer_.Allows(kCustoms, v1::ROLE_READ, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_FALSE(authorizer_.Allows(kCustoms, v1::ROLE_READ, v1::RECORD_TYPE_INVESTMENT));
}

TEST_F(AuthorizerTest, EmptyRecordTypesMeansAllTypes) {
  for (RecordType type : AllRecordTypes()) {
    EXPECT_TRUE(authorizer_.Allows(kRegistry, v1::ROLE_READ, type)) << type;
    EXPECT_TRUE(authorizer_.Allows(kAuditor, v1::ROLE_STATUS, type)) << type;
    EXPECT_FALSE(authorizer_.Allows(kAuditor, v1::ROLE_SUBMIT, type)) << type;
    EXPECT_FALSE(authorizer_.Allows(kAuditor, v1::ROLE_READ, type)) << type;
  }
}

TEST_F(AuthorizerTest, UnspecifiedTypeOrRoleIsNeverAllowed) {
  EXPECT_FALSE(authorizer_.Allows(kRegistry, v1::ROLE_READ, v1::RECORD_TYPE_UNSPECIFIED));
  EXPECT_FALSE(authorizer_.Allows(kAuditor, v1::ROLE_STATUS, v1::RECORD_TYPE_UNSPECIFIED));
  EXPECT_FALSE(authorizer_.Allows(kRegistry, v1::ROLE_UNSPECIFIED, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_FALSE(authorizer_.HasRole(kRegistry, v1::ROLE_UNSPECIFIED));
}

TEST_F(AuthorizerTest, UnknownIdentityIsDenied) {
  for (RecordType type : AllRecordTypes()) {
    for (v1::Role role : {v1::ROLE_SUBMIT, v1::ROLE_READ, v1::ROLE_STATUS}) {
      EXPECT_FALSE(authorizer_.Allows(kStranger, role, type));
      EXPECT_FALSE(authorizer_.Allows(kNothing, role, type));
      EXPECT_FALSE(authorizer_.Allows("", role, type));
    }
  }
  EXPECT_FALSE(authorizer_.HasRole(kStranger, v1::ROLE_SUBMIT));
  EXPECT_FALSE(authorizer_.HasRole(kNothing, v1::ROLE_READ));
  EXPECT_TRUE(authorizer_.ReadableTypes(kStranger, {}).empty());
}

TEST_F(AuthorizerTest, IdentitiesMatchExactly) {
  EXPECT_FALSE(authorizer_.Allows("spiffe://kz.iicc/ministry/registry/", v1::ROLE_SUBMIT, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_FALSE(authorizer_.Allows("spiffe://kz.iicc/ministry/Registry", v1::ROLE_SUBMIT, v1::RECORD_TYPE_ENTERPRISE));
  EXPECT_FALSE(authorizer_.Allows("spiffe://uz.iicc/ministry/registry", v1::ROLE_SUBMIT, v1::RECORD_TYPE_ENTERPRISE));
}

TEST_F(AuthorizerTest, HasRoleWhenGrantedForAnyType) {
  EXPECT_TRUE(authorizer_.HasRole(kRegistry, v1::ROLE_SUBMIT));
  EXPECT_TRUE(authorizer_.HasRole(kRegistry, v1::ROLE_READ));
  EXPECT_FALSE(authorizer_.HasRole(kRegistry, v1::ROLE_STATUS));
  EXPECT_TRUE(authorizer_.HasRole(kCustoms, v1::ROLE_SUBMIT));
  EXPECT_TRUE(authorizer_.HasRole(kCustoms, v1::ROLE_READ));
  EXPECT_FALSE(authorizer_.HasRole(kCustoms, v1::ROLE_STATUS));
  EXPECT_TRUE(authorizer_.HasRole(kAuditor, v1::ROLE_STATUS));
  EXPECT_FALSE(authorizer_.HasRole(kAuditor, v1::ROLE_SUBMIT));
}

TEST_F(AuthorizerTest, ReadableTypesOfAnEmptyRequestAreAllReadableTypes) {
  EXPECT_EQ(authorizer_.ReadableTypes(kRegistry, {}), AllRecordTypes());
  EXPECT_EQ(authorizer_.ReadableTypes(kCustoms, {}), Types{v1::RECORD_TYPE_CARGO});
  EXPECT_TRUE(authorizer_.ReadableTypes(kAuditor, {}).empty());
  EXPECT_TRUE(authorizer_.ReadableTypes(kNothing, {}).empty());
}

TEST_F(AuthorizerTest, ReadableTypesOfAnExplicitRequestKeepOnlyReadableOnes) {
  EXPECT_EQ(authorizer_.ReadableTypes(kRegistry, {v1::RECORD_TYPE_INVESTMENT}), Types{v1::RECORD_TYPE_INVESTMENT});
  EXPECT_EQ(authorizer_.ReadableTypes(kRegistry, {v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_ENTERPRISE}),
            (Types{v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_ENTERPRISE}));
  EXPECT_EQ(authorizer_.ReadableTypes(kCustoms, {v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO}),
            Types{v1::RECORD_TYPE_CARGO});
  EXPECT_TRUE(authorizer_.ReadableTypes(kCustoms, {v1::RECORD_TYPE_INVESTMENT}).empty());
  EXPECT_TRUE(authorizer_.ReadableTypes(kRegistry, {v1::RECORD_TYPE_UNSPECIFIED}).empty());
}

TEST(AuthorizerConfigTest, EmptyConfigAllowsNothing) {
  const Authorizer authorizer{v1::GatewayConfig()};
  EXPECT_FALSE(authorizer.Allows(kRegistry, v1::ROLE_SUBMIT, v1::RECORD_TYPE_CARGO));
  EXPECT_FALSE(authorizer.HasRole(kRegistry, v1::ROLE_READ));
  EXPECT_TRUE(authorizer.ReadableTypes(kRegistry, {}).empty());
}

TEST(AuthorizerConfigTest, GrantsAccumulateAcrossGrantsOfOneRole) {
  v1::GatewayConfig config;
  v1::MinistryIdentity* identity = config.add_ministries();
  identity->set_spiffe_id(kRegistry);
  Grant(identity, v1::ROLE_READ, {v1::RECORD_TYPE_ENTERPRISE});
  Grant(identity, v1::ROLE_READ, {v1::RECORD_TYPE_INVESTMENT});
  const Authorizer authorizer{config};
  EXPECT_EQ(authorizer.ReadableTypes(kRegistry, {}), (Types{v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_INVESTMENT}));
}

TEST(AllRecordTypesTest, ListsEveryTypeInEnumOrder) {
  EXPECT_EQ(AllRecordTypes(), (Types{v1::RECORD_TYPE_ENTERPRISE, v1::RECORD_TYPE_CARGO, v1::RECORD_TYPE_INVESTMENT}));
}

}  // namespace
}  // namespace iicc::security
