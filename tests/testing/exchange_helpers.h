// Helpers for integration tests that drive the ministry face: submitting,
// reading the inbox, waiting for delivery.
#ifndef IICC_TESTS_TESTING_EXCHANGE_HELPERS_H_
#define IICC_TESTS_TESTING_EXCHANGE_HELPERS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "iicc/v1/ministry_gateway.grpc.pb.h"

namespace iicc::testing {

// Submits `record` with `request_id`; returns the record id, or "" with a
// test failure.
std::string SubmitOrFail(v1::MinistryGateway::Stub& stub, const std::string& request_id, const v1::Record& record);

// Submits `record` with `request_id`; returns the call's status and sets
// `record_id` when it was accepted (refusals are the caller's to check).
grpc::Status TrySubmit(v1::MinistryGateway::Stub& stub, const std::string& request_id, const v1::Record& record,
                       std::string* record_id);

// GetRecordStatus of `record_id`; a test failure if the call fails.
v1::RecordStatus RecordStatusOf(v1::MinistryGateway::Stub& stub, const std::string& record_id);

// Every inbound record, in sequence order (pages through
// ListInboundRecords). A test failure if a call fails.
std::vector<v1::InboundRecord> ListAllInbound(v1::MinistryGateway::Stub& stub);

// Polls ListAllInbound until it holds at least `count` records or `timeout`
// passes; returns the last listing.
std::vector<v1::InboundRecord> WaitForInbound(v1::MinistryGateway::Stub& stub, size_t count,
                                              absl::Duration timeout = absl::Seconds(30));

// Polls GetRecordStatus until the record leaves QUEUED or `timeout` passes;
// returns the last status.
v1::RecordStatus WaitForOutcome(v1::MinistryGateway::Stub& stub, const std::string& record_id,
                                absl::Duration timeout = absl::Seconds(30));

// The record ids of `records`, in order.
std::vector<std::string> RecordIds(const std::vector<v1::InboundRecord>& records);

// A cargo record whose consignment_id is `consignment_id` (otherwise the
// sample cargo).
v1::Record NumberedCargo(const std::string& consignment_id);

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_EXCHANGE_HELPERS_H_
