// Policies for tests that exercise something else than the policy engine.
#ifndef IICC_TESTS_TESTING_TEST_POLICIES_H_
#define IICC_TESTS_TESTING_TEST_POLICIES_H_

#include <memory>

#include "gateway/policy/policy_engine.h"

namespace iicc::testing {

// A policy of `jurisdiction` that lets every record type out and in
// unchanged.
std::shared_ptr<const policy::CompiledPolicy> KeepAllPolicy(v1::Jurisdiction jurisdiction);

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_TEST_POLICIES_H_
