#include "tests/testing/signed_envelopes.h"

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "gateway/common/digest.h"
#include "gateway/common/proto_time.h"
#include "gateway/common/uuid.h"
#include "gateway/proof/batch_signature.h"
#include "gtest/gtest.h"
#include "tests/testing/gateway_process.h"

namespace iicc::testing {

std::vector<v1::Envelope> SignedCargoEnvelopes(const TestPki& pki, int count, const std::string& first_id) {
  std::vector<v1::Envelope> envelopes(static_cast<size_t>(count));
  std::vector<std::string> headers;
  const std::string payload = SampleRecord("cargo").SerializeAsString();
  for (int i = 0; i < count; ++i) {
    v1::EnvelopeHeader header;
    header.set_record_id(i == 0 && !first_id.empty() ? first_id : NewUuidV7(absl::Now()));
    header.set_origin(v1::JURISDICTION_UZ);
    header.set_destination(v1::JURISDICTION_KZ);
    header.set_record_type(v1::RECORD_TYPE_CARGO);
    header.set_payload_digest(Sha256(payload));
    *header.mutable_accepted_time() = ToTimestamp(absl::Now());
    envelopes[i].set_header(header.SerializeAsString());
    envelopes[i].set_payload(payload);
    headers.push_back(envelopes[i].header());
  }
  absl::StatusOr<std::unique_ptr<proof::Signer>> signer =
      proof::Signer::Load(pki.File("uz", "signing.crt"), pki.File("uz", "signing.key"));
  EXPECT_TRUE(signer.ok()) << signer.status();
  if (!signer.ok()) return envelopes;
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = (*signer)->SignBatch(proof::Purpose::kEnvelope, headers);
  EXPECT_TRUE(proofs.ok()) << proofs.status();
  if (!proofs.ok()) return envelopes;
  for (size_t i = 0; i < envelopes.size(); ++i) *envelopes[i].mutable_proof() = (*proofs)[i];
  return envelopes;
}

}  // namespace iicc::testing
