// Fuzz target: the policy loader (text-format parsing, path resolution,
// compilation) and the compiled policy applied to a sample record. Policy
// files are configuration, but a loader must never crash on any input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/policy/policy_engine.h"
#include "iicc/v1/records.pb.h"

namespace {

iicc::v1::Record SampleCargo() {
  iicc::v1::Record record;
  iicc::v1::CargoRecord* cargo = record.mutable_cargo();
  cargo->set_consignment_id("KZ-1");
  cargo->mutable_driver()->set_full_name("A Driver");
  cargo->mutable_driver()->mutable_national_id()->set_scheme(iicc::v1::ID_SCHEME_KZ_IIN);
  cargo->mutable_driver()->mutable_national_id()->set_value("900101300059");
  cargo->mutable_consignor()->set_scheme(iicc::v1::ID_SCHEME_KZ_BIN);
  cargo->mutable_consignor()->set_value("100160011059");
  cargo->mutable_vehicle()->add_trailer_plates("45XYZ02");
  cargo->add_goods()->set_hs6("930200");
  cargo->add_goods()->set_hs6("100190");
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const iicc::policy::PseudonymKeys* const keys =
      new iicc::policy::PseudonymKeys{{"kz-dev", std::string(32, 'k')}, {"uz-dev", std::string(32, 'u')}};
  static const iicc::v1::Record* const sample = new iicc::v1::Record(SampleCargo());
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (iicc::v1::Jurisdiction jurisdiction : {iicc::v1::JURISDICTION_KZ, iicc::v1::JURISDICTION_UZ}) {
    auto policy = iicc::policy::CompiledPolicy::Parse(text, "fuzz", *keys, jurisdiction);
    if (!policy.ok()) continue;
    for (auto direction : {iicc::policy::Direction::kOutbound, iicc::policy::Direction::kInbound}) {
      iicc::v1::Record record = *sample;
      std::vector<iicc::policy::TraceEntry> trace;
      (void)(*policy)->Apply(direction, &record, &trace);
    }
  }
  return 0;
}
