#include "tests/testing/exchange_helpers.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/gateway_process.h"

namespace iicc::testing {

std::string SubmitOrFail(v1::MinistryGateway::Stub& stub, const std::string& request_id, const v1::Record& record) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::SubmitResponse response;
  const grpc::Status status = stub.Submit(&context, MakeSubmit(request_id, record), &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  if (!status.ok()) return "";
  EXPECT_EQ(response.state(), v1::DELIVERY_STATE_QUEUED);
  return response.record_id();
}

grpc::Status TrySubmit(v1::MinistryGateway::Stub& stub, const std::string& request_id, const v1::Record& record,
                       std::string* record_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::SubmitResponse response;
  const grpc::Status status = stub.Submit(&context, MakeSubmit(request_id, record), &response);
  if (status.ok()) *record_id = response.record_id();
  return status;
}

v1::RecordStatus RecordStatusOf(v1::MinistryGateway::Stub& stub, const std::string& record_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetRecordStatusRequest request;
  request.set_record_id(record_id);
  v1::RecordStatus status;
  const grpc::Status rpc = stub.GetRecordStatus(&context, request, &status);
  EXPECT_TRUE(rpc.ok()) << record_id << ": " << rpc.error_code() << ": " << rpc.error_message();
  return status;
}

std::vector<v1::InboundRecord> ListAllInbound(v1::MinistryGateway::Stub& stub) {
  std::vector<v1::InboundRecord> all;
  v1::ListInboundRecordsRequest request;
  request.set_page_size(500);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::ListInboundRecordsResponse response;
    const grpc::Status status = stub.ListInboundRecords(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    if (!status.ok()) return all;
    all.insert(all.end(), response.records().begin(), response.records().end());
    if (response.next_page_token().empty()) return all;
    request.set_page_token(response.next_page_token());
  }
}

std::vector<v1::InboundRecord> WaitForInbound(v1::MinistryGateway::Stub& stub, size_t count, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<v1::InboundRecord> records = ListAllInbound(stub);
  while (records.size() < count && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    records = ListAllInbound(stub);
  }
  return records;
}

v1::RecordStatus WaitForOutcome(v1::MinistryGateway::Stub& stub, const std::string& record_id, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::RecordStatus status;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetRecordStatusRequest request;
    request.set_record_id(record_id);
    status.Clear();
    const grpc::Status rpc = stub.GetRecordStatus(&context, request, &status);
    if (rpc.ok() && status.state() != v1::DELIVERY_STATE_QUEUED) return status;
    if (absl::Now() > deadline) return status;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

std::vector<std::string> RecordIds(const std::vector<v1::InboundRecord>& records) {
  std::vector<std::string> ids;
  for (const v1::InboundRecord& record : records) ids.push_back(record.record_id());
  return ids;
}

v1::Record NumberedCargo(const std::string& consignment_id) {
  static const v1::Record* const sample = new v1::Record(SampleRecord("cargo"));
  v1::Record record = *sample;
  record.mutable_cargo()->set_consignment_id(consignment_id);
  return record;
}

}  // namespace iicc::testing
