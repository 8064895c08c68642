// Errors shared by the apps. A UsageError is the user's to fix (bad option, existing output):
// the app prints its one-line message and exits with code 2 before any work starts.
#pragma once

#include <stdexcept>
#include <string>

namespace common {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace common
