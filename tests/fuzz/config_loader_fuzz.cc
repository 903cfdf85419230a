// Fuzz target: the gateway configuration loader (text format, defaults,
// validation), through ParseGatewayConfig, the entry point that takes text.
//
// Validation checks that the files a configuration names can be read (stat
// and access only). So that accepted configurations are reached whatever the
// working directory holds, each input is parsed twice: as it is, and with
// every file path it names pointing at one empty file in a temporary
// directory made at start-up (removed at exit).
//
// Invariants: a refusal names the source on every line; making every named
// file readable never turns an accepted configuration into a refused one; an
// accepted configuration, printed back to text, is accepted again as the
// same configuration.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gateway/config/config_loader.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "iicc/v1/config.pb.h"

namespace {

constexpr char kSource[] = "fuzz.textproto";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "config_loader_fuzz: invariant broken: %s\n", what);
    abort();
  }
}

// An empty, readable file in a temporary directory, for the life of the process.
class ReadableFile {
 public:
  ReadableFile() {
    const char* tmp = getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/iicc-config-fuzz-XXXXXX";
    Check(mkdtemp(dir_.data()) != nullptr, "mkdtemp");
    path_ = dir_ + "/readable";
    Check(static_cast<bool>(std::ofstream(path_)), "creating the readable file");
  }
  ~ReadableFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

class QuietCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

void Point(std::string* path, const std::string& readable) {
  if (!path->empty()) *path = readable;  // An empty one stays missing.
}

void PointFilesAt(iicc::v1::GatewayConfig* config, const std::string& readable) {
  for (iicc::v1::TlsConfig* tls :
       {config->mutable_ministry_face()->mutable_tls(), config->mutable_peer()->mutable_tls()}) {
    Point(tls->mutable_cert_file(), readable);
    Point(tls->mutable_key_file(), readable);
    Point(tls->mutable_ca_file(), readable);
  }
  Point(config->mutable_policy_file(), readable);
  for (iicc::v1::PseudonymKey& key : *config->mutable_pseudonym_keys()) Point(key.mutable_key_file(), readable);
  Point(config->mutable_signing()->mutable_cert_file(), readable);
  Point(config->mutable_signing()->mutable_key_file(), readable);
}

// Every line of a refusal starts with the source's name.
void CheckRefusal(const absl::Status& status) {
  Check(absl::IsInvalidArgument(status), "a refusal is INVALID_ARGUMENT");
  Check(!status.message().empty(), "a refusal says why");
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    Check(absl::StartsWith(line, kSource), "every line of a refusal names the source");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ReadableFile* const readable = [] {
    static ReadableFile file;  // Destroyed at exit, which removes it.
    return &file;
  }();
  static const bool debug = getenv("IICC_FUZZ_DEBUG") != nullptr;
  const std::string text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<iicc::v1::GatewayConfig> as_is = iicc::config::ParseGatewayConfig(text, kSource);
  if (!as_is.ok()) CheckRefusal(as_is.status());

  // The same configuration with every named file readable.
  iicc::v1::GatewayConfig parsed;
  google::protobuf::TextFormat::Parser parser;
  QuietCollector quiet;  // The loader reported the errors already.
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFromString(text, &parsed)) {
    Check(!as_is.ok(), "what the text format refuses, the loader refuses");
    return 0;
  }
  PointFilesAt(&parsed, readable->path());
  std::string pointed_text;
  Check(google::protobuf::TextFormat::PrintToString(parsed, &pointed_text), "printing a parsed configuration");
  absl::StatusOr<iicc::v1::GatewayConfig> pointed = iicc::config::ParseGatewayConfig(pointed_text, kSource);
  if (as_is.ok()) Check(pointed.ok(), "readable files never make an accepted configuration refused");
  if (debug) {
    std::fprintf(stderr, "as is: %s; files readable: %s\n", as_is.ok() ? "accepted" : "refused",
                 pointed.ok() ? "accepted" : std::string(pointed.status().message()).c_str());
  }
  if (!pointed.ok()) {
    CheckRefusal(pointed.status());
    return 0;
  }

  // Accepted: printed back and loaded again, it is accepted as the same.
  std::string printed;
  Check(google::protobuf::TextFormat::PrintToString(*pointed, &printed), "printing an accepted configuration");
  absl::StatusOr<iicc::v1::GatewayConfig> again = iicc::config::ParseGatewayConfig(printed, kSource);
  Check(again.ok(), "an accepted configuration, printed, is accepted again");
  Check(google::protobuf::util::MessageDifferencer::Equals(*again, *pointed),
        "an accepted configuration, printed and loaded, is unchanged");
  return 0;
}
