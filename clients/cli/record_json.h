// Reading the records iicc-cli submits: protobuf's JSON mapping of a
// SubmitRequest or of a bare Record. A library of its own so that the fuzz
// target (tests/fuzz/cli_record_json_fuzz.cc) runs the code iicc-cli runs.
#ifndef IICC_CLIENTS_CLI_RECORD_JSON_H_
#define IICC_CLIENTS_CLI_RECORD_JSON_H_

#include <string>

#include "iicc/v1/ministry_gateway.pb.h"

namespace iicc::cli {

// Parses one JSON value as a SubmitRequest ({"request_id": .., "record": ..})
// or as a bare Record ({"cargo": {...}}): an object with a "record" or
// "request_id" key is a SubmitRequest. On failure, `error` names the place
// (a field path, or the kind of syntax error) and never quotes the input.
bool ParseSubmitRequest(const std::string& json, v1::SubmitRequest* request, std::string* error);

// A request_id derived from the record's content: resubmitting the same
// record (a retry after a lost answer) is then answered, not duplicated.
std::string ContentRequestId(const v1::Record& record);

}  // namespace iicc::cli

#endif  // IICC_CLIENTS_CLI_RECORD_JSON_H_
