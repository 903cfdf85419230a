// Envelopes as a sending gateway makes them, for tests that talk to a peer
// face directly (a raw Deliver client).
#ifndef IICC_TESTS_TESTING_SIGNED_ENVELOPES_H_
#define IICC_TESTS_TESTING_SIGNED_ENVELOPES_H_

#include <string>
#include <vector>

#include "iicc/v1/peer_exchange.pb.h"
#include "tests/testing/test_env.h"

namespace iicc::testing {

// `count` valid cargo envelopes from UZ to KZ (SampleRecord("cargo")) with
// fresh record ids in increasing order (the first `first_id` if given),
// signed together (one batch) by the UZ gateway's signing key of `pki`.
std::vector<v1::Envelope> SignedCargoEnvelopes(const TestPki& pki, int count, const std::string& first_id = "");

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_SIGNED_ENVELOPES_H_
