// Early-return helpers for absl::Status and absl::StatusOr<T>.
//
// Abseil 20220623 ships neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN, so these
// two small macros stand in for them:
//
//   IICC_RETURN_IF_ERROR(store->Migrate());
//   IICC_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
#ifndef IICC_GATEWAY_COMMON_STATUS_MACROS_H_
#define IICC_GATEWAY_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define IICC_RETURN_IF_ERROR(expr)               \
  do {                                           \
    const ::absl::Status iicc_status_ = (expr);  \
    if (!iicc_status_.ok()) return iicc_status_; \
  } while (false)

#define IICC_STATUS_CONCAT_INNER_(a, b) a##b
#define IICC_STATUS_CONCAT_(a, b) IICC_STATUS_CONCAT_INNER_(a, b)

#define IICC_ASSIGN_OR_RETURN(lhs, expr) \
  IICC_ASSIGN_OR_RETURN_IMPL_(IICC_STATUS_CONCAT_(iicc_statusor_, __LINE__), lhs, expr)

#define IICC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // IICC_GATEWAY_COMMON_STATUS_MACROS_H_
