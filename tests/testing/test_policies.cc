#include "tests/testing/test_policies.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace iicc::testing {

std::shared_ptr<const policy::CompiledPolicy> KeepAllPolicy(v1::Jurisdiction jurisdiction) {
  std::string text = absl::StrCat("jurisdiction: ", v1::Jurisdiction_Name(jurisdiction), "\n");
  for (const char* type : {"RECORD_TYPE_ENTERPRISE", "RECORD_TYPE_CARGO", "RECORD_TYPE_INVESTMENT"}) {
    absl::StrAppend(&text, "outbound { record_type: ", type, " default_action: DEFAULT_ACTION_KEEP }\n");
  }
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> compiled =
      policy::CompiledPolicy::Parse(text, "keep-all", {}, jurisdiction);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? *compiled : nullptr;
}

}  // namespace iicc::testing
