// Status plumbing shared by every library: Abseil 20220623 has no RETURN_IF_ERROR macros, so they
// are defined once here. The two exception-throwing libraries (LibTorch, FAISS) are caught where
// we call them and turned into a Status with StatusFromException.
//
//   absl::StatusOr<Table> LoadTable(const std::string& path) {
//     GALAXY_RETURN_IF_ERROR(CheckReadable(path));
//     GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<File> file, OpenFile(path));
//     return ParseTable(*file);
//   }
#ifndef GALAXY_CORE_STATUS_MACROS_H_
#define GALAXY_CORE_STATUS_MACROS_H_

#include <exception>
#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GALAXY_STATUS_CONCAT_INNER_(a, b) a##b
#define GALAXY_STATUS_CONCAT_(a, b) GALAXY_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define GALAXY_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status galaxy_status_ = (expr);           \
    if (!galaxy_status_.ok()) return galaxy_status_;  \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK, else moves its value
// into `lhs` (a declaration such as `auto x` or an existing variable).
#define GALAXY_ASSIGN_OR_RETURN(lhs, rexpr) \
  GALAXY_ASSIGN_OR_RETURN_IMPL_(GALAXY_STATUS_CONCAT_(galaxy_statusor_, __LINE__), lhs, rexpr)

#define GALAXY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace galaxy {

// Prefixes a non-OK status's message with `context` ("reading x.h5: " + message), keeping its
// code. OK passes through unchanged.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// A status for an exception thrown by a library we wrap (c10::Error, faiss::FaissException, ...):
// INTERNAL, with `context` and the exception's what(), first line only (LibTorch appends a C++
// backtrace that means nothing to a user).
absl::Status StatusFromException(const std::exception& e, absl::string_view context);

}  // namespace galaxy

#endif  // GALAXY_CORE_STATUS_MACROS_H_
