// Small file-system helpers that return errors as values.
#ifndef IICC_GATEWAY_COMMON_FILES_H_
#define IICC_GATEWAY_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iicc {

// Reads the whole file at `path`. NOT_FOUND when it does not exist,
// PERMISSION_DENIED when it cannot be read; the message names the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Creates `path` and its missing parents (mode 0750). OK if it exists as a
// directory.
absl::Status CreateDirectories(const std::string& path);

// `path` joined to `dir` unless `path` is absolute.
std::string JoinPath(absl::string_view dir, absl::string_view path);

}  // namespace iicc

#endif  // IICC_GATEWAY_COMMON_FILES_H_
