// What goes wrong with a request, as RFC 9457 problem details: the model and
// the API raise Problem, the HTTP layer writes it as application/problem+json.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace vnet::model {

struct FieldError {
  std::string field;  // JSON Pointer into the request body, e.g. "/ranges/0/start"
  std::string message;
};

class Problem : public std::runtime_error {
 public:
  Problem(int status, std::string title, std::string detail, std::vector<FieldError> errors = {})
      : std::runtime_error(detail),
        status_(status),
        title_(std::move(title)),
        errors_(std::move(errors)) {}

  int status() const { return status_; }
  const std::string& title() const { return title_; }
  std::string detail() const { return what(); }
  const std::vector<FieldError>& errors() const { return errors_; }

 private:
  int status_;
  std::string title_;
  std::vector<FieldError> errors_;
};

inline Problem bad_request(std::string detail, std::vector<FieldError> errors = {}) {
  return Problem(400, "Bad Request", std::move(detail), std::move(errors));
}
// 400 listing every bad field.
inline Problem invalid_fields(std::vector<FieldError> errors) {
  std::string detail = errors.size() == 1 ? errors[0].field + ": " + errors[0].message
                                          : std::to_string(errors.size()) + " fields are not valid";
  return Problem(400, "Bad Request", std::move(detail), std::move(errors));
}
inline Problem invalid(std::string field, std::string message) {
  std::string detail = field + ": " + message;
  return Problem(400, "Bad Request", std::move(detail), {{std::move(field), std::move(message)}});
}
inline Problem forbidden(std::string detail, std::vector<FieldError> errors = {}) {
  return Problem(403, "Forbidden", std::move(detail), std::move(errors));
}
inline Problem not_found(std::string detail) {
  return Problem(404, "Not Found", std::move(detail));
}
inline Problem conflict(std::string detail, std::vector<FieldError> errors = {}) {
  return Problem(409, "Conflict", std::move(detail), std::move(errors));
}
inline Problem precondition_failed(std::string detail) {
  return Problem(412, "Precondition Failed", std::move(detail));
}

}  // namespace vnet::model
