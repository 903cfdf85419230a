// Fuzz target: records as they arrive from the network (binary protobuf),
// validated as the ministry face and the peer face do, normalised, then
// filtered by a policy that exercises every action.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/policy/policy_engine.h"
#include "gateway/validation/record_validator.h"
#include "iicc/v1/records.pb.h"

namespace {

constexpr char kPolicy[] = R"pb(
  jurisdiction: JURISDICTION_KZ
  outbound {
    record_type: RECORD_TYPE_CARGO
    default_action: DEFAULT_ACTION_DROP
    rules {
      field: "cargo.goods"
      keep {}
      reason: "r"
    }
    rules {
      field: "cargo.vehicle"
      keep {}
      reason: "r"
    }
    rules {
      field: "cargo.vehicle.trailer_plates"
      mask { keep_last: 2 }
      reason: "r"
    }
    rules {
      field: "cargo.driver"
      keep {}
      reason: "r"
    }
    rules {
      field: "cargo.driver.full_name"
      pseudonymise { key_id: "k" }
      reason: "r"
    }
    rules {
      field: "cargo.consignor.value"
      pseudonymise { key_id: "k" }
      when { field: "scheme" equals: "ID_SCHEME_KZ_BIN" }
      when {
        field: "value"
        char_at { position: 4 one_of: "6" }
      }
      reason: "r"
    }
    rules {
      field: "cargo.goods.hs6"
      require {}
      reason: "r"
    }
  }
  outbound {
    record_type: RECORD_TYPE_ENTERPRISE
    default_action: DEFAULT_ACTION_KEEP
    rules {
      field: "enterprise.contact_phone"
      drop {}
      reason: "r"
    }
  }
  inbound {
    record_type: RECORD_TYPE_CARGO
    default_action: DEFAULT_ACTION_KEEP
    rules {
      field: "cargo.goods.hs6"
      deny_if { starts_with: "93" }
      reason: "r"
    }
  }
)pb";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const iicc::policy::CompiledPolicy> policy = [] {
    auto compiled =
        iicc::policy::CompiledPolicy::Parse(kPolicy, "fuzz", {{"k", std::string(32, 'k')}}, iicc::v1::JURISDICTION_KZ);
    if (!compiled.ok()) abort();  // The fixed policy above must compile.
    return *compiled;
  }();
  iicc::v1::Record record;
  if (!record.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)iicc::validation::ValidateRecord(record, iicc::validation::Face::kMinistry);
  (void)iicc::validation::ValidateRecord(record, iicc::validation::Face::kPeer);
  for (auto direction : {iicc::policy::Direction::kOutbound, iicc::policy::Direction::kInbound}) {
    iicc::v1::Record copy = record;
    (void)policy->Apply(direction, &copy);
  }
  return 0;
}
